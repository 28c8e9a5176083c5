# cython: language_level=3
"""Chan et al.'s pairwise merges of block statistics (a header only)."""


cdef inline void merge_moments(
    double* n_a, double* mean_a, double* m2_a,
    double n_b, const double* mean_b, const double* m2_b, Py_ssize_t p,
) noexcept nogil:
    """Fold (n_b, mean_b, m2_b) into (n_a, mean_a, m2_a): with δ = mean_b −
    mean_a, mean_a += δ·n_b/n and m2_a += m2_b + δ²·n_a·n_b/n."""
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


cdef inline void merge_gram(
    double* n_a, double* mean_a, double* c_a,
    double n_b, const double* mean_b, const double* c_b, Py_ssize_t p,
) noexcept nogil:
    """The same for means and centred cross-products:
    C_a ← C_a + C_b + δ δᵀ · n_a n_b / n (upper triangles of row-major p × p
    matrices), then the means and the count."""
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
