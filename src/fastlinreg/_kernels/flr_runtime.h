/* Threads, time, the stop flag and the build's description, for
   fastlinreg's kernels (see _chunks.pxd). FASTLINREG_OPENMP is defined by
   setup.py (1 when the build links OpenMP). */
#ifndef FLR_RUNTIME_H
#define FLR_RUNTIME_H
#if FASTLINREG_OPENMP
#include <omp.h>
static inline int fastlinreg_max_threads(void) { return omp_get_max_threads(); }
static inline double flr_seconds(void) { return omp_get_wtime(); }
#else
#include <time.h>
static inline int fastlinreg_max_threads(void) { return 1; }
/* processor time: one thread, busy, so close to wall time */
static inline double flr_seconds(void) { return (double)clock() / CLOCKS_PER_SEC; }
#endif


#if defined(__GNUC__) || defined(__clang__)
static inline int flr_flag_get(const int *p) { return __atomic_load_n(p, __ATOMIC_RELAXED); }
static inline void flr_flag_set(int *p) { __atomic_store_n(p, 1, __ATOMIC_RELAXED); }
#else
static inline int flr_flag_get(const int *p) { return *(const volatile int *)p; }
static inline void flr_flag_set(int *p) { *(volatile int *)p = 1; }
#endif
/* -1 with the exception a signal handler raised still set */
static inline int flr_error_pending(void) { return PyErr_Occurred() ? -1 : 0; }


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

#endif
