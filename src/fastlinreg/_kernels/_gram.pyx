# cython: language_level=3
"""Column moments and the sufficient statistics of the squared loss:
``moments`` (means and centred sums of squares of ``[X | y]``) and ``gram``
(means and centred cross-products), each in one pass, blocks merged by
Chan's update.

See the package docstring for the conventions every kernel keeps.
"""

from cython.parallel cimport prange, threadid
from libc.string cimport memset

import numpy as np

from ._chunks cimport BLOCK, Pass, pass_begin, pass_end, pass_live, pass_poll, pass_row
from ._merge cimport merge_gram, merge_moments
from ._tiles cimport gram_upper
from ._simd cimport (
    align64,
    even_up,
    flr_add,
    flr_hsum,
    flr_load_a,
    flr_load_d,
    flr_mul,
    flr_splat,
    flr_store_a,
    flr_sub,
    flr_v2,
    load2,
    prefetch_stream,
    xfloat,
    yfloat,
)


cdef void _chunk_moments(
    const xfloat* X, const yfloat* y, Py_ssize_t d, Py_ssize_t lo, Py_ssize_t hi,
    double* out, double* blk,
) noexcept nogil:
    """out = [count, mean (d + 1), m2 (d + 1)] of the columns of [X | y].

    Each block of rows is reduced in two passes (mean, then squared deviations
    from it) while it sits in cache, then merged into the chunk total.
    blk is 2·(d + 1) scratch.
    """
    cdef Py_ssize_t p = d + 1, i, j, start, stop
    cdef double* mean = out + 1
    cdef double* m2 = out + 1 + p
    cdef double* bmean = blk
    cdef double* bm2 = blk + p
    cdef double nb, t
    cdef const xfloat* x
    memset(out, 0, (1 + 2 * p) * sizeof(double))
    start = lo
    while start < hi:
        stop = start + BLOCK
        if stop > hi:
            stop = hi
        nb = <double>(stop - start)
        memset(blk, 0, 2 * p * sizeof(double))
        # block means: bmean = [X | y][start:stop].mean(axis=0)
        for i in range(start, stop):
            x = X + i * d
            for j in range(d):
                bmean[j] += x[j]
            bmean[d] += y[i]
        for j in range(p):
            bmean[j] /= nb
        # block m2: bm2 = ((block − bmean) ** 2).sum(axis=0)
        for i in range(start, stop):
            x = X + i * d
            for j in range(d):
                t = x[j] - bmean[j]
                bm2[j] += t * t
            t = y[i] - bmean[d]
            bm2[d] += t * t
        merge_moments(out, mean, m2, nb, bmean, bm2, p)
        start = stop


