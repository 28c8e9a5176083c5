"""Divergence and overflow: a step far too large, or data near the limits of
floating point, end in a clear error (``DivergenceError``, ``ValueError``) or
a warning, never in NaN/inf coefficients returned silently, never in a wrong
answer presented as converged, and never with NumPy's own RuntimeWarnings
(overflow, invalid value) escaping from inside fastlinreg.

Everything goes through the public API. The ``xfail(strict=True)`` tests are
known bugs (reproductions for the report; see also ``KNOWN_BUGS`` in
``test_fuzz.py``): once one is fixed, its test passes, fails as XPASS, and its
marker goes.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fastlinreg
from fastlinreg import DivergenceError, LinearRegression

FLOAT64_MAX = float(np.finfo(np.float64).max)
FLOAT32_MAX = float(np.finfo(np.float32).max)


def data(n: int = 50, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    return X, X @ [1.0, 2.0] + 1.0 + 0.1 * rng.normal(size=n)


def lstsq(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    A = np.column_stack([X, np.ones(len(X))])
    sol, *_ = np.linalg.lstsq(A, y, rcond=None)
    return sol[:-1], float(sol[-1])


def call(fn: Callable[[], Any]) -> tuple[Any, BaseException | None, list[Any]]:
    """(result, exception, warnings) of ``fn()``; no warning becomes an error."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            return fn(), None, list(caught)
        except Exception as exc:
            return None, exc, list(caught)


def numpy_warnings(caught: list[Any]) -> list[str]:
    """NumPy's floating-point warnings (RuntimeWarning: overflow, invalid, ...)."""
    return [
        f"{w.category.__name__}: {w.message} ({w.filename}:{w.lineno})"
        for w in caught
        if issubclass(w.category, RuntimeWarning)
    ]


def assert_fitted_finite(model: LinearRegression) -> None:
    assert np.isfinite(model.coef_).all(), model.coef_
    assert np.isfinite(model.intercept_), model.intercept_
    assert np.isfinite(model.loss_curve_).all()


BACKENDS = fastlinreg.available_backends()


# --------------------------------------------------------------------------
# A learning rate far too large
# --------------------------------------------------------------------------


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("learning_rate", [1.0, 1e3, 1e10, 1e100])
def test_too_large_a_step_raises_divergence_error(backend, precompute, learning_rate):
    X, y = data()
    model = LinearRegression(
        learning_rate=learning_rate, precompute=precompute, backend=backend
    )
    _, exc, caught = call(lambda: model.fit(X, y))
    assert isinstance(exc, DivergenceError), exc
    assert isinstance(exc, FloatingPointError)  # an ArithmeticError
    message = str(exc)
    assert "learning_rate" in message
    assert "safe" in message  # names a step that would be stable
    assert not numpy_warnings(caught)
    # Unfitted: nothing half-set.
    assert not hasattr(model, "coef_")
    assert not hasattr(model, "n_features_in_")
    with pytest.raises(fastlinreg.NotFittedError):
        model.predict(X)


def test_the_safe_step_it_names_converges():
    X, y = data()
    with pytest.raises(DivergenceError) as info:
        LinearRegression(learning_rate=10.0).fit(X, y)
    safe = float(info.value.args[0].split("steps below ")[1].split(" ")[0])
    model = LinearRegression(learning_rate=safe, max_iter=20_000).fit(X, y)
    assert model.converged_
    coef, _b = lstsq(X, y)
    np.testing.assert_allclose(model.coef_, coef, rtol=1e-6)


def test_divergence_keeps_the_previous_fit():
    """A refit that diverges leaves the previous fit as it was."""
    X, y = data()
    model = LinearRegression().fit(X, y)
    before = (model.coef_.copy(), model.intercept_, model.n_iter_)
    model.set_params(learning_rate=100.0)
    with pytest.raises(DivergenceError):
        model.fit(X * 3.0, y)
    np.testing.assert_array_equal(model.coef_, before[0])
    assert (model.intercept_, model.n_iter_) == before[1:]
    np.testing.assert_allclose(model.predict(X), y, atol=1.0)


