# cython: language_level=3
"""The per-row terms of every loss, over one fused struct type (a header).

A loss is a small struct of its parameters, passed by value; the kernels are
written once over the fused type ``loss_t`` and compiled once per member, the
member chosen once per call (see ``_robust.pyx``). For a residual ``r``,
:func:`unit_terms` gives the smoothed loss ``ℓ_h(r)``, the exact ``ℓ(r)``,
``ψ = ℓ_h'(r)`` and ``ℓ_h''(r)``: the NumPy twin's ``_robust_terms``, as
branch-free rewrites of its ``np.where`` (a clip instead of a three-way
choice, so a residual of random sign costs no mispredicted branch). The
smoothed members round each kink off by a quadratic over a band of half-width
``h > 0``; the plain ones are the losses themselves (``h = 0``).
"""

from libc.math cimport fabs


cdef struct Squared:
    # r²;  ψ = 2r, ℓ'' = 2
    int unused        # (C has no empty struct)

cdef struct Huber:
    # ½t² + ε(|r| − |t|) with t = clip(r, −ε, ε);  ψ = t, ℓ'' = [|r| ≤ ε]
    double eps

cdef struct Absolute:
    # |r|;  ψ = sign(r), ℓ'' = 0
    int unused

cdef struct AbsoluteSmooth:
    # |r| + (h − |t|)²/(2h) with t = clip(r, −h, h);  ψ = t/h, ℓ'' = [|r| ≤ h]/h
    double h
    double inv_h

cdef struct Pinball:
    # q·r − min(r, 0);  ψ = q − ½ + ½ sign(r), ℓ'' = 0
    double q

cdef struct PinballSmooth:
    # ℓ + (h − |t|)²/(4h);  ψ = q − ½ + t/(2h), ℓ'' = [|r| ≤ h]/(2h)
    double q
    double h
    double inv_2h
    double inv_4h

cdef struct EpsInsensitive:
    # max(0, |r| − ε);  ψ = sign(r)·[|r| > ε], ℓ'' = 0
    double eps

cdef struct EpsInsensitiveSmooth:
    # the two hinges H(r − ε) + H(−r − ε), H(u) = max(0, u), each smoothed:
    # H_h(u) = (t + h)²/(4h) + max(u − h, 0) with t = clip(u, −h, h),
    # H_h' = (t + h)/(2h), H_h'' = [|u| ≤ h]/(2h); the bands may overlap
    # (h > ε) and the sum stays smooth and convex
    double eps
    double h
    double inv_2h
    double inv_4h

ctypedef fused loss_t:
    Squared
    Huber
    Absolute
    AbsoluteSmooth
    Pinball
    PinballSmooth
    EpsInsensitive
    EpsInsensitiveSmooth


cdef inline double clip(double x, double lo, double hi) noexcept nogil:
    """np.clip(x, lo, hi); compiles to minsd / maxsd."""
    x = x if x > lo else lo
    return x if x < hi else hi


cdef inline double sign(double x) noexcept nogil:
    """np.sign(x): −1, 0 or 1, without a branch."""
    return <double>(x > 0.0) - <double>(x < 0.0)


