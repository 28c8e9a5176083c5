"""The squared-error objective as the solver sees it: ``theta -> (f, grad)``.

Two ways to evaluate the same function of the same coordinates:

``StreamingMSE``
    one pass of the fused kernel over ``X`` and ``y`` per evaluation: O(n·d).
``GramMSE``
    from the sufficient statistics (n, the means, the centred cross-products
    of ``[X | y]``), gathered in one pass beforehand: O(d²) per evaluation.

Coordinates (``Coordinates``): ``theta = (v, c)``, where ``v`` are the
coefficients of the standardised features ``z = (x − offset) / scale`` and
``c`` the intercept at ``x = offset``, relative to ``y_offset`` (the mean of
y: so ``c`` is small and keeps digits a double of the size of y would not).
The data are never standardised: the kernels receive ``coef = v / scale`` and
``offset``, and the chain rule maps the gradient back
(``∂f/∂v = ∂f/∂coef / scale``). With ``offset`` the column means the Hessian
is block diagonal, twice the correlation matrix of ``X`` and 2 for ``c``, so
one step size suits every problem however its columns are scaled. With
``offset = 0`` and ``scale = 1`` theta is the raw ``(coef, intercept)`` (the
tutorial's fixed-step descent).
"""

from __future__ import annotations

import math
from contextlib import nullcontext
from dataclasses import dataclass
from types import ModuleType

import numpy as np
import numpy.typing as npt

from . import _numpy_kernels
from ._backend import blas_threads
from ._validation import FloatArray

__all__ = [
    "STATS_BLAS_MIN_FEATURES",
    "AccurateMSE",
    "Coordinates",
    "GramMSE",
    "StreamingMSE",
    "SufficientStats",
    "sufficient_stats",
    "weighted_stats",
]

F64 = npt.NDArray[np.float64]

# From this many features on, the statistics pass (d² products a row) is
# BLAS's job (NumPy's matmul on centred blocks) rather than the compiled
# ``gram``, which sums its products in register tiles: at 48 features it still
# beat blocked BLAS on one thread (134 ms against 160 ms on 2 cores, 3e5 rows);
# at 64 it needs both threads.
STATS_BLAS_MIN_FEATURES = 64


@dataclass(frozen=True)
class Coordinates:
    """The map between the solver's ``theta`` and the model's coefficients."""

    offset: F64
    scale: F64
    fit_intercept: bool
    y_offset: float = 0.0

    @property
    def d(self) -> int:
        return int(self.offset.shape[0])

    def split(self, theta: F64) -> tuple[F64, float]:
        """``theta`` -> (coef, intercept at x = offset, relative to y_offset)."""
        d = self.d
        return theta[:d] / self.scale, float(theta[d]) if self.fit_intercept else 0.0

    def gradient(self, grad_coef: F64, grad_c: float) -> F64:
        """The gradient in ``theta`` from the gradient in (coef, c)."""
        if not self.fit_intercept:
            return grad_coef / self.scale
        g = np.empty(self.d + 1)
        np.divide(grad_coef, self.scale, out=g[:-1])
        g[-1] = grad_c
        return g

    def to_theta(self, coef: F64, intercept: float) -> F64:
        if not self.fit_intercept:
            return coef * self.scale
        theta = np.empty(self.d + 1)
        np.multiply(coef, self.scale, out=theta[:-1])
        theta[-1] = intercept + float(coef @ self.offset) - self.y_offset
        return theta

    def to_model(self, theta: F64) -> tuple[F64, float]:
        coef, c = self.split(theta)
        if not self.fit_intercept:
            return coef, 0.0
        return coef, (self.y_offset + c) - float(coef @ self.offset)


class StreamingMSE:
    """Mean squared error by one fused kernel pass over the data per call."""

    def __init__(
        self,
        kernels: ModuleType,
        X: FloatArray,
        y: FloatArray,
        coords: Coordinates,
        n_threads: int,
    ) -> None:
        self.kernels = kernels
        self.X, self.y = X, y
        self.coords = coords
        self.n_threads = n_threads
        self._grad = np.empty(coords.d)

    def __call__(self, theta: F64) -> tuple[float, F64]:
        coef, c = self.coords.split(theta)
        coords = self.coords
        loss, grad_c = self.kernels.loss_gradient(
            self.X,
            self.y,
            coef,
            c,
            coords.offset,
            coords.y_offset,
            self._grad,
            self.n_threads,
        )
        return float(loss), self.coords.gradient(self._grad, grad_c)


