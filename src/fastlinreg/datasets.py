"""Synthetic regression data and a train/test split."""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

__all__ = ["NOISE_FAMILIES", "make_regression", "train_test_split"]

NOISE_FAMILIES = ("normal", "laplace", "student_t", "uniform")
RandomState = int | np.random.RandomState | np.random.Generator | None


def _rng(random_state: RandomState) -> np.random.RandomState | np.random.Generator:
    """An int seeds NumPy's legacy RandomState, the generator of the tutorial."""
    if random_state is None or isinstance(random_state, int | np.integer):
        return np.random.RandomState(random_state)
    if isinstance(random_state, np.random.RandomState | np.random.Generator):
        return random_state
    raise TypeError(
        "random_state must be None, an int, a numpy RandomState or Generator, "
        f"got {random_state!r}"
    )


def _noise(
    rng: np.random.RandomState | np.random.Generator,
    family: str,
    scale: float,
    df: float,
    n: int,
) -> npt.NDArray[np.float64]:
    if family == "normal":
        return rng.normal(0.0, scale, n)
    if family == "laplace":
        return rng.laplace(0.0, scale, n)
    if family == "student_t":
        return scale * rng.standard_t(df, n)
    if family == "uniform":
        return rng.uniform(-scale, scale, n)
    raise ValueError(f"noise must be one of {NOISE_FAMILIES}, got {family!r}")


@overload
def make_regression(
    n_samples: int = ...,
    n_features: int = ...,
    *,
    coef: npt.ArrayLike | None = ...,
    intercept: float = ...,
    noise: str = ...,
    noise_scale: float = ...,
    df: float = ...,
    x_range: tuple[float, float] = ...,
    dtype: npt.DTypeLike = ...,
    random_state: RandomState = ...,
    return_coef: Literal[False] = ...,
) -> tuple[np.ndarray, np.ndarray]: ...
@overload
def make_regression(
    n_samples: int = ...,
    n_features: int = ...,
    *,
    coef: npt.ArrayLike | None = ...,
    intercept: float = ...,
    noise: str = ...,
    noise_scale: float = ...,
    df: float = ...,
    x_range: tuple[float, float] = ...,
    dtype: npt.DTypeLike = ...,
    random_state: RandomState = ...,
    return_coef: Literal[True],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]: ...
def make_regression(
    n_samples: int = 10_000,
    n_features: int = 1,
    *,
    coef: npt.ArrayLike | None = None,
    intercept: float = -3.3,
    noise: str = "normal",
    noise_scale: float = 3.0,
    df: float = 3.0,
    x_range: tuple[float, float] = (-10.0, 10.0),
    dtype: npt.DTypeLike = np.float64,
    random_state: RandomState = None,
    return_coef: bool = False,
) -> tuple[np.ndarray, ...]:
    """Data from a known linear model: ``y = X @ coef + intercept + noise``.

    The defaults are the classic tutorial's problem: 10,000 points,
    ``x ~ Uniform(-10, 10)``, ``y = 7.6 x - 3.3 + N(0, 3²)``. With
    ``random_state=42`` the draws are exactly the tutorial's
    (``np.random.seed(42)``: the uniform draws first, then the normal ones).

    Parameters
    ----------
    n_samples : int, default=10_000
        Number of rows.
    n_features : int, default=1
        Number of features.
    coef : array-like of shape (n_features,), optional
        True coefficients. Default: 7.6 for one feature; otherwise drawn from
        Uniform(-10, 10) after the features and the noise.
    intercept : float, default=-3.3
        True intercept.
    noise : {"normal", "laplace", "student_t", "uniform"}, default="normal"
        Noise family (the tutorial's "non-Gaussian noise" extension).
    noise_scale : float, default=3.0
        Scale of the noise: the standard deviation for "normal", ``b`` for
        "laplace", the multiplier of a standard Student t for "student_t" and
        the half-width for "uniform". 0 gives noiseless data.
    df : float, default=3.0
        Degrees of freedom of the "student_t" noise (heavy tails when small).
    x_range : (float, float), default=(-10.0, 10.0)
        Features are uniform on this interval.
    dtype : {float64, float32}, default=float64
        Floating dtype of ``X`` and ``y``.
    random_state : int, RandomState, Generator or None, default=None
        Seed or generator. An int seeds NumPy's legacy ``RandomState``.
    return_coef : bool, default=False
        Also return the true coefficients.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)
    coef : ndarray of shape (n_features,)
        Only when ``return_coef=True``.

    Examples
    --------
    >>> from fastlinreg import make_regression
    >>> X, y = make_regression(random_state=42)
    >>> X.shape, y.shape
    ((10000, 1), (10000,))
    >>> round(float(X[0, 0]), 4)
    -2.5092
    """
    if (
        isinstance(n_samples, bool)
        or not isinstance(n_samples, int | np.integer)
        or n_samples < 1
    ):
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}")
    if (
        isinstance(n_features, bool)
        or not isinstance(n_features, int | np.integer)
        or n_features < 1
    ):
        raise ValueError(f"n_features must be a positive integer, got {n_features!r}")
    if noise not in NOISE_FAMILIES:
        raise ValueError(f"noise must be one of {NOISE_FAMILIES}, got {noise!r}")
    if not (np.isfinite(noise_scale) and noise_scale >= 0):
        raise ValueError(
            f"noise_scale must be a finite number >= 0, got {noise_scale!r}"
        )
    if noise == "student_t" and not df > 0:
        raise ValueError(f"df must be > 0, got {df!r}")
    if not np.isfinite(intercept):
        raise ValueError(f"intercept must be finite, got {intercept!r}")
    low, high = (float(v) for v in x_range)
    if not (np.isfinite(low) and np.isfinite(high) and low < high):
        raise ValueError(
            f"x_range must be two finite numbers low < high, got {x_range!r}"
        )
    out_dtype = np.dtype(dtype)
    if out_dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {out_dtype}")
    rng = _rng(random_state)

    X = rng.uniform(low, high, (n_samples, n_features))
    eps = _noise(rng, noise, float(noise_scale), float(df), n_samples)
    if coef is None:
        w = np.array([7.6]) if n_features == 1 else rng.uniform(-10.0, 10.0, n_features)
    else:
        w = np.asarray(coef, dtype=np.float64).reshape(-1)
        if w.shape[0] != n_features:
            raise ValueError(f"coef has {w.shape[0]} entries, expected {n_features}")
        if not np.isfinite(w).all():
            raise ValueError("coef must be finite")
    y = X @ w + float(intercept) + eps
    X = X.astype(out_dtype, copy=False)
    y = y.astype(out_dtype, copy=False)
    return (X, y, w) if return_coef else (X, y)