@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("learning_rate", [1.0, 1e3, 1e10, 1e100])
def test_nesterov_with_too_large_a_step_converges_or_warns(precompute, learning_rate):
    """Nesterov's method corrects an optimistic step (it doubles its curvature
    estimate); it ends converged, or warns: never NaN, never silently wrong."""
    X, y = data()
    model = LinearRegression(
        learning_rate=learning_rate, precompute=precompute, solver="nesterov"
    )
    _, exc, caught = call(lambda: model.fit(X, y))
    assert not numpy_warnings(caught)
    if exc is not None:
        assert isinstance(exc, DivergenceError | ValueError), exc
        return
    assert_fitted_finite(model)
    if model.converged_:
        coef, _b = lstsq(X, y)
        np.testing.assert_allclose(model.coef_, coef, rtol=1e-6)
    else:
        assert any(
            issubclass(w.category, fastlinreg.ConvergenceWarning) for w in caught
        )


@pytest.mark.parametrize("learning_rate", [1e300, 2**64, 10**300])
@pytest.mark.parametrize(
    ("solver", "precompute"), [("gd", True), ("gd", False), ("nesterov", True)]
)
def test_no_runtime_warning_for_a_huge_learning_rate(solver, precompute, learning_rate):
    """Found by the fuzz (NumPy's overflow warnings in the solver, and
    np.isfinite's TypeError for ints beyond int64): fixed."""
    X, y = data()
    model = LinearRegression(
        learning_rate=learning_rate, precompute=precompute, solver=solver
    )
    _, exc, caught = call(lambda: model.fit(X, y))
    assert exc is None or isinstance(exc, DivergenceError), repr(exc)
    if exc is not None:
        assert "learning_rate" in str(exc)
    assert not numpy_warnings(caught)


@pytest.mark.parametrize(
    "init", [{"coef_init": [1e308, 1e308]}, {"intercept_init": 1e308}]
)
def test_no_runtime_warning_for_a_huge_start(init):
    X, y = data()
    _, exc, caught = call(lambda: LinearRegression().fit(X, y, **init))
    assert not numpy_warnings(caught)
    assert exc is None or "init" in str(exc)


# --------------------------------------------------------------------------
# Values near the limits of float64 and float32
# --------------------------------------------------------------------------

OVERFLOW_WORDS = ("overflow", "too large", "rescale", "finite")


def assert_clear_error_or_right(
    X: np.ndarray, y: np.ndarray, model: LinearRegression, *, rtol: float = 1e-6
) -> None:
    """fit(X, y) raises a ValueError/DivergenceError saying what is wrong, or
    returns the least-squares answer (finite); no NumPy warning either way."""
    _, exc, caught = call(lambda: model.fit(X, y))
    assert not numpy_warnings(caught)
    if exc is not None:
        assert isinstance(exc, ValueError | DivergenceError), repr(exc)
        assert any(word in str(exc).lower() for word in OVERFLOW_WORDS), str(exc)
        assert not hasattr(model, "coef_")
        return
    assert_fitted_finite(model)
    # The fitted values (unique even when the coefficients are not), compared
    # on the same problem scaled to numbers near 1.
    Xd, yd = X.astype(np.float64), y.astype(np.float64)
    scale_x = np.abs(Xd).max(axis=0)
    scale_y = np.abs(yd).max()
    Xs, ys = Xd / scale_x, yd / scale_y
    coef, b = lstsq(Xs, ys)
    got_coef = np.asarray(model.coef_, np.float64) * (scale_x / scale_y)
    got = Xs @ got_coef + float(model.intercept_) / scale_y
    np.testing.assert_allclose(got, Xs @ coef + b, rtol=0, atol=rtol)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize(
    ("x_scale", "y_scale"),
    [(1e300, 1.0), (1.0, 1e300), (1e300, 1e300), (1e200, 1e200), (1e155, 1.0)],
)
def test_values_near_float64_max(backend, precompute, x_scale, y_scale):
    X, y = data()
    assert_clear_error_or_right(
        X * x_scale,
        y * y_scale,
        LinearRegression(precompute=precompute, backend=backend),
    )


@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("value", [FLOAT64_MAX, -FLOAT64_MAX])
def test_a_single_float64_max(precompute, value):
    X, y = data()
    X[7, 1] = value
    assert_clear_error_or_right(X, y, LinearRegression(precompute=precompute))
    X, y = data()
    y[3] = value
    assert_clear_error_or_right(X, y, LinearRegression(precompute=precompute))


