# cython: language_level=3
"""Conjugate gradients on sufficient statistics, start to finish: ``gram_cg``.

The compiled twin of the solvers' own ``_solver.conjugate_gradient`` on
``_numpy_kernels.GramObjective`` (which is the NumPy twin of this kernel):
one CG in Python, and this one without Python between iterations for the
few-feature problems where that overhead would dominate.
"""

from libc.math cimport INFINITY, fabs, frexp, ldexp, sqrt

import numpy as np

from .._codes import STOP_REASONS

cdef extern from "Python.h":
    int PyErr_CheckSignals() except -1


cdef extern from "<float.h>":
    double DBL_MIN

# Reasons a run stops: indices into the table the Python loops name them by.
cdef int _RUNNING = -1
cdef int _CONVERGED = STOP_REASONS.index("converged")
cdef int _MAX_ITER = STOP_REASONS.index("max_iter")
cdef int _DIVERGED = STOP_REASONS.index("diverged")
cdef int _LINE_SEARCH_FAILED = STOP_REASONS.index("line_search_failed")

cdef enum:
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


cdef struct Quad:
    # The statistics in the solver's coordinates (as GramObjective maps them):
    # zz = cov(z) (d × d, row-major), zy = cov(z, y), yy = var(y),
    # dz = mean(z) (all 0 when centred), mean_y = mean(y) − y_offset.
    const double* zz
    const double* zy
    double yy
    const double* dz
    bint centred
    double mean_y
    bint fit_intercept
    Py_ssize_t d


cdef double _gram_objective(
    const Quad* Q, const double* theta, double* grad, double* work,
) noexcept nogil:
    """The objective of ``GramObjective`` at ``theta`` and its gradient
    (``grad``). ``theta = (v, c)``: coefficients of the standardised features
    and the intercept. ``work`` holds d doubles.
    """
    cdef Py_ssize_t i, d = Q.d
    cdef double r, spread
    # work = zz @ v
    for i in range(d):
        work[i] = _dot(Q.zz + i * d, theta, d)
    # r = mean_y − c − dz @ v
    r = Q.mean_y - (theta[d] if Q.fit_intercept else 0.0)
    if not Q.centred:
        r -= _dot(Q.dz, theta, d)
    # spread = yy − 2 v @ zy + v @ (zz @ v)
    spread = Q.yy - 2.0 * _dot(theta, Q.zy, d) + _dot(theta, work, d)
    # grad_v = 2 (zz @ v − zy) − 2 r dz ;  grad_c = −2 r
    for i in range(d):
        grad[i] = 2.0 * (work[i] - Q.zy[i])
        if not Q.centred:
            grad[i] -= (2.0 * r) * Q.dz[i]
    if Q.fit_intercept:
        grad[d] = -2.0 * r
    # (rounding can push the spread below 0; a NaN stays NaN, as in max())
    return (0.0 if spread < 0.0 else spread) + r * r


cdef void _gram_hessp(const Quad* Q, const double* p, double* out) noexcept nogil:
    """The Hessian of the objective times ``p`` (H is not formed)."""
    cdef Py_ssize_t i, d = Q.d
    cdef double t = 0.0
    if not Q.centred:
        t = _dot(Q.dz, p, d)
    if Q.fit_intercept:
        t += p[d]
    # t = dz @ p_v + p_c
    # out_v = 2 (zz @ p_v + dz t) ;  out_c = 2 t
    for i in range(d):
        out[i] = _dot(Q.zz + i * d, p, d)
        if not Q.centred:
            out[i] += Q.dz[i] * t
        out[i] *= 2.0
    if Q.fit_intercept:
        out[d] = 2.0 * t


cdef inline int _stop(
    double f, double gnorm, double above, double gtol, Py_ssize_t n_iter,
    Py_ssize_t max_iter,
) noexcept nogil:
    """Why a run stops at this iterate, as _solver's loops test it (the
    objective past ``above``: diverged), or _RUNNING."""
    if not (fabs(f) < INFINITY and fabs(gnorm) < INFINITY) or f > above:
        return _DIVERGED
    if gnorm <= gtol:
        return _CONVERGED
    if n_iter >= max_iter:
        return _MAX_ITER
    return _RUNNING


