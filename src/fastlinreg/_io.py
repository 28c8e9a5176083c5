"""The files the command line reads and writes: data tables and model files.

Data files
    CSV (``.csv``; ``.tsv`` is tab-separated) with a header row; ``.npy``
    holding a 2-D array; ``.npz`` holding arrays ``X`` and ``y`` (or a single
    2-D array); Parquet (``.parquet``, ``.pq``) when pyarrow is installed.
    Columns of CSV and Parquet files are addressed by name (or, when no column
    has that name, by position); columns of arrays by position, negative
    positions counting from the end. Array columns are named ``x0``, ``x1``, …
    in the order of the features. Nothing is unpickled.

Model files
    Plain JSON (never pickle): the coefficients and intercept as exact decimal
    floats, their dtype, the feature names, the estimator's parameters and
    what the fit reported. :func:`load_model` rebuilds a fitted
    :class:`~fastlinreg.LinearRegression` whose ``predict`` gives bit for bit
    the predictions of the model that was saved.

Every problem with a file raises :class:`DataError` (a ``ValueError``) with a
one-line message naming the file and what is wrong.
"""

from __future__ import annotations

import csv
import json
import math
import os
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ._penalties import bounds_from_json, bounds_to_json
from ._version import __version__
from .linear_model import LinearRegression

__all__ = [
    "DATA_SUFFIXES",
    "DataError",
    "Dataset",
    "load_X",
    "load_model",
    "load_xy",
    "read_model",
    "save_model",
]

DATA_SUFFIXES = (".csv", ".tsv", ".npy", ".npz", ".parquet", ".pq")
MODEL_FORMAT = "fastlinreg-model"
MODEL_FORMAT_VERSION = 1
_FIT_ATTRIBUTES = ("n_iter_", "converged_", "stop_reason_", "backend_")

PathLike = str | os.PathLike[str]


class DataError(ValueError):
    """A data or model file cannot be used; the message says why.

    Examples
    --------
    >>> from fastlinreg._io import DataError, load_xy
    >>> try:
    ...     load_xy("no-such-file.csv", "y")
    ... except DataError as exc:
    ...     print(exc)
    file not found: no-such-file.csv
    """


# --------------------------------------------------------------------------
# Data files
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class _Table:
    """The columns of a data file: named (CSV, Parquet) or by position."""

    path: Path
    names: list[str] | None
    n_columns: int
    take: Callable[[list[int]], np.ndarray]

    def position(self, key: str | int) -> int:
        """The column ``key`` (a name, or a position) as a position >= 0."""
        if self.names is not None and key in self.names:
            return self.names.index(key)
        try:
            pos = int(key)
        except ValueError:
            pos = None
        if pos is None or not -self.n_columns <= pos < self.n_columns:
            if self.names is None:
                raise DataError(
                    f"{self.path} has no column names: give a column position "
                    f"from 0 to {self.n_columns - 1} (or negative, from the end), "
                    f"not {key!r}"
                )
            raise DataError(
                f"column {key!r} not found in {self.path} "
                f"(columns: {_shorten(self.names)})"
            )
        return pos % self.n_columns


@dataclass(frozen=True)
class Dataset:
    """Features and target read from a data file by :func:`load_xy`."""

    X: np.ndarray
    y: np.ndarray
    feature_names: list[str]
    target: str | int
    groups: np.ndarray | None = None  # the column asked for as groups


