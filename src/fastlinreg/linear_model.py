"""Linear regression fitted by gradient descent, for several losses.

The estimator only wires the pieces together: its parameters become a
:class:`~fastlinreg._fit.FitSpec` (checked once), one pass over the data
gathers a :class:`~fastlinreg._fit.Problem` per target (``_gather`` for arrays
in memory and memory maps, ``_dask`` for Dask arrays), ``solve`` turns each
into a :class:`~fastlinreg._fit.Solution`, and :meth:`LinearRegression._commit`
sets every fitted attribute in one step, or none.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import Any, Literal, Self

import numpy as np
import numpy.typing as npt

from ._base import LinearModel, r2_score, state_lock
from ._dask import is_dask_collection
from ._fit import (
    FitSpec,
    Init,
    Solution,
    make_spec,
    solve,
    stats_problems,
    target_inits,
)
from ._gather import Gathered, chunk_stats, gather_arrays
from ._infer import InferenceMixin, check_groups, fit_inference, memory_pass
from ._loss_gradient import loss_gradient
from ._progress import IterationInfo
from ._sandwich import DataPass
from ._stats import OVERFLOW_MESSAGE, SufficientStats
from ._validation import check_sample_weight, check_X_y, feature_names_of

CovType = Literal["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"]

__all__ = ["IterationInfo", "LinearRegression", "loss_gradient", "r2_score"]


class LinearRegression(InferenceMixin, LinearModel):
    """Linear regression fitted by gradient-based descent, for several losses.

    Minimises, over ``coef`` and ``intercept``, with residuals
    ``r = y - X @ coef - intercept`` and sample weights ``s`` (all 1 by
    default)::

        sum(s * loss(r)) / sum(s)
            + alpha * (l1_ratio * ||coef||_1 + 0.5 * (1 - l1_ratio) * ||coef||_2**2)

    The default is least squares, ``mean(r**2)``. Its gradient comes from one
    fused pass of the kernel per step, or from sufficient statistics gathered
    in one pass (then a step costs O(n_features²)). Other losses, penalties
    and bounds take proximal Newton steps (gradient and curvature from one
    fused pass each, or from the statistics for the squared error).

    Mapping onto scikit-learn (squared error; ``n`` rows): ``Lasso(alpha=a)``
    is ``penalty="l1", alpha=2*a``; ``ElasticNet(alpha=a, l1_ratio=r)`` is
    ``penalty="elasticnet", alpha=2*a, l1_ratio=r``; ``Ridge(alpha=a)`` is
    ``penalty="l2", alpha=2*a/n`` (Ridge sums the squared residuals).
    ``QuantileRegressor(quantile=q, alpha=0)`` is ``loss="quantile",
    quantile=q``. Our ``"huber"`` is SGDRegressor's (a fixed threshold in the
    units of ``y``), not HuberRegressor's (which also estimates a scale).

    Parameters
    ----------
    loss : {"squared_error", "absolute_error", "huber", "quantile", \
"epsilon_insensitive"}, default="squared_error"
        ``loss(r)``: ``r**2``; ``|r|``; ``r**2/2`` for ``|r| <= epsilon`` and
        ``epsilon*|r| - epsilon**2/2`` beyond; the pinball loss
        ``max(quantile*r, (quantile - 1)*r)``; ``max(0, |r| - epsilon)``. The
        non-smooth ones are solved through smoothed versions; unpenalised
        absolute and quantile fits end at the linear programme's exact vertex.
    epsilon : float, default=0.1
        Huber's threshold, epsilon-insensitive's width (units of ``y``).
    quantile : float, default=0.5
        Level of the ``"quantile"`` loss, in (0, 1) (0.5: the median).
    alpha : float or array of shape (n_targets,), default=0.0
        Strength of the penalty (never on the intercept); one per target.
    penalty : {"l2", "l1", "elasticnet", None}, default="l2"
        ``"l2"``: ``l1_ratio`` taken as 0; ``"l1"``: as 1 (exact zeros);
        ``"elasticnet"``: the given ``l1_ratio``; None: no penalty.
    l1_ratio : float, default=0.15
        The L1 share of an elastic-net penalty, in [0, 1].
    positive : bool, default=False
        Coefficients ``>= 0`` (the intercept free), any loss and penalty.
    bounds : (lower, upper) or None, default=None
        ``lower <= coef_ <= upper``, each a float or one value per feature
        (``±np.inf``: none; ``positive=True`` raises lower bounds to 0):
        Newton steps that stay inside, stopped by the projected optimality
        conditions. Bounded fits have no classical inference.
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
    cov_type : {"nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "robust", "iid"}
        The covariance behind ``inference_`` and :meth:`summary` (``alpha=0``).
        Squared error, as statsmodels' OLS/WLS: ``nonrobust`` (default; free),
        ``HC0``–``HC3``, ``cluster`` (``fit(..., groups=ids)``: one or two
        columns). Quantile: ``robust`` or ``iid``, as QuantReg; Huber: ``robust``.

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
    inference_ : InferenceResult or list of them
        Standard errors, t, p, intervals, R², F, … (statsmodels' names; see
        ``cov_type``), one per target.

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
        alpha: float | npt.ArrayLike = 0.0,
        penalty: Literal["l2", "l1", "elasticnet"] | None = "l2",
        l1_ratio: float = 0.15,
        positive: bool = False,
        bounds: tuple[float | npt.ArrayLike, float | npt.ArrayLike] | None = None,
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
        cov_type: Literal[
            "nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "robust", "iid"
        ] = "nonrobust",
    ) -> None:
        self.loss = loss
        self.epsilon = epsilon
        self.quantile = quantile
        self.alpha = alpha
        self.penalty = penalty
        self.l1_ratio = l1_ratio
        self.positive = positive
        self.bounds = bounds
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
        self.cov_type = cov_type

    def fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
        *,
        coef_init: npt.ArrayLike | None = None,
        intercept_init: float | npt.ArrayLike | None = None,
        groups: npt.ArrayLike | None = None,
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
        groups : array-like of shape (n_samples,) or (n_samples, 2), optional
            Cluster ids for ``cov_type="cluster"`` (two columns: two-way).

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
        spec = self._spec()
        check_groups(spec, groups)
        gathered, inits, data = _gather(
            spec, X, y, sample_weight, coef_init, intercept_init, groups
        )
        solutions = _solve_all(spec, gathered, inits)
        names = feature_names_of(X)
        inference = fit_inference(spec, solutions, gathered.stats, data, names)
        return self._commit(spec, solutions, gathered, inference, X_raw=X)

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
        spec = self._spec()
        if spec.loss.name != "squared_error":
            raise ValueError(
                f"partial_fit supports loss='squared_error' only (got "
                f"{spec.loss.name!r}): the other losses have no sufficient "
                "statistics to accumulate"
            )
        check = functools.partial(_previous_stats, self, warn=False)
        chunk, dtype = _chunk(spec, X, y, sample_weight, check)
        # Merged and solved under the estimator's lock: calls from several
        # threads each add their rows (their passes above run in parallel).
        with state_lock(self):
            previous = _previous_stats(self, X, chunk.d)
            stats = chunk
            if previous is not None:
                stats = previous.merge(chunk)
                if not stats.finite():
                    raise ValueError(OVERFLOW_MESSAGE)
                dtype = np.result_type(self.coef_.dtype, dtype)
            solutions, gathered = _solve_stats(spec, stats, dtype)
            inference = fit_inference(spec, solutions, stats, None)
            # A continued accumulation keeps the first chunk's feature names.
            new_input = X if previous is None else None
            return self._commit(spec, solutions, gathered, inference, X_raw=new_input)

    # ------------------------------------------------------------------
    # The pieces: settings -> gather -> solve -> commit
    # ------------------------------------------------------------------

    def _spec(self) -> FitSpec:
        """Every parameter checked once (an error names the first bad one)."""
        d = self.__dict__
        params = {name: d[name] for name in self._param_names()}
        return make_spec(params, type(self).__name__)


