"""Linear regression fitted by gradient descent on the mean squared error."""

from __future__ import annotations

import warnings
from types import ModuleType
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt

from ._backend import get_kernels, resolve_backend, resolve_n_threads
from ._base import EstimatorBase
from ._exceptions import ConvergenceWarning, DivergenceError
from ._solver import SolverResult, gradient_descent
from ._validation import (
    FloatArray,
    check_finite,
    check_params,
    check_X,
    check_X_y,
)

__all__ = ["LinearRegression", "loss_gradient"]

F64 = npt.NDArray[np.float64]


def loss_gradient(
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    coef: npt.ArrayLike,
    intercept: float = 0.0,
    *,
    backend: Literal["auto", "cython", "numpy"] = "auto",
    n_jobs: int | None = None,
) -> tuple[float, F64, float]:
    """Mean squared error and its gradient, in one pass over the data.

    With residuals ``e = y - X @ coef - intercept``, the objective is
    ``mean(e**2)`` and its gradient is ``-2 * X.T @ e / n`` for the
    coefficients and ``-2 * mean(e)`` for the intercept.

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
    backend : {"auto", "cython", "numpy"}, default="auto"
        Kernels to run (see :func:`fastlinreg.available_backends`).
    n_jobs : int or None, default=None
        Threads for the compiled kernel; None uses all that OpenMP offers.

    Returns
    -------
    loss : float
        The mean squared error.
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
    >>> float(loss), g.tolist(), float(gb)
    (0.0, [0.0], 0.0)
    """
    Xa, ya = check_X_y(X, y)
    d = Xa.shape[1]
    w = np.ascontiguousarray(np.asarray(coef, dtype=np.float64).reshape(-1))
    if w.shape[0] != d:
        raise ValueError(f"coef has {w.shape[0]} entries, but X has {d} features")
    if not (np.isfinite(w).all() and np.isfinite(intercept)):
        raise ValueError("coef and intercept must be finite")
    kernels = get_kernels(backend)
    n_threads = resolve_n_threads(n_jobs, kernels, Xa.size)
    grad = np.empty(d)
    loss, grad_b = kernels.loss_gradient(
        Xa, ya, w, float(intercept), np.zeros(d), grad, n_threads
    )
    return float(loss), grad, float(grad_b)


class _MSE:
    """The objective as the solver sees it: a function of ``theta``.

    ``theta = (v, c)`` are the coefficients of the standardised features
    ``z = (x - offset) / scale`` and the intercept at ``x = offset``. The data
    are never standardised: ``coef = v / scale`` goes to the kernel together
    with ``offset``, and the chain rule maps the gradient back
    (``dE/dv = dE/dcoef / scale``). In these coordinates the Hessian of the mean
    squared error is twice the correlation matrix of ``X`` (and 2 for ``c``),
    so one step size suits every problem however its columns are scaled.
    With ``offset = 0`` and ``scale = 1`` theta is the raw ``(coef, intercept)``.
    """

    def __init__(
        self,
        kernels: ModuleType,
        X: FloatArray,
        y: FloatArray,
        offset: F64,
        scale: F64,
        fit_intercept: bool,
        n_threads: int,
    ) -> None:
        self.kernels = kernels
        self.X, self.y = X, y
        self.offset, self.scale = offset, scale
        self.fit_intercept = fit_intercept
        self.n_threads = n_threads
        self.d = X.shape[1]
        self._grad = np.empty(self.d)

    def __call__(self, theta: F64) -> tuple[float, F64]:
        d = self.d
        coef = theta[:d] / self.scale
        c = float(theta[d]) if self.fit_intercept else 0.0
        loss, grad_c = self.kernels.loss_gradient(
            self.X, self.y, coef, c, self.offset, self._grad, self.n_threads
        )
        g = np.empty_like(theta)
        g[:d] = self._grad / self.scale
        if self.fit_intercept:
            g[d] = grad_c
        return float(loss), g

    def to_theta(self, coef: F64, intercept: float) -> F64:
        theta = coef * self.scale
        if self.fit_intercept:
            theta = np.append(theta, intercept + coef @ self.offset)
        return theta

    def to_model(self, theta: F64) -> tuple[F64, float]:
        coef = theta[: self.d] / self.scale
        intercept = (
            float(theta[self.d] - coef @ self.offset) if self.fit_intercept else 0.0
        )
        return coef, intercept


