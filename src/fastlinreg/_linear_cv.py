"""``LinearRegressionCV``: the penalty chosen by cross-validation in one pass.

One pass over the data gathers the sufficient statistics of every fold
(:mod:`fastlinreg._cv`); every alpha on every fold, and the refit on all the
rows at the chosen one, then come from those statistics alone.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Self

import numpy as np
import numpy.typing as npt

from . import _cv
from ._backend import check_n_jobs, get_kernels, resolve_backend
from ._base import LinearModel
from ._cv_folds import array_fold_stats, dask_fold_stats, total_stats
from ._dask import is_dask_collection
from ._stats import (
    OVERFLOW_MESSAGE,
    SufficientStats,
)
from ._typing import F64
from ._validation import (
    check_choice,
    check_floats,
    check_params,
    check_real,
)

__all__ = ["LinearRegressionCV"]

_PENALTIES = ("l2", "l1", "elasticnet")
_MAX_ALPHAS = 100_000  # (an int grid longer than this is a mistake, not a search)


class LinearRegressionCV(LinearModel):
    """Linear least squares with its penalty chosen by K-fold cross-validation.

    The objective is :class:`LinearRegression`'s: the mean squared error plus
    ``alpha · (l1_ratio · ‖coef‖₁ + ½ (1 − l1_ratio) · ‖coef‖²)``. Unlike
    scikit-learn's ``LassoCV``, ``ElasticNetCV`` and ``RidgeCV(cv=...)``,
    which refit every fold for every alpha and read ``X`` each time, this
    reads the data once: the statistics of each fold (count, means, centred
    cross-products) are gathered in one pass, a fold's training statistics
    are the other folds' merged, and its held-out error for any coefficients
    follows from its own statistics. Every alpha then costs O(d²) per fold
    (coordinate descent on the Gram, warm-started along the path, largest
    alpha first; the ridge: one eigendecomposition per fold for the whole
    grid), and the final fit at the chosen alpha comes from the total
    statistics, with no further pass. Only the squared error has such
    statistics: robust losses are out of its scope (cross-validate a
    ``LinearRegression(loss=...)`` with scikit-learn's ``GridSearchCV``).

    In scikit-learn's terms: ``LassoCV``'s alphas ``a`` are ``alpha = 2a``
    here (our squared error has no ½), likewise ``ElasticNetCV``'s;
    ``RidgeCV(cv=k)``'s are ``alpha = 2a / n_train`` (``n_train`` the rows of
    a training fold), and with ``cv=None`` ``alpha = 2a / n`` (all the rows,
    or the sum of the weights). The held-out error (``mse_path_``) is the
    plain mean squared error, as theirs.

    Parameters
    ----------
    penalty : {"l2", "l1", "elasticnet"}, default="l1"
        The penalty whose weight is chosen; ``"l1"`` takes ``l1_ratio`` as 1,
        ``"l2"`` as 0.
    alphas : int or array-like, default=100
        An int: that many alphas on a log grid from the smallest alpha that
        sets every coefficient to zero (``2·max|x̃ᵀỹ|/(n·l1_ratio)``, x̃ and ỹ
        centred with an intercept) down to ``eps`` of it; for the ridge,
        from 1e3 to ``eps``·1e3 times twice the mean eigenvalue of the
        centred Gram over n. An array: those alphas (positive), tried largest
        first.
    l1_ratio : float or list of float, default=0.5
        For ``penalty="elasticnet"``: the mix, in (0, 1], or several to
        choose among (the grid is per ratio).
    cv : int, cross-validation splitter, iterable, None or "gcv", default=5
        An int ``k``: ``KFold(k)`` without shuffling, contiguous row ranges
        (scikit-learn's default), in one pass (also over Dask arrays). A
        splitter (``split(X, y)``) or an iterable of ``(train, test)`` index
        arrays: their folds, each read from the rows it lists (a partition
        into test folds costs one pass; other schemes one pass per training
        set). For the ridge only: ``None``, exact leave-one-out errors (one
        pass for the statistics and one more for every row's leverage, at
        O(n d (d + alphas)) flops, as ``RidgeCV``'s default); ``"gcv"``,
        generalised cross-validation from the statistics alone (no second
        pass; also over Dask arrays).
    eps : float, default=1e-3
        The smallest alpha of an int grid, relative to its largest.
    fit_intercept : bool, default=True
        Fit an unpenalised intercept.
    positive : bool, default=False
        Constrain the coefficients to be non-negative, on every fold and in
        the refit (as ``LassoCV(positive=True)``); the ridge is then solved by
        coordinate descent too. Not with ``cv=None`` or ``"gcv"``.
    tol : float, default=1e-10
        Coordinate descent stops when the optimality conditions hold to
        ``tol`` times the scale of the gradient.
    max_iter : int, default=100000
        Coordinate-descent sweeps per alpha at most.
    backend : {"auto", "cython", "numpy"}, default="auto"
        The kernels of the statistics pass and of coordinate descent.
    n_jobs : int or None, default=None
        Threads of the statistics pass (None: all, as ``LinearRegression``).

    Attributes
    ----------
    alpha_ : float
        The chosen alpha: the smallest mean held-out error over the folds.
    alpha_1se_ : float
        The largest alpha whose mean error is within one standard error
        (over the folds; over the rows for leave-one-out; none for GCV, where
        it is ``alpha_``) of the smallest: the one-standard-error rule.
    l1_ratio_ : float
        The chosen mix.
    alphas_ : ndarray of shape (n_alphas,) or (n_l1_ratio, n_alphas)
        The grid, largest first.
    mse_path_ : ndarray of shape (n_alphas, n_folds) or (n_l1_ratio, n_alphas, n_folds)
        The held-out mean squared error of each alpha on each fold; for
        ``cv=None`` or ``"gcv"``, shape (n_alphas,): the leave-one-out
        (GCV) error of each alpha. With several targets, every fitted
        attribute gains a first axis of the targets (``coef_`` is
        (n_targets, n_features), as scikit-learn's).
    cv_results_ : dict
        ``alphas``, ``mean_test_mse``, ``std_test_mse``, ``sem_test_mse``
        (arrays like ``alphas_``), ``l1_ratios``, for plotting.
    coef_, intercept_ : ndarray of shape (n_features,), float
        The fit on all the rows at ``alpha_`` and ``l1_ratio_``.
    n_iter_ : int
        Coordinate-descent sweeps of that fit (0 for the ridge).
    converged_ : bool
        Whether every path point and the final fit met ``tol``.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlinreg import LinearRegressionCV
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 5))
    >>> y = X @ [1.5, 0.0, -2.0, 0.0, 0.0] + 0.5 * rng.normal(size=500)
    >>> model = LinearRegressionCV(penalty="l1", cv=5).fit(X, y)
    >>> model.mse_path_.shape
    (100, 5)
    >>> bool(abs(model.coef_[0] - 1.5) < 0.1)
    True
    """

    _FITTED = (
        *LinearModel._FITTED,
        "alpha_",
        "alpha_1se_",
        "l1_ratio_",
        "alphas_",
        "mse_path_",
        "cv_results_",
    )

    def __init__(
        self,
        *,
        penalty: str = "l1",
        alphas: int | npt.ArrayLike = 100,
        l1_ratio: float | npt.ArrayLike = 0.5,
        cv: Any = 5,
        eps: float = 1e-3,
        fit_intercept: bool = True,
        positive: bool = False,
        tol: float = 1e-10,
        max_iter: int = 100_000,
        backend: str = "auto",
        n_jobs: int | None = None,
    ) -> None:
        self.penalty = penalty
        self.alphas = alphas
        self.l1_ratio = l1_ratio
        self.cv = cv
        self.eps = eps
        self.fit_intercept = fit_intercept
        self.positive = positive
        self.tol = tol
        self.max_iter = max_iter
        self.backend = backend
        self.n_jobs = n_jobs

    def fit(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
    ) -> Self:
        """Choose the penalty by cross-validation and fit at it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Features (float32 or float64 used as they are; memory maps are
            read in one streaming pass; Dask arrays with an int ``cv`` or
            ``"gcv"``, no weights).
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Target; several columns: one search per column (an alpha per
            target, as ``RidgeCV(alpha_per_target=True)``).
        sample_weight : array-like of shape (n_samples,), optional
            Row weights: the fits and the held-out errors are weighted.

        Returns
        -------
        self : LinearRegressionCV
        """
        ratios = self._check_params()
        backend = resolve_backend(self.backend)
        kernels = get_kernels(backend)
        alphas: int | F64
        if isinstance(self.alphas, int | np.integer):
            alphas = int(self.alphas)
        else:
            alphas = np.sort(np.asarray(self.alphas, dtype=float))[::-1].copy()
        rule = _cv.Rule(
            float(self.tol), min(int(self.max_iter), 2**62), bool(self.positive)
        )
        on_dask = is_dask_collection(X) or is_dask_collection(y)
        search: Callable[[int], _cv.Choice]
        if self.cv is None or (isinstance(self.cv, str) and self.cv == "gcv"):
            total, dtype, rows = self._total_stats(
                kernels, X, y, sample_weight, backend
            )

            def search(j: int) -> _cv.Choice:
                return self._without_folds(kernels, total.target(j), rows, j, alphas)

        else:
            if on_dask:
                folds, total, dtype = dask_fold_stats(
                    self.cv, self.n_jobs, X, y, sample_weight, backend
                )
            else:
                folds, total, dtype = array_fold_stats(
                    kernels, self.cv, self.n_jobs, X, y, sample_weight
                )

            def search(j: int) -> _cv.Choice:
                return _cv.select(
                    kernels,
                    [(tr.target(j), te.target(j)) for tr, te in folds],
                    total.target(j),
                    ratios,
                    alphas,
                    float(self.eps),
                    bool(self.fit_intercept),
                    rule,
                )

        with np.errstate(over="ignore", invalid="ignore"):  # (checked below)
            choices = [search(j) for j in range(total.n_targets)]
        if not all(
            np.isfinite(c.coef).all() and np.isfinite(c.sem).all() for c in choices
        ):
            # (finite data whose moments or errors overflow float64)
            raise ValueError(OVERFLOW_MESSAGE)
        state = _fitted_state(choices, ratios, dtype)
        state["backend_"] = backend
        state.update(self._input_state(X, total.d))
        self._swap_state(state, new_input=True)
        return self

    # -- parameters -------------------------------------------------------

    def _check_params(self) -> list[float]:
        check_choice(self.penalty, "penalty", _PENALTIES)
        check_n_jobs(self.n_jobs)
        eps = check_real(self.eps, "eps", "a float in (0, 1)")
        if not 0 < eps < 1:
            raise ValueError(f"eps must be a float in (0, 1), got {self.eps!r}")
        check_params(
            learning_rate="auto",
            max_iter=self.max_iter,
            tol=self.tol,
            fit_intercept=self.fit_intercept,
        )
        if not self.tol > 0:
            raise ValueError(f"tol must be a positive finite float, got {self.tol!r}")
        if not isinstance(self.positive, bool | np.bool_):
            raise TypeError(f"positive must be True or False, got {self.positive!r}")
        self._check_alphas()
        if self.penalty == "l1":
            return [1.0]
        if self.penalty == "l2":
            return [0.0]
        ratios = np.atleast_1d(
            check_floats(
                self.l1_ratio, "l1_ratio", "a float in (0, 1] or a list of them"
            )
        )
        if (
            ratios.ndim != 1
            or ratios.size == 0
            or not (
                np.isfinite(ratios).all() and (ratios > 0).all() and (ratios <= 1).all()
            )
        ):
            raise ValueError(
                "l1_ratio must be a float in (0, 1] or a list of them for "
                f"penalty='elasticnet', got {self.l1_ratio!r}"
            )
        return [float(r) for r in ratios]

    def _check_alphas(self) -> None:
        a = self.alphas
        if isinstance(a, bool | np.bool_):
            raise TypeError(f"alphas must be an int or an array of floats, got {a!r}")
        if isinstance(a, int | np.integer):
            if not 1 <= a <= _MAX_ALPHAS:
                raise ValueError(f"alphas must be from 1 to {_MAX_ALPHAS}, got {a}")
            return
        arr = check_floats(a, "alphas", "an int or an array of floats")
        if arr.ndim != 1 or arr.size == 0 or not (np.isfinite(arr) & (arr > 0)).all():
            raise ValueError(
                "alphas must be an int or a 1-D array of positive finite floats, "
                f"got {a!r}"
            )

    # -- the pass ---------------------------------------------------------

    def _total_stats(
        self, kernels: Any, X: Any, y: Any, sample_weight: Any, backend: str
    ) -> tuple[SufficientStats, np.dtype[Any], tuple[Any, Any, Any] | None]:
        """``cv=None`` / ``"gcv"``: the statistics of all the rows, the dtype,
        and the rows themselves (None for Dask, which ``cv=None`` refuses)."""
        if self.positive:
            raise ValueError(
                f"cv={self.cv!r} (leave-one-out or generalised cross-validation) "
                "has closed forms for the unconstrained ridge only: use an int cv "
                "with positive=True"
            )
        if self.penalty != "l2":
            raise ValueError(
                f"cv={self.cv!r} (leave-one-out or generalised cross-validation) "
                f"chooses the ridge's penalty: use penalty='l2', not "
                f"{self.penalty!r}, or an int cv"
            )
        if self.cv is None and (is_dask_collection(X) or is_dask_collection(y)):
            raise TypeError(
                "cv=None (leave-one-out) reads the rows a second time: for "
                "Dask arrays use cv='gcv' or an int cv"
            )
        total, dtype, rows = total_stats(
            kernels, self.n_jobs, X, y, sample_weight, backend
        )
        if total.n_obs < 2 + int(bool(self.fit_intercept)):
            raise ValueError(
                f"cv={self.cv!r} needs at least {2 + int(bool(self.fit_intercept))} "
                "rows of positive weight"
            )
        return total, dtype, rows

    def _without_folds(
        self,
        kernels: Any,
        stats: SufficientStats,
        rows: tuple[Any, Any, Any] | None,
        j: int,
        alphas: int | F64,
    ) -> _cv.Choice:
        """The ridge path scored by leave-one-out (``cv=None``, one more
        pass over ``rows``) or by GCV (``"gcv"``, from ``stats`` alone)."""
        with_const = bool(self.fit_intercept)
        total = _cv.moments_of(stats, with_const)
        grid = _cv.grid_of(total, 0.0, alphas, float(self.eps))
        if self.cv is not None or rows is None:
            mean, sem = _cv.ridge_gcv(total, grid, with_const)
        else:
            X, y, w = rows
            target = y if y.ndim == 1 else y[:, j]
            block = max(1, (1 << 20) // (X.shape[1] + 2 * grid.shape[0]))
            mean, sem = _cv.ridge_loo(X, target, w, total, grid, with_const, block)
        std = sem * np.sqrt(stats.n_obs)
        errors = (mean[None, :], mean[None, :], std[None, :], sem[None, :])
        rule = _cv.Rule(float(self.tol), 1)
        return _cv.choose(
            kernels, total, [0.0], grid[None, :], errors, with_const, rule, True
        )


def _fitted_state(
    choices: list[_cv.Choice], ratios: list[float], dtype: np.dtype[Any]
) -> dict[str, Any]:
    """The fitted attributes of the choices of every target: as they are
    for one target, stacked along a first axis for several."""
    multi, one_ratio = len(choices) > 1, len(ratios) == 1

    def each(get: Any, path: bool = False) -> Any:
        vals = [get(c)[0] if path and one_ratio else get(c) for c in choices]
        return np.stack(vals) if multi else vals[0]

    converged = all(c.converged for c in choices)
    alphas = each(lambda c: c.alphas, True)
    return {
        "coef_": np.asarray(each(lambda c: c.coef)).astype(dtype),
        "intercept_": (
            np.asarray(each(lambda c: c.intercept)).astype(dtype)
            if multi
            else dtype.type(choices[0].intercept)
        ),
        "loss_curve_": [np.empty(0) for _ in choices] if multi else np.empty(0),
        "n_iter_": max(c.n_iter for c in choices),
        "converged_": converged,
        "stop_reason_": "converged" if converged else "max_iter",
        "precomputed_": True,
        "solver_": "cd" if any(c.l1_ratio > 0 for c in choices) else "eigh",
        "_stats": None,
        "_inference": None,
        "alpha_": each(lambda c: c.alpha),
        "alpha_1se_": each(lambda c: c.alpha_1se),
        "l1_ratio_": each(lambda c: c.l1_ratio),
        "alphas_": alphas,
        "mse_path_": each(lambda c: c.mse, True),
        "cv_results_": {
            "alphas": alphas,
            "l1_ratios": np.asarray(ratios, dtype=float),
            "mean_test_mse": each(lambda c: c.mean, True),
            "std_test_mse": each(lambda c: c.std, True),
            "sem_test_mse": each(lambda c: c.sem, True),
        },
    }
