"""Dask arrays: fits on whatever Dask scheduler is active, clusters included.

Nothing here imports Dask when the module is imported (``import fastlinreg``
must stay light): :func:`is_dask_collection` is duck typing, and the functions
that need Dask import it when they are called. Install it with the extra
``fastlinreg[dask]`` (``dask[array]`` and ``distributed``).

Squared loss on sufficient statistics (``precompute`` True or ``"auto"``)
    One task per row chunk runs fastlinreg's kernel on the chunk's NumPy block
    (:func:`_chunk_stats`: the count, means and centred cross-products of
    ``[X | y]``), a balanced tree of pairwise tasks merges the partial
    statistics (:meth:`SufficientStats.merge`, Chan's update), and only the
    root, ``(d + 1)²`` doubles, reaches the client, which then iterates in
    O(d²) per step. One pass over the data, wherever they live.
Per-iteration path (``precompute=False``)
    The data are persisted once. Each evaluation of the objective is one task
    per chunk running the fused loss-and-gradient kernel, with the current
    coefficients embedded in the task (nothing is scattered), summed in a tree:
    one round trip per evaluation.

Inside a task the kernel runs on one thread unless ``n_jobs`` says otherwise:
the scheduler already runs one task per worker thread.

This module gathers :class:`~fastlinreg._fit.Problem` objects, as ``_gather``
does for arrays in memory; it never sees an estimator.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._backend import get_kernels, resolve_n_threads
from ._coords import Coordinates
from ._fit import FitSpec, Problem, stats_problems
from ._gather import Gathered
from ._inference import Meat
from ._sandwich import (
    ClusterSums,
    MeatPoint,
    chunk_cluster_sums,
    cluster_meat,
    group_columns,
    hc_meat,
    merge_cluster_sums,
)
from ._stats import SufficientStats, sufficient_stats
from ._typing import F64, FloatArray
from ._validation import (
    as_2d,
    as_target,
    check_lengths,
    check_sizes,
    check_X_y,
    float_dtype,
    require_y,
)

__all__ = [
    "DaskPass",
    "as_dask_X",
    "as_dask_X_y",
    "gather",
    "gather_stats",
    "is_dask_collection",
    "predict_blocks",
    "r2",
]


def _import(name: str) -> Any:
    """A Dask module, imported on first use (typed Any: Dask is untyped)."""
    return importlib.import_module(name)


def is_dask_collection(obj: Any) -> bool:
    """Whether ``obj`` is a Dask collection (array, DataFrame, Series).

    Duck typing on the type's module and the Dask collection protocol, so that
    Dask is never imported to find out.
    """
    module = getattr(type(obj), "__module__", "") or ""
    return (module == "dask" or module.startswith("dask.")) and hasattr(
        obj, "__dask_graph__"
    )


# --------------------------------------------------------------------------
# Input: lazy validation, the same rules as _validation for NumPy input
# --------------------------------------------------------------------------


def _as_dask_float(obj: Any, name: str) -> Any:
    """``obj`` as a float32/float64 Dask array (lazily converted)."""
    da = _import("dask.array")

    if obj is None:
        raise ValueError(f"{name} is None; expected an array-like of numbers")
    if is_dask_collection(obj) and hasattr(obj, "to_dask_array"):
        # A Dask DataFrame or Series: its partitions become row chunks.
        obj = obj.to_dask_array(lengths=True)
    arr = obj if is_dask_collection(obj) else da.asarray(obj)
    if not hasattr(arr, "chunks"):
        raise TypeError(
            f"{name} is a Dask collection of type {type(obj).__name__}; "
            "expected a Dask array (or DataFrame)"
        )
    target = float_dtype(arr.dtype, name, "a Dask array")
    return arr if arr.dtype == target else arr.astype(target)


def _unknown(n: float) -> bool:
    return isinstance(n, float) and math.isnan(n)


def as_dask_X_y(X: Any, y: Any) -> tuple[Any, Any]:
    """Validated Dask arrays ``(X, y)``: X 2-D with one chunk of columns, y 1-D
    chunked like the rows of X (rechunked when it was not)."""
    Xd = as_2d(_as_dask_float(X, "X"))
    require_y(y)
    yd = as_target(_as_dask_float(y, "y"), stacklevel=4)
    n = Xd.shape[0]
    if _unknown(n) or _unknown(yd.shape[0]):
        raise ValueError(
            "X or y has chunks of unknown size (after boolean indexing, say); "
            "call X.compute_chunk_sizes() and y.compute_chunk_sizes() first"
        )
    check_lengths(n, yd)
    check_sizes(Xd)
    if Xd.numblocks[1] > 1:
        Xd = Xd.rechunk({1: -1})  # whole rows in each task
    if yd.chunks[0] != Xd.chunks[0]:
        yd = yd.rechunk((Xd.chunks[0],))
    return Xd, yd


def _raise_not_finite(Xd: Any, yd: Any) -> None:
    """Statistics that are not finite: say why, as for NumPy input."""
    dask = _import("dask")
    da = _import("dask.array")

    x_nan, x_inf, y_nan, y_inf = dask.compute(
        da.isnan(Xd).any(), da.isinf(Xd).any(), da.isnan(yd).any(), da.isinf(yd).any()
    )
    for name, dtype, nan, inf in (
        ("X", Xd.dtype, x_nan, x_inf),
        ("y", yd.dtype, y_nan, y_inf),
    ):
        if nan:
            raise ValueError(f"Input {name} contains NaN.")
        if inf:
            raise ValueError(
                f"Input {name} contains infinity or a value too large for "
                f"dtype('{dtype}')."
            )
    raise ValueError(
        "X or y holds values so large that their squares overflow "
        "float64; rescale them before fitting"
    )


# --------------------------------------------------------------------------
# Tasks (module-level functions: they travel to the workers by reference)
# --------------------------------------------------------------------------


def _block_arrays(X: Any, y: Any) -> tuple[FloatArray, FloatArray]:
    return check_X_y(X, y, finite=False)


def _task_threads(n_jobs: int | None, kernels: Any, size: int) -> int:
    return resolve_n_threads(1 if n_jobs is None else n_jobs, kernels, size)


def _chunk_stats(
    X: FloatArray, y: FloatArray, backend: str, n_jobs: int | None
) -> SufficientStats:
    """The sufficient statistics of one chunk, by fastlinreg's kernel."""
    if X.shape[0] == 0:
        return SufficientStats.empty(X.shape[1], 1 if y.ndim == 1 else y.shape[1])
    kernels = get_kernels(backend)
    Xa, ya = _block_arrays(X, y)
    return sufficient_stats(kernels, Xa, ya, _task_threads(n_jobs, kernels, Xa.size))


