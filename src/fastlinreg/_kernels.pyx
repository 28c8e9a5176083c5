# cython: language_level=3
"""Compiled kernels of fastlinreg.

Every function here has a twin of the same name and signature in
``_numpy_kernels.py``; that twin is the readable specification and the
reference the tests hold these kernels to.

Conventions shared by all kernels
---------------------------------
* The Python layer validates everything first: ``X`` is C-contiguous with at
  least one row and one column, ``y`` has ``X.shape[0]`` entries, all values are
  finite, output buffers have the right length. Bounds checks are off.
* ``X`` and ``y`` are float32 or float64 (independently: a float32 ``X`` with a
  float64 ``y`` needs no copy of either); all sums are float64.
* Inputs are ``const`` memoryviews, so read-only arrays and memory maps work.
* Rows are cut into a fixed partition of chunks that depends only on ``n``; each
  chunk is reduced on its own (in blocks of ``_BLOCK`` rows) and the chunk
  results are merged in chunk order. The result is therefore bitwise identical
  for any number of threads. Threads take chunks dynamically, so one thread
  delayed by another process on the machine does not hold up the rest.
* Nothing proportional to ``n`` is allocated; no Python object is touched
  inside ``nogil``.
* Safe without a GIL (the module is declared free-threading compatible): it
  keeps no mutable module-level state, every scratch buffer belongs to one
  call, and the inputs are only read, so concurrent calls share nothing they
  write.
"""

from cython cimport floating
from cython.parallel cimport prange
from libc.string cimport memset

import numpy as np

cdef extern from *:
    """
    #if FASTLINREG_OPENMP
    #include <omp.h>
    static int fastlinreg_max_threads(void) { return omp_get_max_threads(); }
    #else
    static int fastlinreg_max_threads(void) { return 1; }
    #endif
    """
    int fastlinreg_max_threads() noexcept nogil
    int FASTLINREG_OPENMP