def _previous_stats(
    model: LinearRegression, X_raw: Any, d: int, *, warn: bool = True
) -> SufficientStats | None:
    """The statistics partial_fit adds to, after checking ``X_raw`` fits."""
    if not model.__sklearn_is_fitted__():
        return None
    previous: SufficientStats | None = getattr(model, "_stats", None)
    if previous is None:
        if warn:
            warnings.warn(
                f"{type(model).__name__} was fitted without keeping sufficient "
                "statistics (precompute=False, or loaded from a file); "
                "partial_fit starts a new accumulation from this chunk",
                UserWarning,
                stacklevel=4,
            )
        return None
    model._check_input(X_raw, d)
    return previous


def _gather(
    spec: FitSpec,
    X: Any,
    y: Any,
    sample_weight: Any,
    coef_init: Any,
    intercept_init: Any,
    groups: Any,
) -> tuple[Gathered, list[Init], DataPass | None]:
    """``fit``'s pass over the data (Dask's or in memory), the targets'
    starting points (their shapes checked before the pass) and, for a robust
    ``cov_type``, where the data are for its second pass (checked, with the
    cluster ids, before the first)."""
    robust = spec.cov_type != "nonrobust"
    data: DataPass | None = None
    if is_dask_collection(X) or is_dask_collection(y):
        from ._dask import DaskPass, gather

        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with Dask arrays")
        if robust:
            data = DaskPass(spec, X, y, groups)
        gathered = gather(spec, X, y)
    else:
        Xa, Y = check_X_y(X, y, finite=False, multi_output=True)
        weights = check_sample_weight(sample_weight, Xa.shape[0])
        if coef_init is not None or intercept_init is not None:
            n_targets = 1 if Y.ndim == 1 else int(Y.shape[1])
            target_inits(coef_init, intercept_init, n_targets, Xa.shape[1])
        if robust:
            data = memory_pass(spec, Xa, Y, weights, groups)
        gathered = gather_arrays(spec, Xa, Y, weights)
    inits = target_inits(
        coef_init, intercept_init, gathered.n_targets, gathered.n_features
    )
    return gathered, inits, data


