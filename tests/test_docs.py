"""The documentation: every public function and class has a numpydoc docstring
with runnable examples, and those examples pass as doctests against the
installed package."""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil

import pytest

import fastlinreg

# Modules not to import for their docstrings: running __main__ runs the command
# line; the compiled kernels carry signatures, not examples.
NOT_DOCTESTED = {"fastlinreg.__main__", "fastlinreg._kernels"}
NEEDS_MATPLOTLIB = {"fastlinreg.plotting"}


def _modules() -> list[str]:
    names = [
        info.name
        for info in pkgutil.walk_packages(fastlinreg.__path__, "fastlinreg.")
        if info.name not in NOT_DOCTESTED
    ]
    return ["fastlinreg", *sorted(names)]


def _public_objects() -> list[tuple[str, object]]:
    """Every public function and class, and the public methods of classes."""
    from fastlinreg import cli, datasets, plotting

    found: dict[str, object] = {}
    for module in (fastlinreg, datasets, plotting, cli):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.isclass(obj) or inspect.isfunction(obj):
                found.setdefault(f"{obj.__module__}.{obj.__qualname__}", obj)
    for cls in (fastlinreg.LinearRegression,):
        for name, member in inspect.getmembers(cls, inspect.isfunction):
            if not name.startswith("_"):
                found.setdefault(f"{cls.__name__}.{name}", member)
    return sorted(found.items())


@pytest.mark.parametrize("module_name", _modules())
def test_doctests(module_name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if module_name in NEEDS_MATPLOTLIB:
        matplotlib = pytest.importorskip("matplotlib")
        matplotlib.use("Agg")
    monkeypatch.delenv("FASTLINREG_BACKEND", raising=False)
    module = importlib.import_module(module_name)
    result = doctest.testmod(
        module,
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        raise_on_error=False,
        report=True,
    )
    if module_name in NEEDS_MATPLOTLIB:
        import matplotlib.pyplot as plt

        plt.close("all")
    assert result.failed == 0, f"{result.failed} doctest(s) failed in {module_name}"


def test_doctests_run_the_installed_package() -> None:
    """The modules doctested are the ones ``import fastlinreg`` found."""
    assert fastlinreg.__file__ is not None
    assert fastlinreg.cli.__file__.startswith(fastlinreg.__path__[0])


@pytest.mark.parametrize(
    ("name", "obj"), _public_objects(), ids=[n for n, _ in _public_objects()]
)
def test_public_docstrings_have_examples(name: str, obj: object) -> None:
    doc = inspect.getdoc(obj) or ""
    assert doc.strip(), f"{name} has no docstring"
    assert "Examples\n--------" in doc, f"{name} has no numpydoc Examples section"
    assert ">>> " in doc.split("Examples\n--------", 1)[1], f"{name}: no example"


def test_the_package_docstrings_mention_the_command_line() -> None:
    from fastlinreg import cli

    for command in ("demo", "fit", "predict", "bench"):
        assert f"fastlinreg {command}" in cli.__doc__