@pytest.mark.parametrize("precompute", [True, False])
def test_data_far_from_zero(precompute):
    """X + 1e300 rounds every value of a column to the same double: the fit
    is the constant model (or a clear error), not NaN."""
    X, y = data()
    assert_clear_error_or_right(X + 1e300, y, LinearRegression(precompute=precompute))


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize(
    "X",
    [[[1e300]], [[1e300], [1e300]], [[1e300, 1.0], [1e300, 2.0], [1e300, 4.0]]],
    ids=["one-row", "constant", "with-another-column"],
)
def test_raw_squares_overflow_without_intercept(backend, precompute, method, X):
    """Without an intercept the solver needs the raw second moments (mean² +
    variance): they overflow here, the centred statistics do not. A clear
    error, not a zero coefficient reported as converged (found by fuzzing)."""
    if method == "partial_fit" and not precompute:
        pytest.skip("partial_fit always gathers the statistics")
    X = np.array(X)
    y = np.arange(len(X)) - 2.13
    model = LinearRegression(
        fit_intercept=False, precompute=precompute, backend=backend
    )
    _, exc, caught = call(lambda: getattr(model, method)(X, y))
    assert not numpy_warnings(caught)
    assert isinstance(exc, ValueError), repr(exc)
    assert any(word in str(exc).lower() for word in OVERFLOW_WORDS), str(exc)
    assert not hasattr(model, "coef_")


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("which", ["X", "y", "both"])
def test_values_near_float32_max(backend, precompute, which):
    """float32 data near float32's limit: the sums are float64, so the fit
    works and is right."""
    X, y = data()
    X32 = (X / np.abs(X).max() * FLOAT32_MAX * 0.9).astype(np.float32)
    y32 = (y / np.abs(y).max() * FLOAT32_MAX * 0.9).astype(np.float32)
    Xf = X32 if which in ("X", "both") else X.astype(np.float32)
    yf = y32 if which in ("y", "both") else y.astype(np.float32)
    model = LinearRegression(precompute=precompute, backend=backend)
    assert_clear_error_or_right(Xf, yf, model, rtol=1e-5)
    if which == "X":  # coefficients ~1e-38: still float32, still finite
        assert model.coef_.dtype == np.float32


@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("scale", [1e-20, 1e-100, 1e-150])
@pytest.mark.parametrize("which", ["X", "y", "both"])
def test_small_values_are_fitted_right(precompute, scale, which):
    X, y = data()
    Xs = X * scale if which in ("X", "both") else X
    ys = y * scale if which in ("y", "both") else y
    assert_clear_error_or_right(Xs, ys, LinearRegression(precompute=precompute))


def assert_right_or_warned(X: np.ndarray, y: np.ndarray, **params: Any) -> None:
    """Tiny values: the right answer, or a warning/error saying it is not."""
    model = LinearRegression(**params)
    _, exc, caught = call(lambda: model.fit(X, y))
    assert not numpy_warnings(caught)
    if exc is not None:
        assert isinstance(exc, ValueError | DivergenceError), repr(exc)
        assert any(w in str(exc) for w in ("small", "underflow")), str(exc)
        return
    if any(issubclass(w.category, UserWarning) for w in caught):
        return
    coef, _b = lstsq(X / np.abs(X).max(), y / np.abs(y).max())
    got = model.coef_ * np.abs(X).max() / np.abs(y).max()
    np.testing.assert_allclose(got, coef, rtol=1e-6)


@pytest.mark.parametrize(
    ("scale", "which", "precompute"),
    [
        (1e-300, "X", "auto"),
        (1e-300, "X", False),
        (1e-300, "y", "auto"),
        (1e-300, "both", "auto"),
        (1e-200, "y", False),
        (1e-160, "y", False),
        (1e-160, "both", False),
    ],
)
def test_tiny_values_are_fitted_right_or_warned(scale, which, precompute):
    X, y = data()
    Xs = X * scale if which in ("X", "both") else X
    ys = y * scale if which in ("y", "both") else y
    assert_right_or_warned(Xs, ys, precompute=precompute)


