"""scikit-learn compatibility: ``check_estimator`` (one test per check), the
answers of ``sklearn.linear_model.LinearRegression``, and the meta-estimators
that rely on the estimator protocol. Skipped without scikit-learn."""

from __future__ import annotations

import inspect
import warnings

import numpy as np
import pytest

import fastlinreg

estimator_checks = pytest.importorskip("sklearn.utils.estimator_checks")
sklearn_linear_model = pytest.importorskip("sklearn.linear_model")
model_selection = pytest.importorskip("sklearn.model_selection")
pipeline = pytest.importorskip("sklearn.pipeline")
preprocessing = pytest.importorskip("sklearn.preprocessing")

# fastlinreg deliberately departs from scikit-learn in one place: like the
# tutorial it grew from, it reads a 1-D X as one feature instead of rejecting it.
EXPECTED_FAILED_CHECKS = {
    "check_fit1d": (
        "by design: fit reads a 1-D X as one feature (the tutorial's data), "
        "where scikit-learn requires a ValueError"
    ),
}

# xfail_strict is new in scikit-learn 1.8.
_params = inspect.signature(estimator_checks.parametrize_with_checks).parameters
_strict = {"xfail_strict": True} if "xfail_strict" in _params else {}


with warnings.catch_warnings():
    # fastlinreg implements the protocol by duck typing, on purpose.
    warnings.filterwarnings("ignore", "Estimator .* does not inherit", UserWarning)
    each_check = estimator_checks.parametrize_with_checks(
        [fastlinreg.LinearRegression(), fastlinreg.LinearRegressionCV(alphas=10, cv=3)],
        expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
        **_strict,
    )


@each_check
def test_check_estimator(estimator, check):
    check(estimator)


def test_same_answer_as_sklearn_on_tutorial_data(backend):
    X, y = fastlinreg.make_regression(random_state=42)
    ours = fastlinreg.LinearRegression(backend=backend).fit(X, y)
    theirs = sklearn_linear_model.LinearRegression().fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-10)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-10)
    np.testing.assert_allclose(
        ours.predict(X), theirs.predict(X), rtol=1e-10, atol=1e-10
    )
    assert ours.score(X, y) == pytest.approx(theirs.score(X, y), rel=1e-12)
    assert round(theirs.score(X, y), 4) == 0.9953  # the tutorial's R²


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_same_answer_as_sklearn_with_several_features(backend, fit_intercept):
    X, y = fastlinreg.make_regression(
        n_samples=3000, n_features=6, noise="laplace", random_state=0
    )
    kw = {"fit_intercept": fit_intercept}
    ours = fastlinreg.LinearRegression(backend=backend, **kw).fit(X, y)
    theirs = sklearn_linear_model.LinearRegression(**kw).fit(X, y)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-8)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-8, abs=1e-12)


def test_meta_estimators():
    X, y = fastlinreg.make_regression(n_samples=600, n_features=3, random_state=1)
    scores = model_selection.cross_val_score(fastlinreg.LinearRegression(), X, y, cv=3)
    assert scores.shape == (3,)
    assert np.all(scores > 0.9)
    search = model_selection.GridSearchCV(
        fastlinreg.LinearRegression(), {"fit_intercept": [False, True]}, cv=3
    ).fit(X, y)
    assert search.best_params_ == {"fit_intercept": True}
    pipe = pipeline.make_pipeline(
        preprocessing.StandardScaler(), fastlinreg.LinearRegression()
    ).fit(X, y)
    assert pipe.score(X, y) == pytest.approx(
        fastlinreg.LinearRegression().fit(X, y).score(X, y), rel=1e-10
    )