def _merge_stats(*parts: SufficientStats) -> SufficientStats:
    """Several chunks' statistics merged pairwise (a balanced tree)."""
    return _tree(parts, SufficientStats.merge)  # type: ignore[no-any-return]


def _chunk_moments(
    X: FloatArray, y: FloatArray, backend: str, n_jobs: int | None
) -> tuple[int, F64, F64]:
    """(count, means, centred sums of squares) of the columns of one chunk."""
    d = X.shape[1]
    if X.shape[0] == 0:
        return 0, np.zeros(d + 1), np.zeros(d + 1)
    kernels = get_kernels(backend)
    Xa, ya = _block_arrays(X, y)
    mean, m2 = np.empty(d + 1), np.empty(d + 1)
    kernels.moments(Xa, ya, mean, m2, _task_threads(n_jobs, kernels, Xa.size))
    return Xa.shape[0], mean, m2


def _merge_moments(*parts: tuple[int, F64, F64]) -> tuple[int, F64, F64]:
    return _tree(parts, _merge_two_moments)  # type: ignore[no-any-return]


def _merge_two_moments(
    a: tuple[int, F64, F64], b: tuple[int, F64, F64]
) -> tuple[int, F64, F64]:
    """Chan's update, for the diagonal of the statistics only."""
    n_a, mean_a, m2_a = a
    n_b, mean_b, m2_b = b
    if n_b == 0:
        return a
    if n_a == 0:
        return b
    n = n_a + n_b
    f = n_b / n
    with np.errstate(over="ignore", invalid="ignore"):
        delta = mean_b - mean_a
        return n, mean_a + delta * f, m2_a + m2_b + delta * delta * (n_a * f)