# Error-free transformations (Dekker, Knuth): a + b and a·b as an unevaluated
# sum hi + lo of two doubles, exactly, elementwise.
_SPLITTER = 134217729.0  # 2**27 + 1


def _two_sum(a: F64, b: F64) -> tuple[F64, F64]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a: F64) -> tuple[F64, F64]:
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: F64, b: F64) -> tuple[F64, F64]:
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


class AccurateMSE:
    """The mean squared error with a gradient accurate to the last bit.

    For iterative refinement of ill-conditioned fits (the statistics'
    solution carries the rounding of forming ``X'X``; a correction can only
    be as good as the gradient it is computed from). The residuals
    ``e = (y − y_offset) − c − (x − offset)·coef`` are formed in double-double
    arithmetic (error-free sums and products), and each gradient component
    ``Σ (x_j − offset_j)·e`` is summed exactly (``math.fsum`` of the error-free
    products). NumPy only, one row block at a time: some twenty times the
    work of a kernel pass, which is why the estimator uses it on small data
    only (the NIST problems, say), where the digits matter most.
    """

    def __init__(self, X: FloatArray, y: FloatArray, coords: Coordinates) -> None:
        self.X, self.y = X, y
        self.coords = coords

    def __call__(self, theta: F64) -> tuple[float, F64]:
        coords = self.coords
        coef, c = coords.split(theta)
        n, d = self.X.shape
        parts: list[list[float]] = [[] for _ in range(d + 1)]
        loss = 0.0
        for lo in range(0, n, _ACCURATE_BLOCK):
            xb = np.asarray(self.X[lo : lo + _ACCURATE_BLOCK], dtype=np.float64)
            yb = np.asarray(self.y[lo : lo + _ACCURATE_BLOCK], dtype=np.float64)
            zh, zl = _two_sum(xb, -coords.offset)  # x − offset, exactly
            # e = (y − y_offset) − c − Σ_j z_j·coef_j, as eh + el
            eh, el = _two_sum(yb, np.full_like(yb, -coords.y_offset))
            eh, err = _two_sum(eh, np.full_like(yb, -c))
            el += err
            for j in range(d):
                p, perr = _two_prod(zh[:, j], np.full_like(yb, coef[j]))
                eh, err = _two_sum(eh, -p)
                el += err - perr - zl[:, j] * coef[j]
            eh, el = _two_sum(eh, el)
            loss += float(eh @ eh)
            # Σ z_j·e: exact products of the leading parts, the rest plainly
            for j in range(d):
                p, perr = _two_prod(zh[:, j], eh)
                parts[j] += [*p, *(perr + zh[:, j] * el + zl[:, j] * eh)]
            parts[d] += [*eh, *el]
        sums = np.array([math.fsum(v) for v in parts])
        grad_coef = (-2.0 / n) * sums[:d]
        return loss / n, coords.gradient(grad_coef, -2.0 * sums[d] / n)


# Rows per block of AccurateMSE (its temporaries: a few blocks of X).
_ACCURATE_BLOCK = 1 << 14


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

    @property
    def d(self) -> int:
        return int(self.mean.shape[0]) - self.n_targets

    def target(self, j: int) -> SufficientStats:
        """The statistics of ``[X | Y[:, j]]`` alone."""
        if self.n_targets == 1:
            return self
        idx = np.r_[np.arange(self.d), self.d + j]
        return SufficientStats(self.n, self.mean[idx], self.cov[np.ix_(idx, idx)])

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
        if other.n == 0:
            return self
        if self.n == 0:
            return other
        n = self.n + other.n
        f = other.n / n
        # Overflow gives non-finite statistics, which the caller checks for.
        with np.errstate(over="ignore", invalid="ignore"):
            delta = other.mean - self.mean
            # (δ_j·δ_k)·c: exactly symmetric, as the compiled merge computes it.
            cov = self.cov + other.cov
            cov += np.multiply.outer(delta, delta) * (self.n * f)
            mean = self.mean + delta * f
        return SufficientStats(n, mean, cov, self.n_targets)


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
    blas = weighted or d >= STATS_BLAS_MIN_FEATURES
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
    ws = _numpy_kernels.Workspace()
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
    if total.n == 0:
        return total
    return SufficientStats(total.n, total.mean + shift, total.cov, k)


