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


def _row_blocks(n: int, d: int, elements: int = _BLOCK_ELEMENTS) -> Iterator[slice]:
    step = max(1, elements // d)
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

    Blocks of rows are reduced by BLAS and merged with Chan's update. This is
    also the path the estimator takes for many features, where the pass is
    compute-bound (d² products a row). Each block first tries the raw products
    ``Xbᵀ Xb``, ``Xbᵀ yb`` on the input itself (no copy), centred afterwards;
    if centring cancels more than ``_MAX_CANCELLATION`` of a diagonal entry
    (data far from zero relative to their spread), or ``X`` is float32 (whose
    BLAS products would be float32), the block is copied, centred on its mean
    first, and multiplied then.
    """
    n, d = X.shape
    p = d + 1
    mean[:] = 0.0
    cov[:] = 0.0
    count = 0.0
    # Means are merged relative to the first row, like the compiled twin.
    shift = np.append(X[0].astype(np.float64), float(y[0]))
    raw_ok = X.dtype == np.float64
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for rows in _row_blocks(n, p, _BLAS_BLOCK_ELEMENTS):
            xb, yb = X[rows], y[rows]
            nb = float(xb.shape[0])
            block_stats = _raw_block_gram(xb, yb, nb) if raw_ok else None
            if block_stats is None:
                block_stats = _centred_block_gram(xb, yb)
            bmean, bcov = block_stats
            bmean -= shift
            total = count + nb
            delta = bmean - mean
            cov += bcov + np.multiply.outer(delta, delta) * (count * nb / total)
            mean += delta * (nb / total)
            count = total
    mean += shift


# Centring may cancel at most this fraction of a raw sum of squares (1e-2 loses
# at most 2 of its 16 digits); beyond, the block is centred before multiplying.
_MAX_CANCELLATION = 1e-2
# BLAS is most efficient on larger blocks than the streaming kernels use.
_BLAS_BLOCK_ELEMENTS = 1 << 20


def _raw_block_gram(xb: Array, yb: Array, nb: float) -> tuple[F64, F64] | None:
    """(mean, centred cross-products) of ``[xb | yb]`` from raw BLAS products,
    or None when centring would cancel too many digits."""
    d = xb.shape[1]
    yb = yb.astype(np.float64, copy=False)  # a float32 y: its block, exactly
    raw = np.empty((d + 1, d + 1))
    raw[:d, :d] = xb.T @ xb
    raw[:d, d] = raw[d, :d] = xb.T @ yb
    raw[d, d] = float(yb @ yb)
    # Column sums by BLAS (ones @ xb): NumPy's sum along axis 0 is slower here.
    ones = np.ones(xb.shape[0])
    bmean = np.append(ones @ xb, float(ones @ yb)) / nb
    centred = raw - np.multiply.outer(bmean, bmean) * nb
    if not np.all(np.diag(centred) >= _MAX_CANCELLATION * np.diag(raw)):
        return None
    return bmean, centred


def _centred_block_gram(xb: Array, yb: Array) -> tuple[F64, F64]:
    d = xb.shape[1]
    block = np.empty((xb.shape[0], d + 1))
    block[:, :d] = xb
    block[:, d] = yb
    bmean = block.mean(axis=0)
    block -= bmean
    return bmean, block.T @ block
