#!/usr/bin/env bash
# Memory safety of the compiled kernels: build them with AddressSanitizer
# (and Cython's bounds checks: FASTLINREG_DEBUG=1, see setup.py) in a
# temporary copy of the source tree, and run the kernel tests and some
# estimator tests against that build.
#
#   bash tools/sanitize.sh                 # the default test selection
#   bash tools/sanitize.sh tests/test_kernels.py -k gram   # your own pytest args
#   VALGRIND=1 bash tools/sanitize.sh      # also: the kernel tests under valgrind
#                                          # (a second, non-ASan debug build)
#   KEEP=1 bash tools/sanitize.sh          # keep the temporary tree (and its logs)
#
# The in-place extension in src/fastlinreg is never touched: the build goes to
# a copy of the tree under $TMPDIR, and the tests import fastlinreg from there
# (checked: fastlinreg._kernels.__file__ must lie in the copy). Python is not
# built with ASan, so libasan is preloaded; leak detection is off (CPython
# keeps memory until exit by design). PYTHONMALLOC=malloc makes Python's own
# small objects visible to ASan too. Every ASan report, from the test process
# or any process it starts, goes to a log file; the script fails if there is
# any, or if a test fails.
#
# Needs gcc (or CC pointing at a gcc/clang with -fsanitize=address), Cython,
# NumPy, pytest and hypothesis (pip install -e ".[test]").
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
# The interpreter itself, not a wrapper script (pyenv's shims are bash, which
# valgrind would follow no further than the exec).
python=$("${PYTHON:-python}" -c 'import sys; print(sys.executable)')
cc=${CC:-gcc}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fastlinreg-asan.XXXXXX")
cleanup() {
    if [ "${KEEP:-0}" = 1 ]; then
        echo "== kept $tmp"
    else
        rm -rf "$tmp"
    fi
}
trap cleanup EXIT

echo "== copying the source tree to $tmp/tree"
"$python" "$here/tools/copy_tree.py" "$here" "$tmp/tree"

libasan=$("$cc" -print-file-name=libasan.so)
if [ ! -e "$libasan" ]; then
    echo "sanitize.sh: $cc has no libasan.so (got '$libasan')" >&2
    exit 2
fi

build() {  # build <tree> <extra CFLAGS> <extra LDFLAGS>
    (
        cd "$1"
        CC="$cc" CFLAGS="${CFLAGS:-} $2" LDFLAGS="${LDFLAGS:-} $3" \
            FASTLINREG_DEBUG=1 FASTLINREG_STRICT_BUILD=1 \
            "$python" setup.py -q build_ext --inplace >"$1/build.log" 2>&1 \
            || { cat "$1/build.log" >&2; echo "sanitize.sh: the build failed" >&2; exit 2; }
    )
}