def load_xy(
    path: PathLike,
    target: str | int | None,
    features: Sequence[str] | None = None,
    groups: str | int | None = None,
) -> Dataset:
    """Read features and target from a data file.

    Parameters
    ----------
    path : str or path-like
        A ``.csv``/``.tsv``, ``.npy``, ``.npz`` or Parquet file.
    target : str, int or None
        The target column: a name, or a position. ``None`` only for an
        ``.npz`` file holding arrays ``X`` and ``y``.
    features : sequence of str, optional
        The feature columns (names or positions). Default: every column but
        the target (and ``groups``).
    groups : str or int, optional
        A column of (numeric) cluster ids, read into ``Dataset.groups`` and
        not used as a feature.

    Returns
    -------
    Dataset
        ``X`` (n, d), ``y`` (n,), the feature names and the target as given
        (a name, or a position >= 0 for arrays).

    Raises
    ------
    DataError
        For a missing, unreadable or unsupported file, an unknown column or
        a column that is not numeric.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from fastlinreg._io import load_xy
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "data.csv"
    ...     _ = path.write_text("size,rooms,price\\n50,2,100\\n80,3,170\\n")
    ...     data = load_xy(path, "price")
    >>> data.feature_names, data.X.tolist(), data.y.tolist()
    (['size', 'rooms'], [[50.0, 2.0], [80.0, 3.0]], [100.0, 170.0])
    """
    path = Path(path)
    arrays = _open_npz_xy(path)
    if arrays is not None:
        if target not in (None, "y"):
            raise DataError(
                f"{path} holds arrays X and y: leave out the target (or name it 'y')"
            )
        if groups is not None:
            raise DataError(f"{path} holds arrays X and y: it has no groups column")
        X, y = arrays["X"], arrays["y"]
        if X.ndim == 1:
            X = X.reshape(-1, 1)
        _check_numeric(X, f"array X of {path}")
        _check_numeric(y, f"array y of {path}")
        return Dataset(X, y, [f"x{i}" for i in range(X.shape[1])], "y")
    table = _open_table(path)
    if target is None:
        raise DataError(f"say which column of {path} is the target (--target)")
    t = table.position(target)
    g = None if groups is None else table.position(groups)
    if g == t:
        raise DataError(f"the target column {target!r} cannot also be the groups")
    if features is None:
        cols = [c for c in range(table.n_columns) if c not in (t, g)]
    else:
        cols = [table.position(f) for f in features]
        if t in cols:
            raise DataError(f"the target column {target!r} is also a feature")
        if g in cols:
            raise DataError(f"the groups column {groups!r} is also a feature")
    if not cols:
        raise DataError(f"{path} has no column besides the target to use as a feature")
    data = table.take([*cols, t] if g is None else [*cols, t, g])
    X = np.ascontiguousarray(data[:, : len(cols)])
    y = np.ascontiguousarray(data[:, len(cols)])
    ids = None if g is None else np.ascontiguousarray(data[:, len(cols) + 1])
    if table.names is None:
        return Dataset(X, y, [f"x{i}" for i in range(len(cols))], t, ids)
    return Dataset(X, y, [table.names[c] for c in cols], table.names[t], ids)


def load_X(
    path: PathLike, feature_names: Sequence[str], target: str | int | None = None
) -> np.ndarray:
    """Read the features a model needs from a data file.

    CSV and Parquet columns are matched by name, in the order of
    ``feature_names``; other columns (such as the target) are ignored. Arrays
    are taken by position: all their columns, or all but ``target`` when it is
    a position and the array has one column more than there are features.

    Parameters
    ----------
    path : str or path-like
        A data file (see :func:`load_xy`).
    feature_names : sequence of str
        The model's features, in order.
    target : str, int or None, optional
        The target column the model was fitted with.

    Returns
    -------
    ndarray of shape (n_samples, len(feature_names))

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from fastlinreg._io import load_X
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     path = Path(tmp) / "new.csv"
    ...     _ = path.write_text("rooms,id,size\\n2,7,50\\n")
    ...     load_X(path, ["size", "rooms"]).tolist()
    [[50.0, 2.0]]
    """
    path = Path(path)
    names = list(feature_names)
    d = len(names)
    arrays = _open_npz_xy(path, need_y=False)
    if arrays is not None:
        X = arrays["X"].reshape(-1, 1) if arrays["X"].ndim == 1 else arrays["X"]
        _check_numeric(X, f"array X of {path}")
        return X
    table = _open_table(path)
    if table.names is not None:
        missing = [n for n in names if n not in table.names]
        if missing:
            raise DataError(
                f"{path} lacks the column(s) {_shorten(missing)} that the model "
                f"needs (it has: {_shorten(table.names)})"
            )
        return table.take([table.names.index(n) for n in names])
    cols = list(range(table.n_columns))
    if table.n_columns == d + 1 and isinstance(target, int):
        cols.remove(table.position(target))
    if len(cols) != d:
        raise DataError(
            f"{path} has {table.n_columns} columns, but the model needs {d} "
            "features (arrays are matched by position)"
        )
    return table.take(cols)


