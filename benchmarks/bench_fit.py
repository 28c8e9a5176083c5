"""Whole fits, side by side: fastlinreg against what people use today.

Candidates, each timed in turn in one process on the same arrays (medians of
interleaved rounds after a warm-up):

* ``flr``        fastlinreg's default fit, compiled backend, one thread;
* ``flr_mt``     the same on all threads (``n_jobs=None``, the default; when
  OpenMP is built in), timed against ``flr`` and ``normal_eq`` in rounds of
  their own: other candidates leave BLAS threads spinning on the other core
  (``normal_eq/flr_mt`` compares the two defaults: NumPy's BLAS uses all
  its threads, and from 64 features ``flr`` holds BLAS to one);
* ``flr_numpy``  the same with the NumPy backend;
* ``flr_stream`` compiled, ``precompute=False``: one kernel pass per step;
* ``normal_eq``  NumPy's normal equations (``X.T @ X``, ``X.T @ y``, sums: one
  pass, then a small solve), the physical competitor;
* ``sklearn``    scikit-learn's ``LinearRegression`` (when installed);
* ``sgd``        scikit-learn's ``SGDRegressor``, five epochs (n ≤ 1e6 unless
  ``--full``: it takes tens of seconds at 1e7);
* ``tutorial``   the tutorial's own NumPy loop, 500 epochs (one feature,
  n ≤ 1e5);
* ``floor``      NumPy merely reading X and y once.

Before each candidate's turn the benchmark waits ``SETTLE`` seconds (busy,
not timed): scikit-learn's SciPy and NumPy each bring an OpenBLAS whose idle
threads spin for about 0.1 s after a call, and a candidate using the other
pool's threads right after ran up to three times slower (a fit of 1e4 x 100:
20-30 ms in such rounds, 9 ms in rounds without scikit-learn).

Every shape runs in float64 and in float32 (each candidate takes the arrays
as they are). Every fastlinreg fit is checked against ``numpy.linalg.lstsq``
on the same values in float64 (the largest relative coefficient error is
reported), and at the largest one-feature size the peak memory each fit adds
is measured with tracemalloc.
"""

from __future__ import annotations

import itertools
import tracemalloc
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

import fastlinreg
from fastlinreg import _kernels
from fastlinreg._timing import interleaved_medians, paired_ratio

# Seconds of quiet before each candidate's turn (see the module docstring).
SETTLE = 0.15
# --quick, a smoke run of the whole suite in well under a minute: shorter
# waits (noisier ratios), and SGD (a second a fit at 1e6 rows) up to 1e5 rows.
QUICK_SETTLE = 0.03
QUICK_SGD_MAX_ROWS = 10**5
FULL_SIZES = [10**4, 10**5, 10**6, 10**7]
QUICK_SIZES = [10**4, 10**6]
FEATURES = [1, 10, 100]
QUICK_FEATURES = [1, 10]
# A shape the speed targets name, beside the grid.
EXTRA_SHAPES = [(2 * 10**5, 100)]
MAX_BYTES = 2 * 1024**3
# Each shape in both: float32 is read as it is (float64 accumulators).
DTYPES = ["float64", "float32"]
# scikit-learn's lstsq copies X and costs n·d²: keep its cases bounded.
SKLEARN_MAX_ELEMENTS = 4 * 10**7
SGD_MAX_ROWS = 10**6


def _sklearn() -> Any:
    try:
        from sklearn import linear_model
    except ImportError:
        return None
    return linear_model


