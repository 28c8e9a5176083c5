"""The sufficient-statistics path: the gram kernels, the fits built on them,
the solvers, determinism across threads, shifted data and float32 accuracy."""

from __future__ import annotations

import math
from unittest import mock

import numpy as np
import pytest
import threadpoolctl
from hypothesis import assume, given
from hypothesis import strategies as st

import fastlinreg
from fastlinreg import LinearRegression


def reference_gram(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exactly rounded means and centred cross-products of ``[X | y]``."""
    Z = np.column_stack([np.asarray(X, np.float64), np.asarray(y, np.float64)])
    n, p = Z.shape
    mean = np.array([math.fsum(c) / n for c in Z.T])
    Zc = Z - mean
    cov = np.array(
        [[math.fsum(Zc[:, j] * Zc[:, k]) for k in range(p)] for j in range(p)]
    )
    return mean, cov


def run_gram(kernels, X, y, n_threads=1):
    d = X.shape[1]
    mean = np.full(d + 1, np.nan)
    cov = np.full((d + 1, d + 1), np.nan)
    kernels.gram(X, y, mean, cov, n_threads)
    return mean, cov


def assert_gram_close(got, want, rtol, n):
    mean, cov = got
    ref_mean, ref_cov = want
    scale = np.sqrt(np.outer(np.diag(ref_cov), np.diag(ref_cov))) + 1e-300
    # Means to rtol of the data's magnitude (|mean| + spread): a mean near zero
    # carries the rounding of values of the size of the spread.
    spread = np.sqrt(np.diag(ref_cov) / n)
    err = np.abs(mean - ref_mean)
    assert np.all(err <= rtol * (np.abs(ref_mean) + spread)), (mean, ref_mean)
    assert np.all(np.abs(cov - ref_cov) <= rtol * scale), (cov, ref_cov)
    np.testing.assert_array_equal(cov, cov.T)


@given(
    n=st.integers(1, 1500),
    d=st.integers(1, 20),
    x_dtype=st.sampled_from([np.float32, np.float64]),
    y_dtype=st.sampled_from([np.float32, np.float64]),
    shift=st.sampled_from([0.0, 1.0, -50.0, 1e6]),
    seed=st.integers(0, 2**32 - 1),
)
def test_gram_matches_exact_reference(kernels, n, d, x_dtype, y_dtype, shift, seed):
    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d) + shift).astype(x_dtype)
    y = (X.astype(np.float64) @ rng.normal(size=d) + rng.normal(size=n)).astype(y_dtype)
    assert_gram_close(run_gram(kernels, X, y), reference_gram(X, y), 1e-11, n)


@given(
    n=st.integers(1, 300),
    d=st.integers(1, 12),
    k=st.integers(1, 3),
    x_dtype=st.sampled_from([np.float32, np.float64]),
    shift=st.sampled_from([0.0, 1e6]),
    weights=st.sampled_from(["none", "random", "some zero"]),
    block_rows=st.integers(1, 50),
    seed=st.integers(0, 2**32 - 1),
)
def test_weighted_stats_match_exact_reference(
    n, d, k, x_dtype, shift, weights, block_rows, seed
):
    """Sample weights and several targets (weighted_stats, BLAS): in blocks of
    any size (the scratch reused by each), in both block layouts (one row per
    column up to 8 columns of [X | Y], row by row beyond), against exactly
    rounded sums; a weight of k counts a row k times."""
    from fastlinreg import _stats

    rng = np.random.default_rng(seed)
    X = (rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d) + shift).astype(x_dtype)
    Y = X.astype(np.float64) @ rng.normal(size=(d, k)) + rng.normal(size=(n, k))
    w = None if weights == "none" else rng.integers(0, 4, n).astype(np.float64)
    if weights == "random":
        w += 1.0
    reps = np.ones(n, dtype=int) if w is None else w.astype(int)
    # Two distinct rows at least: the reference rounds its mean, so that for
    # one row repeated its cross-products are rounding noise (~1e-30), not 0.
    assume(np.count_nonzero(reps) >= 2)
    Zx, Zy = np.repeat(X, reps, axis=0), np.repeat(Y, reps, axis=0)
    ref_mean = np.empty(d + k)
    ref_cov = np.empty((d + k, d + k))
    for j in range(k):  # the reference of [X | Y_j], k times
        idx = np.r_[np.arange(d), d + j]
        m, c = reference_gram(Zx, Zy[:, j])
        ref_mean[idx], ref_cov[np.ix_(idx, idx)] = m, c
    if k > 1:  # the cross-products between targets
        Zc = Zy - ref_mean[d:]
        for a in range(k):
            for b in range(k):
                ref_cov[d + a, d + b] = math.fsum(Zc[:, a] * Zc[:, b])
    yk = Y[:, 0] if k == 1 else Y
    elements = block_rows * (d + k)
    with mock.patch.object(_stats, "_STATS_BLOCK_ELEMENTS", elements):
        stats = _stats.weighted_stats(X, yk, w)
    assert stats.n == reps.sum()
    assert_gram_close((stats.mean, stats.cov), (ref_mean, ref_cov), 1e-11, n)


def test_weighted_stats_of_no_rows_are_empty():
    """No rows (no first row to shift by): the empty statistics, as before."""
    from fastlinreg import _stats

    for Y, w in [(np.empty(0), None), (np.empty((0, 2)), np.empty(0))]:
        stats = _stats.weighted_stats(np.empty((0, 3)), Y, w)
        assert stats.n == 0
        assert stats.mean.shape == (3 + (1 if Y.ndim == 1 else 2),)


@given(
    n=st.integers(1, 400),
    d=st.integers(1, 8),
    x_dtype=st.sampled_from([np.float32, np.float64]),
    far=st.lists(st.sampled_from([0.0, 1e6, -3e8]), min_size=1, max_size=5),
    block_rows=st.integers(1, 60),
    wide=st.booleans(),
    centred_rows=st.integers(1, 60),
    seed=st.integers(0, 2**32 - 1),
)
def test_numpy_gram_blocks_do_not_change_the_answer(
    numpy_kernels, n, d, x_dtype, far, block_rows, wide, centred_rows, seed
):
    """The BLAS path in small blocks: raw blocks, and blocks centred before the
    product in pieces (stretches of rows far from zero cancel too much raw),
    mixed, in both the narrow and the wide block-size regimes."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.1, 10, d)
    # Stretches of rows shifted by one of `far` each.
    X += np.repeat(far, -(-n // len(far)))[:n, None]
    X = X.astype(x_dtype)
    y = X.astype(np.float64) @ rng.normal(size=d) + rng.normal(size=n)
    p = d + 1
    with mock.patch.multiple(
        numpy_kernels,
        _BLAS_BLOCK_ELEMENTS=block_rows * p,
        _BLAS_WIDE_COLUMNS=0 if wide else 128,
        _BLAS_WIDE_ROWS=block_rows,
        _CENTRED_BLOCK_ELEMENTS=centred_rows * p,
    ):
        got = run_gram(numpy_kernels, X, y)
    assert_gram_close(got, reference_gram(X, y), 1e-11, n)


@pytest.mark.parametrize(
    "shape", [(50_001, 1), (40_003, 3), (20_000, 17), (6_007, 40), (3_001, 63)]
)
def test_gram_cython_equals_numpy(cython_kernels, numpy_kernels, shape):
    rng = np.random.default_rng(3)
    X = rng.normal(size=shape) + 5.0
    y = X @ rng.normal(size=shape[1]) + rng.normal(size=shape[0])
    assert_gram_close(
        run_gram(cython_kernels, X, y), run_gram(numpy_kernels, X, y), 1e-12, shape[0]
    )


@pytest.mark.parametrize("d", [1, 5, 12])
def test_gram_bitwise_identical_for_any_thread_count(cython_kernels, d):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300_007, d))
    y = rng.normal(size=300_007)
    one = run_gram(cython_kernels, X, y, 1)
    for threads in (2, 3, 8):
        other = run_gram(cython_kernels, X, y, threads)
        assert np.array_equal(one[0], other[0])
        assert np.array_equal(one[1], other[1])


def test_gram_read_only_and_memmap(kernels, tmp_path, ref):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(5000, 3))
    y = rng.normal(size=5000)
    Xm = ref.readonly_memmap(tmp_path / "X.dat", X)
    ym = ref.readonly_memmap(tmp_path / "y.dat", y)
    want = run_gram(kernels, X, y)
    got = run_gram(kernels, Xm, ym)
    assert np.array_equal(want[0], got[0])
    assert np.array_equal(want[1], got[1])


