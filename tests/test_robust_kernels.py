"""robust_loss_gradient: Cython against its NumPy twin and against the formulas.

Every test runs over both kernel modules (``kernels`` fixture) or compares them
(``cython_kernels`` vs ``numpy_kernels``). Hypothesis draws shapes, dtypes,
losses and their parameters; explicit tests cover inputs long enough for
several row chunks, finite differences of the value and the gradient, the
smoothing's bounds and continuity, weights, thread-count invariance and
read-only input.
"""

from __future__ import annotations

import warnings
from types import ModuleType, SimpleNamespace
from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

SQUARED, ABSOLUTE, HUBER, QUANTILE, EPS_INSENSITIVE = range(5)
LOSSES = (SQUARED, ABSOLUTE, HUBER, QUANTILE, EPS_INSENSITIVE)
NON_SMOOTH = (ABSOLUTE, QUANTILE, EPS_INSENSITIVE)
DTYPES = (np.float32, np.float64)
WEIGHTS = ("none", "real", "int")
RTOL = 1e-10
NO_WEIGHTS = np.empty(0)


class Problem(NamedTuple):
    """What hypothesis draws; :func:`make` turns it into data."""

    n: int
    d: int
    x_dtype: type
    y_dtype: type
    seed: int
    loss: int
    weights: str  # "none" (length-0 array), "real" (some zero), "int"
    hessian: bool
    smooth: bool  # h > 0 (ignored by the squared and Huber losses)
    centred: bool  # nonzero x_offset and y_offset


problems = st.builds(
    Problem,
    n=st.integers(1, 2000),
    d=st.integers(1, 20),
    x_dtype=st.sampled_from(DTYPES),
    y_dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**32 - 1),
    loss=st.sampled_from(LOSSES),
    weights=st.sampled_from(WEIGHTS),
    hessian=st.booleans(),
    smooth=st.booleans(),
    centred=st.booleans(),
)

# Edge shapes hypothesis might not reach: every loss, smoothed or not.
EDGE_EXAMPLES = [
    Problem(n, d, np.float64, np.float32, 1, loss, "real", True, smooth, True)
    for n, d in [(1, 1), (2, 1), (3, 20), (257, 4)]
    for loss in LOSSES
    for smooth in (False, True)
]


def with_edge_examples(test):
    for p in EDGE_EXAMPLES:
        test = example(p=p)(test)
    return test


def make(p: Problem) -> SimpleNamespace:
    """Data and loss parameters for a drawn problem (residuals of spread ~2)."""
    rng = np.random.default_rng(p.seed)
    X = (1.0 + rng.standard_normal((p.n, p.d)) * rng.uniform(0.5, 2.0, p.d)).astype(
        p.x_dtype
    )
    y = (rng.uniform(-3, 3) + 2.0 * rng.standard_normal(p.n)).astype(p.y_dtype)
    if p.weights == "none":
        w = NO_WEIGHTS
    elif p.weights == "int":
        w = rng.integers(0, 4, p.n).astype(np.float64)
    else:
        w = rng.uniform(0.0, 3.0, p.n) * (rng.uniform(size=p.n) > 0.1)
    epsilon = float(rng.uniform(0.2, 3.0))
    if not p.smooth:
        h = 0.0
    elif p.loss == EPS_INSENSITIVE:
        h = float(rng.uniform(0.05, 3.0)) * epsilon  # the bands may overlap
    else:
        h = float(rng.uniform(0.01, 3.0))
    return SimpleNamespace(
        X=X,
        y=y,
        w=w,
        coef=rng.standard_normal(p.d) * 0.5 / np.sqrt(p.d),
        b=float(rng.standard_normal()),
        off=rng.standard_normal(p.d) if p.centred else np.zeros(p.d),
        yo=float(rng.standard_normal()) if p.centred else 0.0,
        loss=p.loss,
        epsilon=epsilon,
        q=float(rng.uniform(0.02, 0.98)),
        h=h,
    )


