"""Check the package's shape: import layers, no cycles, rooms not halls.

    python tools/architecture.py            # report; exit 1 on any violation
    python tools/architecture.py --sizes    # also the largest modules/classes/functions

The rules (docs/architecture.md explains them):

* Every module of ``src/fastlinreg`` has a place in :data:`LAYERS`, an ordered
  list: a module imports only modules placed before it (so there can be no
  import cycle, lazy imports inside functions and ``TYPE_CHECKING`` imports
  included). Cython ``cimport``/``import`` lines count like Python imports.
* Python modules at most :data:`MAX_MODULE_LINES` lines, Cython files at most
  :data:`MAX_CYTHON_LINES`; classes at most :data:`MAX_CLASS_LINES`; function
  bodies (after the docstring) at most :data:`MAX_BODY_LINES`; private
  functions (a leading underscore, Python or Cython) at most
  :data:`MAX_PRIVATE_PARAMS` parameters (``self`` and ``cls`` not counted).

``tests/test_architecture.py`` runs :func:`violations` so that the rules stay
true; this script prints the same findings for a person.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "fastlinreg"

MAX_MODULE_LINES = 700
MAX_CYTHON_LINES = 800
MAX_CLASS_LINES = 400
MAX_BODY_LINES = 90
MAX_PRIVATE_PARAMS = 10

# Bottom to top. A module may import only modules listed before it.
LAYERS: list[tuple[str, list[str]]] = [
    (
        "leaves",
        [
            "_version",
            "_typing",
            "_exceptions",
            "_codes",
            "_progress",
            "_timing",
            "_distributions",
            "_summary",
        ],
    ),
    ("solvers", ["_solver", "_newton"]),
    (
        "kernels",
        [
            "_numpy_blocks",
            "_numpy_scores",
            "_numpy_kernels",
            "_kernels._simd",
            "_kernels._chunks",
            "_kernels._merge",
            "_kernels._tiles",
            "_kernels._mse",
            "_kernels._gram",
            "_kernels._loss_terms",
            "_kernels._robust",
            "_kernels._cg",
            "_kernels._cd",
            "_kernels._scores",
            "_kernels",
        ],
    ),
    ("core", ["_validation", "_backend", "_coords"]),
    ("terms", ["_losses", "_penalties", "_stats"]),
    (
        "datafits",
        [
            "_vertex",
            "_datafits",
            "_accurate",
            "_inference",
            "_sandwich",
            "_m_inference",
        ],
    ),
    ("fit", ["_refine", "_fit", "_gather", "_cv"]),
    ("scale-out", ["_dask"]),
    (
        "face",
        [
            "_base",
            "_infer",
            "_loss_gradient",
            "linear_model",
            "_cv_folds",
            "_linear_cv",
            "datasets",
            "plotting",
            "_config",
            "_io",
            "_cli_util",
            "_demo",
            "_bench",
            "cli",
            "__init__",
            "__main__",
        ],
    ),
]


def rank_of() -> dict[str, int]:
    order = [m for _, mods in LAYERS for m in mods]
    return {m: i for i, m in enumerate(order)}


def layer_of(module: str) -> str:
    for name, mods in LAYERS:
        if module in mods:
            return name
    return "?"


@dataclass(frozen=True)
class Source:
    module: str  # "linear_model", "_kernels._mse", "_kernels" (its __init__)
    path: Path

    @property
    def cython(self) -> bool:
        return self.path.suffix in (".pyx", ".pxd")


def sources() -> list[Source]:
    found = []
    for path in sorted(PACKAGE.rglob("*")):
        if path.suffix not in (".py", ".pyx", ".pxd") or "__pycache__" in path.parts:
            continue
        parts = list(path.relative_to(PACKAGE).with_suffix("").parts)
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        found.append(Source(".".join(parts), path))
    return found


def _package_module(dotted: str, known: set[str]) -> str | None:
    """The known module a dotted name (relative to the package) refers to."""
    parts = dotted.split(".")
    while parts:
        name = ".".join(parts)
        if name in known:
            return name
        parts.pop()
    return None


def _resolve(src: Source, level: int, module: str | None) -> str:
    """An import's target relative to the package root."""
    if level == 0:
        return (module or "").removeprefix("fastlinreg").lstrip(".")
    base = src.module.split(".")
    # A package's __init__ is its own base; a module's base is its package.
    if src.path.stem != "__init__":
        base = base[:-1]
    base = base[: len(base) - (level - 1)] if level > 1 else base
    return ".".join([*base, *([module] if module else [])])