def moments(
    const xfloat[:, ::1] X,
    const yfloat[::1] y,
    double[::1] mean,
    double[::1] m2,
    int n_threads,
):
    """Column means and centred sums of squares of ``[X | y]`` in one pass.

    Writes ``mean[j] = X[:, j].mean()`` and ``m2[j] = ((X[:, j] − mean[j])**2).sum()``
    for the ``d`` columns of ``X`` and, at index ``d``, the same for ``y``
    (``mean`` and ``m2`` have ``d + 1`` entries). Returns nothing.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], p = d + 1, c
    cdef Pass P
    pass_begin(&P, n, n_threads)
    cdef double[:, ::1] part = np.empty((P.k, 1 + 2 * p))
    cdef double[:, ::1] scratch = np.empty((P.k, 2 * p))
    cdef double count = 0.0
    with nogil:
        for c in prange(P.k, num_threads=P.n_threads, schedule="dynamic"):
            if pass_live(&P):
                _chunk_moments(&X[0, 0], &y[0], d, pass_row(&P, c), pass_row(&P, c + 1),
                               &part[c, 0], &scratch[c, 0])
                pass_poll(&P, threadid())
    pass_end(&P)
    with nogil:
        memset(&mean[0], 0, p * sizeof(double))
        memset(&m2[0], 0, p * sizeof(double))
        for c in range(P.k):
            merge_moments(&count, &mean[0], &m2[0], part[c, 0],
                           &part[c, 1], &part[c, 1 + p], p)



cdef void _block_gram_1(
    const xfloat* X, const yfloat* y, const double* shift,
    Py_ssize_t start, Py_ssize_t stop, Py_ssize_t last, double* bmean, double* bc,
    double* z,
) noexcept nogil:
    """One feature: means of x − sx and y − sy over a block, and its centred
    [[Σzx², Σzx·zy], [·, Σzy²]] in bc (2 × 2, upper triangle).

    Two passes over the block (it is in cache for the second), each with two
    2-lane accumulators per sum: rows ≡ k (mod 4) go to accumulator k. With
    float32 input the first also keeps x − sx and y − sy in ``z`` (2·BLOCK
    doubles, 16-byte aligned: in L1) for the second, which then widens and
    shifts nothing again (1e6 and 1e7 rows: 13% less time; float64 input
    re-reads X and y instead: storing was 7-9% slower there). Both passes
    prefetch, up to row ``last`` of the chunk: the first 1 KiB ahead, the
    second the next block, so that memory keeps streaming while it computes
    (1e7 rows: 5-10% less time).
    """
    cdef flr_v2 sxa, sxb, sya, syb, vmx, vmy, zxa, zxb, zya, zyb
    cdef flr_v2 cxxa, cxxb, cxya, cxyb, cyya, cyyb
    cdef flr_v2 vsx = flr_splat(shift[0]), vsy = flr_splat(shift[1])
    cdef double nb = <double>(stop - start), mx, my, tx, ty
    cdef double* zx = z
    cdef double* zy = z + BLOCK
    cdef Py_ssize_t i, j, k, end = start + ((stop - start) // 4) * 4
    # bmean = [(x − sx).mean(), (y − sy).mean()]  (float32: kept in zx, zy)
    sxa = sxb = sya = syb = flr_splat(0.0)
    i = start
    while i < end:
        prefetch_stream(X, i, last)
        prefetch_stream(y, i, last)
        k = i - start
        zxa = flr_sub(load2(X + i), vsx)
        zxb = flr_sub(load2(X + i + 2), vsx)
        zya = flr_sub(load2(y + i), vsy)
        zyb = flr_sub(load2(y + i + 2), vsy)
        if xfloat is float or yfloat is float:
            flr_store_a(zx + k, zxa)
            flr_store_a(zx + k + 2, zxb)
            flr_store_a(zy + k, zya)
            flr_store_a(zy + k + 2, zyb)
        sxa = flr_add(sxa, zxa)
        sxb = flr_add(sxb, zxb)
        sya = flr_add(sya, zya)
        syb = flr_add(syb, zyb)
        i += 4
    mx = flr_hsum(flr_add(sxa, sxb))
    my = flr_hsum(flr_add(sya, syb))
    for j in range(end, stop):
        mx += X[j] - shift[0]
        my += y[j] - shift[1]
    mx /= nb
    my /= nb
    bmean[0] = mx
    bmean[1] = my
    # bc = [[cx @ cx, cx @ cy], [., cy @ cy]], cx = (x − sx) − mx, cy = (y − sy) − my
    vmx = flr_splat(mx)
    vmy = flr_splat(my)
    cxxa = cxxb = cxya = cxyb = cyya = cyyb = flr_splat(0.0)
    i = start
    while i < end:
        prefetch_stream(X, i + BLOCK, last)
        prefetch_stream(y, i + BLOCK, last)
        k = i - start
        if xfloat is float or yfloat is float:
            zxa = flr_load_a(zx + k)
            zxb = flr_load_a(zx + k + 2)
            zya = flr_load_a(zy + k)
            zyb = flr_load_a(zy + k + 2)
        else:
            zxa = flr_sub(load2(X + i), vsx)
            zxb = flr_sub(load2(X + i + 2), vsx)
            zya = flr_sub(load2(y + i), vsy)
            zyb = flr_sub(load2(y + i + 2), vsy)
        zxa = flr_sub(zxa, vmx)
        zxb = flr_sub(zxb, vmx)
        zya = flr_sub(zya, vmy)
        zyb = flr_sub(zyb, vmy)
        cxxa = flr_add(cxxa, flr_mul(zxa, zxa))
        cxxb = flr_add(cxxb, flr_mul(zxb, zxb))
        cxya = flr_add(cxya, flr_mul(zxa, zya))
        cxyb = flr_add(cxyb, flr_mul(zxb, zyb))
        cyya = flr_add(cyya, flr_mul(zya, zya))
        cyyb = flr_add(cyyb, flr_mul(zyb, zyb))
        i += 4
    bc[0] = flr_hsum(flr_add(cxxa, cxxb))
    bc[1] = flr_hsum(flr_add(cxya, cxyb))
    bc[3] = flr_hsum(flr_add(cyya, cyyb))
    for j in range(end, stop):
        tx = (X[j] - shift[0]) - mx
        ty = (y[j] - shift[1]) - my
        bc[0] += tx * tx
        bc[1] += tx * ty
        bc[3] += ty * ty


cdef void _block_gram_d(
    const xfloat* X, const yfloat* y, const double* shift, Py_ssize_t d,
    Py_ssize_t start, Py_ssize_t stop, Py_ssize_t last, double* bmean, double* bc,
    double* z,
) noexcept nogil:
    """d features: means of the columns of [X | y] − shift over a block, and
    the upper triangle of its centred cross-product matrix (p × p, p = d + 1)
    in bc.

    Three steps while the block sits in cache: the column means (the one read
    from memory, prefetched ahead up to row ``last`` of the chunk); the
    centred block into z, row-major with p2 = p rounded up to even columns (a
    zero column pads it, a zero row makes the row count even); then Zᵀ Z in
    tiles of 2 × 4 entries, each a sum in registers over the block's rows
    (``_tiles.gram_upper``: at 48 features, one thread of it beat blocked BLAS on two
    cores, 134 ms against 160 ms for 3e5 rows).
    bmean holds p2 doubles, z BLOCK·p2 (BLOCK is even), both 16-byte
    aligned.
    """
    cdef Py_ssize_t p = d + 1, p2 = even_up(p), dd = d - d % 2
    cdef Py_ssize_t nb = stop - start, nb2 = even_up(nb), i, j, a, g
    cdef flr_v2 sv, acc
    cdef double fnb = <double>nb, ys = shift[d]
    cdef const xfloat* x
    cdef double* zr
    memset(bmean, 0, p2 * sizeof(double))
    # bmean = ([X | y][start:stop] − shift).mean(axis=0), a column pair of X
    # at a time, summed in bmean itself (d is not known at compile time): rows
    # in groups of four, so that each group waits once for the previous sum.
    i = start
    while i < stop:
        g = 4 if i + 4 <= stop else 1
        for a in range(g):
            prefetch_stream(X, (i + a) * d, last * d)
        x = X + i * d
        j = 0
        while j < dd:
            sv = flr_load_d(shift + j)
            if g == 4:
                acc = flr_add(
                    flr_add(flr_sub(load2(x + j), sv), flr_sub(load2(x + d + j), sv)),
                    flr_add(flr_sub(load2(x + 2 * d + j), sv),
                            flr_sub(load2(x + 3 * d + j), sv)))
            else:
                acc = flr_sub(load2(x + j), sv)
            flr_store_a(bmean + j, flr_add(flr_load_a(bmean + j), acc))
            j += 2
        for a in range(g):
            if j < d:
                bmean[j] += x[a * d + j] - shift[j]
            bmean[d] += y[i + a] - ys
        i += g
    for j in range(p):
        bmean[j] /= fnb
    # z = [X | y][start:stop] − shift − bmean, padded with zeros
    for i in range(start, stop):
        x = X + i * d
        zr = z + (i - start) * p2
        j = 0
        while j < dd:
            flr_store_a(zr + j, flr_sub(flr_sub(load2(x + j), flr_load_d(shift + j)),
                                        flr_load_a(bmean + j)))
            j += 2
        if j < d:
            zr[j] = (x[j] - shift[j]) - bmean[j]
        zr[d] = (y[i] - ys) - bmean[d]
        if p2 > p:
            zr[p] = 0.0
    if nb2 > nb:
        memset(z + nb * p2, 0, p2 * sizeof(double))
    # bc = zᵀ z, upper triangle   (NumPy: Z.T @ Z)
    gram_upper(z, p, p2, nb2, bc)


cdef void _chunk_gram(
    const xfloat* X, const yfloat* y, const double* shift, Py_ssize_t d,
    Py_ssize_t lo, Py_ssize_t hi, double* out, double* scratch,
) noexcept nogil:
    """out = [count, mean (p), C (p × p upper triangle)] over rows lo..hi,
    the means relative to shift. scratch: _gram_scratch(d) doubles, 16-byte
    aligned.
    """
    cdef Py_ssize_t p = d + 1, p2 = even_up(p), start, stop
    cdef double* bmean = scratch
    cdef double* bc = scratch + p2
    cdef double* z = bc + p2 * p2
    memset(out, 0, (1 + p + p * p) * sizeof(double))
    start = lo
    while start < hi:
        stop = start + BLOCK
        if stop > hi:
            stop = hi
        if d == 1:
            _block_gram_1(X, y, shift, start, stop, hi - 1, bmean, bc, z)
        else:
            _block_gram_d(X, y, shift, d, start, stop, hi - 1, bmean, bc, z)
        merge_gram(out, out + 1, out + 1 + p, <double>(stop - start), bmean, bc, p)
        start = stop


cdef inline Py_ssize_t _gram_scratch(Py_ssize_t d) noexcept nogil:
    """Doubles of _chunk_gram's scratch, rounded up to whole cache lines."""
    cdef Py_ssize_t p2 = even_up(d + 1)
    return (p2 + p2 * p2 + BLOCK * p2 + 7) // 8 * 8


