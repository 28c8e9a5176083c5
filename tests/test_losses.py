"""Losses, penalties, sample weights and several targets, against references.

Every reference is independent of fastlinreg: closed forms, scikit-learn's
Lasso/ElasticNet/QuantileRegressor, ``scipy.optimize`` on the same objective
written here from its definition.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastlinreg import LinearRegression, loss_gradient

LOSSES = ["squared_error", "absolute_error", "huber", "quantile", "epsilon_insensitive"]


def pointwise(loss: str, r: np.ndarray, epsilon: float = 0.1, q: float = 0.5):
    """The loss of each residual, from the definitions in the docs."""
    if loss == "squared_error":
        return r**2
    if loss == "absolute_error":
        return np.abs(r)
    if loss == "huber":
        a = np.abs(r)
        return np.where(a <= epsilon, 0.5 * r**2, epsilon * a - 0.5 * epsilon**2)
    if loss == "quantile":
        return np.maximum(q * r, (q - 1) * r)
    if loss == "epsilon_insensitive":
        return np.maximum(0.0, np.abs(r) - epsilon)
    raise AssertionError(loss)


def objective(
    loss, X, y, coef, intercept, *, epsilon=0.1, q=0.5, sw=None, alpha=0.0, l1=0.0
):
    r = y - X @ coef - intercept
    sw = np.ones_like(y) if sw is None else sw
    data = float(sw @ pointwise(loss, r, epsilon, q)) / float(sw.sum())
    pen = alpha * (l1 * np.abs(coef).sum() + 0.5 * (1 - l1) * (coef @ coef))
    return data + pen


def heavy_tailed(n, d, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 3.0, size=d) + rng.normal(size=d)
    coef = rng.normal(size=d)
    noise = rng.standard_t(2, size=n)  # heavy tails: outliers
    return X, (X @ coef + 1.5 + noise) * scale


# --------------------------------------------------------------------------
# Penalised least squares against the closed form and scikit-learn
# --------------------------------------------------------------------------


@pytest.mark.parametrize("precompute", [True, False])
def test_ridge_matches_closed_form(backend, precompute):
    X, y = heavy_tailed(500, 5, seed=1)
    n = X.shape[0]
    alpha = 0.3
    model = LinearRegression(alpha=alpha, precompute=precompute, backend=backend)
    model.fit(X, y)
    # mean(r²) + ½α‖w‖²: (Xcᵀ Xc + ½ n α I) w = Xcᵀ yc on centred data
    Xc, yc = X - X.mean(0), y - y.mean()
    coef = np.linalg.solve(Xc.T @ Xc + 0.5 * n * alpha * np.eye(5), Xc.T @ yc)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-8)
    assert model.intercept_ == pytest.approx(y.mean() - X.mean(0) @ coef, rel=1e-8)
    assert model.converged_
    assert model.solver_ == "newton"


@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("l1_ratio", [1.0, 0.4])
def test_lasso_and_elasticnet_match_scikit_learn(backend, precompute, l1_ratio):
    sklm = pytest.importorskip("sklearn.linear_model")
    rng = np.random.default_rng(2)
    X = rng.normal(size=(400, 12)) * rng.uniform(0.2, 5.0, size=12) + 3.0
    true = np.where(rng.random(12) < 0.5, 0.0, rng.normal(size=12))
    y = X @ true + 2.0 + rng.normal(size=400)
    a = 0.05
    ref = sklm.ElasticNet(alpha=a, l1_ratio=l1_ratio, tol=1e-14, max_iter=100_000)
    ref.fit(X, y)
    penalty = "l1" if l1_ratio == 1.0 else "elasticnet"
    model = LinearRegression(
        penalty=penalty,
        alpha=2 * a,
        l1_ratio=l1_ratio,
        precompute=precompute,
        backend=backend,
    ).fit(X, y)
    f_ours = objective(
        "squared_error", X, y, model.coef_, model.intercept_, alpha=2 * a, l1=l1_ratio
    )
    f_ref = objective(
        "squared_error", X, y, ref.coef_, ref.intercept_, alpha=2 * a, l1=l1_ratio
    )
    assert f_ours <= f_ref * (1 + 1e-10)
    np.testing.assert_allclose(model.coef_, ref.coef_, atol=1e-6)
    # Soft-thresholding makes the same coefficients exactly zero.
    np.testing.assert_array_equal(model.coef_ == 0, ref.coef_ == 0)
    assert (model.coef_ == 0).any()


def test_strong_l1_zeroes_every_coefficient():
    X, y = heavy_tailed(300, 4, seed=3)
    model = LinearRegression(penalty="l1", alpha=1e6).fit(X, y)
    assert (model.coef_ == 0).all()
    assert model.intercept_ == pytest.approx(y.mean(), rel=1e-12)


def test_penalty_none_ignores_alpha():
    X, y = heavy_tailed(300, 4, seed=3)
    a = LinearRegression(penalty=None, alpha=5.0).fit(X, y)
    b = LinearRegression().fit(X, y)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-10)


# --------------------------------------------------------------------------
# Robust losses against scipy / scikit-learn on the same objective
# --------------------------------------------------------------------------


def scipy_minimum(loss, X, y, x0, **kw):
    optimize = pytest.importorskip("scipy.optimize")
    d = X.shape[1]

    def f(p):
        return objective(loss, X, y, p[:d], p[d], **kw)

    res = optimize.minimize(f, x0, method="BFGS", options={"gtol": 1e-12})
    res = optimize.minimize(
        f,
        res.x,
        method="Nelder-Mead",
        options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 20000},
    )
    return res.fun


@pytest.mark.parametrize("epsilon", [0.3, 1.35, 5.0])
def test_huber_reaches_the_minimum(backend, epsilon):
    X, y = heavy_tailed(2000, 3, seed=4)
    model = LinearRegression(loss="huber", epsilon=epsilon, backend=backend).fit(X, y)
    assert model.converged_
    assert model.solver_ == "newton"
    ours = objective("huber", X, y, model.coef_, model.intercept_, epsilon=epsilon)
    x0 = np.append(model.coef_, model.intercept_) + 0.05
    ref = scipy_minimum("huber", X, y, x0, epsilon=epsilon)
    assert ours <= ref * (1 + 1e-6)
    # The gradient of the exact objective vanishes at the fit (Huber is C¹).
    _, g, gb = loss_gradient(
        X,
        y,
        model.coef_,
        model.intercept_,
        loss="huber",
        epsilon=epsilon,
        backend=backend,
    )
    assert np.abs(np.append(g, gb)).max() < 1e-8


@pytest.mark.parametrize("q", [0.1, 0.5, 0.8])
def test_quantile_matches_highs(backend, q):
    sklm = pytest.importorskip("sklearn.linear_model")
    X, y = heavy_tailed(600, 4, seed=5)
    model = LinearRegression(loss="quantile", quantile=q, backend=backend).fit(X, y)
    ref = sklm.QuantileRegressor(quantile=q, alpha=0.0, solver="highs").fit(X, y)
    ours = objective("quantile", X, y, model.coef_, model.intercept_, q=q)
    best = objective("quantile", X, y, ref.coef_, ref.intercept_, q=q)
    assert ours <= best * (1 + 1e-4)
    assert model.converged_
    # About a fraction q of the residuals lie below the fitted quantile.
    below = np.mean(y < model.predict(X))
    assert abs(below - q) < 0.02


def test_absolute_error_is_twice_the_median_loss(backend):
    X, y = heavy_tailed(500, 3, seed=6)
    lad = LinearRegression(loss="absolute_error", backend=backend).fit(X, y)
    med = LinearRegression(loss="quantile", quantile=0.5, backend=backend).fit(X, y)
    f_lad = objective("absolute_error", X, y, lad.coef_, lad.intercept_)
    f_med = objective("quantile", X, y, med.coef_, med.intercept_)
    assert f_lad == pytest.approx(2 * f_med, rel=1e-6)


def test_epsilon_insensitive_matches_linear_program(backend):
    optimize = pytest.importorskip("scipy.optimize")
    X, y = heavy_tailed(300, 3, seed=7)
    n, d = X.shape
    eps = 0.5
    model = LinearRegression(
        loss="epsilon_insensitive", epsilon=eps, backend=backend
    ).fit(X, y)
    ours = objective(
        "epsilon_insensitive", X, y, model.coef_, model.intercept_, epsilon=eps
    )
    # min Σ t_i / n  s.t.  t_i >= |y_i − x_i·w − b| − ε, t >= 0 (w, b free)
    c = np.concatenate([np.zeros(d + 1), np.ones(n) / n])
    A1 = np.hstack([-X, -np.ones((n, 1)), -np.eye(n)])  # y − Xw − b − ε <= t
    A2 = np.hstack([X, np.ones((n, 1)), -np.eye(n)])  # −(y − Xw − b) − ε <= t
    res = optimize.linprog(
        c,
        A_ub=np.vstack([A1, A2]),
        b_ub=np.concatenate([eps - y, eps + y]),
        bounds=[(None, None)] * (d + 1) + [(0, None)] * n,
        method="highs",
    )
    assert res.status == 0
    assert ours <= res.fun * (1 + 1e-4) + 1e-12


@pytest.mark.parametrize("loss", LOSSES)
def test_backends_agree_on_every_loss(loss):
    X, y = heavy_tailed(3000, 4, seed=8)
    fits = [
        LinearRegression(loss=loss, epsilon=0.5, quantile=0.3, backend=b).fit(X, y)
        for b in ("cython", "numpy")
    ]
    f = [objective(loss, X, y, m.coef_, m.intercept_, epsilon=0.5, q=0.3) for m in fits]
    assert f[0] == pytest.approx(f[1], rel=1e-9)
    np.testing.assert_allclose(fits[0].coef_, fits[1].coef_, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("loss", ["huber", "quantile"])
def test_robust_loss_with_l1_penalty(loss):
    optimize = pytest.importorskip("scipy.optimize")
    X, y = heavy_tailed(400, 5, seed=9)
    alpha = 0.2
    model = LinearRegression(loss=loss, epsilon=1.0, penalty="l1", alpha=alpha)
    model.fit(X, y)
    ours = objective(
        loss, X, y, model.coef_, model.intercept_, epsilon=1.0, alpha=alpha, l1=1.0
    )
    d = X.shape[1]

    def f(p):
        return objective(loss, X, y, p[:d], p[d], epsilon=1.0, alpha=alpha, l1=1.0)

    x0 = np.append(model.coef_, model.intercept_) + 0.01
    ref = optimize.minimize(
        f,
        x0,
        method="Powell",
        options={"xtol": 1e-10, "ftol": 1e-14, "maxiter": 100000},
    )
    assert ours <= ref.fun * (1 + 1e-6)


def test_loss_gradient_accepts_every_loss(backend):
    rng = np.random.default_rng(10)
    X = rng.normal(size=(200, 3))
    y = rng.normal(size=200)
    coef, b = rng.normal(size=3), 0.3
    sw = rng.uniform(0, 2, size=200)
    for loss in LOSSES:
        value, g, gb = loss_gradient(
            X,
            y,
            coef,
            b,
            loss=loss,
            epsilon=0.4,
            quantile=0.7,
            sample_weight=sw,
            backend=backend,
        )
        assert value == pytest.approx(
            objective(loss, X, y, coef, b, epsilon=0.4, q=0.7, sw=sw), rel=1e-12
        )
        # Finite differences (no residual sits at a kink for these data).
        h = 1e-6
        num = [
            (
                objective(loss, X, y, coef + h * e, b, epsilon=0.4, q=0.7, sw=sw)
                - objective(loss, X, y, coef - h * e, b, epsilon=0.4, q=0.7, sw=sw)
            )
            / (2 * h)
            for e in np.eye(3)
        ]
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-7)
        assert np.isfinite(gb)


# --------------------------------------------------------------------------
# Sample weights
# --------------------------------------------------------------------------

FIT_CASES = [
    {},
    {"precompute": False},
    {"alpha": 0.1, "penalty": "elasticnet", "l1_ratio": 0.5},
    {"loss": "huber", "epsilon": 1.0},
    {"loss": "quantile", "quantile": 0.3},
]


@pytest.mark.parametrize("params", FIT_CASES, ids=str)
def test_integer_weights_repeat_rows_and_zero_weights_remove_them(params):
    X, y = heavy_tailed(400, 3, seed=11)
    rng = np.random.default_rng(12)
    sw = rng.integers(0, 4, size=400).astype(float)
    weighted = LinearRegression(**params).fit(X, y, sample_weight=sw)
    rows = np.repeat(np.arange(400), sw.astype(int))
    repeated = LinearRegression(**params).fit(X[rows], y[rows])
    loss = params.get("loss", "squared_error")
    kw = {"epsilon": params.get("epsilon", 0.1), "q": params.get("quantile", 0.5)}
    f_w = objective(loss, X[rows], y[rows], weighted.coef_, weighted.intercept_, **kw)
    f_r = objective(loss, X[rows], y[rows], repeated.coef_, repeated.intercept_, **kw)
    assert f_w == pytest.approx(f_r, rel=1e-6)
    if loss in ("squared_error", "huber"):  # unique minimiser
        np.testing.assert_allclose(weighted.coef_, repeated.coef_, rtol=1e-6)


def test_weights_in_score():
    X, y = heavy_tailed(300, 2, seed=13)
    model = LinearRegression().fit(X, y)
    sw = np.r_[np.ones(200), np.zeros(100)]
    assert model.score(X, y, sample_weight=sw) == pytest.approx(
        model.score(X[:200], y[:200]), rel=1e-12
    )


@pytest.mark.parametrize(
    ("sw", "match"),
    [
        (-np.ones(50), "non-negative"),
        (np.zeros(50), "zero"),
        (np.ones(49), "50 samples"),
        (np.r_[np.nan, np.ones(49)], "NaN"),
        (np.ones((50, 2)), "1-D"),
        ("heavy", "string"),
    ],
)
def test_bad_sample_weight(sw, match):
    X, y = heavy_tailed(50, 2, seed=14)
    with pytest.raises((ValueError, TypeError), match=match):
        LinearRegression().fit(X, y, sample_weight=sw)


# --------------------------------------------------------------------------
# Several targets
# --------------------------------------------------------------------------


@pytest.mark.parametrize("params", FIT_CASES, ids=str)
def test_several_targets_equal_separate_fits(params):
    X, y = heavy_tailed(500, 3, seed=15)
    Y = np.column_stack([y, -2 * y + X[:, 0], np.sin(y)])
    both = LinearRegression(**params).fit(X, Y)
    assert both.coef_.shape == (3, 3)
    assert both.intercept_.shape == (3,)
    for j in range(3):
        one = LinearRegression(**params).fit(X, Y[:, j])
        np.testing.assert_allclose(both.coef_[j], one.coef_, rtol=1e-9, atol=1e-12)
        assert both.intercept_[j] == pytest.approx(one.intercept_, rel=1e-9)
    pred = both.predict(X)
    assert pred.shape == (500, 3)
    np.testing.assert_allclose(pred[:, 1], X @ both.coef_[1] + both.intercept_[1])
    assert isinstance(both.score(X, Y), float)
    assert len(both.loss_curve_) == 3


def test_several_targets_in_partial_fit():
    X, y = heavy_tailed(600, 3, seed=16)
    Y = np.column_stack([y, 3 * y])
    model = LinearRegression()
    for rows in (slice(0, 100), slice(100, 600)):
        model.partial_fit(X[rows], Y[rows])
    whole = LinearRegression().fit(X, Y)
    np.testing.assert_allclose(model.coef_, whole.coef_, rtol=1e-10)


# --------------------------------------------------------------------------
# Honest errors
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "exc", "match"),
    [
        ({"loss": "hinge"}, ValueError, "loss must be"),
        ({"loss": "quantile", "quantile": 1.0}, ValueError, "quantile"),
        ({"loss": "huber", "epsilon": 0.0}, ValueError, "epsilon"),
        ({"epsilon": -1.0}, ValueError, "epsilon"),
        ({"epsilon": "big"}, TypeError, "epsilon"),
        ({"alpha": -1.0}, ValueError, "alpha"),
        ({"alpha": float("nan")}, ValueError, "alpha"),
        ({"penalty": "l3"}, ValueError, "penalty"),
        ({"l1_ratio": 1.5}, ValueError, "l1_ratio"),
        ({"loss": "huber", "solver": "gd"}, ValueError, "newton"),
        ({"alpha": 1.0, "solver": "cg"}, ValueError, "newton"),
        ({"loss": "huber", "learning_rate": 0.1}, ValueError, "learning_rate"),
    ],
)
def test_bad_loss_and_penalty_parameters(params, exc, match):
    X, y = heavy_tailed(50, 2, seed=17)
    with pytest.raises(exc, match=match):
        LinearRegression(**params).fit(X, y)


def test_partial_fit_needs_the_squared_error():
    X, y = heavy_tailed(50, 2, seed=18)
    with pytest.raises(ValueError, match="squared_error"):
        LinearRegression(loss="huber").partial_fit(X, y)


# --------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------


@settings(max_examples=25, deadline=None)
@given(
    loss=st.sampled_from(LOSSES),
    seed=st.integers(0, 2**16),
    n=st.integers(5, 300),
    shift=st.sampled_from([0.0, 1e3, -1e6]),
)
def test_fit_is_never_worse_than_its_start(loss, seed, n, shift):
    """Whatever the data: a finite fit whose objective beats the best constant."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2)) + shift
    y = X @ [1.0, -2.0] + rng.standard_t(3, size=n)
    model = LinearRegression(loss=loss, epsilon=0.5, quantile=0.7).fit(X, y)
    assert np.isfinite(model.coef_).all()
    f = objective(loss, X, y, model.coef_, model.intercept_, epsilon=0.5, q=0.7)
    # The constant models the loss would pick: mean, median, a quantile.
    for c in (y.mean(), np.median(y), np.quantile(y, 0.7)):
        assert (
            f
            <= objective(loss, X, y, np.zeros(2), c, epsilon=0.5, q=0.7) * (1 + 1e-9)
            + 1e-12
        )


