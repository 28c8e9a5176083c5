# cython: language_level=3
"""The squared loss and its gradient in one fused pass: ``loss_gradient``.

See the package docstring for the conventions every kernel keeps.
"""

from cython.parallel cimport prange, threadid
from libc.string cimport memset

import numpy as np

from ._chunks cimport BLOCK, Model, Pass, pass_begin, pass_end, pass_live, pass_poll, pass_row
from ._simd cimport (
    PF_BYTES,
    align64,
    dot_centred,
    even_up,
    flr_add,
    flr_dup_hi,
    flr_dup_lo,
    flr_hsum,
    flr_load1_d,
    flr_load_a,
    flr_mul,
    flr_pair_sum,
    flr_prefetch,
    flr_splat,
    flr_store_a,
    flr_sub,
    flr_v2,
    load1,
    load2,
    prefetch_stream,
    xfloat,
    yfloat,
)


cdef void _chunk_loss_grad_1(
    const xfloat* X, const yfloat* y, double w, double b, double m, double yo,
    Py_ssize_t lo, Py_ssize_t hi, double* out,
) noexcept nogil:
    """One feature: out = [Σ e², Σ e, Σ e·(x − m)] over rows lo..hi.

    Four accumulators per sum, in two 2-lane vectors: accumulator k owns the
    rows ≡ k (mod 4). No add waits for the previous one and every add is a
    SIMD add, so the loop keeps up with memory. The < 4 leftover rows go to
    a plain loop.
    """
    cdef flr_v2 la, lb, ra, rb, ga, gb, xa, xb, ea, eb
    cdef flr_v2 vw = flr_splat(w), vb = flr_splat(b), vm = flr_splat(m)
    cdef flr_v2 vyo = flr_splat(yo)
    cdef Py_ssize_t i, start, stop
    cdef Py_ssize_t end = lo + ((hi - lo) // 4) * 4
    out[0] = 0.0
    out[1] = 0.0
    out[2] = 0.0
    start = lo
    while start < end:
        stop = start + BLOCK
        if stop > end:
            stop = end
        la = lb = ra = rb = ga = gb = flr_splat(0.0)
        i = start
        while i < stop:
            prefetch_stream(X, i, hi - 1)
            prefetch_stream(y, i, hi - 1)
            # xc = x − m;  e = (y − yo) − b − xc·w
            # (NumPy: e = (y - yo) - b - (X[:, 0] - m) * w)
            xa = flr_sub(load2(X + i), vm)
            xb = flr_sub(load2(X + i + 2), vm)
            ea = flr_sub(flr_sub(flr_sub(load2(y + i), vyo), vb), flr_mul(xa, vw))
            eb = flr_sub(flr_sub(flr_sub(load2(y + i + 2), vyo), vb), flr_mul(xb, vw))
            # loss += e @ e
            la = flr_add(la, flr_mul(ea, ea))
            lb = flr_add(lb, flr_mul(eb, eb))
            # grad_b += e.sum()
            ra = flr_add(ra, ea)
            rb = flr_add(rb, eb)
            # grad_w += e @ xc
            ga = flr_add(ga, flr_mul(ea, xa))
            gb = flr_add(gb, flr_mul(eb, xb))
            i += 4
        out[0] += flr_hsum(flr_add(la, lb))
        out[1] += flr_hsum(flr_add(ra, rb))
        out[2] += flr_hsum(flr_add(ga, gb))
        start = stop
    _rows_loss_grad_1(X, y, w, b, m, yo, end, hi, out)


cdef void _rows_loss_grad_1(
    const xfloat* X, const yfloat* y, double w, double b, double m, double yo,
    Py_ssize_t lo, Py_ssize_t hi, double* out,
) noexcept nogil:
    """The plain loop of _chunk_loss_grad_1, for its leftover rows."""
    cdef double xc, e
    cdef Py_ssize_t i
    for i in range(lo, hi):
        xc = X[i] - m
        e = (y[i] - yo) - b - xc * w
        out[0] += e * e
        out[1] += e
        out[2] += e * xc



cdef inline void _centre_group(
    flr_v2 x0, flr_v2 x1, flr_v2 x2, flr_v2 x3, const double* mw, double* z,
    flr_v2* p,
) noexcept nogil:
    """One column pair of a group of four rows: z[2r:2r + 2] = x_r − m and
    p[r] += (x_r − m) * w, with mw = [m[j:j + 2], w[j:j + 2]]. mw and z are
    16-byte aligned."""
    cdef flr_v2 mv = flr_load_a(mw), wv = flr_load_a(mw + 2), c
    c = flr_sub(x0, mv)
    flr_store_a(z, c)
    p[0] = flr_add(p[0], flr_mul(c, wv))
    c = flr_sub(x1, mv)
    flr_store_a(z + 2, c)
    p[1] = flr_add(p[1], flr_mul(c, wv))
    c = flr_sub(x2, mv)
    flr_store_a(z + 4, c)
    p[2] = flr_add(p[2], flr_mul(c, wv))
    c = flr_sub(x3, mv)
    flr_store_a(z + 6, c)
    p[3] = flr_add(p[3], flr_mul(c, wv))


cdef inline void _add_group(double* g, const double* z, const flr_v2* e) noexcept nogil:
    """One column pair of a group of four rows: g[:2] += Σ_r e_r z[2r:2r + 2].
    g and z are 16-byte aligned."""
    cdef flr_v2 t = flr_add(flr_mul(e[0], flr_load_a(z)), flr_mul(e[1], flr_load_a(z + 2)))
    cdef flr_v2 u = flr_add(flr_mul(e[2], flr_load_a(z + 4)), flr_mul(e[3], flr_load_a(z + 6)))
    flr_store_a(g, flr_add(flr_load_a(g), flr_add(t, u)))


cdef inline void _sweep_group(
    const xfloat* x0, Py_ssize_t d, const char* pfp, double* mwg, const double* za,
    double* zb, flr_v2* p, const flr_v2* e,
) noexcept nogil:
    """One sweep over the columns of the group of four rows at x0: centre them
    into zb and add their dot products with w to p, and add the previous
    group (za, its residuals e) to the gradient sums g in mwg."""
    cdef const xfloat* x1 = x0 + d
    cdef const xfloat* x2 = x1 + d
    cdef const xfloat* x3 = x2 + d
    cdef Py_ssize_t j = 0, dd = d - d % 2
    while j < dd:
        flr_prefetch(pfp + 4 * sizeof(xfloat) * j)
        _centre_group(load2(x0 + j), load2(x1 + j), load2(x2 + j),
                      load2(x3 + j), mwg + 3 * j, zb + 4 * j, p)
        # previous group: grad_w += e @ z   (g[j:j + 2])
        _add_group(mwg + 3 * j + 4, za + 4 * j, e)
        j += 2
    if j < d:
        flr_prefetch(pfp + 4 * sizeof(xfloat) * j)
        _centre_group(load1(x0 + j), load1(x1 + j), load1(x2 + j),
                      load1(x3 + j), mwg + 3 * j, zb + 4 * j, p)
        _add_group(mwg + 3 * j + 4, za + 4 * j, e)


cdef inline Py_ssize_t _mwg_at(Py_ssize_t j, int k) noexcept nogil:
    """Index of m[j] (k = 0), w[j] (1) or g[j] (2) in _chunk_loss_grad_d's
    ``mwg``: six doubles a column pair, [m, m, w, w, g, g]."""
    return 3 * (j - j % 2) + 2 * k + j % 2


cdef void _chunk_loss_grad_d(
    const xfloat* X, const yfloat* y, const Model* M, Py_ssize_t lo, Py_ssize_t hi,
    double* out, double* scratch,
) noexcept nogil:
    """d features: out = [Σ e², Σ e, Σ e·(x_0 − m_0), ...] over rows lo..hi.

    Rows go in groups of four, columns two at a time (one 2-lane vector).
    One sweep over the columns centres the group's rows into a buffer ``z``
    (in L1; the four rows interleaved by column pair) and sums their dot
    products with w, one vector per row (lane 0 the even columns, lane 1 the
    odd ones: no horizontal sum per column), so that each load of m and w
    serves four rows. The same sweep adds the previous group's rows of z,
    weighted by their residuals, to the block's gradient sums g (one load
    and store of g per four rows): z is double-buffered, and the
    residuals are never waited for. A column left over when d is odd is read
    as [x, 0], which also zeroes the padding of z. The < 4 rows left at the
    end of the chunk go one at a time.

    scratch: 11·d2 doubles, 16-byte aligned, with d2 = d rounded up to even:
    ``mwg`` = [m, w, g] interleaved by column pair (six doubles a pair, m and
    w zero-padded), then z for two groups.
    """
    cdef const double* w = M.w
    cdef const double* m = M.m
    cdef double b = M.b, yo = M.yo
    cdef Py_ssize_t d = M.d
    cdef Py_ssize_t d2 = even_up(d)
    cdef double* mwg = scratch
    cdef double* za = mwg + 3 * d2
    cdef double* zb = za + 4 * d2
    cdef double* zt
    cdef flr_v2 p[4]
    cdef flr_v2 ev[4]
    cdef flr_v2 e01, e23, sl, sr
    cdef flr_v2 vyo = flr_splat(yo), b0 = flr_load1_d(&b)
    cdef double e
    cdef bint pending
    cdef Py_ssize_t row_bytes = d * sizeof(xfloat), x_bytes = hi * row_bytes, pf
    cdef const char* pfp
    cdef Py_ssize_t i, j, start, stop, stop4
    memset(out, 0, (d + 2) * sizeof(double))
    _mwg_init(M, mwg)
    ev[0] = ev[1] = ev[2] = ev[3] = flr_splat(0.0)
    start = lo
    while start < hi:
        stop = start + BLOCK
        if stop > hi:
            stop = hi
        stop4 = start + ((stop - start) // 4) * 4
        sl = flr_splat(0.0)
        sr = flr_splat(0.0)
        # g = 0   (this block's gradient sums)
        j = 0
        while j < d2:
            flr_store_a(mwg + 3 * j + 4, flr_splat(0.0))
            j += 2
        pending = False
        i = start
        while i < stop4:
            # Prefetch the next group's rows and PF_BYTES more, one 64-byte
            # line a column pair: as many bytes as a group takes (the
            # hardware prefetcher alone loses track of four interleaved rows).
            pf = (i + 4) * row_bytes + PF_BYTES
            if pf > x_bytes - 4 * row_bytes:
                pf = x_bytes - 4 * row_bytes
            pfp = <const char*>X + pf
            # p_r = [b, 0] + Σ_j (x_r − m)[j:j + 2] * w[j:j + 2]
            # (NumPy: z = X[i:i + 4] - m;  p = b + z @ w)
            p[0] = p[1] = p[2] = p[3] = b0
            _sweep_group(X + i * d, d, pfp, mwg, za, zb, p, ev)
            # e = (y − yo) − p, two rows a vector
            e01 = flr_sub(flr_sub(load2(y + i), vyo), flr_pair_sum(p[0], p[1]))
            e23 = flr_sub(flr_sub(load2(y + i + 2), vyo), flr_pair_sum(p[2], p[3]))
            # loss += e @ e
            sl = flr_add(sl, flr_add(flr_mul(e01, e01), flr_mul(e23, e23)))
            # grad_b += e.sum()
            sr = flr_add(sr, flr_add(e01, e23))
            ev[0] = flr_dup_lo(e01)
            ev[1] = flr_dup_hi(e01)
            ev[2] = flr_dup_lo(e23)
            ev[3] = flr_dup_hi(e23)
            zt = za
            za = zb
            zb = zt
            pending = True
            i += 4
        if pending:
            # the block's last group: grad_w += e @ z
            j = 0
            while j < d2:
                _add_group(mwg + 3 * j + 4, za + 4 * j, ev)
                j += 2
            ev[0] = ev[1] = ev[2] = ev[3] = flr_splat(0.0)
        out[0] += flr_hsum(sl)
        out[1] += flr_hsum(sr)
        _rows_loss_grad_d(X, y, M, i, stop, out, mwg)
        for j in range(d):
            out[2 + j] += mwg[_mwg_at(j, 2)]
        start = stop


cdef inline void _mwg_init(const Model* M, double* mwg) noexcept nogil:
    """mwg = [m, w, g = 0] interleaved by column pair, and z zeroed (the first
    sweep of a block adds 0 · za: za must hold finite values)."""
    cdef Py_ssize_t j, d2 = even_up(M.d)
    memset(mwg, 0, 11 * d2 * sizeof(double))
    for j in range(M.d):
        mwg[_mwg_at(j, 0)] = M.m[j]
        mwg[_mwg_at(j, 1)] = M.w[j]


cdef inline void _rows_loss_grad_d(
    const xfloat* X, const yfloat* y, const Model* M, Py_ssize_t lo, Py_ssize_t hi,
    double* out, double* mwg,
) noexcept nogil:
    """The rows lo..hi one at a time (the < 4 left at the end of a block):
    out[:2] += [Σ e², Σ e], and the block's gradient sums g in mwg."""
    cdef const xfloat* x0
    cdef double e
    cdef Py_ssize_t i, j, d = M.d
    for i in range(lo, hi):
        x0 = X + i * d
        # e = (y − yo) − b − (x − m) @ w
        e = (y[i] - M.yo) - M.b - dot_centred(x0, M.m, M.w, d)
        # loss += e²; grad_b += e
        out[0] += e * e
        out[1] += e
        # grad_w += e · (x − m)
        for j in range(d):
            mwg[_mwg_at(j, 2)] += e * (x0[j] - M.m[j])


def loss_gradient(
    const xfloat[:, ::1] X,
    const yfloat[::1] y,
    const double[::1] coef,
    double intercept,
    const double[::1] x_offset,
    double y_offset,
    double[::1] grad_coef,
    int n_threads,
):
    """Mean squared error and its gradient in one pass over ``X`` and ``y``.

    With ``e = (y − y_offset) − intercept − (X − x_offset) @ coef``, returns
    ``(mean(e²), −2·mean(e))`` and writes ``−2·(X − x_offset).T @ e / n`` into
    ``grad_coef``. The offsets are zero for the plain model; the solver passes
    the means of X and y, so that data far from zero does not cancel and the
    intercept keeps digits beyond those of a double of the size of y.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], c, j
    cdef Pass P
    cdef Model M
    pass_begin(&P, n, n_threads)
    cdef double[:, ::1] part = np.empty((P.k, d + 2))
    # Scratch of _chunk_loss_grad_d: 64-byte aligned, a whole number of cache
    # lines a chunk (no false sharing between threads).
    cdef Py_ssize_t width = (11 * even_up(d) + 7) // 8 * 8
    cdef double[::1] scratch = np.empty(P.k * width + 8)
    cdef double* sbase = align64(&scratch[0])
    cdef double loss = 0.0, gb = 0.0
    M.w = &coef[0]
    M.b = intercept
    M.m = &x_offset[0]
    M.yo = y_offset
    M.d = d
    with nogil:
        for c in prange(P.k, num_threads=P.n_threads, schedule="dynamic"):
            if pass_live(&P):
                if d == 1:
                    _chunk_loss_grad_1(&X[0, 0], &y[0], coef[0], intercept, x_offset[0],
                                       y_offset, pass_row(&P, c), pass_row(&P, c + 1),
                                       &part[c, 0])
                else:
                    _chunk_loss_grad_d(&X[0, 0], &y[0], &M, pass_row(&P, c),
                                       pass_row(&P, c + 1), &part[c, 0], sbase + c * width)
                pass_poll(&P, threadid())
    pass_end(&P)
    with nogil:
        # Merge the chunks in their fixed order.
        for j in range(d):
            grad_coef[j] = 0.0
        for c in range(P.k):
            # loss = Σ e²;  grad_b = Σ e;  grad = Σ e (x − m)
            loss += part[c, 0]
            gb += part[c, 1]
            for j in range(d):
                grad_coef[j] += part[c, 2 + j]
        for j in range(d):
            grad_coef[j] *= -2.0 / n
    return loss / n, -2.0 * gb / n
