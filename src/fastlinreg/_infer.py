"""The estimator's inference: ``inference_``, ``summary()``, ``inference()``.

A fit decides at fit time whether its coefficients admit classical
inference (squared loss, no penalty, converged) and, for the robust and
clustered covariances, makes the pass over the data that their meat needs
while the data are at hand; both go into the fitted state with everything
else (:class:`FitInference`). Classical inference is computed when asked, from
the statistics the fit keeps: it costs a fit nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ._fit import FitSpec, Solution
from ._inference import (
    InferenceResult,
    bread,
    check_cov_type,
    least_squares_inference,
)
from ._m_inference import (
    LOSS_COV_TYPES,
    check_loss_cov_type,
    m_inference,
    nonrobust_reason,
)
from ._sandwich import (
    DataPass,
    MemoryPass,
    MissingClusterId,
    group_codes,
    meat_point,
)
from ._stats import SufficientStats
from ._summary import Summary
from ._typing import F64, FloatArray
from ._validation import check_sample_weight, check_X_y

__all__ = [
    "FitInference",
    "InferenceMixin",
    "check_groups",
    "fit_inference",
    "memory_pass",
]

# The normal equations of the fitted coefficients on data given to
# inference(): relative residual above this means other data.
_NOT_THE_FIT = 1e-6


class FitInference(NamedTuple):
    """What a fit leaves for inference: its settings, why there is none
    (``reason``), or the robust results computed during the fit."""

    cov_type: str
    fit_intercept: bool
    reason: str | None = None
    results: tuple[InferenceResult, ...] | None = None
    needs_data: bool = False  # robust, after partial_fit: inference(X, y)
    other_cov: bool = False  # reason is cov_type's: inference(X, y, cov_type=…)


def _reason(spec: FitSpec, solutions: Sequence[Solution]) -> str | None:
    """Why the fit has no valid classical inference, or None."""
    if spec.loss.name not in LOSS_COV_TYPES:
        return nonrobust_reason(spec.loss.name)
    if spec.penalty.alpha > 0:
        return (
            f"a penalised fit (alpha={spec.penalty.alpha:g}) has no valid classical "
            "inference: its coefficients are shrunk towards zero and OLS standard "
            "errors do not apply to them; fit with alpha=0"
        )
    if spec.bounds is not None:
        return (
            "a fit within bounds (positive=True or bounds) has no valid classical "
            "inference: a coefficient held at its bound has no sampling "
            "distribution the standard errors describe; fit without bounds"
        )
    for solution in solutions:
        if not solution.result.converged:
            return (
                "the fit did not converge (stop reason "
                f"{solution.result.stop_reason!r}): its coefficients are not the "
                "least-squares solution, so standard errors for them would mean "
                "nothing; raise max_iter"
            )
    return None


def check_groups(spec: FitSpec, groups: Any) -> None:
    """``groups`` belongs with ``cov_type='cluster'`` and only with it
    (checked before any pass)."""
    if spec.cov_type == "cluster" and groups is None:
        raise ValueError(
            "cov_type='cluster' needs the cluster ids: fit(X, y, groups=...)"
        )
    if spec.cov_type != "cluster" and groups is not None:
        raise ValueError(
            f"groups are the cluster ids of cov_type='cluster'; this estimator has "
            f"cov_type={spec.cov_type!r}"
        )


def memory_pass(
    spec: FitSpec, X: Any, Y: Any, weights: F64 | None, groups: Any
) -> MemoryPass:
    """The :class:`MemoryPass` of validated arrays (``groups`` numbered)."""
    engine = spec.engine
    codes = group_codes(groups, X.shape[0])
    return MemoryPass(engine.kernels, engine.threads(X.size), X, Y, weights, codes)


def fit_inference(
    spec: FitSpec,
    solutions: Sequence[Solution],
    stats: SufficientStats | None,
    data: DataPass | None,
    feature_names: Any = None,
) -> FitInference:
    """What ``fit`` commits for inference; the robust types' pass runs here
    (``data``: where the fit's data are; None for partial_fit)."""
    reason = _reason(spec, solutions)
    cov_type = spec.cov_type
    if reason is None and cov_type == "nonrobust" and _robust_loss(spec):
        # the fit stands; inference(X, y, cov_type=...) may still give one
        reason = nonrobust_reason(spec.loss.name)
        return FitInference(cov_type, spec.fit_intercept, reason, other_cov=True)
    if reason is not None or cov_type == "nonrobust":
        return FitInference(cov_type, spec.fit_intercept, reason)
    if data is None:
        return FitInference(cov_type, spec.fit_intercept, needs_data=True)
    coefs = [s.coef for s in solutions]
    intercepts = [s.intercept for s in solutions]
    names = _names(feature_names, coefs[0].shape[0])
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            results = _robust_results(spec, data, stats, coefs, intercepts, names)
    except MissingClusterId:
        raise
    except ValueError as exc:
        # The fit stands; its inference is what is undefined (collinear
        # features, no residual degrees of freedom): inference_ says why.
        return FitInference(cov_type, spec.fit_intercept, str(exc))
    if not all(np.isfinite(r.cov_params()).all() for r in results):
        return FitInference(
            cov_type,
            spec.fit_intercept,
            "the robust covariance overflows float64 (X or y too large): rescale them",
        )
    return FitInference(cov_type, spec.fit_intercept, None, tuple(results))


def _robust_results(
    spec: FitSpec,
    data: DataPass,
    stats: SufficientStats | None,
    coefs: Sequence[F64],
    intercepts: Sequence[float],
    names: Sequence[str],
) -> list[InferenceResult]:
    """One result per target, each with the pass its meat needs."""
    if _robust_loss(spec):
        return _m_results(spec, data, coefs, intercepts, names)
    if stats is None:
        stats = data.stats()
    results = []
    for j, (coef, intercept) in enumerate(zip(coefs, intercepts, strict=True)):
        target = stats.target(j)
        b = bread(target, spec.fit_intercept)
        meat = data.meat(j, meat_point(coef, intercept, target, b, spec.cov_type))
        results.append(
            least_squares_inference(
                target,
                coef,
                intercept,
                fit_intercept=spec.fit_intercept,
                names=names,
                cov_type=spec.cov_type,
                meat=meat,
            )
        )
    return results


def _robust_loss(spec: FitSpec) -> bool:
    return spec.loss.name != "squared_error"


def _m_results(
    spec: FitSpec,
    data: DataPass,
    coefs: Sequence[F64],
    intercepts: Sequence[float],
    names: Sequence[str],
) -> list[InferenceResult]:
    """Quantile or Huber inference, one result per target."""
    if not isinstance(data, MemoryPass):
        raise ValueError(
            f"inference for loss={spec.loss.name!r} on Dask arrays is not "
            "available: call model.inference(X, y) with the data in memory or in "
            "a memory map"
        )
    Y = data.Y
    results = []
    for j, (coef, intercept) in enumerate(zip(coefs, intercepts, strict=True)):
        y: FloatArray = Y if Y.ndim == 1 else np.ascontiguousarray(Y[:, j])  # type: ignore[assignment]
        results.append(
            m_inference(
                data.kernels,
                data.threads,
                data.X,
                y,
                data.weights,
                spec.loss,
                spec.cov_type,
                coef,
                float(intercept),
                fit_intercept=spec.fit_intercept,
                names=names,
            )
        )
    return results


def _names(feature_names: Any, d: int) -> list[str]:
    if feature_names is not None:
        return [str(n) for n in feature_names]
    return [f"x{j}" for j in range(d)]


def _one_or_list(
    results: Sequence[InferenceResult], coef: Any
) -> InferenceResult | list[InferenceResult]:
    return results[0] if np.ndim(coef) == 1 else list(results)


class InferenceMixin:
    """``inference_``, ``summary`` and ``inference`` for a fitted linear model."""

    coef_: Any
    intercept_: Any
    _stats: SufficientStats | None
    _inference: FitInference

    def _fitted_inference(self, other_cov: bool = False) -> FitInference:
        self._check_is_fitted()  # type: ignore[attr-defined]
        state: FitInference | None = self.__dict__.get("_inference")
        if state is None:
            raise ValueError(
                "this model has no inference (it was loaded from a file or fitted "
                "by an older version): fit it again"
            )
        if state.reason is not None and not (other_cov and state.other_cov):
            raise ValueError(state.reason)
        return state

    @property
    def inference_(self) -> InferenceResult | list[InferenceResult]:
        """Standard errors, tests and intervals of the fit (statsmodels' names:
        ``params``, ``bse``, ``tvalues``, ``pvalues``, ``conf_int()``, …), for
        the ``cov_type`` the model was fitted with; a list for several
        targets. Raises ValueError for fits that admit none (penalised,
        not converged, other losses) or that need the data again.

        Examples
        --------
        >>> import fastlinreg
        >>> X, y = fastlinreg.make_regression(random_state=42)
        >>> result = fastlinreg.LinearRegression().fit(X, y).inference_
        >>> result.names, result.params.round(3).tolist()
        (('const', 'x0'), [-3.264, 7.594])
        >>> result.bse.round(4).tolist(), result.conf_int().round(3).tolist()
        ([0.03, 0.0052], [[-3.322, -3.205], [7.584, 7.604]])
        """
        state = self._fitted_inference()
        if state.needs_data:
            raise ValueError(
                f"cov_type={state.cov_type!r} needs a pass over the data, which "
                "partial_fit does not keep: call model.inference(X, y, ...) with "
                "all of them"
            )
        if state.results is not None:
            return _one_or_list(state.results, self.coef_)
        if self._stats is None:
            raise ValueError(
                "this fit kept no sufficient statistics (precompute=False or more "
                "features than precompute='auto' gathers): call "
                "model.inference(X, y) with the data"
            )
        stats = self._stats
        names = _names(self.__dict__.get("feature_names_in_"), stats.d)
        coefs = np.atleast_2d(np.asarray(self.coef_, dtype=np.float64))
        intercepts = np.atleast_1d(np.asarray(self.intercept_, dtype=np.float64))
        results = [
            least_squares_inference(
                stats.target(j),
                coefs[j],
                float(intercepts[j]),
                fit_intercept=state.fit_intercept,
                names=names,
            )
            for j in range(stats.n_targets)
        ]
        return _one_or_list(results, self.coef_)

    def summary(
        self, alpha: float = 0.05, *, target: int | None = None, yname: str = "y"
    ) -> Summary:
        """The regression table of ``inference_`` (``str()`` of it prints;
        ``.to_frame()`` gives a DataFrame), with intervals at level
        ``1 − alpha``. ``target`` picks one of several targets; ``yname``
        names the target in the header.

        Examples
        --------
        >>> import fastlinreg
        >>> X, y = fastlinreg.make_regression(random_state=42)
        >>> model = fastlinreg.LinearRegression(cov_type="HC1").fit(X, y)
        >>> print(str(model.summary()).splitlines()[3])
        Model:                             OLS   Adj. R-squared:                0.9953
        """
        result = self.inference_
        if isinstance(result, list):
            if target is None:
                raise ValueError(
                    f"the model has {len(result)} targets: pass summary(target=j)"
                )
            result = result[target]
        elif target not in (None, 0):
            raise ValueError(f"the model has one target; got target={target}")
        return result.summary(alpha, yname=yname)

    def inference(
        self,
        X: npt.ArrayLike,
        y: npt.ArrayLike,
        sample_weight: npt.ArrayLike | None = None,
        *,
        groups: npt.ArrayLike | None = None,
        cov_type: str | None = None,
    ) -> InferenceResult | list[InferenceResult]:
        """Inference for the fitted coefficients from data given again.

        For a model fitted by ``partial_fit`` (or without statistics), or for
        a covariance other than the one it was fitted with. One pass for the
        statistics, one more for a robust or clustered covariance; memory
        O(d² + clusters · d) beside the data (a memory map is read in blocks).
        The data must be those the model was fitted on: coefficients that do
        not solve their normal equations raise ValueError.

        Parameters
        ----------
        X, y, sample_weight
            The data of the fit.
        groups : array-like of shape (n_samples,) or (n_samples, 2), optional
            Cluster ids, for ``cov_type="cluster"``.
        cov_type : str, optional
            Default: the model's ``cov_type``.

        Returns
        -------
        InferenceResult or list of InferenceResult
            One per target.

        Examples
        --------
        >>> import numpy as np, fastlinreg
        >>> X, y = fastlinreg.make_regression(random_state=42)
        >>> model = fastlinreg.LinearRegression()
        >>> for rows in np.array_split(np.arange(len(y)), 4):
        ...     _ = model.partial_fit(X[rows], y[rows])
        >>> model.inference(X, y, cov_type="HC1").bse.round(4).tolist()
        [0.03, 0.0052]
        """
        state = self._fitted_inference(other_cov=cov_type is not None)
        cov_type = check_cov_type(
            getattr(self, "cov_type", "nonrobust") if cov_type is None else cov_type
        )
        if (cov_type == "cluster") != (groups is not None):
            raise ValueError("groups are needed with cov_type='cluster', and only then")
        spec = replace(self._spec(), cov_type=cov_type)  # type: ignore[attr-defined]
        check_loss_cov_type(spec.loss.name, cov_type)
        if cov_type == "nonrobust" and _robust_loss(spec):
            raise ValueError(nonrobust_reason(spec.loss.name))
        data = _data_pass(spec, X, y, sample_weight, groups)
        coefs = np.atleast_2d(np.asarray(self.coef_, dtype=np.float64))
        intercepts = np.atleast_1d(np.asarray(self.intercept_, dtype=np.float64))
        names = _names(self.__dict__.get("feature_names_in_"), coefs.shape[1])
        if _robust_loss(spec):
            _check_shapes(data, coefs)
            results = _m_results(spec, data, list(coefs), list(intercepts), names)
            return _one_or_list(results, self.coef_)
        stats = data.stats()
        if stats.n_targets != coefs.shape[0] or stats.d != coefs.shape[1]:
            raise ValueError(
                f"X and y have {stats.d} features and {stats.n_targets} targets; "
                f"the model has {coefs.shape[1]} and {coefs.shape[0]}"
            )
        for j in range(stats.n_targets):
            _check_solves(
                stats.target(j), coefs[j], float(intercepts[j]), state.fit_intercept
            )
        if cov_type == "nonrobust":
            results = [
                least_squares_inference(
                    stats.target(j),
                    coefs[j],
                    float(intercepts[j]),
                    fit_intercept=state.fit_intercept,
                    names=names,
                )
                for j in range(stats.n_targets)
            ]
        else:
            results = _robust_results(
                spec, data, stats, list(coefs), list(intercepts), names
            )
        return _one_or_list(results, self.coef_)


def _data_pass(
    spec: FitSpec, X: Any, y: Any, sample_weight: Any, groups: Any
) -> DataPass:
    """inference()'s data, validated: Dask arrays or arrays in memory."""
    from ._dask import DaskPass, is_dask_collection

    if is_dask_collection(X) or is_dask_collection(y):
        if sample_weight is not None:
            raise ValueError("sample_weight is not supported with Dask arrays")
        return DaskPass(spec, X, y, groups)
    Xa, Y = check_X_y(X, y, multi_output=True)
    weights = check_sample_weight(sample_weight, Xa.shape[0])
    return memory_pass(spec, Xa, Y, weights, groups)


def _check_shapes(data: DataPass, coefs: F64) -> None:
    """The data given to inference() have the model's features and targets."""
    if isinstance(data, MemoryPass):
        X, Y = data.X, data.Y
        d, k = X.shape[1], 1 if Y.ndim == 1 else Y.shape[1]
        if (k, d) != coefs.shape:
            raise ValueError(
                f"X and y have {d} features and {k} targets; the model has "
                f"{coefs.shape[1]} and {coefs.shape[0]}"
            )


def _check_solves(
    stats: SufficientStats, coef: F64, intercept: float, fit_intercept: bool
) -> None:
    """Raise unless ``(coef, intercept)`` solve the normal equations of
    ``stats`` (to ~1e-6): inference for other data would be silently wrong."""
    d = stats.d
    A, Sxy = stats.cov[:d, :d], stats.cov[:d, d]
    xbar, ybar = stats.mean[:d], float(stats.mean[d])
    if fit_intercept:
        gap = A @ coef - Sxy
        scale = np.abs(A) @ np.abs(coef) + np.abs(Sxy)
        off = abs(intercept - (ybar - float(xbar @ coef)))
        off_scale = (
            abs(ybar)
            + float(np.abs(xbar) @ np.abs(coef))
            + np.sqrt(stats.cov[d, d] / max(stats.n, 1.0))
        )
    else:
        G = A + stats.n * np.multiply.outer(xbar, xbar)
        g = Sxy + stats.n * xbar * ybar
        gap = G @ coef - g
        scale = np.abs(G) @ np.abs(coef) + np.abs(g)
        off, off_scale = 0.0, 1.0
    worst = float(np.max(np.abs(gap) / np.maximum(scale, 1e-300), initial=0.0))
    if worst > _NOT_THE_FIT or off > _NOT_THE_FIT * off_scale:
        raise ValueError(
            "the coefficients do not solve the normal equations of this X and y "
            f"(relative residual {max(worst, off / off_scale):.2g}): inference() "
            "needs the data the model was fitted on"
        )
