"""LinearRegressionCV: the per-fold statistics against brute force and
scikit-learn's LassoCV / ElasticNetCV / RidgeCV on the same folds."""

from __future__ import annotations

import numpy as np
import pytest

from fastlinreg import LinearRegression, LinearRegressionCV
from fastlinreg._cv import contiguous_folds


def _data(n=240, d=6, seed=0, shift=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + shift
    beta = np.zeros(d)
    beta[: d // 2] = rng.normal(size=d // 2) * 2
    y = X @ beta + 1.5 + rng.normal(size=n)
    return X, y


def _brute_force(X, y, w, folds, alphas, penalty, l1_ratio, fit_intercept):
    """A LinearRegression per fold and alpha, scored on the held-out rows."""
    mse = np.empty((len(alphas), len(folds)))
    for k, (train, test) in enumerate(folds):
        for a, alpha in enumerate(alphas):
            m = LinearRegression(
                alpha=alpha,
                penalty=penalty,
                l1_ratio=l1_ratio,
                fit_intercept=fit_intercept,
                tol=1e-14,
                max_iter=100_000,
            )
            m.fit(X[train], y[train], None if w is None else w[train])
            r = y[test] - m.predict(X[test])
            wt = np.ones(test.size) if w is None else w[test]
            mse[a, k] = np.sum(wt * r * r) / np.sum(wt)
    return mse


def _kfold(n, k):
    rows = np.arange(n)
    return [
        (np.setdiff1d(rows, np.arange(s, e)), np.arange(s, e))
        for s, e in contiguous_folds(n, k)
    ]


@pytest.mark.parametrize(
    ("penalty", "l1_ratio"), [("l1", 1.0), ("elasticnet", 0.4), ("l2", 0.0)]
)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_mse_path_equals_brute_force(backend, penalty, l1_ratio, fit_intercept):
    X, y = _data(n=203, shift=3.0)  # (203 = 5 · 40 + 3: unequal folds)
    model = LinearRegressionCV(
        penalty=penalty,
        alphas=8,
        l1_ratio=l1_ratio,
        cv=5,
        fit_intercept=fit_intercept,
        tol=1e-13,
        backend=backend,
    ).fit(X, y)
    assert model.mse_path_.shape == (8, 5)
    assert model.alphas_.shape == (8,)
    assert np.all(np.diff(model.alphas_) < 0)
    brute = _brute_force(
        X,
        y,
        None,
        _kfold(203, 5),
        model.alphas_,
        "l2" if penalty == "l2" else "elasticnet",
        l1_ratio,
        fit_intercept,
    )
    np.testing.assert_allclose(model.mse_path_, brute, rtol=1e-6)
    assert model.alpha_ == model.alphas_[np.argmin(brute.mean(axis=1))]
    # the refit is LinearRegression's fit on all rows at the chosen alpha
    full = LinearRegression(
        alpha=model.alpha_,
        penalty="l2" if penalty == "l2" else "elasticnet",
        l1_ratio=l1_ratio,
        fit_intercept=fit_intercept,
        tol=1e-14,
        max_iter=100_000,
    ).fit(X, y)
    np.testing.assert_allclose(model.coef_, full.coef_, rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(model.intercept_, full.intercept_, rtol=1e-6, atol=1e-8)
    assert model.converged_


def test_weighted_mse_path_equals_brute_force():
    X, y = _data(n=150)
    w = np.random.default_rng(3).uniform(0, 2, size=150)
    w[::17] = 0.0
    model = LinearRegressionCV(penalty="l1", alphas=6, cv=3, tol=1e-13).fit(
        X, y, sample_weight=w
    )
    brute = _brute_force(X, y, w, _kfold(150, 3), model.alphas_, "l1", 1.0, True)
    np.testing.assert_allclose(model.mse_path_, brute, rtol=1e-6)


def test_agrees_with_lasso_cv():
    sklm = pytest.importorskip("sklearn.linear_model")
    from sklearn.model_selection import KFold

    X, y = _data(n=400, d=10, seed=1)
    ours = LinearRegressionCV(penalty="l1", alphas=30, cv=5, tol=1e-13).fit(X, y)
    theirs = sklm.LassoCV(
        cv=KFold(5), alphas=ours.alphas_ / 2, tol=1e-12, max_iter=100_000
    ).fit(X, y)
    np.testing.assert_allclose(ours.alphas_ / 2, theirs.alphas_)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-6)
    assert ours.alpha_ / 2 == pytest.approx(theirs.alpha_, rel=1e-12)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6, atol=1e-8)
    assert ours.intercept_ == pytest.approx(theirs.intercept_, rel=1e-6)


def test_agrees_with_elastic_net_cv_over_ratios():
    sklm = pytest.importorskip("sklearn.linear_model")
    from sklearn.model_selection import KFold

    X, y = _data(n=300, d=8, seed=2)
    ratios = [0.2, 0.5, 0.9]
    ours = LinearRegressionCV(
        penalty="elasticnet", l1_ratio=ratios, alphas=20, cv=4, tol=1e-13
    ).fit(X, y)
    assert ours.mse_path_.shape == (3, 20, 4)
    assert ours.alphas_.shape == (3, 20)
    theirs = sklm.ElasticNetCV(
        l1_ratio=ratios, cv=KFold(4), alphas=20, eps=1e-3, tol=1e-12, max_iter=100_000
    ).fit(X, y)
    # (the int grid is LassoCV's: from the alpha that zeroes every coefficient)
    np.testing.assert_allclose(ours.alphas_ / 2, theirs.alphas_, rtol=1e-12)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-6)
    assert ours.l1_ratio_ == theirs.l1_ratio_
    assert ours.alpha_ / 2 == pytest.approx(theirs.alpha_, rel=1e-12)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6, atol=1e-8)


