"""``positive=True`` and ``bounds``: fits within per-coefficient limits,
against scipy's nnls and lsq_linear, scikit-learn's positive models, HiGHS's
linear programme (quantile) and L-BFGS-B (Huber)."""

from __future__ import annotations

import numpy as np
import pytest

from fastlinreg import LinearRegression

optimize = pytest.importorskip("scipy.optimize")


def _data(n=400, d=6, seed=0, noise="normal"):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 2.0, size=d) + rng.normal(size=d)
    beta = rng.normal(size=d) * 2
    e = rng.standard_t(3, size=n) if noise == "t" else rng.normal(size=n)
    return X, X @ beta + 1.0 + e


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_positive_without_intercept_is_nnls(backend, dtype):
    X, y = _data()
    model = LinearRegression(positive=True, fit_intercept=False, backend=backend)
    model.fit(X.astype(dtype), y)
    ref = optimize.nnls(X.astype(dtype).astype(np.float64), y)[0]
    assert model.converged_
    assert (model.coef_ >= 0).all()
    assert 0 < (model.coef_ == 0).sum() < X.shape[1]  # (some held at 0)
    tol = 1e-9 if dtype == np.float64 else 1e-5
    np.testing.assert_allclose(model.coef_, ref, rtol=tol, atol=tol)


def test_positive_equals_scikit_learn():
    sklm = pytest.importorskip("sklearn.linear_model")
    X, y = _data(seed=1)
    w = np.random.default_rng(2).uniform(0.1, 3.0, size=X.shape[0])
    for sw in (None, w):
        ours = LinearRegression(positive=True).fit(X, y, sample_weight=sw)
        theirs = sklm.LinearRegression(positive=True).fit(X, y, sample_weight=sw)
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-9, atol=1e-10)
        assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-9)
    # Lasso and ElasticNet(positive=True): alpha = 2a (our error has no ½)
    for est, kw in ((sklm.Lasso, {}), (sklm.ElasticNet, {"l1_ratio": 0.3})):
        theirs = est(alpha=0.05, positive=True, tol=1e-14, max_iter=100_000, **kw)
        theirs.fit(X, y)
        ours = LinearRegression(
            alpha=0.1,
            penalty="elasticnet",
            l1_ratio=kw.get("l1_ratio", 1.0),
            positive=True,
            tol=1e-12,
        ).fit(X, y)
        np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-7, atol=1e-9)


def test_bounds_equal_lsq_linear():
    X, y = _data(d=5, seed=3)
    lower = np.array([-0.5, -np.inf, 0.0, -1.0, 1.0])
    upper = np.array([0.5, 1.0, np.inf, 1.0, 1.5])
    model = LinearRegression(bounds=(lower, upper)).fit(X, y)
    Z = np.c_[X, np.ones(X.shape[0])]  # (the intercept free)
    ref = optimize.lsq_linear(
        Z, y, bounds=(np.r_[lower, -np.inf], np.r_[upper, np.inf]), tol=1e-14
    )
    assert model.converged_
    assert np.all(model.coef_ >= lower)
    assert np.all(model.coef_ <= upper)
    np.testing.assert_allclose(model.coef_, ref.x[:-1], rtol=1e-8, atol=1e-9)
    assert model.intercept_ == pytest.approx(ref.x[-1], rel=1e-8)


def test_quantile_within_bounds_is_the_linear_programme():
    X, y = _data(n=300, d=4, seed=4, noise="t")
    q = 0.7
    model = LinearRegression(loss="quantile", quantile=q, positive=True).fit(X, y)
    n, d = X.shape
    # min Σ q u⁺ + (1 − q) u⁻ / n  s.t.  X β + b + u⁺ − u⁻ = y, β ≥ 0
    c = np.r_[np.zeros(d + 1), np.full(n, q / n), np.full(n, (1 - q) / n)]
    A = np.c_[X, np.ones(n), np.eye(n), -np.eye(n)]
    lp = optimize.linprog(
        c,
        A_eq=A,
        b_eq=y,
        bounds=[(0, None)] * d + [(None, None)] + [(0, None)] * (2 * n),
        method="highs",
    )

    def objective(coef, b):
        r = y - X @ coef - b
        return np.mean(np.maximum(q * r, (q - 1) * r))

    assert (model.coef_ >= 0).all()
    assert objective(model.coef_, model.intercept_) == pytest.approx(lp.fun, rel=1e-6)