def train_test_split(
    X: Any,
    y: Any,
    *,
    test_size: float | int = 0.25,
    shuffle: bool = True,
    random_state: RandomState = None,
) -> tuple[Any, Any, Any, Any]:
    """Split ``X`` and ``y`` into train and test parts.

    Parameters
    ----------
    X, y : array-like or DataFrame/Series with the same number of rows
    test_size : float in (0, 1) or int, default=0.25
        Fraction (or number) of rows in the test part.
    shuffle : bool, default=True
        Shuffle the rows first; without shuffling the test part is the last
        rows and both parts are views of the input (no copy).
    random_state : int, RandomState, Generator or None, default=None
        Seed or generator for the shuffle.

    Returns
    -------
    X_train, X_test, y_train, y_test

    Examples
    --------
    >>> import numpy as np
    >>> from fastlinreg import train_test_split
    >>> X_tr, X_te, y_tr, y_te = train_test_split(np.arange(8.0), np.arange(8.0),
    ...                                           test_size=0.25, shuffle=False)
    >>> X_te.tolist()
    [6.0, 7.0]
    """
    n = _n_rows(X)
    if _n_rows(y) != n:
        raise ValueError(
            f"X and y have inconsistent numbers of samples: {n} and {_n_rows(y)}"
        )
    if isinstance(test_size, bool):
        raise TypeError("test_size must be a float in (0, 1) or a positive int")
    if isinstance(test_size, int | np.integer):
        n_test = int(test_size)
    elif isinstance(test_size, float | np.floating) and 0.0 < test_size < 1.0:
        n_test = int(np.ceil(test_size * n))
    else:
        raise ValueError(
            f"test_size must be a float in (0, 1) or an int, got {test_size!r}"
        )
    if not 0 < n_test < n:
        raise ValueError(
            f"test_size={test_size!r} leaves {n - n_test} training and {n_test} "
            f"test rows out of {n}; both must be at least 1"
        )
    train: npt.NDArray[np.intp] | slice
    test: npt.NDArray[np.intp] | slice
    if shuffle:
        perm = _rng(random_state).permutation(n)
        train, test = perm[: n - n_test], perm[n - n_test :]
    else:
        train, test = slice(0, n - n_test), slice(n - n_test, n)
    return _take(X, train), _take(X, test), _take(y, train), _take(y, test)


def _n_rows(a: Any) -> int:
    shape = getattr(a, "shape", None)
    if shape is None:
        a = np.asarray(a)
        shape = a.shape
    if len(shape) == 0:
        raise ValueError("expected an array with at least one dimension, got a scalar")
    return int(shape[0])


def _take(a: Any, rows: Any) -> Any:
    if hasattr(a, "iloc"):
        return a.iloc[rows]
    return np.asarray(a)[rows]
