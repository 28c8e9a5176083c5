"""fastlinreg: linear regression by gradient descent, at the speed of memory.

A fused one-pass kernel (Cython, with a NumPy twin as fallback and reference)
computes the mean squared error and its gradient; a thin Python layer runs the
gradient descent and wraps it in a scikit-learn compatible estimator.
"""

from ._backend import available_backends
from ._config import show_config
from ._exceptions import (
    BackendWarning,
    ConvergenceWarning,
    DataConversionWarning,
    DivergenceError,
    IllConditionedWarning,
    NotFittedError,
)
from ._inference import InferenceResult
from ._linear_cv import LinearRegressionCV
from ._version import __version__
from .datasets import make_regression, train_test_split
from .linear_model import LinearRegression, loss_gradient

__all__ = [
    "BackendWarning",
    "ConvergenceWarning",
    "DataConversionWarning",
    "DivergenceError",
    "IllConditionedWarning",
    "InferenceResult",
    "LinearRegression",
    "LinearRegressionCV",
    "NotFittedError",
    "__version__",
    "available_backends",
    "loss_gradient",
    "make_regression",
    "show_config",
    "train_test_split",
]