class LinearRegression(EstimatorBase):
    """Least-squares linear regression fitted by gradient descent.

    Minimises the mean squared error ``mean((y - X @ coef_ - intercept_)**2)``
    with a fused one-pass kernel (compiled, or its NumPy twin) evaluating the
    objective and its gradient at every step.

    Parameters
    ----------
    learning_rate : "auto" or float, default="auto"
        ``"auto"``: gradient descent on internally standardised coordinates
        (means and scales folded into the coefficients, the data never copied)
        with a backtracking line search; it needs no tuning. A float: plain
        gradient descent on the raw ``(coef, intercept)`` with that fixed step,
        as in the classic tutorial.
    max_iter : int, default=1000
        Maximum number of gradient steps.
    tol : float, default=1e-10
        Stop when the Euclidean norm of the gradient, in the solver's
        coordinates, falls below ``tol`` times the root-mean-square of
        ``y - mean(y)`` (of ``y`` when ``fit_intercept=False``). With
        ``learning_rate="auto"`` the solver's coordinates are the standardised
        ones, so ``tol`` is scale-free. ``tol=0`` runs all ``max_iter`` steps
        (and, having asked for that, gets no ConvergenceWarning).
    fit_intercept : bool, default=True
        Whether to fit an intercept (never penalised, never scaled).
    backend : {"auto", "cython", "numpy"}, default="auto"
        Kernels to run; ``"auto"`` prefers the compiled ones (see
        :func:`fastlinreg.available_backends` and ``FASTLINREG_BACKEND``).
    n_jobs : int or None, default=None
        Threads for the compiled kernels (None: all that OpenMP offers, honouring
        ``OMP_NUM_THREADS``). The result is identical for any value.

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,)
        Coefficients, in the floating dtype of ``X`` (float32 stays float32).
    intercept_ : float
        The intercept (0.0 when ``fit_intercept=False``).
    n_iter_ : int
        Gradient steps taken.
    loss_curve_ : ndarray of shape (n_iter_ + 1,)
        The objective at the start and after each step.
    converged_ : bool
        Whether the tolerance was reached (else a ConvergenceWarning was issued).
    stop_reason_ : str
        ``"converged"``, ``"max_iter"`` or ``"line_search_failed"``.
    backend_ : str
        The backend that ran: ``"cython"`` or ``"numpy"``.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Column names, when ``X`` was a DataFrame with string column names.

    Examples
    --------
    >>> import fastlinreg
    >>> X, y = fastlinreg.make_regression(random_state=42)
    >>> model = fastlinreg.LinearRegression().fit(X, y)
    >>> round(float(model.coef_[0]), 2), round(float(model.intercept_), 2)
    (7.59, -3.26)
    """

    def __init__(
        self,
        *,
        learning_rate: float | Literal["auto"] = "auto",
        max_iter: int = 1000,
        tol: float = 1e-10,
        fit_intercept: bool = True,
        backend: Literal["auto", "cython", "numpy"] = "auto",
        n_jobs: int | None = None,
    ) -> None:
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.backend = backend
        self.n_jobs = n_jobs

    def fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        *,
        coef_init: npt.ArrayLike | None = None,
        intercept_init: float | None = None,
    ) -> Self:
        """Fit the model by gradient descent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,)
            Features; a 1-D array is one feature. float32 and float64 are used
            as they are (C-contiguous input is never copied).
        y : array-like of shape (n_samples,)
            Target.
        coef_init : array-like of shape (n_features,), optional
            Starting coefficients (default zeros).
        intercept_init : float, optional
            Starting intercept. Default: the best intercept for the starting
            coefficients with ``learning_rate="auto"``, zero with a fixed step.

        Returns
        -------
        self : LinearRegression
            The fitted estimator.

        Raises
        ------
        DivergenceError
            When a fixed ``learning_rate`` is too large and the objective grows;
            the message says which step would be stable.
        """
        check_params(
            learning_rate=self.learning_rate,
            max_iter=self.max_iter,
            tol=self.tol,
            fit_intercept=self.fit_intercept,
        )
        backend = resolve_backend(self.backend)
        kernels = get_kernels(backend)
        # NaN/inf are caught by the moments pass below, not by a pass of their own.
        Xa, ya = check_X_y(X, y, finite=False)
        n, d = Xa.shape
        n_threads = resolve_n_threads(self.n_jobs, kernels, Xa.size)

        mean = np.empty(d + 1)
        m2 = np.empty(d + 1)
        kernels.moments(Xa, ya, mean, m2, n_threads)
        if not (np.isfinite(mean).all() and np.isfinite(m2).all()):
            check_finite(Xa, "X")
            check_finite(ya, "y")
            raise ValueError(
                "X or y holds values so large that their squares overflow "
                "float64; rescale them before fitting"
            )
        var = m2 / n
        fit_intercept = bool(self.fit_intercept)
        # Scale of the target: the objective at the best constant model.
        y_scale = float(np.sqrt(var[d] if fit_intercept else var[d] + mean[d] ** 2))

        fixed_step = self.learning_rate != "auto"
        if fixed_step:
            offset, scale = np.zeros(d), np.ones(d)
        elif fit_intercept:
            offset, scale = mean[:d].copy(), np.sqrt(var[:d])
        else:
            offset, scale = np.zeros(d), np.sqrt(var[:d] + mean[:d] ** 2)
        # Constant (or all-zero) columns keep unit scale.
        scale[~(scale > 1e-12 * np.maximum(np.abs(mean[:d]), 1e-300))] = 1.0

        objective = _MSE(kernels, Xa, ya, offset, scale, fit_intercept, n_threads)
        coef0 = _init_coef(coef_init, d)
        if intercept_init is not None:
            b0 = float(intercept_init)
        elif fixed_step or not fit_intercept:
            b0 = 0.0
        else:
            b0 = float(mean[d] - coef0 @ mean[:d])
        if not np.isfinite(b0):
            raise ValueError(f"intercept_init must be finite, got {intercept_init!r}")

        result = gradient_descent(
            objective,
            objective.to_theta(coef0, b0),
            step=float(self.learning_rate) if fixed_step else 1.0 / (2.0 * max(d, 1)),
            max_iter=int(self.max_iter),
            gtol=float(self.tol) * y_scale,
            line_search=not fixed_step,
            f_scale=y_scale**2,
        )
        coef, intercept = objective.to_model(result.theta)
        if result.stop_reason == "diverged" or not (
            np.isfinite(coef).all() and np.isfinite(intercept)
        ):
            raise DivergenceError(
                _divergence_message(self.learning_rate, result, mean, var, d)
            )
        if not result.converged and self.tol > 0:
            warnings.warn(
                _not_converged_message(self, result, y_scale),
                ConvergenceWarning,
                stacklevel=2,
            )

        self._remember_input(X, d)
        self.coef_ = coef.astype(Xa.dtype)
        self.intercept_ = (
            Xa.dtype.type(intercept) if fit_intercept else Xa.dtype.type(0.0)
        )
        self.n_iter_ = result.n_iter
        self.loss_curve_ = result.loss_curve
        self.converged_ = result.converged
        self.stop_reason_ = result.stop_reason
        self.backend_ = backend
        return self

    def predict(self, X: npt.ArrayLike) -> FloatArray:
        """Predict ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,)
            Samples; a 1-D array is one feature.

        Returns
        -------
        ndarray of shape (n_samples,)
            Predictions, float32 for float32 input, else float64.
        """
        self._check_is_fitted()
        Xa = check_X(X)
        self._check_input(X, Xa.shape[1])
        return Xa @ self.coef_.astype(Xa.dtype, copy=False) + Xa.dtype.type(
            self.intercept_
        )

    def score(self, X: npt.ArrayLike, y: npt.ArrayLike) -> float:
        """Coefficient of determination R² of the predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,)
            Samples.
        y : array-like of shape (n_samples,)
            True targets.

        Returns
        -------
        float
            ``1 - SS_res / SS_tot``; 1.0 for a perfect fit of a constant
            target, 0.0 for an imperfect one.
        """
        pred = self.predict(X)
        _, ya = check_X_y(np.zeros((pred.shape[0], 1)), y)
        return r2_score(ya, pred)


