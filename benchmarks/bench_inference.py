"""Inference: a fit with robust or clustered standard errors, against statsmodels.

At 2e6 x 20 (``--quick``: 2e5 x 20), heteroskedastic errors correlated
within 1e5 clusters (``--quick``: 1e4): fastlinreg's
``LinearRegression(cov_type=...).fit(X, y[, groups])`` followed by reading
``inference_.bse``, against statsmodels' ``OLS(y, add_constant(X)).fit(
cov_type=...)`` and its ``bse``, timed in turn in one process (medians).
Besides the ratio: the largest relative difference of the standard errors
between the two, and the extra memory each needs beyond the data
(tracemalloc's peak during one fit, divided by the bytes of X). When
linearmodels is installed, its ``IV2SLS(y, Z, None, None).fit(cov_type=
"robust" | "clustered", debiased=True)`` (OLS with statsmodels' small-sample
corrections) is timed once per case, beside the medians: it is slow.
"""

from __future__ import annotations

import time
import tracemalloc
import warnings
from typing import Any

import numpy as np

import fastlinreg
from fastlinreg._timing import interleaved_medians


def data(n: int, d: int, clusters: int, seed: int = 0) -> tuple[Any, Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d)
    groups = rng.integers(0, clusters, n)
    shock = rng.normal(size=clusters)[groups]  # shared within a cluster
    noise = rng.normal(size=n) * (1.0 + np.abs(X[:, 0]))
    y = X @ rng.normal(size=d) + 1.5 + noise + shock
    return X, y, groups


def _ours(X: Any, y: Any, cov_type: str, groups: Any) -> Any:
    model = fastlinreg.LinearRegression(cov_type=cov_type)
    return model.fit(X, y, groups=groups).inference_.bse


def _statsmodels(X: Any, y: Any, cov_type: str, groups: Any) -> Any:
    import statsmodels.api as sm

    kwds = {} if groups is None else {"groups": groups}
    Z = sm.add_constant(X, has_constant="add")
    return sm.OLS(y, Z).fit(cov_type=cov_type, cov_kwds=kwds).bse


def _linearmodels(X: Any, y: Any, cov_type: str, groups: Any) -> Any:
    import statsmodels.api as sm
    from linearmodels.iv import IV2SLS

    Z = sm.add_constant(X, has_constant="add")
    model = IV2SLS(y, Z, None, None)
    if cov_type == "cluster":
        return model.fit(
            cov_type="clustered", clusters=groups, debiased=True
        ).std_errors
    return model.fit(cov_type="robust", debiased=True).std_errors


def _timed_once(fn: Any) -> float | None:
    """Seconds of one call of ``fn``, None when its package is missing."""
    try:
        start = time.perf_counter()
        fn()
    except ImportError:
        return None
    return time.perf_counter() - start


def _extra_memory(fn: Any, X: Any) -> float:
    tracemalloc.start()
    try:
        fn()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak / X.nbytes


def run(
    *, quick: bool = False, repeat: int | None = None, full: bool = False
) -> list[dict[str, Any]]:
    try:
        import statsmodels  # noqa: F401
    except ImportError:
        print("(statsmodels is not installed: the inference suite is skipped)")
        return []
    n, clusters = (200_000, 10_000) if quick else (2_000_000, 100_000)
    d = 20
    X, y, groups = data(n, d, clusters)
    rounds = repeat or 3
    records = []
    for cov_type in ("HC1", "cluster"):
        g = groups if cov_type == "cluster" else None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t = interleaved_medians(
                {
                    "fastlinreg": lambda c=cov_type, g=g: _ours(X, y, c, g),
                    "statsmodels": lambda c=cov_type, g=g: _statsmodels(X, y, c, g),
                },
                repeat=rounds,
                warmup=0,
            )
            ours = _ours(X, y, cov_type, g)
            theirs = np.asarray(_statsmodels(X, y, cov_type, g))
            mem_ours = _extra_memory(lambda c=cov_type, g=g: _ours(X, y, c, g), X)
            mem_sm = _extra_memory(lambda c=cov_type, g=g: _statsmodels(X, y, c, g), X)
            t_lm = _timed_once(lambda c=cov_type, g=g: _linearmodels(X, y, c, g))
        records.append(
            {
                "case": f"{cov_type} {n:.0e}x{d}"
                + (f", {clusters:.0e} clusters" if g is not None else ""),
                "t_fastlinreg": t["fastlinreg"],
                "t_statsmodels": t["statsmodels"],
                "speedup": t["statsmodels"] / t["fastlinreg"],
                "bse_max_rel_diff": float(np.max(np.abs(ours - theirs) / theirs)),
                "extra_memory_fastlinreg_x_X": mem_ours,
                "extra_memory_statsmodels_x_X": mem_sm,
                "t_linearmodels_once": t_lm,
                "speedup_linearmodels": None
                if t_lm is None
                else t_lm / t["fastlinreg"],
            }
        )
    return records


def table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| case | fastlinreg s | statsmodels s | statsmodels/fastlinreg | "
        "linearmodels s (once) | linearmodels/fastlinreg | "
        "bse max rel. diff | extra memory / X: ours, statsmodels |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in records:
        lm = r["t_linearmodels_once"]
        lm_cells = (
            "— | —" if lm is None else f"{lm:.3f} | {r['speedup_linearmodels']:.1f}"
        )
        lines.append(
            f"| {r['case']} | {r['t_fastlinreg']:.3f} | {r['t_statsmodels']:.3f} | "
            f"{r['speedup']:.1f} | {lm_cells} | {r['bse_max_rel_diff']:.1e} | "
            f"{r['extra_memory_fastlinreg_x_X']:.2f}, "
            f"{r['extra_memory_statsmodels_x_X']:.2f} |"
        )
    return "\n".join(lines)