def _join(package: str, name: str) -> str:
    return f"{package}.{name}" if package else name


_CY_IMPORT = re.compile(
    r"^\s*(?:from\s+(\.*)([\w.]*)\s+c?import\s+([\w, ]+)|c?import\s+([\w.]+))"
)


def imports(src: Source, known: set[str]) -> Iterator[tuple[str, int]]:
    """(imported package module, line) for every import of ``src``."""
    text = src.path.read_text()
    raw: list[tuple[str, int]] = []
    if src.cython:
        for lineno, line in enumerate(text.splitlines(), 1):
            m = _CY_IMPORT.match(line)
            if not m:
                continue
            if m.group(4) is not None:
                if m.group(4).startswith("fastlinreg"):
                    raw.append((_resolve(src, 0, m.group(4)), lineno))
                continue
            level, module, names = len(m.group(1)), m.group(2), m.group(3)
            if level == 0 and not module.startswith("fastlinreg"):
                continue
            target = _resolve(src, level, module or None)
            raw.append((target, lineno))
            raw += [(_join(target, n.strip()), lineno) for n in names.split(",")]
    else:
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.Import):
                raw += [
                    (_resolve(src, 0, a.name), node.lineno)
                    for a in node.names
                    if a.name.startswith("fastlinreg")
                ]
            elif isinstance(node, ast.ImportFrom):
                if node.level == 0 and not (node.module or "").startswith("fastlinreg"):
                    continue
                target = _resolve(src, node.level, node.module)
                raw.append((target, node.lineno))
                raw += [(_join(target, a.name), node.lineno) for a in node.names]
    seen: set[str] = set()
    for dotted, lineno in raw:
        mod = _package_module(dotted, known)
        # "from . import _x": the package itself is not what is imported.
        if mod is None or mod == src.module or mod == "__init__":
            continue
        if mod not in seen:
            seen.add(mod)
            yield mod, lineno


def import_graph() -> dict[str, list[tuple[str, int]]]:
    srcs = sources()
    known = {s.module for s in srcs} | {"__init__"}
    graph: dict[str, list[tuple[str, int]]] = {}
    for s in srcs:
        graph.setdefault(s.module, []).extend(imports(s, known))
    return graph


