"""LinearRegression: accuracy against lstsq, the two step rules, fitted
attributes, feature names, the estimator protocol, pickling and thread
invariance."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest

import fastlinreg
from fastlinreg import LinearRegression

EPS = np.finfo(np.float64).eps


def lstsq_problem(seed, n, d, offsets=3.0, noise=0.1, dtype=np.float64):
    """Independent features with scales 1e-2..1e2 and offsets of up to
    ``offsets`` times their scale; coefficients of magnitude 0.5..2 per unit
    of scale, so that every coefficient matters."""
    rng = np.random.default_rng(seed)
    scales = 10.0 ** rng.uniform(-2, 2, d)
    X = (rng.normal(size=(n, d)) + rng.uniform(-offsets, offsets, d)) * scales
    w = rng.choice([-1, 1], d) * rng.uniform(0.5, 2.0, d) / scales
    y = X @ w + 1.5 + noise * rng.normal(size=n)
    return X.astype(dtype), y.astype(dtype)


def mse(X, y, coef, intercept):
    e = np.asarray(y, np.float64) - np.asarray(X, np.float64) @ coef - intercept
    return float(e @ e) / len(e)


@pytest.mark.parametrize("seed", [0, 1])
@pytest.mark.parametrize("d", [1, 3, 10, 50])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_matches_lstsq(backend, ref, seed, d, fit_intercept):
    # Without an intercept the offsets make the problem ill-conditioned for
    # gradient descent; keep them moderate there.
    X, y = lstsq_problem(seed, 2000, d, offsets=3.0 if fit_intercept else 1.0)
    model = LinearRegression(backend=backend, fit_intercept=fit_intercept).fit(X, y)
    coef, intercept = ref.lstsq_fit(X, y, fit_intercept)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-6)
    if fit_intercept:
        assert model.intercept_ == pytest.approx(intercept, rel=1e-6)
    else:
        assert model.intercept_ == 0.0


@pytest.mark.parametrize("d", [1, 3, 10])
def test_float32_input(backend, ref, d):
    X, y = lstsq_problem(2, 2000, d, dtype=np.float32)
    model = LinearRegression(backend=backend).fit(X, y)
    assert model.coef_.dtype == np.float32
    coef, intercept = ref.lstsq_fit(X, y)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-5)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-5)


def test_default_fit_converges_on_well_conditioned_problems(backend):
    """Independent N(0, 1) features, small noise: the easiest problems there are."""
    n_iters = []
    for seed in range(20):
        rng = np.random.default_rng(seed)
        X = rng.normal(size=(1000, 5))
        y = X @ rng.uniform(1, 2, 5) + 1.0 + 0.01 * rng.normal(size=1000)
        with warnings.catch_warnings():
            warnings.simplefilter("error", fastlinreg.ConvergenceWarning)
            model = LinearRegression(backend=backend).fit(X, y)
        n_iters.append(model.n_iter_)
    assert max(n_iters) < 100, n_iters


# --------------------------------------------------------------------------
# Fixed learning rate: the tutorial's plain gradient descent
# --------------------------------------------------------------------------


def small_problem(seed=3, n=500, d=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) + 0.5
    y = X @ np.linspace(1.0, -1.0, d) + 2.0 + 0.3 * rng.normal(size=n)
    return X, y


def test_fixed_step_is_plain_gradient_descent(backend, ref):
    X, y = small_problem()
    model = LinearRegression(backend=backend, learning_rate=0.05, max_iter=40, tol=0.0)
    model.fit(X, y, coef_init=[0.5, 0.0, -0.5], intercept_init=1.0)
    want = ref.plain_gradient_descent(X, y, 0.05, 40, [0.5, 0.0, -0.5], 1.0)
    np.testing.assert_allclose(model.loss_curve_, want, rtol=1e-12)


def test_fixed_step_converges_when_small(backend, ref):
    X, y = small_problem()
    model = LinearRegression(
        backend=backend, learning_rate=0.1, max_iter=5000, tol=1e-9
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastlinreg.ConvergenceWarning)
        model.fit(X, y)
    assert model.converged_
    assert model.stop_reason_ == "converged"
    coef, intercept = ref.lstsq_fit(X, y)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-6)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-6)


def test_fixed_step_diverges_when_huge(backend):
    X, y = small_problem()
    with pytest.raises(fastlinreg.DivergenceError, match="learning_rate"):
        LinearRegression(backend=backend, learning_rate=10.0).fit(X, y)
    assert not hasattr(LinearRegression(), "coef_")


def test_convergence_warning_when_max_iter_too_small(backend):
    rng = np.random.default_rng(4)
    Z = rng.normal(size=(500, 5))
    X = Z + 0.8 * Z[:, :1]  # correlated columns: several steps are needed
    y = X @ np.arange(1.0, 6.0) + rng.normal(size=500)
    with pytest.warns(fastlinreg.ConvergenceWarning, match="max_iter"):
        model = LinearRegression(backend=backend, max_iter=2).fit(X, y)
    assert model.converged_ is False
    assert model.stop_reason_ == "max_iter"
    assert model.n_iter_ == 2
    assert len(model.loss_curve_) == 3
    # tol=0 asks for all max_iter steps: no warning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", fastlinreg.ConvergenceWarning)
        model = LinearRegression(backend=backend, max_iter=7, tol=0.0, solver="gd").fit(
            X, y
        )
    assert model.n_iter_ == 7


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("d", [1, 4, 12])
def test_loss_curve(backend, fit_intercept, d):
    X, y = lstsq_problem(d, 1000, d, offsets=1.0)
    model = LinearRegression(backend=backend, fit_intercept=fit_intercept).fit(X, y)
    curve = model.loss_curve_
    assert curve.shape == (model.n_iter_ + 1,)
    assert model.n_iter_ >= 1
    # Start: coef 0 and (with an intercept) the best constant, mean(y).
    start = np.var(y) if fit_intercept else np.mean(y**2)
    assert curve[0] == pytest.approx(start, rel=1e-12)
    assert curve[-1] == pytest.approx(
        mse(X, y, model.coef_, model.intercept_), rel=1e-9
    )
    # Non-increasing, up to the rounding of the objective itself: its terms
    # are of the size of curve[0] (from sufficient statistics the objective is
    # a difference of such terms), whatever its value near the optimum.
    assert np.all(np.diff(curve) <= 16 * EPS * curve[0])
    assert curve[-1] < curve[0]


# --------------------------------------------------------------------------
# Fitted attributes and the estimator protocol
# --------------------------------------------------------------------------


def test_fitted_attributes(backend):
    X, y = small_problem()
    model = LinearRegression(backend=backend).fit(X, y)
    assert model.backend_ == backend
    assert model.n_features_in_ == 3
    assert model.coef_.shape == (3,)
    assert model.converged_ is True
    assert not hasattr(model, "feature_names_in_")
    auto = LinearRegression().fit(X, y)
    assert auto.backend_ == fastlinreg.available_backends()[0]


def test_no_intercept(backend):
    X, y = small_problem()
    model = LinearRegression(backend=backend, fit_intercept=False).fit(X, y)
    assert model.intercept_ == 0.0
    np.testing.assert_allclose(model.predict(X), X @ model.coef_, rtol=1e-12)


def test_init_arguments_are_checked(backend):
    X, y = small_problem()
    with pytest.raises(ValueError, match="coef_init"):
        LinearRegression(backend=backend).fit(X, y, coef_init=[0.0, 1.0])
    with pytest.raises(ValueError, match="coef_init"):
        LinearRegression(backend=backend).fit(X, y, coef_init=[0.0, np.nan, 1.0])
    with pytest.raises(ValueError, match="intercept_init"):
        LinearRegression(backend=backend).fit(X, y, intercept_init=np.inf)


def test_predict_and_score(backend):
    sklearn_metrics = pytest.importorskip("sklearn.metrics")
    X, y = small_problem()
    model = LinearRegression(backend=backend).fit(X, y)
    np.testing.assert_allclose(
        model.predict(X), X @ model.coef_ + model.intercept_, rtol=1e-13
    )
    X_new, y_new = small_problem(seed=9)
    assert model.score(X_new, y_new) == pytest.approx(
        sklearn_metrics.r2_score(y_new, model.predict(X_new)), rel=1e-12
    )
    assert model.score(X, y) == pytest.approx(
        sklearn_metrics.r2_score(y, model.predict(X)), rel=1e-12
    )


def test_predict_before_fit_raises_not_fitted():
    model = LinearRegression()
    X, y = small_problem()
    for method, args in [("predict", (X,)), ("score", (X, y))]:
        with pytest.raises(fastlinreg.NotFittedError, match="not fitted"):
            getattr(model, method)(*args)
    assert issubclass(fastlinreg.NotFittedError, ValueError)
    assert issubclass(fastlinreg.NotFittedError, AttributeError)


def test_predict_checks_number_of_features(backend):
    X, y = small_problem()
    model = LinearRegression(backend=backend).fit(X, y)
    with pytest.raises(ValueError, match="3 features"):
        model.predict(X[:, :2])


class TestFeatureNames:
    @pytest.fixture
    def frame(self):
        pd = pytest.importorskip("pandas")
        X, y = small_problem()
        return pd.DataFrame(X, columns=["a", "b", "c"]), pd.Series(y, name="t")

    def test_names_are_remembered(self, backend, frame):
        X, y = frame
        model = LinearRegression(backend=backend).fit(X, y)
        assert list(model.feature_names_in_) == ["a", "b", "c"]
        assert model.feature_names_in_.dtype == object
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            pred = model.predict(X)
        want = X.to_numpy() @ model.coef_ + model.intercept_
        # Summation order differs with memory layout: rounding relative to the
        # size of the terms, not of a prediction that happens to be near zero.
        np.testing.assert_allclose(
            pred, want, rtol=1e-13, atol=1e-13 * np.abs(want).max()
        )
        # Refitting without names forgets them.
        model.fit(X.to_numpy(), y)
        assert not hasattr(model, "feature_names_in_")

    def test_array_after_frame_warns(self, frame):
        X, y = frame
        model = LinearRegression().fit(X, y)
        with pytest.warns(UserWarning, match="does not have valid feature names"):
            model.predict(X.to_numpy())

    def test_frame_after_array_warns(self, frame):
        X, y = frame
        model = LinearRegression().fit(X.to_numpy(), y)
        with pytest.warns(UserWarning, match="has feature names"):
            model.predict(X)

    def test_reordered_columns_raise(self, frame):
        X, y = frame
        model = LinearRegression().fit(X, y)
        with pytest.raises(ValueError, match="same order"):
            model.predict(X[["b", "a", "c"]])

    def test_other_names_raise(self, frame):
        X, y = frame
        model = LinearRegression().fit(X, y)
        with pytest.raises(ValueError, match=r"unseen at fit time:\n- z") as info:
            model.predict(X.rename(columns={"c": "z"}))
        assert "missing:\n- c" in str(info.value)

    def test_non_string_names_are_not_names(self, frame):
        X, y = frame
        X = X.set_axis([0, 1, 2], axis=1)
        model = LinearRegression().fit(X, y)
        assert not hasattr(model, "feature_names_in_")


def test_get_set_params_and_clone():
    sklearn_base = pytest.importorskip("sklearn.base")
    model = LinearRegression(learning_rate=0.1, n_jobs=2)
    assert model.get_params() == {
        "loss": "squared_error",
        "epsilon": 0.1,
        "quantile": 0.5,
        "alpha": 0.0,
        "penalty": "l2",
        "l1_ratio": 0.15,
        "positive": False,
        "bounds": None,
        "learning_rate": 0.1,
        "max_iter": 1000,
        "tol": 1e-10,
        "fit_intercept": True,
        "precompute": "auto",
        "solver": "auto",
        "backend": "auto",
        "n_jobs": 2,
        "verbose": 0,
        "callback": None,
        "cov_type": "nonrobust",
    }
    assert model.set_params(max_iter=5, tol=1e-3) is model
    assert (model.max_iter, model.tol) == (5, 1e-3)
    with pytest.raises(ValueError, match="Invalid parameter 'gamma'"):
        model.set_params(gamma=1.0)
    assert (
        repr(model)
        == "LinearRegression(learning_rate=0.1, max_iter=5, n_jobs=2, tol=0.001)"
    )

    model = LinearRegression(max_iter=50).fit(*small_problem())
    copy = sklearn_base.clone(model)
    assert copy is not model
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "coef_")


def test_pickle_round_trip(backend):
    X, y = small_problem()
    model = LinearRegression(backend=backend, max_iter=200).fit(X, y)
    back = pickle.loads(pickle.dumps(model))
    assert back.get_params() == model.get_params()
    for attr in ("coef_", "loss_curve_"):
        np.testing.assert_array_equal(getattr(back, attr), getattr(model, attr))
    for attr in ("intercept_", "n_iter_", "converged_", "backend_", "n_features_in_"):
        assert getattr(back, attr) == getattr(model, attr)
    np.testing.assert_array_equal(back.predict(X), model.predict(X))


def test_n_jobs_does_not_change_the_result(backend):
    rng = np.random.default_rng(8)
    X = rng.normal(size=(300_000, 2)) * [1.0, 5.0] + [3.0, -1.0]
    y = X @ [2.0, -0.5] + 1.0 + rng.normal(size=300_000)
    one = LinearRegression(backend=backend, n_jobs=1).fit(X, y)
    two = LinearRegression(backend=backend, n_jobs=2).fit(X, y)
    assert np.array_equal(one.coef_, two.coef_)
    assert one.intercept_ == two.intercept_
    assert np.array_equal(one.loss_curve_, two.loss_curve_)
    assert one.n_iter_ == two.n_iter_


def test_alpha_per_target_as_ridge():
    sklm = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(3)
    X = rng.normal(size=(200, 4))
    Y = np.c_[X @ [1.0, 2.0, 3.0, 4.0], X @ [-1.0, 0.0, 1.0, 0.0]]
    Y = Y + rng.normal(size=(200, 2))
    model = LinearRegression(alpha=[0.1, 2.0]).fit(X, Y)
    theirs = sklm.Ridge(alpha=np.array([0.1, 2.0]) * 200 / 2).fit(X, Y)
    np.testing.assert_allclose(model.coef_, theirs.coef_, rtol=1e-10, atol=1e-12)
    for j, a in enumerate([0.1, 2.0]):
        one = LinearRegression(alpha=a).fit(X, Y[:, j])
        np.testing.assert_allclose(model.coef_[j], one.coef_, rtol=1e-12)
    part = LinearRegression(alpha=np.array([0.1, 2.0]))
    for rows in np.array_split(np.arange(200), 3):
        part.partial_fit(X[rows], Y[rows])
    np.testing.assert_allclose(part.coef_, model.coef_, rtol=1e-10, atol=1e-12)
    with pytest.raises(ValueError, match="alpha has 3 values"):
        LinearRegression(alpha=[0.1, 2.0, 3.0]).fit(X, Y)
    with pytest.raises(ValueError, match="alpha"):
        LinearRegression(alpha=[0.1, -2.0]).fit(X, Y)
    with pytest.raises(ValueError, match="penalised"):
        LinearRegression(alpha=[0.0, 2.0]).fit(X, Y).inference_  # noqa: B018


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_rank_deficient_fits_are_lstsq_minimum_norm(fit_intercept):
    """Collinear or wide problems: the minimum-norm coefficients in the
    user's coordinates (numpy.linalg.lstsq's), not in standardised ones,
    with the ill-conditioning warned; weights too."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    X = np.c_[X, 10.0 * X[:, 0]]  # (a scaled copy: a null direction)
    y = X[:, :3] @ [1.0, 2.0, 3.0] + rng.normal(size=50)
    w = rng.uniform(0.1, 1.0, size=50)
    wide = rng.normal(size=(5, 20)) * np.r_[np.full(10, 3.0), np.full(10, 0.2)]
    for A, b, sw in ((X, y, None), (X, y, w), (wide, rng.normal(size=5), None)):
        with pytest.warns(fastlinreg.IllConditionedWarning, match="minimum-norm"):
            model = LinearRegression(fit_intercept=fit_intercept).fit(A, b, sw)
        root = np.ones(A.shape[0]) if sw is None else np.sqrt(sw)
        Z, t = A, b
        if fit_intercept:
            mean = np.average(A, axis=0, weights=sw)
            Z, t = A - mean, b - np.average(b, weights=sw)
        ref = np.linalg.lstsq(Z * root[:, None], t * root, rcond=None)[0]
        np.testing.assert_allclose(model.coef_, ref, rtol=1e-9, atol=1e-11)