cdef inline void unit_terms(
    loss_t L, double r, double* smooth, double* exact, double* psi, double* curv,
) noexcept nogil:
    """ℓ_h(r), ℓ(r), ψ(r) = ℓ_h'(r) and ℓ_h''(r) (the struct comments above)."""
    cdef double a, t, g, e, u, s
    if loss_t is Squared:
        smooth[0] = r * r
        exact[0] = smooth[0]
        psi[0] = 2.0 * r
        curv[0] = 2.0
    elif loss_t is Huber:
        a = fabs(r)
        t = clip(r, -L.eps, L.eps)
        smooth[0] = 0.5 * t * t + L.eps * (a - fabs(t))
        exact[0] = smooth[0]
        psi[0] = t
        curv[0] = <double>(a <= L.eps)
    elif loss_t is Absolute:
        smooth[0] = fabs(r)
        exact[0] = smooth[0]
        psi[0] = sign(r)
        curv[0] = 0.0
    elif loss_t is AbsoluteSmooth:
        a = fabs(r)
        t = clip(r, -L.h, L.h)
        g = L.h - fabs(t)
        smooth[0] = a + g * g * (0.5 * L.inv_h)
        exact[0] = a
        psi[0] = t * L.inv_h
        curv[0] = L.inv_h * <double>(a <= L.h)
    elif loss_t is Pinball:
        smooth[0] = L.q * r - (r if r < 0.0 else 0.0)
        exact[0] = smooth[0]
        psi[0] = (L.q - 0.5) + 0.5 * sign(r)
        curv[0] = 0.0
    elif loss_t is PinballSmooth:
        e = L.q * r - (r if r < 0.0 else 0.0)
        t = clip(r, -L.h, L.h)
        g = L.h - fabs(t)
        smooth[0] = e + g * g * L.inv_4h
        exact[0] = e
        psi[0] = (L.q - 0.5) + t * L.inv_2h
        curv[0] = L.inv_2h * <double>(fabs(r) <= L.h)
    elif loss_t is EpsInsensitive:
        u = fabs(r) - L.eps
        smooth[0] = u if u > 0.0 else 0.0
        exact[0] = smooth[0]
        psi[0] = sign(r) * <double>(u > 0.0)
        curv[0] = 0.0
    else:  # EpsInsensitiveSmooth
        e = fabs(r) - L.eps
        exact[0] = e if e > 0.0 else 0.0
        # the two hinges max(0, r − ε) and max(0, −r − ε), each smoothed
        u = r - L.eps
        t = clip(u, -L.h, L.h)
        g = -r - L.eps
        s = clip(g, -L.h, L.h)
        smooth[0] = ((t + L.h) * (t + L.h) + (s + L.h) * (s + L.h)) * L.inv_4h
        smooth[0] += (u - L.h if u > L.h else 0.0) + (g - L.h if g > L.h else 0.0)
        psi[0] = (t - s) * L.inv_2h
        curv[0] = L.inv_2h * (<double>(fabs(u) <= L.h) + <double>(fabs(g) <= L.h))


cdef inline bint exact_is_smooth(loss_t L) noexcept nogil:
    """True for the members whose ℓ_h is ℓ itself (known when compiled)."""
    return not (loss_t is AbsoluteSmooth or loss_t is PinballSmooth
                or loss_t is EpsInsensitiveSmooth)


cdef inline void block_terms(
    loss_t L, const double* r, const double* sw, Py_ssize_t nb,
    double* psi, double* curv, double* sums,
) noexcept nogil:
    """Over the nb residuals r of a block, with weights sw (NULL: all 1):
    psi[i] = w_i ψ(r_i), curv[i] = w_i ℓ_h''(r_i), and
    sums += [Σ w ℓ_h(r), Σ w ℓ(r), Σ w ψ(r)], the block's terms summed first.
    The loop is compiled twice, with and without weights (w = 1 multiplies
    nothing), and Σ w ℓ is summed only where ℓ differs from ℓ_h."""
    if sw == NULL:
        _terms_loop(L, r, sw, False, nb, psi, curv, sums)
    else:
        _terms_loop(L, r, sw, True, nb, psi, curv, sums)


cdef inline void _terms_loop(
    loss_t L, const double* r, const double* sw, bint weighted, Py_ssize_t nb,
    double* psi, double* curv, double* sums,
) noexcept nogil:
    """block_terms with ``weighted`` a constant once inlined."""
    cdef double w, v, e, p, c, sv = 0.0, se = 0.0, sp = 0.0
    cdef Py_ssize_t i
    for i in range(nb):
        unit_terms(L, r[i], &v, &e, &p, &c)
        if weighted:
            # (NumPy: psi = w * ψ(r); curv = w * ℓ''(r))
            w = sw[i]
            p = w * p
            c = w * c
            v = w * v
            e = w * e
        psi[i] = p
        curv[i] = c
        # value += w @ ℓ_h(r); exact += w @ ℓ(r); grad_b_sum += w @ ψ(r)
        sv += v
        if not exact_is_smooth(L):
            se += e
        sp += p
    sums[0] += sv
    sums[1] += sv if exact_is_smooth(L) else se
    sums[2] += sp