# --------------------------------------------------------------------------
# Fits
# --------------------------------------------------------------------------


def problem(n, d, seed=0, shift=0.0, noise=0.5, dtype=np.float64):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.uniform(0.5, 20, d) + shift
    y = X @ rng.uniform(-3, 3, d) + 4.0 + noise * rng.normal(size=n)
    return X.astype(dtype), y.astype(dtype)


@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("solver", ["gd", "nesterov", "cg"])
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("d", [1, 3, 20])
def test_every_path_reaches_lstsq(backend, ref, precompute, solver, fit_intercept, d):
    if solver == "cg" and not precompute:
        with pytest.raises(ValueError, match="cg"):
            LinearRegression(precompute=False, solver="cg").fit(*problem(50, d))
        return
    X, y = problem(3000, d, seed=d)
    model = LinearRegression(
        backend=backend,
        precompute=precompute,
        solver=solver,
        fit_intercept=fit_intercept,
    ).fit(X, y)
    coef, intercept = ref.lstsq_fit(X, y, fit_intercept)
    assert model.converged_, model.stop_reason_
    assert model.precomputed_ is precompute
    assert model.solver_ == solver
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-6, atol=1e-9)
    assert model.intercept_ == pytest.approx(intercept, rel=1e-6, abs=1e-9)


