"""The kernels: Cython against its NumPy twin and against the formulas.

Every test runs over both kernel modules (``kernels`` fixture) or compares them
(``cython_kernels`` vs ``numpy_kernels``). Shapes, dtypes and values come from
hypothesis; explicit tests cover inputs long enough for several row chunks,
thread-count invariance, read-only and memory-mapped input, and moments of data
far from zero.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

RTOL = 1e-12
DTYPES = (np.float32, np.float64)


class Problem(NamedTuple):
    """What hypothesis draws; :func:`arrays` turns it into data."""

    n: int
    d: int
    x_dtype: type
    y_dtype: type
    seed: int
    log_scale: int  # features are ~ 10**log_scale
    loc: float  # ... around loc * 10**log_scale
    centred: bool  # nonzero x_offset


problems = st.builds(
    Problem,
    n=st.integers(1, 3000),
    d=st.integers(1, 40),
    x_dtype=st.sampled_from(DTYPES),
    y_dtype=st.sampled_from(DTYPES),
    seed=st.integers(0, 2**32 - 1),
    log_scale=st.integers(-3, 3),
    loc=st.sampled_from([0.0, 1.0, -20.0]),
    centred=st.booleans(),
)

# Edge shapes hypothesis might not reach, in all four dtype combinations.
EDGE_EXAMPLES = [
    Problem(n, d, xt, yt, 0, 0, 1.0, True)
    for n, d in [(1, 1), (3, 1), (5, 5), (3000, 40), (4097, 7)]
    for xt in DTYPES
    for yt in DTYPES
]


def with_edge_examples(test):
    for p in EDGE_EXAMPLES:
        test = example(p=p)(test)
    return test


def arrays(p: Problem):
    """``(X, y, coef, intercept, x_offset)`` for a drawn problem."""
    rng = np.random.default_rng(p.seed)
    scale = 10.0**p.log_scale
    X = (p.loc * scale + scale * rng.standard_normal((p.n, p.d))).astype(p.x_dtype)
    y = (rng.uniform(-5, 5) + 3.0 * rng.standard_normal(p.n)).astype(p.y_dtype)
    coef = rng.standard_normal(p.d) / scale
    intercept = float(rng.standard_normal())
    offset = (p.loc + rng.standard_normal(p.d)) * scale if p.centred else np.zeros(p.d)
    return X, y, coef, intercept, offset


def assert_moments_close(got, want, X, y, rtol=RTOL):
    """Means relative to mean |x|, m2 relative to the uncentred sum of squares."""
    cols = np.column_stack([X.astype(np.float64), y.astype(np.float64)])
    mean_scale = np.abs(cols).mean(axis=0)
    m2_scale = (cols**2).sum(axis=0)
    np.testing.assert_array_less(np.abs(got[0] - want[0]), rtol * mean_scale + 1e-300)
    np.testing.assert_array_less(np.abs(got[1] - want[1]), rtol * m2_scale + 1e-300)


# --------------------------------------------------------------------------
# Each kernel against the formulas
# --------------------------------------------------------------------------


@with_edge_examples
@given(p=problems)
def test_loss_gradient_matches_formula(kernels, ref, p):
    X, y, coef, b, off = arrays(p)
    got = ref.run_loss_gradient(kernels, X, y, coef, b, off, n_threads=2)
    ref.assert_loss_gradient_close(got, ref.loss_gradient(X, y, coef, b, off), RTOL)
    # With a y offset (the estimator passes mean(y)), e = (y - y_offset) - b - ...
    yo = float(np.mean(y, dtype=np.float64)) if p.centred else 0.0
    got = ref.run_loss_gradient(kernels, X, y, coef, b, off, n_threads=2, y_offset=yo)
    want = ref.loss_gradient(X, y, coef, b, off, y_offset=yo)
    ref.assert_loss_gradient_close(got, want, RTOL)


@with_edge_examples
@given(p=problems)
def test_moments_match_formula(kernels, ref, p):
    X, y, *_ = arrays(p)
    got = ref.run_moments(kernels, X, y, n_threads=2)
    assert_moments_close(got, ref.moments(X, y), X, y)


def test_loss_gradient_known_values(kernels, ref):
    """A problem small enough to check by hand."""
    X = np.array([[1.0, 2.0], [3.0, 5.0], [-1.0, 0.5]])
    y = np.array([1.0, -2.0, 4.0])
    coef, b, off = np.array([0.5, -1.0]), 0.25, np.array([1.0, 2.0])
    # X - off = [[0, 0], [2, 3], [-2, -1.5]]; e = y - b - (X - off) @ w
    e = np.array([0.75, -0.25, 3.25])
    loss, grad, grad_b = ref.run_loss_gradient(kernels, X, y, coef, b, off)
    assert loss == pytest.approx(float(e @ e) / 3, rel=1e-15)
    assert grad_b == pytest.approx(-2 * e.mean(), rel=1e-15)
    np.testing.assert_allclose(
        grad, -2 * (np.array([[0, 0], [2, 3], [-2, -1.5]]).T @ e) / 3, rtol=1e-15
    )


# --------------------------------------------------------------------------
# Cython against NumPy
# --------------------------------------------------------------------------


@with_edge_examples
@given(p=problems)
def test_cython_matches_numpy_loss_gradient(cython_kernels, numpy_kernels, ref, p):
    X, y, coef, b, off = arrays(p)
    got_c = ref.run_loss_gradient(cython_kernels, X, y, coef, b, off, n_threads=2)
    got_n = ref.run_loss_gradient(numpy_kernels, X, y, coef, b, off, n_threads=2)
    # The NumPy result plays the reference; the formula's scales bound the rounding.
    want = ref.loss_gradient(X, y, coef, b, off)
    want.loss, want.grad, want.grad_b = got_n
    ref.assert_loss_gradient_close(got_c, want, RTOL)


@with_edge_examples
@given(p=problems)
def test_cython_matches_numpy_moments(cython_kernels, numpy_kernels, ref, p):
    X, y, *_ = arrays(p)
    got_c = ref.run_moments(cython_kernels, X, y, n_threads=2)
    got_n = ref.run_moments(numpy_kernels, X, y, n_threads=2)
    assert_moments_close(got_c, got_n, X, y)


@pytest.mark.parametrize("x_dtype", DTYPES)
@pytest.mark.parametrize("y_dtype", DTYPES)
@pytest.mark.parametrize("d", [1, 3, 6])
def test_several_chunks_all_dtypes(
    cython_kernels, numpy_kernels, ref, x_dtype, y_dtype, d
):
    """n > 2·8192 and not a multiple of 4: the Cython kernel cuts several chunks."""
    n = 2 * 8192 + 4099
    assert cython_kernels.n_chunks_for(n) >= 2
    p = Problem(n, d, x_dtype, y_dtype, seed=d, log_scale=1, loc=1.0, centred=True)
    X, y, coef, b, off = arrays(p)
    want = ref.loss_gradient(X, y, coef, b, off)
    want_m = ref.moments(X, y)
    for kern in (cython_kernels, numpy_kernels):
        got = ref.run_loss_gradient(kern, X, y, coef, b, off, n_threads=2)
        ref.assert_loss_gradient_close(got, want, RTOL)
        assert_moments_close(ref.run_moments(kern, X, y, n_threads=2), want_m, X, y)


# --------------------------------------------------------------------------
# Threads, read-only input, memory maps
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("n", "d"), [(200_000, 3), (100_000, 1)])
@pytest.mark.parametrize("x_dtype", DTYPES)
def test_cython_bitwise_identical_for_any_thread_count(
    cython_kernels, ref, n, d, x_dtype
):
    assert cython_kernels.n_chunks_for(n) > 3
    X, y, coef, b, off = arrays(Problem(n, d, x_dtype, np.float64, 7, 0, 2.0, True))
    results = {
        t: (
            ref.run_loss_gradient(cython_kernels, X, y, coef, b, off, n_threads=t),
            ref.run_moments(cython_kernels, X, y, n_threads=t),
        )
        for t in (1, 2, 3)
    }
    (lg1, (mean1, m21)) = results[1]
    for t in (2, 3):
        lg, (mean, m2) = results[t]
        assert lg[0] == lg1[0]
        assert lg[2] == lg1[2]
        assert np.array_equal(lg[1], lg1[1])
        assert np.array_equal(mean, mean1)
        assert np.array_equal(m2, m21)


@pytest.mark.parametrize("x_dtype", DTYPES)
def test_readonly_and_memmap_input_without_copy(kernels, ref, tmp_path, x_dtype):
    n, d = 800_000, 4
    X, y, coef, b, off = arrays(Problem(n, d, x_dtype, np.float64, 3, 0, 1.0, True))
    want_lg = ref.run_loss_gradient(kernels, X, y, coef, b, off)
    want_m = ref.run_moments(kernels, X, y)

    X_ro, y_ro = X.copy(), y.copy()
    X_ro.flags.writeable = False
    y_ro.flags.writeable = False
    X_mm = ref.readonly_memmap(tmp_path / "X.dat", X)
    y_mm = ref.readonly_memmap(tmp_path / "y.dat", y)
    assert isinstance(X_mm, np.memmap)
    assert not X_mm.flags.writeable

    for Xi, yi in [(X_ro, y_ro), (X_mm, y_mm)]:
        got_lg = ref.run_loss_gradient(kernels, Xi, yi, coef, b, off)
        assert got_lg[0] == want_lg[0]
        assert got_lg[2] == want_lg[2]
        assert np.array_equal(got_lg[1], want_lg[1])
        got_m = ref.run_moments(kernels, Xi, yi)
        assert np.array_equal(got_m[0], want_m[0])
        assert np.array_equal(got_m[1], want_m[1])
        # A copy of X would be traced at X.nbytes at least.
        peak = ref.peak_traced_memory(
            lambda Xi=Xi, yi=yi: (
                ref.run_loss_gradient(kernels, Xi, yi, coef, b, off),
                ref.run_moments(kernels, Xi, yi),
            )
        )
        assert peak < Xi.nbytes / 2


def test_moments_far_from_zero(kernels, ref):
    """x ~ 1e9 + N(0, 1): a one-pass sum of squares would lose every digit."""
    rng = np.random.default_rng(11)
    n = 50_000
    X = 1e9 + rng.standard_normal((n, 2)) * [1.0, 1e-2]
    y = -3e9 + rng.standard_normal(n)
    mean, m2 = ref.run_moments(kernels, X, y, n_threads=2)
    want_mean, want_m2 = ref.moments(X, y)
    np.testing.assert_allclose(mean, want_mean, rtol=1e-14, atol=0)
    np.testing.assert_allclose(m2 / n, want_m2 / n, rtol=1e-6, atol=0)
    # And the answer is the variance that was put in.
    np.testing.assert_allclose(np.sqrt(m2 / n), [1.0, 1e-2, 1.0], rtol=0.02)


def test_kernel_modules_are_twins(cython_kernels, numpy_kernels):
    for name in (
        "HAS_OPENMP",
        "max_threads",
        "n_chunks_for",
        "loss_gradient",
        "moments",
        "gram",
        "gram_cg",
        "robust_loss_gradient",
        "cluster_scores",
        "score_gram",
    ):
        assert hasattr(cython_kernels, name)
        assert hasattr(numpy_kernels, name)
    assert numpy_kernels.max_threads() == 1
    assert cython_kernels.max_threads() >= 1


@with_edge_examples
@given(p=problems)
def test_cluster_scores_matches_numpy(cython_kernels, numpy_kernels, p):
    """The compiled per-cluster score sums equal the NumPy twin's."""
    X, y, coef, intercept, offset = arrays(p)
    rng = np.random.default_rng(p.seed + 1)
    n_groups = int(rng.integers(1, 50))
    weighted, with_const = bool(p.seed % 2), bool(p.seed % 3)
    groups = rng.integers(0, n_groups, p.n).astype(np.intp)
    w = rng.uniform(0.0, 2.0, p.n) if weighted else np.empty(0)
    width = p.d + 1 if with_const else p.d
    got, want = np.zeros((n_groups, width)), np.zeros((n_groups, width))
    ssr = cython_kernels.cluster_scores(
        X, y, w, coef, intercept, offset, 0.3, groups, got
    )
    ref = numpy_kernels.cluster_scores(
        X, y, w, coef, intercept, offset, 0.3, groups, want
    )
    # each entry relative to the sum of the magnitudes of its terms (a
    # residual's rounding follows the size of what it is the difference of)
    Xc = X.astype(float) - offset
    e = np.abs(y.astype(float) - 0.3) + abs(intercept) + np.abs(Xc) @ np.abs(coef)
    s = e if not weighted else w * e
    z = np.abs(Xc)
    bound = np.zeros_like(want)
    if with_const:
        np.add.at(bound[:, 0], groups, s)
    np.add.at(bound[:, width - p.d :], groups, z * s[:, None])
    np.testing.assert_array_less(np.abs(got - want), 1e-12 * bound + 1e-300)
    assert ssr == pytest.approx(ref, rel=1e-12, abs=1e-12 * float(s @ e) + 1e-300)


