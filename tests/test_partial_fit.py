"""partial_fit and the merge of sufficient statistics it rests on.

The property: chunks of any sizes, fed in any order, give the statistics and
the model of one fit on their concatenation, up to rounding.
"""

from __future__ import annotations

import itertools
import math
import pickle
import warnings

import numpy as np
import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from fastlinreg import DivergenceError, LinearRegression
from fastlinreg._stats import SufficientStats, sufficient_stats


def reference_stats(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exactly rounded means and centred cross-products of ``[X | y]``."""
    Z = np.column_stack([np.asarray(X, np.float64), np.asarray(y, np.float64)])
    n, p = Z.shape
    mean = np.array([math.fsum(c) / n for c in Z.T])
    Zc = Z - mean
    cov = np.array(
        [[math.fsum(Zc[:, j] * Zc[:, k]) for k in range(p)] for j in range(p)]
    )
    return mean, cov


def assert_stats_close(got: SufficientStats, mean, cov, n, rtol) -> None:
    """``got`` matches the exact statistics to ``rtol``, plus what merging
    chunks cannot avoid: each chunk's means are rounded once, to eps·|mean|,
    which moves the cross-products by up to about n·eps·|mean_j|·σ_k. That is
    the rounding the data themselves carry (x = mean + deviation, stored to
    eps·|x|), so only data far from zero relative to their spread notice it.
    """
    assert got.n == n
    sigma = np.sqrt(np.diag(cov) / n)
    eps = np.finfo(np.float64).eps
    scale = np.sqrt(np.outer(np.diag(cov), np.diag(cov))) + 1e-300
    scale += (
        (64 * eps / rtol)
        * n
        * (np.outer(np.abs(mean), sigma) + np.outer(sigma, np.abs(mean)))
    )
    mean_scale = np.abs(mean) + sigma
    assert np.all(np.abs(got.mean - mean) <= rtol * mean_scale), (got.mean, mean)
    assert np.all(np.abs(got.cov - cov) <= rtol * scale), (got.cov, cov)
    np.testing.assert_array_equal(got.cov, got.cov.T)


def problem(n, d, seed=0, shift=0.0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 5, d) + shift
    y = X @ rng.uniform(-3, 3, d) + 4.0 + 0.5 * rng.normal(size=n)
    return X.astype(dtype), y.astype(dtype)


def stats_of(X, y, kernels):
    X2 = np.ascontiguousarray(X.reshape(len(y), -1))
    return sufficient_stats(kernels, X2, np.ascontiguousarray(y), 1)


# --------------------------------------------------------------------------
# SufficientStats.merge
# --------------------------------------------------------------------------


@given(
    n=st.integers(2, 300),
    d=st.integers(1, 18),
    cuts=st.lists(st.integers(1, 299), max_size=6),
    shift=st.sampled_from([0.0, -3.0, 1e6, 1e9]),
    seed=st.integers(0, 2**32 - 1),
)
def test_merged_chunks_equal_the_exact_statistics(kernels, n, d, cuts, shift, seed):
    X, y = problem(n, d, seed, shift)
    bounds = [0, *sorted({c for c in cuts if c < n}), n]
    total = SufficientStats.empty(d)
    for lo, hi in itertools.pairwise(bounds):
        total = total.merge(stats_of(X[lo:hi], y[lo:hi], kernels))
    mean, cov = reference_stats(X, y)
    assert_stats_close(total, mean, cov, n, rtol=1e-10)


def test_merge_is_symmetric_associative_and_has_an_identity(cython_kernels):
    X, y = problem(3000, 4, seed=1, shift=100.0)
    a, b, c = (
        stats_of(X[s], y[s], cython_kernels)
        for s in (slice(0, 17), slice(17, 2000), slice(2000, 3000))
    )
    left = a.merge(b).merge(c)
    right = a.merge(b.merge(c))
    swapped = c.merge(a).merge(b)
    mean, cov = reference_stats(X, y)
    for got in (left, right, swapped):
        assert_stats_close(got, mean, cov, 3000, rtol=1e-12)
    empty = SufficientStats.empty(4)
    assert a.merge(empty) is a
    assert empty.merge(a) is a
    np.testing.assert_array_equal(a.merge(b).cov, b.merge(a).cov)


def test_merge_rejects_other_feature_counts():
    with pytest.raises(ValueError, match="3 and 2 features"):
        SufficientStats.empty(3).merge(SufficientStats.empty(2))


def test_statistics_of_no_rows(kernels):
    stats = sufficient_stats(kernels, np.empty((0, 3)), np.empty(0), 1)
    assert stats.n == 0
    assert stats.mean.shape == (4,)
    assert stats.cov.shape == (4, 4)


# --------------------------------------------------------------------------
# partial_fit equals fit
# --------------------------------------------------------------------------


@given(
    n=st.integers(40, 600),
    d=st.integers(1, 6),
    cuts=st.lists(st.integers(1, 599), max_size=8),
    order=st.permutations(list(range(9))),
    fit_intercept=st.booleans(),
    shift=st.sampled_from([0.0, 10.0, 1e5]),
    seed=st.integers(0, 2**32 - 1),
)
# From a CI run: the intercepts 6.3e-7 apart, the coefficients 5e-12.
@example(
    n=317,
    d=6,
    cuts=[136],
    order=list(range(9)),
    fit_intercept=True,
    shift=1e5,
    seed=136,
)
def test_partial_fit_over_random_chunks_equals_fit(
    n, d, cuts, order, fit_intercept, shift, seed
):
    if not fit_intercept:
        # Far from zero and without an intercept the columns are nearly
        # collinear: the coefficients are not determined to many digits.
        shift = min(shift, 10.0)
    X, y = problem(n, d, seed, shift)
    bounds = [0, *sorted({c for c in cuts if c < n}), n]
    pieces = [slice(a, b) for a, b in itertools.pairwise(bounds)]
    pieces = [pieces[i] for i in order if i < len(pieces)]
    # A tight tol: at the default one each solve stops up to ~1e-8 (relative)
    # from the solution, along its own path from its own rounding of the
    # statistics (seen: 1.3e-8 apart); this compares the statistics.
    params = {"fit_intercept": fit_intercept, "tol": 1e-12}
    whole = LinearRegression(**params).fit(X, y)
    model = LinearRegression(**params)
    for rows in pieces:
        assert model.partial_fit(X[rows], y[rows]) is model
    assert model.n_features_in_ == d
    assert model.precomputed_
    assert model._stats.n == n
    scale = np.linalg.norm(whole.coef_) + abs(whole.intercept_)
    np.testing.assert_allclose(model.coef_, whole.coef_, rtol=1e-8, atol=1e-9 * scale)
    # The intercept is the prediction at x = 0, far from data shifted by 1e5:
    # the coefficients' difference, carried there (Δb = -x̄·Δw, up to 6e-7
    # seen), plus rounding.
    carried = X.mean(axis=0) @ (model.coef_ - whole.coef_) if fit_intercept else 0.0
    assert model.intercept_ + carried == pytest.approx(
        whole.intercept_, rel=1e-8, abs=1e-9 * scale
    )
    # fit, which has the data at hand, polishes ill-conditioned solutions with
    # the data's own gradient; partial_fit has only the statistics: the
    # predictions agree as far as the coefficients above do, row by row
    # (|Δŷ| ≤ |X| @ |Δw| + |Δb|: a prediction near zero out of large terms
    # keeps only their absolute accuracy).
    size = np.abs(X) @ np.abs(whole.coef_) + abs(whole.intercept_)
    error = np.abs(model.predict(X) - whole.predict(X))
    assert np.all(error <= 1e-8 * size + 1e-9 * scale), (error / size).max()


def test_each_call_refits_on_everything_seen(ref):
    X, y = problem(5000, 3, seed=2)
    model = LinearRegression()
    for stop in (10, 500, 5000):
        lo = {10: 0, 500: 10, 5000: 500}[stop]
        model.partial_fit(X[lo:stop], y[lo:stop])
        coef, intercept = ref.lstsq_fit(X[:stop], y[:stop])
        np.testing.assert_allclose(model.coef_, coef, rtol=1e-8)
        assert model.intercept_ == pytest.approx(intercept, rel=1e-8)
        assert model.converged_


def test_one_row_at_a_time_and_one_dimensional_chunks(ref):
    rng = np.random.default_rng(3)
    x = rng.uniform(-10, 10, 200)
    y = 7.6 * x - 3.3 + rng.normal(size=200)
    model = LinearRegression()
    for i in range(200):
        model.partial_fit(x[i : i + 1], y[i : i + 1])
    coef, intercept = ref.lstsq_fit(x, y)
    assert model.coef_[0] == pytest.approx(coef[0], rel=1e-9)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-9)


def test_fit_restarts_the_accumulation_from_its_own_data():
    X, y = problem(3000, 2, seed=4)
    model = LinearRegression().partial_fit(X[:1000], y[:1000])
    model.fit(X[1000:2000], y[1000:2000])
    np.testing.assert_array_equal(
        model.coef_, LinearRegression().fit(X[1000:2000], y[1000:2000]).coef_
    )
    assert model._stats.n == 1000
    model.partial_fit(X[2000:], y[2000:])
    whole = LinearRegression().fit(X[1000:], y[1000:])
    np.testing.assert_allclose(model.coef_, whole.coef_, rtol=1e-10)


def test_after_a_fit_without_statistics_a_new_accumulation_starts():
    X, y = problem(2000, 2, seed=5)
    model = LinearRegression(precompute=False).fit(X[:1000], y[:1000])
    with pytest.warns(UserWarning, match="starts a new accumulation"):
        model.partial_fit(X[1000:], y[1000:])
    expected = LinearRegression().fit(X[1000:], y[1000:])
    np.testing.assert_allclose(model.coef_, expected.coef_, rtol=1e-10)
    assert model.precomputed_
    assert model._stats.n == 1000


def test_fit_intercept_applies_to_every_solve(ref):
    X, y = problem(3000, 3, seed=6, shift=5.0)
    model = LinearRegression(fit_intercept=False)
    model.partial_fit(X[:1500], y[:1500]).partial_fit(X[1500:], y[1500:])
    coef, _ = ref.lstsq_fit(X, y, fit_intercept=False)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-8)
    assert model.intercept_ == 0.0
    # The statistics serve either model: switching refits on all rows seen.
    model.set_params(fit_intercept=True).partial_fit(X[:1], y[:1])
    coef, intercept = ref.lstsq_fit(np.vstack([X, X[:1]]), np.append(y, y[:1]))
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-8)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-8)


def test_feature_count_must_not_change():
    X, y = problem(100, 3)
    model = LinearRegression().partial_fit(X[:50], y[:50])
    before = model.coef_.copy()
    with pytest.raises(ValueError, match="X has 2 features, but LinearRegression"):
        model.partial_fit(X[50:, :2], y[50:])
    np.testing.assert_array_equal(model.coef_, before)
    assert model._stats.n == 50


def test_a_bad_chunk_leaves_the_model_as_it_was():
    X, y = problem(200, 2, seed=7)
    model = LinearRegression().partial_fit(X[:100], y[:100])
    before = (model.coef_.copy(), model.intercept_, model._stats)
    bad = X[100:].copy()
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        model.partial_fit(bad, y[100:])
    bad_y = y[100:].copy()
    bad_y[0] = np.inf
    with pytest.raises(ValueError, match="Input y contains infinity"):
        model.partial_fit(X[100:], bad_y)
    # A fixed step too large for the data seen: the solve diverges.
    model.set_params(learning_rate=10.0, max_iter=50)
    with pytest.raises(DivergenceError):
        model.partial_fit(X[100:], y[100:])
    np.testing.assert_array_equal(model.coef_, before[0])
    assert model.intercept_ == before[1]
    assert model._stats is before[2]


def test_dtypes_float32_stays_float32_until_float64_arrives():
    X, y = problem(2000, 2, seed=8)
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    model = LinearRegression().partial_fit(X32[:1000], y32[:1000])
    assert model.coef_.dtype == np.float32
    model.partial_fit(X32[1000:], y32[1000:])
    assert model.coef_.dtype == np.float32
    whole = LinearRegression().fit(X32, y32)
    np.testing.assert_allclose(model.coef_, whole.coef_, rtol=1e-6)
    model.partial_fit(X[:10], y[:10])
    assert model.coef_.dtype == np.float64
    assert isinstance(model.intercept_, np.float64)


def test_feature_names_come_from_the_first_chunk():
    pd = pytest.importorskip("pandas")
    X, y = problem(300, 2, seed=9)
    frame = pd.DataFrame(X, columns=["a", "b"])
    model = LinearRegression().partial_fit(frame.iloc[:100], y[:100])
    model.partial_fit(frame.iloc[100:], y[100:])
    assert list(model.feature_names_in_) == ["a", "b"]
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        model.partial_fit(X[:5], y[:5])
    assert list(model.feature_names_in_) == ["a", "b"]
    with pytest.raises(ValueError, match="feature names should match"):
        model.partial_fit(frame[["b", "a"]], y)


def test_the_state_survives_pickling():
    X, y = problem(1000, 2, seed=10)
    model = LinearRegression().partial_fit(X[:500], y[:500])
    clone = pickle.loads(pickle.dumps(model))
    clone.partial_fit(X[500:], y[500:])
    model.partial_fit(X[500:], y[500:])
    np.testing.assert_array_equal(clone.coef_, model.coef_)


def test_partial_fit_with_the_numpy_backend_and_many_features(ref):
    # 20 features: the statistics come from the blocked BLAS path.
    X, y = problem(4000, 20, seed=11)
    model = LinearRegression(backend="numpy")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for lo in range(0, 4000, 700):
            model.partial_fit(X[lo : lo + 700], y[lo : lo + 700])
    coef, intercept = ref.lstsq_fit(X, y)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-8)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-8)
    assert model.backend_ == "numpy"


def test_values_whose_squares_overflow_are_refused():
    X = np.array([[1e200], [-1e200], [3e200]])
    model = LinearRegression()
    with pytest.raises(ValueError, match="overflow"):
        model.partial_fit(X, np.array([1.0, 2.0, 3.0]))
    assert not hasattr(model, "coef_")
