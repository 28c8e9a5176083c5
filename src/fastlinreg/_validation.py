"""Turning user input into arrays the kernels accept, or a clear error.

The kernels trust their input (no bounds checks), so every path into them goes
through here. The rules:

* float32 and float64 stay as they are; float16 becomes float32; integers and
  booleans become float64; anything else numeric-looking (lists, object arrays
  of numbers, pandas frames) goes through ``np.asarray``.
* C-contiguous arrays, read-only arrays and memory maps pass without a copy;
  Fortran-ordered, strided or byte-swapped arrays are copied once.
* Complex, string, sparse and other non-numeric input raise ``ValueError`` or
  ``TypeError`` naming the problem; so do NaN/inf, empty input and mismatched
  lengths.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
import numpy.typing as npt

from ._exceptions import DataConversionWarning
from ._typing import F64, FloatArray

__all__ = [
    "check_X",
    "check_X_y",
    "check_choice",
    "check_finite",
    "check_params",
    "check_real",
    "check_sample_weight",
    "check_y",
    "feature_names_of",
]

# float32 and float64 in native byte order: the dtypes taken as they are.
_NATIVE_FLOATS = (np.dtype(np.float64), np.dtype(np.float32))


def _is_sparse(obj: Any) -> bool:
    return hasattr(obj, "nnz") and hasattr(obj, "toarray")


def _as_float(obj: Any, name: str) -> FloatArray:
    """``obj`` as a float32/float64 ndarray, copying only when it must."""
    if type(obj) is np.ndarray and obj.dtype in _NATIVE_FLOATS:
        return obj  # the common case, at once
    if obj is None:
        raise ValueError(f"{name} is None; expected an array-like of numbers")
    if _is_sparse(obj):
        raise TypeError(
            f"sparse input is not supported for {name}; "
            f"pass a dense array ({name}.toarray())"
        )
    if isinstance(obj, str | bytes):
        raise TypeError(f"{name} must be an array-like of numbers, got a string")
    try:
        arr = np.asarray(obj)
    except (TypeError, ValueError) as exc:  # ragged lists, odd objects
        raise ValueError(f"{name} could not be read as an array: {exc}") from exc
    target = float_dtype(arr.dtype, name)
    try:
        return arr.astype(target, copy=False)
    except OverflowError:  # Python ints beyond float64 (10**400)
        raise ValueError(
            f"{name} holds an integer too large for float64 (beyond 1.8e308)"
        ) from None
    except (TypeError, ValueError) as exc:  # objects that are not numbers
        raise TypeError(f"{name} holds objects that are not numbers ({exc})") from exc


def float_dtype(
    dtype: np.dtype[Any], name: str, what: str = "an array"
) -> np.dtype[Any]:
    """The float32/float64 dtype input of ``dtype`` is converted to, or an error.

    float32 and float64 stay (a byte-swapped one becomes native), float16
    becomes float32, longer floats, integers, booleans and objects (numbers,
    one hopes) become float64. Shared by the NumPy and Dask input paths.
    """
    kind = dtype.kind
    if kind == "f":
        if dtype.itemsize < 4:
            return np.dtype(np.float32)
        if dtype.itemsize > 8:
            return np.dtype(np.float64)
        return dtype.newbyteorder("=")
    if kind in "iubO":
        return np.dtype(np.float64)
    if kind == "c":
        raise ValueError(f"Complex data not supported in {name}")
    raise TypeError(
        f"{name} must hold numbers, got {what} of dtype {dtype} "
        "(strings, bytes, dates and records are not accepted)"
    )


def as_2d(arr: Any, name: str = "X") -> Any:
    """A 1-D ``arr`` as one column; anything but 1-D or 2-D is an error.

    Works on NumPy and Dask arrays alike (indexing, no copy).
    """
    if arr.ndim == 1:
        return arr[:, None]
    if arr.ndim == 0:
        raise ValueError(f"{name} must be a 1-D or 2-D array, got a scalar ({arr!r})")
    if arr.ndim > 2:
        raise ValueError(
            f"{name} must be a 1-D or 2-D array, got {arr.ndim} dimensions "
            f"(shape={arr.shape})"
        )
    return arr


def as_target(arr: Any, *, stacklevel: int, multi_output: bool = False) -> Any:
    """``arr`` as a 1-D target: a single column ``(n, 1)`` is flattened with a
    DataConversionWarning, anything else not 1-D is an error. With
    ``multi_output``, ``(n, k)`` for ``k >= 2`` is several targets."""
    if multi_output and arr.ndim == 2 and arr.shape[1] >= 2:
        return arr
    if arr.ndim == 2 and arr.shape[1] == 1:
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected; "
            "it was flattened with y.ravel().",
            DataConversionWarning,
            stacklevel=stacklevel + 1,
        )
        arr = arr[:, 0]
    if arr.ndim != 1:
        if multi_output:
            raise ValueError(
                f"y must be 1-D (one target) or 2-D (one column per target), "
                f"got shape {arr.shape}"
            )
        raise ValueError(f"y must be 1-D (one target), got shape {arr.shape}")
    return arr


def check_sizes(X: Any, name: str = "X") -> None:
    """At least one row and one column in the 2-D ``X``."""
    n, d = X.shape
    if n < 1:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum "
            f"of 1 is required ({name} is empty)."
        )
    if d < 1:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum "
            "of 1 is required."
        )


def check_lengths(n_samples: int, y: Any) -> None:
    if y.shape[0] != n_samples:
        raise ValueError(
            "X and y have inconsistent numbers of samples: "
            f"{n_samples} and {y.shape[0]}"
        )


def require_y(y: Any) -> None:
    if y is None:
        raise ValueError(
            "This estimator requires y to be passed, but the target y is None."
        )


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise ``ValueError`` when ``arr`` holds NaN or infinity.

    A float64 sum is a cheap first test (no temporary of the array's size);
    only when it is not finite are the elements inspected to say which, and
    where (the first row and column).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        total = np.add.reduce(arr, axis=None, dtype=np.float64)
    if np.isfinite(total):
        return
    # (row blocks of ~1M values: no copy of the array, whatever its layout)
    rows = arr.reshape(arr.shape[0], -1) if arr.ndim else arr.reshape(1, 1)
    step = max(1, (1 << 20) // max(rows.shape[1], 1))
    for lo in range(0, rows.shape[0], step):
        bad = np.argwhere(~np.isfinite(rows[lo : lo + step]))
        if bad.size:
            row, col = int(lo + bad[0, 0]), int(bad[0, 1])
            where = f" (row {row}, column {col})" if arr.ndim == 2 else f" (row {row})"
            if np.isnan(rows[row, col]):
                raise ValueError(f"Input {name} contains NaN{where}.")
            raise ValueError(
                f"Input {name} contains infinity or a value too large for "
                f"dtype('{arr.dtype}'){where}."
            )
    # Finite values whose sum overflows: legal input, nothing to report.


def check_X(X: Any, *, finite: bool = True, name: str = "X") -> FloatArray:
    """Validate a feature matrix; a 1-D array is one feature.

    Returns a C-contiguous float32 or float64 array of shape (n, d) with
    n >= 1 and d >= 1. ``finite=False`` skips the NaN/inf scan for callers
    that detect non-finite values in a pass they make anyway.
    """
    arr: FloatArray = as_2d(_as_float(X, name), name)
    check_sizes(arr, name)
    # NumPy's overloads do not map over FloatArray's union (float32 | float64).
    arr = np.ascontiguousarray(arr)  # type: ignore[assignment]
    if finite:
        check_finite(arr, name)
    return arr


def check_y(
    y: Any,
    n_samples: int | None = None,
    *,
    finite: bool = True,
    multi_output: bool = False,
) -> FloatArray:
    """Validate a target vector; a single column ``(n, 1)`` is flattened.

    With ``multi_output``, ``y`` of shape ``(n, k)``, ``k >= 2``, stays 2-D.
    """
    require_y(y)
    arr: FloatArray = as_target(
        _as_float(y, "y"), stacklevel=3, multi_output=multi_output
    )
    if n_samples is not None:
        check_lengths(n_samples, arr)
    if arr.shape[0] < 1:
        raise ValueError(
            "Found array with 0 sample(s) while a minimum of 1 is required "
            "(y is empty)."
        )
    # NumPy's overloads do not map over FloatArray's union (float32 | float64).
    arr = np.ascontiguousarray(arr)  # type: ignore[assignment]
    if finite:
        check_finite(arr, "y")
    return arr


def check_X_y(
    X: Any, y: Any, *, finite: bool = True, multi_output: bool = False
) -> tuple[FloatArray, FloatArray]:
    """Validate features and target together (see :func:`check_X`)."""
    Xa = check_X(X, finite=finite)
    ya = check_y(y, Xa.shape[0], finite=finite, multi_output=multi_output)
    return Xa, ya


# Largest weights outside this range are rescaled (see check_sample_weight).
_WEIGHT_RANGE = (2.0**-200, 2.0**200)


def check_sample_weight(
    sample_weight: Any, n_samples: int
) -> npt.NDArray[np.float64] | None:
    """Sample weights as a C-contiguous float64 array of length ``n_samples``.

    None stays None (every weight 1); a scalar is that weight for every row.
    Weights must be finite and non-negative with a positive sum.
    """
    if sample_weight is None:
        return None
    if isinstance(sample_weight, str | bytes):
        raise TypeError("sample_weight must be an array-like of numbers, got a string")
    arr = _as_float(sample_weight, "sample_weight")
    if arr.ndim == 0:
        arr = np.full(n_samples, float(arr))
    if arr.ndim != 1:
        raise ValueError(f"sample_weight must be 1-D, got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(
            f"sample_weight has {arr.shape[0]} entries, but X has {n_samples} samples"
        )
    w = np.ascontiguousarray(arr, dtype=np.float64)
    check_finite(w, "sample_weight")
    if (w < 0).any():
        raise ValueError("sample_weight must be non-negative")
    top = float(w.max(initial=0.0))
    if not top > 0:
        raise ValueError("sample_weight must have a positive sum: every weight is zero")
    if not _WEIGHT_RANGE[0] <= top <= _WEIGHT_RANGE[1]:
        # Weights near float64's limits (1e-320, 1e307) underflow or overflow
        # in their products and sums; every result is the same for weights
        # scaled by one factor, and a power of two scales them exactly.
        w = np.ldexp(w, -math.frexp(top)[1])  # (a new array: the input stays)
    return w


def feature_names_of(X: Any) -> np.ndarray | None:
    """Column names of a DataFrame-like ``X`` when they are all strings."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "shape") or len(getattr(X, "shape", ())) != 2:
        return None
    names = list(columns)
    if names and all(isinstance(c, str) for c in names):
        return np.asarray(names, dtype=object)
    return None