def test_cluster_scores_checks_shapes(cython_kernels, numpy_kernels):
    X, y = np.ones((5, 2)), np.ones(5)
    groups = np.zeros(5, dtype=np.intp)
    for k in (cython_kernels, numpy_kernels):
        with pytest.raises(ValueError, match="columns"):
            k.cluster_scores(X, y, np.empty(0), np.ones(2), 0.0, np.zeros(2), 0.0,
                             groups, np.zeros((1, 4)))  # fmt: skip
        with pytest.raises(ValueError, match="entries"):
            k.cluster_scores(X, y, np.ones(3), np.ones(2), 0.0, np.zeros(2), 0.0,
                             groups, np.zeros((1, 3)))  # fmt: skip


def _score_gram_case(p: Problem, mode: int):
    """Data, weights and a leverage matrix for ``score_gram``, and the meat
    written from its formula, with a bound of each entry's rounding."""
    X, y, coef, b, off = arrays(p)
    rng = np.random.default_rng(p.seed + 2)
    weighted, with_const = bool(p.seed % 2), bool(p.seed % 3)
    w = rng.uniform(0.0, 2.0, p.n) if weighted else np.empty(0)
    ww = w if weighted else np.ones(p.n)
    Xc = X.astype(float) - off
    Z = np.column_stack([np.ones(p.n), Xc]) if with_const else Xc
    width = Z.shape[1]
    A = rng.standard_normal((width, width))
    B = A @ A.T
    # scaled so that every leverage is at most 1/2
    B /= 2.0 * max(float(np.max(ww * np.einsum("ij,jk,ik->i", Z, B, Z))), 1e-300)
    e = (y.astype(float) - 0.3) - b - Xc @ coef
    s = ww * e
    h = ww * np.einsum("ij,jk,ik->i", Z, B, Z) if mode else np.zeros(p.n)
    s = s / {0: 1.0, 2: np.sqrt(1.0 - h), 3: 1.0 - h}[mode]
    want = (Z * (s * s)[:, None]).T @ Z
    size = ww * (np.abs(y.astype(float) - 0.3) + abs(b) + np.abs(Xc) @ np.abs(coef))
    h_size = ww * np.einsum("ij,jk,ik->i", np.abs(Z), np.abs(B), np.abs(Z))
    v = (2.0 * size) ** 2 * (1.0 + 4.0 * h_size)
    bound = (np.abs(Z) * v[:, None]).T @ np.abs(Z)
    return (X, y, w, coef, b, off, 0.3, B, mode), want, float(e @ (ww * e)), bound


