"""``gram_cd``: coordinate descent for the elastic net on a Gram matrix.

The compiled kernel and its NumPy twin make the same sweeps (to rounding),
reach a point where the optimality conditions hold (checked here from the
formula, not from either kernel's own violation), and screening by the
strong rule changes nothing but the work: the screened path equals the
unscreened one.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st


def problem(seed: int, d: int, collinear: bool):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(3 * d + 5, d)) * rng.uniform(0.1, 3.0, size=d)
    if collinear and d > 1:
        X[:, -1] = X[:, 0] + 0.1 * rng.normal(size=X.shape[0])
    y = X @ (rng.normal(size=d) * (rng.uniform(size=d) < 0.4)) + rng.normal(
        size=X.shape[0]
    )
    n = X.shape[0]
    return np.ascontiguousarray(X.T @ X / n), X.T @ y / n


def violation(G, g, beta, l1, l2):
    """The largest violation of the optimality conditions, from the formula."""
    r = g - G @ beta
    return float(
        np.where(
            beta != 0,
            np.abs(-r + l2 * beta + l1 * np.sign(beta)),
            np.maximum(np.abs(r) - l1, 0.0),
        ).max(initial=0.0)
    )


def objective(G, g, beta, l1, l2):
    return float(
        0.5 * beta @ G @ beta - g @ beta + l1 * np.abs(beta).sum()
        + 0.5 * l2 * beta @ beta
    )  # fmt: skip


def penalty_of(G, g, share, rel):
    """The scale of the gradient, the L1 and L2 weights (``rel`` of it, a
    ``share`` of L1) and the tolerance (1e-10 of the scale)."""
    top = float(np.abs(g).max())
    tol = 1e-10 * max(top, float(np.abs(G).max()))
    return top, rel * top * share, rel * top * (1 - share), tol


cases = st.tuples(
    st.integers(0, 2**16),
    st.integers(1, 12),
    st.booleans(),
    st.floats(0.0, 1.0),  # l1 share
    st.floats(1e-3, 1.0),  # penalty, relative to max|g|
)


@given(case=cases)
def test_twins_agree_and_converge(cython_kernels, numpy_kernels, case):
    seed, d, collinear, share, rel = case
    G, g = problem(seed, d, collinear)
    top, l1, l2, tol = penalty_of(G, g, share, rel)
    out = []
    for kernels in (cython_kernels, numpy_kernels):
        beta = np.zeros(d)
        sweeps, viol = kernels.gram_cd(G, g, beta, l1, l2, tol, 100_000)
        out.append((beta, sweeps, viol))
    (bc, sc, vc), (bn, sn, vn) = out
    assert sc == sn or abs(sc - sn) <= 1  # (rounding may cost a sweep)
    np.testing.assert_allclose(bc, bn, rtol=1e-9, atol=1e-10 * max(1.0, top))
    for beta, viol in ((bc, vc), (bn, vn)):
        assert viol <= tol
        assert violation(G, g, beta, l1, l2) <= 2 * tol


@given(seed=st.integers(0, 2**16), d=st.integers(2, 30), share=st.floats(0.1, 1.0))
def test_screening_changes_nothing_but_the_work(cython_kernels, seed, d, share):
    screened_path_is_plain_path(cython_kernels, seed, d, share)


@pytest.mark.parametrize(
    ("seed", "d", "share"), [(0, 2, 0.75), (1, 9, 1.0), (2, 14, 0.3)]
)
def test_numpy_twin_screening(numpy_kernels, seed, d, share):
    # (the twin is slow in Python: a few fixed paths; the compiled kernel
    # takes hypothesis' above, and the twins agree in test_twins_agree...)
    screened_path_is_plain_path(numpy_kernels, seed, d, share)


def screened_path_is_plain_path(kernels, seed, d, share):
    G, g = problem(seed, d, collinear=True)
    top = float(np.abs(g).max()) / share
    tol = 1e-10 * max(top, float(np.abs(G).max()))
    screened, plain = np.zeros(d), np.zeros(d)
    previous = 0.0
    for alpha in np.geomspace(top, top * 1e-3, 25):
        l1, l2 = alpha * share, alpha * (1 - share)
        _, v1 = kernels.gram_cd(G, g, screened, l1, l2, tol, 100_000, previous)
        _, v2 = kernels.gram_cd(G, g, plain, l1, l2, tol, 100_000)
        previous = l1
        assert v1 <= tol
        assert v2 <= tol
        assert violation(G, g, screened, l1, l2) <= 2 * tol
        # (the same optimum: along a near-collinear pair the coefficients
        # are only determined to tol / smallest eigenvalue, the value is not)
        assert objective(G, g, screened, l1, l2) == pytest.approx(
            objective(G, g, plain, l1, l2), rel=1e-9, abs=1e-12 * top
        )


def test_strong_rule_wrong_guess_is_corrected(kernels):
    # the rule drops j (|r_j| < 2 l1 - l1_prev), yet j belongs in the answer
    G = np.array([[1.0, -0.9], [-0.9, 1.0]])
    g = np.array([1.0, 0.0])
    beta = np.zeros(2)
    sweeps, viol = kernels.gram_cd(G, g, beta, 0.05, 0.0, 1e-13, 10_000, 1.0)
    assert viol <= 1e-13
    assert beta[1] > 0  # (the dropped coordinate came back)
    assert violation(G, g, beta, 0.05, 0.0) <= 1e-12
    assert sweeps > 0


def test_limits_and_refusals(kernels):
    G, g = problem(1, 4, False)
    beta = np.zeros(4)
    sweeps, viol = kernels.gram_cd(G, g, beta, 1e-3, 0.0, 0.0, 3)
    assert sweeps == 3
    assert viol > 0
    # a zero column (no ridge) stays at zero
    Z = G.copy()
    Z[2, :] = Z[:, 2] = 0.0
    beta = np.zeros(4)
    kernels.gram_cd(Z, g * [1, 1, 0, 1], beta, 1e-3, 0.0, 1e-12, 10_000)
    assert beta[2] == 0.0
    assert kernels.gram_cd(np.zeros((0, 0)), np.zeros(0), np.zeros(0), 1, 0, 0, 1) == (
        0,
        0.0,
    )
    with pytest.raises(ValueError, match="G must be"):
        kernels.gram_cd(G, g[:3], np.zeros(4), 1e-3, 0.0, 1e-9, 10)


@given(
    seed=st.integers(0, 2**16),
    d=st.integers(1, 15),
    log_cond=st.floats(0.0, 11.0),
    free=st.integers(0, 2),
)
def test_newton_lasso_model_is_exact(kernels, seed, d, log_cond, free):
    """The L1 Newton model's minimiser (feature-sign search after a few
    sweeps) satisfies the optimality conditions even when A is nearly
    singular, where coordinate descent alone crawls."""
    from fastlinreg._newton import _lasso_model

    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    A = np.ascontiguousarray((Q * np.geomspace(1.0, 10.0**-log_cond, d)) @ Q.T)
    A = 0.5 * (A + A.T)
    b = rng.normal(size=d)
    l1 = rng.uniform(0.0, 0.5, size=d)
    l1[: min(free, d)] = 0.0  # unpenalised coordinates (an intercept)
    u = _lasso_model(A, b, np.zeros(d), l1, kernels.gram_cd)
    r = b - A @ u
    viol = np.where(u != 0, np.abs(r - l1 * np.sign(u)), np.maximum(np.abs(r) - l1, 0))
    rounding = 1e-9 * (np.abs(A).max() * np.abs(u).sum() + np.abs(b).max())
    assert viol.max() <= rounding, (viol.max(), rounding)


@pytest.mark.parametrize("quantile", [0.5, 0.8])
def test_penalised_quantile_is_fast_and_at_highs_objective(quantile):
    """An L1-penalised quantile fit (its Newton models nearly singular) ends
    at QuantileRegressor's (HiGHS's exact) objective, in few iterations."""
    sklm = pytest.importorskip("sklearn.linear_model")
    from fastlinreg import LinearRegression

    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 20))
    y = X[:, :3] @ [1.0, 2.0, 3.0] + rng.standard_t(3, size=100)

    def objective(coef, intercept):
        r = y - X @ coef - intercept
        return (
            np.mean(np.maximum(quantile * r, (quantile - 1) * r))
            + 0.05 * np.abs(coef).sum()
        )

    ours = LinearRegression(
        loss="quantile", quantile=quantile, alpha=0.05, penalty="l1"
    )
    ours.fit(X, y)
    theirs = sklm.QuantileRegressor(quantile=quantile, alpha=0.05, solver="highs")
    theirs.fit(X, y)
    assert ours.converged_
    assert ours.n_iter_ < 200
    best = objective(theirs.coef_, theirs.intercept_)
    assert objective(ours.coef_, ours.intercept_) == pytest.approx(best, rel=1e-6)


@given(case=cases, seed=st.integers(0, 2**16))
def test_bounds_twins_agree_and_project(cython_kernels, numpy_kernels, case, seed):
    """Within bounds: both twins end at the same point, where the optimality
    conditions hold projected on the bounds (from the formula)."""
    _, d, collinear, share, rel = case
    G, g = problem(seed, d, collinear)
    rng = np.random.default_rng(seed + 1)
    lower = np.where(rng.uniform(size=d) < 0.5, rng.uniform(-0.3, 0.0, d), -np.inf)
    upper = np.where(rng.uniform(size=d) < 0.5, rng.uniform(0.0, 0.3, d), np.inf)
    top, l1, l2, tol = penalty_of(G, g, share, rel)
    out = []
    for kernels in (cython_kernels, numpy_kernels):
        beta = np.zeros(d)
        _, viol = kernels.gram_cd(
            G, g, beta, l1, l2, tol, 100_000, 0.0, None, lower, upper
        )
        assert viol <= tol
        assert np.all((beta >= lower) & (beta <= upper))
        out.append(beta)
    np.testing.assert_allclose(out[0], out[1], rtol=1e-7, atol=1e-8 * max(1.0, top))
    beta = out[0]
    grad = -(g - G @ beta) + l2 * beta
    s = np.where(
        beta != 0,
        grad + l1 * np.sign(beta),
        np.sign(grad) * np.maximum(np.abs(grad) - l1, 0),
    )
    s[((beta <= lower) & (s > 0)) | ((beta >= upper) & (s < 0))] = 0.0
    assert np.abs(s).max() <= 2 * tol
