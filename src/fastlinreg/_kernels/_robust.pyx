# cython: language_level=3
"""Robust losses: the weighted sum, gradient and Hessian in one pass,
``robust_loss_gradient``.

Each block of BLOCK rows goes through four passes while it sits in cache:

1. residuals r_i of the block;
2. per row ℓ_h(r_i), ℓ(r_i), w_i·ψ(r_i) and w_i·ℓ_h''(r_i)
   (``_loss_terms.block_terms``, compiled for each loss: the loss is chosen
   once per call, not per block or row);
3. grad += Σ w_i ψ_i (x_i − m), rows in pairs;
4. (if asked) H += Σ w_i ℓ''_i z_i z_iᵀ over the rows with curvature only.

The loss codes are those of ``fastlinreg._codes.LOSS_CODES``, read at import.
See the package docstring for the conventions every kernel keeps.
"""

from cython.parallel cimport prange, threadid
from libc.string cimport memset

import numpy as np

from .._codes import LOSS_CODES

from ._chunks cimport BLOCK, Model, Pass, pass_begin, pass_end, pass_live, pass_poll, pass_row
from ._loss_terms cimport (
    Absolute,
    AbsoluteSmooth,
    EpsInsensitive,
    EpsInsensitiveSmooth,
    Huber,
    Pinball,
    PinballSmooth,
    Squared,
    block_terms,
    loss_t,
)
from ._simd cimport (
    dot_centred,
    even_up,
    flr_add,
    flr_load_d,
    flr_mul,
    flr_splat,
    flr_store_d,
    flr_sub,
    flr_v2,
    load2,
    xfloat,
    yfloat,
)

# The codes of robust_loss_gradient (one table for Python and C).
cdef int SQUARED = LOSS_CODES["squared_error"]
cdef int ABSOLUTE = LOSS_CODES["absolute_error"]
cdef int HUBER = LOSS_CODES["huber"]
cdef int QUANTILE = LOSS_CODES["quantile"]
cdef int EPS_INSENSITIVE = LOSS_CODES["epsilon_insensitive"]


cdef inline void _block_residuals(
    const xfloat* X, const yfloat* y, const Model* M, Py_ssize_t start, Py_ssize_t nb,
    double* r,
) noexcept nogil:
    """r_i = (y_i − yo) − b − (x_i − m) @ w for the nb rows from start."""
    # The model in locals: a store to r could alias *M, so the compiler would
    # read M again for every row.
    cdef Py_ssize_t i, d = M.d
    cdef const double* m = M.m
    cdef const double* w = M.w
    cdef double b = M.b, yo = M.yo
    for i in range(nb):
        r[i] = (y[start + i] - yo) - b - dot_centred(X + (start + i) * d, m, w, d)


