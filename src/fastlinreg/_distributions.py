"""The few distribution functions inference needs, in NumPy alone.

Student's t, Fisher's F and the standard normal: tail probabilities and the
t and normal quantiles for confidence intervals. ``import fastlinreg`` stays
NumPy-only, so these are written here (SciPy, when installed, is what the
tests hold them to: ~1e-13 relative over the ranges inference meets).

The t and F tails are regularised incomplete beta functions,
``I_x(a, b) = x^a (1 − x)^b / (a B(a, b)) · 1 / (1 + d₁ / (1 + d₂ / …))``,
the continued fraction evaluated by the modified Lentz method on the side of
the transition point where it converges fast (the other side by symmetry,
with ``1 − x`` passed in exactly, never formed by a subtraction that would
lose a small tail).
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from ._typing import F64

__all__ = ["f_sf", "norm_ppf", "norm_sf", "t_ppf", "t_sf2"]

_TINY = 1e-300
_EPS = 1e-16
_MAX_TERMS = 200_000


def _stirling_tail(z: float) -> float:
    """log Γ(z) − [(z − ½) log z − z + ½ log 2π], for z ≥ 10 (the series'
    next term is below 1e-17 there)."""
    z2 = z * z
    return (
        1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * z2)) / z2) / z2
    ) / z


def _log_beta(a: float, b: float) -> float:
    """log B(a, b), accurate when one argument is large (degrees of freedom in
    the millions): log Γ(big) − log Γ(big + small) by Stirling's series, where
    the difference of two lgamma values of ~1e7 would keep ~1e-9 of it."""
    small, big = min(a, b), max(a, b)
    if big < 10.0:
        return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
    total = big + small
    # (big − ½) log big − (total − ½) log total + small, without cancellation
    ratio = -(big - 0.5) * math.log1p(small / big) - small * math.log(total) + small
    return math.lgamma(small) + ratio + _stirling_tail(big) - _stirling_tail(total)


def _beta_fraction(a: float, b: float, x: F64) -> F64:
    """The continued fraction of I_x(a, b) (modified Lentz), element-wise."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = np.ones_like(x)
    d = 1.0 - qab * x / qap
    d = np.where(np.abs(d) < _TINY, _TINY, d)
    d = 1.0 / d
    h = d.copy()
    live = np.ones(x.shape, dtype=bool)
    for m in range(1, _MAX_TERMS):
        # The even step d_{2m}, then the odd step d_{2m+1}.
        for num in (
            m * (b - m) * x / ((qam + 2 * m) * (a + 2 * m)),
            -(a + m) * (qab + m) * x / ((a + 2 * m) * (qap + 2 * m)),
        ):
            d = 1.0 + num * d
            d = np.where(np.abs(d) < _TINY, _TINY, d)
            c = 1.0 + num / c
            c = np.where(np.abs(c) < _TINY, _TINY, c)
            d = 1.0 / d
            step = d * c
            h = np.where(live, h * step, h)
        live &= np.abs(step - 1.0) > _EPS
        if not live.any():
            return h
    raise ArithmeticError("the incomplete beta function did not converge")


def _ibeta(a: float, b: float, x: F64, y: F64) -> F64:
    """I_x(a, b) for x in [0, 1], with ``y = 1 − x`` given exactly."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    out = np.zeros_like(x)
    out[y <= 0.0] = 1.0
    inner = (x > 0.0) & (y > 0.0)
    if not inner.any():
        return out
    xi, yi = x[inner], y[inner]
    # log x and log y, each from the smaller of the two where it is small
    with np.errstate(divide="ignore"):
        log_x = np.where(xi > 0.5, np.log1p(-yi), np.log(xi))
        log_y = np.where(yi > 0.5, np.log1p(-xi), np.log(yi))
    front = np.exp(a * log_x + b * log_y - _log_beta(a, b))
    direct = xi < (a + 1.0) / (a + b + 2.0)
    res = np.empty_like(xi)
    if direct.any():
        res[direct] = front[direct] / a * _beta_fraction(a, b, xi[direct])
    if (~direct).any():
        res[~direct] = 1.0 - front[~direct] / b * _beta_fraction(b, a, yi[~direct])
    out[inner] = res
    return out


def t_sf2(t: F64, df: float) -> F64:
    """Two-sided tail ``P(|T| > |t|)`` of Student's t with ``df`` degrees of
    freedom: ``I_{df/(df+t²)}(df/2, 1/2)``."""
    t = np.abs(np.asarray(t, dtype=np.float64))
    t2 = t * t
    with np.errstate(over="ignore", invalid="ignore"):
        x = df / (df + t2)
        y = t2 / (df + t2)
    out = _ibeta(
        0.5 * df, 0.5, np.where(np.isinf(t), 0.0, x), np.where(np.isinf(t), 1.0, y)
    )
    return np.where(np.isnan(t), np.nan, out)


def _t_pdf(t: float, df: float) -> float:
    log_c = (
        math.lgamma(0.5 * (df + 1))
        - math.lgamma(0.5 * df)
        - 0.5 * math.log(df * math.pi)
    )
    return math.exp(log_c - 0.5 * (df + 1) * math.log1p(t * t / df))


def t_ppf(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t (``p`` in (0.5, 1): the upper point of
    a two-sided interval), by Newton's method on the two-sided tail from the
    normal quantile, safeguarded by bisection."""
    if not 0.5 < p < 1.0:
        raise ValueError(f"t_ppf needs 0.5 < p < 1, got {p}")
    alpha = 2.0 * (1.0 - p)  # the two-sided tail to hit
    lo, hi = 0.0, math.inf
    q = norm_ppf(p)
    for _ in range(200):
        g = float(t_sf2(np.array([q]), df)[0]) - alpha
        if g > 0:
            lo = q
        else:
            hi = q
        # d/dq P(|T| > q) = −2 f(q)
        step = g / (2.0 * _t_pdf(q, df))
        nxt = q + step
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi) if math.isfinite(hi) else 2.0 * max(q, 1.0)
        if abs(nxt - q) <= 1e-15 * abs(q):
            return nxt
        q = nxt
    return q


def f_sf(f: float, df_num: float, df_den: float) -> float:
    """Upper tail ``P(F > f)`` of Fisher's F: ``I_{d₂/(d₂+d₁f)}(d₂/2, d₁/2)``."""
    if math.isnan(f):
        return math.nan
    if f <= 0.0:
        return 1.0
    den = df_den + df_num * f
    x = np.array([df_den / den])
    y = np.array([df_num * f / den])
    return float(_ibeta(0.5 * df_den, 0.5 * df_num, x, y)[0])


def norm_sf(z: F64) -> F64:
    """Upper tail of the standard normal, ``erfc(z/√2)/2``, element-wise."""
    z = np.asarray(z, dtype=np.float64)
    erfc = np.vectorize(math.erfc, otypes=[np.float64])
    return 0.5 * erfc(z / math.sqrt(2.0))  # type: ignore[no-any-return]


def norm_ppf(p: float) -> float:
    """The ``p`` quantile of the standard normal."""
    return NormalDist().inv_cdf(p)
