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

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ._inference import Bread, Meat
from ._stats import SufficientStats
from ._typing import F64, FloatArray

__all__ = ["GroupCodes", "group_codes", "sandwich_meat"]

# Elements of X per block: big enough for BLAS, small beside n.
_BLOCK_ELEMENTS = 1 << 19


class GroupCodes(NamedTuple):
    """Cluster ids as integer codes: one array a clustering (two for
    two-way, then their intersection), with the number of codes of each."""

    codes: tuple[npt.NDArray[np.intp], ...]
    sizes: tuple[int, ...]


def group_codes(groups: Any, n: int) -> GroupCodes | None:
    """Check ``groups`` (n ids, or (n, 2) for two-way clustering) and number
    the distinct ids of each column ``0 … G − 1`` (None for None)."""
    if groups is None:
        return None
    arr = np.asarray(groups)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2) or (arr.ndim == 2 and arr.shape[1] != 2):
        raise ValueError(
            "groups must have shape (n_samples,) for one-way or (n_samples, 2) "
            f"for two-way clustering, got {arr.shape}"
        )
    if arr.shape[0] != n:
        raise ValueError(f"groups has {arr.shape[0]} rows, X has {n}")
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
    if col.dtype.kind == "f":
        bad = np.flatnonzero(~np.isfinite(col))
        if bad.size:
            raise ValueError(f"groups holds {col[bad[0]]} at row {bad[0]} (column {j})")
    if col.dtype == object:
        missing = [i for i, v in enumerate(col) if v is None]
        if missing:
            raise ValueError(f"groups holds None at row {missing[0]} (column {j})")
    try:
        uniques, code = np.unique(col, return_inverse=True)
    except TypeError as exc:
        raise TypeError(
            f"groups column {j} mixes ids that cannot be compared ({exc})"
        ) from None
    return code.reshape(-1).astype(np.intp, copy=False), int(uniques.shape[0])


def sandwich_meat(
    X: FloatArray,
    y: FloatArray,
    weights: F64 | None,
    coef: F64,
    intercept: float,
    stats: SufficientStats,
    bread: Bread,
    cov_type: str,
    groups: GroupCodes | None,
) -> Meat:
    """One pass over ``(X, y)``: the meat of ``cov_type`` for the fit
    ``(coef, intercept)`` (``y`` one target; ``stats`` its statistics)."""
    n, d = X.shape
    with_const = bread.p == d + 1
    xbar = stats.mean[:d] if with_const else np.zeros(d)
    # e = (y − ȳ) − (x − x̄)ᵀβ − δ, δ = b − ȳ + x̄ᵀβ (0 at the exact optimum)
    ybar = float(stats.mean[d]) if with_const else 0.0
    delta = (intercept - ybar + float(xbar @ coef)) if with_const else 0.0
    B = bread.inverse
    leverage = cov_type in ("HC2", "HC3")
    cluster = cov_type == "cluster"
    p = bread.p
    if cluster:
        assert groups is not None
        sums = [np.zeros((size, p)) for size in groups.sizes]
    M = np.zeros((p, p))
    ssr = 0.0
    step = max(1, _BLOCK_ELEMENTS // max(d, 1))
    buf = np.empty((min(step, n), d))
    for lo in range(0, n, step):
        hi = min(lo + step, n)
        Z = np.subtract(X[lo:hi], xbar, out=buf[: hi - lo])
        # (NumPy: e = y − b − X @ coef, in centred form)
        e = (np.asarray(y[lo:hi], dtype=np.float64) - ybar) - Z @ coef - delta
        w = None if weights is None else weights[lo:hi]
        s = e if w is None else w * e
        ssr += float(e @ s)
        if leverage:
            h = _leverage(Z, B, with_const)
            if w is not None:
                h *= w
            s = s / (np.sqrt(1.0 - h) if cov_type == "HC2" else (1.0 - h))
        if cluster:
            assert groups is not None
            for total, code in zip(sums, groups.codes, strict=True):
                _add_cluster_sums(total, code[lo:hi], s, Z, with_const)
        else:
            _add_outer(M, s, Z, with_const)
    n_obs = float(n if weights is None else np.count_nonzero(weights > 0))
    if not cluster:
        return Meat(((M, 0),), ssr, n_obs)
    assert groups is not None
    parts = []
    for total, code in zip(sums, groups.codes, strict=True):
        present = _clusters_present(code, weights, total.shape[0])
        parts.append((total.T @ total, present))
    return Meat(tuple(parts), ssr, n_obs)


def _leverage(Z: F64, B: F64, with_const: bool) -> F64:
    """h_i = z̃_iᵀ B z̃_i for the rows of the block (before the weight)."""
    if not with_const:
        return np.einsum("ij,ij->i", Z @ B, Z)  # type: ignore[no-any-return]
    Bxx, b0x = B[1:, 1:], B[0, 1:]
    h = np.einsum("ij,ij->i", Z @ Bxx, Z)
    h += 2.0 * (Z @ b0x) + B[0, 0]
    return h  # type: ignore[no-any-return]


def _add_outer(M: F64, s: F64, Z: F64, with_const: bool) -> None:
    """M += Σ s² z̃ z̃ᵀ over the block."""
    U = Z * s[:, np.newaxis]
    if not with_const:
        M += U.T @ U
        return
    M[0, 0] += s @ s
    cross = U.T @ s
    M[0, 1:] += cross
    M[1:, 0] += cross
    M[1:, 1:] += U.T @ U


def _add_cluster_sums(
    total: F64, code: npt.NDArray[np.intp], s: F64, Z: F64, with_const: bool
) -> None:
    """total[g] += Σ_{i∈g} s_i z̃_i over the block's rows."""
    size = total.shape[0]
    first = 0
    if with_const:
        total[:, 0] += np.bincount(code, weights=s, minlength=size)
        first = 1
    for j in range(Z.shape[1]):
        total[:, first + j] += np.bincount(code, weights=s * Z[:, j], minlength=size)


def _clusters_present(
    code: npt.NDArray[np.intp], weights: F64 | None, size: int
) -> int:
    """The clusters with a row of positive weight (those the data have)."""
    if weights is None:
        return size
    return int(np.count_nonzero(np.bincount(code[weights > 0], minlength=size)))