def _chunk(
    spec: FitSpec,
    X: Any,
    y: Any,
    sample_weight: Any,
    check: Callable[[Any, int], object],
) -> tuple[SufficientStats, np.dtype[Any]]:
    """The statistics of one chunk of ``partial_fit``, and its dtype;
    ``check(X, n_features)`` raises for a chunk that does not fit the model
    (before the pass)."""
    if is_dask_collection(X) or is_dask_collection(y):
        from ._dask import as_dask_X_y, gather_stats

        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with Dask arrays")
        Xd, yd = as_dask_X_y(X, y)
        check(X, Xd.shape[1])
        engine = spec.engine
        return gather_stats(Xd, yd, engine.name, engine.n_jobs), Xd.dtype
    Xa, ya = check_X_y(X, y, finite=False, multi_output=True)
    weights = check_sample_weight(sample_weight, Xa.shape[0])
    check(X, Xa.shape[1])
    return chunk_stats(spec, Xa, ya, weights), Xa.dtype


def _solve_stats(
    spec: FitSpec, stats: SufficientStats, dtype: np.dtype[Any]
) -> tuple[list[Solution], Gathered]:
    """Solve every target of ``stats`` (partial_fit's accumulation)."""
    gathered = Gathered(stats_problems(stats), stats.n_targets, stats.d, dtype, stats)
    return _solve_all(spec, gathered, [(None, None)] * stats.n_targets), gathered


def _solve_all(spec: FitSpec, gathered: Gathered, inits: Any) -> list[Solution]:
    """Every target's solution, each with its own penalty (``alpha`` may be
    one per target)."""
    n = gathered.n_targets
    pairs = zip(gathered.problems, inits, strict=True)
    return [solve(spec.for_target(j, n), p, init) for j, (p, init) in enumerate(pairs)]