@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_float32_coefficients_that_overflow(method):
    X = np.array([[1e-3], [2e-3], [3e-3]], dtype=np.float32)
    y = np.array([1e38, 2e38, 3e38], dtype=np.float32)
    model = LinearRegression(fit_intercept=False)
    _, exc, caught = call(lambda: getattr(model, method)(X, y))
    assert not numpy_warnings(caught)
    if exc is None:  # float64 coefficients would do, or an error
        assert np.isfinite(model.coef_).all(), model.coef_


@pytest.mark.parametrize("penalty", ["l2", "l1", "elasticnet"])
@pytest.mark.parametrize("alpha", [1e100, 1e308])
def test_huge_alpha_gives_zero_coefficients(penalty, alpha):
    X, y = data()
    model = LinearRegression(alpha=alpha, penalty=penalty)
    _, exc, caught = call(lambda: model.fit(X, y))
    assert not numpy_warnings(caught)
    assert exc is None, exc
    np.testing.assert_array_equal(model.coef_, 0.0)
    assert model.intercept_ == pytest.approx(y.mean())


def test_huge_alpha_with_a_narrow_column():
    X, y = data()
    X[:, 1] *= 0.5
    model = LinearRegression(alpha=1e308)
    _, exc, caught = call(lambda: model.fit(X, y))
    assert not numpy_warnings(caught)
    assert exc is None, exc
    np.testing.assert_array_equal(model.coef_, 0.0)


# --------------------------------------------------------------------------
# predict, score and loss_gradient beyond float64
# --------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["predict", "score"])
def test_predict_overflow_is_reported(method):
    X, y = data()
    model = LinearRegression().fit(X, y)
    Xb = np.array([[FLOAT64_MAX / 2, FLOAT64_MAX / 2], [0.0, 0.0]])
    args = (Xb,) if method == "predict" else (Xb, [1.0, 2.0])
    out, exc, caught = call(lambda: getattr(model, method)(*args))
    assert not numpy_warnings(caught)
    if exc is not None:
        assert isinstance(exc, ValueError), exc
    else:
        assert not np.isnan(out).any()


def test_float32_predictions_whose_partial_sums_overflow():
    """Two terms beyond float32's range with opposite signs: their float32 sum
    overflows on the way, the prediction itself does not (found by fuzzing)."""
    X = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]], np.float32)
    model = LinearRegression(fit_intercept=False).fit(X, [3e38, -3e38, 0.0])
    Xp = np.array([[2.0, 1.5]], np.float32)  # 6e38 - 4.5e38 = 1.5e38
    pred, exc, caught = call(lambda: model.predict(Xp))
    assert exc is None, exc
    assert not numpy_warnings(caught)
    assert pred.dtype == np.float32
    want = Xp.astype(np.float64) @ model.coef_.astype(np.float64)
    np.testing.assert_allclose(pred, want, rtol=1e-6)


@pytest.mark.parametrize("y", [[1e308, -1e308], [1e300]], ids=["two", "one"])
def test_score_overflow_is_reported(y):
    X, y0 = data()
    model = LinearRegression().fit(X, y0)
    out, exc, caught = call(lambda: model.score(X[: len(y)], y))
    assert not numpy_warnings(caught)
    if exc is not None:
        assert isinstance(exc, ValueError), exc
    else:
        assert np.isfinite(out)


@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_gradient_overflow_is_reported(backend):
    X, y = data()
    out, exc, caught = call(
        lambda: fastlinreg.loss_gradient(X * 1e200, y, [1.0, 1.0], backend=backend)
    )
    assert not numpy_warnings(caught)
    if exc is not None:
        assert isinstance(exc, ValueError), exc
    else:
        loss, grad, grad_b = out
        assert not (np.isnan(loss))
        assert not (np.isnan(grad).any())
        assert not (np.isnan(grad_b))


