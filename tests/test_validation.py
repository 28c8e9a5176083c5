"""Input validation of the public API: clear errors, dtype rules, no copies.

``fastlinreg.loss_gradient`` and ``LinearRegression.fit/predict/score`` must
reject bad input with a ``ValueError``/``TypeError`` naming the problem (and
no stray ``RuntimeWarning``, which the test configuration turns into errors),
convert dtypes as documented, and read C-contiguous float input in place.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastlinreg
from fastlinreg import LinearRegression

N, D = 8, 2


def clean_data():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D))
    y = X @ [1.5, -2.0] + 0.5 + 0.1 * rng.normal(size=N)
    return X, y


def _set(*entries):
    """A maker of X with ``X[i, j] = value`` for each ``(i, j, value)``."""

    def make(X):
        X = X.copy()
        for i, j, value in entries:
            X[i, j] = value
        return X

    return make


def _sparse(kind):
    return lambda X: getattr(pytest.importorskip("scipy.sparse"), kind)(X)


# name -> (make bad X from the clean X, exception, message pattern)
BAD_X = {
    "nan": (_set((3, 1, np.nan)), ValueError, "NaN"),
    "inf": (_set((2, 0, np.inf)), ValueError, "infinity"),
    "-inf": (_set((2, 0, -np.inf)), ValueError, "infinity"),
    "+inf and -inf": (_set((2, 0, np.inf), (5, 1, -np.inf)), ValueError, "infinity"),
    "3-D": (lambda X: np.stack([X, X], axis=2), ValueError, "3 dimensions"),
    "empty": (lambda X: X[:0], ValueError, "0 sample"),
    "zero features": (lambda X: X[:, :0], ValueError, "0 feature"),
    "complex": (lambda X: X + 1j, ValueError, "[Cc]omplex"),
    "strings": (lambda X: X.astype(str), TypeError, "string"),
    "dict object": (
        lambda X: np.array([[{"a": 1}, 1.0]] * len(X), dtype=object),
        TypeError,
        "not numbers",
    ),
    "sparse matrix": (_sparse("csr_matrix"), TypeError, "sparse"),
    "sparse array": (_sparse("csr_array"), TypeError, "sparse"),
    "None": (lambda X: None, ValueError, "None"),
}

# name -> (make bad y from the clean y, exception, message pattern)
BAD_Y = {
    "nan": (
        lambda y: np.where(np.arange(N) == 3, np.nan, y),
        ValueError,
        "y contains NaN",
    ),
    "inf": (
        lambda y: np.where(np.arange(N) == 3, np.inf, y),
        ValueError,
        "y contains inf",
    ),
    "-inf": (
        lambda y: np.where(np.arange(N) == 3, -np.inf, y),
        ValueError,
        "y contains inf",
    ),
    "too short": (lambda y: y[:-1], ValueError, "inconsistent numbers of samples"),
    "too long": (
        lambda y: np.append(y, 1.0),
        ValueError,
        "inconsistent numbers of samples",
    ),
    "None": (lambda y: None, ValueError, "y is None"),
    "three dims": (lambda y: y[:, None, None], ValueError, "1-D"),
    "complex": (lambda y: y + 1j, ValueError, "[Cc]omplex"),
    "strings": (lambda y: y.astype(str), TypeError, "string"),
}


def call(entry, X, y, backend):
    """Run a public entry point; the model for predict/score is fitted on clean data."""
    if entry == "fit":
        return LinearRegression(backend=backend).fit(X, y)
    if entry == "loss_gradient":
        return fastlinreg.loss_gradient(X, y, np.zeros(D), backend=backend)
    model = LinearRegression(backend=backend).fit(*clean_data())
    return model.predict(X) if entry == "predict" else model.score(X, y)


@pytest.mark.parametrize("entry", ["fit", "predict", "score", "loss_gradient"])
@pytest.mark.parametrize("case", list(BAD_X))
def test_bad_X_is_rejected(backend, case, entry):
    make, exc, match = BAD_X[case]
    X, y = clean_data()
    Xb = make(X)
    yb = y if Xb is None or Xb.shape[0] == N else y[: Xb.shape[0]]
    with pytest.raises(exc, match=match):
        call(entry, Xb, yb, backend)


@pytest.mark.parametrize("entry", ["fit", "score", "loss_gradient"])
@pytest.mark.parametrize("case", list(BAD_Y))
def test_bad_y_is_rejected(backend, case, entry):
    make, exc, match = BAD_Y[case]
    X, y = clean_data()
    with pytest.raises(exc, match=match):
        call(entry, X, make(y), backend)


@pytest.mark.parametrize(
    ("params", "exc", "match"),
    [
        ({"learning_rate": -1}, ValueError, "learning_rate"),
        ({"learning_rate": 0}, ValueError, "learning_rate"),
        ({"learning_rate": float("nan")}, ValueError, "learning_rate"),
        ({"learning_rate": float("inf")}, ValueError, "learning_rate"),
        ({"learning_rate": "fast"}, ValueError, "learning_rate"),
        ({"learning_rate": None}, TypeError, "learning_rate"),
        ({"max_iter": 0}, ValueError, "max_iter"),
        ({"max_iter": -3}, ValueError, "max_iter"),
        ({"max_iter": 1.5}, TypeError, "max_iter"),
        ({"tol": -1}, ValueError, "tol"),
        ({"tol": float("nan")}, ValueError, "tol"),
        ({"tol": "small"}, TypeError, "tol"),
        ({"fit_intercept": "yes"}, TypeError, "fit_intercept"),
        ({"backend": "gpu"}, ValueError, "backend"),
        ({"n_jobs": 0}, ValueError, "n_jobs"),
        ({"n_jobs": 1.5}, ValueError, "n_jobs"),
    ],
)
def test_invalid_params_raise_at_fit(params, exc, match):
    model = LinearRegression(**params)  # accepted until fit, as in scikit-learn
    with pytest.raises(exc, match=match):
        model.fit(*clean_data())


@pytest.mark.parametrize(
    ("kwargs", "exc", "match"),
    [
        ({"backend": "gpu"}, ValueError, "backend"),
        ({"n_jobs": 0}, ValueError, "n_jobs"),
        ({"coef": np.zeros(D + 1)}, ValueError, "coef"),
        ({"coef": [np.nan, 0.0]}, ValueError, "coef contains NaN"),
        ({"intercept": np.inf}, ValueError, "finite"),
    ],
)
def test_loss_gradient_invalid_arguments(kwargs, exc, match):
    X, y = clean_data()
    kwargs = {"coef": np.zeros(D), **kwargs}
    with pytest.raises(exc, match=match):
        fastlinreg.loss_gradient(X, y, **kwargs)


def test_n_jobs_accepts_numpy_integer():
    X, y = clean_data()
    a = LinearRegression(n_jobs=np.int64(2)).fit(X, y)
    b = LinearRegression(n_jobs=2).fit(X, y)
    assert np.array_equal(a.coef_, b.coef_)


@pytest.mark.parametrize("entry", ["loss_gradient", "predict"])
def test_huge_finite_values_are_legal(backend, entry):
    """Finite input whose sum overflows is legal (check_finite says so)."""
    X = np.array([[1.5e308], [1.5e308], [1.0]])
    y = np.zeros(3)
    if entry == "loss_gradient":
        loss, grad, grad_b = fastlinreg.loss_gradient(X, y, [0.0], backend=backend)
        assert (loss, grad.tolist(), grad_b) == (0.0, [0.0], 0.0)
    else:
        model = LinearRegression(backend=backend).fit([[0.0], [1.0], [2.0]], [1.0] * 3)
        np.testing.assert_array_equal(model.predict(X), [1.0, 1.0, 1.0])


# --------------------------------------------------------------------------
# dtypes, memory layouts
# --------------------------------------------------------------------------


def regression_data(n=300, d=3, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * [1.0, 10.0, 0.1][:d] + [2.0, -5.0, 0.0][:d]
    y = X @ np.arange(1.0, d + 1) + 1.0 + rng.normal(size=n)
    return X, y


def assert_same_model(a, b):
    assert a.coef_.dtype == b.coef_.dtype
    assert np.array_equal(a.coef_, b.coef_)
    assert a.intercept_ == b.intercept_
    assert np.array_equal(a.loss_curve_, b.loss_curve_)


@pytest.mark.parametrize("kind", ["int", "bool"])
def test_int_and_bool_X_are_fitted_in_float64(backend, kind):
    X, y = regression_data()
    Xk = (X * 3).astype(np.int64) if kind == "int" else X > 0
    model = LinearRegression(backend=backend).fit(Xk, y)
    assert model.coef_.dtype == np.float64
    assert model.predict(Xk).dtype == np.float64
    assert_same_model(model, LinearRegression(backend=backend).fit(Xk.astype(float), y))


@pytest.mark.parametrize(
    ("dtype", "expected"),
    [
        (np.float32, np.float32),
        (np.float16, np.float32),
        (">f4", np.float32),
    ],
)
def test_low_precision_X_gives_float32_model(backend, dtype, expected):
    X, y = regression_data()
    Xl = X.astype(dtype)
    model = LinearRegression(backend=backend).fit(Xl, y)
    assert model.coef_.dtype == expected
    assert np.asarray(model.intercept_).dtype == expected
    assert model.predict(Xl).dtype == expected
    assert_same_model(
        model, LinearRegression(backend=backend).fit(Xl.astype(np.float32), y)
    )


@pytest.mark.parametrize(
    "layout",
    ["fortran", "column stride", "row stride", "byte-swapped", "list", "longdouble"],
)
def test_layouts_give_the_c_ordered_result(backend, layout):
    X, y = regression_data()
    big = np.zeros((2 * len(X), 2 * X.shape[1]))
    variants = {
        "fortran": lambda: np.asfortranarray(X),
        "column stride": lambda: _put(big[: len(X), ::2], X),
        "row stride": lambda: _put(big[::2, : X.shape[1]], X),
        "byte-swapped": lambda: X.astype(">f8"),
        "list": X.tolist,
        "longdouble": lambda: X.astype(np.longdouble),
    }
    Xv = variants[layout]()
    want = LinearRegression(backend=backend).fit(X, y)
    got = LinearRegression(backend=backend).fit(Xv, y)
    assert_same_model(got, want)
    np.testing.assert_array_equal(got.predict(Xv), want.predict(X))


def _put(view, values):
    view[...] = values
    return view


def test_one_d_X_is_one_feature(backend):
    X, y = regression_data(d=1)
    a = LinearRegression(backend=backend).fit(X[:, 0], y)
    assert a.n_features_in_ == 1
    assert_same_model(a, LinearRegression(backend=backend).fit(X, y))


def test_column_y_is_flattened_with_a_warning(backend):
    X, y = regression_data()
    with pytest.warns(fastlinreg.DataConversionWarning, match="ravel"):
        a = LinearRegression(backend=backend).fit(X, y[:, None])
    assert_same_model(a, LinearRegression(backend=backend).fit(X, y))


def test_float32_y_with_float64_X(backend):
    X, y = regression_data()
    a = LinearRegression(backend=backend).fit(X, y.astype(np.float32))
    assert a.coef_.dtype == np.float64
    assert_same_model(
        a, LinearRegression(backend=backend).fit(X, y.astype(np.float32).astype(float))
    )


# --------------------------------------------------------------------------
# No copy of C-contiguous float input
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_memmap(tmp_path_factory):
    """2e6 x 4 float64 X (64 MB) and its y, as read-only memory maps."""
    rng = np.random.default_rng(5)
    n, d = 2_000_000, 4
    path = tmp_path_factory.mktemp("memmap")
    X = np.memmap(path / "X.dat", dtype=np.float64, mode="w+", shape=(n, d))
    y = np.memmap(path / "y.dat", dtype=np.float64, mode="w+", shape=(n,))
    for lo in range(0, n, 500_000):  # in pieces: no 64 MB temporary
        block = rng.normal(size=(500_000, d)) + np.array([1.0, -2.0, 3.0, 0.0])
        X[lo : lo + 500_000] = block
        y[lo : lo + 500_000] = block @ [1.0, 2.0, -1.0, 0.5] + rng.normal(size=500_000)
    X.flush()
    y.flush()
    del X, y
    return (
        np.memmap(path / "X.dat", dtype=np.float64, mode="r", shape=(n, d)),
        np.memmap(path / "y.dat", dtype=np.float64, mode="r", shape=(n,)),
    )


def test_fit_reads_memmap_in_place(backend, ref, big_memmap):
    X, y = big_memmap
    model = LinearRegression(backend=backend)
    peak = ref.peak_traced_memory(lambda: model.fit(X, y))
    assert peak < 0.1 * X.nbytes
    np.testing.assert_allclose(model.coef_, [1.0, 2.0, -1.0, 0.5], atol=0.01)
    peak = ref.peak_traced_memory(
        lambda: fastlinreg.loss_gradient(X, y, np.zeros(4), backend=backend)
    )
    assert peak < 0.1 * X.nbytes


def test_memory_probe_sees_a_copy(backend, ref):
    """Control for the test above: a Fortran-ordered X must be copied, and the
    probe must notice."""
    rng = np.random.default_rng(0)
    X = np.asfortranarray(rng.normal(size=(200_000, 4)))
    y = rng.normal(size=200_000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fastlinreg.ConvergenceWarning)
        peak = ref.peak_traced_memory(
            lambda: LinearRegression(backend=backend, max_iter=2).fit(X, y)
        )
    assert peak >= X.nbytes


@given(
    n=st.integers(1, 600),
    d=st.integers(1, 12),
    dtype=st.sampled_from([np.float64, np.float32]),
    where=st.sampled_from(["X", "y"]),
    value=st.sampled_from([np.nan, np.inf, -np.inf]),
    zero_coef=st.booleans(),
    data=st.data(),
)
@settings(deadline=None)
def test_loss_gradient_finds_any_non_finite_value(
    n, d, dtype, where, value, zero_coef, data
):
    """The squared loss's pass is also the NaN/inf scan of loss_gradient (no
    read ahead of it): one bad value in any row (the kernels' four-row groups
    and their leftovers), any column, with zero coefficients (inf · 0) or not,
    is reported by name on every backend."""
    rng = np.random.default_rng(n * 13 + d)
    X = rng.normal(size=(n, d)).astype(dtype)
    y = rng.normal(size=n).astype(dtype)
    i = data.draw(st.integers(0, n - 1), label="row")
    if where == "X":
        X[i, data.draw(st.integers(0, d - 1), label="column")] = value
    else:
        y[i] = value
    coef = np.zeros(d) if zero_coef else rng.normal(size=d)
    word = "NaN" if np.isnan(value) else "infinity"
    for backend in fastlinreg.available_backends():
        with pytest.raises(ValueError, match=f"Input {where} contains {word}"):
            fastlinreg.loss_gradient(X, y, coef, 0.5, backend=backend)


@pytest.mark.parametrize("row", [0, 150_001, 299_999])
def test_loss_gradient_finds_a_nan_in_a_threaded_pass(row):
    """Large enough for every thread's chunk: a NaN in the first, a middle or
    the last row."""
    X = np.ones((300_000, 1))
    X[row, 0] = np.nan
    for backend in fastlinreg.available_backends():
        with pytest.raises(ValueError, match="Input X contains NaN"):
            fastlinreg.loss_gradient(
                X, np.ones(300_000), [1.0], backend=backend, n_jobs=2
            )


def test_loss_gradient_overflow_is_not_called_bad_input():
    """Finite data whose squared residuals overflow: the overflow message."""
    X = np.array([[1e200], [2e200], [3e200]])
    with pytest.raises(ValueError, match="overflows float64"):
        fastlinreg.loss_gradient(X, np.zeros(3), [1.0])


def test_edges_of_the_api_end_in_the_right_error_or_answer(tmp_path):
    """Issue 24's API edges: a Python int beyond float64 is a ValueError
    naming X; max_iter beyond C's integers works; weights near float64's
    limits (all 1e-320, all 1e307) give the unweighted fit and results
    invariant to their scale, without a warning; save_model of two targets
    says what it cannot do."""
    import warnings

    from fastlinreg import LinearRegression
    from fastlinreg.cli import save_model

    with pytest.raises(ValueError, match="X holds an integer too large"):
        LinearRegression().fit([[10**400], [1]], [1.0, 2.0])
    model = LinearRegression(max_iter=2**63).fit([[1.0], [2.0], [3.0]], [1, 2, 4])
    assert model.coef_[0] == pytest.approx(1.5)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100, 2))
    y = X @ [1.0, 2.0] + rng.normal(size=100)
    plain = LinearRegression().fit(X, y)
    for value in (1e-320, 1e307):
        w = np.full(100, value)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            weighted = LinearRegression().fit(X, y, sample_weight=w)
        np.testing.assert_allclose(weighted.coef_, plain.coef_, rtol=1e-12)
        assert w[0] == value  # (the caller's weights untouched)
    w = rng.uniform(size=100)
    a = LinearRegression().fit(X, y, sample_weight=w).inference_
    b = LinearRegression().fit(X, y, sample_weight=w * 2.0**-1030).inference_
    np.testing.assert_allclose(b.bse, a.bse, rtol=1e-12)
    assert b.llf == pytest.approx(a.llf, rel=1e-12)
    with pytest.raises(ValueError, match="one target"):
        save_model(LinearRegression().fit(X, np.c_[y, y]), tmp_path / "two.json")
