"""The public ``loss_gradient``: the objective and its gradient in one pass."""

from __future__ import annotations

from types import ModuleType
from typing import Literal

import numpy as np
import numpy.typing as npt

from ._backend import Engine
from ._losses import Loss, check_loss
from ._typing import F64, FloatArray
from ._validation import (
    check_coef,
    check_finite,
    check_sample_weight,
    check_scalar,
    check_X_y,
)

__all__ = ["loss_gradient"]


def loss_gradient(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    coef: npt.ArrayLike,
    intercept: float = 0.0,
    *,
    loss: str = "squared_error",
    epsilon: float = 0.1,
    quantile: float = 0.5,
    sample_weight: npt.ArrayLike | None = None,
    backend: Literal["auto", "cython", "numpy"] = "auto",
    n_jobs: int | None = None,
) -> tuple[float, F64, float]:
    """Mean loss and its gradient, in one pass over the data.

    With residuals ``e = y - X @ coef - intercept`` and weights ``s`` (all 1
    by default), the objective is ``sum(s * loss(e)) / sum(s)``; for the
    default squared error that is ``mean(e**2)``, whose gradient is
    ``-2 * X.T @ e / n`` for the coefficients and ``-2 * mean(e)`` for the
    intercept. The losses are those of :class:`LinearRegression` (see its
    ``loss`` parameter); for the non-smooth ones the gradient is a
    subgradient (at a kink: 0 for ``|e|``, the midpoint of the two slopes
    for the pinball loss).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or (n_samples,)
        Features; a 1-D array is one feature.
    y : array-like of shape (n_samples,)
        Target.
    coef : array-like of shape (n_features,)
        Coefficients at which to evaluate.
    intercept : float, default=0.0
        Intercept at which to evaluate.
    loss : {"squared_error", "absolute_error", "huber", "quantile", \
"epsilon_insensitive"}, default="squared_error"
        The loss.
    epsilon : float, default=0.1
        Threshold of ``"huber"`` and width of ``"epsilon_insensitive"``.
    quantile : float, default=0.5
        Level of the ``"quantile"`` (pinball) loss, in (0, 1).
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights of the rows.
    backend : {"auto", "cython", "numpy"}, default="auto"
        Kernels to run (see :func:`fastlinreg.available_backends`).
    n_jobs : int or None, default=None
        Threads for the compiled kernel; None uses all that OpenMP offers.

    Returns
    -------
    loss : float
        The (weighted) mean loss.
    grad_coef : ndarray of shape (n_features,)
        Its gradient with respect to ``coef``.
    grad_intercept : float
        Its derivative with respect to ``intercept``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlinreg import loss_gradient
    >>> X = np.array([0.0, 1.0, 2.0])
    >>> y = 2.0 * X + 1.0
    >>> loss, g, gb = loss_gradient(X, y, [2.0], 1.0)
    >>> float(loss), g.tolist() == [0.0], gb == 0.0
    (0.0, True, True)
    >>> loss_gradient(X, y, [2.0], 0.0, loss="absolute_error")[0]
    1.0
    """
    spec = check_loss(loss, epsilon, quantile)
    # The plain squared error sums e² over every row with nothing skipped, so
    # a NaN or infinity anywhere in X or y makes the loss non-finite: its
    # pass doubles as the scan (which would read the data a second time).
    plain = spec.name == "squared_error" and sample_weight is None
    Xa, ya = check_X_y(X, y, finite=not plain)
    d = Xa.shape[1]
    weights = check_sample_weight(sample_weight, Xa.shape[0])
    w = check_coef(coef, d, "coef")
    b = check_scalar(intercept, "intercept")
    engine = Engine.resolve(backend, n_jobs)
    kernels = engine.kernels
    n_threads = engine.threads(Xa.size)
    grad = np.empty(d)
    with np.errstate(over="ignore", invalid="ignore"):
        if plain:
            value, grad_b = kernels.loss_gradient(
                Xa, ya, w, b, np.zeros(d), 0.0, grad, n_threads
            )
        else:
            total = float(Xa.shape[0] if weights is None else weights.sum())
            value, grad_b = _robust_mean(
                kernels, Xa, ya, weights, w, b, spec, grad, n_threads, total
            )
    if not (np.isfinite(value) and np.isfinite(grad_b) and np.isfinite(grad).all()):
        if plain:  # which input is not finite, if one is
            check_finite(Xa, "X")
            check_finite(ya, "y")
        raise ValueError(
            "the loss or its gradient overflows float64 for these values of X, "
            "y, coef and intercept; rescale them"
        )
    return float(value), grad, float(grad_b)


def _robust_mean(
    kernels: ModuleType,
    Xa: FloatArray,
    ya: FloatArray,
    weights: F64 | None,
    w: F64,
    b: float,
    spec: Loss,
    grad: F64,
    n_threads: int,
    total: float,
) -> tuple[float, float]:
    """The weighted mean loss by the robust kernel (no smoothing), and
    ``grad`` divided by the weight ``total`` in place."""
    value, grad_b, _ = kernels.robust_loss_gradient(
        Xa,
        ya,
        np.empty(0) if weights is None else weights,
        w,
        b,
        np.zeros(w.shape[0]),
        0.0,
        spec.code,
        spec.epsilon,
        spec.quantile,
        0.0,
        grad,
        np.empty((0, 0)),
        n_threads,
    )
    grad /= total
    return float(value) / total, float(grad_b) / total
