"""Robust losses: fastlinreg against scikit-learn's robust regressors.

Three comparisons, each on heavy-tailed data (Student t with 2 degrees of
freedom: outliers) with 10 features:

* ``huber`` at 1e6 rows: fastlinreg's Huber fit against scikit-learn's
  HuberRegressor (L-BFGS, which also estimates a scale: a related objective,
  the same use). fastlinreg's objective is checked against
  ``scipy.optimize.minimize`` (L-BFGS-B with the exact gradient) on the same
  function.
* ``quantile`` at 2e4 rows: against QuantileRegressor(solver="highs",
  alpha=0), an exact linear-programming solution of the same objective. HiGHS
  is timed once (tens of seconds), fastlinreg as the median of several runs.
* ``quantile`` (and the other losses) at 1e6 rows, where HiGHS cannot run:
  against fastlinreg's own squared-error fit, interleaved.

``--quick`` divides the sizes by 10 to 20.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

import fastlinreg
from fastlinreg._timing import interleaved_medians

QUANTILE = 0.8
HUBER_EPSILON = 1.35


def data(n: int, d: int = 10, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d)
    y = X @ rng.normal(size=d) + 1.5 + rng.standard_t(2, size=n)
    return X, y


def pinball(X: np.ndarray, y: np.ndarray, coef: np.ndarray, b: float) -> float:
    r = y - X @ coef - b
    return float(np.mean(np.maximum(QUANTILE * r, (QUANTILE - 1) * r)))


def huber(X: np.ndarray, y: np.ndarray, coef: np.ndarray, b: float) -> float:
    a = np.abs(y - X @ coef - b)
    eps = HUBER_EPSILON
    return float(np.mean(np.where(a <= eps, 0.5 * a * a, eps * a - 0.5 * eps * eps)))


def huber_reference(X: np.ndarray, y: np.ndarray, x0: np.ndarray) -> float:
    """The minimum of the same Huber objective by scipy's L-BFGS-B."""
    from scipy.optimize import minimize

    n, d = X.shape
    eps = HUBER_EPSILON

    def fun(p: np.ndarray) -> tuple[float, np.ndarray]:
        r = y - X @ p[:d] - p[d]
        a = np.abs(r)
        psi = np.clip(r, -eps, eps)
        f = np.mean(np.where(a <= eps, 0.5 * r * r, eps * a - 0.5 * eps * eps))
        return float(f), -np.append(X.T @ psi, psi.sum()) / n

    res = minimize(
        fun,
        x0,
        jac=True,
        method="L-BFGS-B",
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000},
    )
    return float(res.fun)


def _fit(X: np.ndarray, y: np.ndarray, **params: Any) -> fastlinreg.LinearRegression:
    return fastlinreg.LinearRegression(**params).fit(X, y)


def run(
    *, quick: bool = False, repeat: int | None = None, full: bool = False
) -> list[dict[str, Any]]:
    from sklearn.linear_model import HuberRegressor, QuantileRegressor

    rounds = repeat or (3 if quick else 5)
    records: list[dict[str, Any]] = []

    # Huber vs HuberRegressor
    n = 50_000 if quick else 1_000_000
    X, y = data(n)
    params = {"loss": "huber", "epsilon": HUBER_EPSILON}
    t = interleaved_medians(
        {
            "fastlinreg": lambda: _fit(X, y, **params),
            "HuberRegressor": lambda: HuberRegressor(epsilon=HUBER_EPSILON).fit(X, y),
        },
        repeat=max(1, rounds // 2),
        warmup=0,
    )
    model = _fit(X, y, **params)
    ours = huber(X, y, model.coef_, model.intercept_)
    ref = huber_reference(X, y, np.zeros(X.shape[1] + 1))
    records.append(
        {
            "case": f"huber {n:.0e}x10",
            "competitor": "HuberRegressor",
            "t_fastlinreg": t["fastlinreg"],
            "t_competitor": t["HuberRegressor"],
            "speedup": t["HuberRegressor"] / t["fastlinreg"],
            "objective_gap": (ours - ref) / ref,
            "reference": "scipy L-BFGS-B",
            "converged": bool(model.converged_),
        }
    )

    # Quantile vs QuantileRegressor(highs): HiGHS once, fastlinreg's median
    n = 2_000 if quick else 20_000
    X, y = data(n, seed=1)
    params = {"loss": "quantile", "quantile": QUANTILE}
    t_ours = interleaved_medians({"f": lambda: _fit(X, y, **params)}, repeat=rounds)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        highs = QuantileRegressor(quantile=QUANTILE, alpha=0.0, solver="highs")
        highs.fit(X, y)
    t_highs = time.perf_counter() - t0
    model = _fit(X, y, **params)
    ours = pinball(X, y, model.coef_, model.intercept_)
    ref = pinball(X, y, highs.coef_, highs.intercept_)
    records.append(
        {
            "case": f"quantile {n:.0e}x10",
            "competitor": "QuantileRegressor(highs)",
            "t_fastlinreg": t_ours["f"],
            "t_competitor": t_highs,
            "speedup": t_highs / t_ours["f"],
            "objective_gap": (ours - ref) / ref,
            "reference": "HiGHS (exact LP)",
            "converged": bool(model.converged_),
        }
    )

    # Every loss at 1e6 rows against fastlinreg's own squared-error fit
    n = 50_000 if quick else 1_000_000
    X, y = data(n, seed=2)
    losses = {
        "quantile": {"loss": "quantile", "quantile": QUANTILE},
        "absolute_error": {"loss": "absolute_error"},
        "huber": {"loss": "huber", "epsilon": HUBER_EPSILON},
        "epsilon_insensitive": {"loss": "epsilon_insensitive", "epsilon": 0.5},
    }
    candidates = {"squared_error": lambda: _fit(X, y)}
    for name, p in losses.items():
        candidates[name] = lambda p=p: _fit(X, y, **p)
    t = interleaved_medians(candidates, repeat=rounds)
    for name, p in losses.items():
        model = _fit(X, y, **p)
        records.append(
            {
                "case": f"{name} {n:.0e}x10",
                "competitor": "fastlinreg squared_error",
                "t_fastlinreg": t[name],
                "t_competitor": t["squared_error"],
                "speedup": t["squared_error"] / t[name],
                "objective_gap": None,
                "reference": "",
                "converged": bool(model.converged_),
                "n_iter": int(model.n_iter_),
            }
        )
    return records


def table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| case | competitor | fastlinreg | competitor | speed-up "
        "| objective vs reference |",
        "|---|---|---:|---:|---:|---|",
    ]
    for r in records:
        gap = (
            "—"
            if r["objective_gap"] is None
            else f"{r['objective_gap']:+.1e} ({r['reference']})"
        )
        speed = r["speedup"]
        ratio = f"{speed:.1f}x faster" if speed >= 1 else f"{1 / speed:.1f}x slower"
        lines.append(
            f"| {r['case']} | {r['competitor']} | {r['t_fastlinreg'] * 1e3:.0f} ms "
            f"| {r['t_competitor'] * 1e3:.0f} ms | {ratio} | {gap} |"
        )
    return "\n".join(lines)
