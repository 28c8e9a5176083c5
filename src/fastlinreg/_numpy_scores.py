"""NumPy twins of the compiled ``_scores`` kernels: the scores of a fit,
summed per cluster (``cluster_scores``) and as their weighted Gram
(``score_gram``), the meat of robust covariances."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ._numpy_blocks import Array, Workspace, row_blocks
from ._typing import F64

__all__ = ["cluster_scores", "score_gram"]


def cluster_scores(
    X: Array,
    y: Array,
    sample_weight: F64,
    coef: F64,
    intercept: float,
    x_offset: F64,
    y_offset: float,
    groups: npt.NDArray[np.intp],
    sums: F64,
) -> float:
    """Per-cluster sums of the scores ``s_i · [1, x_i − x_offset]`` into
    ``sums``, and Σ w e² (see the compiled twin)."""
    n, d = X.shape
    p = sums.shape[1]
    if y.shape[0] != n or groups.shape[0] != n:
        raise ValueError(
            f"y and groups need {n} entries, got {y.shape[0]} and {groups.shape[0]}"
        )
    if sample_weight.shape[0] not in (0, n):
        raise ValueError(
            f"sample_weight has {sample_weight.shape[0]} entries; expected 0 or {n}"
        )
    if p not in (d, d + 1):
        raise ValueError(f"sums has {p} columns; expected {d} or {d + 1}")
    ssr = 0.0
    ws = Workspace()
    for rows in row_blocks(n, d):
        z = np.subtract(X[rows], x_offset, out=ws.take("x", rows.stop - rows.start, d))
        # e = (y − y_offset) − intercept − (X − x_offset) @ coef;  s = w e
        e = (np.asarray(y[rows], dtype=np.float64) - y_offset) - intercept - z @ coef
        s = e if sample_weight.shape[0] == 0 else sample_weight[rows] * e
        ssr += float(e @ s)
        g = groups[rows]
        if p > d:
            np.add.at(sums[:, 0], g, s)
        np.add.at(sums[:, p - d :], g, z * s[:, np.newaxis])
    return ssr


def score_gram(
    X: Array,
    y: Array,
    sample_weight: F64,
    coef: F64,
    intercept: float,
    x_offset: F64,
    y_offset: float,
    leverage: F64,
    mode: int,
    out: F64,
    n_threads: int,
) -> float:
    """The scores' Gram ``Σ v_i z_i z_iᵀ`` into ``out`` (``v = s²``, over
    ``1 − h`` or its square for modes 2 and 3), and Σ w e² (see the
    compiled twin)."""
    n, d = X.shape
    p = out.shape[0]
    if y.shape[0] != n:
        raise ValueError(f"y needs {n} entries, got {y.shape[0]}")
    if sample_weight.shape[0] not in (0, n):
        raise ValueError(
            f"sample_weight has {sample_weight.shape[0]} entries; expected 0 or {n}"
        )
    if p not in (d, d + 1) or out.shape != (p, p):
        raise ValueError(f"out has shape {out.shape}; expected {d} or {d + 1} square")
    if coef.shape[0] != d or x_offset.shape[0] != d:
        raise ValueError(f"coef and x_offset need {d} entries")
    if mode not in (0, 2, 3):
        raise ValueError(f"mode must be 0, 2 or 3, got {mode}")
    if mode and leverage.shape != (p, p):
        raise ValueError(f"leverage must be {p} x {p}")
    out[:] = 0.0
    ssr = 0.0
    ws = Workspace()
    for rows in row_blocks(n, p):
        nb = rows.stop - rows.start
        Z = ws.take("z", nb, p)
        if p > d:
            Z[:, 0] = 1.0
        # Z = [1, X − x_offset];  e = (y − y_offset) − intercept − (X − x_offset) @ coef
        np.subtract(X[rows], x_offset, out=Z[:, p - d :])
        e = (np.asarray(y[rows], dtype=np.float64) - y_offset) - intercept
        e -= Z[:, p - d :] @ coef
        s = e if sample_weight.shape[0] == 0 else sample_weight[rows] * e
        ssr += float(e @ s)
        if mode:
            # h = w · diag(Z @ leverage @ Z.T)
            h = np.einsum("ij,ij->i", Z @ leverage, Z)
            if sample_weight.shape[0]:
                h *= sample_weight[rows]
            s = s / (np.sqrt(1.0 - h) if mode == 2 else 1.0 - h)
        # out += Z.T @ (s² Z), as one symmetric product
        R = np.multiply(Z, s[:, np.newaxis], out=ws.take("r", nb, p))
        out += R.T @ R
    return ssr
