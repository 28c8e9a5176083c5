"""NumPy twins of the compiled kernels of the ``_kernels`` package.

Same names, same signatures, same results (to rounding). They are the fallback
when the extension is missing, and the specification the compiled kernels are
tested against. Rows are processed in blocks so that no temporary grows with
the number of rows, and float32 input is summed in float64 like the compiled
code does.

The twins of ``_scores`` live in :mod:`fastlinreg._numpy_scores` and are
imported here, with the blocks and scratch all twins share
(:mod:`fastlinreg._numpy_blocks`). This module imports from the package only
what sits below it: the shared codes, the type aliases and the solver loops
(the twin of ``gram_cg`` is the solvers' own conjugate gradients on
:class:`GramObjective`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import numpy.typing as npt

from ._codes import LOSS_CODES
from ._newton import min_norm_subgradient
from ._numpy_blocks import Array, Workspace, row_blocks
from ._numpy_scores import cluster_scores, score_gram
from ._solver import StopRule, conjugate_gradient
from ._typing import F64

__all__ = [
    "HAS_OPENMP",
    "GramObjective",
    "cluster_scores",
    "gram",
    "gram_cd",
    "gram_cg",
    "loss_gradient",
    "max_threads",
    "moments",
    "n_chunks_for",
    "robust_loss_gradient",
    "score_gram",
]

HAS_OPENMP = False


def max_threads() -> int:
    """The NumPy kernels run on one thread."""
    return 1


def n_chunks_for(n: int) -> int:
    """The NumPy kernels do not split rows between threads: one chunk."""
    return 1


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
    ws = Workspace()
    for rows in row_blocks(n, d):
        xb = X[rows]
        nb = xb.shape[0]
        if centred or xb.dtype != np.float64:
            xb = np.subtract(xb, x_offset, out=ws.take("x", nb, d), dtype=np.float64)
        e = np.subtract(y[rows], y_offset, out=ws.take("e", nb), dtype=np.float64)
        e -= intercept
        e -= np.matmul(xb, coef, out=ws.take("xw", nb))
        loss += float(e @ e)
        grad_intercept += float(e.sum())
        grad_coef += e @ xb
    grad_coef *= -2.0 / n
    return loss / n, -2.0 * grad_intercept / n


def gram_cd(
    G: F64,
    g: F64,
    beta: F64,
    l1: float,
    l2: float,
    tol: float,
    max_sweeps: int,
    l1_prev: float = 0.0,
    l1_factor: F64 | None = None,
    lower: F64 | None = None,
    upper: F64 | None = None,
) -> tuple[int, float]:
    """Coordinate descent on ``½ βᵀGβ − gᵀβ + l1 Σ f_j|β_j| + ½ l2‖β‖²``
    (``f = l1_factor``, default ones) within ``lower ≤ β ≤ upper`` from
    ``beta`` (overwritten), screened by the strong rule when ``l1_prev >
    l1`` and unbounded; ``(sweeps, violation)`` (see the compiled twin)."""
    d = G.shape[0]
    if G.shape != (d, d) or g.shape[0] != d or beta.shape[0] != d:
        raise ValueError(f"G must be {d} x {d}, g and beta need {d} entries")
    for name, a in (("l1_factor", l1_factor), ("lower", lower), ("upper", upper)):
        if a is not None and a.shape[0] != d:
            raise ValueError(f"{name} needs {d} entries, got {a.shape[0]}")
    lam = np.full(d, float(l1)) if l1_factor is None else l1 * l1_factor
    lo = np.full(d, -np.inf) if lower is None else lower
    hi = np.full(d, np.inf) if upper is None else upper
    r = g - G @ beta
    keep = np.ones(d, dtype=bool)
    if l1_prev > l1 and lower is None and upper is None:
        # the strong rule: drop j at zero with |r_j| < 2 l1 − l1_prev
        prev = l1_prev * (np.ones(d) if l1_factor is None else l1_factor)
        keep = (beta != 0) | (np.abs(r) >= 2.0 * lam - prev)
    box = (lam, l2, lo, hi)
    sweeps = refreshed = 0
    while True:
        worst = _cd_violation(r, beta, box, keep)
        while worst > tol and sweeps < max_sweeps:
            for j in np.flatnonzero(keep):
                denom = G[j, j] + l2
                if denom <= 0.0:
                    continue
                old = beta[j]
                # β_j = clip(S(r_j + G_jj β_j, l1_j) / (G_jj + l2), bounds)
                v = r[j] + G[j, j] * old
                new = math.copysign(max(abs(v) - lam[j], 0.0), v) / denom
                new = min(max(new, lo[j]), hi[j])
                if new != old:
                    beta[j] = new
                    r -= G[j] * (new - old)
            sweeps += 1
            worst = _cd_violation(r, beta, box, keep)
        # the KKT check of the screened: violators join the sweeps
        joined = ~keep & (np.abs(r) - lam > tol)
        if joined.any() and sweeps < max_sweeps:
            keep |= joined
            continue
        # the updated residual drifts by rounding: judge a fresh one
        r = g - G @ beta
        keep[:] = True
        worst = _cd_violation(r, beta, box, keep)
        refreshed += 1
        if worst <= tol or sweeps >= max_sweeps or refreshed == 3:
            return sweeps, worst


def _cd_violation(
    r: F64, beta: F64, box: tuple[F64, float, F64, F64], keep: npt.NDArray[np.bool_]
) -> float:
    """The largest entry of the minimum-norm subgradient at ``beta``,
    projected on the bounds, over the coordinates in ``keep``."""
    lam, l2, lo, hi = box
    sub = min_norm_subgradient(beta, l2 * beta - r, lam, (lo, hi))
    return float(np.abs(sub[keep]).max(initial=0.0))


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
    ws = Workspace()
    for rows in row_blocks(n, d + 1):
        block = ws.take("block", rows.stop - rows.start, d + 1)
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
    ``Xbᵀ Xb``, ``Xbᵀ yb`` on the input itself (no copy; a float32 block is
    widened to float64 first, since BLAS's float32 products would round to
    float32), centred afterwards; if centring cancels more than
    ``_MAX_CANCELLATION`` of a diagonal entry (data far from zero relative to
    their spread), the same on a copy less the shift (the first row, so
    usually near the block's values), and failing that a copy centred on its
    mean before the product.
    """
    n, d = X.shape
    p = d + 1
    mean[:] = 0.0
    cov[:] = 0.0
    count = 0.0
    # Means are merged relative to the first row, like the compiled twin.
    shift = np.append(X[0].astype(np.float64), float(y[0]))
    ws = Workspace()
    # Once a block is too far from zero for its raw products, the next ones
    # (most likely as far) go straight to the copy less the shift: not the
    # same BLAS product twice a block.
    far = False
    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        for rows in row_blocks(n, p, _blas_block_rows(p) * p):
            xb, yb = X[rows], y[rows]
            raw = None if far else _raw_block_gram(ws.widen("x", xb), yb, shift, ws)
            far = raw is None
            if raw is not None:
                pieces: Iterable[tuple[F64, F64, float]] = [raw]
            else:  # copied less the shift, in pieces of bounded size
                subs = row_blocks(xb.shape[0], p, _CENTRED_BLOCK_ELEMENTS)
                pieces = (_shifted_block_gram(xb[s], yb[s], shift, ws) for s in subs)
            for bmean, bcov, nb in pieces:
                total = count + nb
                delta = bmean - mean
                cov += bcov + np.multiply.outer(delta, delta) * (count * nb / total)
                mean += delta * (nb / total)
                count = total
    mean += shift


