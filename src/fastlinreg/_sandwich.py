"""The meat of robust covariances: one pass over the data, in blocks.

For the fitted ``(coef, intercept)`` each row has a score ``s_i z̃_i`` with
``s_i = w_i e_i`` (``e`` the residual) and ``z̃ = [1, x − x̄]`` the row in the
centred coordinates of :mod:`fastlinreg._inference` (``x`` itself without an
intercept). HC0/HC1 sum ``s² z̃ z̃ᵀ``; HC2 and HC3 first divide ``s`` by
``√(1 − h)`` or ``1 − h``, ``h_i = w_i z̃_iᵀ B z̃_i`` the leverage; clustered
covariances sum the scores per cluster, ``S_g = Σ_{i∈g} s_i z̃_i``, and then
``Σ_g S_g S_gᵀ``. Blocks of rows are centred into one float64 buffer, so the
pass needs O(block · d + clusters · d) memory and never a copy of ``X``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any, NamedTuple, Protocol

import numpy as np
import numpy.typing as npt

from ._inference import Bread, Meat
from ._stats import SufficientStats, sufficient_stats
from ._typing import F64, FloatArray

__all__ = [
    "ClusterSums",
    "DataPass",
    "GroupCodes",
    "MeatPoint",
    "MemoryPass",
    "block_grams",
    "centred_fit",
    "chunk_cluster_sums",
    "cluster_meat",
    "group_codes",
    "group_columns",
    "hc_meat",
    "meat_point",
    "merge_cluster_sums",
    "sandwich_meat",
]

# Elements of X per block: big enough for BLAS, small beside n.
_BLOCK_ELEMENTS = 1 << 19


class MissingClusterId(ValueError):
    """A cluster id is NaN or None: bad input, raised by ``fit`` (not an
    undefined inference that ``inference_`` would explain)."""


class GroupCodes(NamedTuple):
    """Cluster ids as integer codes: one array a clustering (two for
    two-way, then their intersection), with the number of codes of each."""

    codes: tuple[npt.NDArray[np.intp], ...]
    sizes: tuple[int, ...]


def group_columns(groups: Any, n: int) -> Any:
    """``groups`` (a NumPy or Dask array) as (n,) or (n, 2) ids — one column
    of (n, 1) taken as one-way — or the ValueError naming the shape."""
    if groups.ndim == 2 and groups.shape[1] == 1:
        groups = groups[:, 0]
    if groups.ndim not in (1, 2) or (groups.ndim == 2 and groups.shape[1] != 2):
        raise ValueError(
            "groups must have shape (n_samples,) for one-way or (n_samples, 2) "
            f"for two-way clustering, got {groups.shape}"
        )
    if groups.shape[0] != n:
        raise ValueError(f"groups has {groups.shape[0]} rows, X has {n}")
    return groups


def group_codes(groups: Any, n: int) -> GroupCodes | None:
    """Check ``groups`` (n ids, or (n, 2) for two-way clustering) and number
    the distinct ids of each column ``0 … G − 1`` (None for None)."""
    if groups is None:
        return None
    arr = group_columns(np.asarray(groups), n)
    columns = [arr] if arr.ndim == 1 else [arr[:, 0], arr[:, 1]]
    codes, sizes = [], []
    for j, col in enumerate(columns):
        code, size = _codes_of(col, j)
        codes.append(code)
        sizes.append(size)
    if len(codes) == 2:
        both, size = _codes_of(codes[0].astype(np.int64) * sizes[1] + codes[1], 2)
        codes.append(both)
        sizes.append(size)
    return GroupCodes(tuple(codes), tuple(sizes))


def _codes_of(col: npt.NDArray[Any], j: int) -> tuple[npt.NDArray[np.intp], int]:
    _check_ids(col, j, 0)
    if col.dtype.kind in "iub" and col.size:
        # Integer ids in a range not much wider than n: numbered by a count
        # (O(n)) rather than by np.unique's sort.
        lo, hi = int(col.min()), int(col.max())
        if hi - lo < max(4 * col.size, 1 << 16):
            offset = col.astype(np.intp) - lo
            present = np.bincount(offset, minlength=hi - lo + 1) > 0
            number = np.cumsum(present, dtype=np.intp) - 1
            return number[offset], int(present.sum())
    try:
        uniques, code = np.unique(col, return_inverse=True)
    except TypeError as exc:
        raise TypeError(
            f"groups column {j} mixes ids that cannot be compared ({exc})"
        ) from None
    return code.reshape(-1).astype(np.intp, copy=False), int(uniques.shape[0])


class MeatPoint(NamedTuple):
    """The fit a meat is taken at, in the centred coordinates, with what a
    block of rows needs (small, picklable: Dask tasks carry it):
    ``e = (y − ȳ) − (x − x̄)ᵀβ − δ`` with ``δ = b − ȳ + x̄ᵀβ`` (0 at the
    exact optimum); ``x̄ = 0``, ``ȳ = δ = 0`` without an intercept."""

    coef: F64
    xbar: F64
    ybar: float
    delta: float
    bread: Bread
    cov_type: str


def centred_fit(
    coef: F64, intercept: float, mean: F64, with_const: bool
) -> tuple[F64, F64, float, float]:
    """``(β, x̄, ȳ, δ)`` of the fit ``(coef, intercept)`` centred on the
    column means ``mean`` of ``[X | y]`` (as :class:`MeatPoint` holds them)."""
    d = coef.shape[0]
    coef = np.ascontiguousarray(coef, dtype=np.float64)
    if not with_const:
        return coef, np.zeros(d), 0.0, 0.0
    xbar = np.ascontiguousarray(mean[:d], dtype=np.float64)
    ybar = float(mean[d])
    return coef, xbar, ybar, intercept - ybar + float(xbar @ coef)


def meat_point(
    coef: F64, intercept: float, stats: SufficientStats, bread: Bread, cov_type: str
) -> MeatPoint:
    """The :class:`MeatPoint` of the fit ``(coef, intercept)`` of the target
    whose statistics are ``stats``."""
    with_const = bread.p == stats.d + 1
    return MeatPoint(
        *centred_fit(coef, intercept, stats.mean, with_const), bread, cov_type
    )


class DataPass(Protocol):
    """Where the data of a fit are, for inference's passes over them: the
    statistics (one pass) and a robust meat (one more); memory and Dask."""

    def stats(self) -> SufficientStats:
        """The sufficient statistics of the data (every target)."""
        ...

    def meat(self, target: int, point: MeatPoint) -> Meat:
        """The meat of ``point.cov_type`` for one target at ``point``."""
        ...


class MemoryPass(NamedTuple):
    """The :class:`DataPass` of arrays in memory (or memory maps)."""

    kernels: ModuleType
    threads: int
    X: FloatArray
    Y: FloatArray
    weights: F64 | None
    groups: GroupCodes | None

    def stats(self) -> SufficientStats:
        kernels, threads, X, Y, weights, _ = self
        return sufficient_stats(kernels, X, Y, threads, weights)

    def meat(self, target: int, point: MeatPoint) -> Meat:
        # (a column of several targets is copied once, contiguous: the kernel's)
        Y = self.Y
        y = Y if Y.ndim == 1 else Y[:, target].copy()
        return sandwich_meat(
            self.kernels, self.X, y, self.weights, point, self.groups, self.threads
        )


def sandwich_meat(
    kernels: ModuleType,
    X: FloatArray,
    y: FloatArray,
    weights: F64 | None,
    point: MeatPoint,
    groups: GroupCodes | None,
    threads: int = 1,
) -> Meat:
    """One pass over ``(X, y)`` (one per clustering for ``cluster``): the meat
    of ``point.cov_type`` at ``point``. ``y`` is one target; ``kernels`` the
    backend's (``score_gram`` on ``threads``, ``cluster_scores``)."""
    n_obs = float(X.shape[0] if weights is None else np.count_nonzero(weights > 0))
    if point.cov_type != "cluster":
        M, ssr = hc_meat(kernels, X, y, weights, point, threads)
        return Meat(((M, 0),), ssr, n_obs)
    assert groups is not None
    parts = []
    ssr = 0.0
    for code, size in zip(groups.codes, groups.sizes, strict=True):
        sums, ssr = cluster_sums(kernels, X, y, weights, point, code, size)
        parts.append((sums.T @ sums, _clusters_present(code, weights, size)))
    return Meat(tuple(parts), ssr, n_obs)