def cycles(graph: dict[str, list[tuple[str, int]]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w, _ in graph.get(v, []):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


@dataclass(frozen=True)
class Measure:
    kind: str  # "module", "class", "function", "params"
    name: str  # path:line name
    size: int
    limit: int


def _docstring_lines(body: list[ast.stmt]) -> int:
    first = body[0] if body else None
    if (
        isinstance(first, ast.Expr)
        and isinstance(first.value, ast.Constant)
        and isinstance(first.value.value, str)
    ):
        return (first.end_lineno or first.lineno) - first.lineno + 1
    return 0


def _python_measures(src: Source) -> Iterator[Measure]:
    rel = src.path.relative_to(ROOT)
    tree = ast.parse(src.path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            size = (node.end_lineno or node.lineno) - node.lineno + 1
            yield Measure(
                "class", f"{rel}:{node.lineno} {node.name}", size, MAX_CLASS_LINES
            )
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            start = node.body[0].lineno
            if _docstring_lines(node.body):
                start = (node.body[0].end_lineno or start) + 1
            body = max(0, (node.end_lineno or node.lineno) - start + 1)
            where = f"{rel}:{node.lineno} {node.name}"
            yield Measure("function", where, body, MAX_BODY_LINES)
            if node.name.startswith("_") and not node.name.startswith("__"):
                a = node.args
                params = [*a.posonlyargs, *a.args, *a.kwonlyargs]
                n = len([p for p in params if p.arg not in ("self", "cls")])
                n += (a.vararg is not None) + (a.kwarg is not None)
                yield Measure("params", where, n, MAX_PRIVATE_PARAMS)


_CY_DEF = re.compile(r"^(\s*)(?:cdef|cpdef|def)\s+(?:[\w*\[\], ]+\s+)?\*?(\w+)\s*\(")


def _cython_measures(src: Source) -> Iterator[Measure]:
    """Function bodies and parameters of a Cython file, by indentation."""
    rel = src.path.relative_to(ROOT)
    lines = src.path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = _CY_DEF.match(lines[i])
        if not m:
            i += 1
            continue
        indent, name = len(m.group(1)), m.group(2)
        # the signature runs to the line ending in ':' outside brackets
        sig, j, depth = "", i, 0
        while j < len(lines):
            sig += lines[j] + "\n"
            depth += lines[j].count("(") - lines[j].count(")")
            if depth <= 0 and lines[j].rstrip().endswith(":"):
                break
            j += 1
        if j >= len(lines) or not sig.rstrip().endswith(":"):
            i += 1
            continue
        args = sig[sig.index("(") + 1 : sig.rindex(")")]
        params = [a for a in _split_args(args) if a and a not in ("self", "cls")]
        where = f"{rel}:{i + 1} {name}"
        body_start, k = j + 1, j + 1
        end = body_start
        while k < len(lines):
            text = lines[k]
            if text.strip() and not text.strip().startswith("#"):
                if len(text) - len(text.lstrip()) <= indent:
                    break
                end = k + 1
            k += 1
        body = lines[body_start:end]
        doc = _cython_docstring(body)
        yield Measure("function", where, max(0, len(body) - doc), MAX_BODY_LINES)
        if name.startswith("_") and not name.startswith("__"):
            yield Measure("params", where, len(params), MAX_PRIVATE_PARAMS)
        i = max(j + 1, i + 1)


def _split_args(args: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in args:
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    out.append(cur.strip())
    return out


def _cython_docstring(body: list[str]) -> int:
    if not body or not body[0].strip().startswith('"""'):
        return 0
    first = body[0].strip()
    if first.count('"""') >= 2:
        return 1
    for n, line in enumerate(body[1:], 2):
        if '"""' in line:
            return n
    return 0


def measures() -> list[Measure]:
    out: list[Measure] = []
    for src in sources():
        rel = src.path.relative_to(ROOT)
        n = len(src.path.read_text().splitlines())
        out.append(
            Measure(
                "module",
                str(rel),
                n,
                MAX_CYTHON_LINES if src.cython else MAX_MODULE_LINES,
            )
        )
        out += list(_cython_measures(src) if src.cython else _python_measures(src))
    return out


def violations() -> list[str]:
    """Every broken rule, one line each (empty when the shape holds)."""
    found: list[str] = []
    graph = import_graph()
    ranks = rank_of()
    for module in sorted(graph):
        if module not in ranks:
            found.append(f"{module}: not placed in a layer (tools/architecture.py)")
            continue
        for target, lineno in graph[module]:
            if target not in ranks:
                continue  # reported as a module of its own
            if ranks[target] >= ranks[module]:
                found.append(
                    f"{module} ({layer_of(module)}) imports {target} "
                    f"({layer_of(target)}) at line {lineno}: an arrow up"
                )
    found += [f"import cycle: {' <-> '.join(c)}" for c in cycles(graph)]
    found += [
        f"{m.kind} {m.name}: {m.size} > {m.limit}"
        for m in measures()
        if m.size > m.limit
    ]
    return found


def _report(show_sizes: bool) -> int:
    graph = import_graph()
    bad = violations()
    print(f"{len(graph)} modules, {sum(len(v) for v in graph.values())} imports")
    for name, mods in LAYERS:
        print(f"  {name:10s} {', '.join(m for m in mods if m in graph)}")
    if show_sizes:
        ms = measures()
        for kind in ("module", "class", "function", "params"):
            top = sorted((m for m in ms if m.kind == kind), key=lambda m: -m.size)
            print(f"largest {kind}s:")
            for m in top[:8]:
                print(f"  {m.size:5d}  {m.name}")
    print(f"{len(bad)} violation(s)")
    for line in bad:
        print("  " + line)
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", action="store_true", help="show the largest items")
    args = parser.parse_args(argv)
    return _report(args.sizes)


if __name__ == "__main__":
    sys.exit(main())
