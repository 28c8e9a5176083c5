# cython: language_level=3
"""Coordinate descent on a Gram matrix: ``gram_cd``.

Minimises ``½ βᵀ G β − gᵀ β + l1 ‖β‖₁ + ½ l2 ‖β‖²`` for a symmetric
positive semi-definite ``G`` (d × d): the elastic net on sufficient
statistics, ``G = Xᵀ X / n`` and ``g = Xᵀ y / n`` (centred with an
intercept), where every sweep costs O(d²) whatever the number of rows. The
gradient residual ``r = g − G β`` is kept up to date (a column of ``G`` per
coordinate that moves), and the loop stops when the optimality conditions
hold to ``tol`` (the largest violation of the minimum-norm subgradient).
Warm starts along a path of penalties are the caller's (``beta`` in and out).
"""

from libc.math cimport fabs

cdef extern from "Python.h":
    int PyErr_CheckSignals() except -1


cdef inline double _soft(double v, double t) noexcept nogil:
    if v > t:
        return v - t
    if v < -t:
        return v + t
    return 0.0


cdef double _violation(
    const double* r, const double* beta, Py_ssize_t d, double l1, double l2,
) noexcept nogil:
    """max_j of the minimum-norm subgradient's size at β (0 at the optimum)."""
    cdef double worst = 0.0, v
    cdef Py_ssize_t j
    for j in range(d):
        if beta[j] > 0.0:
            v = fabs(-r[j] + l2 * beta[j] + l1)
        elif beta[j] < 0.0:
            v = fabs(-r[j] + l2 * beta[j] - l1)
        else:
            v = fabs(r[j]) - l1
            if v < 0.0:
                v = 0.0
        if v > worst:
            worst = v
    return worst


def gram_cd(
    const double[:, ::1] G,
    const double[::1] g,
    double[::1] beta,
    double l1,
    double l2,
    double tol,
    Py_ssize_t max_sweeps,
):
    """Coordinate descent from ``beta`` (overwritten with the result).

    Returns ``(sweeps, violation)``: the sweeps made (at most
    ``max_sweeps``) and the optimality violation at the end; the caller
    compares it with ``tol`` to know whether the run converged. A coordinate
    with ``G[j, j] + l2 == 0`` (a constant column, no ridge) stays at 0.
    """
    cdef Py_ssize_t d = G.shape[0], i, j, sweeps = 0
    cdef double old, new, step, denom, worst = 0.0
    if G.shape[1] != d or g.shape[0] != d or beta.shape[0] != d:
        raise ValueError(f"G must be {d} x {d}, g and beta need {d} entries")
    if d == 0:
        return 0, 0.0
    cdef double[::1] r = g.copy()
    with nogil:
        # r = g − G β
        for i in range(d):
            for j in range(d):
                r[i] -= G[i, j] * beta[j]
        worst = _violation(&r[0], &beta[0], d, l1, l2)
        while worst > tol and sweeps < max_sweeps:
            for j in range(d):
                denom = G[j, j] + l2
                if denom <= 0.0:
                    continue
                old = beta[j]
                # β_j = S(r_j + G_jj β_j, l1) / (G_jj + l2)
                new = _soft(r[j] + G[j, j] * old, l1) / denom
                if new != old:
                    step = new - old
                    beta[j] = new
                    # r −= G[:, j] · Δβ_j   (G symmetric: its row j)
                    for i in range(d):
                        r[i] -= G[j, i] * step
            sweeps += 1
            worst = _violation(&r[0], &beta[0], d, l1, l2)
            if sweeps % 256 == 0:
                with gil:
                    PyErr_CheckSignals()
    return sweeps, worst