def cluster_sums(
    kernels: ModuleType,
    X: FloatArray,
    y: FloatArray,
    weights: F64 | None,
    point: MeatPoint,
    code: npt.NDArray[np.intp],
    size: int,
) -> tuple[F64, float]:
    """The scores summed per cluster, ``S_g = Σ_{i∈g} w_i e_i z̃_i`` (size × p),
    and ``Σ w e²``: one pass of the backend's kernel."""
    sums = np.zeros((size, point.bread.p))
    w = np.empty(0) if weights is None else weights
    ssr = kernels.cluster_scores(
        X, y, w, point.coef, point.delta, point.xbar, point.ybar, code, sums
    )
    return sums, float(ssr)


class ClusterSums(NamedTuple):
    """Per-cluster scores of some rows, keyed by the cluster ids themselves
    (not codes), so that the sums of chunks merge wherever the rows of a
    cluster lie: ``ids[k]`` sorted and distinct, ``sums[k]`` one row each,
    for each clustering ``k`` (three for two-way: both and their pairs)."""

    ids: tuple[npt.NDArray[Any], ...]
    sums: tuple[F64, ...]
    ssr: float
    n: int


def chunk_cluster_sums(
    kernels: ModuleType,
    X: FloatArray,
    y: FloatArray,
    point: MeatPoint,
    groups: npt.NDArray[Any],
    first_row: int,
) -> ClusterSums:
    """:class:`ClusterSums` of one chunk whose ids are ``groups`` (its rows
    of the (n,) or (n, 2) ids; ``first_row`` its place, for messages)."""
    columns = [groups] if groups.ndim == 1 else [groups[:, 0], groups[:, 1]]
    if len(columns) == 2:
        pair = [("a", groups.dtype), ("b", groups.dtype)]
        pairs = np.empty(groups.shape[0], dtype=pair)
        pairs["a"], pairs["b"] = columns
        columns.append(pairs)
    ids, sums = [], []
    ssr = 0.0
    for j, col in enumerate(columns):
        _check_ids(col, j, first_row)
        uniques, code = np.unique(col, return_inverse=True)
        code = code.reshape(-1).astype(np.intp, copy=False)
        S, ssr = cluster_sums(kernels, X, y, None, point, code, uniques.shape[0])
        ids.append(uniques)
        sums.append(S)
    return ClusterSums(tuple(ids), tuple(sums), ssr, int(X.shape[0]))


