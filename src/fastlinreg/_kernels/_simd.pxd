# cython: language_level=3
"""Vector helpers and fused types shared by the kernels (a header only).

Everything here is ``inline``: a non-inline cdef function cimported from
another module is an indirect call, and these run once per row or less.
"""

from cython cimport floating

cdef extern from "flr_simd.h":
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
    flr_v2 flr_load1_d(const double* p) noexcept nogil
    flr_v2 flr_load1_f(const float* p) noexcept nogil
    flr_v2 flr_pair_sum(flr_v2 a, flr_v2 b) noexcept nogil
    flr_v2 flr_dup_lo(flr_v2 a) noexcept nogil
    flr_v2 flr_dup_hi(flr_v2 a) noexcept nogil
    void flr_prefetch(const void* p) noexcept nogil
    flr_v2 flr_load_a(const double* p) noexcept nogil
    void flr_store_a(double* p, flr_v2 v) noexcept nogil

# X and y may differ in precision; two fused types give all four combinations.
ctypedef fused xfloat:
    float
    double

ctypedef fused yfloat:
    float
    double

cdef enum:
    # Prefetch distances: a group of rows ahead (d features), and one
    # thread streaming two arrays.
    PF_BYTES = 4096
    PF_STREAM_BYTES = 1024


cdef inline flr_v2 load2(const xfloat* p) noexcept nogil:
    """Two consecutive values as doubles."""
    if xfloat is float:
        return flr_load_f(p)
    else:
        return flr_load_d(p)


cdef inline flr_v2 load1(const xfloat* p) noexcept nogil:
    """[p[0], 0] as doubles."""
    if xfloat is float:
        return flr_load1_f(p)
    else:
        return flr_load1_d(p)


cdef inline void prefetch_stream(const floating* a, Py_ssize_t i, Py_ssize_t last) noexcept nogil:
    """Ask for a[i + PF_STREAM_BYTES / itemsize] (at most a[last]) now: one
    thread streaming two arrays keeps more reads in flight than the hardware
    prefetcher alone starts (1e7 rows, d = 1: about 20% less time)."""
    cdef Py_ssize_t j = i + PF_STREAM_BYTES // <Py_ssize_t>sizeof(floating)
    flr_prefetch(a + (j if j < last else last))


cdef inline Py_ssize_t even_up(Py_ssize_t a) noexcept nogil:
    """a rounded up to even: the width of a row padded to whole 2-lane vectors."""
    return a + a % 2


cdef inline double* align64(double* p) noexcept nogil:
    """p rounded up to a multiple of 64 bytes (at most 7 doubles on)."""
    return <double*>((<size_t>p + 63) & ~(<size_t>63))


cdef inline double dot_centred(
    const xfloat* x, const double* m, const double* w, Py_ssize_t d,
) noexcept nogil:
    """(x − m) @ w for one row, in four interleaved partial sums."""
    cdef flr_v2 pa = flr_splat(0.0), pb = flr_splat(0.0)
    cdef Py_ssize_t j = 0, d4 = (d // 4) * 4
    cdef double p
    while j < d4:
        pa = flr_add(pa, flr_mul(flr_sub(load2(x + j), flr_load_d(m + j)), flr_load_d(w + j)))
        pb = flr_add(pb, flr_mul(flr_sub(load2(x + j + 2), flr_load_d(m + j + 2)),
                                 flr_load_d(w + j + 2)))
        j += 4
    p = flr_hsum(flr_add(pa, pb))
    while j < d:
        p += (x[j] - m[j]) * w[j]
        j += 1
    return p
