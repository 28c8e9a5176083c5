"""Warnings and errors raised by fastlinreg."""

from __future__ import annotations

import sys

__all__ = [
    "BackendWarning",
    "ConvergenceWarning",
    "DataConversionWarning",
    "DivergenceError",
    "NotFittedError",
]


class ConvergenceWarning(UserWarning):
    """The solver stopped before reaching its tolerance (see ``stop_reason_``)."""


class DataConversionWarning(UserWarning):
    """The input was converted to the shape or type the model needs."""


class BackendWarning(UserWarning):
    """The compiled kernels are unavailable; the NumPy fallback runs instead."""


class DivergenceError(FloatingPointError):
    """Gradient descent diverged: the objective grew or stopped being finite."""


class NotFittedError(ValueError, AttributeError):
    """The estimator was used before ``fit``."""


def not_fitted_error_class() -> type[NotFittedError]:
    """The class to raise for an unfitted estimator.

    When scikit-learn is already imported (the user works with it), a subclass
    of both fastlinreg's and scikit-learn's ``NotFittedError``, so that code
    catching either one catches it. fastlinreg never imports scikit-learn
    itself.
    """
    sk = sys.modules.get("sklearn.exceptions")
    sk_cls = getattr(sk, "NotFittedError", None)
    if not isinstance(sk_cls, type):
        return NotFittedError
    if sk_cls not in _BRIDGES:
        _BRIDGES[sk_cls] = type(
            "NotFittedError",
            (NotFittedError, sk_cls),
            {
                "__module__": __name__,
                "__doc__": NotFittedError.__doc__,
            },
        )
    return _BRIDGES[sk_cls]


_BRIDGES: dict[type, type[NotFittedError]] = {}