# Centring may cancel at most this fraction of a raw sum of squares (1e-2 loses
# at most 2 of its 16 digits); beyond, the block is centred before multiplying.
_MAX_CANCELLATION = 1e-2
# Rows per BLAS block (measured at 64 to 1000 columns). Up to 128 columns of
# [X | y], blocks of about 4 MB: the passes after Xbᵀ Xb (Xbᵀ yb, the column
# sums) find the block in cache, 3-6% faster than 8 MB blocks or one product
# over all of X. Wider, Xbᵀ Xb is the pass and BLAS wants many rows a call:
# 65536 rows is level with one product over all of X (blocks of 4 MB were
# 10-35% slower at 300 and 1000 columns). Raw blocks are views, not copies.
_BLAS_BLOCK_ELEMENTS = 1 << 19
_BLAS_WIDE_COLUMNS = 128
_BLAS_WIDE_ROWS = 1 << 16
# A block that is copied to be centred holds at most this many elements.
_CENTRED_BLOCK_ELEMENTS = 1 << 20


def _blas_block_rows(p: int) -> int:
    """Rows per BLAS block of the p columns of [X | y]."""
    if p <= _BLAS_WIDE_COLUMNS:
        return max(1, _BLAS_BLOCK_ELEMENTS // p)
    return _BLAS_WIDE_ROWS


def _raw_block_gram(
    xb: Array, yb: Array, shift: F64, ws: Workspace
) -> tuple[F64, F64, float] | None:
    """(mean − shift, centred cross-products, rows) of ``[xb | yb]`` from raw
    BLAS products, or None when centring would cancel too many digits."""
    d = xb.shape[1]
    nb = float(xb.shape[0])
    yb = ws.widen("y", yb)  # a float32 y: its block, exactly
    raw = np.empty((d + 1, d + 1))
    raw[:d, :d] = xb.T @ xb
    raw[:d, d] = raw[d, :d] = xb.T @ yb
    raw[d, d] = float(yb @ yb)
    # Column sums by BLAS (ones @ xb): NumPy's sum along axis 0 is slower here.
    ones = ws.ones(xb.shape[0])
    bmean = np.append(ones @ xb, float(ones @ yb)) / nb
    centred = raw - np.multiply.outer(bmean, bmean) * nb
    if not np.all(np.diag(centred) >= _MAX_CANCELLATION * np.diag(raw)):
        return None
    return bmean - shift, centred, nb


def _shifted_block_gram(
    xb: Array, yb: Array, shift: F64, ws: Workspace
) -> tuple[F64, F64, float]:
    """(mean − shift, centred cross-products, rows) of ``[xb | yb]`` from a
    copy less ``shift``: raw products of the copy where centring them cancels
    little (one pass to copy, then BLAS: 2e5 × 100 at 1e6 from zero took twice
    the time of data near zero when centred first), else centred first."""
    d = xb.shape[1]
    # float32 input is widened by the subtraction itself (exactly, then one
    # rounding), like the float64 it would otherwise be copied to first.
    xs = np.subtract(xb, shift[:d], out=ws.take("shifted x", *xb.shape))
    ys = np.subtract(yb, shift[d], out=ws.take("shifted y", yb.shape[0]))
    raw = _raw_block_gram(xs, ys, np.zeros(d + 1), ws)
    return raw if raw is not None else _centred_block_gram(xs, ys, ws)


def _centred_block_gram(xs: F64, ys: F64, ws: Workspace) -> tuple[F64, F64, float]:
    """(mean, centred cross-products, rows) of ``[xs | ys]``, data already
    less the shift (a row of the data, so that data far from zero keep the
    digits of their spread in the mean), from a copy centred before the
    product."""
    d = xs.shape[1]
    # One row per column of [xs | ys]: NumPy's element-wise passes and means
    # then run along rows of nb values, not of d + 1 (with one feature, 4x
    # faster than the (nb, d + 1) copy; level from about 64 features).
    block = ws.take("centred", d + 1, xs.shape[0])
    block[:d] = xs.T
    block[d] = ys
    bmean = block.mean(axis=1)
    block -= bmean[:, np.newaxis]
    return bmean, block @ block.T, float(xs.shape[0])


# Loss codes of robust_loss_gradient (the table the compiled twin reads too).
_SQUARED = LOSS_CODES["squared_error"]
_ABSOLUTE = LOSS_CODES["absolute_error"]
_HUBER = LOSS_CODES["huber"]
_QUANTILE = LOSS_CODES["quantile"]
_EPS_INSENSITIVE = LOSS_CODES["epsilon_insensitive"]


def robust_loss_gradient(
    X: Array,
    y: Array,
    sample_weight: F64,
    coef: F64,
    intercept: float,
    x_offset: F64,
    y_offset: float,
    loss: int,
    epsilon: float,
    quantile: float,
    smoothing: float,
    grad_coef: F64,
    hessian: F64,
    n_threads: int,
) -> tuple[float, float, float]:
    """Weighted sum of a robust loss, its gradient and, optionally, its Hessian.

    With residuals ``r = (y - y_offset) - intercept - (X - x_offset) @ coef``,
    weights ``w`` and ``z_i = [X_i - x_offset, 1]``, the sums are
    ``value = Σ w ℓ_h(r)``, ``exact_value = Σ w ℓ(r)``, ``grad_coef =
    -(X - x_offset).T @ (w ψ(r))``, ``grad_intercept = -Σ w ψ(r)`` and
    ``hessian = Σ w ℓ_h''(r) z zᵀ``, where ``ψ = ℓ_h'``. ``ℓ_h`` is ``ℓ`` with
    its kinks replaced by a quadratic over a band of half-width ``smoothing``
    (losses 1, 3, 4; see :func:`_robust_terms`).

    Parameters
    ----------
    X : (n, d) float32 or float64, C-contiguous
    y : (n,) float32 or float64
    sample_weight : (n,) float64, or length 0 for all weights 1
    coef, x_offset : (d,) float64
    intercept, y_offset : float
    loss : int
        A code of ``_codes.LOSS_CODES``: 0 squared, 1 absolute, 2 Huber, 3
        quantile (pinball), 4 epsilon-insensitive.
    epsilon : float
        Huber threshold / epsilon-insensitive width (losses 2 and 4).
    quantile : float
        Pinball level in (0, 1) (loss 3).
    smoothing : float
        Half-width ``h >= 0`` of the smoothing band of losses 1, 3 and 4
        (0: none). Ignored by losses 0 and 2.
    grad_coef : (d,) float64
        Output: the gradient with respect to ``coef``.
    hessian : (d + 1, d + 1) float64, or shape (0, 0) to skip it
        Output: the Hessian in ``(coef, intercept)``, both triangles.
    n_threads : int
        Ignored: the NumPy kernels run on one thread.

    Returns
    -------
    value, grad_intercept, exact_value : float
        ``exact_value`` is the unsmoothed ``Σ w ℓ(r)``.

    Examples
    --------
    Absolute loss of the residuals ``[1, 3]``:

    >>> X, y = np.array([[0.0], [1.0]]), np.array([1.0, 3.0])
    >>> grad = np.empty(1)
    >>> robust_loss_gradient(X, y, np.empty(0), np.zeros(1), 0.0, np.zeros(1),
    ...                      0.0, 1, 0.0, 0.5, 0.0, grad, np.empty((0, 0)), 1)
    (4.0, -2.0, 4.0)
    >>> grad
    array([-1.])
    """
    n, d = X.shape
    _check_robust_args(
        loss, epsilon, quantile, smoothing, n, d, sample_weight.shape[0], hessian.shape
    )
    want_hessian = hessian.shape != (0, 0)
    weighted = sample_weight.shape[0] > 0
    centred = bool(np.any(x_offset))
    value = exact_value = psi_sum = 0.0
    grad_coef[:] = 0.0
    if want_hessian:
        hessian[:] = 0.0
    for rows in row_blocks(n, d):
        xb = X[rows]
        if centred or xb.dtype != np.float64:
            xb = np.subtract(xb, x_offset, dtype=np.float64)
        r = np.subtract(y[rows], y_offset, dtype=np.float64)
        r -= intercept
        r -= xb @ coef
        smooth, exact, psi, curv = _robust_terms(r, loss, epsilon, quantile, smoothing)
        # No weights: weights 1, the same arithmetic.
        w = sample_weight[rows] if weighted else np.ones(r.shape[0])
        value += float(w @ smooth)
        exact_value += float(w @ exact)
        w_psi = w * psi
        psi_sum += float(w_psi.sum())
        grad_coef -= w_psi @ xb
        if want_hessian:
            # Only the rows with curvature: for the smoothed losses, the band.
            band = curv != 0.0
            c, zb = (w * curv)[band], xb[band]
            hessian[:d, :d] += zb.T @ (c[:, None] * zb)
            hessian[:d, d] += c @ zb
            hessian[d, d] += float(c.sum())
    if want_hessian:
        lower = np.tril_indices(d + 1, -1)
        hessian[lower] = hessian.T[lower]
    return value, -psi_sum, exact_value


def _robust_terms(
    r: F64, loss: int, epsilon: float, q: float, h: float
) -> tuple[F64, F64, F64, F64]:
    """Per residual: ``(ℓ_h(r), ℓ(r), ψ(r) = ℓ_h'(r), ℓ_h''(r))``.

    ``h > 0`` replaces the kinks of the absolute, pinball and
    epsilon-insensitive losses by a quadratic over a band of half-width ``h``
    (edges included), which keeps ``ℓ_h`` and ``ψ`` continuous:
    ``ℓ ≤ ℓ_h ≤ ℓ + h/2`` (absolute), ``ℓ + h/4`` (pinball), ``ℓ + h/4`` per
    hinge (epsilon-insensitive: ``max(0, r − ε) + max(0, −r − ε)``, two
    kinks, whose bands may overlap when ``h > ε``). Only the bands have
    curvature. ``sign(0) = 0``.

    ``np.where`` evaluates both branches, so the band's formulas are written
    for ``t``, the residual clipped to the band: ``t = r`` where they are used,
    and they stay finite elsewhere however small ``h`` is. Likewise Huber's
    loss with a huge ``epsilon`` (least squares) does not overflow.
    """
    a = np.abs(r)
    s = np.sign(r)
    none = np.zeros_like(r)
    if loss == _SQUARED:
        sq = r * r
        return sq, sq, 2.0 * r, np.full_like(r, 2.0)
    if loss == _HUBER:
        band = a <= epsilon
        t = np.clip(r, -epsilon, epsilon)
        # ½r² in the band, ε|r| − ½ε² outside; ψ = r in the band, ε sign(r) outside
        huber = 0.5 * t * t + epsilon * (a - np.abs(t))
        return huber, huber, t, band.astype(np.float64)
    if loss == _ABSOLUTE:
        if h == 0.0:
            return a, a, s, none
        band = a <= h
        t = np.clip(r, -h, h)
        smooth = np.where(band, t * t / (2.0 * h) + h / 2.0, a)
        psi = np.where(band, t / h, s)
        return smooth, a, psi, np.where(band, 1.0 / h, 0.0)
    if loss == _QUANTILE:
        pinball = np.where(r >= 0.0, q * r, (q - 1.0) * r)
        if h == 0.0:
            # q above, q - 1 below, their mean q - 1/2 at r = 0
            return pinball, pinball, q - 0.5 + 0.5 * s, none
        band = a <= h
        t = np.clip(r, -h, h)
        smooth = np.where(band, t * t / (4.0 * h) + (q - 0.5) * t + h / 4.0, pinball)
        psi = np.where(band, t / (2.0 * h) + (q - 0.5), np.where(r > 0.0, q, q - 1.0))
        return smooth, pinball, psi, np.where(band, 1.0 / (2.0 * h), 0.0)
    # epsilon-insensitive
    u = a - epsilon
    hinge = np.maximum(u, 0.0)
    if h == 0.0:
        return hinge, hinge, np.where(u > 0.0, s, 0.0), none
    # Two hinges, max(0, r − ε) and max(0, −r − ε), each smoothed in its band;
    # the bands may overlap (h > ε) and the sum stays smooth.
    smooth, psi, curv = np.zeros_like(r), np.zeros_like(r), np.zeros_like(r)
    for sign in (1.0, -1.0):
        v = sign * r - epsilon
        t = np.clip(v, -h, h)
        smooth += (t + h) ** 2 / (4.0 * h) + np.maximum(v - h, 0.0)
        psi += sign * (t + h) / (2.0 * h)
        curv += np.where(np.abs(v) <= h, 1.0 / (2.0 * h), 0.0)
    return smooth, hinge, psi, curv


def _check_robust_args(
    loss: int,
    epsilon: float,
    quantile: float,
    smoothing: float,
    n: int,
    d: int,
    n_weights: int,
    hessian_shape: tuple[int, ...],
) -> None:
    """The arguments robust_loss_gradient cannot take (as the compiled twin)."""
    if loss not in LOSS_CODES.values():
        codes = ", ".join(f"{c} ({name})" for name, c in LOSS_CODES.items())
        raise ValueError(f"unknown loss code {loss}; expected one of {codes}")
    if loss in (_HUBER, _EPS_INSENSITIVE) and not epsilon >= 0.0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    if loss == _QUANTILE and not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    if loss in (_ABSOLUTE, _QUANTILE, _EPS_INSENSITIVE) and not smoothing >= 0.0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    if n_weights not in (0, n):
        raise ValueError(f"sample_weight has {n_weights} entries; expected 0 or {n}")
    if hessian_shape not in ((0, 0), (d + 1, d + 1)):
        raise ValueError(
            f"hessian has shape {hessian_shape}; expected (0, 0) or {(d + 1, d + 1)}"
        )


class GramObjective:
    """The mean squared error from sufficient statistics: O(d²) per call.

    ``n``, ``mean`` and ``cov`` are the statistics of ``[X | y]`` (count,
    means, centred cross-products); ``offset``, ``scale``, ``fit_intercept``
    and ``y_offset`` the solver's coordinates (see ``_coords.Coordinates``).
    The statistics are mapped once into those coordinates: with
    ``z = (x − offset) / scale`` (so ``theta = (v, c)`` are the coefficients
    of ``z`` and the intercept), ``A = cov(z)``, ``b = cov(z, y)``,
    ``s_yy = var(y)`` and ``δ = mean(z)`` (zero when the offset is the mean).
    Then ``mean(e²) = s_yy − 2 v·b + v·A v + r²``, where ``r = (mean_y −
    y_offset) − c − δ·v`` is the mean residual, and the gradient is
    ``2(A v − b) − 2rδ`` for ``v`` and ``−2r`` for ``c``. The objective
    :func:`gram_cg` minimises (the compiled twin maps the statistics the same
    way), and the one the estimator's statistics path evaluates.
    """

    def __init__(
        self,
        cov: F64,
        mean: F64,
        n: float,
        offset: F64,
        scale: F64,
        fit_intercept: bool,
        y_offset: float,
    ) -> None:
        d = offset.shape[0]
        self.n = n
        self.fit_intercept = bool(fit_intercept)
        # cov([z | y]) in one division: the columns of X scaled, y's not.
        s = np.ones(d + 1)
        s[:d] = scale
        cz = cov / (float(n) * np.multiply.outer(s, s))
        self.zz = cz[:d, :d]
        self.zy = cz[:d, d]
        self.yy = float(cz[d, d])
        self.delta = (mean[:d] - offset) / scale
        self.centred = not self.delta.any()
        self.mean_y = float(mean[d] - y_offset)
        self._hessian: F64 | None = None

    def __call__(self, theta: F64) -> tuple[float, F64]:
        d = self.zy.shape[0]
        fit_intercept = self.fit_intercept
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
        if self.fit_intercept and self.centred:
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
            if not self.fit_intercept:
                h = 2.0 * h_zz
            else:
                h = np.zeros((d + 1, d + 1))
                np.multiply(h_zz, 2.0, out=h[:d, :d])
                h[:d, d] = h[d, :d] = 2.0 * self.delta
                h[d, d] = 2.0
            h.flags.writeable = False
            self._hessian = h
        return self._hessian


def gram_cg(
    cov: F64,
    mean: F64,
    n: float,
    offset: F64,
    scale: F64,
    fit_intercept: bool,
    y_offset: float,
    theta: F64,
    gtol: float,
    max_iter: int,
) -> tuple[int, int, str, float, float, list[float]]:
    """Conjugate gradients on sufficient statistics (see the compiled twin).

    The solvers' own loop (``_solver.conjugate_gradient``) on
    :class:`GramObjective`: what the compiled kernel does without Python
    between iterations. ``theta`` holds the start and receives the solution.
    """
    d = offset.shape[0]
    if (
        cov.shape != (d + 1, d + 1)
        or mean.shape != (d + 1,)
        or scale.shape != (d,)
        or theta.shape != (d + int(fit_intercept),)
    ):
        raise ValueError("gram_cg: inconsistent shapes")
    objective = GramObjective(cov, mean, n, offset, scale, fit_intercept, y_offset)
    # Silent on overflow like the compiled twin: the result says "diverged".
    with np.errstate(over="ignore", invalid="ignore"):
        result = conjugate_gradient(
            objective, theta, StopRule(max_iter, gtol), hessp=objective.hessp
        )
    theta[:] = result.theta
    return (
        result.n_iter,
        result.n_evals,
        result.stop_reason,
        result.loss,
        result.grad_norm,
        result.loss_curve.tolist(),
    )