def run(
    kernels: ModuleType, a: SimpleNamespace, hessian: bool = True, n_threads: int = 2
) -> SimpleNamespace:
    """The kernel's outputs on ``a``: value, exact, grad, grad_b, hess (or None)."""
    d = a.X.shape[1]
    grad = np.full(d, np.nan)
    hess = np.full((d + 1, d + 1), np.nan) if hessian else np.empty((0, 0))
    value, grad_b, exact = kernels.robust_loss_gradient(
        a.X,
        a.y,
        a.w,
        np.ascontiguousarray(a.coef, dtype=np.float64),
        float(a.b),
        np.ascontiguousarray(a.off, dtype=np.float64),
        float(a.yo),
        a.loss,
        a.epsilon,
        a.q,
        a.h,
        grad,
        hess,
        n_threads,
    )
    assert isinstance(value, float)
    assert isinstance(grad_b, float)
    assert isinstance(exact, float)
    return SimpleNamespace(
        value=value,
        exact=exact,
        grad=grad,
        grad_b=grad_b,
        hess=hess if hessian else None,
    )


# --------------------------------------------------------------------------
# The formulas, per row on the whole arrays
# --------------------------------------------------------------------------


def per_row(
    r: np.ndarray, loss: int, eps: float, q: float, h: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(ℓ, ℓ_h, ψ, ℓ_h'')`` of each residual, from the definitions."""
    a = np.abs(r)
    s = np.sign(r)
    zero = np.zeros_like(r)
    if loss == SQUARED:
        return r**2, r**2, 2 * r, np.full_like(r, 2.0)
    if loss == HUBER:
        inside = a <= eps
        huber = np.where(inside, r**2 / 2, eps * a - eps**2 / 2)
        return huber, huber, np.where(inside, r, eps * s), inside * 1.0
    if loss == ABSOLUTE:
        if h == 0:
            return a, a, s, zero
        inside = a <= h
        smooth = np.where(inside, r**2 / (2 * h) + h / 2, a)
        return a, smooth, np.where(inside, r / h, s), inside / h
    if loss == QUANTILE:
        pinball = np.where(r >= 0, q * r, (q - 1) * r)
        if h == 0:
            psi = np.where(r > 0, q, np.where(r < 0, q - 1, q - 0.5))
            return pinball, pinball, psi, zero
        inside = a <= h
        smooth = np.where(inside, r**2 / (4 * h) + (q - 0.5) * r + h / 4, pinball)
        psi = np.where(inside, r / (2 * h) + q - 0.5, np.where(r > h, q, q - 1))
        return pinball, smooth, psi, inside / (2 * h)
    u = a - eps
    hinge = np.maximum(0.0, u)
    if h == 0:
        return hinge, hinge, np.where(a > eps, s, 0.0), zero
    # max(0, r − ε) + max(0, −r − ε): each hinge max(0, v) smoothed alone
    smooth, psi, curv = zero.copy(), zero.copy(), zero.copy()
    for sign in (1.0, -1.0):
        v = sign * r - eps
        inside = np.abs(v) <= h
        smooth += np.where(v < -h, 0.0, np.where(v > h, v, (v + h) ** 2 / (4 * h)))
        psi += sign * np.where(inside, (v + h) / (2 * h), np.where(v > h, 1.0, 0.0))
        curv += inside / (2 * h)
    return hinge, smooth, psi, curv


def reference(a: SimpleNamespace) -> SimpleNamespace:
    """The sums from :func:`per_row` in float64, with the scales of their rounding.

    ``E = |y - yo| + |b| + |X - off| @ |coef|`` bounds ``|r|`` and its rounding
    error (relative), so the kernels' rounding of ``r`` moves ``ℓ`` by up to
    ``slope·E`` and ``ψ`` by up to ``ℓ''·E`` (times the machine epsilon); the
    sums add ``|ℓ|``, ``|ψ z|``, ``ℓ'' |z zᵀ|``.
    """
    Xc = np.asarray(a.X, dtype=np.float64) - a.off
    yc = np.asarray(a.y, dtype=np.float64) - a.yo
    n, d = Xc.shape
    w = np.ones(n) if a.w.size == 0 else a.w
    Z = np.column_stack([Xc, np.ones(n)])
    r = yc - a.b - Xc @ a.coef
    exact, smooth, psi, curv = per_row(r, a.loss, a.epsilon, a.q, a.h)
    big_e = np.abs(yc) + abs(a.b) + np.abs(Xc) @ np.abs(a.coef)
    slope = {SQUARED: 2 * big_e, HUBER: a.epsilon}.get(a.loss, 1.0)
    aw = np.abs(w)
    gscale = (aw * (np.abs(psi) + slope + curv * big_e)) @ np.abs(Z)
    return SimpleNamespace(
        value=float(w @ smooth),
        exact=float(w @ exact),
        grad=-(w * psi) @ Xc,
        grad_b=-float(w @ psi),
        hess=Z.T @ ((w * curv)[:, None] * Z),
        value_scale=float(aw @ (np.abs(smooth) + np.abs(exact) + slope * big_e)),
        grad_scale=gscale[:d],
        grad_b_scale=float(gscale[d]),
        hess_scale=np.abs(Z).T @ ((aw * curv)[:, None] * np.abs(Z)),
        r=r,
        psi=psi,
        curv=curv,
        Z=Z,
    )


def assert_close(got: SimpleNamespace, want: SimpleNamespace, rtol: float = RTOL):
    """``got`` matches ``want`` to ``rtol`` relative to ``want``'s scales."""
    tiny = 1e-300
    assert abs(got.value - want.value) <= rtol * want.value_scale + tiny, (
        got.value,
        want.value,
    )
    assert abs(got.exact - want.exact) <= rtol * want.value_scale + tiny, (
        got.exact,
        want.exact,
    )
    assert abs(got.grad_b - want.grad_b) <= rtol * want.grad_b_scale + tiny, (
        got.grad_b,
        want.grad_b,
    )
    assert np.all(np.abs(got.grad - want.grad) <= rtol * want.grad_scale + tiny), (
        got.grad,
        want.grad,
    )
    if got.hess is not None:
        assert np.array_equal(got.hess, got.hess.T)
        err = np.abs(got.hess - want.hess)
        assert np.all(err <= rtol * want.hess_scale + tiny), (got.hess, want.hess)


def assert_identical(a: SimpleNamespace, b: SimpleNamespace) -> None:
    assert a.value == b.value
    assert a.exact == b.exact
    assert a.grad_b == b.grad_b
    assert np.array_equal(a.grad, b.grad)
    assert (a.hess is None) == (b.hess is None)
    if a.hess is not None:
        assert np.array_equal(a.hess, b.hess)


# --------------------------------------------------------------------------
# Against the formulas, and Cython against NumPy
# --------------------------------------------------------------------------


@with_edge_examples
@given(p=problems)
def test_matches_formula(kernels, p):
    a = make(p)
    got = run(kernels, a, hessian=p.hessian)
    want = reference(a)
    assert_close(got, want)
    if p.loss in (SQUARED, HUBER) or a.h == 0.0:
        assert got.value == got.exact
    else:  # ℓ_h ≥ ℓ
        assert got.value >= got.exact - RTOL * want.value_scale


@with_edge_examples
@given(p=problems)
def test_cython_matches_numpy(cython_kernels, numpy_kernels, p):
    a = make(p)
    got_c = run(cython_kernels, a, hessian=p.hessian, n_threads=2)
    got_n = run(numpy_kernels, a, hessian=p.hessian, n_threads=2)
    # The NumPy result plays the reference; the formula's scales bound rounding.
    want = reference(a)
    for name in ("value", "exact", "grad", "grad_b", "hess"):
        setattr(want, name, getattr(got_n, name))
    assert_close(got_c, want)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("x_dtype", DTYPES)
@pytest.mark.parametrize("y_dtype", DTYPES)
def test_several_chunks(cython_kernels, numpy_kernels, loss, x_dtype, y_dtype):
    """n > 2·8192, not a multiple of the block: the Cython kernel cuts chunks."""
    n = 2 * 8192 + 4099
    assert cython_kernels.n_chunks_for(n) >= 2
    for d, weights in [(7, "real"), (1, "none")]:
        p = Problem(n, d, x_dtype, y_dtype, 5 + d, loss, weights, True, True, True)
        a = make(p)
        want = reference(a)
        for kern in (cython_kernels, numpy_kernels):
            assert_close(run(kern, a, n_threads=2), want)
            assert_close(run(kern, a, hessian=False, n_threads=3), want)


def test_known_values(kernels):
    """Residuals [1, -2, 0.5] with weights [1, 2, 4], small enough to do by hand."""
    X = np.zeros((3, 1))
    y = np.array([1.0, -2.0, 0.5])
    a = SimpleNamespace(
        X=X, y=y, w=np.array([1.0, 2.0, 4.0]), coef=np.zeros(1), b=0.0,
        off=np.zeros(1), yo=0.0, loss=QUANTILE, epsilon=0.0, q=0.25, h=1.0,
    )  # fmt: skip
    got = run(kernels, a)
    # pinball: 0.25, 0.75·2, 0.25·0.5 -> 1·0.25 + 2·1.5 + 4·0.125 = 3.75
    # smoothed: r = 1 on the band's edge (0.25), r = 0.5 inside:
    #   0.25/4 - 0.25·0.5 + 0.25 = 0.1875 -> 0.25 + 3 + 0.75 = 4.0
    assert got.exact == pytest.approx(3.75, rel=1e-15)
    assert got.value == pytest.approx(4.0, rel=1e-15)
    # ψ: 0.25, -0.75, 0.5/2 - 0.25 = 0 -> -(0.25 - 1.5 + 0) = 1.25
    assert got.grad_b == pytest.approx(1.25, rel=1e-15)
    assert got.grad[0] == 0.0
    # ℓ'' = 1/(2h) for r = 1 (edge, in the band) and r = 0.5: (1 + 4)·0.5
    assert got.hess[1, 1] == pytest.approx(2.5, rel=1e-15)


# --------------------------------------------------------------------------
# Finite differences
# --------------------------------------------------------------------------


def _kinks(loss: int, eps: float, h: float) -> list[float]:
    """The |r| where ℓ_h or its derivative is not smooth (ℓ_h'' jumps)."""
    if loss == SQUARED:
        return []
    if loss == HUBER:
        return [eps]
    if loss in (ABSOLUTE, QUANTILE):
        return [h]
    return [eps - h, eps + h] if h > 0 else [eps]


FD_CASES = [
    (SQUARED, 0.0, 0.0),
    (HUBER, 1.0, 0.0),
    (ABSOLUTE, 0.0, 1.5),
    (QUANTILE, 0.0, 1.5),
    (EPS_INSENSITIVE, 2.0, 1.0),
    # unsmoothed, piecewise linear: ψ is the slope, the Hessian zero
    (ABSOLUTE, 0.0, 0.0),
    (QUANTILE, 0.0, 0.0),
    (EPS_INSENSITIVE, 1.0, 0.0),
]


@pytest.mark.parametrize(("loss", "eps", "h"), FD_CASES)
@pytest.mark.parametrize("seed", [0, 1])
def test_finite_differences(kernels, loss, eps, h, seed):
    """ℓ_h is piecewise quadratic: a central difference whose step moves no
    residual across a kink is exact, up to rounding, for the value's gradient
    and for the gradient's Jacobian (the Hessian)."""
    p = Problem(300, 3, np.float64, np.float64, seed, loss, "real", True, True, True)
    a = make(p)
    a.epsilon, a.h = eps, h
    ref = reference(a)
    kinks = _kinks(loss, eps, h)
    zmax = float(np.abs(ref.Z).max())
    dist = min((float(np.abs(np.abs(ref.r) - k).min()) for k in kinks), default=1.0)
    step = min(1e-2, 0.25 * dist / zmax)
    theta = np.append(a.coef, a.b)

    def at(t: np.ndarray) -> SimpleNamespace:
        a.coef, a.b = t[:-1], float(t[-1])
        return run(kernels, a)

    base = at(theta)
    g = np.append(base.grad, base.grad_b)
    if h == 0.0 and loss in NON_SMOOTH:
        assert np.all(base.hess == 0.0)
    # The gradient's rounding, and that of the value divided by the step.
    g_tol = 1e-9 * np.append(ref.grad_scale, ref.grad_b_scale) + 1e-13 * (
        ref.value_scale / step
    )
    h_tol = 1e-9 * ref.hess_scale + 1e-13 * np.max(g_tol) / step
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = step
        plus, minus = at(theta + e), at(theta - e)
        fd = (plus.value - minus.value) / (2 * step)
        assert abs(fd - g[j]) <= g_tol[j], (j, fd, g[j])
        fd_g = np.append(plus.grad, plus.grad_b) - np.append(minus.grad, minus.grad_b)
        fd_g /= 2 * step
        assert np.all(np.abs(fd_g - base.hess[:, j]) <= h_tol[:, j]), (j, fd_g)


# --------------------------------------------------------------------------
# The smoothing
# --------------------------------------------------------------------------


def _one(kernels, r: float, loss: int, eps: float, q: float, h: float):
    """(ℓ_h, ℓ, ψ, ℓ'') of a single residual r."""
    a = SimpleNamespace(
        X=np.zeros((1, 1)), y=np.array([r]), w=NO_WEIGHTS, coef=np.zeros(1),
        b=0.0, off=np.zeros(1), yo=0.0, loss=loss, epsilon=eps, q=q, h=h,
    )  # fmt: skip
    got = run(kernels, a)
    return got.value, got.exact, -got.grad_b, got.hess[1, 1]


@given(
    r=st.floats(-20, 20),
    h=st.floats(1e-3, 5),
    q=st.floats(0.01, 0.99),
    eps_over_h=st.floats(1, 5),
)
def test_smoothing_bounds(kernels, r, h, q, eps_over_h):
    """ℓ ≤ ℓ_h ≤ ℓ + h/2 (absolute), ℓ + h/4 (pinball, epsilon-insensitive)."""
    slack = 1e-12 * (abs(r) + h)
    eps = eps_over_h * h
    for loss, gap in [(ABSOLUTE, h / 2), (QUANTILE, h / 4), (EPS_INSENSITIVE, h / 4)]:
        smooth, exact, psi, _ = _one(kernels, r, loss, eps, q, h)
        assert exact == pytest.approx(per_row(np.array([r]), loss, eps, q, 0)[0][0])
        assert exact - slack <= smooth <= exact + gap + slack, (loss, r, smooth)
        assert abs(psi) <= 1.0 + 1e-15


@pytest.mark.parametrize("loss", NON_SMOOTH)
def test_smoothing_continuous_at_band_edges(kernels, loss):
    h, eps, q = 0.25, 1.5, 0.2  # edges exact in binary: ±0.25, 1.25, 1.75
    edges = [h, -h] if loss != EPS_INSENSITIVE else [eps - h, eps + h, -eps + h]
    delta = 1e-9
    for edge in edges:
        lo = _one(kernels, edge - delta, loss, eps, q, h)
        at = _one(kernels, edge, loss, eps, q, h)
        hi = _one(kernels, edge + delta, loss, eps, q, h)
        for k in (0, 2):  # the value and ψ
            assert abs(hi[k] - lo[k]) <= 10 * delta, (edge, k, lo, hi)
            assert abs(at[k] - lo[k]) <= 10 * delta, (edge, k, lo, at)
        # The edge belongs to the band: curvature there, none just outside.
        assert at[3] > 0.0
        assert (lo[3] > 0.0) != (hi[3] > 0.0)
    # The smoothed loss approaches the loss as h -> 0.
    for r in (-1.0, -0.01, 0.0, 0.02, 2.0):
        smooth, exact, *_ = _one(kernels, r, loss, eps, q, 1e-6)
        assert abs(smooth - exact) <= 1e-6


def test_epsilon_insensitive_bands_meeting_and_overlapping(kernels):
    """h = ε: both hinges' bands end at r = 0 (edges included: ℓ'' = 2·1/(2h));
    h > ε: they overlap and the sum stays smooth, symmetric and convex."""
    smooth, exact, psi, curv = _one(kernels, 0.0, EPS_INSENSITIVE, 0.5, 0.5, 0.5)
    assert (smooth, exact, psi, curv) == (0.0, 0.0, 0.0, 2.0)
    h, eps = 1.0, 0.25
    smooth, exact, psi, curv = _one(kernels, 0.0, EPS_INSENSITIVE, eps, 0.5, h)
    assert exact == 0.0
    assert psi == 0.0
    assert smooth == pytest.approx(2 * (h - eps) ** 2 / (4 * h))
    assert curv == pytest.approx(1.0 / h)
    for r in (0.1, 0.7, 1.3):
        plus = _one(kernels, r, EPS_INSENSITIVE, eps, 0.5, h)
        minus = _one(kernels, -r, EPS_INSENSITIVE, eps, 0.5, h)
        assert plus[0] == pytest.approx(minus[0])
        assert plus[2] == -minus[2] > 0


def test_smoothing_ignored_by_smooth_losses(kernels):
    a = make(
        Problem(500, 3, np.float64, np.float64, 3, SQUARED, "real", True, False, True)
    )
    for loss in (SQUARED, HUBER):
        a.loss, a.h = loss, 0.0
        plain = run(kernels, a)
        a.h = 0.7
        assert_identical(run(kernels, a), plain)


def test_huge_epsilon_and_tiny_smoothing_stay_finite(kernels):
    """The extremes a continuation passes: Huber with ε = 1e300 is half the
    squared loss; a band of half-width 1e-300 is the unsmoothed loss. No
    overflow, and no warning (pytest turns RuntimeWarnings into errors)."""
    a = make(
        Problem(400, 2, np.float64, np.float64, 4, HUBER, "real", True, False, True)
    )
    a.epsilon = 1e300
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        huber = run(kernels, a)
        a.loss = SQUARED
        sq = run(kernels, a)
        assert huber.value == pytest.approx(sq.value / 2, rel=1e-13)
        np.testing.assert_allclose(huber.grad, sq.grad / 2, rtol=1e-12)
        np.testing.assert_allclose(huber.hess, sq.hess / 2, rtol=1e-13)
        for loss in NON_SMOOTH:
            a.loss, a.epsilon, a.h = loss, 0.5, 1e-300
            tiny = run(kernels, a)
            a.h = 0.0
            exact = run(kernels, a)
            assert tiny.value == pytest.approx(exact.value, rel=1e-14)
            np.testing.assert_allclose(tiny.grad, exact.grad, rtol=1e-12)
            assert np.all(np.isfinite(tiny.hess))


# --------------------------------------------------------------------------
# Weights
# --------------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
def test_integer_weights_repeat_rows(kernels, loss):
    a = make(Problem(3000, 4, np.float32, np.float64, 8, loss, "int", True, True, True))
    a.w[0] = 3.0  # not all zero
    counts = a.w.astype(np.intp)
    rep = SimpleNamespace(**vars(a))
    rep.X = np.repeat(a.X, counts, axis=0)
    rep.y = np.repeat(a.y, counts)
    rep.w = NO_WEIGHTS
    assert_close(run(kernels, a), reference(rep), rtol=1e-12)
    assert_close(run(kernels, rep), reference(a), rtol=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
def test_zero_weights_remove_rows(kernels, loss):
    a = make(
        Problem(3000, 4, np.float64, np.float32, 9, loss, "real", True, True, True)
    )
    keep = np.random.default_rng(0).uniform(size=a.X.shape[0]) < 0.6
    a.w = keep * 1.0
    kept = SimpleNamespace(**vars(a))
    kept.X, kept.y, kept.w = a.X[keep], a.y[keep], NO_WEIGHTS
    assert_close(run(kernels, a), reference(kept), rtol=1e-12)
    assert_close(run(kernels, kept), reference(a), rtol=1e-12)


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("x_dtype", DTYPES)
def test_empty_weights_are_ones(kernels, loss, x_dtype):
    n = 2 * 8192 + 11
    a = make(Problem(n, 3, x_dtype, np.float64, 10, loss, "none", True, True, True))
    unweighted = run(kernels, a)
    a.w = np.ones(n)
    assert_identical(run(kernels, a), unweighted)


# --------------------------------------------------------------------------
# Threads, read-only input, memory, arguments
# --------------------------------------------------------------------------


@pytest.mark.parametrize("loss", LOSSES)
def test_cython_bitwise_identical_for_any_thread_count(cython_kernels, loss):
    n = 100_000
    assert cython_kernels.n_chunks_for(n) > 8
    a = make(Problem(n, 5, np.float64, np.float32, 12, loss, "real", True, True, True))
    first = run(cython_kernels, a, n_threads=1)
    for t in (2, 3, 8):
        assert_identical(run(cython_kernels, a, n_threads=t), first)


@pytest.mark.parametrize("x_dtype", DTYPES)
def test_readonly_input(kernels, x_dtype):
    a = make(
        Problem(20_000, 4, x_dtype, np.float64, 13, QUANTILE, "real", True, True, True)
    )
    want = run(kernels, a)
    for name in ("X", "y", "w", "coef", "off"):
        arr = np.array(getattr(a, name), dtype=np.float64 if name != "X" else x_dtype)
        arr.setflags(write=False)
        setattr(a, name, arr)
    assert_identical(run(kernels, a), want)


def test_no_copy_of_the_input(kernels, ref):
    """Nothing proportional to n: a copy of X would be traced at X.nbytes."""
    n = 400_000
    a = make(Problem(n, 8, np.float64, np.float64, 14, HUBER, "real", True, True, True))
    peak = ref.peak_traced_memory(lambda: run(kernels, a))
    assert peak < a.X.nbytes / 2


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"loss": 5}, "loss code"),
        ({"loss": -1}, "loss code"),
        ({"w": np.ones(3)}, "sample_weight"),
        ({"hess": np.empty((2, 2))}, "hessian"),
        ({"loss": QUANTILE, "q": 1.0}, "quantile"),
        ({"loss": HUBER, "epsilon": -1.0}, "epsilon"),
        ({"loss": ABSOLUTE, "h": -0.5}, "smoothing"),
        ({"loss": EPS_INSENSITIVE, "h": float("nan")}, "smoothing"),
    ],
)
def test_bad_arguments(kernels, change, match):
    X, y = np.ones((4, 2)), np.ones(4)
    args = {"w": NO_WEIGHTS, "loss": 0, "epsilon": 1.0, "q": 0.5, "h": 0.0}
    args["hess"] = np.empty((3, 3))
    args.update(change)
    with pytest.raises(ValueError, match=match):
        kernels.robust_loss_gradient(
            X, y, args["w"], np.zeros(2), 0.0, np.zeros(2), 0.0, args["loss"],
            args["epsilon"], args["q"], args["h"], np.empty(2), args["hess"], 1,
        )  # fmt: skip


def test_kernel_modules_are_twins(cython_kernels, numpy_kernels):
    assert callable(cython_kernels.robust_loss_gradient)
    assert callable(numpy_kernels.robust_loss_gradient)
    assert "robust_loss_gradient" in numpy_kernels.__all__
