# cython: language_level=3
"""Zᵀ Z of a block of rows in register tiles (a header only): the
sufficient statistics' ``gram`` and the robust meat's ``score_gram`` share it.

A block is row-major, ``nb2`` rows (even) of ``p2`` doubles (``p`` columns
rounded up to even with a zero column), 16-byte aligned; its product is
summed in tiles of 2 × 4 entries, each in registers over all the rows.
"""

from ._simd cimport flr_add, flr_load_a, flr_mul, flr_splat, flr_store_d, flr_v2


cdef inline void gram_tile4(
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


cdef inline void gram_tile2(
    const double* z, Py_ssize_t p2, Py_ssize_t nb, Py_ssize_t j, Py_ssize_t k,
    double* t,
) noexcept nogil:
    """gram_tile4 for the last column pair: t[:2], t[4:6] = the 2 × 2 block
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


cdef inline void gram_upper(
    const double* z, Py_ssize_t p, Py_ssize_t p2, Py_ssize_t nb2, double* bc,
) noexcept nogil:
    """bc[j·p + k] = (zᵀ z)[j, k] for j <= k < p (the upper triangle of the
    p × p product; the rest of bc is left as it was)."""
    cdef Py_ssize_t j, k, a, c, w
    cdef double t[8]
    # (NumPy: bc = z.T @ z, upper triangle)
    j = 0
    while j < p2:
        k = j
        while k < p2:
            w = 4 if k + 4 <= p2 else 2
            if w == 4:
                gram_tile4(z, p2, nb2, j, k, t)
            else:
                gram_tile2(z, p2, nb2, j, k, t)
            for a in range(2):
                for c in range(w):
                    if j + a <= k + c and k + c < p:
                        bc[(j + a) * p + k + c] = t[4 * a + c]
            k += 4
        j += 2
