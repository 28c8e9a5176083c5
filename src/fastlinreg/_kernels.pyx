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
  delayed by another process on the machine does not hold up the rest. A
  pending KeyboardInterrupt stops a pass between chunks (see ``_Interrupt``).
* Nothing proportional to ``n`` is allocated; no Python object is touched
  inside ``nogil``.
* Safe without a GIL (the module is declared free-threading compatible): it
  keeps no mutable module-level state, every scratch buffer belongs to one
  call, and the inputs are only read, so concurrent calls share nothing they
  write.
"""

from cython cimport floating
from cython.parallel cimport prange, threadid
from libc.math cimport INFINITY, fabs, frexp, ldexp, sqrt
from libc.string cimport memset

import os
import threading

import numpy as np

cdef extern from *:
    """
    #if FASTLINREG_OPENMP
    #include <omp.h>
    static int fastlinreg_max_threads(void) { return omp_get_max_threads(); }
    static double flr_seconds(void) { return omp_get_wtime(); }
    #else
    #include <time.h>
    static int fastlinreg_max_threads(void) { return 1; }
    /* processor time: one thread, busy, so close to wall time */
    static double flr_seconds(void) { return (double)clock() / CLOCKS_PER_SEC; }
    #endif
    """
    int fastlinreg_max_threads() noexcept nogil
    double flr_seconds() noexcept nogil
    int FASTLINREG_OPENMP

# Two-lane double vectors. Compilers do not vectorise a reduction on their own
# without -ffast-math (it would reorder the sum), so the d = 1 loop spells out
# its lanes: lane 0 sums the even rows, lane 1 the odd ones, on every platform.
# GCC/clang vector extensions (SSE2 on x86-64, NEON on arm64), SSE2 intrinsics
# on MSVC x64, plain C elsewhere: the same operations in the same order.
# flr_load1_* read [p[0], 0]; flr_pair_sum(a, b) = [a0 + a1, b0 + b1];
# flr_dup_lo/hi splat one lane; flr_load_a/flr_store_a need 16-byte aligned
# addresses (they let SSE2 fold the load into the arithmetic); flr_prefetch
# is a cache hint (a no-op in plain C).
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
    static inline flr_v2 flr_load1_d(const double *p) { flr_v2 v = {p[0], 0.0}; return v; }
    static inline flr_v2 flr_load1_f(const float *p) { flr_v2 v = {p[0], 0.0}; return v; }
    static inline flr_v2 flr_pair_sum(flr_v2 a, flr_v2 b) {
        flr_v2 lo = {a[0], b[0]}, hi = {a[1], b[1]}; return lo + hi; }
    static inline flr_v2 flr_dup_lo(flr_v2 a) { flr_v2 v = {a[0], a[0]}; return v; }
    static inline flr_v2 flr_dup_hi(flr_v2 a) { flr_v2 v = {a[1], a[1]}; return v; }
    static inline void flr_prefetch(const void *p) { __builtin_prefetch(p); }
    typedef double flr_v2a __attribute__((vector_size(16), may_alias));
    static inline flr_v2 flr_load_a(const double *p) { return *(const flr_v2a *)p; }
    static inline void flr_store_a(double *p, flr_v2 v) { *(flr_v2a *)p = v; }
    #if defined(__SSE2__)
    /* GCC spells the generic conversion below as two scalar conversions and
       a shuffle; one movq + cvtps2pd is what it should be. */
    #include <emmintrin.h>
    static inline flr_v2 flr_load_f(const float *p) {
        return (flr_v2)_mm_cvtps_pd(_mm_castsi128_ps(_mm_loadl_epi64((const __m128i *)p))); }
    #elif defined(__clang__) || (defined(__GNUC__) && __GNUC__ >= 9)
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
    static __inline flr_v2 flr_load1_d(const double *p) { return _mm_load_sd(p); }
    static __inline flr_v2 flr_load1_f(const float *p) { return _mm_set_sd((double)p[0]); }
    static __inline flr_v2 flr_pair_sum(flr_v2 a, flr_v2 b) {
        return _mm_add_pd(_mm_unpacklo_pd(a, b), _mm_unpackhi_pd(a, b)); }
    static __inline flr_v2 flr_dup_lo(flr_v2 a) { return _mm_unpacklo_pd(a, a); }
    static __inline flr_v2 flr_dup_hi(flr_v2 a) { return _mm_unpackhi_pd(a, a); }
    static __inline void flr_prefetch(const void *p) { _mm_prefetch((const char *)p, _MM_HINT_T0); }
    static __inline flr_v2 flr_load_a(const double *p) { return _mm_load_pd(p); }
    static __inline void flr_store_a(double *p, flr_v2 v) { _mm_store_pd(p, v); }
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
    static flr_v2 flr_load1_d(const double *p) { flr_v2 r = {{p[0], 0.0}}; return r; }
    static flr_v2 flr_load1_f(const float *p) { flr_v2 r = {{p[0], 0.0}}; return r; }
    static flr_v2 flr_pair_sum(flr_v2 a, flr_v2 b) {
        flr_v2 r = {{a.v[0] + a.v[1], b.v[0] + b.v[1]}}; return r; }
    static flr_v2 flr_dup_lo(flr_v2 a) { flr_v2 r = {{a.v[0], a.v[0]}}; return r; }
    static flr_v2 flr_dup_hi(flr_v2 a) { flr_v2 r = {{a.v[1], a.v[1]}}; return r; }
    static void flr_prefetch(const void *p) { (void)p; }
    static flr_v2 flr_load_a(const double *p) { flr_v2 r = {{p[0], p[1]}}; return r; }
    static void flr_store_a(double *p, flr_v2 v) { p[0] = v.v[0]; p[1] = v.v[1]; }
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

# Rows summed into local accumulators before they join the chunk total: a
# two-level sum whose error grows with n / _BLOCK + _BLOCK, not with n.
# The row partition: at least _MIN_CHUNK_ROWS rows a chunk, at most _MAX_CHUNKS.
cdef enum:
    _BLOCK = 256
    _LANES = 8
    _MIN_CHUNK_ROWS = 8192
    _MAX_CHUNKS = 64
    _PF_BYTES = 4096
    _PF_STREAM_BYTES = 1024

HAS_OPENMP = bool(FASTLINREG_OPENMP)

# What this build was compiled with, for fastlinreg.show_config(): a wheel
# built with -march=native would show here as an ISA beyond the baseline.
cdef extern from *:
    """
    #define FLR_STR_(x) #x
    #define FLR_STR(x) FLR_STR_(x)
    #if defined(__clang__)
    #define FLR_COMPILER "clang " __clang_version__
    #elif defined(__GNUC__)
    #define FLR_COMPILER "gcc " __VERSION__
    #elif defined(_MSC_VER)
    #define FLR_COMPILER "msvc " FLR_STR(_MSC_FULL_VER)
    #else
    #define FLR_COMPILER "unknown"
    #endif
    #if defined(__AVX512F__)
    #define FLR_ISA "AVX-512F"
    #elif defined(__AVX2__)
    #define FLR_ISA "AVX2"
    #elif defined(__AVX__)
    #define FLR_ISA "AVX"
    #elif defined(__SSE2__) || defined(_M_X64)
    #define FLR_ISA "SSE2"
    #elif defined(__ARM_NEON) || defined(_M_ARM64)
    #define FLR_ISA "NEON"
    #else
    #define FLR_ISA "none"
    #endif
    #if defined(__GNUC__) || defined(__clang__)
    #define FLR_VECTORS "compiler vector extensions"
    #elif defined(_M_X64)
    #define FLR_VECTORS "SSE2 intrinsics"
    #else
    #define FLR_VECTORS "plain C"
    #endif
    #if FASTLINREG_OPENMP && defined(_OPENMP)
    #define FLR_OPENMP_VERSION _OPENMP
    #else
    #define FLR_OPENMP_VERSION 0
    #endif
    """
    const char* FLR_COMPILER
    const char* FLR_ISA
    const char* FLR_VECTORS
    int FLR_OPENMP_VERSION
    long CYTHON_HEX_VERSION

BUILD_INFO = {
    "compiler": FLR_COMPILER.decode("utf-8", "replace").strip(),
    "instruction set": FLR_ISA.decode(),
    "two-lane vectors": FLR_VECTORS.decode(),
    "cython": ".".join(str((CYTHON_HEX_VERSION >> s) & 0xFF) for s in (24, 16, 8)),
    "openmp": bool(FASTLINREG_OPENMP),
    # _OPENMP: the year and month of the specification the compiler follows.
    "openmp version": str(FLR_OPENMP_VERSION) if FLR_OPENMP_VERSION else None,
}

# Ctrl-C inside one pass. The chunks of a pass run in one parallel region.
# When the call comes from the main thread, thread 0 of the team (that same
# thread) takes the GIL between two of its chunks, at most once every _POLL_MS
# milliseconds, to run the signal handlers; once one raises, every thread
# skips the chunks left and the call raises. Taking the GIL can wait for
# another Python thread's switch interval (5 ms), so it is done rarely, and
# never from other threads (the rounds this replaced took it back 8 times a
# pass on any thread: a call from a worker thread beside a busy Python thread
# took 55 ms instead of 21 at 1e7 rows).
cdef enum:
    _POLL_MS = 50

cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    static inline int flr_flag_get(const int *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
    static inline void flr_flag_set(int *p) { __atomic_store_n(p, 1, __ATOMIC_RELAXED); }
    #else
    static int flr_flag_get(const int *p) { return *(const volatile int *)p; }
    static void flr_flag_set(int *p) { *(volatile int *)p = 1; }
    #endif
    /* -1 with the exception a signal handler raised still set */
    static int flr_error_pending(void) { return PyErr_Occurred() ? -1 : 0; }
    """
    int flr_flag_get(const int* p) noexcept nogil
    void flr_flag_set(int* p) noexcept nogil
    int flr_error_pending() except -1