def check_real(value: Any, name: str, rule: str) -> float:
    """``value`` as a finite float, or ``TypeError``/``ValueError`` naming it.

    Accepts Python and NumPy real numbers (not bools, strings, complex numbers
    or arrays); an integer too large for a float is a ``ValueError``. ``rule``
    completes the messages: "{name} must be {rule}, got ...".
    """
    if isinstance(value, bool | np.bool_) or not isinstance(
        value, int | float | np.integer | np.floating
    ):
        raise TypeError(f"{name} must be {rule}, got {value!r}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{name} must be {rule}, got {value!r}") from None
    if not math.isfinite(number):
        raise ValueError(f"{name} must be {rule}, got {value!r}")
    return number


def check_floats(value: Any, name: str, expected: str) -> F64:
    """``value`` as a float64 array, or a TypeError naming the parameter
    (strings, bools, complex numbers and objects that are not numbers)."""
    message = f"{name} must be {expected}, got {value!r:.60}"
    if isinstance(value, str | bytes | bool | np.bool_):
        raise TypeError(message)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", np.exceptions.ComplexWarning)
            raw = np.asarray(value)
            if raw.dtype.kind not in "iufO":
                raise TypeError(message)
            with np.errstate(over="ignore"):
                return np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError, OverflowError, np.exceptions.ComplexWarning):
        raise TypeError(message) from None


