# cython: language_level=3
"""Coordinate descent on a Gram matrix: ``gram_cd``.

Minimises ``½ βᵀ G β − gᵀ β + l1 Σ f_j |β_j| + ½ l2 ‖β‖²``, optionally
within bounds ``lower ≤ β ≤ upper``, for a symmetric positive semi-definite
``G`` (d × d): the elastic net on sufficient statistics, ``G = Xᵀ X / n``
and ``g = Xᵀ y / n`` (centred with an intercept), where every sweep costs
O(d²) whatever the number of rows; also each Newton model of the other
losses. The gradient residual ``r = g − G β`` is kept up to date (a column
of ``G`` per coordinate that moves), and the loop stops when the optimality
conditions hold to ``tol`` (the largest entry of the minimum-norm
subgradient, projected on the bounds). The minimiser along one coordinate
within its bounds is the unbounded one clipped to them, so bounds cost a
comparison. Warm starts along a path of penalties are the caller's
(``beta`` in and out).

Screening (the sequential strong rule of Tibshirani et al. 2012): given the
previous penalty ``l1_prev`` of a path, a coordinate at zero with
``|r_j| < 2 l1 − l1_prev`` is left out of the sweeps; the rule can be wrong,
so once the kept coordinates converge every left-out one is checked against
its optimality condition (``|r_j| ≤ l1 + tol``) and the violators join the
sweeps again: the answer is the unscreened one. (Not with bounds.)
"""

from libc.math cimport fabs

cdef extern from "Python.h":
    int PyErr_CheckSignals() except -1


cdef struct Terms:
    # the penalty and the bounds of every coordinate (NULL: none)
    double l1
    double l2
    const double* factor  # L1 weight of j: l1 · factor[j]
    const double* lower
    const double* upper


cdef inline double _soft(double v, double t) noexcept nogil:
    if v > t:
        return v - t
    if v < -t:
        return v + t
    return 0.0


cdef inline double _l1_of(const Terms* t, Py_ssize_t j) noexcept nogil:
    return t.l1 if t.factor == NULL else t.l1 * t.factor[j]


cdef inline double _clip(const Terms* t, Py_ssize_t j, double v) noexcept nogil:
    if t.lower != NULL and v < t.lower[j]:
        return t.lower[j]
    if t.upper != NULL and v > t.upper[j]:
        return t.upper[j]
    return v


cdef double _violation(
    const double* r, const double* beta, const unsigned char* keep, Py_ssize_t d,
    const Terms* t,
) noexcept nogil:
    """max_j over the kept coordinates of the minimum-norm subgradient's
    size at β, projected on the bounds (0 at the optimum)."""
    cdef double worst = 0.0, s, l1, grad
    cdef Py_ssize_t j
    for j in range(d):
        if not keep[j]:
            continue
        l1 = _l1_of(t, j)
        # the smooth part's gradient, then the subgradient nearest zero
        grad = -r[j] + t.l2 * beta[j]
        if beta[j] > 0.0:
            s = grad + l1
        elif beta[j] < 0.0:
            s = grad - l1
        else:
            s = _soft(grad, l1)
        # at a bound, a push outwards is no violation
        if t.lower != NULL and beta[j] <= t.lower[j] and s > 0.0:
            s = 0.0
        if t.upper != NULL and beta[j] >= t.upper[j] and s < 0.0:
            s = 0.0
        if fabs(s) > worst:
            worst = fabs(s)
    return worst


cdef void _residual(
    const double[:, ::1] G, const double[::1] g, const double[::1] beta, double[::1] r
) noexcept nogil:
    """r = g − G β"""
    cdef Py_ssize_t i, j, d = G.shape[0]
    cdef double acc
    for i in range(d):
        acc = g[i]
        for j in range(d):
            acc -= G[i, j] * beta[j]
        r[i] = acc


cdef const double* _pointer(const double[::1] a, Py_ssize_t d, str name) except? NULL:
    if a is None:
        return NULL
    if a.shape[0] != d:
        raise ValueError(f"{name} needs {d} entries, got {a.shape[0]}")
    return &a[0] if d else NULL