def test_auto_choices():
    X, y = problem(2000, 4)
    model = LinearRegression().fit(X, y)
    assert model.precomputed_
    assert model.solver_ == "cg"
    model = LinearRegression(precompute=False).fit(X, y)
    assert not model.precomputed_
    assert model.solver_ == "gd"
    model = LinearRegression(learning_rate=1e-3, max_iter=5, tol=0).fit(X, y)
    assert model.solver_ == "gd"


def test_tutorial_converges_in_a_handful_of_steps():
    X, y = fastlinreg.make_regression(random_state=42)
    for precompute in (True, False):
        model = LinearRegression(precompute=precompute).fit(X, y)
        assert model.converged_
        assert model.n_iter_ <= 5, model.n_iter_


@pytest.mark.parametrize("precompute", [True, False])
def test_data_far_from_zero_fits_as_accurately_as_data_near_zero(ref, precompute):
    """x around 1e9: centring inside the kernels keeps every digit we need."""
    rng = np.random.default_rng(6)
    x0 = rng.uniform(-10, 10, 20_000)
    y = 7.6 * x0 - 3.3 + 3.0 * rng.normal(size=x0.size)
    near = LinearRegression(precompute=precompute).fit(x0, y)
    far = LinearRegression(precompute=precompute).fit(x0 + 1e9, y)
    # The same slope; the intercept moves by -1e9 * slope.
    assert far.coef_[0] == pytest.approx(near.coef_[0], rel=1e-7)
    coef, _ = ref.lstsq_fit(x0, y)
    assert far.coef_[0] == pytest.approx(coef[0], rel=1e-7)
    pred_far = far.predict(x0 + 1e9)
    pred_near = near.predict(x0)
    np.testing.assert_allclose(pred_far, pred_near, rtol=0, atol=1e-5)


def test_float32_no_upcast_and_accurate_at_ten_million_rows():
    X64, y64 = problem(10_000_000, 1, seed=7)
    X32, y32 = X64.astype(np.float32), y64.astype(np.float32)
    m32 = LinearRegression().fit(X32, y32)
    # The float64 answer on the same (rounded) data.
    m64 = LinearRegression().fit(X32.astype(np.float64), y32.astype(np.float64))
    assert m32.coef_.dtype == np.float32
    np.testing.assert_allclose(m32.coef_, m64.coef_, rtol=1e-5)
    assert float(m32.intercept_) == pytest.approx(float(m64.intercept_), rel=1e-5)


def test_fit_is_bitwise_identical_for_any_n_jobs():
    X, y = problem(400_000, 3, seed=8)
    base = LinearRegression(n_jobs=1).fit(X, y)
    for n_jobs in (2, 4, -1):
        other = LinearRegression(n_jobs=n_jobs).fit(X, y)
        assert np.array_equal(base.coef_, other.coef_)
        assert base.intercept_ == other.intercept_
        assert np.array_equal(base.loss_curve_, other.loss_curve_)