def gram(
    const xfloat[:, ::1] X,
    const yfloat[::1] y,
    double[::1] mean,
    double[:, ::1] cov,
    int n_threads,
):
    """Sufficient statistics of the squared loss in one pass.

    For ``Z = [X | y]`` (``p = d + 1`` columns) writes ``mean = Z.mean(axis=0)``
    and the centred cross-products ``cov = (Z - mean).T @ (Z - mean)``
    (``p × p``, symmetric). Everything is computed relative to the first row
    (so block means and their differences keep their digits however far the
    data sit from zero); blocks are centred on their own means and merged with
    Chan's update.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], p = d + 1, c, j, m
    cdef Pass P
    pass_begin(&P, n, n_threads)
    cdef double[:, ::1] part = np.empty((P.k, 1 + p + p * p))
    # Scratch: one per thread (each block overwrites it), 64-byte aligned,
    # whole cache lines a thread (no false sharing).
    cdef Py_ssize_t width = _gram_scratch(d)
    cdef double[::1] scratch = np.empty(P.n_threads * width + 8)
    cdef double* sbase = align64(&scratch[0])
    cdef double[::1] shift = np.empty(p)
    cdef double count = 0.0
    for j in range(d):
        shift[j] = X[0, j]
    shift[d] = y[0]
    with nogil:
        for c in prange(P.k, num_threads=P.n_threads, schedule="dynamic"):
            if pass_live(&P):
                _chunk_gram(&X[0, 0], &y[0], &shift[0], d, pass_row(&P, c),
                            pass_row(&P, c + 1), &part[c, 0], sbase + threadid() * width)
                pass_poll(&P, threadid())
    pass_end(&P)
    with nogil:
        memset(&mean[0], 0, p * sizeof(double))
        memset(&cov[0, 0], 0, p * p * sizeof(double))
        for c in range(P.k):
            # the chunks' statistics merged in their fixed order
            merge_gram(&count, &mean[0], &cov[0, 0], part[c, 0],
                        &part[c, 1], &part[c, 1 + p], p)
        for j in range(p):
            mean[j] += shift[j]
            for m in range(j + 1, p):
                cov[m, j] = cov[j, m]