@pytest.mark.parametrize("backend", BACKENDS)
def test_loss_gradient_near_the_limit_is_right(backend):
    """Large but representable values: the formula's answer, no warning."""
    X, y = data()
    X, y = X * 1e100, y * 1e100
    coef = np.array([1.0, 2.0])
    out, exc, caught = call(
        lambda: fastlinreg.loss_gradient(X, y, coef, 1e100, backend=backend)
    )
    assert exc is None
    assert not numpy_warnings(caught)
    e = y - X @ coef - 1e100
    loss, grad, grad_b = out
    np.testing.assert_allclose(loss, e @ e / len(y), rtol=1e-10)
    np.testing.assert_allclose(grad, -2 * X.T @ e / len(y), rtol=1e-8)
    np.testing.assert_allclose(grad_b, -2 * e.mean(), rtol=1e-8)


# --------------------------------------------------------------------------
# No NaN, ever: a grid of scales and steps
# --------------------------------------------------------------------------


@pytest.mark.parametrize("precompute", [True, False])
@pytest.mark.parametrize("solver", ["auto", "gd", "nesterov"])
@pytest.mark.parametrize("learning_rate", ["auto", 1e-3, 0.5, 1e6])
@pytest.mark.parametrize("scale", [1e-150, 1.0, 1e30, 1e150, 1e250])
def test_never_nan_coefficients(precompute, solver, learning_rate, scale):
    """Whatever the step and scale: finite coefficients, or an exception;
    a model that did not converge says so."""
    X, y = data()
    model = LinearRegression(
        learning_rate=learning_rate,
        precompute=precompute,
        solver=solver,
        max_iter=200,
    )
    _, exc, caught = call(lambda: model.fit(X * scale, y * scale))
    if exc is not None:
        assert isinstance(exc, ValueError | DivergenceError), repr(exc)
        return
    assert_fitted_finite(model)
    if not model.converged_:
        assert any(
            issubclass(w.category, fastlinreg.ConvergenceWarning) for w in caught
        )


# --------------------------------------------------------------------------
# Found by test_fuzz.py near the limits: NumPy's warnings (fixed), and a
# loss curve that ends in NaN (still open)
# --------------------------------------------------------------------------

X3 = [[5.189, 4.477, 4.587], [2.559, 6.800, 6.144], [4.675, 5.774, 5.281]]


@pytest.mark.parametrize(
    "case",
    [
        ("fit", data()[0], data()[1], {"learning_rate": FLOAT64_MAX}, {}),
        ("fit", [[0.5]], [1e300], {"fit_intercept": False}, {}),
        (
            "fit",
            [[1e154, -0.132], [0.64, 0.105]],
            [-4.11, -3.95],
            {},
            {"sample_weight": [1.58, 2.86]},
        ),
        ("partial_fit", X3, [1e154, -45.19, -35.97], {"fit_intercept": False}, {}),
    ],
    ids=["max-learning-rate", "huge-target", "weighted", "partial_fit"],
)
def test_no_runtime_warning_near_the_limits(case):
    """NumPy's overflow RuntimeWarnings escaped from the solver here ('invalid
    value in matmul', 'scalar power', 'multiply'): fixed."""
    method, X, y, params, kwargs = case
    model = LinearRegression(**params)
    _, exc, caught = call(lambda: getattr(model, method)(X, y, **kwargs))
    assert not numpy_warnings(caught)
    if exc is not None:
        assert isinstance(exc, ValueError | DivergenceError), exc
        assert any(w in str(exc).lower() for w in OVERFLOW_WORDS), exc


def test_loss_curve_near_the_limits(backend):
    """partial_fit on y with a value of 1e154 (fit_intercept=False): CG's
    curvature along its direction (theta near 1e154, squared) overflowed, so
    it stood still for 1000 iterations at 3.3e307 (earlier: a loss_curve_
    ending in NaN), and only the final refinement found the answer. Fixed:
    the direction is scaled by a power of two first."""
    y = [1e154, -45.19, -35.97]
    model = LinearRegression(fit_intercept=False, backend=backend)
    _, exc, caught = call(lambda: model.partial_fit(X3, y))
    assert exc is None, exc
    assert not numpy_warnings(caught)
    assert model.converged_
    assert np.isfinite(model.loss_curve_).all(), model.loss_curve_[-3:]
    # 3 unknowns: CG needs 3 steps, and a few more at rounding level
    assert model.n_iter_ < 10, model.n_iter_
    want = np.linalg.solve(np.asarray(X3), y)
    np.testing.assert_allclose(model.coef_, want, rtol=1e-9)