# Up to this many columns of [X | Y], a block is stored one row per column:
# NumPy's element-wise passes then run along rows of many values (weighted
# statistics of 1e6 x 1: 7 against 15 ms); wider, row by row is faster
# (1e6 x 10 level, 5e5 x 15 and 2e5 x 30: 18-25% faster).
_COLUMNS_LAYOUT_MAX = 8


def _stats_block(ws: _numpy_kernels.Workspace, name: str, m: int, p: int) -> F64:
    """An uninitialised (m, p) float64 array in the buffer ``name``, stored
    one row per column up to :data:`_COLUMNS_LAYOUT_MAX` columns."""
    return ws.take(name, p, m).T if p <= _COLUMNS_LAYOUT_MAX else ws.take(name, m, p)


class GramMSE:
    """Mean squared error from sufficient statistics: O(d²) per call.

    The statistics are mapped once into the solver's coordinates: with
    ``z = (x − offset) / scale`` (so ``theta = (v, c)`` are the coefficients
    of ``z`` and the intercept), ``A = cov(z)``, ``b = cov(z, y)``,
    ``s_yy = var(y)`` and ``δ = mean(z)`` (zero when the offset is the mean).
    Then ``mean(e²) = s_yy − 2 v·b + v·A v + r²``, where ``r = (mean_y −
    y_offset) − c − δ·v`` is the mean residual, and the gradient is
    ``2(A v − b) − 2rδ`` for ``v`` and ``−2r`` for ``c``.
    """

    def __init__(self, stats: SufficientStats, coords: Coordinates) -> None:
        d = stats.d
        self.n = stats.n
        self.coords = coords
        # cov([z | y]) in one division: the columns of X scaled, y's not.
        s = np.ones(d + 1)
        s[:d] = coords.scale
        cov = stats.cov / (float(stats.n) * np.multiply.outer(s, s))
        self.zz = cov[:d, :d]
        self.zy = cov[:d, d]
        self.yy = float(cov[d, d])
        self.delta = (stats.mean[:d] - coords.offset) / coords.scale
        self.centred = not self.delta.any()
        self.mean_y = float(stats.mean[d] - coords.y_offset)
        self._hessian: F64 | None = None

    def __call__(self, theta: F64) -> tuple[float, F64]:
        d = self.zy.shape[0]
        fit_intercept = self.coords.fit_intercept
        v = theta[:d]
        av = self.zz @ v
        r = self.mean_y - (float(theta[d]) if fit_intercept else 0.0)
        if not self.centred:
            r -= float(self.delta @ v)
        spread = self.yy - 2.0 * float(v @ self.zy) + float(v @ av)
        loss = max(spread, 0.0) + r * r  # rounding can push the spread below 0
        g = np.empty(d + 1 if fit_intercept else d)
        gv = g[:d]
        np.subtract(av, self.zy, out=gv)
        gv *= 2.0
        if not self.centred:
            gv -= (2.0 * r) * self.delta
        if fit_intercept:
            g[d] = -2.0 * r
        return loss, g

    def hessp(self, v: F64) -> F64:
        """The Hessian in theta times ``v``."""
        return self.hessian() @ v

    def curvature(self) -> tuple[float, float]:
        """Largest and smallest eigenvalues of the Hessian in theta (L, μ)."""
        if self.coords.fit_intercept and self.centred:
            # Block diagonal: the intercept's block is exactly 2.
            h_zz = 2.0 * self.zz
            eig = np.linalg.eigvalsh(h_zz) if h_zz.shape[0] > 1 else h_zz[0]
            return max(float(eig[-1]), 2.0), min(float(eig[0]), 2.0)
        eig = np.linalg.eigvalsh(self.hessian())
        return float(eig[-1]), float(eig[0])

    def hessian(self) -> F64:
        """The (constant) Hessian in theta; computed once, read-only."""
        if self._hessian is None:
            d = self.zy.shape[0]
            h_zz = (
                self.zz if self.centred else self.zz + np.outer(self.delta, self.delta)
            )
            if not self.coords.fit_intercept:
                h = 2.0 * h_zz
            else:
                h = np.zeros((d + 1, d + 1))
                np.multiply(h_zz, 2.0, out=h[:d, :d])
                h[:d, d] = h[d, :d] = 2.0 * self.delta
                h[d, d] = 2.0
            h.flags.writeable = False
            self._hessian = h
        return self._hessian
