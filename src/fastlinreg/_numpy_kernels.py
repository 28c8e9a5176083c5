"""NumPy twins of the compiled kernels in ``_kernels.pyx``.

Same names, same signatures, same results (to rounding). They are the fallback
when the extension is missing, and the specification the compiled kernels are
tested against. Rows are processed in blocks so that no temporary grows with
the number of rows, and float32 input is summed in float64 like the compiled
code does.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

__all__ = [
    "HAS_OPENMP",
    "gram",
    "loss_gradient",
    "max_threads",
    "moments",
    "n_chunks_for",
]

HAS_OPENMP = False

# Elements of X per block: temporaries stay around 2 MB whatever n is.
_BLOCK_ELEMENTS = 1 << 18

Array = npt.NDArray[np.floating]
F64 = npt.NDArray[np.float64]


def max_threads() -> int:
    """The NumPy kernels run on one thread."""
    return 1


def n_chunks_for(n: int) -> int:
    """The NumPy kernels do not split rows between threads: one chunk."""
    return 1


def _row_blocks(n: int, d: int) -> Iterator[slice]:
    step = max(1, _BLOCK_ELEMENTS // d)
    for lo in range(0, n, step):
        yield slice(lo, min(lo + step, n))


def loss_gradient(
    X: Array,
    y: Array,
    coef: F64,
    intercept: float,
    x_offset: F64,
    y_offset: float,
    grad_coef: F64,
    n_threads: int,
) -> tuple[float, float]:
    """Mean squared error and its gradient (see the compiled twin)."""
    n, d = X.shape
    centred = bool(np.any(x_offset))
    loss = 0.0
    grad_intercept = 0.0
    grad_coef[:] = 0.0
    for rows in _row_blocks(n, d):
        xb = X[rows]
        if centred or xb.dtype != np.float64:
            xb = np.subtract(xb, x_offset, dtype=np.float64)
        e = np.subtract(y[rows], y_offset, dtype=np.float64)
        e -= intercept
        e -= xb @ coef
        loss += float(e @ e)
        grad_intercept += float(e.sum())
        grad_coef += e @ xb
    grad_coef *= -2.0 / n
    return loss / n, -2.0 * grad_intercept / n


def moments(X: Array, y: Array, mean: F64, m2: F64, n_threads: int) -> None:
    """Column means and centred sums of squares of ``[X | y]`` (see the twin)."""
    n, d = X.shape
    mean[:] = 0.0
    m2[:] = 0.0
    # Non-finite input gives non-finite moments (the caller's signal), quietly.
    with np.errstate(invalid="ignore", over="ignore"):
        _moments_blocks(X, y, mean, m2, n, d)


def _moments_blocks(X: Array, y: Array, mean: F64, m2: F64, n: int, d: int) -> None:
    count = 0.0
    for rows in _row_blocks(n, d + 1):
        block = np.empty((rows.stop - rows.start, d + 1))
        block[:, :d] = X[rows]
        block[:, d] = y[rows]
        nb = float(block.shape[0])
        bmean = block.mean(axis=0)
        block -= bmean
        bm2 = np.einsum("ij,ij->j", block, block)
        # Chan et al.'s pairwise merge of (count, mean, m2) with the block's.
        total = count + nb
        delta = bmean - mean
        mean += delta * (nb / total)
        m2 += bm2 + delta * delta * (count * nb / total)
        count = total


def gram(X: Array, y: Array, mean: F64, cov: F64, n_threads: int) -> None:
    """Means and centred cross-products of ``[X | y]`` (see the compiled twin).

    Each block of rows is centred on its own mean and multiplied by BLAS
    (``Z.T @ Z``); blocks are merged with Chan's update. This is also the path
    the estimator takes for many features, where the pass is compute-bound.
    """
    n, d = X.shape
    p = d + 1
    mean[:] = 0.0
    cov[:] = 0.0
    count = 0.0
    # Relative to the first row, like the compiled twin.
    shift = np.append(X[0].astype(np.float64), float(y[0]))
    with np.errstate(invalid="ignore", over="ignore"):
        for rows in _row_blocks(n, p):
            block = np.empty((rows.stop - rows.start, p))
            block[:, :d] = X[rows]
            block[:, d] = y[rows]
            block -= shift
            nb = float(block.shape[0])
            bmean = block.mean(axis=0)
            block -= bmean
            total = count + nb
            delta = bmean - mean
            cov += block.T @ block + np.multiply.outer(delta, delta) * (
                count * nb / total
            )
            mean += delta * (nb / total)
            count = total
    mean += shift