cdef extern from "Python.h":
    int PyErr_CheckSignals() except -1
    # The same call, leaving the exception set for flr_error_pending.
    int _run_signal_handlers "PyErr_CheckSignals"() noexcept
    unsigned long PyThread_get_thread_ident() noexcept

# The thread Python runs signal handlers in. Read-only but for fork(): in the
# child, the thread that forked (maybe not the parent's main thread) is the
# only one, and the one the handlers run in.
cdef unsigned long _MAIN_THREAD = threading.main_thread().ident


def _main_thread_after_fork() -> None:
    global _MAIN_THREAD
    _MAIN_THREAD = PyThread_get_thread_ident()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_main_thread_after_fork)


cdef struct _Interrupt:
    bint poll         # called from the main thread: look for Ctrl-C
    int stop          # a handler raised: skip the chunks left (read by all threads)
    double next_poll  # flr_seconds() at which thread 0 looks next


cdef inline void _interrupt_init(_Interrupt* it) noexcept:
    it.poll = PyThread_get_thread_ident() == _MAIN_THREAD
    it.stop = 0
    it.next_poll = flr_seconds() + _POLL_MS / 1000.0


cdef inline bint _interrupted(_Interrupt* it) noexcept nogil:
    return flr_flag_get(&it.stop) != 0


cdef void _poll_interrupt(_Interrupt* it, int thread) noexcept nogil:
    """After a chunk: thread 0 runs the signal handlers if it is time to."""
    cdef double now
    if not it.poll or thread != 0:
        return
    now = flr_seconds()
    if now < it.next_poll:
        return
    it.next_poll = now + _POLL_MS / 1000.0
    with gil:
        if _run_signal_handlers() != 0:
            flr_flag_set(&it.stop)


cdef inline int _raise_interrupt(_Interrupt* it) except -1:
    """With the GIL, after the parallel region: raise what a handler raised."""
    if it.stop:
        return flr_error_pending()
    return 0


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


cdef inline Py_ssize_t _even_up(Py_ssize_t a) noexcept nogil:
    """a rounded up to even: the width of a row padded to whole 2-lane vectors."""
    return a + a % 2


# --------------------------------------------------------------------------
# Loss and gradient of the mean squared error
# --------------------------------------------------------------------------

cdef inline flr_v2 _load2(const xfloat* p) noexcept nogil:
    """Two consecutive values as doubles."""
    if xfloat is float:
        return flr_load_f(p)
    else:
        return flr_load_d(p)


cdef inline void _prefetch_stream(const floating* a, Py_ssize_t i, Py_ssize_t last) noexcept nogil:
    """Ask for a[i + _PF_STREAM_BYTES / itemsize] (at most a[last]) now: one
    thread streaming two arrays keeps more reads in flight than the hardware
    prefetcher alone starts (1e7 rows, d = 1: about 20% less time)."""
    cdef Py_ssize_t j = i + _PF_STREAM_BYTES // <Py_ssize_t>sizeof(floating)
    flr_prefetch(a + (j if j < last else last))


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
            _prefetch_stream(X, i, hi - 1)
            _prefetch_stream(y, i, hi - 1)
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


cdef inline double* _align64(double* p) noexcept nogil:
    """p rounded up to a multiple of 64 bytes (at most 7 doubles on)."""
    return <double*>((<size_t>p + 63) & ~(<size_t>63))


cdef inline flr_v2 _load1(const xfloat* p) noexcept nogil:
    """[p[0], 0] as doubles."""
    if xfloat is float:
        return flr_load1_f(p)
    else:
        return flr_load1_d(p)


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


cdef inline void _add_group(
    double* g, const double* z, flr_v2 ea, flr_v2 eb, flr_v2 ec, flr_v2 ed,
) noexcept nogil:
    """One column pair of a group of four rows: g[:2] += Σ_r e_r z[2r:2r + 2].
    g and z are 16-byte aligned."""
    cdef flr_v2 t = flr_add(flr_mul(ea, flr_load_a(z)), flr_mul(eb, flr_load_a(z + 2)))
    cdef flr_v2 u = flr_add(flr_mul(ec, flr_load_a(z + 4)), flr_mul(ed, flr_load_a(z + 6)))
    flr_store_a(g, flr_add(flr_load_a(g), flr_add(t, u)))


cdef inline Py_ssize_t _mwg_at(Py_ssize_t j, int k) noexcept nogil:
    """Index of m[j] (k = 0), w[j] (1) or g[j] (2) in _chunk_loss_grad_d's
    ``mwg``: six doubles a column pair, [m, m, w, w, g, g]."""
    return 3 * (j - j % 2) + 2 * k + j % 2