cdef inline double _polak_ribiere(
    const double* g, const double* g_old, Py_ssize_t dim,
) noexcept nogil:
    """g @ (g − g_old) / (g_old @ g_old), the gradients over a power of two
    (as the direction in gram_cg)."""
    cdef double unit = max(_unit(g_old, dim), _unit(g, dim)), g_old2 = 0.0, beta = 0.0
    cdef Py_ssize_t i
    for i in range(dim):
        g_old2 += (g_old[i] / unit) * (g_old[i] / unit)
        beta += (g[i] / unit) * ((g[i] - g_old[i]) / unit)
    return beta / g_old2


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
    ``_numpy_kernels.GramObjective`` (the statistics ``n``, ``mean`` and
    ``cov`` of ``[X | y]``, in the coordinates ``offset``, ``scale``,
    ``fit_intercept``, ``y_offset``), without a monitor: the same steps,
    stopping tests and history, with no Python between iterations, for the
    few-feature problems where that overhead would dominate. ``theta`` holds
    the start and receives the solution. Returns ``(n_iter, n_evals,
    stop_reason, loss, grad_norm, loss_curve)``, ``loss_curve`` a list of
    ``n_iter + 1`` values.
    """
    cdef Py_ssize_t d = offset.shape[0], dim = theta.shape[0], i, j
    cdef Py_ssize_t n_iter = 0, n_evals = 1, since_restart = 0
    cdef double[:, ::1] zz = np.empty((d, d))
    cdef double[:, ::1] vec = np.zeros((8, d + 1))
    cdef double* g = &vec[2, 0]
    cdef double* g_old = &vec[3, 0]
    cdef double* direction = &vec[4, 0]
    cdef double* hp = &vec[5, 0]
    cdef double* work = &vec[6, 0]
    cdef double* u = &vec[7, 0]
    cdef double f, gnorm, diverged_above, curv, slope, step, beta, unit
    cdef Quad Q
    cdef int reason
    if cov.shape[0] != d + 1 or cov.shape[1] != d + 1 or mean.shape[0] != d + 1 \
            or scale.shape[0] != d or dim != d + (1 if fit_intercept else 0):
        raise ValueError("gram_cg: inconsistent shapes")
    # The statistics in the solver's coordinates (as GramObjective maps them):
    # zz = cov_xx / (n s sᵀ), zy = cov_xy / (n s), yy = cov_yy / n,
    # dz = (mean_x − offset) / s, mean_y = mean_y − y_offset
    Q.zz, Q.zy, Q.dz, Q.d, Q.fit_intercept = &zz[0, 0], &vec[0, 0], &vec[1, 0], d, fit_intercept
    Q.centred = True
    for i in range(d):
        for j in range(d):
            zz[i, j] = cov[i, j] / (n * (scale[i] * scale[j]))
        vec[0, i] = cov[i, d] / (n * scale[i])
        vec[1, i] = (mean[i] - offset[i]) / scale[i]
        if vec[1, i] != 0.0:
            Q.centred = False
    Q.yy = cov[d, d] / n
    Q.mean_y = mean[d] - y_offset

    f = _gram_objective(&Q, &theta[0], g, work)
    gnorm = _norm(g, work, dim)
    curve = [f]
    reason = _stop(f, gnorm, INFINITY, gtol, n_iter, max_iter)
    # as _solver: diverged past 1e6 times the start (or float64's tiny)
    diverged_above = 1e6 * (f if f > DBL_MIN else DBL_MIN)
    for i in range(dim):
        direction[i] = -g[i]
    while reason == _RUNNING:
        # u = direction / unit: the same step, bit for bit, with no overflow
        # in its curvature when theta is near 1e154 (y near it)
        unit = _unit(direction, dim)
        for i in range(dim):
            u[i] = direction[i] / unit
        _gram_hessp(&Q, u, hp)
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
        f = _gram_objective(&Q, &theta[0], g, work)
        n_evals += 1
        gnorm = _norm(g, work, dim)
        curve.append(f)
        n_iter += 1
        reason = _stop(f, gnorm, diverged_above, gtol, n_iter, max_iter)
        if reason != _RUNNING:
            break
        if n_iter % _SIGNAL_EVERY == 0:
            PyErr_CheckSignals()
        since_restart += 1
        # Polak-Ribière: beta = max(g @ (g − g_old) / (g_old @ g_old), 0)
        beta = _polak_ribiere(g, g_old, dim)
        if not beta > 0.0 or since_restart >= dim:
            beta = 0.0
        if since_restart >= dim:
            since_restart = 0
        for i in range(dim):
            direction[i] = -g[i] + beta * direction[i]
    return n_iter, n_evals, STOP_REASONS[reason], f, gnorm, curve
