"""Accuracy on NIST's StRD linear-regression datasets (certified values).

LRE = -log10(relative error) of each parameter, capped at 15; the worst
parameter of each dataset is compared with a target. Filip (a degree-10
polynomial, condition number ~1e17 after standardisation) cannot be solved in
float64 by anyone; there fastlinreg must say so.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastlinreg

DATA = json.loads((Path(__file__).parent / "data" / "nist_strd.json").read_text())
DATASETS = {ds["name"]: ds for ds in DATA["datasets"]}
# Worst-parameter LRE targets. numpy.linalg.lstsq reaches 12.3, 6.2, 14.7, 15,
# 10.9 and 9.3, 10.2, 9.6, 7.9, 5.9 on these (NIST's README beside the data).
TARGETS = {
    "Norris": 9,
    "NoInt1": 9,
    "NoInt2": 9,
    "Longley": 9,
    "Pontius": 7,
    "Wampler1": 7,
    "Wampler2": 7,
    "Wampler3": 7,
    "Wampler4": 7,
    "Wampler5": 7,
}


def design(ds: dict) -> tuple[np.ndarray, np.ndarray]:
    model = ds["model"]
    y = np.array(ds["y"], dtype=np.float64)
    if "predictors" in model:
        X = np.column_stack([np.array(ds["x"][k], float) for k in model["predictors"]])
    else:
        x = np.array(ds["x"][model["predictor"]], dtype=np.float64)
        X = np.column_stack([x**p for p in model["powers"] if p > 0])
    return X, y


def lre(estimate: np.ndarray, certified: np.ndarray) -> np.ndarray:
    err = np.abs(estimate - certified)
    rel = np.where(
        certified != 0, err / np.where(certified == 0, 1, np.abs(certified)), err
    )
    return np.minimum(15.0, -np.log10(np.maximum(rel, 1e-300)))


def fit(ds: dict) -> tuple[fastlinreg.LinearRegression, np.ndarray]:
    X, y = design(ds)
    intercept = ds["model"]["intercept"]
    model = fastlinreg.LinearRegression(fit_intercept=intercept).fit(X, y)
    params = np.append(model.intercept_, model.coef_) if intercept else model.coef_
    return model, params


def certified(ds: dict) -> np.ndarray:
    return np.array([p["estimate"] for p in ds["certified_parameters"]])


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_lre_meets_target(name):
    ds = DATASETS[name]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and no warning on these
        model, params = fit(ds)
    assert model.converged_
    assert lre(params, certified(ds)).min() >= TARGETS[name]


def test_filip_warns_that_it_cannot_be_trusted():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fit(DATASETS["Filip"])
    kinds = {type(w.message) for w in caught}
    assert fastlinreg.IllConditionedWarning in kinds
    text = " ".join(str(w.message) for w in caught)
    assert "ill-conditioned" in text