def test_agrees_with_ridge_cv():
    sklm = pytest.importorskip("sklearn.linear_model")
    from sklearn.model_selection import KFold

    X, y = _data(n=250, d=7, seed=4)
    theirs_alphas = np.geomspace(1e3, 1e-3, 25)
    n_train = 200  # (5 equal folds of 50: one mapping for every fold)
    ours = LinearRegressionCV(
        penalty="l2", alphas=2 * theirs_alphas / n_train, cv=5
    ).fit(X, y)
    theirs = sklm.RidgeCV(
        alphas=theirs_alphas, cv=KFold(5), scoring="neg_mean_squared_error"
    ).fit(X, y)
    assert ours.alpha_ * n_train / 2 == pytest.approx(theirs.alpha_, rel=1e-12)
    # the refit on all n rows: sklearn's a is n · alpha / 2 there
    refit = sklm.Ridge(alpha=ours.alpha_ * 250 / 2).fit(X, y)
    np.testing.assert_allclose(ours.coef_, refit.coef_, rtol=1e-10)
    # mse_path_ against the folds scored one by one
    for k, (train, test) in enumerate(_kfold(250, 5)):
        for a in (0, 12, 24):
            m = sklm.Ridge(alpha=theirs_alphas[a]).fit(X[train], y[train])
            mse = np.mean((y[test] - m.predict(X[test])) ** 2)
            assert ours.mse_path_[a, k] == pytest.approx(mse, rel=1e-9)


def test_splitter_and_index_pairs():
    from sklearn.model_selection import KFold, ShuffleSplit

    X, y = _data(n=180)
    base = LinearRegressionCV(penalty="l1", alphas=10, cv=3).fit(X, y)
    for cv in (KFold(3), list(KFold(3).split(X))):
        other = LinearRegressionCV(penalty="l1", alphas=10, cv=cv).fit(X, y)
        np.testing.assert_allclose(other.mse_path_, base.mse_path_, rtol=1e-12)
    # shuffled folds (a partition, not contiguous) and overlapping test sets
    for cv in (KFold(3, shuffle=True, random_state=0), ShuffleSplit(4, random_state=0)):
        splits = list(cv.split(X))
        model = LinearRegressionCV(penalty="l1", alphas=5, cv=cv, tol=1e-13).fit(X, y)
        brute = _brute_force(X, y, None, splits, model.alphas_, "l1", 1.0, True)
        np.testing.assert_allclose(model.mse_path_, brute, rtol=1e-6)


