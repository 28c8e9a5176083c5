"""The scikit-learn estimator protocol, without depending on scikit-learn.

scikit-learn discovers an estimator by duck typing: ``get_params``,
``set_params``, ``__sklearn_tags__`` and fitted attributes with a trailing
underscore. Implementing them here keeps ``import fastlinreg`` free of the
scikit-learn import (and of the dependency), while ``clone``, pipelines, grid
search and ``check_estimator`` all work when scikit-learn is installed.

Fitted state changes all at once: :meth:`EstimatorBase._swap_state` replaces
every fitted attribute in one step (one ``dict.update`` of the instance's
``__dict__``), so that a failed or interrupted fit leaves the estimator as it
was, and another thread never sees half a model; ``partial_fit`` holds the
estimator's own lock (:func:`state_lock`) from reading the statistics it adds
to until it has committed, so that two threads never lose rows.
:class:`LinearModel` adds what every linear model predicts and scores with.
"""

from __future__ import annotations

import inspect
import threading
import warnings
import weakref
from typing import Any, ClassVar, Self

import numpy as np
import numpy.typing as npt

from ._exceptions import not_fitted_error_class
from ._fit import FitSpec, Solution
from ._gather import Gathered
from ._stats import SufficientStats
from ._typing import F64, FloatArray
from ._validation import (
    check_lengths,
    check_sample_weight,
    check_X,
    check_y,
    feature_names_of,
)

__all__ = ["EstimatorBase", "LinearModel", "r2_score", "state_lock"]

# One lock per estimator, outside the instance (a lock in __dict__ would make
# the estimator impossible to pickle or deepcopy), dropped with it.
_LOCKS: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_LOCKS_GUARD = threading.Lock()


def state_lock(estimator: Any) -> threading.RLock:
    """The lock that serialises changes to ``estimator``'s fitted state."""
    with _LOCKS_GUARD:
        lock = _LOCKS.get(estimator)
        if lock is None:
            lock = _LOCKS[estimator] = threading.RLock()
        return lock


