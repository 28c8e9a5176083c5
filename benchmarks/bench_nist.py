"""Accuracy on NIST's StRD linear-regression datasets: LRE per dataset.

The log relative error of the worst parameter (capped at 15), for fastlinreg's
default fit and for ``numpy.linalg.lstsq`` side by side. The data and their
certified values are read from ``tests/data/nist_strd.json``.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

import fastlinreg

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "nist_strd.json"


def _design(ds: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    model = ds["model"]
    y = np.array(ds["y"], dtype=np.float64)
    if "predictors" in model:
        cols = [np.array(ds["x"][k], dtype=np.float64) for k in model["predictors"]]
        return np.column_stack(cols), y
    x = np.array(ds["x"][model["predictor"]], dtype=np.float64)
    return np.column_stack([x**p for p in model["powers"] if p > 0]), y


def _lre(estimate: np.ndarray, certified: np.ndarray) -> float:
    err = np.abs(estimate - certified)
    scale = np.where(certified == 0, 1.0, np.abs(certified))
    rel = np.where(certified != 0, err / scale, err)
    return float(np.minimum(15.0, -np.log10(np.maximum(rel, 1e-300))).min())


def run(
    *, quick: bool = False, repeat: int | None = None, full: bool = False
) -> list[dict[str, Any]]:
    """One record per dataset (the arguments change nothing: it is instant)."""
    records = []
    for ds in json.loads(DATA.read_text())["datasets"]:
        X, y = _design(ds)
        intercept = ds["model"]["intercept"]
        cert = np.array([p["estimate"] for p in ds["certified_parameters"]])
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            m = fastlinreg.LinearRegression(fit_intercept=intercept).fit(X, y)
        ours = np.append(m.intercept_, m.coef_) if intercept else m.coef_
        A = np.column_stack([np.ones(len(y)), X]) if intercept else X
        ref, *_ = np.linalg.lstsq(A, y, rcond=None)
        records.append(
            {
                "dataset": ds["name"],
                "difficulty": ds["difficulty"],
                "lre_fastlinreg": _lre(ours, cert),
                "lre_lstsq": _lre(ref, cert),
                "warnings": sorted({type(w.message).__name__ for w in caught}),
            }
        )
    return records


def table(records: list[dict[str, Any]]) -> str:
    lines = [
        "| dataset | difficulty | LRE fastlinreg | LRE lstsq | warnings |",
        "|---|---|---|---|---|",
    ]
    for r in records:
        lines.append(
            f"| {r['dataset']} | {r['difficulty']} | {r['lre_fastlinreg']:.1f} | "
            f"{r['lre_lstsq']:.1f} | {', '.join(r['warnings']) or '-'} |"
        )
    return "\n".join(lines)
