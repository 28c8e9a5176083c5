"""Sufficient statistics of the squared loss: gathered in one pass, merged.

For the squared loss the fit depends on the data only through ``n``, the
column means and the centred cross-products of ``[X | y]``:
:class:`SufficientStats`. :func:`sufficient_stats` gathers them in one pass
(the backend's ``gram`` kernel for few features, blocked BLAS for many
features, several targets or sample weights); :meth:`SufficientStats.merge`
combines the statistics of two sets of rows (chunks of ``partial_fit``,
Dask's chunks) by Chan's pairwise update, without the cancellation of raw
sums.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, replace
from types import ModuleType

import numpy as np

from . import _numpy_kernels
from ._backend import Engine, blas_threads
from ._numpy_blocks import Workspace
from ._typing import F64, FloatArray
from ._validation import check_finite

__all__ = [
    "OVERFLOW_MESSAGE",
    "SufficientStats",
    "raise_not_finite",
    "sufficient_stats",
    "weighted_stats",
]

OVERFLOW_MESSAGE = (
    "X or y holds values so large that their squares overflow "
    "float64; rescale them before fitting"
)


def raise_not_finite(X: FloatArray, y: FloatArray) -> None:
    """The statistics of (X, y) are not finite: say why (NaN, inf, overflow)."""
    check_finite(X, "X")
    check_finite(y, "y")
    raise ValueError(OVERFLOW_MESSAGE)


@dataclass(frozen=True)
class SufficientStats:
    """n, the means and the centred cross-products of ``[X | Y]``.

    ``Y`` holds ``n_targets`` columns (one, unless several targets are fitted
    at once). With sample weights, ``n`` is their sum and the means and
    cross-products are weighted: ``mean = wᵀZ / n``, ``cov = (Z − mean)ᵀ
    diag(w) (Z − mean)``; a weight of 2 is a row counted twice.
    """

    n: float  # the number of rows, or the sum of their weights
    mean: F64  # (d + k,): column means of X, then those of the k targets
    cov: F64  # (d + k, d + k): (Z − mean)ᵀ W (Z − mean) for Z = [X | Y]
    n_targets: int = 1
    # With weights: the rows of positive weight and Σ log w over them (what
    # weighted least squares' inference counts); None: unweighted, n rows.
    weighted_rows: tuple[float, float] | None = None

    @property
    def d(self) -> int:
        return int(self.mean.shape[0]) - self.n_targets

    @property
    def n_obs(self) -> float:
        """The number of observations: rows of positive weight."""
        return self.n if self.weighted_rows is None else self.weighted_rows[0]

    @property
    def sum_log_weights(self) -> float:
        """Σ log w over the rows of positive weight (0 when unweighted)."""
        return 0.0 if self.weighted_rows is None else self.weighted_rows[1]

    def target(self, j: int) -> SufficientStats:
        """The statistics of ``[X | Y[:, j]]`` alone."""
        if self.n_targets == 1:
            return self
        idx = np.r_[np.arange(self.d), self.d + j]
        return SufficientStats(
            self.n, self.mean[idx], self.cov[np.ix_(idx, idx)], 1, self.weighted_rows
        )

    @property
    def var(self) -> F64:
        """Population variances of the columns of ``[X | y]``."""
        return self.cov.diagonal() / self.n

    def finite(self) -> bool:
        """Whether every mean and cross-product is finite."""
        return bool(np.isfinite(self.cov).all() and np.isfinite(self.mean).all())

    @classmethod
    def empty(cls, d: int, n_targets: int = 1) -> SufficientStats:
        """The statistics of no rows: the identity of :meth:`merge`."""
        p = d + n_targets
        return cls(0, np.zeros(p), np.zeros((p, p)), n_targets)

    def merge(self, other: SufficientStats) -> SufficientStats:
        """The statistics of the rows of both, by Chan et al.'s pairwise update.

        With ``δ = mean_b − mean_a``: ``n = n_a + n_b``, ``mean = mean_a +
        δ·n_b/n`` and ``cov = cov_a + cov_b + δδᵀ·n_a·n_b/n``. Each side is
        centred on its own mean, so the cross-products never suffer the
        cancellation of raw sums of products; what merging adds is the rounding
        of each side's means (eps·|mean|), the rounding the data themselves
        carry. Merging is symmetric and associative up to rounding; a balanced
        tree of merges keeps the error growing with log(chunks).
        """
        if other.d != self.d:
            raise ValueError(
                f"cannot merge statistics of {self.d} and {other.d} features"
            )
        if other.n_targets != self.n_targets:
            raise ValueError(
                f"cannot merge statistics of {self.n_targets} and "
                f"{other.n_targets} targets"
            )
        rows = None
        if self.weighted_rows is not None or other.weighted_rows is not None:
            rows = (
                self.n_obs + other.n_obs,
                self.sum_log_weights + other.sum_log_weights,
            )
        if other.n == 0:
            return self if rows is None else replace(self, weighted_rows=rows)
        if self.n == 0:
            return other if rows is None else replace(other, weighted_rows=rows)
        n = self.n + other.n
        f = other.n / n
        # Overflow gives non-finite statistics, which the caller checks for.
        with np.errstate(over="ignore", invalid="ignore"):
            delta = other.mean - self.mean
            # (δ_j·δ_k)·c: exactly symmetric, as the compiled merge computes it.
            cov = self.cov + other.cov
            cov += np.multiply.outer(delta, delta) * (self.n * f)
            mean = self.mean + delta * f
        return SufficientStats(n, mean, cov, self.n_targets, rows)


def sufficient_stats(
    kernels: ModuleType,
    X: FloatArray,
    y: FloatArray,
    n_threads: int,
    sample_weight: F64 | None = None,
) -> SufficientStats:
    """One pass over the data: the statistics the squared loss depends on.

    Few features: the backend's ``gram`` kernel. Many features: the NumPy
    twin's blocked BLAS ``gram``; several targets (``y`` of shape (n, k)) or
    sample weights: :func:`weighted_stats`, also BLAS; whichever backend
    runs, with BLAS's threads bounded by ``n_threads`` (``blas_threads``).
    """
    n, d = X.shape
    weighted = y.ndim == 2 or sample_weight is not None
    if n == 0 and not weighted:
        return SufficientStats.empty(d)
    blas = weighted or d >= Engine.STATS_BLAS_MIN_FEATURES
    # BLAS's threads are bounded by n_threads too (see blas_threads).
    with blas_threads(n_threads, kernels, X.size) if blas else nullcontext():
        if weighted:
            return weighted_stats(X, y, sample_weight)
        mean = np.empty(d + 1)
        cov = np.empty((d + 1, d + 1))
        (_numpy_kernels if blas else kernels).gram(X, y, mean, cov, n_threads)
    return SufficientStats(n, mean, cov)


# Rows of [X | Y] per BLAS block: large enough for BLAS, small next to n.
_STATS_BLOCK_ELEMENTS = 1 << 20


def weighted_stats(
    X: FloatArray, Y: FloatArray, sample_weight: F64 | None
) -> SufficientStats:
    """Weighted statistics of ``[X | Y]`` (``Y`` one or several targets).

    Blocks of rows are copied into a float64 buffer less a shift (the first
    row of positive weight), centred on their own weighted mean and reduced
    by BLAS (``(√w ⊙ C)ᵀ (√w ⊙ C)``, exactly symmetric), then merged with
    Chan's update weighted by the blocks' weight sums: no cancellation however
    far the data sit from zero (the merged means are those of the shifted
    data, so their rounding is that of the spread, not of the distance from
    zero), no temporary beyond one block. Rows of zero weight contribute
    nothing, as if they were absent.
    """
    n, d = X.shape
    k = 1 if Y.ndim == 1 else int(Y.shape[1])
    p = d + k
    total = SufficientStats.empty(d, k)
    if n == 0:
        return total
    Y = Y.reshape(n, k)
    first = 0 if sample_weight is None else int(np.argmax(sample_weight > 0))
    shift = np.concatenate([X[first], Y[first]], dtype=np.float64)
    step = max(1, _STATS_BLOCK_ELEMENTS // p)
    ws = Workspace()
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for lo in range(0, n, step):
            hi = min(lo + step, n)
            w = None if sample_weight is None else sample_weight[lo:hi]
            wsum = float(hi - lo) if w is None else float(w.sum())
            if wsum == 0.0:
                continue
            # Z = [X | Y] − shift
            Z = _stats_block(ws, "block", hi - lo, p)
            np.subtract(X[lo:hi], shift[:d], out=Z[:, :d])
            np.subtract(Y[lo:hi], shift[d:], out=Z[:, d:])
            # mean = Zᵀ w / Σw ;  cov = (Z − mean)ᵀ diag(w) (Z − mean)
            bmean = ((ws.ones(hi - lo) if w is None else w) @ Z) / wsum
            Z -= bmean
            if w is not None:
                Z *= np.sqrt(w, out=ws.take("sqrt w", hi - lo))[:, np.newaxis]
            total = total.merge(SufficientStats(wsum, bmean, Z.T @ Z, k))
    rows = None
    if sample_weight is not None:
        positive = sample_weight[sample_weight > 0]
        rows = (float(positive.size), float(np.log(positive).sum()))
    if total.n == 0:
        return replace(total, weighted_rows=rows)
    return SufficientStats(total.n, total.mean + shift, total.cov, k, rows)


# Up to this many columns of [X | Y], a block is stored one row per column:
# NumPy's element-wise passes then run along rows of many values (weighted
# statistics of 1e6 x 1: 7 against 15 ms); wider, row by row is faster
# (1e6 x 10 level, 5e5 x 15 and 2e5 x 30: 18-25% faster).
_COLUMNS_LAYOUT_MAX = 8


def _stats_block(ws: Workspace, name: str, m: int, p: int) -> F64:
    """An uninitialised (m, p) float64 array in the buffer ``name``, stored
    one row per column up to :data:`_COLUMNS_LAYOUT_MAX` columns."""
    return ws.take(name, p, m).T if p <= _COLUMNS_LAYOUT_MAX else ws.take(name, m, p)