def check_coef(
    coef: Any, n_features: int, name: str = "coef"
) -> npt.NDArray[np.float64]:
    """Coefficients as a C-contiguous float64 vector of ``n_features`` finite
    values, or an error naming ``name``."""
    arr = _as_float(coef, name)
    if arr.ndim > 1 and arr.size != max(arr.shape):
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    arr = arr.reshape(-1)
    if arr.shape[0] != n_features:
        raise ValueError(
            f"{name} has {arr.shape[0]} entries, but X has {n_features} features"
        )
    check_finite(arr, name)
    return np.ascontiguousarray(arr, dtype=np.float64)


def check_scalar(value: Any, name: str) -> float:
    """A finite real number (a 0-d array counts), or an error naming ``name``."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    return check_real(value, name, "a finite float")


def check_choice(value: Any, name: str, choices: tuple[Any, ...]) -> None:
    """``value`` must be one of ``choices`` (compared safely: no arrays)."""
    if isinstance(value, np.bool_):
        value = bool(value)
    elif isinstance(value, str):
        value = str(value)  # np.str_ too
    if isinstance(value, np.ndarray) or not any(
        value is c or (type(value) is type(c) and value == c) for c in choices
    ):
        shown = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} must be one of {shown}, got {value!r}")


def check_params(
    *,
    learning_rate: Any,
    max_iter: Any,
    tol: Any,
    fit_intercept: Any,
) -> None:
    """Raise ``ValueError``/``TypeError`` for an invalid solver setting."""
    if isinstance(learning_rate, str):
        if learning_rate != "auto":
            raise ValueError(
                "learning_rate must be 'auto' or a positive float, "
                f"got {learning_rate!r}"
            )
    elif check_real(learning_rate, "learning_rate", "'auto' or a positive float") <= 0:
        raise ValueError(
            f"learning_rate must be 'auto' or a positive float, got {learning_rate!r}"
        )
    if isinstance(max_iter, bool) or not isinstance(max_iter, int | np.integer):
        raise TypeError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if max_iter < 1:
        raise ValueError(f"max_iter must be an integer >= 1, got {max_iter!r}")
    if check_real(tol, "tol", "a non-negative finite float") < 0:
        raise ValueError(f"tol must be a non-negative finite float, got {tol!r}")
    if not isinstance(fit_intercept, bool | np.bool_):
        raise TypeError(f"fit_intercept must be True or False, got {fit_intercept!r}")