class EstimatorBase:
    """Parameter handling, repr, tags and input bookkeeping for estimators."""

    _PARAM_NAMES: ClassVar[tuple[str, ...]]
    # Set by fit (declared, not defined: absent until then).
    n_features_in_: int
    feature_names_in_: npt.NDArray[np.object_]

    @classmethod
    def _param_names(cls) -> tuple[str, ...]:
        # Read once per class, from the code object when __init__ is a plain
        # function (inspect.signature costs ~300 µs on the first fit, whose
        # work is ~250 µs at the tutorial's size).
        names: tuple[str, ...] | None = cls.__dict__.get("_PARAM_NAMES")
        if names is None:
            code = getattr(cls.__init__, "__code__", None)
            if code is not None and not hasattr(cls.__init__, "__wrapped__"):
                first = code.co_argcount
                keyword_only = code.co_varnames[first : first + code.co_kwonlyargcount]
            else:
                params = inspect.signature(cls.__init__).parameters.values()
                keyword_only = tuple(p.name for p in params if p.kind == p.KEYWORD_ONLY)
            names = tuple(sorted(keyword_only))
            cls._PARAM_NAMES = names
        return names

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """Parameters of this estimator, as given to ``__init__``.

        Parameters
        ----------
        deep : bool, default=True
            Accepted for scikit-learn compatibility; there are no nested
            estimators.

        Returns
        -------
        dict
            Parameter names mapped to their values.

        Examples
        --------
        >>> from fastlinreg import LinearRegression
        >>> LinearRegression(max_iter=50).get_params()["max_iter"]
        50
        """
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> Self:
        """Set parameters (validated at ``fit`` time, not here).

        Returns
        -------
        self

        Examples
        --------
        >>> from fastlinreg import LinearRegression
        >>> LinearRegression().set_params(tol=1e-6, backend="numpy")
        LinearRegression(backend='numpy', tol=1e-06)
        """
        valid = list(self._param_names())
        for name, value in params.items():
            if name not in valid:
                raise ValueError(
                    f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                    f"Valid parameters are: {valid!r}."
                )
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        defaults = {
            p.name: p.default
            for p in inspect.signature(type(self).__init__).parameters.values()
        }
        changed = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if not _same(v, defaults.get(k, inspect.Parameter.empty))
        ]
        return f"{type(self).__name__}({', '.join(changed)})"

    def __sklearn_tags__(self) -> Any:
        # Imported here: only scikit-learn itself ever asks for tags.
        from sklearn.utils import InputTags, RegressorTags, Tags, TargetTags

        return Tags(
            estimator_type="regressor",
            target_tags=TargetTags(required=True, multi_output=True),
            regressor_tags=RegressorTags(),
            input_tags=InputTags(),
        )

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "n_features_in_")

    def _check_is_fitted(self) -> None:
        if not self.__sklearn_is_fitted__():
            raise not_fitted_error_class()(
                f"This {type(self).__name__} instance is not fitted yet. Call "
                "'fit' with appropriate arguments before using this estimator."
            )

    # Attributes a fit sets (those of the input: with a new first chunk only).
    _FITTED: tuple[str, ...] = ()
    _INPUT = ("n_features_in_", "feature_names_in_")

    @staticmethod
    def _input_state(X_raw: Any, n_features: int) -> dict[str, Any]:
        """At fit time: ``n_features_in_`` and (for named columns)
        ``feature_names_in_``."""
        state: dict[str, Any] = {"n_features_in_": n_features}
        names = feature_names_of(X_raw)
        if names is not None:
            state["feature_names_in_"] = names
        return state

    def _swap_state(self, state: dict[str, Any], *, new_input: bool) -> None:
        """Replace every fitted attribute by those of ``state``, in one step.

        One ``dict.update`` of the instance's ``__dict__`` (a single C call,
        which no signal handler interrupts and other threads see whole), or,
        when an attribute must go, a new ``__dict__`` built aside and
        assigned at once. An exception or KeyboardInterrupt before it leaves
        the estimator exactly as it was. ``new_input``: the input's
        attributes (``n_features_in_``, ``feature_names_in_``) are replaced
        too (a fit), else kept (``partial_fit`` adding rows). What must not
        interleave with another thread's changes (partial_fit's read, merge
        and commit) holds :func:`state_lock` around it.
        """
        current = self.__dict__
        # (a commit sets every attribute of _FITTED; of the input's, the
        # names may be absent)
        if not (new_input and "feature_names_in_" in current) or (
            "feature_names_in_" in state
        ):
            current.update(state)  # one C call: atomic
            return
        # An attribute to remove (feature_names_in_ after a fit without
        # names): a new dict, assigned in one step.
        new = current.copy()
        for key in self._FITTED + self._INPUT:
            new.pop(key, None)
        new.update(state)
        self.__dict__ = new

    def _check_input(self, X_raw: Any, n_features: int) -> None:
        """After fit: ``X`` must have the fitted number and names of features."""
        if n_features != self.n_features_in_ and np.ndim(X_raw) == 1:
            raise ValueError(
                f"Expected 2D array, got 1D array instead; {type(self).__name__} "
                f"was fitted on {self.n_features_in_} features. Reshape your data "
                "either using array.reshape(-1, 1) if your data has a single "
                "feature or array.reshape(1, -1) if it contains a single sample."
            )
        if n_features != self.n_features_in_:
            raise ValueError(
                f"X has {n_features} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        fitted = getattr(self, "feature_names_in_", None)
        given = feature_names_of(X_raw)
        cls = type(self).__name__
        if fitted is None and given is not None:
            warnings.warn(
                f"X has feature names, but {cls} was fitted without feature names",
                UserWarning,
                stacklevel=3,
            )
        elif fitted is not None and given is None:
            warnings.warn(
                f"X does not have valid feature names, but {cls} was fitted "
                "with feature names",
                UserWarning,
                stacklevel=3,
            )
        elif fitted is not None and given is not None:
            _compare_names(list(fitted), list(given))


def _compare_names(fitted: list[str], given: list[str]) -> None:
    if fitted == given:
        return
    unseen = sorted(set(given) - set(fitted))
    missing = sorted(set(fitted) - set(given))
    lines = ["The feature names should match those that were passed during fit."]
    for title, names in (
        ("Feature names unseen at fit time:", unseen),
        ("Feature names seen at fit time, yet now missing:", missing),
    ):
        if names:
            lines.append(title)
            lines += [f"- {name}" for name in names[:5]]
            if len(names) > 5:
                lines.append("- ...")
    if not unseen and not missing:
        lines.append("Feature names must be in the same order as they were in fit.")
    raise ValueError("\n".join(lines) + "\n")


def _same(a: Any, b: Any) -> bool:
    if a is b:
        return True
    try:
        return bool(type(a) is type(b) and a == b)
    except (TypeError, ValueError):  # e.g. arrays, whose == is elementwise
        return False


class LinearModel(EstimatorBase):
    """An estimator with ``coef_`` and ``intercept_``: committing the
    solutions of a fit to them, ``predict`` and ``score``."""

    # Set by fit (declared, not defined: absent until then).
    coef_: FloatArray
    intercept_: Any
    loss_curve_: F64 | list[F64]
    n_iter_: int
    converged_: bool
    stop_reason_: str
    precomputed_: bool
    solver_: str
    backend_: str
    _stats: SufficientStats | None

    # Every attribute a fit sets (see EstimatorBase._swap_state).
    _FITTED: tuple[str, ...] = (
        "coef_",
        "intercept_",
        "loss_curve_",
        "n_iter_",
        "converged_",
        "stop_reason_",
        "precomputed_",
        "solver_",
        "backend_",
        "_stats",
        "_inference",
    )

    def _commit(
        self,
        spec: FitSpec,
        solutions: list[Solution],
        gathered: Gathered,
        inference: Any,
        *,
        X_raw: Any,
    ) -> Self:
        """Set every fitted attribute at once from the solutions (one per
        target), or none.

        Everything is computed first (a float32 model whose coefficients
        exceed float32 raises here, with nothing changed); the warnings of the
        solutions are issued, then the state is swapped in one step.
        ``X_raw``: the input whose feature count and names to remember (None:
        keep those remembered).
        """
        state = _fitted_state(solutions, gathered.dtype)
        state["precomputed_"] = gathered.stats is not None
        state["backend_"] = spec.engine.name
        # What partial_fit adds to (None: nothing to add to).
        state["_stats"] = gathered.stats
        # What inference_ reads (fastlinreg._infer.FitInference).
        state["_inference"] = inference
        if X_raw is not None:
            state.update(self._input_state(X_raw, gathered.n_features))
        for solution in solutions:
            for warning in solution.warnings:
                warnings.warn(warning, stacklevel=3)
        self._swap_state(state, new_input=X_raw is not None)
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
        from ._dask import is_dask_collection

        if is_dask_collection(X):
            return self._predict_dask(X)  # type: ignore[no-any-return]
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

    def _predict_dask(self, X: Any) -> Any:
        from ._dask import as_dask_X, predict_blocks

        if np.ndim(self.coef_) != 1:
            raise ValueError("a model of several targets cannot predict on Dask arrays")
        Xd = as_dask_X(X)
        self._check_input(X, int(Xd.shape[1]))
        coef = np.asarray(self.coef_, dtype=np.float64)
        return predict_blocks(Xd, coef, float(self.intercept_))

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
        from ._dask import is_dask_collection

        if is_dask_collection(X) or is_dask_collection(y):
            from ._dask import r2

            if sample_weight is not None:
                raise ValueError("sample_weight is not supported with Dask arrays")
            return r2(y, self.predict(X))
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
    ss_res, ss_tot = _sums_of_squares(yt, yp, w)
    if not (np.isfinite(ss_res) and np.isfinite(ss_tot)):
        raise ValueError(
            "y or the predictions hold values so large that their squares "
            "overflow float64: R² cannot be computed; rescale y"
        )
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot


def _sums_of_squares(yt: F64, yp: F64, w: F64 | None) -> tuple[float, float]:
    """(Σ w (y − ŷ)², Σ w (y − ȳ)²), weights 1 when ``w`` is None."""
    with np.errstate(over="ignore", invalid="ignore"):
        resid = yt - yp
        if w is None:
            dev = yt - yt.mean()
            return float(resid @ resid), float(dev @ dev)
        dev = yt - float(w @ yt) / float(w.sum())
        return float((w * resid) @ resid), float((w * dev) @ dev)


def _fitted_state(solutions: list[Solution], dtype: np.dtype[Any]) -> dict[str, Any]:
    """The fitted attributes the solutions (one per target) make."""
    first = solutions[0]
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
    if len(solutions) == 1:
        result = first.result
        return {
            "coef_": first.coef.astype(dtype),
            "intercept_": dtype.type(first.intercept),
            "loss_curve_": result.loss_curve,
            "n_iter_": result.n_iter,
            "converged_": result.converged,
            "stop_reason_": result.stop_reason,
            "solver_": first.solver,
        }
    return {
        "coef_": np.stack([s.coef for s in solutions]).astype(dtype),
        "intercept_": np.array([s.intercept for s in solutions], dtype=dtype),
        "loss_curve_": [r.loss_curve for r in results],
        "n_iter_": max(r.n_iter for r in results),
        "converged_": all(r.converged for r in results),
        "stop_reason_": next(
            (r.stop_reason for r in results if not r.converged),
            first.result.stop_reason,
        ),
        "solver_": first.solver,
    }