def test_one_standard_error_rule_and_results():
    X, y = _data(n=300, d=12, seed=5)
    model = LinearRegressionCV(penalty="l1", alphas=40, cv=5).fit(X, y)
    res = model.cv_results_
    mean, sem = res["mean_test_mse"], res["sem_test_mse"]
    np.testing.assert_allclose(mean, model.mse_path_.mean(axis=1))
    best = int(np.argmin(mean))
    assert model.alpha_ == model.alphas_[best]
    ok = mean <= mean[best] + sem[best]
    assert model.alpha_1se_ == model.alphas_[ok].max()
    assert model.alpha_1se_ >= model.alpha_
    assert model.n_features_in_ == 12


def test_sklearn_protocol():
    from sklearn.base import clone

    model = LinearRegressionCV(penalty="elasticnet", l1_ratio=[0.3, 0.7], cv=4)
    params = model.get_params()
    assert params["l1_ratio"] == [0.3, 0.7]
    assert params["cv"] == 4
    twin = clone(model)
    assert twin.get_params() == params
    X, y = _data(n=100)
    twin.fit(X, y)
    assert twin.predict(X).shape == (100,)
    assert 0 < twin.score(X, y) <= 1


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"penalty": "l0"}, ValueError, "penalty"),
        ({"alphas": 0}, ValueError, "alphas"),
        ({"alphas": [1.0, -1.0]}, ValueError, "alphas"),
        ({"alphas": True}, TypeError, "alphas"),
        ({"penalty": "elasticnet", "l1_ratio": 0.0}, ValueError, "l1_ratio"),
        ({"penalty": "elasticnet", "l1_ratio": [0.5, 1.5]}, ValueError, "l1_ratio"),
        ({"cv": 1}, ValueError, "cv"),
        ({"cv": "five"}, TypeError, "cv"),
        ({"cv": [(np.arange(5), np.arange(5, 10))]}, ValueError, "split"),
        ({"cv": [(np.arange(5), np.arange(5, 100))] * 2}, ValueError, "index"),
        ({"eps": 2.0}, ValueError, "eps"),
        ({"tol": 0.0}, ValueError, "tol"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"n_jobs": 0}, ValueError, "n_jobs"),
    ],
)
def test_bad_parameters_name_themselves(kwargs, error, words):
    X, y = _data(n=60)
    model = LinearRegressionCV(**kwargs)
    with pytest.raises(error, match=words):
        model.fit(X, y)
    assert not hasattr(model, "coef_")


def test_bad_data_is_refused_and_the_model_kept():
    X, y = _data(n=60)
    model = LinearRegressionCV(alphas=5).fit(X, y)
    before = (model.coef_.copy(), model.alpha_)
    Xn = X.copy()
    Xn[7, 2] = np.nan
    with pytest.raises(ValueError, match=r"X.*row 7.*column 2"):
        model.fit(Xn, y)
    with pytest.raises(ValueError, match="y must be"):
        model.fit(X, np.ones((60, 2, 2)))
    w = np.ones(60)
    w[:12] = 0.0  # the first fold has no weight
    with pytest.raises(ValueError, match="fold"):
        model.fit(X, y, sample_weight=w)
    np.testing.assert_array_equal(model.coef_, before[0])
    assert model.alpha_ == before[1]


def test_memmap_equals_in_memory(tmp_path):
    X, y = _data(n=5000, d=5)
    path = tmp_path / "X.npy"
    np.save(path, X)
    Xm = np.load(path, mmap_mode="r")
    a = LinearRegressionCV(penalty="l1", alphas=12, cv=5).fit(X, y)
    b = LinearRegressionCV(penalty="l1", alphas=12, cv=5).fit(Xm, y)
    np.testing.assert_allclose(b.mse_path_, a.mse_path_, rtol=1e-12)
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-12)