def _open_table(path: Path) -> _Table:
    suffix = _suffix(path)
    if suffix in (".csv", ".tsv"):
        return _csv_table(path, "\t" if suffix == ".tsv" else ",")
    if suffix in (".parquet", ".pq"):
        return _parquet_table(path)
    if suffix == ".npz":
        arrays = _read_npz(path)
        if len(arrays) != 1:
            raise DataError(
                f"{path} holds the arrays {_shorten(sorted(arrays))}; expected "
                "arrays named X and y, or a single 2-D array"
            )
        return _array_table(path, next(iter(arrays.values())))
    _check_magic(path, b"\x93NUMPY", ".npy")
    return _array_table(path, _guard(path, ".npy", np.load, path, allow_pickle=False))


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix not in DATA_SUFFIXES:
        raise DataError(
            f"cannot tell the format of {path}: use a file ending in "
            f"{', '.join(DATA_SUFFIXES)}"
        )
    if not path.exists():
        raise DataError(f"file not found: {path}")
    return suffix


def _guard(path: Path, kind: str, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
    """``fn(*args, **kw)``, with a failure to read ``path`` as a DataError."""
    try:
        return fn(*args, **kw)
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        reason = getattr(exc, "strerror", None) or exc
        raise DataError(f"cannot read {path} as a {kind} file: {reason}") from None


def _check_magic(path: Path, magic: bytes, kind: str) -> None:
    """Refuse a file that does not start as a ``kind`` file does."""

    def head() -> bytes:
        with open(path, "rb") as fh:
            return fh.read(len(magic))

    if _guard(path, kind, head) != magic:
        raise DataError(f"{path} is not a {kind} file")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    _check_magic(path, b"PK", ".npz")

    def read() -> dict[str, np.ndarray]:
        with np.load(path, allow_pickle=False) as npz:
            return {name: npz[name] for name in npz.files}

    arrays: dict[str, np.ndarray] = _guard(path, ".npz", read)
    return arrays


def _open_npz_xy(path: Path, need_y: bool = True) -> dict[str, np.ndarray] | None:
    """The arrays of an ``.npz`` file holding ``X`` (and ``y``), else None."""
    if _suffix(path) != ".npz":
        return None
    arrays = _read_npz(path)
    if "X" in arrays and ("y" in arrays or not need_y):
        return arrays
    return None


def _check_numeric(arr: np.ndarray, what: str) -> None:
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{what} holds {arr.dtype} values, not numbers")


def _array_table(path: Path, arr: np.ndarray) -> _Table:
    _check_numeric(arr, str(path))
    if arr.ndim != 2:
        raise DataError(
            f"{path} holds an array of shape {arr.shape}; a 2-D array "
            "(rows by columns) is needed"
        )
    return _Table(path, None, arr.shape[1], lambda cols: arr[:, cols])


def _csv_table(path: Path, delimiter: str) -> _Table:
    def header() -> list[str] | None:
        with open(path, newline="", encoding="utf-8-sig") as fh:
            return next(csv.reader(fh, delimiter=delimiter), None)

    row = _guard(path, "CSV", header)
    if not row:
        raise DataError(f"{path} is empty: a header row of column names is needed")
    names = [name.strip() for name in row]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise DataError(f"{path} has repeated column names: {_shorten(repeated)}")

    def take(cols: list[int]) -> np.ndarray:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # "no data"
                data = np.loadtxt(
                    path,
                    delimiter=delimiter,
                    skiprows=1,
                    usecols=cols,
                    ndmin=2,
                    quotechar='"',
                    encoding="utf-8-sig",
                    dtype=np.float64,
                )
        except ValueError as exc:
            raise DataError(_csv_problem(path, delimiter, names, cols, exc)) from None
        if data.shape[0] == 0:
            raise DataError(f"{path} has a header but no data rows")
        return data

    return _Table(path, names, len(names), take)


def _csv_problem(
    path: Path, delimiter: str, names: list[str], cols: list[int], exc: Exception
) -> str:
    """Which value of which column stopped ``np.loadtxt``, in words."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        rows = csv.reader(fh, delimiter=delimiter)
        next(rows, None)
        for row in rows:
            if not row:
                continue
            where = f"line {rows.line_num} of {path}"
            for c in cols:
                value = row[c].strip() if c < len(row) else None
                if value is None:
                    return f"{where} has no value for column {names[c]!r}"
                if not value:
                    return f"column {names[c]!r} has an empty value on {where}"
                try:
                    float(value)
                except ValueError:
                    return (
                        f"column {names[c]!r} is not numeric: {value[:40]!r} on {where}"
                    )
    return f"cannot read {path} as a CSV file: {exc}"


def _parquet_table(path: Path) -> _Table:
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise DataError(
            f"reading Parquet files ({path}) needs pyarrow, which is not "
            "installed: pip install pyarrow"
        ) from None
    schema = _guard(path, "Parquet", pq.read_schema, path)
    names = list(schema.names)

    def take(cols: list[int]) -> np.ndarray:
        wanted = [names[c] for c in cols]
        table = _guard(path, "Parquet", pq.read_table, path, columns=wanted)
        out = np.empty((table.num_rows, len(cols)))
        for j, c in enumerate(cols):
            column = table.column(j)
            if not (
                pa.types.is_integer(column.type)
                or pa.types.is_floating(column.type)
                or pa.types.is_boolean(column.type)
            ):
                raise DataError(
                    f"column {names[c]!r} of {path} is not numeric ({column.type})"
                )
            if column.null_count:
                raise DataError(
                    f"column {names[c]!r} of {path} has {column.null_count} "
                    "missing values"
                )
            out[:, j] = column.to_numpy()
        return out

    return _Table(path, names, len(names), take)


def _shorten(names: Sequence[str], most: int = 10) -> str:
    shown = ", ".join(str(n) for n in names[:most])
    return shown + (f", … ({len(names)} in all)" if len(names) > most else "")


# --------------------------------------------------------------------------
# Model files
# --------------------------------------------------------------------------


def save_model(
    model: LinearRegression,
    path: PathLike,
    *,
    feature_names: Sequence[str] | None = None,
    target: str | int | None = None,
    training: dict[str, Any] | None = None,
) -> None:
    """Write a fitted model to a plain JSON file (never pickle).

    The file holds the format and its version, the fastlinreg version, the
    estimator's parameters, the feature names, the target, the dtype, the
    coefficients and intercept (as decimal floats that read back exactly) and
    what the fit reported. :func:`load_model` reads it back.

    Parameters
    ----------
    model : LinearRegression
        A fitted estimator.
    path : str or path-like
        Where to write (an existing file is replaced).
    feature_names : sequence of str, optional
        Names of the features, in order. Default: ``model.feature_names_in_``
        when the model has it, else ``x0``, ``x1``, …
    target : str or int, optional
        Name (or column position) of the target, for the record.
    training : dict, optional
        More JSON-serialisable facts about the fit to keep (for example the
        data file and the scores).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import fastlinreg
    >>> from fastlinreg.cli import load_model, save_model
    >>> X, y = fastlinreg.make_regression(n_samples=200, random_state=0)
    >>> model = fastlinreg.LinearRegression().fit(X, y)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_model(model, Path(tmp) / "model.json", target="y")
    ...     again = load_model(Path(tmp) / "model.json")
    >>> bool((again.predict(X) == model.predict(X)).all())
    True
    """
    model._check_is_fitted()
    if np.ndim(model.coef_) != 1:
        raise ValueError(
            f"save_model writes a model of one target; this one has "
            f"{np.shape(model.coef_)[0]} (fit one model per target to save them)"
        )
    coef = np.asarray(model.coef_).reshape(-1)
    fitted_names = getattr(model, "feature_names_in_", None)
    if feature_names is None:
        feature_names = (
            list(fitted_names)
            if fitted_names is not None
            else [f"x{i}" for i in range(coef.shape[0])]
        )
    names = [str(n) for n in feature_names]
    if len(names) != coef.shape[0]:
        raise ValueError(
            f"{len(names)} feature names for a model with {coef.shape[0]} features"
        )
    params = {
        k: (bounds_to_json(v) or _NOT_JSON)
        if k == "bounds" and v is not None
        else _plain(v)
        for k, v in _refit_params(model).items()
    }
    doc = {
        "format": MODEL_FORMAT,
        "format_version": MODEL_FORMAT_VERSION,
        "fastlinreg_version": __version__,
        "estimator": type(model).__name__,
        "params": {k: v for k, v in params.items() if v is not _NOT_JSON},
        "feature_names": names,
        "target": target,
        "dtype": coef.dtype.name,
        "coef": [float(c) for c in coef],
        "intercept": float(model.intercept_),
        "fit": {
            **{a.rstrip("_"): _plain(getattr(model, a)) for a in _FIT_ATTRIBUTES},
            "loss_curve": [float(v) for v in model.loss_curve_],
            "feature_names_in": fitted_names is not None,
        },
        "training": training or {},
    }
    Path(path).write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")


_NOT_JSON = object()


def _refit_params(model: Any) -> dict[str, Any]:
    """The estimator's parameters; for a ``LinearRegressionCV``, those of
    the ``LinearRegression`` at the penalty it chose (what loading gives)."""
    params = dict(model.get_params())
    if not hasattr(model, "mse_path_"):
        return params
    if np.ndim(model.alpha_):
        raise ValueError(
            "save_model writes a model of one target; this LinearRegressionCV "
            f"chose {np.size(model.alpha_)} penalties: fit one target per model"
        )
    keep = ("penalty", "fit_intercept", "positive", "backend", "n_jobs")
    return {
        **{k: params[k] for k in keep},
        "alpha": float(model.alpha_),
        "l1_ratio": float(model.l1_ratio_),
    }


def _plain(value: Any) -> Any:
    """``value`` as a JSON scalar, or ``_NOT_JSON`` (e.g. a callback)."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return _NOT_JSON


def read_model(path: PathLike) -> tuple[LinearRegression, dict[str, Any]]:
    """The model in a file written by :func:`save_model`, and the file's content.

    The content (a dict) tells the command line the feature names and the
    target; :func:`load_model` returns the model alone.

    Examples
    --------
    >>> from fastlinreg._io import DataError, read_model
    >>> try:
    ...     read_model("missing.json")
    ... except DataError as exc:
    ...     print(exc)
    model file not found: missing.json
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"model file not found: {path}")
    doc = _guard(path, "JSON model", lambda: json.loads(path.read_text()))
    if not isinstance(doc, dict) or doc.get("format") != MODEL_FORMAT:
        raise DataError(f"{path} is not a fastlinreg model file")
    version = doc.get("format_version")
    if not isinstance(version, int) or version > MODEL_FORMAT_VERSION:
        raise DataError(
            f"{path} has model format version {version!r}; fastlinreg "
            f"{__version__} reads versions up to {MODEL_FORMAT_VERSION}: "
            "upgrade fastlinreg"
        )
    try:
        model = _rebuild(doc)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path} is not a valid fastlinreg model file: {exc}") from None
    return model, doc


def _rebuild(doc: dict[str, Any]) -> LinearRegression:
    known = LinearRegression().get_params()
    params = {k: v for k, v in doc["params"].items() if k in known}
    if params.get("bounds") is not None:
        params["bounds"] = bounds_from_json(params["bounds"])
    model = LinearRegression(**params)
    dtype = np.dtype(doc["dtype"])
    if dtype not in (np.float32, np.float64):
        raise ValueError(f"dtype must be float32 or float64, not {dtype}")
    coef = np.asarray(doc["coef"], dtype=np.float64).reshape(-1)
    names = [str(n) for n in doc["feature_names"]]
    if len(names) != coef.shape[0] or not np.isfinite(coef).all():
        raise ValueError("feature_names and coef disagree, or coef is not finite")
    model.coef_ = coef.astype(dtype)
    model.intercept_ = dtype.type(float(doc["intercept"]))
    model.n_features_in_ = coef.shape[0]
    fit = doc["fit"]
    if fit.get("feature_names_in"):
        model.feature_names_in_ = np.asarray(names, dtype=object)
    for attr in _FIT_ATTRIBUTES:
        setattr(model, attr, fit[attr.rstrip("_")])
    model.loss_curve_ = np.asarray(fit["loss_curve"], dtype=np.float64)
    return model


def load_model(path: PathLike) -> LinearRegression:
    """Read a model written by ``fastlinreg fit --save`` or :func:`save_model`.

    Parameters
    ----------
    path : str or path-like
        A JSON model file.

    Returns
    -------
    LinearRegression
        A fitted estimator: ``coef_``, ``intercept_`` (in the saved dtype),
        ``n_features_in_``, ``n_iter_``, ``loss_curve_``, ``converged_``,
        ``stop_reason_`` and ``backend_`` as they were, so ``predict`` gives
        exactly the saved model's predictions.

    Raises
    ------
    DataError
        When the file is missing, is not a fastlinreg model file, or was
        written by a newer format version.

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> import fastlinreg
    >>> from fastlinreg.cli import load_model, save_model
    >>> X, y = fastlinreg.make_regression(n_samples=100, n_features=2, random_state=1)
    >>> model = fastlinreg.LinearRegression().fit(X, y)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     save_model(model, Path(tmp) / "model.json")
    ...     loaded = load_model(Path(tmp) / "model.json")
    >>> loaded.coef_.tolist() == model.coef_.tolist(), loaded.n_iter_ == model.n_iter_
    (True, True)
    """
    return read_model(path)[0]
