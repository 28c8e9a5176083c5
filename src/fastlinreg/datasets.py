"""Synthetic regression data and a train/test split."""

from __future__ import annotations

from typing import Any, Literal, overload

import numpy as np
import numpy.typing as npt

from ._validation import check_real

__all__ = ["NOISE_FAMILIES", "make_regression", "train_test_split"]

NOISE_FAMILIES = ("normal", "laplace", "student_t", "uniform")
# The most elements NumPy can allocate as float64 (sizes above raise ValueError).
_MAX_ELEMENTS = np.iinfo(np.intp).max // 8
RandomState = int | np.random.RandomState | np.random.Generator | None


def _rng(random_state: RandomState) -> np.random.RandomState | np.random.Generator:
    """An int seeds NumPy's legacy RandomState, the generator of the tutorial."""
    if random_state is None or isinstance(random_state, int | np.integer):
        try:
            return np.random.RandomState(random_state)
        except ValueError as exc:  # a seed outside [0, 2**32 - 1]
            raise ValueError(
                f"random_state must be an int between 0 and 2**32 - 1, got "
                f"{random_state!r}"
            ) from exc
    if isinstance(random_state, np.random.RandomState | np.random.Generator):
        return random_state
    raise TypeError(
        "random_state must be None, an int, a numpy RandomState or Generator, "
        f"got {random_state!r}"
    )


def _real(value: Any, name: str) -> float:
    """``value`` as a finite float, or a ``TypeError``/``ValueError`` naming
    ``name`` (the estimator's rule: no booleans, complex numbers, strings or
    arrays)."""
    return check_real(value, name, "a finite real number")


def _check_bool(value: Any, name: str) -> bool:
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


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
    for name, value in (("n_samples", n_samples), ("n_features", n_features)):
        if isinstance(value, bool) or not isinstance(value, int | np.integer):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if int(n_samples) * int(n_features) > _MAX_ELEMENTS:
        raise ValueError(
            f"n_samples * n_features = {int(n_samples) * int(n_features)} is more "
            "elements than an array can hold"
        )
    if not isinstance(noise, str) or noise not in NOISE_FAMILIES:
        raise ValueError(f"noise must be one of {NOISE_FAMILIES}, got {noise!r}")
    scale = _real(noise_scale, "noise_scale")
    if scale < 0:
        raise ValueError(f"noise_scale must be a finite number >= 0, got {scale!r}")
    scale = abs(scale)  # -0.0 is 0 (NumPy's samplers refuse a negative zero)
    dof = 3.0
    if noise == "student_t":
        dof = _real(df, "df")
        if not dof > 0:
            raise ValueError(f"df must be > 0, got {df!r}")
    b = _real(intercept, "intercept")
    try:
        low_raw, high_raw = x_range
    except (TypeError, ValueError) as exc:  # not a pair
        raise ValueError(
            f"x_range must be two finite numbers low < high, got {x_range!r}"
        ) from exc
    low, high = _real(low_raw, "x_range[0]"), _real(high_raw, "x_range[1]")
    if not (low < high and np.isfinite(high - low)):
        raise ValueError(
            f"x_range must be two finite numbers low < high (and high - low "
            f"finite), got {x_range!r}"
        )
    try:
        out_dtype = np.dtype(dtype)
    except Exception as exc:  # np.dtype("01") is even a SyntaxError
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}") from exc
    if out_dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, got {out_dtype}")
    with_coef = _check_bool(return_coef, "return_coef")
    w = None
    if coef is not None:
        try:
            w = np.asarray(coef, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError, OverflowError) as exc:
            raise TypeError(
                f"coef must be an array-like of {n_features} real numbers ({exc})"
            ) from exc
        if w.shape[0] != n_features:
            raise ValueError(f"coef has {w.shape[0]} entries, expected {n_features}")
        if not np.isfinite(w).all():
            raise ValueError("coef must be finite")
    rng = _rng(random_state)

    X = rng.uniform(low, high, (n_samples, n_features))
    with np.errstate(over="ignore", invalid="ignore"):
        eps = _noise(rng, noise, scale, dof, n_samples)
        if w is None:
            w = (
                np.array([7.6])
                if n_features == 1
                else rng.uniform(-10.0, 10.0, n_features)
            )
        y = X @ w + b + eps
        X = X.astype(out_dtype, copy=False)
        y = y.astype(out_dtype, copy=False)
    if not (np.isfinite(X).all() and np.isfinite(y).all()):
        raise ValueError(
            f"the data overflow {out_dtype}: choose a smaller coef, intercept, "
            "noise_scale or x_range"
        )
    return (X, y, w) if with_coef else (X, y)


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
    n = _n_rows(X, "X")
    n_y = _n_rows(y, "y")
    if n_y != n:
        raise ValueError(f"X and y have inconsistent numbers of samples: {n} and {n_y}")
    do_shuffle = _check_bool(shuffle, "shuffle")
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
    if do_shuffle:
        perm = _rng(random_state).permutation(n)
        train, test = perm[: n - n_test], perm[n - n_test :]
    else:
        train, test = slice(0, n - n_test), slice(n - n_test, n)
    return _take(X, train), _take(X, test), _take(y, train), _take(y, test)


def _n_rows(a: Any, name: str) -> int:
    shape = getattr(a, "shape", None)
    if shape is None:
        try:
            shape = np.asarray(a).shape
        except (TypeError, ValueError) as exc:  # ragged lists, odd objects
            raise ValueError(f"{name} could not be read as an array: {exc}") from exc
    if len(shape) == 0:
        raise ValueError(
            f"{name} must be an array with at least one dimension, got a scalar "
            f"({type(a).__name__})"
        )
    return int(shape[0])


def _take(a: Any, rows: Any) -> Any:
    if hasattr(a, "iloc"):
        return a.iloc[rows]
    return np.asarray(a)[rows]