def test_float32_input_is_not_copied_and_matches_float64():
    X, y = _data(n=2000, d=4)
    X32 = X.astype(np.float32)
    a = LinearRegressionCV(penalty="l2", alphas=10).fit(X32.astype(np.float64), y)
    b = LinearRegressionCV(penalty="l2", alphas=10).fit(X32, y)
    np.testing.assert_allclose(b.mse_path_, a.mse_path_, rtol=1e-9)


@pytest.mark.parametrize("penalty", ["l1", "l2"])
def test_multi_target_is_one_search_per_target(penalty):
    X, y = _data(n=300, d=5, seed=6)
    Y = np.c_[y, 0.1 * y + np.random.default_rng(7).normal(size=300), -y]
    both = LinearRegressionCV(penalty=penalty, alphas=15, cv=4).fit(X, Y)
    assert both.coef_.shape == (3, 5)
    assert both.intercept_.shape == (3,)
    assert both.alpha_.shape == (3,)
    assert both.mse_path_.shape == (3, 15, 4)
    assert both.predict(X).shape == (300, 3)
    for j in range(3):
        one = LinearRegressionCV(penalty=penalty, alphas=15, cv=4).fit(X, Y[:, j])
        np.testing.assert_allclose(both.mse_path_[j], one.mse_path_, rtol=1e-12)
        assert both.alpha_[j] == one.alpha_
        np.testing.assert_allclose(both.coef_[j], one.coef_, rtol=1e-12, atol=1e-14)


def test_dask_equals_in_memory():
    da = pytest.importorskip("dask.array")
    X, y = _data(n=1003, d=6, seed=8, shift=2.0)
    # chunks that do not line up with the folds (fold edges inside chunks)
    Xd, yd = da.from_array(X, chunks=(150, 6)), da.from_array(y, chunks=150)
    for penalty in ("l1", "l2"):
        a = LinearRegressionCV(penalty=penalty, alphas=12, cv=5).fit(X, y)
        b = LinearRegressionCV(penalty=penalty, alphas=12, cv=5).fit(Xd, yd)
        np.testing.assert_allclose(b.mse_path_, a.mse_path_, rtol=1e-9)
        assert b.alpha_ == pytest.approx(a.alpha_, rel=1e-12)
        np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-9, atol=1e-12)
    with pytest.raises(TypeError, match="cv must be an int for Dask"):
        LinearRegressionCV(cv=[(np.arange(5), np.arange(5, 10))] * 2).fit(Xd, yd)
    with pytest.raises(ValueError, match="sample_weight"):
        LinearRegressionCV().fit(Xd, yd, sample_weight=np.ones(1003))
    Xn = X.copy()
    Xn[500, 1] = np.inf
    with pytest.raises(ValueError, match="X contains infinity"):
        LinearRegressionCV().fit(da.from_array(Xn, chunks=(150, 6)), yd)


def _ridge_data():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(90, 5)) + 1.0
    y = X @ rng.normal(size=5) + 2.0 + 2.0 * rng.normal(size=90)
    return X, y, rng.uniform(0.2, 2.0, size=90)


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_leave_one_out_equals_brute_force_and_ridge_cv(fit_intercept, weighted):
    sklm = pytest.importorskip("sklearn.linear_model")
    X, y, w = _ridge_data()
    sw = w if weighted else None
    model = LinearRegressionCV(
        penalty="l2", cv=None, alphas=12, fit_intercept=fit_intercept
    ).fit(X, y, sample_weight=sw)
    assert model.mse_path_.shape == (12,)
    n = w.sum() if weighted else 90.0
    theirs_alphas = model.alphas_ * n / 2  # (our alpha in RidgeCV's terms)
    for a in (0, 6, 11):
        errs = np.empty(90)
        for i in range(90):
            keep = np.arange(90) != i
            fit = sklm.Ridge(alpha=theirs_alphas[a], fit_intercept=fit_intercept)
            fit.fit(X[keep], y[keep], None if sw is None else sw[keep])
            errs[i] = (y[i] - fit.predict(X[i : i + 1])[0]) ** 2
        brute = errs.mean() if sw is None else (sw * errs).sum() / sw.sum()
        assert model.mse_path_[a] == pytest.approx(brute, rel=1e-10)
    theirs = sklm.RidgeCV(alphas=theirs_alphas, fit_intercept=fit_intercept)
    theirs.fit(X, y, sample_weight=sw)
    assert model.alpha_ * n / 2 == pytest.approx(theirs.alpha_, rel=1e-12)
    np.testing.assert_allclose(model.coef_, theirs.coef_, rtol=1e-9)