def r2_score(y_true: npt.ArrayLike, y_pred: npt.ArrayLike) -> float:
    """R² of predictions, computed in float64.

    Examples
    --------
    >>> from fastlinreg.linear_model import r2_score
    >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    """
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    resid = yt - yp
    ss_res = float(resid @ resid)
    dev = yt - yt.mean()
    ss_tot = float(dev @ dev)
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def _init_coef(coef_init: Any, d: int) -> F64:
    if coef_init is None:
        return np.zeros(d)
    coef = np.asarray(coef_init, dtype=np.float64).reshape(-1)
    if coef.shape[0] != d:
        raise ValueError(
            f"coef_init has {coef.shape[0]} entries, but X has {d} features"
        )
    if not np.isfinite(coef).all():
        raise ValueError("coef_init must be finite")
    return coef


def _divergence_message(
    learning_rate: Any, result: SolverResult, mean: F64, var: F64, d: int
) -> str:
    start, last = result.loss_curve[0], result.loss_curve[-1]
    msg = (
        f"gradient descent diverged after {result.n_iter} steps "
        f"(objective {start:.6g} -> {last:.6g})."
    )
    if learning_rate == "auto":
        return msg + " The data are too large for float64 arithmetic; rescale X and y."
    # For the MSE, L = 2·λmax([X 1]'[X 1]/n) <= 2·(1 + Σ_j mean(x_j²)).
    lipschitz = 2.0 * (1.0 + float(np.sum(var[:d] + mean[:d] ** 2)))
    return msg + (
        f" learning_rate={learning_rate!r} is too large for this data: steps "
        f"below {1.0 / lipschitz:.3g} are safe. Use a smaller learning_rate, or "
        "learning_rate='auto', which chooses the step itself."
    )


def _not_converged_message(
    model: LinearRegression, result: SolverResult, y_scale: float
) -> str:
    if result.stop_reason == "line_search_failed":
        what = (
            "the line search could not decrease the objective any further "
            "(the tolerance may be below what float64 rounding allows, or the "
            "problem is very ill-conditioned)"
        )
    else:
        what = f"it reached max_iter={model.max_iter}"
    return (
        f"{type(model).__name__} stopped before converging: {what}; gradient norm "
        f"{result.grad_norm:.3g} > tol·scale = {model.tol * y_scale:.3g}. "
        + (
            "Increase max_iter or tol."
            if model.learning_rate == "auto"
            else "Increase max_iter or tol, or use learning_rate='auto'."
        )
    )
