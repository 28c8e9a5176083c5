"""The statistics of cross-validation's folds, gathered in one pass.

An int ``cv`` is contiguous row ranges (``KFold`` without shuffling): each
fold's statistics from its slice of the rows (a view: memory maps are read
where they are), over Dask arrays in one computation; the training
statistics by merges (:func:`fastlinreg._cv.train_and_test`). A splitter or
an iterable of ``(train, test)`` index pairs: each test set's rows, and the
training sets by merges when the test sets partition the rows (one pass),
else from their own rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import _cv
from ._backend import resolve_n_threads
from ._dask import is_dask_collection
from ._stats import SufficientStats, raise_not_finite, sufficient_stats
from ._typing import F64, FloatArray
from ._validation import check_sample_weight, check_X, check_y

__all__ = ["Fold", "array_fold_stats", "dask_fold_stats", "fold_ranges", "total_stats"]

Fold = tuple[SufficientStats, SufficientStats]  # (train, test)


def fold_ranges(cv: Any, n: int) -> list[tuple[int, int]] | None:
    """The row ranges of an int ``cv`` (None for a splitter)."""
    if not isinstance(cv, int | np.integer) or isinstance(cv, bool):
        return None
    if not 2 <= cv <= n:
        raise ValueError(f"cv must be between 2 and n_samples={n}, got {cv}")
    return _cv.contiguous_folds(n, int(cv))


def array_fold_stats(
    kernels: Any, cv: Any, n_jobs: int | None, X: Any, y: Any, sample_weight: Any
) -> tuple[list[Fold], SufficientStats, np.dtype[Any]]:
    """``[(train, test)]`` statistics of every fold, the total and the
    dtype, for NumPy arrays and memory maps."""
    Xa, ya, w, threads = _checked_arrays(kernels, n_jobs, X, y, sample_weight)

    def stats(rows: Any) -> SufficientStats:
        # (a slice is a view; an index array gathers its rows)
        return sufficient_stats(
            kernels,
            np.ascontiguousarray(Xa[rows]),
            np.ascontiguousarray(ya[rows]),
            threads,
            None if w is None else w[rows],
        )

    ranges = fold_ranges(cv, Xa.shape[0])
    if ranges is not None:
        tests = [stats(slice(s, e)) for s, e in ranges]
        trains, total = _cv.train_and_test(tests)
        folds = list(zip(trains, tests, strict=True))
    else:
        folds, total = _splitter_stats(cv, stats, Xa, ya)
    if not all(s.finite() for pair in folds for s in pair):
        raise_not_finite(Xa, ya)
    return _check_folds(folds), total, Xa.dtype


def dask_fold_stats(
    cv: Any, n_jobs: int | None, X: Any, y: Any, sample_weight: Any, backend: str
) -> tuple[list[Fold], SufficientStats, np.dtype[Any]]:
    """The same for Dask arrays: every fold's statistics in one computation
    over the chunks (the folds are contiguous row ranges across them)."""
    from ._dask import gather_range_stats

    Xd, yd = _checked_dask(X, y, sample_weight)
    ranges = fold_ranges(cv, Xd.shape[0])
    if ranges is None:
        raise TypeError(
            "cv must be an int for Dask arrays (contiguous folds of rows); "
            f"got {cv!r}, whose index arrays need the rows in memory"
        )
    tests = gather_range_stats(Xd, yd, ranges, backend, n_jobs)
    trains, total = _cv.train_and_test(tests)
    return _check_folds(list(zip(trains, tests, strict=True))), total, Xd.dtype


def total_stats(
    kernels: Any, n_jobs: int | None, X: Any, y: Any, sample_weight: Any, backend: str
) -> tuple[SufficientStats, np.dtype[Any], tuple[Any, Any, Any] | None]:
    """The statistics of all the rows (no folds: leave-one-out, GCV), the
    dtype, and the checked ``(X, y, weights)`` for a second pass (None for
    Dask arrays)."""
    if is_dask_collection(X) or is_dask_collection(y):
        from ._dask import gather_stats

        Xd, yd = _checked_dask(X, y, sample_weight)
        return gather_stats(Xd, yd, backend, n_jobs), Xd.dtype, None
    Xa, ya, w, threads = _checked_arrays(kernels, n_jobs, X, y, sample_weight)
    total = sufficient_stats(kernels, Xa, ya, threads, w)
    if not total.finite():
        raise_not_finite(Xa, ya)
    return total, Xa.dtype, (Xa, ya, w)


def _checked_arrays(
    kernels: Any, n_jobs: int | None, X: Any, y: Any, sample_weight: Any
) -> tuple[FloatArray, FloatArray, F64 | None, int]:
    """``X``, ``y`` (one or several targets) and the weights checked, and the
    threads of the statistics pass."""
    Xa = check_X(X, finite=False)
    ya = check_y(y, Xa.shape[0], finite=False, multi_output=True)
    w = check_sample_weight(sample_weight, Xa.shape[0])
    return Xa, ya, w, resolve_n_threads(n_jobs, kernels, Xa.size)


def _checked_dask(X: Any, y: Any, sample_weight: Any) -> tuple[Any, Any]:
    """Dask arrays ``(X, y)`` checked (no weights on Dask arrays)."""
    from ._dask import as_dask_X_y

    if sample_weight is not None:
        raise ValueError("sample_weight is not supported with Dask arrays")
    return as_dask_X_y(X, y)


def _splitter_stats(
    cv: Any, stats: Callable[[Any], SufficientStats], X: FloatArray, y: FloatArray
) -> tuple[list[Fold], SufficientStats]:
    """The folds of a splitter or of index pairs."""
    n = X.shape[0]
    if isinstance(cv, str | bytes | bool):  # (a str has a split() too)
        splits: Iterable[Any] | None = None
    elif callable(getattr(cv, "split", None)):
        splits = cv.split(X, y)
    else:
        splits = cv if isinstance(cv, Iterable) else None
    if splits is None:
        raise TypeError(
            "cv must be an int, a splitter with split(X, y), or an iterable "
            f"of (train, test) index arrays, got {cv!r}"
        )
    try:
        index = [(_indices(tr, n), _indices(te, n)) for tr, te in splits]
    except (TypeError, ValueError) as exc:
        raise type(exc)(
            f"cv must give (train, test) pairs of row index arrays: {exc}"
        ) from None
    if len(index) < 2:
        raise ValueError(f"cv gave {len(index)} split(s); at least 2 are needed")
    for tr, te in index:
        if tr.size == 0 or te.size == 0:
            raise ValueError("cv gave a split with an empty train or test set")
    tests = [stats(te) for _, te in index]
    if _partition(index, n):
        # (the test folds partition the rows: training sets by merges)
        trains, total = _cv.train_and_test(tests)
    else:
        trains = [stats(tr) for tr, _ in index]
        total = stats(slice(None))
    return list(zip(trains, tests, strict=True)), total


def _check_folds(folds: list[Fold]) -> list[Fold]:
    """Every training and test set has weight to fit and score."""
    if any(s.n <= 0 for pair in folds for s in pair):
        raise ValueError(
            "a fold of the cross-validation has no rows of positive weight"
        )
    return folds


def _indices(rows: Any, n: int) -> Any:
    """One side of a split as row indices in ``0..n-1`` (a boolean mask of
    ``n`` rows too); raises for anything else."""
    arr = np.asarray(rows)
    if arr.dtype == bool and arr.shape == (n,):
        return np.flatnonzero(arr)
    if arr.ndim != 1 or (arr.size and arr.dtype.kind not in "iu"):
        raise TypeError(
            f"a split side must be a 1-D array of row indices, got {rows!r:.60}"
        )
    arr = arr.astype(np.intp, copy=False)
    if arr.size and (arr.min() < 0 or arr.max() >= n):
        raise ValueError(f"a split holds an index outside 0..{n - 1}")
    return arr


def _partition(index: list[tuple[Any, Any]], n: int) -> bool:
    """The test sets partition the rows and each training set is the rest
    of them: then the training statistics are merges of the test folds'."""
    cover = np.concatenate([te for _, te in index])
    if cover.size != n or np.unique(cover).size != n:
        return False
    for tr, te in index:
        rest = np.ones(n, dtype=bool)
        rest[te] = False
        if not np.array_equal(np.sort(tr), np.flatnonzero(rest)):
            return False
    return True
