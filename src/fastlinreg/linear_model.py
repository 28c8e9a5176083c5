"""Linear regression fitted by gradient descent on the mean squared error."""

from __future__ import annotations

import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, Literal, Self, TypeVar

import numpy as np
import numpy.typing as npt

from ._backend import get_kernels, resolve_backend, resolve_n_threads
from ._base import EstimatorBase
from ._dask import is_dask_collection
from ._exceptions import ConvergenceWarning, DivergenceError, IllConditionedWarning
from ._losses import (
    Loss,
    Penalty,
    StatsQuadratic,
    StreamingLoss,
    check_loss,
    check_penalty,
)
from ._objectives import (
    AccurateMSE,
    Coordinates,
    GramMSE,
    StreamingMSE,
    SufficientStats,
    sufficient_stats,
)
from ._progress import IterationInfo, Watcher
from ._solver import (
    SecondOrder,
    SolverResult,
    accelerated_gradient,
    conjugate_gradient,
    gradient_descent,
    proximal_newton,
)
from ._validation import (
    FloatArray,
    check_choice,
    check_coef,
    check_finite,
    check_lengths,
    check_params,
    check_sample_weight,
    check_scalar,
    check_X,
    check_X_y,
    check_y,
)

__all__ = ["IterationInfo", "LinearRegression", "loss_gradient"]

F64 = npt.NDArray[np.float64]
Objective = Callable[[F64], tuple[float, F64]]
ObjectiveFactory = Callable[[Coordinates], Objective]
SecondOrderFactory = Callable[[Coordinates], SecondOrder]


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
    kernels = get_kernels(backend)
    n_threads = resolve_n_threads(n_jobs, kernels, Xa.size)
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