def test_huber_within_bounds_matches_l_bfgs_b():
    X, y = _data(n=300, d=4, seed=5, noise="t")
    eps = 1.0
    model = LinearRegression(loss="huber", epsilon=eps, bounds=(0.0, 1.0)).fit(X, y)

    def objective(theta):
        r = y - X @ theta[:-1] - theta[-1]
        a = np.abs(r)
        return np.mean(np.where(a <= eps, r * r, 2 * eps * a - eps * eps))

    ref = optimize.minimize(
        objective,
        np.zeros(5),
        method="L-BFGS-B",
        bounds=[(0.0, 1.0)] * 4 + [(None, None)],
        options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 10_000},
    )
    ours = objective(np.r_[model.coef_, model.intercept_])
    assert ours <= ref.fun * (1 + 1e-9)
    np.testing.assert_allclose(model.coef_, ref.x[:-1], atol=1e-4)


def test_a_start_outside_the_bounds_and_several_targets():
    X, y = _data(d=3, seed=6)
    Y = np.c_[y, -y]
    model = LinearRegression(bounds=(1.0, 2.0)).fit(X, Y)  # (0 is outside)
    assert model.coef_.shape == (2, 3)
    assert np.all((model.coef_ >= 1.0) & (model.coef_ <= 2.0))
    for j in range(2):
        one = LinearRegression(bounds=(1.0, 2.0)).fit(X, Y[:, j])
        np.testing.assert_allclose(model.coef_[j], one.coef_, rtol=1e-12)


def test_partial_fit_and_dask_equal_the_fit():
    X, y = _data(n=600, seed=7)
    full = LinearRegression(positive=True).fit(X, y)
    part = LinearRegression(positive=True)
    for rows in np.array_split(np.arange(600), 3):
        part.partial_fit(X[rows], y[rows])
    np.testing.assert_allclose(part.coef_, full.coef_, rtol=1e-9, atol=1e-12)
    da = pytest.importorskip("dask.array")
    dask = LinearRegression(positive=True).fit(
        da.from_array(X, chunks=(150, 6)), da.from_array(y, chunks=150)
    )
    np.testing.assert_allclose(dask.coef_, full.coef_, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"positive": 1}, TypeError, "positive"),
        ({"bounds": 0.0}, TypeError, "bounds"),
        ({"bounds": (0.0,)}, TypeError, "bounds"),
        ({"bounds": (1.0, 0.0)}, ValueError, "at most"),
        ({"bounds": (np.nan, 1.0)}, ValueError, "bounds"),
        ({"bounds": (np.inf, np.inf)}, ValueError, "bounds"),
        ({"bounds": ([0.0, 0.0], 1.0)}, ValueError, "3 features"),
        ({"bounds": ("a", 1.0)}, TypeError, "lower"),
        ({"bounds": (1j, 1.0)}, TypeError, "lower"),
        ({"bounds": ([0.0, 0.0], [1.0, 1.0, 1.0])}, ValueError, "bounds"),
        ({"positive": True, "solver": "cg"}, ValueError, "positive=True"),
    ],
)
def test_bad_bounds_name_themselves(kwargs, error, words):
    X, y = _data(d=3)
    model = LinearRegression(**kwargs)
    with pytest.raises(error, match=words):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_no_inference_within_bounds():
    X, y = _data(d=3)
    model = LinearRegression(positive=True).fit(X, y)
    with pytest.raises(ValueError, match="bounds"):
        model.inference_  # noqa: B018


def test_a_saved_model_keeps_its_bounds(tmp_path):
    from fastlinreg.cli import load_model, save_model

    X, y = _data(d=3, seed=8)
    bounds = ([0.0, -np.inf, 0.0], [0.5, np.inf, np.inf])
    model = LinearRegression(bounds=bounds).fit(X, y)
    save_model(model, tmp_path / "m.json")
    again = load_model(tmp_path / "m.json")
    np.testing.assert_array_equal(again.predict(X), model.predict(X))
    refit = LinearRegression(**again.get_params()).fit(X, y)
    np.testing.assert_array_equal(refit.coef_, model.coef_)