cdef void _block_weighted_rows(
    const xfloat* X, const double* m, Py_ssize_t d, Py_ssize_t start, Py_ssize_t nb,
    const double* a, double* blk,
) noexcept nogil:
    """blk = Σ_i a_i (x_i − m) over the nb rows from start, two rows a pass."""
    cdef flr_v2 mv, va, vb
    cdef const xfloat* x0
    cdef const xfloat* x1
    cdef Py_ssize_t i = 0, j, d2 = (d // 2) * 2
    memset(blk, 0, d * sizeof(double))
    while i + 1 < nb:
        x0 = X + (start + i) * d
        x1 = x0 + d
        va = flr_splat(a[i])
        vb = flr_splat(a[i + 1])
        j = 0
        while j < d2:
            mv = flr_load_d(m + j)
            flr_store_d(blk + j, flr_add(flr_load_d(blk + j), flr_add(
                flr_mul(va, flr_sub(load2(x0 + j), mv)),
                flr_mul(vb, flr_sub(load2(x1 + j), mv)))))
            j += 2
        if j < d:
            blk[j] += a[i] * (x0[j] - m[j]) + a[i + 1] * (x1[j] - m[j])
        i += 2
    if i < nb:
        x0 = X + (start + i) * d
        for j in range(d):
            blk[j] += a[i] * (x0[j] - m[j])


cdef inline void _centred_row(
    const xfloat* x, const double* m, Py_ssize_t d, double* z,
) noexcept nogil:
    """z[:d + 1] = [x − m, 1]."""
    cdef Py_ssize_t j
    for j in range(d):
        z[j] = x[j] - m[j]
    z[d] = 1.0


cdef void _rank4_update(
    double* bh, const double* z, const double* c, Py_ssize_t p, Py_ssize_t p2,
) noexcept nogil:
    """bh[j, k] += Σ_r c_r z_r[j] z_r[k] for the four rows z_r = z[r·p2:(r + 1)·p2]
    and k ≥ j (from j rounded down to even: two columns a vector).

    bh is p × p2 with p2 = p rounded up to even (the z_r are zero at p if p2 > p).
    """
    cdef flr_v2 a0, a1, a2, a3, t
    cdef const double* z0 = z
    cdef const double* z1 = z0 + p2
    cdef const double* z2 = z1 + p2
    cdef const double* z3 = z2 + p2
    cdef double* row
    cdef Py_ssize_t j, k
    for j in range(p):
        a0 = flr_splat(c[0] * z0[j])
        a1 = flr_splat(c[1] * z1[j])
        a2 = flr_splat(c[2] * z2[j])
        a3 = flr_splat(c[3] * z3[j])
        row = bh + j * p2
        k = j - (j % 2)
        while k < p2:
            t = flr_add(
                flr_add(flr_mul(a0, flr_load_d(z0 + k)), flr_mul(a1, flr_load_d(z1 + k))),
                flr_add(flr_mul(a2, flr_load_d(z2 + k)), flr_mul(a3, flr_load_d(z3 + k))))
            flr_store_d(row + k, flr_add(flr_load_d(row + k), t))
            k += 2


cdef bint _block_hessian(
    const xfloat* X, const double* m, Py_ssize_t d, Py_ssize_t start, Py_ssize_t nb,
    const double* c, double* bh, double* z,
) noexcept nogil:
    """bh = Σ_i c_i z_i z_iᵀ (upper triangle; p × p2 with p = d + 1 and p2 = p
    rounded up to even) over the rows of the block with c_i ≠ 0, z_i = [x_i − m, 1],
    four rows to a pass. False (bh untouched) when there are none.

    z is 4·p2 scratch, finite, and zero at index p of each row if p2 > p.
    """
    cdef Py_ssize_t p = d + 1, p2 = even_up(p), i, r = 0
    cdef double cr[4]
    cdef bint any_row = False
    for i in range(nb):
        if c[i] == 0.0:
            continue
        if not any_row:
            memset(bh, 0, p * p2 * sizeof(double))
            any_row = True
        _centred_row(X + (start + i) * d, m, d, z + r * p2)
        cr[r] = c[i]
        r += 1
        if r == 4:
            _rank4_update(bh, z, cr, p, p2)
            r = 0
    if r > 0:
        # The missing rows count with weight 0 (their z, finite, are left over).
        while r < 4:
            cr[r] = 0.0
            r += 1
        _rank4_update(bh, z, cr, p, p2)
    return any_row




cdef struct _Robust:
    # One pass of robust_loss_gradient, but the data and the loss.
    const double* sw     # weights, or NULL for all 1
    const Model* M
    bint want_hessian
    double* part         # a row of part_width doubles per chunk
    Py_ssize_t part_width
    double* scratch      # a row of scratch_width doubles per chunk
    Py_ssize_t scratch_width
    Pass* P


cdef void _chunk_robust(
    loss_t L, const xfloat* X, const yfloat* y, const _Robust* R, Py_ssize_t lo,
    Py_ssize_t hi, double* out, double* scratch,
) noexcept nogil:
    """out = [Σ w ℓ_h, Σ w ℓ, Σ w ψ, Σ w ψ (x − m) (d), H (p × p, upper triangle,
    only if R.want_hessian)] over rows lo..hi. scratch: 3·BLOCK + d + (p + 4)·p2
    doubles, p2 = p rounded up to even.
    """
    cdef const Model* M = R.M
    cdef const double* sw = R.sw
    cdef bint want_hessian = R.want_hessian
    cdef Py_ssize_t d = M.d, p = d + 1, p2 = even_up(p), j, k, start, stop, nb
    cdef double* r = scratch
    cdef double* psi = r + BLOCK
    cdef double* curv = psi + BLOCK
    cdef double* blk = curv + BLOCK
    cdef double* bh = blk + d
    cdef double* z = bh + p * p2
    cdef double* hess = out + 3 + d
    cdef const double* swb
    cdef double sums[3]
    memset(out, 0, (3 + d + (p * p if want_hessian else 0)) * sizeof(double))
    memset(z, 0, 4 * p2 * sizeof(double))
    start = lo
    while start < hi:
        stop = start + BLOCK
        if stop > hi:
            stop = hi
        nb = stop - start
        swb = NULL
        if sw != NULL:
            swb = sw + start
        # r = (y − yo) − b − (X − m) @ w   (this block's rows)
        _block_residuals(X, y, M, start, nb, r)
        # value += w @ ℓ_h(r); exact += w @ ℓ(r); grad_b_sum += w @ ψ(r)
        sums[0] = 0.0
        sums[1] = 0.0
        sums[2] = 0.0
        block_terms(L, r, swb, nb, psi, curv, sums)
        out[0] += sums[0]
        out[1] += sums[1]
        out[2] += sums[2]
        # grad_sum += (w ψ) @ (X − m)
        _block_weighted_rows(X, M.m, d, start, nb, psi, blk)
        for j in range(d):
            out[3 + j] += blk[j]
        # H += Z[band].T @ ((w ℓ'')[band, None] * Z[band]),  Z = [X − m, 1]
        if want_hessian and _block_hessian(X, M.m, d, start, nb, curv, bh, z):
            for j in range(p):
                for k in range(j, p):
                    hess[j * p + k] += bh[j * p2 + k]
        start = stop


cdef void _run(loss_t L, const xfloat* X, const yfloat* y, const _Robust* R) noexcept nogil:
    """The pass of one loss: each chunk into its row of R.part."""
    cdef Pass* P = R.P
    cdef Py_ssize_t c
    for c in prange(P.k, num_threads=P.n_threads, schedule="dynamic"):
        if pass_live(P):
            _chunk_robust(L, X, y, R, pass_row(P, c), pass_row(P, c + 1),
                          R.part + c * R.part_width, R.scratch + c * R.scratch_width)
            pass_poll(P, threadid())


cdef void _dispatch(
    int code, double eps, double q, double h, const xfloat* X, const yfloat* y,
    const _Robust* R,
) noexcept nogil:
    """The pass compiled for the loss of ``code`` (chosen once per call)."""
    cdef Squared sq
    cdef Huber hu
    cdef Absolute ab
    cdef AbsoluteSmooth abs_
    cdef Pinball pi
    cdef PinballSmooth pis
    cdef EpsInsensitive ei
    cdef EpsInsensitiveSmooth eis
    cdef double inv_h = 1.0 / h if h > 0.0 else 0.0
    if code == SQUARED:
        sq.unused = 0
        _run(sq, X, y, R)
    elif code == HUBER:
        hu.eps = eps
        _run(hu, X, y, R)
    elif code == ABSOLUTE and h == 0.0:
        ab.unused = 0
        _run(ab, X, y, R)
    elif code == ABSOLUTE:
        abs_.h, abs_.inv_h = h, inv_h
        _run(abs_, X, y, R)
    elif code == QUANTILE and h == 0.0:
        pi.q = q
        _run(pi, X, y, R)
    elif code == QUANTILE:
        pis.q, pis.h, pis.inv_2h, pis.inv_4h = q, h, 0.5 * inv_h, 0.25 * inv_h
        _run(pis, X, y, R)
    elif h == 0.0:
        ei.eps = eps
        _run(ei, X, y, R)
    else:
        eis.eps, eis.h, eis.inv_2h, eis.inv_4h = eps, h, 0.5 * inv_h, 0.25 * inv_h
        _run(eis, X, y, R)


def robust_loss_gradient(
    const xfloat[:, ::1] X,
    const yfloat[::1] y,
    const double[::1] sample_weight,
    const double[::1] coef,
    double intercept,
    const double[::1] x_offset,
    double y_offset,
    int loss,
    double epsilon,
    double quantile,
    double smoothing,
    double[::1] grad_coef,
    double[:, ::1] hessian,
    int n_threads,
):
    """Weighted sum of a robust loss, its gradient and (optionally) Hessian.

    With ``r = (y − y_offset) − intercept − (X − x_offset) @ coef`` and weights
    ``w`` (all 1 when ``sample_weight`` is empty), returns
    ``(Σ w ℓ_h(r), −Σ w ψ(r), Σ w ℓ(r))``, writes ``−(X − x_offset).T @ (w ψ)``
    into ``grad_coef`` and, unless ``hessian`` has shape ``(0, 0)``,
    ``Z.T @ (w ℓ_h''(r) Z)`` with ``Z = [X − x_offset, 1]`` into ``hessian``
    (``(d + 1) × (d + 1)``). ``loss``: a code of ``_codes.LOSS_CODES`` (0
    squared, 1 absolute, 2 Huber (``epsilon``), 3 pinball (``quantile``), 4
    epsilon-insensitive (``epsilon``)); ``ℓ_h`` is ``ℓ`` with the kinks of 1, 3
    and 4 rounded off by a quadratic over a band of half-width ``smoothing``
    (``ψ = ℓ_h'``). The formulas are those of the NumPy twin.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], p = d + 1, c, j, m
    cdef bint want_hessian = hessian.shape[0] != 0 or hessian.shape[1] != 0
    cdef const double* sw = NULL
    cdef double value = 0.0, exact = 0.0, sp = 0.0
    cdef Pass P
    cdef Model M
    cdef _Robust R
    _check_robust_args(loss, epsilon, quantile, smoothing, n, d, sample_weight.shape[0],
                       hessian.shape[0], hessian.shape[1])
    pass_begin(&P, n, n_threads)
    cdef Py_ssize_t width = 3 + d + (p * p if want_hessian else 0)
    cdef double[:, ::1] part = np.empty((P.k, width))
    cdef double[:, ::1] scratch = np.empty((P.k, 3 * BLOCK + d + (p + 4) * even_up(p)))
    if sample_weight.shape[0] > 0:
        sw = &sample_weight[0]
    M.w = &coef[0]
    M.b = intercept
    M.m = &x_offset[0]
    M.yo = y_offset
    M.d = d
    R.sw, R.M, R.want_hessian, R.P = sw, &M, want_hessian, &P
    R.part, R.part_width = &part[0, 0], part.shape[1]
    R.scratch, R.scratch_width = &scratch[0, 0], scratch.shape[1]
    with nogil:
        _dispatch(loss, epsilon, quantile, smoothing, &X[0, 0], &y[0], &R)
    pass_end(&P)
    with nogil:
        # Merge the chunks in their fixed order.
        for j in range(d):
            grad_coef[j] = 0.0
        if want_hessian:
            memset(&hessian[0, 0], 0, p * p * sizeof(double))
        for c in range(P.k):
            value += part[c, 0]
            exact += part[c, 1]
            sp += part[c, 2]
            for j in range(d):
                grad_coef[j] += part[c, 3 + j]
            if want_hessian:
                for j in range(p):
                    for m in range(j, p):
                        hessian[j, m] += part[c, 3 + d + j * p + m]
        for j in range(d):
            grad_coef[j] = -grad_coef[j]
        if want_hessian:
            for j in range(p):
                for m in range(j + 1, p):
                    hessian[m, j] = hessian[j, m]
    return value, -sp, exact


cdef _check_robust_args(
    int loss, double epsilon, double quantile, double smoothing, Py_ssize_t n,
    Py_ssize_t d, Py_ssize_t n_weights, Py_ssize_t h_rows, Py_ssize_t h_cols,
):
    """The arguments robust_loss_gradient cannot take (bounds checks are off);
    the same checks as the NumPy twin's."""
    if loss not in LOSS_CODES.values():
        codes = ", ".join(f"{c} ({name})" for name, c in LOSS_CODES.items())
        raise ValueError(f"unknown loss code {loss}; expected one of {codes}")
    if (loss == HUBER or loss == EPS_INSENSITIVE) and not epsilon >= 0.0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    if loss == QUANTILE and not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    if (loss == ABSOLUTE or loss == QUANTILE or loss == EPS_INSENSITIVE) \
            and not smoothing >= 0.0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    if n_weights != 0 and n_weights != n:
        raise ValueError(f"sample_weight has {n_weights} entries; expected 0 or {n}")
    if (h_rows, h_cols) != (0, 0) and (h_rows, h_cols) != (d + 1, d + 1):
        raise ValueError(
            f"hessian has shape {(h_rows, h_cols)}; expected (0, 0) or {(d + 1, d + 1)}"
        )