class LinearRegression(EstimatorBase):
    """Linear regression fitted by gradient-based descent, for several losses.

    Minimises, over ``coef`` and ``intercept``, with residuals
    ``r = y - X @ coef - intercept`` and sample weights ``s`` (all 1 by
    default)::

        sum(s * loss(r)) / sum(s)
            + alpha * (l1_ratio * ||coef||_1 + 0.5 * (1 - l1_ratio) * ||coef||_2**2)

    The default is least squares, ``mean(r**2)``. For it, the gradient comes
    either from one fused pass of the kernel over the data per step (compiled,
    or its NumPy twin), or from sufficient statistics gathered in one pass,
    after which a step costs O(n_features²) instead of O(n_samples·n_features).
    The other losses, and any penalty, are minimised by proximal Newton steps
    whose gradient and curvature come from one fused pass each (sufficient
    statistics again for the squared error).

    Mapping onto scikit-learn (squared error; ``n`` rows): ``Lasso(alpha=a)``
    is ``penalty="l1", alpha=2*a``; ``ElasticNet(alpha=a, l1_ratio=r)`` is
    ``penalty="elasticnet", alpha=2*a, l1_ratio=r``; ``Ridge(alpha=a)`` is
    ``penalty="l2", alpha=2*a/n`` (Ridge sums rather than averages the squared
    residuals). ``QuantileRegressor(quantile=q, alpha=0)`` is
    ``loss="quantile", quantile=q``. Our ``"huber"`` is SGDRegressor's (a fixed
    threshold ``epsilon`` in the units of ``y``), not HuberRegressor's (which
    also estimates a scale).

    Parameters
    ----------
    loss : {"squared_error", "absolute_error", "huber", "quantile", \
"epsilon_insensitive"}, default="squared_error"
        ``loss(r)``: ``r**2``; ``|r|``; ``r**2/2`` for ``|r| <= epsilon`` and
        ``epsilon*|r| - epsilon**2/2`` beyond; the pinball loss
        ``max(quantile*r, (quantile - 1)*r)``; ``max(0, |r| - epsilon)``. The
        non-smooth ones (absolute, quantile, epsilon-insensitive) are solved
        through a sequence of smoothed versions (each kink rounded off within
        ``h`` of it, ``h`` shrinking to ``1e-4`` times the mean loss), so the
        objective reached is within ``5e-5`` relative of the exact minimum,
        in practice much closer.
    epsilon : float, default=0.1
        Threshold of ``"huber"``, width of ``"epsilon_insensitive"`` (in the
        units of ``y``).
    quantile : float, default=0.5
        Level of the ``"quantile"`` loss, in (0, 1); 0.5 is the median.
    alpha : float, default=0.0
        Strength of the penalty (never applied to the intercept).
    penalty : {"l2", "l1", "elasticnet", None}, default="l2"
        ``"l2"``: ``l1_ratio`` taken as 0; ``"l1"``: as 1 (coefficients become
        exactly zero through soft-thresholding); ``"elasticnet"``: the given
        ``l1_ratio``; None: no penalty whatever ``alpha``.
    l1_ratio : float, default=0.15
        The L1 share of an elastic-net penalty, in [0, 1].
    learning_rate : "auto" or float, default="auto"
        ``"auto"``: descent in internally standardised coordinates (means and
        scales folded into the coefficients, the data never copied) with a step
        the solver chooses (exact curvature on sufficient statistics, a
        backtracking line search otherwise); it needs no tuning. A float: the
        step on the raw ``(coef, intercept)``; with ``solver="gd"`` (or
        ``"auto"``) this is plain gradient descent exactly as in the tutorial.
    max_iter : int, default=1000
        Maximum number of iterations.
    tol : float, default=1e-10
        Stop when the Euclidean norm of the gradient, in the solver's
        coordinates, falls below ``tol`` times the root-mean-square of
        ``y - mean(y)`` (of ``y`` when ``fit_intercept=False``) for the squared
        error; for the other losses, below ``tol`` times the largest slope of
        the loss (1, or ``epsilon`` for Huber when smaller than that RMS). With
        ``learning_rate="auto"`` the solver's coordinates are the standardised
        ones, so ``tol`` is scale-free. ``tol=0`` runs all ``max_iter``
        iterations, unless the gradient becomes exactly zero first (and,
        having asked for that, gets no ConvergenceWarning).
    fit_intercept : bool, default=True
        Whether to fit an intercept (never penalised, never scaled).
    precompute : {"auto", True, False}, default="auto"
        Whether to gather the sufficient statistics (means and centred
        cross-products of ``[X | y]``) in one pass and iterate on them.
        ``"auto"`` does so up to 2048 features (the statistics take
        ``(n_features + 1)²`` doubles); beyond, each step re-reads the data.
    solver : {"auto", "gd", "nesterov", "cg", "newton"}, default="auto"
        ``"gd"``: gradient descent. ``"nesterov"``: Nesterov's accelerated
        gradient (kept monotone by restarts), fewer iterations on badly
        conditioned problems at two evaluations each. ``"cg"``: conjugate
        gradients, on sufficient statistics only: exact minimisation along
        conjugate directions built from the gradients, at most
        ``n_features + 1`` steps in exact arithmetic however ill-conditioned the
        problem. ``"newton"``: proximal Newton steps with a backtracking line
        search (the curvature accumulated in the same pass as the gradient,
        the L1 part by coordinate descent on the quadratic model). ``"gd"``,
        ``"nesterov"`` and ``"cg"`` fit the unpenalised squared error;
        other losses and ``alpha > 0`` take ``"newton"``. ``"auto"``:
        ``"newton"`` where it is needed; otherwise ``"cg"`` on sufficient
        statistics (the fastest to tolerance in our measurements), gradient
        descent when each evaluation is a pass over the data or the learning
        rate is fixed.
    backend : {"auto", "cython", "numpy"}, default="auto"
        Kernels to run; ``"auto"`` prefers the compiled ones (see
        :func:`fastlinreg.available_backends` and ``FASTLINREG_BACKEND``).
    n_jobs : int or None, default=None
        Threads for the compiled kernels (None: all that OpenMP offers,
        honouring ``OMP_NUM_THREADS``; negative values count back from the
        number of CPUs). The result is bitwise identical for any value. On
        Dask arrays: threads per task, None meaning one (the scheduler runs
        the chunks in parallel). The statistics that NumPy's BLAS computes
        instead (64 and more features, several targets, sample weights) run
        on at most as many BLAS threads (set through threadpoolctl for the
        pass; BLAS's thread count is process-wide).
    verbose : int, default=0
        0: silent. 1: a progress bar (tqdm if installed) for fits that run
        longer than a second. 2: one line per iteration.
    callback : callable, optional
        Called as ``callback(info)`` at the start and after every iteration
        with an :class:`IterationInfo` (``iteration``, ``loss``,
        ``grad_norm``, ``coef``, ``intercept``). Returning ``True`` stops the
        fit (``stop_reason_ == "callback"``).

    Attributes
    ----------
    coef_ : ndarray of shape (n_features,) or (n_targets, n_features)
        Coefficients, in the floating dtype of ``X`` (float32 stays float32);
        one row per target when ``y`` has several columns.
    intercept_ : float or ndarray of shape (n_targets,)
        The intercept (0.0 when ``fit_intercept=False``).
    n_iter_ : int
        Iterations done (the most over the targets).
    loss_curve_ : ndarray of shape (n_iter_ + 1,), or a list of them
        The objective at the start and after each iteration (for a
        non-smooth loss, the exact objective, penalty included, at each
        iterate of the smoothed problems; for Huber, the first iterations
        solve least squares); one array per target for several targets.
    converged_ : bool
        Whether the tolerance was reached (for every target).
    stop_reason_ : str
        ``"converged"``, ``"max_iter"``, ``"callback"`` or
        ``"line_search_failed"``. ``"max_iter"`` (with ``tol > 0``) and
        ``"line_search_failed"`` come with a ConvergenceWarning.
    precomputed_ : bool
        Whether the fit iterated on sufficient statistics.
    solver_ : str
        The solver that ran: ``"gd"``, ``"nesterov"``, ``"cg"`` or ``"newton"``.
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
        loss: Literal[
            "squared_error",
            "absolute_error",
            "huber",
            "quantile",
            "epsilon_insensitive",
        ] = "squared_error",
        epsilon: float = 0.1,
        quantile: float = 0.5,
        alpha: float = 0.0,
        penalty: Literal["l2", "l1", "elasticnet"] | None = "l2",
        l1_ratio: float = 0.15,
        learning_rate: float | Literal["auto"] = "auto",
        max_iter: int = 1000,
        tol: float = 1e-10,
        fit_intercept: bool = True,
        precompute: bool | Literal["auto"] = "auto",
        solver: Literal["auto", "gd", "nesterov", "cg", "newton"] = "auto",
        backend: Literal["auto", "cython", "numpy"] = "auto",
        n_jobs: int | None = None,
        verbose: int = 0,
        callback: Callable[[IterationInfo], Any] | None = None,
    ) -> None:
        self.loss = loss
        self.epsilon = epsilon
        self.quantile = quantile
        self.alpha = alpha
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.tol = tol
        self.fit_intercept = fit_intercept
        self.precompute = precompute
        self.solver = solver
        self.backend = backend
        self.n_jobs = n_jobs
        self.verbose = verbose
        self.callback = callback

    def fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
        *,
        coef_init: npt.ArrayLike | None = None,
        intercept_init: float | npt.ArrayLike | None = None,
    ) -> Self:
        """Fit the model by gradient descent.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,)
            Features; a 1-D array is one feature. float32 and float64 are used
            as they are (C-contiguous input is never copied: an ``np.memmap``
            larger than RAM is read in one streaming pass, with memory bounded
            by the statistics). A Dask array chunked along rows (extra
            ``fastlinreg[dask]``) fits on the active Dask scheduler, a
            distributed cluster included: one task per chunk gathers the
            chunk's sufficient statistics, a tree of pairwise merges combines
            them, and the iterations run here. With ``precompute=False`` each
            evaluation is one task per chunk and one round trip.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target (a Dask array, or an array rechunked to the rows of ``X``
            when ``X`` is a Dask array). Several columns fit one model per
            target: for the squared error from the statistics of one pass over
            ``X``; for the other losses one after another (each column is
            copied once, contiguous).
        sample_weight : array-like of shape (n_samples,), optional
            Non-negative weights of the rows: a weight of 0 is the row left
            out, an integer weight ``k`` the row repeated ``k`` times. Not
            supported on Dask arrays.
        coef_init : array-like of shape (n_features,) or (n_targets, n_features)
            Starting coefficients (default zeros).
        intercept_init : float or array-like of shape (n_targets,), optional
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

        Examples
        --------
        >>> import numpy as np
        >>> from fastlinreg import LinearRegression
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> model = LinearRegression().fit(X, 2.0 * X[:, 0] + 1.0)
        >>> model.coef_.round(6).tolist(), round(float(model.intercept_), 6)
        ([2.0], 1.0)
        >>> model.converged_, model.stop_reason_
        (True, 'converged')
        """
        if is_dask_collection(X) or is_dask_collection(y):
            from ._dask import dask_fit

            if sample_weight is not None:
                raise ValueError("sample_weight is not supported with Dask arrays")
            dask_fit(self, X, y, coef_init=coef_init, intercept_init=intercept_init)
            return self
        backend, kernels = self._prepare()
        loss, _ = self._terms()
        Xa, Y = check_X_y(X, y, finite=False, multi_output=True)
        n, d = Xa.shape
        weights = check_sample_weight(sample_weight, n)
        n_threads = resolve_n_threads(self.n_jobs, kernels, Xa.size)
        n_targets = 1 if Y.ndim == 1 else int(Y.shape[1])
        inits = _target_inits(coef_init, intercept_init, n_targets, d)

        # One pass: sufficient statistics, or the moments that set the scales.
        # NaN/inf are caught here, not by a pass of their own.
        if loss.name == "squared_error" and _use_stats(self.precompute, d):
            stats = sufficient_stats(kernels, Xa, Y, n_threads, weights)
            if not stats.finite():
                _raise_not_finite(Xa, Y)
            # Iterative refinement reads the data (one unweighted target): with
            # a gradient exact to the last bit when they are small enough.
            refine: ObjectiveFactory | None = None
            if n_targets == 1 and weights is None:
                refine = (
                    (lambda coords: AccurateMSE(Xa, Y, coords))
                    if Xa.size <= _ACCURATE_MAX_ELEMENTS
                    else (
                        lambda coords: StreamingMSE(kernels, Xa, Y, coords, n_threads)
                    )
                )
            return self._fit_stats(
                stats,
                X_raw=X,
                dtype=Xa.dtype,
                backend=backend,
                coef_init=coef_init,
                intercept_init=intercept_init,
                stacklevel=3,
                refine=refine,
            )
        solutions = []
        for j, (coef0, b0) in enumerate(inits):
            yj: FloatArray = Y if n_targets == 1 else np.ascontiguousarray(Y[:, j])  # type: ignore[assignment]
            mean, m2 = np.empty(d + 1), np.empty(d + 1)
            kernels.moments(Xa, yj, mean, m2, n_threads)
            if not (np.isfinite(mean).all() and np.isfinite(m2).all()):
                _raise_not_finite(Xa, yj)
            y_scale = float(np.sqrt(m2[d] / n))
            solutions.append(
                self._solve_one(
                    _bind_streaming(kernels, Xa, yj, n_threads),
                    mean,
                    m2 / n,
                    stats=None,
                    coef_init=coef0,
                    intercept_init=b0,
                    stacklevel=4,
                    second_order=_bind_second_order(
                        kernels, Xa, yj, weights, loss, n_threads, y_scale
                    ),
                    weighted=weights is not None,
                    n_rows=n,
                )
            )
        return self._set_fitted(
            solutions, X_raw=X, dtype=Xa.dtype, backend=backend, stats=None
        )

    def partial_fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
    ) -> Self:
        """Add rows to the fit: accumulate their statistics and solve again.

        For the squared loss (the only one ``partial_fit`` supports: the others
        have no such summary) the fit depends on the data only through their
        sufficient statistics: the count, the column means
        and the centred cross-products of ``[X | y]``, ``(n_features + 1)²``
        doubles. Each call gathers those of its chunk in one pass, merges them
        into the statistics accumulated so far (Chan's pairwise update, which
        loses no digits however far the data sit from zero), then solves
        afresh from the merged statistics, in O(n_features²) per iteration
        whatever the number of rows seen.

        Semantics:

        * Chunks of any sizes, in any order, give the model that one ``fit``
          on their concatenation would give, up to rounding; the result
          depends only on the accumulated statistics, never on the history.
        * ``fit`` starts the accumulation over: it keeps the statistics of its
          own data (when it gathered them, i.e. unless ``precompute=False``
          or, with ``"auto"``, more than 2048 features), so ``fit(X1, y1)``
          then ``partial_fit(X2, y2)`` is a fit on both. After a fit that kept
          none, ``partial_fit`` warns and starts a new accumulation.
        * ``precompute`` is ignored (the statistics are always gathered);
          ``fit_intercept``, ``learning_rate``, ``solver``, ``tol`` and
          ``max_iter`` apply to each solve and may change between calls.
        * Every chunk must have ``n_features_in_`` features (a ``ValueError``
          otherwise); feature names are those of the first chunk. The
          coefficients are float32 while every chunk was float32.
        * A chunk with NaN or infinity, or a solve that diverges, raises and
          leaves the model as it was before the call.
        * Dask arrays are accepted as a chunk (their statistics are gathered
          on the active scheduler, see :meth:`fit`).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,)
            A chunk of features; a 1-D array is one feature.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Its targets (the same number of targets in every chunk).
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the chunk's rows (see :meth:`fit`).

        Returns
        -------
        self : LinearRegression
            The estimator, fitted on every row seen since the last ``fit``.

        Raises
        ------
        ValueError
            When the chunk has another number of features than the previous
            ones, or holds NaN or infinity.
        DivergenceError
            When a fixed ``learning_rate`` is too large for the data seen.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlinreg import LinearRegression
        >>> X = np.arange(10.0).reshape(-1, 1)
        >>> y = 2.0 * X[:, 0] + 1.0
        >>> model = LinearRegression()
        >>> for rows in (slice(0, 3), slice(3, 4), slice(4, 10)):
        ...     model = model.partial_fit(X[rows], y[rows])
        >>> model.coef_.round(6).tolist(), round(float(model.intercept_), 6)
        ([2.0], 1.0)
        >>> whole = LinearRegression().fit(X, y)
        >>> bool(np.allclose(model.coef_, whole.coef_, rtol=1e-12))
        True
        """
        backend, kernels = self._prepare()
        loss, _ = self._terms()
        if loss.name != "squared_error":
            raise ValueError(
                f"partial_fit supports loss='squared_error' only (got {loss.name!r}): "
                "the other losses have no sufficient statistics to accumulate"
            )
        stats: SufficientStats
        if is_dask_collection(X) or is_dask_collection(y):
            from ._dask import as_dask_X_y, gather_stats

            if sample_weight is not None:
                raise ValueError("sample_weight is not supported with Dask arrays")
            Xd, yd = as_dask_X_y(X, y)
            previous = self._previous_stats(X, Xd.shape[1])
            stats = gather_stats(Xd, yd, backend, self.n_jobs)
            dtype = Xd.dtype
        else:
            Xa, ya = check_X_y(X, y, finite=False, multi_output=True)
            weights = check_sample_weight(sample_weight, Xa.shape[0])
            previous = self._previous_stats(X, Xa.shape[1])
            n_threads = resolve_n_threads(self.n_jobs, kernels, Xa.size)
            stats = sufficient_stats(kernels, Xa, ya, n_threads, weights)
            if not stats.finite():
                _raise_not_finite(Xa, ya)
            dtype = Xa.dtype
        if previous is None:
            return self._fit_stats(
                stats, X_raw=X, dtype=dtype, backend=backend, stacklevel=3
            )
        merged = previous.merge(stats)
        if not merged.finite():
            raise ValueError(_OVERFLOW_MESSAGE)
        return self._fit_stats(
            merged,
            X_raw=None,  # features and their names: those of the first chunk
            dtype=np.result_type(self.coef_.dtype, dtype),
            backend=backend,
            stacklevel=3,
        )

    # ------------------------------------------------------------------
    # The fit, in two halves: gather statistics (above) -> solve (below)
    # ------------------------------------------------------------------

    def _prepare(self) -> tuple[str, ModuleType]:
        """Validate the parameters; the backend that will run and its kernels."""
        settings = (
            self.learning_rate,
            self.max_iter,
            self.tol,
            self.fit_intercept,
            self.precompute,
            self.solver,
            self.verbose,
            self.callback is None or callable(self.callback),
        )
        _cached_check(_check_settings, *settings)
        if self.callback is not None and not callable(self.callback):
            raise TypeError(f"callback must be callable or None, got {self.callback!r}")
        self._terms()
        backend = resolve_backend(self.backend)
        return backend, get_kernels(backend)  # already resolved: no second warning

    def _terms(self) -> tuple[Loss, Penalty]:
        """The validated loss and penalty."""
        values = (
            self.loss,
            self.epsilon,
            self.quantile,
            self.penalty,
            self.alpha,
            self.l1_ratio,
        )
        return _cached_check(_checked_terms, *values)

    def _previous_stats(self, X_raw: Any, d: int) -> SufficientStats | None:
        """The statistics partial_fit adds to, after checking ``X_raw`` fits."""
        if not self.__sklearn_is_fitted__():
            return None
        previous: SufficientStats | None = getattr(self, "_stats", None)
        if previous is None:
            warnings.warn(
                f"{type(self).__name__} was fitted without keeping sufficient "
                "statistics (precompute=False, or loaded from a file); "
                "partial_fit starts a new accumulation from this chunk",
                UserWarning,
                stacklevel=3,
            )
            return None
        self._check_input(X_raw, d)
        return previous

    def _fit_stats(
        self,
        stats: SufficientStats,
        *,
        X_raw: Any,
        dtype: np.dtype[Any],
        backend: str,
        coef_init: npt.ArrayLike | None = None,
        intercept_init: float | npt.ArrayLike | None = None,
        stacklevel: int,
        refine: ObjectiveFactory | None = None,
    ) -> Self:
        """Solve from sufficient statistics, wherever they were gathered.

        One solve per target, each on the statistics of ``[X | y_j]``.
        ``refine``, when the data are at hand, makes the objective that reads
        them: on an ill-conditioned problem its exact gradient polishes the
        solution the statistics gave (iterative refinement).
        """
        inits = _target_inits(coef_init, intercept_init, stats.n_targets, stats.d)
        solutions = []
        for j, (coef0, b0) in enumerate(inits):
            target = stats.target(j)
            solutions.append(
                self._solve_one(
                    _bind_gram(target),
                    target.mean,
                    target.var,
                    stats=target,
                    coef_init=coef0,
                    intercept_init=b0,
                    stacklevel=stacklevel + 1,
                    refine=refine,
                    second_order=_bind_stats_quadratic(target),
                    n_rows=target.n,
                    stats_kernels=get_kernels(backend),
                )
            )
        return self._set_fitted(
            solutions, X_raw=X_raw, dtype=dtype, backend=backend, stats=stats
        )

    def _solve(
        self,
        make_objective: ObjectiveFactory,
        mean: F64,
        var: F64,
        *,
        stats: SufficientStats | None,
        X_raw: Any,
        dtype: np.dtype[Any],
        backend: str,
        coef_init: npt.ArrayLike | None,
        intercept_init: float | None,
        stacklevel: int,
        n_rows: float = 2.0,
    ) -> Self:
        """Solve one target from a first-order objective and set the fitted
        attributes (the path of Dask arrays read once per evaluation)."""
        solution = self._solve_one(
            make_objective,
            mean,
            var,
            stats=stats,
            coef_init=coef_init,
            intercept_init=intercept_init,
            stacklevel=stacklevel + 1,
            n_rows=n_rows,
        )
        return self._set_fitted(
            [solution], X_raw=X_raw, dtype=dtype, backend=backend, stats=stats
        )

    def _solve_one(self, *args: Any, **kwargs: Any) -> _Solution:
        """:meth:`_solve_guarded` with NumPy's floating-point warnings off.

        Overflow on data near float64's limits shows up in the results, which
        are checked (a divergence, a non-finite coefficient, a loss curve
        that is not finite: errors or warnings of our own saying what to
        do); NumPy need not warn about it as well.
        """
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            return self._solve_guarded(*args, **kwargs)

    def _solve_guarded(
        self,
        make_objective: ObjectiveFactory,
        mean: F64,
        var: F64,
        *,
        stats: SufficientStats | None,
        coef_init: npt.ArrayLike | None,
        intercept_init: float | None,
        stacklevel: int,
        refine: ObjectiveFactory | None = None,
        second_order: SecondOrderFactory | None = None,
        weighted: bool = False,
        n_rows: float = 2.0,
        stats_kernels: ModuleType | None = None,
    ) -> _Solution:
        """Run the solver for one target; its coefficients, or an error.

        ``mean`` and ``var`` are those of the columns of ``[X | y]``;
        ``make_objective`` turns the solver's coordinates into the objective
        (on sufficient statistics, or a pass over the data per evaluation),
        ``second_order`` into the one the Newton solver needs (value, gradient
        and Hessian; None where there is none). ``stacklevel`` points a
        ConvergenceWarning at the user's call. ``weighted``: the data have
        sample weights, which only the Newton objective reads (statistics are
        weighted when gathered). ``stats_kernels``: the kernels that may run
        conjugate gradients on ``stats`` (few features, no monitor) in one call.
        """
        loss, penalty = self._terms()
        d = mean.shape[0] - 1
        _check_no_underflow(mean, var, n_rows)
        fixed_step = self.learning_rate != "auto"
        fit_intercept = bool(self.fit_intercept)
        # Scale of the target: the objective at the best constant model.
        if fit_intercept:
            y_var = float(var[d])
        else:
            # Without an intercept the model needs the raw second moments,
            # which can overflow where the centred statistics do not.
            raw = var + mean**2
            if not np.isfinite(raw).all():
                raise ValueError(_OVERFLOW_MESSAGE)
            y_var = float(raw[d])
        coords = _coordinates(fixed_step, fit_intercept, mean, var)

        if coef_init is None and intercept_init is None:
            # The default start (coef 0; the best intercept for it, y's mean,
            # with the automatic step, else 0) is theta = 0 in either coordinates.
            theta0 = np.zeros(coords.d + int(fit_intercept))
        else:
            coef0 = _init_coef(coef_init, d)
            if intercept_init is not None:
                b0 = check_scalar(intercept_init, "intercept_init")
            elif fixed_step or not fit_intercept:
                b0 = 0.0
            else:
                b0 = float(mean[d] - coef0 @ mean[:d])
            theta0 = coords.to_theta(coef0, b0)

        needs_newton = (
            loss.name != "squared_error"
            or penalty.active
            or (weighted and stats is None)
        )
        solver = _resolve_solver(
            self.solver, fixed_step, stats is not None, needs_newton, loss
        )
        watcher = Watcher(self.callback, self.verbose, self.max_iter, coords.to_model)
        gtol = float(self.tol) * loss.grad_scale(math.sqrt(y_var))
        common: dict[str, Any] = {
            "max_iter": int(self.max_iter),
            "gtol": gtol,
            "f_scale": y_var if loss.name in ("squared_error", "huber") else 0.0,
            "monitor": watcher if watcher.active else None,
        }
        objective: Objective | None = None
        # Few features: the whole CG loop on the statistics in one kernel call
        # (the Python loop's steps without its per-iteration overhead).
        compiled_cg = (
            solver == "cg"
            and stats is not None
            and stats_kernels is not None
            and not watcher.active
            and d <= _KERNEL_CG_MAX_FEATURES
        )
        # (NumPy's warnings are off here: see _solve_one.)
        with watcher:
            if solver == "newton":
                if second_order is None:
                    raise ValueError(
                        "this fit needs solver='newton' (another loss than the "
                        "squared error, or a penalty), which on Dask arrays needs "
                        "the sufficient statistics: use precompute='auto' or True"
                    )
                l1, l2 = penalty.in_theta(coords)
                # theta is in units of y: no sensible first step is longer.
                reach = 10.0 * (float(np.sqrt(y_var)) + float(np.abs(theta0).max()))
                result = proximal_newton(
                    second_order(coords),
                    theta0,
                    l1=l1,
                    l2=l2,
                    max_step=reach if reach > 0 else math.inf,
                    **common,
                )
            elif compiled_cg:
                assert stats is not None
                assert stats_kernels is not None
                result = _kernel_cg(stats_kernels, stats, coords, theta0, common)
                if not (d == 1 and fit_intercept):  # (then centred: condition 1)
                    objective = make_objective(coords)  # for its Hessian below
            else:
                objective = make_objective(coords)
                result = self._first_order(
                    solver, objective, theta0, fixed_step, common
                )
        try:
            condition = (
                _condition_number(objective)
                if isinstance(objective, GramMSE) and not fixed_step
                else None
            )
        except np.linalg.LinAlgError:  # a Hessian of inf/NaN: overflow
            raise ValueError(_OVERFLOW_MESSAGE) from None
        if (
            condition is not None
            and _REFINE_CONDITION < condition <= _UNTRUSTED_CONDITION
            and result.stop_reason in ("converged", "max_iter")
        ):
            # Newton corrections: with the data's exact gradient when they are
            # at hand, else (partial_fit, Dask) with the statistics' own.
            assert isinstance(objective, GramMSE)
            exact = objective if refine is None else refine(coords)
            result = _refine(result, exact, objective, gtol)
        if condition is not None and condition > _UNTRUSTED_CONDITION:
            warnings.warn(
                f"the problem is too ill-conditioned for float64: the condition "
                f"number of the standardised normal equations is {condition:.1e} "
                "(collinear or nearly collinear features), so the coefficients "
                "cannot be trusted to many digits; remove redundant features or "
                "re-parameterise them (e.g. orthogonal polynomials).",
                IllConditionedWarning,
                stacklevel=stacklevel,
            )

        coef, intercept = coords.to_model(result.theta)
        if result.stop_reason == "diverged" or not (
            np.isfinite(coef).all() and np.isfinite(intercept)
        ):
            if not np.isfinite(result.loss_curve[0]) and (
                coef_init is not None or intercept_init is not None
            ):
                raise ValueError(
                    "coef_init/intercept_init are too large: the objective is "
                    "not finite there; start from smaller values (or the default)"
                )
            raise DivergenceError(
                _divergence_message(self.learning_rate, result, mean, var, d)
            )
        if result.stop_reason in ("max_iter", "line_search_failed") and self.tol > 0:
            warnings.warn(
                _not_converged_message(self, result, gtol),
                ConvergenceWarning,
                stacklevel=stacklevel,
            )
        return _Solution(coef, intercept, result, solver)

    def _first_order(
        self,
        solver: str,
        objective: Objective,
        theta0: F64,
        fixed_step: bool,
        common: dict[str, Any],
    ) -> SolverResult:
        """Gradient descent, Nesterov or conjugate gradients on ``objective``."""
        if solver == "cg":
            assert isinstance(objective, GramMSE)
            return conjugate_gradient(
                objective, theta0, hessp=objective.hessp, **common
            )
        if solver == "nesterov":
            lipschitz, mu = _curvature(objective, fixed_step, self.learning_rate)
            return accelerated_gradient(
                objective, theta0, lipschitz=lipschitz, strong_convexity=mu, **common
            )
        d = theta0.shape[0] - (1 if self.fit_intercept else 0)
        step = float(self.learning_rate) if fixed_step else 1.0 / (2.0 * d)
        return gradient_descent(
            objective, theta0, step=step, line_search=not fixed_step, **common
        )

    def _set_fitted(
        self,
        solutions: list[_Solution],
        *,
        X_raw: Any,
        dtype: np.dtype[Any],
        backend: str,
        stats: SufficientStats | None,
    ) -> Self:
        """Set every fitted attribute at once, from the solution per target.

        ``X_raw`` is the input whose feature count and names to remember
        (None: keep those remembered).
        """
        first = solutions[0]
        if X_raw is not None:
            self._remember_input(X_raw, first.coef.shape[0])
        results = [s.result for s in solutions]
        # (Solutions are finite float64: only a narrower dtype can overflow.)
        if dtype != np.float64:
            largest = max(
                float(np.abs(s.coef).max(initial=abs(s.intercept))) for s in solutions
            )
            if largest > float(np.finfo(dtype).max):
                raise ValueError(
                    f"the fitted coefficients (up to {largest:.3g}) exceed the "
                    f"range of {dtype.name}, the dtype of X; fit float64 data instead"
                )
        self.loss_curve_: F64 | list[F64]
        if len(solutions) == 1:
            self.coef_ = first.coef.astype(dtype)
            self.intercept_ = dtype.type(first.intercept)
            self.loss_curve_ = first.result.loss_curve
        else:
            self.coef_ = np.stack([s.coef for s in solutions]).astype(dtype)
            self.intercept_ = np.array([s.intercept for s in solutions], dtype=dtype)
            self.loss_curve_ = [r.loss_curve for r in results]
        self.n_iter_ = max(r.n_iter for r in results)
        self.converged_ = all(r.converged for r in results)
        self.stop_reason_ = next(
            (r.stop_reason for r in results if not r.converged),
            first.result.stop_reason,
        )
        self.precomputed_ = stats is not None
        self.solver_ = first.solver
        self.backend_ = backend
        # What partial_fit adds to (None: nothing to add to).
        self._stats = stats
        return self

    def predict(self, X: npt.ArrayLike) -> FloatArray:
        """Predict ``X @ coef_ + intercept_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,)
            Samples; a 1-D array is one feature.

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_targets)
            Predictions, float32 for float32 input, else float64. For a Dask
            array ``X``, a lazy Dask array chunked like the rows of ``X``.

        Examples
        --------
        >>> import numpy as np
        >>> from fastlinreg import LinearRegression
        >>> X = np.array([[0.0], [1.0], [2.0], [3.0]])
        >>> model = LinearRegression().fit(X, 2.0 * X[:, 0] + 1.0)
        >>> model.predict([[10.0], [20.0]]).round(6).tolist()
        [21.0, 41.0]
        """
        self._check_is_fitted()
        if is_dask_collection(X):
            from ._dask import dask_predict

            return dask_predict(self, X)  # type: ignore[no-any-return]
        Xa = check_X(X)
        self._check_input(X, Xa.shape[1])
        coef = self.coef_.astype(Xa.dtype, copy=False)
        intercept = np.asarray(self.intercept_).astype(Xa.dtype)
        with np.errstate(over="ignore", invalid="ignore"):
            # NumPy's overloads do not map over FloatArray's union: Any.
            pred = Xa @ coef.T + intercept  # type: ignore[operator]
            if Xa.dtype != np.float64 and not np.isfinite(pred).all():
                # float32 partial sums may overflow where the prediction does
                # not (terms of opposite sign near the limit): in float64.
                wide = Xa.astype(np.float64) @ np.asarray(self.coef_, np.float64).T
                pred = (wide + np.asarray(self.intercept_, np.float64)).astype(Xa.dtype)
        if not np.isfinite(pred).all():
            raise ValueError(
                "X holds values so large that the predictions overflow "
                f"{Xa.dtype.name}; rescale X"
            )
        return pred  # type: ignore[no-any-return]

    def score(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
    ) -> float:
        """Coefficient of determination R² of the predictions.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features) or (n_samples,)
            Samples.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            True targets.
        sample_weight : array-like of shape (n_samples,), optional
            Weights of the rows in both sums.

        Returns
        -------
        float
            ``1 - SS_res / SS_tot`` (weighted sums of squares; the average
            over targets for several); 1.0 for a perfect fit of a constant
            target, 0.0 for an imperfect one. With Dask arrays the two sums
            are computed (one pass) on the active scheduler.

        Examples
        --------
        >>> import fastlinreg
        >>> X, y = fastlinreg.make_regression(random_state=42)
        >>> model = fastlinreg.LinearRegression().fit(X, y)
        >>> round(model.score(X, y), 4)
        0.9953
        """
        if is_dask_collection(X) or is_dask_collection(y):
            from ._dask import dask_score

            if sample_weight is not None:
                raise ValueError("sample_weight is not supported with Dask arrays")
            return dask_score(self, X, y)
        # The target's problems first, then the predictions'.
        ya = check_y(y, multi_output=True)
        pred = self.predict(X)
        check_lengths(pred.shape[0], ya)
        if ya.shape != pred.shape:
            raise ValueError(
                f"y has shape {ya.shape}, but the model predicts {pred.shape}"
            )
        return r2_score(ya, pred, check_sample_weight(sample_weight, ya.shape[0]))


def r2_score(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    sample_weight: npt.ArrayLike | None = None,
) -> float:
    """R² of predictions, computed in float64 (averaged over columns).

    Examples
    --------
    >>> from fastlinreg.linear_model import r2_score
    >>> r2_score([1.0, 2.0, 3.0], [1.0, 2.0, 3.0])
    1.0
    """
    yt = np.asarray(y_true, dtype=np.float64)
    yp = np.asarray(y_pred, dtype=np.float64)
    w = None if sample_weight is None else np.asarray(sample_weight, np.float64)
    if yt.ndim == 2:
        return float(
            np.mean([r2_score(yt[:, j], yp[:, j], w) for j in range(yt.shape[1])])
        )
    with np.errstate(over="ignore", invalid="ignore"):
        resid = yt - yp
        if w is None:
            ss_res = float(resid @ resid)
            dev = yt - yt.mean()
            ss_tot = float(dev @ dev)
        else:
            ss_res = float((w * resid) @ resid)
            dev = yt - float(w @ yt) / float(w.sum())
            ss_tot = float((w * dev) @ dev)
    if not (math.isfinite(ss_res) and math.isfinite(ss_tot)):
        raise ValueError(
            "y or the predictions hold values so large that their squares "
            "overflow float64: R² cannot be computed; rescale y"
        )
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


# Above this condition number of the standardised normal equations, a fit
# polishes the solution with Newton corrections (with the data's exact gradient
# when it has the data at hand); above the second it warns that digits are lost
# whatever we do, and does not try (a singular Hessian, e.g. more features than
# rows, would add an arbitrary null-space component to the minimum-norm answer
# the solver found).
# The condition number is computed (eigvalsh) only up to _CONDITION_MAX_FEATURES.
_REFINE_CONDITION = 1e3
_UNTRUSTED_CONDITION = 1e12
_CONDITION_MAX_FEATURES = 256
_MAX_REFINEMENTS = 3
# Up to this many elements of X, refinement computes the data's gradient in
# double-double arithmetic with exact sums (AccurateMSE); beyond, the kernel's.
_ACCURATE_MAX_ELEMENTS = 1 << 20


def _condition_number(objective: GramMSE) -> float | None:
    """Condition number of the Hessian, constant columns left out.

    A constant column has zero curvature in its direction; its coefficient
    stays at its start (0), the minimum-norm answer, and is no cause for alarm.
    """
    coords = objective.coords
    if coords.d > _CONDITION_MAX_FEATURES:
        return None
    if coords.d == 1 and coords.fit_intercept and objective.centred:
        return 1.0  # one standardised, centred feature: the Hessian is 2·I
    # Directions of zero curvature (constant columns with an intercept, all-zero
    # columns without) are left out: in standardised coordinates every other
    # column has curvature 2 on the diagonal.
    h = objective.hessian()
    diag = np.diag(h)
    keep = diag > 1e-12 * diag.max()
    if not keep.any():
        return None
    if keep.all():
        lipschitz, mu = objective.curvature()
    else:
        eig = np.linalg.eigvalsh(h[np.ix_(keep, keep)])
        lipschitz, mu = float(eig[-1]), float(eig[0])
    return lipschitz / mu if mu > 0 else float("inf")


def _refine(
    result: SolverResult, data: Objective, stats: GramMSE, gtol: float
) -> SolverResult:
    """Iterative refinement: Newton corrections with the statistics' Hessian
    and the gradient computed from the data themselves.

    The statistics' solution carries the rounding of forming X'X (relative
    error about condition number × eps); the data's gradient does not, so each
    correction gains digits while the condition number is below 1/eps. A
    correction is kept only when it shrinks the data's gradient.
    """
    hessian = stats.hessian()
    theta = result.theta
    f, g = data(theta)
    gnorm = math.sqrt(float(g @ g))
    curve = list(result.loss_curve)
    steps = 0
    for _ in range(_MAX_REFINEMENTS):
        if gnorm == 0.0:
            break
        try:
            trial = theta - np.linalg.solve(hessian, g)
        except np.linalg.LinAlgError:
            break
        f_new, g_new = data(trial)
        gnorm_new = math.sqrt(float(g_new @ g_new))
        if not gnorm_new < gnorm:
            break
        theta, f, g, gnorm = trial, f_new, g_new, gnorm_new
        curve.append(f)
        steps += 1
    if steps == 0:
        return result
    converged = result.converged or gnorm <= gtol
    return SolverResult(
        theta=theta,
        loss=float(f),
        grad_norm=gnorm,
        n_iter=result.n_iter + steps,
        n_evals=result.n_evals + steps + 1,
        loss_curve=np.asarray(curve),
        converged=converged,
        stop_reason="converged" if converged else result.stop_reason,
    )


# Up to this d, conjugate gradients on the statistics run in one kernel call.
_KERNEL_CG_MAX_FEATURES = 64


def _kernel_cg(
    kernels: ModuleType,
    stats: SufficientStats,
    coords: Coordinates,
    theta0: F64,
    common: dict[str, Any],
) -> SolverResult:
    """``conjugate_gradient`` on ``GramMSE(stats, coords)`` by ``gram_cg``."""
    theta = np.array(theta0, dtype=np.float64)
    n_iter, n_evals, reason, loss, gnorm, curve = kernels.gram_cg(
        np.ascontiguousarray(stats.cov, dtype=np.float64),
        np.ascontiguousarray(stats.mean, dtype=np.float64),
        float(stats.n),
        np.ascontiguousarray(coords.offset, dtype=np.float64),
        np.ascontiguousarray(coords.scale, dtype=np.float64),
        coords.fit_intercept,
        coords.y_offset,
        theta,
        common["gtol"],
        common["max_iter"],
    )
    return SolverResult.stopped(reason, theta, loss, gnorm, n_iter, n_evals, curve)


# The sufficient statistics take (d + 1)² doubles: up to this d, gather them.
_PRECOMPUTE_MAX_FEATURES = 2048

_OVERFLOW_MESSAGE = (
    "X or y holds values so large that their squares overflow "
    "float64; rescale them before fitting"
)


# Spreads this small mean values around 1e-140: their squares, which the
# statistics and the curvature are made of, fall toward float64's underflow.
_TINY_VARIANCE = 1e-280
_TINY_VALUE = 1e-140


def _check_no_underflow(mean: F64, var: F64, n_rows: float) -> None:
    """Raise when the data are so small that their squares underflow (a zero
    variance of tiny values counts from two rows on: one row has none)."""
    if var.min() >= _TINY_VARIANCE:
        return  # the common case, in one reduction: no variance is tiny or 0
    d = mean.shape[0] - 1
    tiny = (var > 0) & (var < _TINY_VARIANCE)
    if n_rows > 1:
        tiny |= (var == 0) & (np.abs(mean) > 0) & (np.abs(mean) < _TINY_VALUE)
    if tiny.any():
        j = int(np.flatnonzero(tiny)[0])
        where = "y" if j == d else f"column {j} of X"
        raise ValueError(
            f"{where} holds values so small (mean {mean[j]:.3g}, variance "
            f"{var[j]:.3g}) that their squares underflow float64; rescale X and y "
            "(e.g. multiply by a power of ten) before fitting"
        )


def _raise_not_finite(X: FloatArray, y: FloatArray) -> None:
    """The statistics of (X, y) are not finite: say why (NaN, inf, overflow)."""
    check_finite(X, "X")
    check_finite(y, "y")
    raise ValueError(_OVERFLOW_MESSAGE)


_T = TypeVar("_T")


def _cached_check(check: functools._lru_cache_wrapper[_T], *values: Any) -> _T:
    """``check(*values)`` through its ``lru_cache``; an unhashable value is
    checked uncached (the check then says what is wrong with it)."""
    try:
        return check(*values)
    except TypeError:
        return check.__wrapped__(*values)


@functools.lru_cache(maxsize=64, typed=True)
def _check_settings(
    learning_rate: Any,
    max_iter: Any,
    tol: Any,
    fit_intercept: Any,
    precompute: Any,
    solver: Any,
    verbose: Any,
    callback_ok: bool,
) -> None:
    """Raise for an invalid solver setting (cached: fits repeat their settings;
    of the callback only whether it is callable is known here)."""
    check_params(
        learning_rate=learning_rate,
        max_iter=max_iter,
        tol=tol,
        fit_intercept=fit_intercept,
    )
    check_choice(precompute, "precompute", ("auto", True, False))
    check_choice(solver, "solver", ("auto", "gd", "nesterov", "cg", "newton"))
    if solver == "cg" and (precompute is False or learning_rate != "auto"):
        raise ValueError(
            "solver='cg' works on the sufficient statistics with its own steps: "
            "use it with precompute='auto' or True and learning_rate='auto'"
        )
    if isinstance(verbose, bool) or not isinstance(verbose, int | np.integer):
        raise TypeError(f"verbose must be an integer, got {verbose!r}")
    if verbose < 0:
        raise ValueError(f"verbose must be >= 0, got {verbose!r}")


def _use_stats(precompute: bool | str, d: int) -> bool:
    if precompute == "auto":
        return d <= _PRECOMPUTE_MAX_FEATURES
    return bool(precompute)


def _resolve_solver(
    solver: str, fixed_step: bool, precomputed: bool, needs_newton: bool, loss: Loss
) -> str:
    if needs_newton or solver == "newton":
        what = (
            f"loss={loss.name!r}"
            if loss.name != "squared_error"
            else "alpha > 0 (or sample weights without precompute)"
        )
        if solver not in ("auto", "newton"):
            raise ValueError(
                f"solver={solver!r} fits the squared error without penalty; "
                f"{what} needs solver='auto' or 'newton'"
            )
        if fixed_step:
            raise ValueError(
                "learning_rate must be 'auto' with solver='newton' "
                f"({what} is solved by Newton steps, which choose their own "
                "step length)"
            )
        return "newton"
    if solver == "cg" and not precomputed:
        raise ValueError(
            "solver='cg' needs the sufficient statistics, which are not gathered "
            f"beyond {_PRECOMPUTE_MAX_FEATURES} features; use 'gd' or 'nesterov'"
        )
    if solver != "auto":
        return solver
    return "cg" if precomputed and not fixed_step else "gd"


def _coordinates(
    fixed_step: bool, fit_intercept: bool, mean: F64, var: F64
) -> Coordinates:
    """Standardised coordinates for the automatic step, raw ones for a fixed one.

    ``mean`` and ``var`` are those of the columns of ``[X | y]``.
    """
    d = mean.shape[0] - 1
    mean_x, var_x = mean[:d], var[:d]
    if fixed_step:
        return Coordinates(np.zeros(d), np.ones(d), fit_intercept)
    if fit_intercept:
        offset, scale = mean_x.copy(), np.sqrt(var_x)
    else:
        offset, scale = np.zeros(d), np.sqrt(var_x + mean_x**2)
    # Constant (or all-zero) columns keep unit scale.
    varying = scale > 1e-12 * np.maximum(np.abs(mean_x), 1e-300)
    if not varying.all():
        scale[~varying] = 1.0
    y_offset = float(mean[d]) if fit_intercept else 0.0
    return Coordinates(offset, scale, fit_intercept, y_offset)


def _curvature(
    objective: Callable[[F64], tuple[float, F64]], fixed_step: bool, learning_rate: Any
) -> tuple[float, float]:
    """(L, μ) for Nesterov: exact on sufficient statistics, else a first guess."""
    if fixed_step:
        return 1.0 / float(learning_rate), 0.0
    if isinstance(objective, GramMSE):
        lipschitz, mu = objective.curvature()
        if lipschitz > 0 and np.isfinite(lipschitz):
            return lipschitz, max(mu, 0.0)
    # Standardised coordinates: the Hessian has unit diagonal times two.
    return 2.0, 0.0


@functools.lru_cache(maxsize=64, typed=True)
def _checked_terms(
    loss: Any, epsilon: Any, quantile: Any, penalty: Any, alpha: Any, l1_ratio: Any
) -> tuple[Loss, Penalty]:
    """The validated loss and penalty (cached: fits repeat their settings)."""
    return check_loss(loss, epsilon, quantile), check_penalty(penalty, alpha, l1_ratio)


@dataclass(frozen=True)
class _Solution:
    """One target's fit: the model's coefficients and how the solver got them."""

    coef: F64
    intercept: float
    result: SolverResult
    solver: str


def _target_inits(
    coef_init: Any, intercept_init: Any, n_targets: int, d: int
) -> list[tuple[Any, Any]]:
    """The (coef_init, intercept_init) of each target."""
    if n_targets == 1:
        return [(coef_init, intercept_init)]
    coefs: list[Any] = [None] * n_targets
    if coef_init is not None:
        arr = np.asarray(coef_init, dtype=np.float64)
        if arr.shape != (n_targets, d):
            raise ValueError(
                f"coef_init must have shape (n_targets, n_features) = "
                f"({n_targets}, {d}) for {n_targets} targets, got {arr.shape}"
            )
        coefs = list(arr)
    intercepts: list[Any] = [None] * n_targets
    if intercept_init is not None:
        b = np.asarray(intercept_init, dtype=np.float64)
        if b.ndim == 0:
            b = np.full(n_targets, float(b))
        if b.shape != (n_targets,):
            raise ValueError(
                f"intercept_init must be a float or have shape ({n_targets},), "
                f"got {b.shape}"
            )
        intercepts = [float(v) for v in b]
    return list(zip(coefs, intercepts, strict=True))


# The objectives each path hands to the solver, as factories of coordinates.
def _bind_gram(stats: SufficientStats) -> ObjectiveFactory:
    return lambda coords: GramMSE(stats, coords)


def _bind_stats_quadratic(stats: SufficientStats) -> SecondOrderFactory:
    return lambda coords: StatsQuadratic(GramMSE(stats, coords))


def _bind_streaming(
    kernels: ModuleType, X: FloatArray, y: FloatArray, n_threads: int
) -> ObjectiveFactory:
    return lambda coords: StreamingMSE(kernels, X, y, coords, n_threads)


def _bind_second_order(
    kernels: ModuleType,
    X: FloatArray,
    y: FloatArray,
    weights: F64 | None,
    loss: Loss,
    n_threads: int,
    y_scale: float,
) -> SecondOrderFactory:
    return lambda coords: StreamingLoss(
        kernels, X, y, weights, loss, coords, n_threads, y_scale
    )


def _init_coef(coef_init: Any, d: int) -> F64:
    if coef_init is None:
        return np.zeros(d)
    return check_coef(coef_init, d, "coef_init")


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
    model: LinearRegression, result: SolverResult, gtol: float
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
        f"{result.grad_norm:.3g} > tol·scale = {gtol:.3g}. "
        + (
            "Increase max_iter or tol."
            if model.learning_rate == "auto"
            else "Increase max_iter or tol, or use learning_rate='auto'."
        )
    )