cdef void _chunk_loss_grad_d(
    const xfloat* X, const yfloat* y, const double* w, double b, const double* m,
    double yo, Py_ssize_t d, Py_ssize_t lo, Py_ssize_t hi, double* out,
    double* scratch,
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
    cdef Py_ssize_t d2 = _even_up(d), dd = d - d % 2
    cdef double* mwg = scratch
    cdef double* za = mwg + 3 * d2
    cdef double* zb = za + 4 * d2
    cdef double* zt
    cdef const xfloat* x0
    cdef const xfloat* x1
    cdef const xfloat* x2
    cdef const xfloat* x3
    cdef flr_v2 p[4]
    cdef flr_v2 e01, e23, ea, eb, ec, ed, sl, sr
    cdef flr_v2 vyo = flr_splat(yo), b0 = flr_load1_d(&b)
    cdef double e
    cdef bint pending
    cdef Py_ssize_t row_bytes = d * sizeof(xfloat), x_bytes = hi * row_bytes, pf
    cdef const char* pfp
    cdef Py_ssize_t i, j, start, stop, stop4
    memset(out, 0, (d + 2) * sizeof(double))
    # The first sweep of a block adds 0 · za: za must hold finite values.
    memset(mwg, 0, 11 * d2 * sizeof(double))
    for j in range(d):
        mwg[_mwg_at(j, 0)] = m[j]
        mwg[_mwg_at(j, 1)] = w[j]
    ea = eb = ec = ed = flr_splat(0.0)
    start = lo
    while start < hi:
        stop = start + _BLOCK
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
            x0 = X + i * d
            x1 = x0 + d
            x2 = x1 + d
            x3 = x2 + d
            # Prefetch the next group's rows and _PF_BYTES more, one 64-byte
            # line a column pair: as many bytes as a group takes (the
            # hardware prefetcher alone loses track of four interleaved rows).
            pf = (i + 4) * row_bytes + _PF_BYTES
            if pf > x_bytes - 4 * row_bytes:
                pf = x_bytes - 4 * row_bytes
            pfp = <const char*>X + pf
            # p_r = [b, 0] + Σ_j (x_r − m)[j:j + 2] * w[j:j + 2]
            # (NumPy: z = X[i:i + 4] - m;  p = b + z @ w)
            p[0] = p[1] = p[2] = p[3] = b0
            j = 0
            while j < dd:
                flr_prefetch(pfp + 4 * sizeof(xfloat) * j)
                _centre_group(_load2(x0 + j), _load2(x1 + j), _load2(x2 + j),
                              _load2(x3 + j), mwg + 3 * j, zb + 4 * j, p)
                # previous group: grad_w += e @ z   (g[j:j + 2])
                _add_group(mwg + 3 * j + 4, za + 4 * j, ea, eb, ec, ed)
                j += 2
            if j < d:
                flr_prefetch(pfp + 4 * sizeof(xfloat) * j)
                _centre_group(_load1(x0 + j), _load1(x1 + j), _load1(x2 + j),
                              _load1(x3 + j), mwg + 3 * j, zb + 4 * j, p)
                _add_group(mwg + 3 * j + 4, za + 4 * j, ea, eb, ec, ed)
            # e = (y − yo) − p, two rows a vector
            e01 = flr_sub(flr_sub(_load2(y + i), vyo), flr_pair_sum(p[0], p[1]))
            e23 = flr_sub(flr_sub(_load2(y + i + 2), vyo), flr_pair_sum(p[2], p[3]))
            # loss += e @ e
            sl = flr_add(sl, flr_add(flr_mul(e01, e01), flr_mul(e23, e23)))
            # grad_b += e.sum()
            sr = flr_add(sr, flr_add(e01, e23))
            ea = flr_dup_lo(e01)
            eb = flr_dup_hi(e01)
            ec = flr_dup_lo(e23)
            ed = flr_dup_hi(e23)
            zt = za
            za = zb
            zb = zt
            pending = True
            i += 4
        if pending:
            # the block's last group: grad_w += e @ z
            j = 0
            while j < d2:
                _add_group(mwg + 3 * j + 4, za + 4 * j, ea, eb, ec, ed)
                j += 2
            ea = eb = ec = ed = flr_splat(0.0)
        out[0] += flr_hsum(sl)
        out[1] += flr_hsum(sr)
        while i < stop:
            x0 = X + i * d
            # e = (y − yo) − b − (x − m) @ w
            e = (y[i] - yo) - b - _dot_centred(x0, m, w, d)
            # loss += e²; grad_b += e
            out[0] += e * e
            out[1] += e
            # grad_w += e · (x − m)
            for j in range(d):
                mwg[_mwg_at(j, 2)] += e * (x0[j] - m[j])
            i += 1
        for j in range(d):
            out[2 + j] += mwg[_mwg_at(j, 2)]
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
    cdef _Interrupt it
    cdef double[:, ::1] part = np.empty((k, d + 2))
    # Scratch of _chunk_loss_grad_d: 64-byte aligned, a whole number of cache
    # lines a chunk (no false sharing between threads).
    cdef Py_ssize_t width = (11 * _even_up(d) + 7) // 8 * 8
    cdef double[::1] scratch = np.empty(k * width + 8)
    cdef double* sbase = _align64(&scratch[0])
    cdef double loss = 0.0, gb = 0.0
    n_threads = _threads_for(n_threads, k)
    _interrupt_init(&it)
    with nogil:
        for c in prange(k, num_threads=n_threads, schedule="dynamic"):
            if not _interrupted(&it):
                lo = _chunk_start(n, k, c)
                hi = _chunk_start(n, k, c + 1)
                if d == 1:
                    _chunk_loss_grad_1(&X[0, 0], &y[0], coef[0], intercept, x_offset[0],
                                       y_offset,
                                       lo, hi, &part[c, 0])
                else:
                    _chunk_loss_grad_d(&X[0, 0], &y[0], &coef[0], intercept, &x_offset[0],
                                       y_offset,
                                       d, lo, hi, &part[c, 0], sbase + c * width)
                _poll_interrupt(&it, threadid())
    _raise_interrupt(&it)
    with nogil:
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
    cdef _Interrupt it
    cdef double[:, ::1] part = np.empty((k, 1 + 2 * p))
    cdef double[:, ::1] scratch = np.empty((k, 2 * p))
    cdef double count = 0.0
    n_threads = _threads_for(n_threads, k)
    _interrupt_init(&it)
    with nogil:
        for c in prange(k, num_threads=n_threads, schedule="dynamic"):
            if not _interrupted(&it):
                lo = _chunk_start(n, k, c)
                hi = _chunk_start(n, k, c + 1)
                _chunk_moments(&X[0, 0], &y[0], d, lo, hi, &part[c, 0], &scratch[c, 0])
                _poll_interrupt(&it, threadid())
    _raise_interrupt(&it)
    with nogil:
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
    Py_ssize_t start, Py_ssize_t stop, Py_ssize_t last, double* bmean, double* bc,
    double* z,
) noexcept nogil:
    """One feature: means of x − sx and y − sy over a block, and its centred
    [[Σzx², Σzx·zy], [·, Σzy²]] in bc (2 × 2, upper triangle).

    Two passes over the block (it is in cache for the second), each with two
    2-lane accumulators per sum: rows ≡ k (mod 4) go to accumulator k. With
    float32 input the first also keeps x − sx and y − sy in ``z`` (2·_BLOCK
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
    cdef double* zy = z + _BLOCK
    cdef Py_ssize_t i, j, k, end = start + ((stop - start) // 4) * 4
    # bmean = [(x − sx).mean(), (y − sy).mean()]  (float32: kept in zx, zy)
    sxa = sxb = sya = syb = flr_splat(0.0)
    i = start
    while i < end:
        _prefetch_stream(X, i, last)
        _prefetch_stream(y, i, last)
        k = i - start
        zxa = flr_sub(_load2(X + i), vsx)
        zxb = flr_sub(_load2(X + i + 2), vsx)
        zya = flr_sub(_load2(y + i), vsy)
        zyb = flr_sub(_load2(y + i + 2), vsy)
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
        _prefetch_stream(X, i + _BLOCK, last)
        _prefetch_stream(y, i + _BLOCK, last)
        k = i - start
        if xfloat is float or yfloat is float:
            zxa = flr_load_a(zx + k)
            zxb = flr_load_a(zx + k + 2)
            zya = flr_load_a(zy + k)
            zyb = flr_load_a(zy + k + 2)
        else:
            zxa = flr_sub(_load2(X + i), vsx)
            zxb = flr_sub(_load2(X + i + 2), vsx)
            zya = flr_sub(_load2(y + i), vsy)
            zyb = flr_sub(_load2(y + i + 2), vsy)
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


cdef inline void _gram_tile4(
    const double* z, Py_ssize_t p2, Py_ssize_t nb, Py_ssize_t j, Py_ssize_t k,
    double* t,
) noexcept nogil:
    """t = Z[:, j:j + 2].T @ Z[:, k:k + 4] (2 × 4, row-major) for the
    row-major block z: nb rows (even) of p2 doubles, 16-byte aligned. Even
    and odd rows have accumulators of their own (eight, in registers)."""
    cdef flr_v2 c00 = flr_splat(0.0), c01 = c00, c10 = c00, c11 = c00
    cdef flr_v2 d00 = c00, d01 = c00, d10 = c00, d11 = c00
    cdef flr_v2 a0, a1, b0, b1
    cdef const double* r = z
    cdef const double* end = z + nb * p2
    while r < end:
        # C[j:j + 2, k:k + 4] += np.outer(z_i[j:j + 2], z_i[k:k + 4])
        a0 = flr_splat(r[j])
        a1 = flr_splat(r[j + 1])
        b0 = flr_load_a(r + k)
        b1 = flr_load_a(r + k + 2)
        c00 = flr_add(c00, flr_mul(a0, b0))
        c01 = flr_add(c01, flr_mul(a0, b1))
        c10 = flr_add(c10, flr_mul(a1, b0))
        c11 = flr_add(c11, flr_mul(a1, b1))
        r += p2
        a0 = flr_splat(r[j])
        a1 = flr_splat(r[j + 1])
        b0 = flr_load_a(r + k)
        b1 = flr_load_a(r + k + 2)
        d00 = flr_add(d00, flr_mul(a0, b0))
        d01 = flr_add(d01, flr_mul(a0, b1))
        d10 = flr_add(d10, flr_mul(a1, b0))
        d11 = flr_add(d11, flr_mul(a1, b1))
        r += p2
    flr_store_d(t, flr_add(c00, d00))
    flr_store_d(t + 2, flr_add(c01, d01))
    flr_store_d(t + 4, flr_add(c10, d10))
    flr_store_d(t + 6, flr_add(c11, d11))


cdef inline void _gram_tile2(
    const double* z, Py_ssize_t p2, Py_ssize_t nb, Py_ssize_t j, Py_ssize_t k,
    double* t,
) noexcept nogil:
    """_gram_tile4 for the last column pair: t[:2], t[4:6] = the 2 × 2 block
    Z[:, j:j + 2].T @ Z[:, k:k + 2]. A copy of its loop on purpose: one
    function with a width flag, or a per-row helper taking the accumulators
    by pointer, compiled to code 6% slower (measured at 4, 10 and 48
    features)."""
    cdef flr_v2 c00 = flr_splat(0.0), c10 = c00, d00 = c00, d10 = c00
    cdef flr_v2 a0, a1, b0
    cdef const double* r = z
    cdef const double* end = z + nb * p2
    while r < end:
        # C[j:j + 2, k:k + 2] += np.outer(z_i[j:j + 2], z_i[k:k + 2])
        a0 = flr_splat(r[j])
        a1 = flr_splat(r[j + 1])
        b0 = flr_load_a(r + k)
        c00 = flr_add(c00, flr_mul(a0, b0))
        c10 = flr_add(c10, flr_mul(a1, b0))
        r += p2
        a0 = flr_splat(r[j])
        a1 = flr_splat(r[j + 1])
        b0 = flr_load_a(r + k)
        d00 = flr_add(d00, flr_mul(a0, b0))
        d10 = flr_add(d10, flr_mul(a1, b0))
        r += p2
    flr_store_d(t, flr_add(c00, d00))
    flr_store_d(t + 4, flr_add(c10, d10))


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
    (_gram_tile4: at 48 features, one thread of it beat blocked BLAS on two
    cores, 134 ms against 160 ms for 3e5 rows).
    bmean holds p2 doubles, z _BLOCK·p2 (_BLOCK is even), both 16-byte
    aligned.
    """
    cdef Py_ssize_t p = d + 1, p2 = _even_up(p), dd = d - d % 2
    cdef Py_ssize_t nb = stop - start, nb2 = _even_up(nb), i, j, k, a, c, w, g
    cdef flr_v2 sv, acc
    cdef double fnb = <double>nb, ys = shift[d]
    cdef double t[8]
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
            _prefetch_stream(X, (i + a) * d, last * d)
        x = X + i * d
        j = 0
        while j < dd:
            sv = flr_load_d(shift + j)
            if g == 4:
                acc = flr_add(
                    flr_add(flr_sub(_load2(x + j), sv), flr_sub(_load2(x + d + j), sv)),
                    flr_add(flr_sub(_load2(x + 2 * d + j), sv),
                            flr_sub(_load2(x + 3 * d + j), sv)))
            else:
                acc = flr_sub(_load2(x + j), sv)
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
            flr_store_a(zr + j, flr_sub(flr_sub(_load2(x + j), flr_load_d(shift + j)),
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
    j = 0
    while j < p2:
        k = j
        while k < p2:
            w = 4 if k + 4 <= p2 else 2
            if w == 4:
                _gram_tile4(z, p2, nb2, j, k, t)
            else:
                _gram_tile2(z, p2, nb2, j, k, t)
            for a in range(2):
                for c in range(w):
                    if j + a <= k + c and k + c < p:
                        bc[(j + a) * p + k + c] = t[4 * a + c]
            k += 4
        j += 2


cdef void _chunk_gram(
    const xfloat* X, const yfloat* y, const double* shift, Py_ssize_t d,
    Py_ssize_t lo, Py_ssize_t hi, double* out, double* scratch,
) noexcept nogil:
    """out = [count, mean (p), C (p × p upper triangle)] over rows lo..hi,
    the means relative to shift. scratch: _gram_scratch(d) doubles, 16-byte
    aligned.
    """
    cdef Py_ssize_t p = d + 1, p2 = _even_up(p), start, stop
    cdef double* bmean = scratch
    cdef double* bc = scratch + p2
    cdef double* z = bc + p2 * p2
    memset(out, 0, (1 + p + p * p) * sizeof(double))
    start = lo
    while start < hi:
        stop = start + _BLOCK
        if stop > hi:
            stop = hi
        if d == 1:
            _block_gram_1(X, y, shift, start, stop, hi - 1, bmean, bc, z)
        else:
            _block_gram_d(X, y, shift, d, start, stop, hi - 1, bmean, bc, z)
        _merge_gram(out, out + 1, out + 1 + p, <double>(stop - start), bmean, bc, p)
        start = stop


cdef inline Py_ssize_t _gram_scratch(Py_ssize_t d) noexcept nogil:
    """Doubles of _chunk_gram's scratch, rounded up to whole cache lines."""
    cdef Py_ssize_t p2 = _even_up(d + 1)
    return (p2 + p2 * p2 + _BLOCK * p2 + 7) // 8 * 8


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
    cdef _Interrupt it
    cdef double[:, ::1] part = np.empty((k, 1 + p + p * p))
    # Scratch: one per thread (each block overwrites it), 64-byte aligned,
    # whole cache lines a thread (no false sharing).
    cdef Py_ssize_t width = _gram_scratch(d)
    cdef double[::1] scratch
    cdef double* sbase
    cdef double[::1] shift = np.empty(p)
    cdef double count = 0.0
    for j in range(d):
        shift[j] = X[0, j]
    shift[d] = y[0]
    n_threads = _threads_for(n_threads, k)
    scratch = np.empty(n_threads * width + 8)
    sbase = _align64(&scratch[0])
    _interrupt_init(&it)
    with nogil:
        for c in prange(k, num_threads=n_threads, schedule="dynamic"):
            if not _interrupted(&it):
                lo = _chunk_start(n, k, c)
                hi = _chunk_start(n, k, c + 1)
                _chunk_gram(&X[0, 0], &y[0], &shift[0], d, lo, hi, &part[c, 0],
                            sbase + threadid() * width)
                _poll_interrupt(&it, threadid())
    _raise_interrupt(&it)
    with nogil:
        memset(&mean[0], 0, p * sizeof(double))
        memset(&cov[0, 0], 0, p * p * sizeof(double))
        for c in range(k):
            _merge_gram(&count, &mean[0], &cov[0, 0], part[c, 0],
                        &part[c, 1], &part[c, 1 + p], p)
        for j in range(p):
            mean[j] += shift[j]
            for m in range(j + 1, p):
                cov[m, j] = cov[j, m]


# --------------------------------------------------------------------------
# Robust losses: weighted sum, gradient and Hessian
# --------------------------------------------------------------------------
#
# Each block of _BLOCK rows goes through four passes while it sits in cache:
#   1. residuals r_i of the block;
#   2. per row ℓ_h(r_i), ℓ(r_i), w_i·ψ(r_i) and w_i·ℓ_h''(r_i), in a loop of
#      its own for each loss (the loss is chosen once per block, not per row);
#   3. grad += Σ w_i ψ_i (x_i − m), rows in pairs;
#   4. (if asked) H += Σ w_i ℓ''_i z_i z_iᵀ over the rows with curvature only.
# The per-row formulas are branch-free rewrites of the twin's np.where (a clip
# instead of a three-way choice), so a residual of random sign costs no
# mispredicted branch.

# Loss codes of robust_loss_gradient.
cdef enum:
    _SQUARED = 0
    _ABSOLUTE = 1
    _HUBER = 2
    _QUANTILE = 3
    _EPS_INSENSITIVE = 4

cdef struct _Loss:
    int code
    double eps     # Huber threshold / epsilon-insensitive width
    double q       # pinball level
    double h       # half-width of the smoothing band; 0: no smoothing
    double inv_h   # 1/h, 1/(2h), 1/(4h); 0 when h = 0
    double inv_2h
    double inv_4h


cdef inline double _clip(double x, double lo, double hi) noexcept nogil:
    """np.clip(x, lo, hi); compiles to minsd / maxsd."""
    x = x if x > lo else lo
    return x if x < hi else hi


cdef inline double _sign(double x) noexcept nogil:
    """np.sign(x): −1, 0 or 1, without a branch."""
    return <double>(x > 0.0) - <double>(x < 0.0)


cdef inline double _weight(const double* sw, Py_ssize_t i) noexcept nogil:
    """w_i, or 1 when there are no weights (sw is NULL)."""
    if sw == NULL:
        return 1.0
    return sw[i]


# One of these per loss: over the nb residuals r of a block, with weights sw
# (NULL: all 1), psi[i] = w_i ψ(r_i), curv[i] = w_i ℓ_h''(r_i) and
# sums += [Σ w ℓ_h(r), Σ w ℓ(r), Σ w ψ(r)], the block's terms summed first.

cdef void _terms_squared(
    const _Loss* L, const double* r, const double* sw, Py_ssize_t nb,
    double* psi, double* curv, double* sums,
) noexcept nogil:
    """ℓ = r², ψ = 2r, ℓ'' = 2."""
    cdef double w, v, sv = 0.0, sp = 0.0
    cdef Py_ssize_t i
    for i in range(nb):
        w = _weight(sw, i)
        v = r[i] * r[i]
        psi[i] = w * (2.0 * r[i])
        curv[i] = w * 2.0
        sv += w * v
        sp += psi[i]
    sums[0] += sv
    sums[1] += sv
    sums[2] += sp


cdef void _terms_huber(
    const _Loss* L, const double* r, const double* sw, Py_ssize_t nb,
    double* psi, double* curv, double* sums,
) noexcept nogil:
    """Huber(ε): with t = clip(r, −ε, ε), ℓ = ½t² + ε(|r| − |t|), ψ = t,
    ℓ'' = [|r| ≤ ε] (the twin's np.where(|r| <= ε, ½r², ε|r| − ½ε²))."""
    cdef double w, t, a, v, eps = L.eps, sv = 0.0, sp = 0.0
    cdef Py_ssize_t i
    for i in range(nb):
        w = _weight(sw, i)
        a = fabs(r[i])
        t = _clip(r[i], -eps, eps)
        v = 0.5 * t * t + eps * (a - fabs(t))
        psi[i] = w * t
        curv[i] = w * <double>(a <= eps)
        sv += w * v
        sp += psi[i]
    sums[0] += sv
    sums[1] += sv
    sums[2] += sp


cdef void _terms_absolute(
    const _Loss* L, const double* r, const double* sw, Py_ssize_t nb,
    double* psi, double* curv, double* sums,
) noexcept nogil:
    """|r|, smoothed: with t = clip(r, −h, h), ℓ_h = |r| + (h − |t|)²/(2h),
    ψ = t/h, ℓ'' = [|r| ≤ h]/h (in the band: r²/(2h) + h/2). h = 0: ψ = sign(r)."""
    cdef double w, t, a, v, g, h = L.h, sv = 0.0, se = 0.0, sp = 0.0
    cdef Py_ssize_t i
    if h == 0.0:
        for i in range(nb):
            w = _weight(sw, i)
            a = fabs(r[i])
            psi[i] = w * _sign(r[i])
            curv[i] = 0.0
            sv += w * a
            sp += psi[i]
        sums[0] += sv
        sums[1] += sv
        sums[2] += sp
        return
    for i in range(nb):
        w = _weight(sw, i)
        a = fabs(r[i])
        t = _clip(r[i], -h, h)
        g = h - fabs(t)
        v = a + g * g * (0.5 * L.inv_h)
        psi[i] = w * (t * L.inv_h)
        curv[i] = w * (L.inv_h * <double>(a <= h))
        sv += w * v
        se += w * a
        sp += psi[i]
    sums[0] += sv
    sums[1] += se
    sums[2] += sp


cdef void _terms_quantile(
    const _Loss* L, const double* r, const double* sw, Py_ssize_t nb,
    double* psi, double* curv, double* sums,
) noexcept nogil:
    """Pinball(q): ℓ = q·r − min(r, 0); smoothed, with t = clip(r, −h, h),
    ℓ_h = ℓ + (h − |t|)²/(4h), ψ = q − ½ + t/(2h), ℓ'' = [|r| ≤ h]/(2h)
    (in the band: r²/(4h) + (q − ½)r + h/4). h = 0: ψ = q − ½ + ½ sign(r)."""
    cdef double w, t, e, v, g, q = L.q, h = L.h, sv = 0.0, se = 0.0, sp = 0.0
    cdef Py_ssize_t i
    if h == 0.0:
        for i in range(nb):
            w = _weight(sw, i)
            e = q * r[i] - (r[i] if r[i] < 0.0 else 0.0)
            psi[i] = w * ((q - 0.5) + 0.5 * _sign(r[i]))
            curv[i] = 0.0
            sv += w * e
            sp += psi[i]
        sums[0] += sv
        sums[1] += sv
        sums[2] += sp
        return
    for i in range(nb):
        w = _weight(sw, i)
        e = q * r[i] - (r[i] if r[i] < 0.0 else 0.0)
        t = _clip(r[i], -h, h)
        g = h - fabs(t)
        v = e + g * g * L.inv_4h
        psi[i] = w * ((q - 0.5) + t * L.inv_2h)
        curv[i] = w * (L.inv_2h * <double>(fabs(r[i]) <= h))
        sv += w * v
        se += w * e
        sp += psi[i]
    sums[0] += sv
    sums[1] += se
    sums[2] += sp


cdef void _terms_eps_insensitive(
    const _Loss* L, const double* r, const double* sw, Py_ssize_t nb,
    double* psi, double* curv, double* sums,
) noexcept nogil:
    """max(0, |r| − ε) = H(r − ε) + H(−r − ε), the sum of two hinges
    H(u) = max(0, u). Smoothed, each hinge is H_h(u) = (t + h)²/(4h) +
    max(u − h, 0) with t = clip(u, −h, h): H_h' = (t + h)/(2h), H_h'' =
    [|u| ≤ h]/(2h). The bands may overlap (h > ε): the sum stays smooth and
    convex. h = 0: ψ = sign(r)[|r| > ε]."""
    cdef double w, t, u, e, v, g, s, eps = L.eps, h = L.h
    cdef double sv = 0.0, se = 0.0, sp = 0.0
    cdef Py_ssize_t i
    if h == 0.0:
        for i in range(nb):
            w = _weight(sw, i)
            u = fabs(r[i]) - eps
            e = u if u > 0.0 else 0.0
            psi[i] = w * (_sign(r[i]) * <double>(u > 0.0))
            curv[i] = 0.0
            sv += w * e
            sp += psi[i]
        sums[0] += sv
        sums[1] += sv
        sums[2] += sp
        return
    for i in range(nb):
        w = _weight(sw, i)
        e = fabs(r[i]) - eps
        e = e if e > 0.0 else 0.0
        # the two hinges max(0, r − ε) and max(0, −r − ε), each smoothed
        u = r[i] - eps
        t = _clip(u, -h, h)
        g = -r[i] - eps
        s = _clip(g, -h, h)
        v = ((t + h) * (t + h) + (s + h) * (s + h)) * L.inv_4h
        v += (u - h if u > h else 0.0) + (g - h if g > h else 0.0)
        psi[i] = w * ((t - s) * L.inv_2h)
        curv[i] = w * (L.inv_2h * (<double>(fabs(u) <= h) + <double>(fabs(g) <= h)))
        sv += w * v
        se += w * e
        sp += psi[i]
    sums[0] += sv
    sums[1] += se
    sums[2] += sp


cdef void _block_residuals(
    const xfloat* X, const yfloat* y, const double* w, double b, const double* m,
    double yo, Py_ssize_t d, Py_ssize_t start, Py_ssize_t nb, double* r,
) noexcept nogil:
    """r_i = (y_i − yo) − b − (x_i − m) @ w for the nb rows from start."""
    cdef Py_ssize_t i
    for i in range(nb):
        r[i] = (y[start + i] - yo) - b - _dot_centred(X + (start + i) * d, m, w, d)


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
                flr_mul(va, flr_sub(_load2(x0 + j), mv)),
                flr_mul(vb, flr_sub(_load2(x1 + j), mv)))))
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
    cdef Py_ssize_t p = d + 1, p2 = _even_up(p), i, r = 0
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


