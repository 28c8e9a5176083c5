"""The scikit-learn estimator protocol, without depending on scikit-learn.

scikit-learn discovers an estimator by duck typing: ``get_params``,
``set_params``, ``__sklearn_tags__`` and fitted attributes with a trailing
underscore. Implementing them here keeps ``import fastlinreg`` free of the
scikit-learn import (and of the dependency), while ``clone``, pipelines, grid
search and ``check_estimator`` all work when scikit-learn is installed.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any, Self

import numpy as np

from ._exceptions import not_fitted_error_class
from ._validation import feature_names_of

__all__ = ["EstimatorBase"]


class EstimatorBase:
    """Parameter handling, repr, tags and input bookkeeping for estimators."""

    @classmethod
    def _param_names(cls) -> list[str]:
        params = inspect.signature(cls.__init__).parameters.values()
        return sorted(
            p.name for p in params if p.name != "self" and p.kind == p.KEYWORD_ONLY
        )

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
        valid = self._param_names()
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

    def _remember_input(self, X_raw: Any, n_features: int) -> None:
        """At fit time: record ``n_features_in_`` and ``feature_names_in_``."""
        self.n_features_in_ = n_features
        names = feature_names_of(X_raw)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

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