def test_generalised_cross_validation_formula():
    X, y, _ = _ridge_data()
    model = LinearRegressionCV(penalty="l2", cv="gcv", alphas=10).fit(X, y)
    Z = np.c_[np.ones(90), X]
    for a, alpha in enumerate(model.alphas_):
        P = np.diag([0.0] + [90 * alpha / 2] * 5)
        H = Z @ np.linalg.solve(Z.T @ Z + P, Z.T)
        r = y - H @ y
        gcv = 90 * (r @ r) / (90 - np.trace(H)) ** 2
        assert model.mse_path_[a] == pytest.approx(gcv, rel=1e-10)
    assert model.alpha_ == model.alphas_[np.argmin(model.mse_path_)]
    assert model.alpha_1se_ == model.alpha_  # (GCV has no standard error)


def test_loo_and_gcv_refusals_and_scale_out(tmp_path):
    X, y, _ = _ridge_data()
    with pytest.raises(ValueError, match="penalty='l2'"):
        LinearRegressionCV(penalty="l1", cv=None).fit(X, y)
    path = tmp_path / "X.npy"
    np.save(path, X)
    a = LinearRegressionCV(penalty="l2", cv=None, alphas=8).fit(X, y)
    b = LinearRegressionCV(penalty="l2", cv=None, alphas=8).fit(
        np.load(path, mmap_mode="r"), y
    )
    np.testing.assert_allclose(b.mse_path_, a.mse_path_, rtol=1e-12)
    da = pytest.importorskip("dask.array")
    Xd, yd = da.from_array(X, chunks=(25, 5)), da.from_array(y, chunks=25)
    with pytest.raises(TypeError, match="gcv"):
        LinearRegressionCV(penalty="l2", cv=None).fit(Xd, yd)
    g = LinearRegressionCV(penalty="l2", cv="gcv", alphas=8).fit(X, y)
    h = LinearRegressionCV(penalty="l2", cv="gcv", alphas=8).fit(Xd, yd)
    np.testing.assert_allclose(h.mse_path_, g.mse_path_, rtol=1e-9)
    assert h.alpha_ == pytest.approx(g.alpha_, rel=1e-12)


def test_positive_agrees_with_lasso_cv_and_brute_force():
    sklm = pytest.importorskip("sklearn.linear_model")
    from sklearn.model_selection import KFold

    X, y = _data(n=300, d=8, seed=12)
    ours = LinearRegressionCV(penalty="l1", alphas=15, cv=5, positive=True, tol=1e-13)
    ours.fit(X, y)
    assert (ours.coef_ >= 0).all()
    theirs = sklm.LassoCV(
        cv=KFold(5), alphas=ours.alphas_ / 2, positive=True, tol=1e-12, max_iter=100_000
    ).fit(X, y)
    np.testing.assert_allclose(ours.mse_path_, theirs.mse_path_, rtol=1e-6)
    np.testing.assert_allclose(ours.coef_, theirs.coef_, rtol=1e-6, atol=1e-8)
    # the positive ridge (coordinate descent) against LinearRegression per fold
    ridge = LinearRegressionCV(penalty="l2", alphas=6, cv=3, positive=True, tol=1e-13)
    ridge.fit(X, y)
    for k, (train, test) in enumerate(_kfold(300, 3)):
        for a, alpha in enumerate(ridge.alphas_):
            m = LinearRegression(alpha=alpha, positive=True, tol=1e-14).fit(
                X[train], y[train]
            )
            mse = np.mean((y[test] - m.predict(X[test])) ** 2)
            assert ridge.mse_path_[a, k] == pytest.approx(mse, rel=1e-6)
    with pytest.raises(ValueError, match="positive=True"):
        LinearRegressionCV(penalty="l2", cv=None, positive=True).fit(X, y)
