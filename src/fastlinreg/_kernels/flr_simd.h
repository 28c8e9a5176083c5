/* Two-lane double vectors for fastlinreg's kernels (see _simd.pxd).

   Compilers do not vectorise a reduction on their own without -ffast-math
   (it would reorder the sum), so the loops spell out their lanes. GCC/clang
   vector extensions (SSE2 on x86-64, NEON on arm64), SSE2 intrinsics on MSVC
   x64, plain C elsewhere: the same operations in the same order.
   flr_load1_* read [p[0], 0]; flr_pair_sum(a, b) = [a0 + a1, b0 + b1];
   flr_dup_lo/hi splat one lane; flr_load_a/flr_store_a need 16-byte aligned
   addresses (they let SSE2 fold the load into the arithmetic); flr_prefetch
   is a cache hint (a no-op in plain C). */
#ifndef FLR_SIMD_H
#define FLR_SIMD_H
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
static inline flr_v2 flr_splat(double a) { flr_v2 r = {{a, a}}; return r; }
static inline flr_v2 flr_add(flr_v2 a, flr_v2 b) { flr_v2 r = {{a.v[0] + b.v[0], a.v[1] + b.v[1]}}; return r; }
static inline flr_v2 flr_sub(flr_v2 a, flr_v2 b) { flr_v2 r = {{a.v[0] - b.v[0], a.v[1] - b.v[1]}}; return r; }
static inline flr_v2 flr_mul(flr_v2 a, flr_v2 b) { flr_v2 r = {{a.v[0] * b.v[0], a.v[1] * b.v[1]}}; return r; }
static inline double flr_hsum(flr_v2 a) { return a.v[0] + a.v[1]; }
static inline flr_v2 flr_load_d(const double *p) { flr_v2 r = {{p[0], p[1]}}; return r; }
static inline flr_v2 flr_load_f(const float *p) { flr_v2 r = {{p[0], p[1]}}; return r; }
static inline void flr_store_d(double *p, flr_v2 v) { p[0] = v.v[0]; p[1] = v.v[1]; }
static inline flr_v2 flr_load1_d(const double *p) { flr_v2 r = {{p[0], 0.0}}; return r; }
static inline flr_v2 flr_load1_f(const float *p) { flr_v2 r = {{p[0], 0.0}}; return r; }
static inline flr_v2 flr_pair_sum(flr_v2 a, flr_v2 b) {
    flr_v2 r = {{a.v[0] + a.v[1], b.v[0] + b.v[1]}}; return r; }
static inline flr_v2 flr_dup_lo(flr_v2 a) { flr_v2 r = {{a.v[0], a.v[0]}}; return r; }
static inline flr_v2 flr_dup_hi(flr_v2 a) { flr_v2 r = {{a.v[1], a.v[1]}}; return r; }
static inline void flr_prefetch(const void *p) { (void)p; }
static inline flr_v2 flr_load_a(const double *p) { flr_v2 r = {{p[0], p[1]}}; return r; }
static inline void flr_store_a(double *p, flr_v2 v) { p[0] = v.v[0]; p[1] = v.v[1]; }
#endif

#endif