# Two-lane double vectors. Compilers do not vectorise a reduction on their own
# without -ffast-math (it would reorder the sum), so the d = 1 loop spells out
# its lanes: lane 0 sums the even rows, lane 1 the odd ones, on every platform.
# GCC/clang vector extensions (SSE2 on x86-64, NEON on arm64), SSE2 intrinsics
# on MSVC x64, plain C elsewhere: the same operations in the same order.
cdef extern from *:
    """
    #include <string.h>
    #if defined(__GNUC__) || defined(__clang__)
    typedef double flr_v2 __attribute__((vector_size(16)));
    static inline flr_v2 flr_splat(double a) { flr_v2 v = {a, a}; return v; }
    static inline flr_v2 flr_add(flr_v2 a, flr_v2 b) { return a + b; }
    static inline flr_v2 flr_sub(flr_v2 a, flr_v2 b) { return a - b; }
    static inline flr_v2 flr_mul(flr_v2 a, flr_v2 b) { return a * b; }
    static inline double flr_hsum(flr_v2 a) { return a[0] + a[1]; }
    static inline flr_v2 flr_load_d(const double *p) { flr_v2 v; memcpy(&v, p, sizeof v); return v; }
    static inline void flr_store_d(double *p, flr_v2 v) { memcpy(p, &v, sizeof v); }
    #if defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 9)
    typedef float flr_v2f __attribute__((vector_size(8)));
    static inline flr_v2 flr_load_f(const float *p) {
        flr_v2f v; memcpy(&v, p, sizeof v); return __builtin_convertvector(v, flr_v2); }
    #else
    static inline flr_v2 flr_load_f(const float *p) { flr_v2 v = {p[0], p[1]}; return v; }
    #endif
    #elif defined(_M_X64)
    #include <emmintrin.h>
    typedef __m128d flr_v2;
    static __inline flr_v2 flr_splat(double a) { return _mm_set1_pd(a); }
    static __inline flr_v2 flr_add(flr_v2 a, flr_v2 b) { return _mm_add_pd(a, b); }
    static __inline flr_v2 flr_sub(flr_v2 a, flr_v2 b) { return _mm_sub_pd(a, b); }
    static __inline flr_v2 flr_mul(flr_v2 a, flr_v2 b) { return _mm_mul_pd(a, b); }
    static __inline double flr_hsum(flr_v2 a) {
        return _mm_cvtsd_f64(a) + _mm_cvtsd_f64(_mm_unpackhi_pd(a, a)); }
    static __inline flr_v2 flr_load_d(const double *p) { return _mm_loadu_pd(p); }
    static __inline void flr_store_d(double *p, flr_v2 v) { _mm_storeu_pd(p, v); }
    static __inline flr_v2 flr_load_f(const float *p) {
        return _mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)p))); }
    #else
    typedef struct { double v[2]; } flr_v2;
    static flr_v2 flr_splat(double a) { flr_v2 r = {{a, a}}; return r; }
    static flr_v2 flr_add(flr_v2 a, flr_v2 b) { flr_v2 r = {{a.v[0] + b.v[0], a.v[1] + b.v[1]}}; return r; }
    static flr_v2 flr_sub(flr_v2 a, flr_v2 b) { flr_v2 r = {{a.v[0] - b.v[0], a.v[1] - b.v[1]}}; return r; }
    static flr_v2 flr_mul(flr_v2 a, flr_v2 b) { flr_v2 r = {{a.v[0] * b.v[0], a.v[1] * b.v[1]}}; return r; }
    static double flr_hsum(flr_v2 a) { return a.v[0] + a.v[1]; }
    static flr_v2 flr_load_d(const double *p) { flr_v2 r = {{p[0], p[1]}}; return r; }
    static flr_v2 flr_load_f(const float *p) { flr_v2 r = {{p[0], p[1]}}; return r; }
    static void flr_store_d(double *p, flr_v2 v) { p[0] = v.v[0]; p[1] = v.v[1]; }
    #endif
    """
    ctypedef struct flr_v2:
        pass
    flr_v2 flr_splat(double a) noexcept nogil
    flr_v2 flr_add(flr_v2 a, flr_v2 b) noexcept nogil
    flr_v2 flr_sub(flr_v2 a, flr_v2 b) noexcept nogil
    flr_v2 flr_mul(flr_v2 a, flr_v2 b) noexcept nogil
    double flr_hsum(flr_v2 a) noexcept nogil
    flr_v2 flr_load_d(const double* p) noexcept nogil
    flr_v2 flr_load_f(const float* p) noexcept nogil
    void flr_store_d(double* p, flr_v2 v) noexcept nogil

# X and y may differ in precision; two fused types give all four combinations.
ctypedef fused xfloat:
    float
    double

ctypedef fused yfloat:
    float
    double

# Rows summed into local accumulators before they join the chunk total: a
# two-level sum whose error grows with n / _BLOCK + _BLOCK, not with n.
# The row partition: at least _MIN_CHUNK_ROWS rows a chunk, at most _MAX_CHUNKS.
cdef enum:
    _BLOCK = 256
    _LANES = 8
    _MIN_CHUNK_ROWS = 8192
    _MAX_CHUNKS = 64

HAS_OPENMP = bool(FASTLINREG_OPENMP)


def max_threads() -> int:
    """Threads an OpenMP region would use by default (1 without OpenMP)."""
    return fastlinreg_max_threads()


def n_chunks_for(Py_ssize_t n) -> int:
    """Number of chunks the rows of an ``n``-row input are cut into."""
    return _n_chunks(n)


