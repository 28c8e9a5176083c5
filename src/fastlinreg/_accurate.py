"""The mean squared error with a gradient exact to the last bit.

For iterative refinement of ill-conditioned fits on small data (see
``_refine``): error-free transformations in NumPy, exact sums by
``math.fsum``.
"""

from __future__ import annotations

import math

import numpy as np

from ._coords import Coordinates
from ._typing import F64, FloatArray

__all__ = ["AccurateMSE"]


# Error-free transformations (Dekker, Knuth): a + b and a·b as an unevaluated
# sum hi + lo of two doubles, exactly, elementwise.
_SPLITTER = 134217729.0  # 2**27 + 1


def _two_sum(a: F64, b: F64) -> tuple[F64, F64]:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _split(a: F64) -> tuple[F64, F64]:
    c = _SPLITTER * a
    hi = c - (c - a)
    return hi, a - hi


def _two_prod(a: F64, b: F64) -> tuple[F64, F64]:
    p = a * b
    ah, al = _split(a)
    bh, bl = _split(b)
    return p, ((ah * bh - p) + ah * bl + al * bh) + al * bl


class AccurateMSE:
    """The mean squared error with a gradient accurate to the last bit.

    For iterative refinement of ill-conditioned fits (the statistics'
    solution carries the rounding of forming ``X'X``; a correction can only
    be as good as the gradient it is computed from). The residuals
    ``e = (y − y_offset) − c − (x − offset)·coef`` are formed in double-double
    arithmetic (error-free sums and products), and each gradient component
    ``Σ (x_j − offset_j)·e`` is summed exactly (``math.fsum`` of the error-free
    products). NumPy only, one row block at a time: some twenty times the
    work of a kernel pass, which is why the estimator uses it on small data
    only (the NIST problems, say), where the digits matter most.
    """

    def __init__(self, X: FloatArray, y: FloatArray, coords: Coordinates) -> None:
        self.X, self.y = X, y
        self.coords = coords

    def __call__(self, theta: F64) -> tuple[float, F64]:
        coords = self.coords
        coef, c = coords.split(theta)
        n, d = self.X.shape
        parts: list[list[float]] = [[] for _ in range(d + 1)]
        loss = 0.0
        for lo in range(0, n, _ACCURATE_BLOCK):
            xb = np.asarray(self.X[lo : lo + _ACCURATE_BLOCK], dtype=np.float64)
            yb = np.asarray(self.y[lo : lo + _ACCURATE_BLOCK], dtype=np.float64)
            zh, zl = _two_sum(xb, -coords.offset)  # x − offset, exactly
            # e = (y − y_offset) − c − Σ_j z_j·coef_j, as eh + el
            eh, el = _two_sum(yb, np.full_like(yb, -coords.y_offset))
            eh, err = _two_sum(eh, np.full_like(yb, -c))
            el += err
            for j in range(d):
                p, perr = _two_prod(zh[:, j], np.full_like(yb, coef[j]))
                eh, err = _two_sum(eh, -p)
                el += err - perr - zl[:, j] * coef[j]
            eh, el = _two_sum(eh, el)
            loss += float(eh @ eh)
            # Σ z_j·e: exact products of the leading parts, the rest plainly
            for j in range(d):
                p, perr = _two_prod(zh[:, j], eh)
                parts[j] += [*p, *(perr + zh[:, j] * el + zl[:, j] * eh)]
            parts[d] += [*eh, *el]
        sums = np.array([math.fsum(v) for v in parts])
        grad_coef = (-2.0 / n) * sums[:d]
        return loss / n, coords.gradient(grad_coef, -2.0 * sums[d] / n)


# Rows per block of AccurateMSE (its temporaries: a few blocks of X).
_ACCURATE_BLOCK = 1 << 14