@with_edge_examples
@given(p=problems)
def test_score_gram_matches_formula(kernels, p):
    """Σ v z zᵀ of the scores (HC0/1, HC2, HC3 scalings), both kernels, to
    1e-12 of the size of the terms each entry sums."""
    mode = (0, 2, 3)[p.seed // 6 % 3]
    args, want, ssr_want, bound = _score_gram_case(p, mode)
    out = np.full_like(want, np.nan)
    ssr = kernels.score_gram(*args, out, 2)
    np.testing.assert_array_less(np.abs(out - want), 1e-12 * bound + 1e-300)
    assert np.array_equal(out, out.T)
    assert ssr == pytest.approx(ssr_want, rel=1e-12, abs=1e-12 * np.trace(bound))


@given(p=problems, mode=st.sampled_from([0, 2, 3]))
def test_cython_matches_numpy_score_gram(cython_kernels, numpy_kernels, p, mode):
    args, want, _, bound = _score_gram_case(p, mode)
    got, ref = np.empty_like(want), np.empty_like(want)
    ssr = cython_kernels.score_gram(*args, got, 1)
    ssr_ref = numpy_kernels.score_gram(*args, ref, 1)
    np.testing.assert_array_less(np.abs(got - ref), 2e-12 * bound + 1e-300)
    assert ssr == pytest.approx(ssr_ref, rel=1e-12, abs=1e-12 * np.trace(bound))


@pytest.mark.parametrize("mode", [0, 3])
def test_score_gram_bitwise_identical_for_any_thread_count(cython_kernels, mode):
    p = Problem(150_000, 9, np.float32, np.float64, 11, 0, 2.0, True)
    assert cython_kernels.n_chunks_for(p.n) > 3
    args, want, _, _ = _score_gram_case(p, mode)
    results = []
    for t in (1, 2, 3):
        out = np.empty_like(want)
        results.append((cython_kernels.score_gram(*args, out, t), out))
    for ssr, out in results[1:]:
        assert ssr == results[0][0]
        assert np.array_equal(out, results[0][1])


def test_score_gram_checks_arguments(cython_kernels, numpy_kernels):
    X, y, coef, off = np.ones((5, 2)), np.ones(5), np.ones(2), np.zeros(2)
    B = np.eye(3)
    for k in (cython_kernels, numpy_kernels):
        with pytest.raises(ValueError, match="out has shape"):
            k.score_gram(
                X, y, np.empty(0), coef, 0.0, off, 0.0, B, 0, np.zeros((4, 4)), 1
            )
        with pytest.raises(ValueError, match="sample_weight"):
            k.score_gram(
                X, y, np.ones(3), coef, 0.0, off, 0.0, B, 0, np.zeros((3, 3)), 1
            )
        with pytest.raises(ValueError, match="mode"):
            k.score_gram(
                X, y, np.empty(0), coef, 0.0, off, 0.0, B, 1, np.zeros((3, 3)), 1
            )
        with pytest.raises(ValueError, match="leverage"):
            k.score_gram(X, y, np.empty(0), coef, 0.0, off, 0.0, np.eye(2), 2,
                         np.zeros((3, 3)), 1)  # fmt: skip