def _chunk_loss_grad(
    X: FloatArray,
    y: FloatArray,
    coef: F64,
    intercept: float,
    x_offset: F64,
    y_offset: float,
    backend: str,
    n_jobs: int | None,
) -> F64:
    """``[Σe², −2 Σ(x − offset)·e, −2 Σe]`` over one chunk (sums, not means)."""
    d = X.shape[1]
    out = np.zeros(d + 2)
    nb = X.shape[0]
    if nb == 0:
        return out
    kernels = get_kernels(backend)
    Xa, ya = _block_arrays(X, y)
    grad = np.empty(d)
    loss, grad_b = kernels.loss_gradient(
        Xa,
        ya,
        coef,
        intercept,
        x_offset,
        y_offset,
        grad,
        _task_threads(n_jobs, kernels, Xa.size),
    )
    out[0] = loss * nb
    out[1 : d + 1] = grad * nb
    out[d + 1] = grad_b * nb
    return out


def _add(*parts: F64) -> F64:
    return _tree(parts, np.add)  # type: ignore[no-any-return]


def _predict_block(X: FloatArray, coef: F64, intercept: float) -> FloatArray:
    # As LinearRegression.predict computes it on NumPy input.
    out: FloatArray = X @ coef.astype(X.dtype, copy=False) + X.dtype.type(intercept)
    return out