def gram_cd(
    const double[:, ::1] G,
    const double[::1] g,
    double[::1] beta,
    double l1,
    double l2,
    double tol,
    Py_ssize_t max_sweeps,
    double l1_prev=0.0,
    const double[::1] l1_factor=None,
    const double[::1] lower=None,
    const double[::1] upper=None,
):
    """Coordinate descent from ``beta`` (overwritten with the result).

    Returns ``(sweeps, violation)``: the sweeps made (at most
    ``max_sweeps``) and the optimality violation at the end, over every
    coordinate, from a freshly computed residual; the caller compares it
    with ``tol`` to know whether the run converged. A coordinate with
    ``G[j, j] + l2 == 0`` (a constant column, no ridge) stays where it is.
    ``l1_prev > l1``: screen by the strong rule (see the module docstring);
    0 (default): no screening. ``l1_factor``: the L1 weight of coordinate j
    is ``l1 · l1_factor[j]`` (0: unpenalised, such as an intercept); default
    1 for all. ``lower``/``upper``: bounds (±inf for none), which ``beta``
    must satisfy on entry.
    """
    cdef Py_ssize_t d = G.shape[0], i, j, sweeps = 0, joined
    cdef double old, new, step, denom, worst = 0.0, cut
    if G.shape[1] != d or g.shape[0] != d or beta.shape[0] != d:
        raise ValueError(f"G must be {d} x {d}, g and beta need {d} entries")
    cdef Terms t
    t.l1, t.l2 = l1, l2
    t.factor = _pointer(l1_factor, d, "l1_factor")
    t.lower = _pointer(lower, d, "lower")
    t.upper = _pointer(upper, d, "upper")
    if d == 0:
        return 0, 0.0
    cdef double[::1] r = g.copy()
    cdef unsigned char[::1] keep = bytearray(b"\x01" * d)
    cdef int refreshed = 0
    cdef bint bounded = t.lower != NULL or t.upper != NULL
    with nogil:
        _residual(G, g, beta, r)
        if l1_prev > l1 and not bounded:
            # the strong rule: drop j at zero with |r_j| < 2 l1 − l1_prev
            cut = 2.0 * l1 - l1_prev
            for j in range(d):
                if beta[j] == 0.0 and fabs(r[j]) < (
                    cut if t.factor == NULL else cut * t.factor[j]
                ):
                    keep[j] = 0
        while True:
            worst = _violation(&r[0], &beta[0], &keep[0], d, &t)
            while worst > tol and sweeps < max_sweeps:
                for j in range(d):
                    denom = G[j, j] + l2
                    if not keep[j] or denom <= 0.0:
                        continue
                    old = beta[j]
                    # β_j = clip(S(r_j + G_jj β_j, l1_j) / (G_jj + l2), bounds)
                    new = _clip(&t, j, _soft(r[j] + G[j, j] * old, _l1_of(&t, j)) / denom)
                    if new != old:
                        step = new - old
                        beta[j] = new
                        # r −= G[:, j] · Δβ_j   (G symmetric: its row j)
                        for i in range(d):
                            r[i] -= G[j, i] * step
                sweeps += 1
                worst = _violation(&r[0], &beta[0], &keep[0], d, &t)
                if sweeps % 256 == 0:
                    with gil:
                        PyErr_CheckSignals()
            # the KKT check of the screened: violators join the sweeps
            joined = 0
            for j in range(d):
                if not keep[j] and fabs(r[j]) - _l1_of(&t, j) > tol:
                    keep[j] = 1
                    joined += 1
            if joined and sweeps < max_sweeps:
                continue
            # the updated residual drifts by rounding: judge a fresh one
            _residual(G, g, beta, r)
            for j in range(d):
                keep[j] = 1
            worst = _violation(&r[0], &beta[0], &keep[0], d, &t)
            refreshed += 1
            if worst <= tol or sweeps >= max_sweeps or refreshed == 3:
                break
    return sweeps, worst