def merge_cluster_sums(*parts: ClusterSums) -> ClusterSums:
    """Several chunks' :class:`ClusterSums` as one: the sums of equal ids
    added (a sort of the ids they hold, then one reduction)."""
    ids, sums = [], []
    for k in range(len(parts[0].ids)):
        all_ids = np.concatenate([part.ids[k] for part in parts])
        all_sums = np.concatenate([part.sums[k] for part in parts])
        order = np.argsort(all_ids, kind="stable")
        all_ids = all_ids[order]
        starts = np.flatnonzero(np.r_[True, all_ids[1:] != all_ids[:-1]])
        ids.append(all_ids[starts])
        sums.append(np.add.reduceat(all_sums[order], starts, axis=0))
    return ClusterSums(
        tuple(ids),
        tuple(sums),
        sum(part.ssr for part in parts),
        sum(part.n for part in parts),
    )


def cluster_meat(total: ClusterSums) -> Meat:
    """The meat of all the rows from their merged :class:`ClusterSums`."""
    parts = tuple((S.T @ S, int(S.shape[0])) for S in total.sums)
    return Meat(parts, total.ssr, float(total.n))


def _check_ids(col: npt.NDArray[Any], j: int, first_row: int) -> None:
    """Missing cluster ids (NaN, None) are an error naming the row (object
    ids reach here only in memory: Dask's are refused before the pass)."""
    if col.dtype.names:
        for name in col.dtype.names:
            _check_ids(col[name], j, first_row)
        return
    if col.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            raise MissingClusterId(
                f"groups holds {col[bad[0]]} at row {first_row + bad[0]} (column {j})"
            )
    elif col.dtype == object:
        missing = [i for i, v in enumerate(col) if v is None]
        if missing:
            raise MissingClusterId(
                f"groups holds None at row {first_row + missing[0]} (column {j})"
            )


