"""Cross-validation of the penalty: LinearRegressionCV against one plain fit
and against scikit-learn's LassoCV, ElasticNetCV and RidgeCV(cv=5).

Two cases, timed in turn in one process (medians of interleaved rounds, the
first call included: no warm-up; 0.15 s of busy waiting before each call, as
in the fit suite, so that no candidate pays for another's spinning BLAS
threads):

- **one pass**: at 1e7 x 8 (``--quick``: 1e6 x 8), the whole search over
  5 folds x 50 alphas x 3 l1_ratios (elastic net) against one
  ``LinearRegression().fit`` of the same data: the ratio says what the
  search costs beyond the pass every fit makes.
- **against scikit-learn**: at 1e6 x 20 (``--quick``: 2e5 x 20), 5
  contiguous folds (``KFold(5)``), 50 alphas: ``penalty="l1"`` vs
  ``LassoCV``, ``"elasticnet"`` with ``l1_ratio=[0.2, 0.5, 0.9]`` vs
  ``ElasticNetCV``, ``"l2"`` vs ``RidgeCV(cv=KFold(5))`` on the mapped grid
  (``alpha = 2 a / n_train``, scored by the mean squared error), and
  ``"l2"`` with ``cv=None`` (exact leave-one-out) vs ``RidgeCV()`` (its
  default, also leave-one-out; ``alpha = 2 a / n``). Beside the ratio:
  whether the chosen alpha is the same (mapped) and the largest relative
  difference of the held-out errors (scikit-learn's at its default ``tol``).

Also reported: the search alone (after the pass) at d = 100, 100 alphas x 5
folds, as a share of the whole fit.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

import fastlinreg
from fastlinreg._timing import interleaved_medians

RATIOS = [0.2, 0.5, 0.9]
# Busy waiting before each timed call: OpenBLAS's threads spin for ~0.1 s
# after scikit-learn's calls and would slow the next candidate's threads.
SETTLE = 0.15


def data(n: int, d: int, seed: int = 0) -> tuple[Any, Any]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d)
    beta = np.zeros(d)
    beta[: max(1, d // 4)] = rng.normal(size=max(1, d // 4))
    return X, X @ beta + 1.0 + rng.normal(size=n)


def _ours(penalty: str, alphas: Any, **kw: Any) -> Any:
    ratio = RATIOS if penalty == "elasticnet" else 0.5
    cv = None if penalty == "loo" else 5
    return fastlinreg.LinearRegressionCV(
        penalty="l2" if penalty == "loo" else penalty,
        alphas=alphas,
        l1_ratio=ratio,
        cv=cv,
        **kw,
    )


def _theirs(penalty: str, ours: Any, n: int) -> Any:
    from sklearn import linear_model
    from sklearn.model_selection import KFold

    if penalty == "l1":
        return linear_model.LassoCV(cv=KFold(5), alphas=ours.alphas_ / 2)
    if penalty == "elasticnet":
        return linear_model.ElasticNetCV(
            cv=KFold(5), l1_ratio=RATIOS, alphas=ours.alphas_.shape[1]
        )
    if penalty == "loo":
        return linear_model.RidgeCV(alphas=ours.alphas_ * n / 2)
    n_train = n - n // 5
    return linear_model.RidgeCV(
        alphas=ours.alphas_ * n_train / 2,
        cv=KFold(5),
        scoring="neg_mean_squared_error",
    )


def _agreement(penalty: str, ours: Any, theirs: Any, n: int) -> tuple[bool, float]:
    if penalty in ("l2", "loo"):
        n_train = n if penalty == "loo" else n - n // 5
        same = bool(np.isclose(ours.alpha_ * n_train / 2, theirs.alpha_))
        return same, float("nan")  # (RidgeCV keeps no per-fold errors)
    same = bool(np.isclose(ours.alpha_ / 2, theirs.alpha_, rtol=1e-9))
    diff = np.abs(ours.mse_path_ - theirs.mse_path_) / theirs.mse_path_
    return same, float(diff.max())


def _one_pass(n: int, rounds: int) -> dict[str, Any]:
    X, y = data(n, 8)
    t = interleaved_medians(
        {
            "fit": lambda: fastlinreg.LinearRegression().fit(X, y),
            "cv": lambda: _ours("elasticnet", 50).fit(X, y),
        },
        repeat=rounds,
        warmup=0,
        settle=SETTLE,
    )
    return {
        "case": f"one pass {n:.0e}x8: 5 folds x 50 alphas x 3 l1_ratios",
        "t_fastlinreg": t["cv"],
        "t_other": t["fit"],
        "other": "LinearRegression().fit",
        "ratio": t["cv"] / t["fit"],
        "same_alpha": None,
        "mse_max_rel_diff": None,
    }


def _search_share(rounds: int) -> dict[str, Any]:
    from fastlinreg import _cv

    X, y = data(100_000, 100)
    model = _ours("l1", 100)
    spent: list[float] = []
    select = _cv.select

    def timed(*args: Any, **kw: Any) -> Any:
        start = time.perf_counter()
        out = select(*args, **kw)
        spent.append(time.perf_counter() - start)
        return out

    _cv.select = timed
    try:
        t = interleaved_medians(
            {"cv": lambda: model.fit(X, y)}, repeat=rounds, warmup=0
        )
    finally:
        _cv.select = select
    return {
        "case": "search alone, 1e5x100: 100 alphas x 5 folds (l1)",
        "t_fastlinreg": float(np.median(spent)),
        "t_other": t["cv"],
        "other": "the whole LinearRegressionCV fit",
        "ratio": float(np.median(spent)) / t["cv"],
        "same_alpha": None,
        "mse_max_rel_diff": None,
    }


def run(
    *, quick: bool = False, repeat: int | None = None, full: bool = False
) -> list[dict[str, Any]]:
    rounds = repeat or 3
    records = [_one_pass(1_000_000 if quick else 10_000_000, rounds)]
    try:
        import sklearn  # noqa: F401
    except ImportError:
        print("(scikit-learn is not installed: the comparisons are skipped)")
        return records
    n = 200_000 if quick else 1_000_000
    X, y = data(n, 20)
    names = {
        "l1": "LassoCV",
        "elasticnet": "ElasticNetCV",
        "l2": "RidgeCV(cv=5)",
        "loo": "RidgeCV() (leave-one-out)",
    }
    for penalty, name in names.items():
        ours = _ours(penalty, 50).fit(X, y)
        theirs = _theirs(penalty, ours, n)
        t = interleaved_medians(
            {
                "ours": lambda p=penalty: _ours(p, 50).fit(X, y),
                "theirs": lambda m=theirs: m.fit(X, y),
            },
            repeat=1 if penalty != "l1" else rounds,
            warmup=0,
            settle=SETTLE,
        )
        same, diff = _agreement(penalty, ours, theirs, n)
        records.append(
            {
                "case": (
                    f"l2 {n:.0e}x20: leave-one-out x 50 alphas"
                    if penalty == "loo"
                    else f"{penalty} {n:.0e}x20: 5 folds x 50 alphas"
                    + (" x 3 l1_ratios" if penalty == "elasticnet" else "")
                ),
                "t_fastlinreg": t["ours"],
                "t_other": t["theirs"],
                "other": name,
                "ratio": t["theirs"] / t["ours"],
                "same_alpha": same,
                "mse_max_rel_diff": diff,
            }
        )
    records.append(_search_share(rounds))
    return records


def table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| case | fastlinreg s | against | its s | ratio | same alpha | "
        "mse_path_ max rel. diff |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in records:
        same = "—" if r["same_alpha"] is None else ("yes" if r["same_alpha"] else "NO")
        diff = r["mse_max_rel_diff"]
        diff_cell = "—" if diff is None or diff != diff else f"{diff:.1e}"
        lines.append(
            f"| {r['case']} | {r['t_fastlinreg']:.4f} | {r['other']} | "
            f"{r['t_other']:.3f} | {r['ratio']:.2f} | {same} | {diff_cell} |"
        )
    return "\n".join(lines)