cdef void _chunk_robust(
    const xfloat* X, const yfloat* y, const double* sw, const double* w, double b,
    const double* m, double yo, Py_ssize_t d, const _Loss* L, bint want_hessian,
    Py_ssize_t lo, Py_ssize_t hi, double* out, double* scratch,
) noexcept nogil:
    """out = [Σ w ℓ_h, Σ w ℓ, Σ w ψ, Σ w ψ (x − m) (d), H (p × p, upper triangle,
    only if want_hessian)] over rows lo..hi. scratch: 3·_BLOCK + d + (p + 4)·p2
    doubles, p2 = p rounded up to even.
    """
    cdef Py_ssize_t p = d + 1, p2 = _even_up(p), j, k, start, stop, nb
    cdef double* r = scratch
    cdef double* psi = r + _BLOCK
    cdef double* curv = psi + _BLOCK
    cdef double* blk = curv + _BLOCK
    cdef double* bh = blk + d
    cdef double* z = bh + p * p2
    cdef double* hess = out + 3 + d
    cdef const double* swb
    cdef double sums[3]
    memset(out, 0, (3 + d + (p * p if want_hessian else 0)) * sizeof(double))
    memset(z, 0, 4 * p2 * sizeof(double))
    start = lo
    while start < hi:
        stop = start + _BLOCK
        if stop > hi:
            stop = hi
        nb = stop - start
        swb = NULL
        if sw != NULL:
            swb = sw + start
        # r = (y − yo) − b − (X − m) @ w   (this block's rows)
        _block_residuals(X, y, w, b, m, yo, d, start, nb, r)
        # value += w @ ℓ_h(r); exact += w @ ℓ(r); grad_b_sum += w @ ψ(r)
        sums[0] = 0.0
        sums[1] = 0.0
        sums[2] = 0.0
        if L.code == _SQUARED:
            _terms_squared(L, r, swb, nb, psi, curv, sums)
        elif L.code == _ABSOLUTE:
            _terms_absolute(L, r, swb, nb, psi, curv, sums)
        elif L.code == _HUBER:
            _terms_huber(L, r, swb, nb, psi, curv, sums)
        elif L.code == _QUANTILE:
            _terms_quantile(L, r, swb, nb, psi, curv, sums)
        else:
            _terms_eps_insensitive(L, r, swb, nb, psi, curv, sums)
        out[0] += sums[0]
        out[1] += sums[1]
        out[2] += sums[2]
        # grad_sum += (w ψ) @ (X − m)
        _block_weighted_rows(X, m, d, start, nb, psi, blk)
        for j in range(d):
            out[3 + j] += blk[j]
        # H += Z[band].T @ ((w ℓ'')[band, None] * Z[band]),  Z = [X − m, 1]
        if want_hessian and _block_hessian(X, m, d, start, nb, curv, bh, z):
            for j in range(p):
                for k in range(j, p):
                    hess[j * p + k] += bh[j * p2 + k]
        start = stop


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
    (``(d + 1) × (d + 1)``). ``loss``: 0 squared, 1 absolute, 2 Huber
    (``epsilon``), 3 pinball (``quantile``), 4 epsilon-insensitive
    (``epsilon``); ``ℓ_h`` is ``ℓ`` with the kinks of 1, 3 and 4 rounded off by
    a quadratic over a band of half-width ``smoothing`` (``ψ = ℓ_h'``). The
    formulas are those of the NumPy twin.
    """
    cdef Py_ssize_t n = X.shape[0], d = X.shape[1], p = d + 1
    cdef Py_ssize_t k = _n_chunks(n), c, j, m, lo, hi
    cdef _Interrupt it
    cdef bint want_hessian = hessian.shape[0] != 0 or hessian.shape[1] != 0
    cdef const double* sw = NULL
    cdef double value = 0.0, exact = 0.0, sp = 0.0
    cdef _Loss L
    _check_robust_args(loss, epsilon, quantile, smoothing, n, d, sample_weight.shape[0],
                       hessian.shape[0], hessian.shape[1])
    cdef Py_ssize_t width = 3 + d + (p * p if want_hessian else 0)
    cdef double[:, ::1] part = np.empty((k, width))
    cdef double[:, ::1] scratch = np.empty((k, 3 * _BLOCK + d + (p + 4) * _even_up(p)))
    if sample_weight.shape[0] > 0:
        sw = &sample_weight[0]
    L.code = loss
    L.eps = epsilon
    L.q = quantile
    L.h = smoothing
    L.inv_h = 1.0 / smoothing if smoothing > 0.0 else 0.0
    L.inv_2h = 0.5 * L.inv_h
    L.inv_4h = 0.25 * L.inv_h
    n_threads = _threads_for(n_threads, k)
    _interrupt_init(&it)
    with nogil:
        for c in prange(k, num_threads=n_threads, schedule="dynamic"):
            if not _interrupted(&it):
                lo = _chunk_start(n, k, c)
                hi = _chunk_start(n, k, c + 1)
                _chunk_robust(&X[0, 0], &y[0], sw, &coef[0], intercept, &x_offset[0],
                              y_offset, d, &L, want_hessian, lo, hi, &part[c, 0],
                              &scratch[c, 0])
                _poll_interrupt(&it, threadid())
    _raise_interrupt(&it)
    with nogil:
        # Merge the chunks in their fixed order.
        for j in range(d):
            grad_coef[j] = 0.0
        if want_hessian:
            memset(&hessian[0, 0], 0, p * p * sizeof(double))
        for c in range(k):
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
    if not 0 <= loss <= 4:
        raise ValueError(f"unknown loss code {loss}; expected 0 to 4")
    if (loss == _HUBER or loss == _EPS_INSENSITIVE) and not epsilon >= 0.0:
        raise ValueError(f"epsilon must be >= 0, got {epsilon}")
    if loss == _QUANTILE and not 0.0 < quantile < 1.0:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    if (loss == _ABSOLUTE or loss == _QUANTILE or loss == _EPS_INSENSITIVE) \
            and not smoothing >= 0.0:
        raise ValueError(f"smoothing must be >= 0, got {smoothing}")
    if n_weights != 0 and n_weights != n:
        raise ValueError(f"sample_weight has {n_weights} entries; expected 0 or {n}")
    if (h_rows, h_cols) != (0, 0) and (h_rows, h_cols) != (d + 1, d + 1):
        raise ValueError(
            f"hessian has shape {(h_rows, h_cols)}; expected (0, 0) or {(d + 1, d + 1)}"
        )


# --------------------------------------------------------------------------
# Conjugate gradients on sufficient statistics (few features)
# --------------------------------------------------------------------------

cdef extern from "<float.h>":
    double DBL_MIN

# Reasons a run stops, as the Python loops name them.
_REASONS = ("converged", "max_iter", "diverged", "line_search_failed")
cdef enum:
    _RUNNING = -1
    _CONVERGED = 0
    _MAX_ITER = 1
    _DIVERGED = 2
    _LINE_SEARCH_FAILED = 3
    # Iterations between two looks for a pending Ctrl-C.
    _SIGNAL_EVERY = 1024


cdef inline double _dot(const double* a, const double* b, Py_ssize_t m) noexcept nogil:
    cdef double s = 0.0
    cdef Py_ssize_t i
    for i in range(m):
        s += a[i] * b[i]
    return s


cdef inline double _unit(const double* v, Py_ssize_t m) noexcept nogil:
    """The power of two just above max|v| (1 if v is 0 or not finite), as
    ``_solver._unit``: dividing by it is exact and keeps products finite."""
    cdef double top = 0.0
    cdef int e
    cdef Py_ssize_t i
    for i in range(m):
        if fabs(v[i]) > top or v[i] != v[i]:
            top = fabs(v[i])
    if not (0.0 < top < INFINITY):
        return 1.0
    frexp(top, &e)
    return ldexp(1.0, e)


cdef inline double _norm(const double* v, double* work, Py_ssize_t m) noexcept nogil:
    """sqrt(v @ v), as ``_solver._norm``: over a power of two (in ``work``)."""
    cdef double unit = _unit(v, m)
    cdef Py_ssize_t i
    for i in range(m):
        work[i] = v[i] / unit
    return unit * sqrt(_dot(work, work, m))


cdef double _gram_objective(
    const double* zz, const double* zy, double yy, const double* dz, bint centred,
    double mean_y, bint fit_intercept, Py_ssize_t d, const double* theta,
    double* grad, double* work,
) noexcept nogil:
    """The objective of ``GramMSE`` at ``theta`` and its gradient (``grad``).

    ``theta = (v, c)``: coefficients of the standardised features and the
    intercept; ``zz``, ``zy``, ``yy`` and ``dz`` are cov(z), cov(z, y), var(y)
    and mean(z). ``work`` holds d doubles.
    """
    cdef Py_ssize_t i
    cdef double r, spread
    # work = zz @ v
    for i in range(d):
        work[i] = _dot(zz + i * d, theta, d)
    # r = mean_y − c − dz @ v
    r = mean_y - (theta[d] if fit_intercept else 0.0)
    if not centred:
        r -= _dot(dz, theta, d)
    # spread = yy − 2 v @ zy + v @ (zz @ v)
    spread = yy - 2.0 * _dot(theta, zy, d) + _dot(theta, work, d)
    # grad_v = 2 (zz @ v − zy) − 2 r dz ;  grad_c = −2 r
    for i in range(d):
        grad[i] = 2.0 * (work[i] - zy[i])
        if not centred:
            grad[i] -= (2.0 * r) * dz[i]
    if fit_intercept:
        grad[d] = -2.0 * r
    # (rounding can push the spread below 0; a NaN stays NaN, as in max())
    return (0.0 if spread < 0.0 else spread) + r * r


cdef void _gram_hessp(
    const double* zz, const double* dz, bint centred, bint fit_intercept,
    Py_ssize_t d, const double* p, double* out,
) noexcept nogil:
    """The Hessian of the objective times ``p`` (H is not formed)."""
    cdef Py_ssize_t i
    cdef double t = 0.0
    if not centred:
        t = _dot(dz, p, d)
    if fit_intercept:
        t += p[d]
    # t = dz @ p_v + p_c
    # out_v = 2 (zz @ p_v + dz t) ;  out_c = 2 t
    for i in range(d):
        out[i] = _dot(zz + i * d, p, d)
        if not centred:
            out[i] += dz[i] * t
        out[i] *= 2.0
    if fit_intercept:
        out[d] = 2.0 * t


def gram_cg(
    const double[:, ::1] cov,
    const double[::1] mean,
    double n,
    const double[::1] offset,
    const double[::1] scale,
    bint fit_intercept,
    double y_offset,
    double[::1] theta,
    double gtol,
    Py_ssize_t max_iter,
):
    """Conjugate gradients on sufficient statistics, start to finish.

    The loop of ``_solver.conjugate_gradient`` on the objective of
    ``_objectives.GramMSE`` (the statistics ``n``, ``mean`` and ``cov`` of
    ``[X | y]``, in the coordinates ``offset``, ``scale``, ``fit_intercept``,
    ``y_offset``), without a monitor: the same steps, stopping tests and
    history, with no Python between iterations, for the few-feature problems
    where that overhead would dominate. ``theta`` holds the start and receives
    the solution. Returns ``(n_iter, n_evals, stop_reason, loss, grad_norm,
    loss_curve)``, ``loss_curve`` a list of ``n_iter + 1`` values.
    """
    cdef Py_ssize_t d = offset.shape[0], dim = theta.shape[0], i, j
    cdef Py_ssize_t n_iter = 0, n_evals = 0, since_restart = 0
    cdef double[:, ::1] zz = np.empty((d, d))
    cdef double[:, ::1] vec = np.zeros((8, d + 1))
    cdef double* zy = &vec[0, 0]
    cdef double* dz = &vec[1, 0]
    cdef double* g = &vec[2, 0]
    cdef double* g_old = &vec[3, 0]
    cdef double* direction = &vec[4, 0]
    cdef double* hp = &vec[5, 0]
    cdef double* work = &vec[6, 0]
    cdef double* u = &vec[7, 0]
    cdef double yy, mean_y, f, gnorm, diverged_above, curv, slope, step, beta
    cdef double g_old2, unit
    cdef bint centred = True
    cdef int reason = _RUNNING
    if cov.shape[0] != d + 1 or cov.shape[1] != d + 1 or mean.shape[0] != d + 1 \
            or scale.shape[0] != d or dim != d + (1 if fit_intercept else 0):
        raise ValueError("gram_cg: inconsistent shapes")
    # The statistics in the solver's coordinates (as GramMSE maps them):
    # zz = cov_xx / (n s sᵀ), zy = cov_xy / (n s), yy = cov_yy / n,
    # dz = (mean_x − offset) / s, mean_y = mean_y − y_offset
    for i in range(d):
        for j in range(d):
            zz[i, j] = cov[i, j] / (n * (scale[i] * scale[j]))
        zy[i] = cov[i, d] / (n * scale[i])
        dz[i] = (mean[i] - offset[i]) / scale[i]
        if dz[i] != 0.0:
            centred = False
    yy = cov[d, d] / n
    mean_y = mean[d] - y_offset
    curve = []

    f = _gram_objective(&zz[0, 0], zy, yy, dz, centred, mean_y, fit_intercept, d,
                        &theta[0], g, work)
    n_evals = 1
    gnorm = _norm(g, work, dim)
    curve.append(f)
    if not (fabs(f) < INFINITY and fabs(gnorm) < INFINITY):
        reason = _DIVERGED
    else:
        # as _solver: diverged past 1e6 times the start (or float64's tiny)
        diverged_above = 1e6 * (f if f > DBL_MIN else DBL_MIN)
        if gnorm <= gtol:
            reason = _CONVERGED
        elif n_iter >= max_iter:
            reason = _MAX_ITER
    for i in range(dim):
        direction[i] = -g[i]
    while reason == _RUNNING:
        # u = direction / unit: the same step, bit for bit, with no overflow
        # in its curvature when theta is near 1e154 (y near it)
        unit = _unit(direction, dim)
        for i in range(dim):
            u[i] = direction[i] / unit
        _gram_hessp(&zz[0, 0], dz, centred, fit_intercept, d, u, hp)
        curv = _dot(u, hp, dim)
        slope = _dot(u, g, dim)
        if not curv > 0.0 or not slope < 0.0:
            reason = _LINE_SEARCH_FAILED
            break
        # theta += step * u, the exact minimiser along the direction
        # (a CG step is always taken: no trial to keep apart)
        step = -slope / curv
        for i in range(dim):
            theta[i] = theta[i] + step * u[i]
            g_old[i] = g[i]
        f = _gram_objective(&zz[0, 0], zy, yy, dz, centred, mean_y, fit_intercept, d,
                            &theta[0], g, work)
        n_evals += 1
        gnorm = _norm(g, work, dim)
        curve.append(f)
        n_iter += 1
        if not (fabs(f) < INFINITY and fabs(gnorm) < INFINITY) or f > diverged_above:
            reason = _DIVERGED
        elif gnorm <= gtol:
            reason = _CONVERGED
        elif n_iter >= max_iter:
            reason = _MAX_ITER
        if reason != _RUNNING:
            break
        if n_iter % _SIGNAL_EVERY == 0:
            PyErr_CheckSignals()
        since_restart += 1
        # Polak-Ribière: beta = max(g @ (g − g_old) / (g_old @ g_old), 0),
        # the gradients over a power of two as the direction above
        unit = max(_unit(g_old, dim), _unit(g, dim))
        g_old2 = 0.0
        beta = 0.0
        for i in range(dim):
            g_old2 += (g_old[i] / unit) * (g_old[i] / unit)
            beta += (g[i] / unit) * ((g[i] - g_old[i]) / unit)
        beta = beta / g_old2
        if not beta > 0.0 or since_restart >= dim:
            beta = 0.0
        if since_restart >= dim:
            since_restart = 0
        for i in range(dim):
            direction[i] = -g[i] + beta * direction[i]
    return n_iter, n_evals, _REASONS[reason], f, gnorm, curve