_SCORE_GRAM_MODES = {"HC0": 0, "HC1": 0, "HC2": 2, "HC3": 3}


def hc_meat(
    kernels: ModuleType,
    X: FloatArray,
    y: FloatArray,
    weights: F64 | None,
    point: MeatPoint,
    threads: int = 1,
) -> tuple[F64, float]:
    """Σ s² z̃ z̃ᵀ (s divided by √(1 − h) or 1 − h for HC2 / HC3), and Σ w e²:
    one pass of the backend's ``score_gram``."""
    bread = point.bread
    M = np.empty((bread.p, bread.p))
    ssr = kernels.score_gram(
        X,
        y,
        np.empty(0) if weights is None else weights,
        point.coef,
        point.delta,
        point.xbar,
        point.ybar,
        np.ascontiguousarray(bread.inverse, dtype=np.float64),
        _SCORE_GRAM_MODES[point.cov_type],
        M,
        threads,
    )
    return M, float(ssr)


RowWeights = Callable[[F64, F64, int, int], Sequence[F64]]


def block_grams(
    X: FloatArray,
    y: FloatArray,
    point: Any,
    with_const: bool,
    row_weights: RowWeights,
    count: int,
) -> list[F64]:
    """``count`` weighted Grams ``Σ v_i z̃_i z̃_iᵀ`` in one pass over ``(X, y)``.

    ``point`` gives the fit (``coef``, ``xbar``, ``ybar``, ``delta``, as in
    :class:`MeatPoint`); for each block of rows ``row_weights(Z, e, lo, hi)``
    returns the ``count`` non-negative weight vectors ``v`` of rows
    ``lo:hi``, from their centred rows ``Z = X − x̄`` and residuals ``e``.
    Blocks are centred into one float64 buffer (a second one for several
    Grams): O(block · d) memory, never a copy of ``X``.
    """
    coef, xbar, ybar, delta = point.coef, point.xbar, point.ybar, point.delta
    n, d = X.shape
    p = d + 1 if with_const else d
    grams = [np.zeros((p, p)) for _ in range(count)]
    step = max(1, _BLOCK_ELEMENTS // max(d, 1))
    buf = np.empty((min(step, n), d))
    scaled = np.empty_like(buf) if count > 1 else buf
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        Z = np.subtract(X[lo:hi], xbar, out=buf[: hi - lo])
        # (NumPy: e = y − b − X @ coef, in centred form)
        e = (np.asarray(y[lo:hi], dtype=np.float64) - ybar) - Z @ coef - delta
        for M, v in zip(grams, row_weights(Z, e, lo, hi), strict=True):
            if with_const:
                # the constant's row and column: Σ v, Σ v z̃
                M[0, 0] += float(v.sum())
                cross = v @ Z
                M[0, 1:] += cross
                M[1:, 0] += cross
            # (NumPy: M += Z.T @ (v[:, None] * Z), as one symmetric product)
            root = np.sqrt(v)[:, np.newaxis]
            R = np.multiply(Z, root, out=scaled[: hi - lo])
            M[p - d :, p - d :] += R.T @ R
    return grams


def _clusters_present(
    code: npt.NDArray[np.intp], weights: F64 | None, size: int
) -> int:
    """The clusters with a row of positive weight (those the data have)."""
    if weights is None:
        return size
    return int(np.count_nonzero(np.bincount(code[weights > 0], minlength=size)))