echo "== building the extension with -fsanitize=address and FASTLINREG_DEBUG=1"
build "$tmp/tree" "-fsanitize=address -fno-omit-frame-pointer" "-fsanitize=address"
for so in "$tmp"/tree/src/fastlinreg/_kernels/*.so; do
    if ! { ldd "$so" 2>/dev/null || true; } | grep -q libasan; then
        echo "sanitize.sh: $so is not linked against libasan" >&2
        exit 2
    fi
done

mkdir -p "$tmp/asan-logs"
export LD_PRELOAD="$libasan${LD_PRELOAD:+:$LD_PRELOAD}"
# allocator_may_return_null: an impossible allocation is a MemoryError in
# Python, as without ASan, rather than an ASan abort.
export ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1:abort_on_error=0:log_path=$tmp/asan-logs/asan${ASAN_OPTIONS:+:$ASAN_OPTIONS}"
export PYTHONMALLOC=malloc
export PYTHONPATH="$tmp/tree/src${PYTHONPATH:+:$PYTHONPATH}"
export HYPOTHESIS_PROFILE=${HYPOTHESIS_PROFILE:-dev}
unset FASTLINREG_BACKEND

cd "$tmp/tree"
imported=$("$python" -c 'import fastlinreg._kernels as k; print(k.__file__)')
echo "== fastlinreg._kernels imported from: $imported"
case "$imported" in
    "$tmp"/tree/*) ;;
    *) echo "sanitize.sh: the ASan build is not the one imported" >&2; exit 2 ;;
esac

echo "== checking that ASan is live: an out-of-bounds read must be caught"
canary='import numpy as np, fastlinreg._kernels as k
X, y, g = np.ones((1000, 3)), np.ones(10), np.empty(3)  # y far too short
k.loss_gradient(X, y, np.zeros(3), 0.0, np.zeros(3), 0.0, g, 1)'
if ASAN_OPTIONS="detect_leaks=0" "$python" -c "$canary" >"$tmp/canary.log" 2>&1 \
    || ! grep -q "ERROR: AddressSanitizer: heap-buffer-overflow" "$tmp/canary.log"; then
    cat "$tmp/canary.log" >&2
    echo "sanitize.sh: ASan did not catch the planted out-of-bounds read" >&2
    exit 2
fi

if [ "$#" -gt 0 ]; then
    tests=("$@")
else
    tests=(tests/test_kernels.py)
    for f in tests/test_robust_kernels.py tests/test_sufficient_stats.py \
        tests/test_linear_model.py tests/test_partial_fit.py \
        tests/test_validation.py tests/test_losses.py tests/test_threads.py \
        tests/test_divergence.py tests/test_freethreading.py; do
        [ -e "$f" ] && tests+=("$f")
    done
fi

echo "== pytest ${tests[*]}"
status=0
"$python" -m pytest -p no:cacheprovider -q -x "${tests[@]}" || status=$?

reports=$(grep -l "ERROR: AddressSanitizer" "$tmp"/asan-logs/asan.* 2>/dev/null || true)
if [ -n "$reports" ]; then
    echo "== AddressSanitizer reported errors:" >&2
    for f in $reports; do
        echo "---- $f" >&2
        cat "$f" >&2
    done
    exit 1
fi
if [ "$status" -ne 0 ]; then
    echo "sanitize.sh: pytest failed (exit status $status) under the ASan build" >&2
    exit "$status"
fi
echo "== AddressSanitizer: no errors"

if [ "${VALGRIND:-0}" = 1 ]; then
    # valgrind is far slower than ASan: it runs a small workload that calls
    # every compiled kernel (shapes from 1 row to several chunks, float32 and
    # float64, 1 and 2 threads, every loss, with and without weights and
    # Hessian) and compares it with the NumPy twins. CPython built without
    # valgrind support makes memcheck report its own (false) errors, so only
    # reports with a frame in fastlinreg's extension count.
    command -v valgrind >/dev/null || { echo "sanitize.sh: no valgrind" >&2; exit 2; }
    echo "== valgrind: a second copy without ASan (FASTLINREG_DEBUG=1 only)"
    "$python" "$here/tools/copy_tree.py" "$tmp/tree" "$tmp/vg"
    build "$tmp/vg" "" ""
    unset LD_PRELOAD ASAN_OPTIONS
    export PYTHONPATH="$tmp/vg/src"
    cd "$tmp/vg"
    cat >"$tmp/vg/workload.py" <<'PY'
import itertools
import numpy as np
import fastlinreg._kernels as ck
import fastlinreg._numpy_kernels as nk
print("== valgrind build:", ck.__file__, flush=True)
rng = np.random.default_rng(0)
checked = 0
for n, d in [(1, 1), (3, 2), (5, 5), (257, 3), (300, 17), (20_000, 3)]:
    for xt, yt, threads in itertools.product(("f4", "f8"), ("f4", "f8"), (1, 2)):
        X = rng.normal(size=(n, d)).astype(xt)
        y = rng.normal(size=n).astype(yt)
        w, off = rng.normal(size=d), rng.normal(size=d)
        weights = (np.empty(0), rng.uniform(0.5, 2, n))
        outs = []
        for k in (ck, nk):
            g = np.empty(d)
            lg = k.loss_gradient(X, y, w, 0.3, off, 0.1, g, threads)
            mean, m2 = np.empty(d + 1), np.empty(d + 1)
            k.moments(X, y, mean, m2, threads)
            gm, gc = np.empty(d + 1), np.empty((d + 1, d + 1))
            k.gram(X, y, gm, gc, threads)
            robust = []
            for loss in range(5):
                for sw in weights:
                    for h in (np.empty((0, 0)), np.empty((d + 1, d + 1))):
                        gr = np.empty(d)
                        v = k.robust_loss_gradient(
                            X, y, sw, w, 0.3, off, 0.1, loss, 0.5, 0.3,
                            0.01, gr, h, threads,
                        )
                        robust.append((v, gr.copy(), h.copy()))
            outs.append((lg, g, mean, m2, gm, gc, robust))
        flat = [np.concatenate([np.ravel(np.asarray(a, dtype=float)) for a in (
            o[0], o[1], o[2], o[3], o[4], o[5],
            *[np.concatenate([np.ravel(r[0]), r[1], np.ravel(r[2])]) for r in o[6]],
        )]) for o in outs]
        np.testing.assert_allclose(flat[0], flat[1], rtol=1e-6, atol=1e-6)
        checked += 1
print(f"== valgrind workload: {checked} kernel configurations agree with NumPy")
PY
    valgrind --log-file="$tmp/vg/valgrind.%p.log" --leak-check=no \
        --errors-for-leak-kinds=none "$python" "$tmp/vg/workload.py"
    "$python" - "$tmp"/vg/valgrind.*.log <<'PY'
import re, sys
errors, ours = 0, []
for path in sys.argv[1:]:
    for block in re.split(r"\n==\d+== \n", open(path).read()):
        if re.search(r"==\d+== (Invalid|Conditional|Use of uninit|Syscall|Mismatched"
                     r"|Source and destination|Argument)", block):
            errors += 1
            if "_kernels" in block:
                ours.append(block)
print(f"== valgrind: {errors} error report(s) in all, {len(ours)} in fastlinreg._kernels")
for block in ours:
    print(block)
sys.exit(1 if ours else 0)
PY
fi