cdef inline Py_ssize_t _n_chunks(Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k = n // _MIN_CHUNK_ROWS
    if k < 1:
        return 1
    if k > _MAX_CHUNKS:
        return _MAX_CHUNKS
    return k


cdef inline int _threads_for(int n_threads, Py_ssize_t n_chunks) noexcept nogil:
    """Between 1 and the number of chunks: more threads would have no work."""
    if n_threads < 1:
        return 1
    if n_threads > n_chunks:
        return <int>n_chunks
    return n_threads


cdef inline Py_ssize_t _chunk_start(Py_ssize_t n, Py_ssize_t k, Py_ssize_t c) noexcept nogil:
    return (n * c) // k


# --------------------------------------------------------------------------
# Loss and gradient of the mean squared error
# --------------------------------------------------------------------------

cdef inline flr_v2 _load2(const xfloat* p) noexcept nogil:
    """Two consecutive values as doubles."""
    if xfloat is float:
        return flr_load_f(p)
    else:
        return flr_load_d(p)


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
        stop = start + _BLOCK
        if stop > end:
            stop = end
        la = lb = ra = rb = ga = gb = flr_splat(0.0)
        i = start
        while i < stop:
            # xc = x − m;  e = (y − yo) − b − xc·w
            # (NumPy: e = (y - yo) - b - (X[:, 0] - m) * w)
            xa = flr_sub(_load2(X + i), vm)
            xb = flr_sub(_load2(X + i + 2), vm)
            ea = flr_sub(flr_sub(flr_sub(_load2(y + i), vyo), vb), flr_mul(xa, vw))
            eb = flr_sub(flr_sub(flr_sub(_load2(y + i + 2), vyo), vb), flr_mul(xb, vw))
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


cdef inline double _lane_sum(const double* a) noexcept nogil:
    """Sum of _LANES accumulators, pairwise, in a fixed order."""
    cdef double s[_LANES]
    cdef Py_ssize_t k, width = _LANES // 2
    for k in range(_LANES):
        s[k] = a[k]
    while width >= 1:
        for k in range(width):
            s[k] = s[k] + s[k + width]
        width //= 2
    return s[0]


cdef inline double _dot_centred(
    const xfloat* x, const double* m, const double* w, Py_ssize_t d,
) noexcept nogil:
    """(x − m) @ w for one row, in four interleaved partial sums."""
    cdef flr_v2 pa = flr_splat(0.0), pb = flr_splat(0.0)
    cdef Py_ssize_t j = 0, d4 = (d // 4) * 4
    cdef double p
    while j < d4:
        pa = flr_add(pa, flr_mul(flr_sub(_load2(x + j), flr_load_d(m + j)), flr_load_d(w + j)))
        pb = flr_add(pb, flr_mul(flr_sub(_load2(x + j + 2), flr_load_d(m + j + 2)),
                                 flr_load_d(w + j + 2)))
        j += 4
    p = flr_hsum(flr_add(pa, pb))
    while j < d:
        p += (x[j] - m[j]) * w[j]
        j += 1
    return p


cdef void _chunk_loss_grad_d(
    const xfloat* X, const yfloat* y, const double* w, double b, const double* m,
    double yo, Py_ssize_t d, Py_ssize_t lo, Py_ssize_t hi, double* out, double* blk,
) noexcept nogil:
    """d features: out = [Σ e², Σ e, Σ e·(x_0 − m_0), ...]; blk is d scratch.

    Rows go in pairs and columns two at a time through 2-lane vectors: each
    pass over the block's gradient sums ``blk`` adds two rows, which halves
    its loads and stores.
    """
    cdef flr_v2 mv, va, vb
    cdef double e0, e1, sl, sr
    cdef const xfloat* x0
    cdef const xfloat* x1
    cdef Py_ssize_t i, j, start, stop, stop2
    cdef Py_ssize_t d2 = (d // 2) * 2
    memset(out, 0, (d + 2) * sizeof(double))
    start = lo
    while start < hi:
        stop = start + _BLOCK
        if stop > hi:
            stop = hi
        stop2 = start + ((stop - start) // 2) * 2
        sl = 0.0
        sr = 0.0
        memset(blk, 0, d * sizeof(double))
        i = start
        while i < stop2:
            x0 = X + i * d
            x1 = x0 + d
            # e_i = (y_i − yo) − b − (x_i − m) @ w, for rows i and i + 1
            e0 = (y[i] - yo) - b - _dot_centred(x0, m, w, d)
            e1 = (y[i + 1] - yo) - b - _dot_centred(x1, m, w, d)
            # loss += e_i²; grad_b += e_i
            sl += e0 * e0 + e1 * e1
            sr += e0 + e1
            # grad_w += e_i · (x_i − m) + e_{i+1} · (x_{i+1} − m)
            va = flr_splat(e0)
            vb = flr_splat(e1)
            j = 0
            while j < d2:
                mv = flr_load_d(m + j)
                flr_store_d(blk + j, flr_add(flr_load_d(blk + j), flr_add(
                    flr_mul(va, flr_sub(_load2(x0 + j), mv)),
                    flr_mul(vb, flr_sub(_load2(x1 + j), mv)))))
                j += 2
            if j < d:
                blk[j] += e0 * (x0[j] - m[j]) + e1 * (x1[j] - m[j])
            i += 2
        if i < stop:
            x0 = X + i * d
            e0 = (y[i] - yo) - b - _dot_centred(x0, m, w, d)
            sl += e0 * e0
            sr += e0
            for j in range(d):
                blk[j] += e0 * (x0[j] - m[j])
        out[0] += sl
        out[1] += sr
        for j in range(d):
            out[2 + j] += blk[j]
        start = stop


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
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1]
    cdef Py_ssize_t k = _n_chunks(n), c, j, lo, hi
    cdef double[:, ::1] part = np.empty((k, d + 2))
    cdef double[:, ::1] scratch = np.empty((k, d))
    cdef double loss = 0.0, gb = 0.0
    n_threads = _threads_for(n_threads, k)
    with nogil:
        for c in prange(k, num_threads=n_threads, schedule="dynamic"):
            lo = _chunk_start(n, k, c)
            hi = _chunk_start(n, k, c + 1)
            if d == 1:
                _chunk_loss_grad_1(&X[0, 0], &y[0], coef[0], intercept, x_offset[0],
                                   y_offset,
                                   lo, hi, &part[c, 0])
            else:
                _chunk_loss_grad_d(&X[0, 0], &y[0], &coef[0], intercept, &x_offset[0],
                                   y_offset,
                                   d, lo, hi, &part[c, 0], &scratch[c, 0])
        # Merge the chunks in their fixed order.
        for j in range(d):
            grad_coef[j] = 0.0
        for c in range(k):
            loss += part[c, 0]
            gb += part[c, 1]
            for j in range(d):
                grad_coef[j] += part[c, 2 + j]
        for j in range(d):
            grad_coef[j] *= -2.0 / n
    return loss / n, -2.0 * gb / n


# --------------------------------------------------------------------------
# Column means and centred sums of squares
# --------------------------------------------------------------------------

cdef inline void _merge_moments(
    double* n_a, double* mean_a, double* m2_a,
    double n_b, const double* mean_b, const double* m2_b, Py_ssize_t p,
) noexcept nogil:
    """Chan et al.'s pairwise update: fold (n_b, mean_b, m2_b) into (n_a, ...)."""
    cdef double n = n_a[0] + n_b, delta, f
    cdef Py_ssize_t j
    if n_b == 0.0:
        return
    f = n_b / n
    for j in range(p):
        delta = mean_b[j] - mean_a[j]
        mean_a[j] += delta * f
        m2_a[j] += m2_b[j] + delta * delta * n_a[0] * f
    n_a[0] = n


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
        stop = start + _BLOCK
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
        _merge_moments(out, mean, m2, nb, bmean, bm2, p)
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
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], p = d + 1
    cdef Py_ssize_t k = _n_chunks(n), c, lo, hi
    cdef double[:, ::1] part = np.empty((k, 1 + 2 * p))
    cdef double[:, ::1] scratch = np.empty((k, 2 * p))
    cdef double count = 0.0
    n_threads = _threads_for(n_threads, k)
    with nogil:
        for c in prange(k, num_threads=n_threads, schedule="dynamic"):
            lo = _chunk_start(n, k, c)
            hi = _chunk_start(n, k, c + 1)
            _chunk_moments(&X[0, 0], &y[0], d, lo, hi, &part[c, 0], &scratch[c, 0])
        memset(&mean[0], 0, p * sizeof(double))
        memset(&m2[0], 0, p * sizeof(double))
        for c in range(k):
            _merge_moments(&count, &mean[0], &m2[0], part[c, 0],
                           &part[c, 1], &part[c, 1 + p], p)


# --------------------------------------------------------------------------
# Sufficient statistics of the squared loss: means and centred cross-products
# --------------------------------------------------------------------------

cdef void _merge_gram(
    double* n_a, double* mean_a, double* c_a,
    double n_b, const double* mean_b, const double* c_b, Py_ssize_t p,
) noexcept nogil:
    """Chan et al.'s pairwise update for means and centred cross-products.

    C_a ← C_a + C_b + δ δᵀ · n_a n_b / n with δ = mean_b − mean_a (upper
    triangles of row-major p × p matrices), then the means and the count.
    """
    cdef double n = n_a[0] + n_b, f, g
    cdef Py_ssize_t j, k
    if n_b == 0.0:
        return
    f = n_b / n
    g = n_a[0] * f
    for j in range(p):
        for k in range(j, p):
            c_a[j * p + k] += c_b[j * p + k] + (mean_b[j] - mean_a[j]) * (mean_b[k] - mean_a[k]) * g
    for j in range(p):
        mean_a[j] += (mean_b[j] - mean_a[j]) * f
    n_a[0] = n


cdef void _block_gram_1(
    const xfloat* X, const yfloat* y, const double* shift,
    Py_ssize_t start, Py_ssize_t stop, double* bmean, double* bc,
) noexcept nogil:
    """One feature: means of x − sx and y − sy over a block, and its centred
    [[Σzx², Σzx·zy], [·, Σzy²]] in bc (2 × 2, upper triangle).

    Two passes over the block (it is in cache for the second), each with two
    2-lane accumulators per sum: rows ≡ k (mod 4) go to accumulator k.
    """
    cdef flr_v2 sxa, sxb, sya, syb, vmx, vmy, zxa, zxb, zya, zyb
    cdef flr_v2 cxxa, cxxb, cxya, cxyb, cyya, cyyb
    cdef flr_v2 vsx = flr_splat(shift[0]), vsy = flr_splat(shift[1])
    cdef double nb = <double>(stop - start), mx, my, tx, ty
    cdef Py_ssize_t i, j, end = start + ((stop - start) // 4) * 4
    # bmean = [(x − sx).mean(), (y − sy).mean()]
    sxa = sxb = sya = syb = flr_splat(0.0)
    i = start
    while i < end:
        sxa = flr_add(sxa, flr_sub(_load2(X + i), vsx))
        sxb = flr_add(sxb, flr_sub(_load2(X + i + 2), vsx))
        sya = flr_add(sya, flr_sub(_load2(y + i), vsy))
        syb = flr_add(syb, flr_sub(_load2(y + i + 2), vsy))
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
    # bc = [[zx @ zx, zx @ zy], [., zy @ zy]], zx = (x − sx) − mx, zy = (y − sy) − my
    vmx = flr_splat(mx)
    vmy = flr_splat(my)
    cxxa = cxxb = cxya = cxyb = cyya = cyyb = flr_splat(0.0)
    i = start
    while i < end:
        zxa = flr_sub(flr_sub(_load2(X + i), vsx), vmx)
        zxb = flr_sub(flr_sub(_load2(X + i + 2), vsx), vmx)
        zya = flr_sub(flr_sub(_load2(y + i), vsy), vmy)
        zyb = flr_sub(flr_sub(_load2(y + i + 2), vsy), vmy)
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
    Py_ssize_t start, Py_ssize_t stop, double* bmean, double* bc, double* z0, double* z1,
) noexcept nogil:
    """d features: means of the columns of [X | y] − shift over a block, and
    the upper triangle of its centred cross-product matrix (p × p, p = d + 1)
    in bc. Rows go in pairs so that each pass over bc adds two outer products."""
    cdef Py_ssize_t p = d + 1, i, j, k
    cdef double nb = <double>(stop - start), a0, a1
    cdef const xfloat* x
    memset(bmean, 0, p * sizeof(double))
    memset(bc, 0, p * p * sizeof(double))
    # bmean = ([X | y][start:stop] − shift).mean(axis=0)
    for i in range(start, stop):
        x = X + i * d
        for j in range(d):
            bmean[j] += x[j] - shift[j]
        bmean[d] += y[i] - shift[d]
    for j in range(p):
        bmean[j] /= nb
    # bc += z_i z_iᵀ + z_{i+1} z_{i+1}ᵀ   (NumPy: Z.T @ Z, Z = block − shift − bmean)
    i = start
    while i < stop:
        x = X + i * d
        for j in range(d):
            z0[j] = (x[j] - shift[j]) - bmean[j]
        z0[d] = (y[i] - shift[d]) - bmean[d]
        if i + 1 < stop:
            x = x + d
            for j in range(d):
                z1[j] = (x[j] - shift[j]) - bmean[j]
            z1[d] = (y[i + 1] - shift[d]) - bmean[d]
        else:
            memset(z1, 0, p * sizeof(double))
        for j in range(p):
            a0 = z0[j]
            a1 = z1[j]
            for k in range(j, p):
                bc[j * p + k] += a0 * z0[k] + a1 * z1[k]
        i += 2


cdef void _chunk_gram(
    const xfloat* X, const yfloat* y, const double* shift, Py_ssize_t d,
    Py_ssize_t lo, Py_ssize_t hi, double* out, double* scratch,
) noexcept nogil:
    """out = [count, mean (p), C (p × p upper triangle)] over rows lo..hi,
    the means relative to shift. scratch holds p·p + 3·p doubles.
    """
    cdef Py_ssize_t p = d + 1, start, stop
    cdef double* bmean = scratch
    cdef double* bc = scratch + p
    cdef double* z0 = bc + p * p
    cdef double* z1 = z0 + p
    memset(out, 0, (1 + p + p * p) * sizeof(double))
    start = lo
    while start < hi:
        stop = start + _BLOCK
        if stop > hi:
            stop = hi
        if d == 1:
            _block_gram_1(X, y, shift, start, stop, bmean, bc)
        else:
            _block_gram_d(X, y, shift, d, start, stop, bmean, bc, z0, z1)
        _merge_gram(out, out + 1, out + 1 + p, <double>(stop - start), bmean, bc, p)
        start = stop


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
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], p = d + 1
    cdef Py_ssize_t k = _n_chunks(n), c, j, m, lo, hi
    cdef double[:, ::1] part = np.empty((k, 1 + p + p * p))
    cdef double[:, ::1] scratch = np.empty((k, p * p + 3 * p))
    cdef double[::1] shift = np.empty(p)
    cdef double count = 0.0
    for j in range(d):
        shift[j] = X[0, j]
    shift[d] = y[0]
    n_threads = _threads_for(n_threads, k)
    with nogil:
        for c in prange(k, num_threads=n_threads, schedule="dynamic"):
            lo = _chunk_start(n, k, c)
            hi = _chunk_start(n, k, c + 1)
            _chunk_gram(&X[0, 0], &y[0], &shift[0], d, lo, hi, &part[c, 0],
                        &scratch[c, 0])
        memset(&mean[0], 0, p * sizeof(double))
        memset(&cov[0, 0], 0, p * p * sizeof(double))
        for c in range(k):
            _merge_gram(&count, &mean[0], &cov[0, 0], part[c, 0],
                        &part[c, 1], &part[c, 1 + p], p)
        for j in range(p):
            mean[j] += shift[j]
            for m in range(j + 1, p):
                cov[m, j] = cov[j, m]
