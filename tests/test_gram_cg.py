"""``gram_cg``: conjugate gradients on sufficient statistics in one call.

The compiled kernel runs the loop of ``_solver.conjugate_gradient`` on the
objective of ``_numpy_kernels.GramObjective``; its NumPy twin *is* that loop.
They must take the same steps (to rounding), stop for the same reason, and reach the
least-squares answer; and the estimator must give the same fit through either.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import fastlinreg
from fastlinreg._stats import weighted_stats


class Case(NamedTuple):
    d: int
    fit_intercept: bool
    offset: str  # "mean", "zero" or "shifted": where the coordinates are centred
    seed: int
    log_scale: int


cases = st.builds(
    Case,
    d=st.integers(1, 12),
    fit_intercept=st.booleans(),
    offset=st.sampled_from(["mean", "zero", "shifted"]),
    seed=st.integers(0, 2**32 - 1),
    log_scale=st.integers(-3, 3),
)


def arguments(case: Case) -> tuple:
    """Statistics of a random well-conditioned problem, in its coordinates."""
    rng = np.random.default_rng(case.seed)
    d = case.d
    n = 4 * d + 10
    # Away from zero only where the coordinates centre it: otherwise that
    # would be a nearly constant column, an ill-conditioned problem.
    shift = 3.0 if case.fit_intercept and case.offset == "mean" else 0.0
    X = rng.standard_normal((n, d)) * 10.0**case.log_scale + shift
    y = X @ rng.uniform(-2, 2, d) + 1.5 + rng.standard_normal(n)
    stats = weighted_stats(X, y, None)
    var = stats.cov.diagonal() / stats.n
    offset = {
        "mean": stats.mean[:d].copy(),
        "zero": np.zeros(d),
        "shifted": stats.mean[:d] + rng.standard_normal(d) * np.sqrt(var[:d]),
    }[case.offset]
    scale = np.sqrt(var[:d])
    y_offset = float(stats.mean[d]) if case.fit_intercept else 0.0
    theta = rng.standard_normal(d + int(case.fit_intercept))
    return (stats, offset, scale, case.fit_intercept, y_offset, theta, X, y)


def run(kernels, args, *, gtol: float, max_iter: int):
    stats, offset, scale, fit_intercept, y_offset, theta0, *_ = args
    theta = theta0.copy()
    out = kernels.gram_cg(
        stats.cov,
        stats.mean,
        float(stats.n),
        offset,
        scale,
        fit_intercept,
        y_offset,
        theta,
        gtol,
        max_iter,
    )
    return theta, out


@given(case=cases, max_iter=st.integers(1, 3))
def test_first_steps_match(cython_kernels, numpy_kernels, case, max_iter):
    """The first steps (fewer than CG needs to solve the problem exactly, so
    nothing is at rounding level yet): the same iterates, losses and reason."""
    args = arguments(case)
    max_iter = max(1, min(max_iter, case.d + int(case.fit_intercept) - 1))
    theta_c, (it_c, ev_c, why_c, f_c, g_c, curve_c) = run(
        cython_kernels, args, gtol=0.0, max_iter=max_iter
    )
    theta_n, (it_n, ev_n, why_n, _f_n, g_n, curve_n) = run(
        numpy_kernels, args, gtol=0.0, max_iter=max_iter
    )
    if why_c != why_n:  # a gradient of exactly 0 (gtol = 0) against one of 1e-17
        assert {why_c, why_n} <= {"converged", "max_iter", "line_search_failed"}
        assert max(g_c, g_n) <= 1e-12 * (1.0 + curve_n[0])
    assert (it_c, ev_c) == (it_n, ev_n)
    assert len(curve_c) == it_c + 1
    scale = 1.0 + np.abs(theta_n).max()
    np.testing.assert_allclose(theta_c, theta_n, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(curve_c, curve_n, rtol=1e-9, atol=1e-12 * curve_n[0])
    assert f_c == curve_c[-1]
    np.testing.assert_allclose(g_c, g_n, rtol=1e-6, atol=1e-9 * scale)


@given(case=cases)
def test_converges_to_least_squares(cython_kernels, numpy_kernels, case):
    """Run to convergence: both reach the least-squares coefficients (in the
    coordinates the estimator uses: centred on the means with an intercept,
    not shifted without one)."""
    offset = "mean" if case.fit_intercept else "zero"
    args = arguments(case._replace(offset=offset))
    _stats, offset, scale, fit_intercept, y_offset, _, X, y = args
    A = np.column_stack([X, np.ones(len(y))]) if fit_intercept else X
    want, *_ = np.linalg.lstsq(A, y, rcond=None)
    for kernels in (cython_kernels, numpy_kernels):
        theta, (_n_iter, _, why, _, gnorm, curve) = run(
            kernels, args, gtol=1e-9, max_iter=500
        )
        assert why == "converged", (kernels.__name__, why, gnorm)
        assert gnorm <= 1e-9
        coef = theta[: case.d] / scale
        np.testing.assert_allclose(coef, want[: case.d], rtol=1e-6, atol=1e-9)
        if fit_intercept:
            b = y_offset + theta[-1] - coef @ offset
            np.testing.assert_allclose(b, want[-1], rtol=1e-6, atol=1e-6)
        assert np.all(np.diff(curve) <= 1e-12 * curve[0])  # never goes up


@pytest.mark.parametrize("start", [1e308, np.inf, np.nan])
def test_non_finite_objective_diverges(kernels, start):
    args = list(arguments(Case(3, True, "mean", 0, 0)))
    args[5] = np.full(4, start)
    _theta, (n_iter, _, why, f, _, curve) = run(kernels, args, gtol=0.0, max_iter=10)
    assert (why, n_iter, len(curve)) == ("diverged", 0, 1)
    assert not np.isfinite(f)


def test_bad_shapes_are_refused(kernels):
    stats, offset, scale, _fit_intercept, _y_offset, theta, *_ = arguments(
        Case(3, True, "mean", 0, 0)
    )
    with pytest.raises(ValueError, match="shapes"):
        kernels.gram_cg(
            stats.cov, stats.mean, 1.0, offset, scale, True, 0.0, theta[:3], 0.0, 5
        )
    with pytest.raises(ValueError, match="shapes"):
        kernels.gram_cg(
            stats.cov[:3, :3].copy(),
            stats.mean,
            1.0,
            offset,
            scale,
            True,
            0.0,
            theta,
            0.0,
            5,
        )


@pytest.mark.parametrize("d", [1, 5, 64, 65])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_estimator_same_fit_through_either_backend(d, fit_intercept):
    """Up to 64 features the estimator runs gram_cg; beyond, the Python loop.
    Either way the two backends agree and the monitor sees the same steps."""
    rng = np.random.default_rng(d)
    # Far from zero with an intercept (centring makes it well-conditioned).
    X = rng.standard_normal((20 * d + 50, d)) + (5.0 if fit_intercept else 0.0)
    y = X @ rng.standard_normal(d) + rng.standard_normal(X.shape[0])
    fits = {
        backend: fastlinreg.LinearRegression(
            backend=backend, fit_intercept=fit_intercept
        ).fit(X, y)
        for backend in ("cython", "numpy")
    }
    a, b = fits["cython"], fits["numpy"]
    assert a.solver_ == b.solver_ == "cg"
    assert a.converged_
    assert b.converged_
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(a.intercept_, b.intercept_, rtol=1e-9, atol=1e-12)
    assert a.n_iter_ == b.n_iter_
    np.testing.assert_allclose(a.loss_curve_, b.loss_curve_, rtol=1e-9)
    # With a callback the Python loop runs: the same iterations again.
    seen = []
    c = fastlinreg.LinearRegression(
        fit_intercept=fit_intercept, callback=lambda info: seen.append(info.loss)
    ).fit(X, y)
    assert c.n_iter_ == a.n_iter_
    np.testing.assert_allclose(c.loss_curve_, a.loss_curve_, rtol=1e-9)