@pytest.mark.parametrize("loss", ["quantile", "huber"])
def test_callback_sees_each_newton_iterate_once(loss):
    X, y = heavy_tailed(5000, 3, seed=19)
    seen = []
    model = LinearRegression(loss=loss, callback=lambda info: seen.append(info))
    model.fit(X, y)
    assert [i.iteration for i in seen] == list(range(model.n_iter_ + 1))
    assert [i.loss for i in seen] == list(model.loss_curve_)
    stopped = LinearRegression(loss=loss, callback=lambda info: info.iteration == 2)
    assert stopped.fit(X, y).stop_reason_ == "callback"
    assert stopped.n_iter_ == 2


@pytest.mark.parametrize("loss", ["huber", "quantile", "epsilon_insensitive"])
def test_refit_from_the_solution_is_immediate(loss):
    """coef_init/intercept_init warm-start every loss: Huber skips its
    least-squares stage, so a refit from the solution takes no iteration."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 4))
    y = X @ [1.0, 2.0, 3.0, 4.0] + rng.standard_t(3, size=3000)
    model = LinearRegression(loss=loss).fit(X, y)
    again = LinearRegression(loss=loss).fit(
        X, y, coef_init=model.coef_, intercept_init=model.intercept_
    )
    assert again.n_iter_ <= 1
    np.testing.assert_allclose(again.coef_, model.coef_, rtol=1e-8, atol=1e-10)


def test_huber_with_a_small_epsilon_converges_honestly():
    """With epsilon = 1e-6 (units of y) the Huber objective is ~1e-6: the
    stopping rule's rounding slack follows the objective itself, not the
    variance of y (which once let the fit stop 2e-7 above its optimum, as
    "converged")."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2000, 3))
    y = X @ [1.0, 2.0, 3.0] + 3.0 * rng.standard_t(2, size=2000)
    eps = 1e-6

    def objective(model):
        r = y - X @ model.coef_ - model.intercept_
        a = np.abs(r)
        return np.mean(np.where(a <= eps, 0.5 * r * r, eps * a - 0.5 * eps * eps))

    model = LinearRegression(loss="huber", epsilon=eps).fit(X, y)
    assert model.converged_
    longer = LinearRegression(loss="huber", epsilon=eps, tol=0.0, max_iter=400)
    longer.fit(X, y, coef_init=model.coef_, intercept_init=model.intercept_)
    assert objective(model) <= objective(longer) * (1 + 1e-10)