def problem(n: int, d: int, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """The tutorial's model for one feature; a random dense one otherwise."""
    if d == 1:
        X, y = fastlinreg.make_regression(n_samples=n, random_state=0, dtype=dtype)
        return X, y
    rng = np.random.default_rng(0)
    X = rng.uniform(-10, 10, (n, d)).astype(dtype)
    y = (X @ rng.uniform(-5, 5, d) - 3.3 + 3.0 * rng.standard_normal(n)).astype(dtype)
    return X, y


def normal_equations(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Least squares with an intercept from one pass of sums and products."""
    n = X.shape[0]
    sx = X.sum(axis=0)
    sy = y.sum()
    xtx = X.T @ X - np.outer(sx, sx) / n
    xty = X.T @ y - sx * sy / n
    coef = np.linalg.solve(xtx, xty)
    return np.append(coef, (sy - sx @ coef) / n)


def tutorial_loop(
    X: np.ndarray, y: np.ndarray, epochs: int = 500
) -> tuple[float, float]:
    """The tutorial's gradient descent on the sum of squared errors."""
    x = X[:, 0]
    lr = 1e-2 / x.shape[0]  # the tutorial's 1e-6 at n = 10,000
    w, b = -1.0, 0.0
    for _ in range(epochs):
        grad_w = -2 * np.sum(x * (y - w * x - b))
        grad_b = -2 * np.sum(y - w * x - b)
        w -= lr * grad_w
        b -= lr * grad_b
    return w, b


def candidates(
    X: np.ndarray, y: np.ndarray, *, full: bool, sgd_max_rows: int = SGD_MAX_ROWS
) -> dict[str, Callable[[], object]]:
    n, d = X.shape
    LR = fastlinreg.LinearRegression
    out: dict[str, Callable[[], object]] = {
        "flr": lambda: LR(n_jobs=1).fit(X, y),
        "flr_numpy": lambda: LR(backend="numpy").fit(X, y),
        "flr_stream": lambda: LR(n_jobs=1, precompute=False).fit(X, y),
        "normal_eq": lambda: normal_equations(X, y),
        "floor": lambda: (X.sum(), y.sum()),
    }
    if _kernels.HAS_OPENMP and _kernels.max_threads() > 1:
        out["flr_mt"] = lambda: LR().fit(X, y)
    sk = _sklearn()
    if sk is not None and n * d <= SKLEARN_MAX_ELEMENTS:
        out["sklearn"] = lambda: sk.LinearRegression().fit(X, y)
    if sk is not None and (n <= sgd_max_rows or full):
        out["sgd"] = lambda: _sgd(sk, X, y)
    if d == 1 and n <= 10**5:
        out["tutorial"] = lambda: tutorial_loop(X, y)
    return out


def _sgd(sk: Any, X: np.ndarray, y: np.ndarray) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # five epochs never "converge"
        return sk.SGDRegressor(max_iter=5, tol=None, random_state=0).fit(X, y)


def accuracy(X: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """Largest relative coefficient error of each fastlinreg path vs lstsq."""
    A = np.column_stack([X.astype(np.float64), np.ones(X.shape[0])])
    ref, *_ = np.linalg.lstsq(A, y.astype(np.float64), rcond=None)
    out = {}
    for name, kwargs in {
        "flr": {},
        "flr_numpy": {"backend": "numpy"},
        "flr_stream": {"precompute": False},
    }.items():
        m = fastlinreg.LinearRegression(**kwargs).fit(X, y)
        got = np.append(m.coef_.astype(np.float64), float(m.intercept_))
        out[name] = float(np.max(np.abs(got - ref) / np.abs(ref)))
    return out


def peak_memory(fn: Callable[[], object]) -> int:
    """Peak bytes tracemalloc sees allocated while ``fn`` runs."""
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base, _ = tracemalloc.get_traced_memory()
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak - base


def run(
    *, quick: bool = False, repeat: int | None = None, full: bool = False
) -> list[dict[str, Any]]:
    sizes = QUICK_SIZES if quick else FULL_SIZES
    feats = QUICK_FEATURES if quick else FEATURES
    repeat = repeat or (3 if quick else 5)
    settle = QUICK_SETTLE if quick else SETTLE
    sgd_max_rows = QUICK_SGD_MAX_ROWS if quick else SGD_MAX_ROWS
    records = []
    shapes = list(itertools.product(sizes, feats))
    if not quick:
        shapes = sorted(shapes + EXTRA_SHAPES)
    for (n, d), dtype in itertools.product(shapes, DTYPES):
        if n * d * np.dtype(dtype).itemsize > MAX_BYTES or n < 10 * d:
            continue
        X, y = problem(n, d, dtype)
        cands = candidates(X, y, full=full, sgd_max_rows=sgd_max_rows)
        t = interleaved_medians(cands, repeat=repeat, min_time=0.02, settle=settle)
        rec: dict[str, Any] = {"n": n, "d": d, "dtype": dtype, "seconds": t}
        rec["accuracy"] = accuracy(X, y)
        model = fastlinreg.LinearRegression(n_jobs=1).fit(X, y)
        rec["n_iter"] = model.n_iter_
        for other in ("sklearn", "normal_eq", "sgd", "tutorial", "floor", "flr_numpy"):
            if other in t:
                rec[f"{other}_over_flr"] = t[other] / t["flr"]
        if "flr_mt" in t:
            # Thread scaling from rounds of its own (other candidates' BLAS
            # threads spin on after them); the flr_mt column is from these.
            # The normal equations run there too: the default fit (all
            # threads) against NumPy's default (BLAS's threads). Each turn
            # waits settle: after the normal equations BLAS's threads spin,
            # and the two-thread fit right after took 5x its time (1e6 x 1).
            ts, ratio = paired_ratio(
                cands,
                "flr",
                "flr_mt",
                repeat=repeat,
                min_time=0.02,
                turn_settle=settle,
                also=["normal_eq"],
            )
            t["flr_mt"] = ts["flr_mt"]
            rec["threads_seconds"] = ts
            rec["flr_over_flr_mt"] = ratio
            rec["normal_eq_over_flr_mt"] = ts["normal_eq"] / ts["flr_mt"]
        if d == 1 and n == max(sizes) and dtype == "float64":
            rec["peak_bytes"] = {
                name: peak_memory(cands[name])
                for name in ("flr", "flr_numpy", "flr_stream", "sklearn")
                if name in cands
            }
            rec["float32"] = _float32_case(n)
        records.append(rec)
    return records


def _float32_case(n: int) -> dict[str, Any]:
    """float32 input: no upcast copy, and the answer of the float64 fit."""
    X, y = problem(n, 1, np.float32)
    m32 = fastlinreg.LinearRegression().fit(X, y)
    m64 = fastlinreg.LinearRegression().fit(X.astype(np.float64), y.astype(np.float64))
    return {
        "peak_bytes": peak_memory(
            lambda: fastlinreg.LinearRegression(n_jobs=1).fit(X, y)
        ),
        "input_bytes": X.nbytes + y.nbytes,
        "coef_rel_diff": float(abs(m32.coef_[0] - m64.coef_[0]) / abs(m64.coef_[0])),
        "intercept_rel_diff": float(
            abs(m32.intercept_ - m64.intercept_) / abs(m64.intercept_)
        ),
    }


def table(records: list[dict[str, Any]]) -> str:
    names = [
        "flr",
        "flr_mt",
        "flr_stream",
        "flr_numpy",
        "normal_eq",
        "sklearn",
        "sgd",
        "tutorial",
        "floor",
    ]
    present = [c for c in names if any(c in r["seconds"] for r in records)]
    head = [
        "n x d",
        "dtype",
        *(f"{c} ms" for c in present),
        "normal_eq/flr",
        "normal_eq/flr_mt",
        "sklearn/flr",
        "tutorial/flr",
        "iters",
        "max rel err",
    ]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in records:
        s = r["seconds"]
        row = [f"{r['n']:.0e} x {r['d']}", r["dtype"]]
        row += [f"{s[c] * 1e3:.2f}" if c in s else "-" for c in present]
        row += [f"{r['normal_eq_over_flr']:.2f}"]
        row += [
            f"{r['normal_eq_over_flr_mt']:.2f}" if "normal_eq_over_flr_mt" in r else "-"
        ]
        row += [f"{r['sklearn_over_flr']:.1f}" if "sklearn_over_flr" in r else "-"]
        row += [f"{r['tutorial_over_flr']:.0f}" if "tutorial_over_flr" in r else "-"]
        row += [str(r["n_iter"]), f"{max(r['accuracy'].values()):.1e}"]
        lines.append("| " + " | ".join(row) + " |")
    for r in records:
        if "peak_bytes" in r:
            mem = ", ".join(
                f"{k} {v / 2**20:.1f} MiB" for k, v in r["peak_bytes"].items()
            )
            f32 = r["float32"]
            lines.append(
                f"\nPeak memory added by one fit at {r['n']:.0e} x 1 float64 "
                f"(input {(r['n'] * 16) / 2**20:.0f} MiB): {mem}."
                f"\nfloat32 input ({f32['input_bytes'] / 2**20:.0f} MiB): fit adds "
                f"{f32['peak_bytes'] / 2**20:.1f} MiB; coefficient within "
                f"{f32['coef_rel_diff']:.1e}, intercept within "
                f"{f32['intercept_rel_diff']:.1e} of the float64 fit."
            )
    return "\n".join(lines)


def plot(records: list[dict[str, Any]], path: str) -> None:
    """Time against n, log-log, one panel per feature count (float64)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [r for r in records if r["dtype"] == "float64"]
    feats = sorted({r["d"] for r in records})
    fig, axes = plt.subplots(1, len(feats), figsize=(5 * len(feats), 4), squeeze=False)
    for ax, d in zip(axes[0], feats, strict=True):
        rows = [r for r in records if r["d"] == d]
        names = sorted({k for r in rows for k in r["seconds"]})
        for name in names:
            pts = [(r["n"], r["seconds"][name]) for r in rows if name in r["seconds"]]
            ax.loglog(*zip(*pts, strict=True), marker="o", label=name)
        ax.set_title(f"{d} feature(s)")
        ax.set_xlabel("n")
        ax.set_ylabel("seconds (median)")
        ax.grid(True, which="both", alpha=0.3)
    axes[0][0].legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