def blas_threads_now() -> int:
    info = threadpoolctl.threadpool_info()
    return max(
        (lib["num_threads"] for lib in info if lib["user_api"] == "blas"), default=0
    )


def skip_unless_two_blas_and_openmp_threads() -> None:
    kernels = fastlinreg._backend.get_kernels("cython")
    if blas_threads_now() < 2 or kernels.max_threads() < 2:
        pytest.skip("needs BLAS and OpenMP on two or more threads")


@pytest.mark.parametrize(
    ("backend", "n_jobs", "weighted", "d", "bounded"),
    [
        ("cython", 1, False, 64, True),  # 64+ features: the BLAS gram
        ("cython", 1, True, 3, True),  # weights: weighted_stats, BLAS
        ("cython", None, False, 64, False),  # None: BLAS as configured
        ("numpy", 1, False, 64, False),  # n_jobs is the compiled kernels'
    ],
)
def test_n_jobs_bounds_blas_in_the_statistics_pass(
    backend, n_jobs, weighted, d, bounded
):
    """The statistics BLAS computes for the compiled backend run on n_jobs
    threads; BLAS's own count is back afterwards."""
    skip_unless_two_blas_and_openmp_threads()
    before = blas_threads_now()
    X, y = problem((1 << 18) // d, d, seed=3)  # above the threads' size threshold
    seen = []
    # The pass BLAS runs: weighted_stats, or the NumPy twin's gram.
    owner = fastlinreg._stats if weighted else fastlinreg._numpy_kernels
    name = "weighted_stats" if weighted else "gram"
    original = getattr(owner, name)

    def spy(*args):
        seen.append(blas_threads_now())
        return original(*args)

    with mock.patch.object(owner, name, spy):
        model = LinearRegression(backend=backend, n_jobs=n_jobs)
        model.fit(X, y, sample_weight=np.ones(len(y)) if weighted else None)
    assert seen == [1 if bounded else before]
    assert blas_threads_now() == before
    np.testing.assert_allclose(
        model.coef_, LinearRegression(backend=backend).fit(X, y).coef_, rtol=1e-9
    )


def test_overlapping_blas_bounds_restore_blas():
    """Two passes that overlap in time (started A, started B, ended A, ended
    B, as two Python threads may): the bound holds until the last one ends,
    then BLAS has its own count back (restoring each pass's saved count in
    turn would leave it at one thread)."""
    skip_unless_two_blas_and_openmp_threads()
    before = blas_threads_now()
    kernels = fastlinreg._backend.get_kernels("cython")
    a = fastlinreg._backend.blas_threads(1, kernels, 1 << 20)
    b = fastlinreg._backend.blas_threads(1, kernels, 1 << 20)
    a.__enter__()
    b.__enter__()
    a.__exit__(None, None, None)
    assert blas_threads_now() == 1
    b.__exit__(None, None, None)
    assert blas_threads_now() == before


def test_ill_conditioned_problem_accelerated_solvers_need_fewer_iterations():
    rng = np.random.default_rng(9)
    z = rng.normal(size=(5000, 1))
    X = np.column_stack([z + 0.05 * rng.normal(size=(5000, 1)) for _ in range(4)])
    y = X @ np.array([1.0, -2.0, 0.5, 3.0]) + rng.normal(size=5000)
    gd = LinearRegression(solver="gd", max_iter=100_000).fit(X, y)
    nag = LinearRegression(solver="nesterov", max_iter=100_000).fit(X, y)
    cg = LinearRegression(solver="cg").fit(X, y)
    assert gd.converged_
    assert nag.converged_
    assert cg.converged_
    assert cg.n_iter_ <= 2 * (X.shape[1] + 1) < nag.n_iter_ < gd.n_iter_
    np.testing.assert_allclose(nag.coef_, gd.coef_, rtol=1e-6)
    np.testing.assert_allclose(cg.coef_, gd.coef_, rtol=1e-6)


def test_invalid_choices():
    X, y = problem(100, 2)
    with pytest.raises(ValueError, match="precompute"):
        LinearRegression(precompute="yes").fit(X, y)
    with pytest.raises(ValueError, match="solver"):
        LinearRegression(solver="lbfgs").fit(X, y)
    with pytest.raises(ValueError, match="verbose"):
        LinearRegression(verbose=-1).fit(X, y)
    with pytest.raises(TypeError, match="callback"):
        LinearRegression(callback=3).fit(X, y)


# --------------------------------------------------------------------------
# Callbacks and progress
# --------------------------------------------------------------------------


@pytest.mark.parametrize("precompute", [True, False])
def test_callback_sees_every_iteration_and_can_stop(backend, precompute):
    X, y = problem(2000, 3, seed=10)
    seen = []

    def watch(info):
        seen.append(info)
        return info.iteration == 2

    model = LinearRegression(
        backend=backend, precompute=precompute, solver="gd", callback=watch
    ).fit(X, y)
    assert [i.iteration for i in seen] == [0, 1, 2]
    assert model.stop_reason_ == "callback"
    assert model.converged_ is False
    assert model.n_iter_ == 2
    last = seen[-1]
    np.testing.assert_allclose(last.coef, model.coef_)
    assert last.intercept == pytest.approx(float(model.intercept_))
    assert last.loss == model.loss_curve_[-1]
    assert last.grad_norm >= 0


def test_callback_returning_non_true_does_not_stop():
    X, y = problem(500, 2)
    model = LinearRegression(callback=lambda info: 1).fit(X, y)
    assert model.stop_reason_ == "converged"


def test_verbose_two_prints_a_line_per_iteration(capsys):
    X, y = problem(500, 2)
    model = LinearRegression(verbose=2, solver="gd").fit(X, y)
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == model.n_iter_ + 1
    assert out[0].startswith("iteration      0")
    assert "loss" in out[-1]
    assert "|grad|" in out[-1]


def test_verbose_one_is_silent_on_quick_fits(capsys):
    X, y = problem(500, 2)
    LinearRegression(verbose=1).fit(X, y)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == ""


def test_verbose_one_draws_a_progress_line_on_long_fits(capsys, monkeypatch):
    """The bar waits a second before it shows; make every fit "long"."""
    from fastlinreg import _progress

    monkeypatch.setattr(_progress, "_BAR_DELAY", 0.0)
    monkeypatch.setitem(__import__("sys").modules, "tqdm", None)  # the plain line
    monkeypatch.setitem(__import__("sys").modules, "tqdm.auto", None)
    X, y = problem(500, 2)
    model = LinearRegression(verbose=1, solver="gd").fit(X, y)
    err = capsys.readouterr().err
    assert f"iteration {model.n_iter_}/1000" in err
    assert err.endswith("\n")


def test_accurate_gradient_is_exact_where_float64_sums_are_not():
    """AccurateMSE's gradient equals the exact rational one (Fraction) on data
    whose float64 gradient loses most of its digits to cancellation."""
    from fractions import Fraction

    from fastlinreg._accurate import AccurateMSE
    from fastlinreg._coords import Coordinates

    rng = np.random.default_rng(3)
    x = np.arange(21.0)
    X = np.column_stack([x**p for p in range(1, 6)])
    y = X @ np.ones(5) + 1.0 + 1e7 * rng.standard_normal(21)  # Wampler5-like
    coords = Coordinates(X.mean(0), X.std(0), True, float(y.mean()))
    theta = rng.normal(size=6)
    _, grad = AccurateMSE(X, y, coords)(theta)
    coef, c = coords.split(theta)
    F = Fraction
    e = [
        F(float(yi))
        - F(coords.y_offset)
        - F(c)
        - sum(
            F(float(xij)) * F(float(cj)) - F(float(oj)) * F(float(cj))
            for xij, oj, cj in zip(row, coords.offset, coef, strict=True)
        )
        for yi, row in zip(y, X, strict=True)
    ]
    exact = [
        -2
        * sum(
            (F(float(row[j])) - F(float(coords.offset[j]))) * ei
            for row, ei in zip(X, e, strict=True)
        )
        / 21
        for j in range(5)
    ]
    exact_theta = [
        float(g / F(float(s))) for g, s in zip(exact, coords.scale, strict=True)
    ]
    np.testing.assert_allclose(grad[:5], exact_theta, rtol=1e-14)
    assert grad[5] == pytest.approx(float(-2 * sum(e) / 21), rel=1e-14)
