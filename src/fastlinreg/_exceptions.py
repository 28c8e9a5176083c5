"""Warnings and errors raised by fastlinreg."""

from __future__ import annotations

import sys

__all__ = [
    "BackendWarning",
    "ConvergenceWarning",
    "DataConversionWarning",
    "DivergenceError",
    "IllConditionedWarning",
    "NotFittedError",
]


class ConvergenceWarning(UserWarning):
    """The solver stopped before reaching its tolerance (see ``stop_reason_``).

    Examples
    --------
    >>> import warnings
    >>> import fastlinreg
    >>> X, y = fastlinreg.make_regression(random_state=0)
    >>> model = fastlinreg.LinearRegression(learning_rate=1e-3, max_iter=5)
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = model.fit(X, y)
    >>> caught[0].category.__name__, model.converged_, model.stop_reason_
    ('ConvergenceWarning', False, 'max_iter')
    """


class IllConditionedWarning(UserWarning):
    """The problem is too ill-conditioned for the coefficients to be trusted.

    Issued when the condition number of the standardised normal equations
    exceeds 1e12: float64 then leaves only a few correct digits, whatever the
    solver. NIST's Filip dataset (a degree-10 polynomial) is such a problem.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> import fastlinreg
    >>> x = np.linspace(0.0, 1.0, 50)
    >>> X = np.column_stack([x, x + 1e-9 * np.sin(x)])  # two copies of x, nearly
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = fastlinreg.LinearRegression().fit(X, 3.0 * x)
    >>> fastlinreg.IllConditionedWarning in {type(w.message) for w in caught}
    True
    """


class DataConversionWarning(UserWarning):
    """The input was converted to the shape or type the model needs.

    Examples
    --------
    >>> import warnings
    >>> import numpy as np
    >>> import fastlinreg
    >>> y_column = np.arange(4.0).reshape(-1, 1)  # (n, 1) where (n,) is expected
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     _ = fastlinreg.LinearRegression().fit(np.arange(4.0), y_column)
    >>> caught[0].category.__name__
    'DataConversionWarning'
    """


class BackendWarning(UserWarning):
    """The compiled kernels are unavailable; the NumPy fallback runs instead.

    Examples
    --------
    Silence it where the fallback is expected:

    >>> import warnings
    >>> import fastlinreg
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore", fastlinreg.BackendWarning)
    ...     model = fastlinreg.LinearRegression().fit([[0.0], [1.0]], [0.0, 1.0])
    >>> model.backend_ in fastlinreg.available_backends()
    True
    """


class DivergenceError(FloatingPointError):
    """Gradient descent diverged: the objective grew or stopped being finite.

    Examples
    --------
    >>> import fastlinreg
    >>> X, y = fastlinreg.make_regression(random_state=42)
    >>> try:
    ...     fastlinreg.LinearRegression(learning_rate=1.0).fit(X, y)
    ... except fastlinreg.DivergenceError as exc:
    ...     print(exc)  # doctest: +ELLIPSIS
    gradient descent diverged after ... steps below ... are safe. ...
    """


class NotFittedError(ValueError, AttributeError):
    """The estimator was used before ``fit``.

    Examples
    --------
    >>> import fastlinreg
    >>> try:
    ...     fastlinreg.LinearRegression().predict([[1.0]])
    ... except fastlinreg.NotFittedError as exc:
    ...     print(exc)  # doctest: +NORMALIZE_WHITESPACE
    This LinearRegression instance is not fitted yet. Call 'fit' with
    appropriate arguments before using this estimator.
    """


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
