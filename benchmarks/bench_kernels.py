"""Per-iteration kernel time: compiled vs NumPy twin vs the memory-read floor.

One call of ``loss_gradient`` is one gradient-descent iteration's worth of
work over the data. Three candidates are timed in turn, in one process, on the
same arrays (median of several rounds after a warm-up):

* ``cython``  the compiled kernel on one thread (and, when OpenMP is built in,
  on all threads: ``cython_mt``);
* ``numpy``   its NumPy twin, the fallback;
* ``floor``   NumPy merely reading the same bytes once (``X.sum()`` and
  ``y.sum()``): no kernel that reads all of X and y can beat it by much.

The thread scaling (one thread against all) is timed in rounds of those two
alone, each turn after a short wait: after the NumPy twin, OpenBLAS's
threads keep spinning on the other core for a while, which would slow an
all-threads run timed next, and after an all-threads call OpenMP's idle
worker does the same to a one-thread call.

Run ``python benchmarks/run.py kernels`` (see run.py for options).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

import numpy as np

from fastlinreg import _kernels, _numpy_kernels
from fastlinreg._timing import interleaved_medians, paired_ratio

FULL_SIZES = [10**4, 10**5, 10**6, 10**7]
QUICK_SIZES = [10**4, 10**6]
FEATURES = [1, 10, 100]
QUICK_FEATURES = [1, 10]
DTYPES = [np.float64, np.float32]
# Skip shapes whose X would take more than this (the machine has 24 GiB and
# other work on it).
MAX_BYTES = 2 * 1024**3


def run(
    *, quick: bool = False, repeat: int | None = None, full: bool = False
) -> list[dict[str, Any]]:
    """Time every shape and return one record per (n, d, dtype).

    ``full`` adds nothing here (every shape that fits in memory is timed).
    """
    sizes = QUICK_SIZES if quick else FULL_SIZES
    feats = QUICK_FEATURES if quick else FEATURES
    repeat = repeat or (3 if quick else 9)
    min_time = 0.02 if quick else 0.05
    rng = np.random.default_rng(0)
    threads = _kernels.max_threads()
    records = []
    for n, d, dtype in itertools.product(sizes, feats, DTYPES):
        if n * d * np.dtype(dtype).itemsize > MAX_BYTES:
            continue
        X = rng.standard_normal((n, d)).astype(dtype)
        y = rng.standard_normal(n).astype(dtype)
        coef = rng.standard_normal(d)
        candidates = _candidates(X, y, coef, threads)
        # Small inputs: more rounds, so each median spans a measurable time.
        # All threads only in the pair below: OpenMP's idle worker spins on
        # after such a call, and the one-thread call timed next measured up
        # to twice its time (1e6 x 1: 2.06 ms in one run, 1.03 in others).
        solo = {k: v for k, v in candidates.items() if k != "cython_mt"}
        t = interleaved_medians(solo, repeat=repeat, min_time=min_time)
        rec: dict[str, Any] = {
            "n": n,
            "d": d,
            "dtype": np.dtype(dtype).name,
            "threads": threads,
            "seconds": t,
            "numpy_over_cython": t["numpy"] / t["cython"],
            "cython_over_floor": t["cython"] / t["floor"],
        }
        if "cython_mt" in candidates:
            # Thread scaling from rounds of its own (the NumPy twin's BLAS
            # threads spin on after it).
            ts, ratio = paired_ratio(
                candidates, "cython", "cython_mt", repeat=repeat, min_time=min_time
            )
            rec["threads_seconds"] = ts
            rec["cython_over_cython_mt"] = ratio
        records.append(rec)
    return records


def _candidates(
    X: np.ndarray, y: np.ndarray, coef: np.ndarray, threads: int
) -> dict[str, Callable[[], object]]:
    d = X.shape[1]
    offset = np.zeros(d)
    grad = np.empty(d)
    out = {
        "cython": lambda: _kernels.loss_gradient(X, y, coef, 0.5, offset, 0.0, grad, 1),
        "numpy": lambda: _numpy_kernels.loss_gradient(
            X, y, coef, 0.5, offset, 0.0, grad, 1
        ),
        "floor": lambda: (X.sum(), y.sum()),
    }
    if _kernels.HAS_OPENMP and threads > 1:
        out["cython_mt"] = lambda: _kernels.loss_gradient(
            X, y, coef, 0.5, offset, 0.0, grad, threads
        )
    return out


def table(records: list[dict[str, Any]]) -> str:
    """A markdown table of the records (times in ms, ratios)."""
    has_mt = any("cython_over_cython_mt" in r for r in records)
    head = [
        "n",
        "d",
        "dtype",
        "cython ms",
        "numpy ms",
        "floor ms",
        "numpy/cython",
        "cython/floor",
    ]
    if has_mt:
        head += ["1 thr/all thr"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        s = r["seconds"]
        row = [
            f"{r['n']:.0e}",
            str(r["d"]),
            r["dtype"],
            f"{s['cython'] * 1e3:.3f}",
            f"{s['numpy'] * 1e3:.3f}",
            f"{s['floor'] * 1e3:.3f}",
            f"{r['numpy_over_cython']:.2f}",
            f"{r['cython_over_floor']:.2f}",
        ]
        if has_mt:
            mt = r.get("cython_over_cython_mt")
            row.append(f"{mt:.2f}" if mt else "-")
        lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)
