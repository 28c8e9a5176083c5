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

from types import ModuleType
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


def sandwich_meat(
    kernels: ModuleType,
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
    """One pass over ``(X, y)`` (one per clustering for ``cluster``): the meat
    of ``cov_type`` for the fit ``(coef, intercept)``. ``y`` is one target,
    ``stats`` its statistics; ``kernels`` the backend's (``cluster_scores``)."""
    n, d = X.shape
    with_const = bread.p == d + 1
    xbar = stats.mean[:d] if with_const else np.zeros(d)
    # e = (y − ȳ) − (x − x̄)ᵀβ − δ, δ = b − ȳ + x̄ᵀβ (0 at the exact optimum)
    ybar = float(stats.mean[d]) if with_const else 0.0
    delta = (intercept - ybar + float(xbar @ coef)) if with_const else 0.0
    n_obs = float(n if weights is None else np.count_nonzero(weights > 0))
    coef = np.ascontiguousarray(coef, dtype=np.float64)
    if cov_type == "cluster":
        assert groups is not None
        w = np.empty(0) if weights is None else weights
        parts = []
        ssr = 0.0
        for code, size in zip(groups.codes, groups.sizes, strict=True):
            sums = np.zeros((size, bread.p))
            ssr = kernels.cluster_scores(X, y, w, coef, delta, xbar, ybar, code, sums)
            parts.append((sums.T @ sums, _clusters_present(code, weights, size)))
        return Meat(tuple(parts), ssr, n_obs)
    M, ssr = _hc_meat(X, y, weights, coef, xbar, ybar, delta, bread, cov_type)
    return Meat(((M, 0),), ssr, n_obs)


def _hc_meat(
    X: FloatArray,
    y: FloatArray,
    weights: F64 | None,
    coef: F64,
    xbar: F64,
    ybar: float,
    delta: float,
    bread: Bread,
    cov_type: str,
) -> tuple[F64, float]:
    """Σ s² z̃ z̃ᵀ (s divided by √(1 − h) or 1 − h for HC2 / HC3), and Σ w e²,
    in blocks of rows centred into one buffer and scaled there in place."""
    n, d = X.shape
    with_const = bread.p == d + 1
    p = bread.p
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
        if cov_type in ("HC2", "HC3"):
            h = _leverage(Z, bread.inverse, with_const)
            if w is not None:
                h *= w
            s = s / (np.sqrt(1.0 - h) if cov_type == "HC2" else (1.0 - h))
        if with_const:
            # the constant's row and column: Σ s², Σ s² z̃
            s2 = s * s
            M[0, 0] += float(s2.sum())
            cross = s2 @ Z
            M[0, 1:] += cross
            M[1:, 0] += cross
        Z *= s[:, np.newaxis]  # the scores, in place
        M[p - d :, p - d :] += Z.T @ Z
    return M, ssr


def _leverage(Z: F64, B: F64, with_const: bool) -> F64:
    """h_i = z̃_iᵀ B z̃_i for the rows of the block (before the weight)."""
    if not with_const:
        return np.einsum("ij,ij->i", Z @ B, Z)  # type: ignore[no-any-return]
    Bxx, b0x = B[1:, 1:], B[0, 1:]
    h = np.einsum("ij,ij->i", Z @ Bxx, Z)
    h += 2.0 * (Z @ b0x) + B[0, 0]
    return h  # type: ignore[no-any-return]


def _clusters_present(
    code: npt.NDArray[np.intp], weights: F64 | None, size: int
) -> int:
    """The clusters with a row of positive weight (those the data have)."""
    if weights is None:
        return size
    return int(np.count_nonzero(np.bincount(code[weights > 0], minlength=size)))