def _tree(parts: Sequence[Any], merge: Callable[[Any, Any], Any]) -> Any:
    """Combine ``parts`` pairwise in a balanced tree (log2(len) levels)."""
    level = list(parts)
    while len(level) > 1:
        nxt = [merge(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            nxt.append(level[-1])
        level = nxt
    return level[0]


# Partial results a merge task combines (pairwise, inside the task): fewer
# scheduler round trips than one task per pair, the same balanced tree.
FAN_IN = 8


def _task_tree(parts: Sequence[Any], merge_task: Callable[..., Any]) -> Any:
    """A tree of tasks over ``parts``, each merging up to FAN_IN of them."""
    level = list(parts)
    while len(level) > 1:
        level = [
            merge_task(*level[i : i + FAN_IN])
            if len(level[i : i + FAN_IN]) > 1
            else level[i]
            for i in range(0, len(level), FAN_IN)
        ]
    return level[0]


def _blocks(Xd: Any, yd: Any) -> list[tuple[Any, Any]]:
    """The (X, y) row chunks as pairs of Delayed objects."""
    xs = Xd.to_delayed().ravel()
    ys = yd.to_delayed().ravel()
    return list(zip(xs, ys, strict=True))


# --------------------------------------------------------------------------
# What the estimator calls
# --------------------------------------------------------------------------


def gather_stats(Xd: Any, yd: Any, backend: str, n_jobs: int | None) -> SufficientStats:
    """Sufficient statistics of Dask arrays (from :func:`as_dask_X_y`):
    a task per chunk, a tree of merges, computed on the active scheduler."""
    (stats,) = gather_range_stats(Xd, yd, [(0, Xd.shape[0])], backend, n_jobs)
    return stats


def gather_range_stats(
    Xd: Any,
    yd: Any,
    ranges: Sequence[tuple[int, int]],
    backend: str,
    n_jobs: int | None,
) -> list[SufficientStats]:
    """The statistics of each row range ``[start, stop)`` of Dask arrays
    (cross-validation's folds), in one computation: a task per piece of a
    chunk inside a range, a tree of merges per range; a range may span
    chunks and a chunk ranges, each chunk is still read once."""
    dask = _import("dask")
    delayed = dask.delayed

    chunk = delayed(_chunk_stats, pure=True)
    merge = delayed(_merge_stats, pure=True)
    trees = []
    for start, stop in ranges:
        blocks = _blocks(Xd[start:stop], yd[start:stop])
        trees.append(
            _task_tree([chunk(xb, yb, backend, n_jobs) for xb, yb in blocks], merge)
        )
    stats = list(dask.compute(*trees))
    if not all(s.finite() for s in stats):
        _raise_not_finite(Xd, yd)
    assert all(isinstance(s, SufficientStats) for s in stats)
    return stats


class DaskStreamingMSE:
    """The mean squared error of persisted Dask arrays: one task per chunk per
    evaluation, the coefficients embedded in the tasks, one round trip."""

    def __init__(
        self,
        Xd: Any,
        yd: Any,
        coords: Coordinates,
        backend: str,
        n_jobs: int | None,
    ) -> None:
        self.blocks = _blocks(Xd, yd)
        self.n = int(Xd.shape[0])
        self.coords = coords
        self.backend = backend
        self.n_jobs = n_jobs

    def __call__(self, theta: F64) -> tuple[float, F64]:
        dask = _import("dask")
        delayed = dask.delayed

        coef, c = self.coords.split(theta)
        coef = np.ascontiguousarray(coef)
        offset = self.coords.offset
        task = delayed(_chunk_loss_grad, pure=True)
        parts = [
            task(
                xb,
                yb,
                coef,
                c,
                offset,
                self.coords.y_offset,
                self.backend,
                self.n_jobs,
            )
            for xb, yb in self.blocks
        ]
        (total,) = dask.compute(_task_tree(parts, delayed(_add, pure=True)))
        total = total / self.n
        d = self.coords.d
        return float(total[0]), self.coords.gradient(total[1 : d + 1], total[d + 1])


def gather(spec: FitSpec, X: Any, y: Any) -> Gathered:
    """A fit's pass over Dask arrays, on the active scheduler."""
    dask = _import("dask")
    delayed = dask.delayed

    if spec.loss.name != "squared_error":
        raise ValueError(
            f"loss={spec.loss.name!r} is not supported on Dask arrays (yet); "
            "only the squared error, whose sufficient statistics merge"
        )
    Xd, yd = as_dask_X_y(X, y)
    d = int(Xd.shape[1])
    backend, n_jobs = spec.engine.name, spec.engine.n_jobs
    if spec.use_stats(d):
        stats = gather_stats(Xd, yd, backend, n_jobs)
        return Gathered(stats_problems(stats), 1, d, Xd.dtype, stats)
    # One pass per evaluation: keep the data where they are computed.
    Xd, yd = dask.persist(Xd, yd)
    chunk = delayed(_chunk_moments, pure=True)
    parts = [chunk(xb, yb, backend, n_jobs) for xb, yb in _blocks(Xd, yd)]
    ((n, mean, m2),) = dask.compute(
        _task_tree(parts, delayed(_merge_moments, pure=True))
    )
    if not (np.isfinite(mean).all() and np.isfinite(m2).all()):
        _raise_not_finite(Xd, yd)

    def objective(coords: Coordinates) -> DaskStreamingMSE:
        return DaskStreamingMSE(Xd, yd, coords, backend, n_jobs)

    problem = Problem(mean, m2 / n, n, objective=objective)
    return Gathered([problem], 1, d, Xd.dtype)


def _chunk_hc_meat(
    X: FloatArray, y: FloatArray, point: MeatPoint, backend: str
) -> tuple[F64, float, int]:
    """One chunk's part of a heteroskedasticity-robust meat (HC0-HC3), on
    one thread (the chunks are Dask's parallelism)."""
    Xa, ya = _block_arrays(X, y)
    M, ssr = hc_meat(get_kernels(backend), Xa, ya, None, point)
    return M, ssr, int(Xa.shape[0])


def _merge_hc_meat(*parts: tuple[F64, float, int]) -> tuple[F64, float, int]:
    return (
        _tree([p[0] for p in parts], np.add),
        sum(p[1] for p in parts),
        sum(p[2] for p in parts),
    )


def _chunk_cluster_sums(
    X: FloatArray,
    y: FloatArray,
    groups: Any,
    point: MeatPoint,
    first_row: int,
    backend: str,
) -> ClusterSums:
    Xa, ya = _block_arrays(X, y)
    ids = np.asarray(groups)
    return chunk_cluster_sums(get_kernels(backend), Xa, ya, point, ids, first_row)


def _as_dask_groups(groups: Any, Xd: Any) -> Any:
    """Cluster ids as a Dask array chunked like the rows of ``Xd``."""
    da = _import("dask.array")

    if groups is None:
        return None
    g: Any = groups if is_dask_collection(groups) else np.asarray(groups)
    if is_dask_collection(g) and hasattr(g, "to_dask_array"):
        g = g.to_dask_array(lengths=True)
    g = group_columns(g, Xd.shape[0])
    if g.dtype == object:
        raise TypeError(
            "groups of dtype object are not supported on Dask arrays: give the "
            "cluster ids as integers or strings"
        )
    chunks = (Xd.chunks[0],) + ((2,) if g.ndim == 2 else ())
    if not is_dask_collection(g):
        return da.from_array(g, chunks=chunks)
    return g if g.chunks == chunks else g.rechunk(chunks)


class DaskPass:
    """Inference's passes over Dask arrays (a :class:`~fastlinreg._sandwich.
    DataPass`): the statistics, and a robust meat as one task per chunk and a
    tree of merges. Clustered scores are summed per cluster id in each chunk
    and merged by id, so a cluster may span chunks and workers; what reaches
    the client is O(p² + clusters · p)."""

    def __init__(self, spec: FitSpec, X: Any, y: Any, groups: Any) -> None:
        self.X, self.y = as_dask_X_y(X, y)
        self.groups = _as_dask_groups(groups, self.X)
        self.backend = spec.engine.name
        self.n_jobs = spec.engine.n_jobs

    def stats(self) -> SufficientStats:
        return gather_stats(self.X, self.y, self.backend, self.n_jobs)

    def meat(self, target: int, point: MeatPoint) -> Meat:
        dask = _import("dask")
        delayed = dask.delayed

        assert target == 0  # (Dask fits have one target)
        blocks = _blocks(self.X, self.y)
        if point.cov_type != "cluster":
            task = delayed(_chunk_hc_meat, pure=True)
            parts = [task(xb, yb, point, self.backend) for xb, yb in blocks]
            merge = delayed(_merge_hc_meat, pure=True)
            ((M, ssr, n),) = dask.compute(_task_tree(parts, merge))
            return Meat(((M, 0),), float(ssr), float(n))
        gs = self.groups.to_delayed().ravel()
        starts = np.cumsum((0, *self.X.chunks[0][:-1]))
        task = delayed(_chunk_cluster_sums, pure=True)
        parts = [
            task(xb, yb, gb, point, int(first), self.backend)
            for (xb, yb), gb, first in zip(blocks, gs, starts, strict=True)
        ]
        (total,) = dask.compute(
            _task_tree(parts, delayed(merge_cluster_sums, pure=True))
        )
        return cluster_meat(total)


def as_dask_X(X: Any) -> Any:
    """``X`` as a validated 2-D float Dask array with one chunk of columns."""
    Xd = _as_dask_float(X, "X")
    if Xd.ndim == 1:
        Xd = Xd[:, None]
    elif Xd.ndim != 2:
        raise ValueError(
            f"X must be a 1-D or 2-D array, got {Xd.ndim} dimensions (shape={Xd.shape})"
        )
    if Xd.numblocks[1] > 1:
        Xd = Xd.rechunk({1: -1})
    return Xd


def predict_blocks(Xd: Any, coef: F64, intercept: float) -> Any:
    """``Xd @ coef + intercept``: a lazy Dask array, one task a chunk."""
    return Xd.map_blocks(
        _predict_block,
        np.asarray(coef, dtype=np.float64),
        float(intercept),
        drop_axis=1,
        dtype=Xd.dtype,
        meta=np.empty((0,), dtype=Xd.dtype),
    )


def r2(y: Any, pred: Any) -> float:
    """R² of predictions (Dask, or NumPy to be wrapped) against a Dask ``y``:
    both sums computed together, in one pass."""
    dask = _import("dask")
    da = _import("dask.array")

    if not is_dask_collection(pred):
        pred = da.from_array(pred)
    yd = _as_dask_float(y, "y")
    if yd.ndim == 2 and yd.shape[1] == 1:
        yd = yd[:, 0]
    if yd.ndim != 1 or yd.shape[0] != pred.shape[0]:
        raise ValueError(
            f"y of shape {yd.shape} does not match {pred.shape[0]} predictions"
        )
    yd = yd.rechunk((pred.chunks[0],)).astype(np.float64)
    resid = yd - pred.astype(np.float64)
    ss_res, ss_tot = dask.compute((resid * resid).sum(), yd.var() * yd.shape[0])
    ss_res, ss_tot = float(ss_res), float(ss_tot)
    if ss_tot == 0.0:
        return 1.0 if ss_res == 0.0 else 0.0
    return 1.0 - ss_res / ss_tot
