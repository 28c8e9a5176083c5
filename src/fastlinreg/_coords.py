"""The solver's coordinates: centring and scaling folded into the coefficients.

``theta = (v, c)``, where ``v`` are the coefficients of the standardised
features ``z = (x − offset) / scale`` and ``c`` the intercept at
``x = offset``, relative to ``y_offset`` (the mean of y: so ``c`` is small and
keeps digits a double of the size of y would not). The data are never
standardised: the kernels receive ``coef = v / scale`` and ``offset``, and
the chain rule maps the gradient back (``∂f/∂v = ∂f/∂coef / scale``). With
``offset`` the column means the Hessian is block diagonal, twice the
correlation matrix of ``X`` and 2 for ``c``, so one step size suits every
problem however its columns are scaled. With ``offset = 0`` and ``scale = 1``
theta is the raw ``(coef, intercept)`` (the tutorial's fixed-step descent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._typing import F64

__all__ = ["Coordinates", "coordinates"]


@dataclass(frozen=True)
class Coordinates:
    """The map between the solver's ``theta`` and the model's coefficients."""

    offset: F64
    scale: F64
    fit_intercept: bool
    y_offset: float = 0.0

    @property
    def d(self) -> int:
        return int(self.offset.shape[0])

    def split(self, theta: F64) -> tuple[F64, float]:
        """``theta`` -> (coef, intercept at x = offset, relative to y_offset)."""
        d = self.d
        return theta[:d] / self.scale, float(theta[d]) if self.fit_intercept else 0.0

    def gradient(self, grad_coef: F64, grad_c: float) -> F64:
        """The gradient in ``theta`` from the gradient in (coef, c)."""
        if not self.fit_intercept:
            return grad_coef / self.scale
        g = np.empty(self.d + 1)
        np.divide(grad_coef, self.scale, out=g[:-1])
        g[-1] = grad_c
        return g

    def to_theta(self, coef: F64, intercept: float) -> F64:
        if not self.fit_intercept:
            return coef * self.scale
        theta = np.empty(self.d + 1)
        np.multiply(coef, self.scale, out=theta[:-1])
        theta[-1] = intercept + float(coef @ self.offset) - self.y_offset
        return theta

    def to_model(self, theta: F64) -> tuple[F64, float]:
        coef, c = self.split(theta)
        if not self.fit_intercept:
            return coef, 0.0
        return coef, (self.y_offset + c) - float(coef @ self.offset)


def coordinates(
    fixed_step: bool, fit_intercept: bool, mean: F64, var: F64
) -> Coordinates:
    """Standardised coordinates for the automatic step, raw ones for a fixed one.

    ``mean`` and ``var`` are those of the columns of ``[X | y]``. Constant (or
    all-zero) columns keep unit scale.
    """
    d = mean.shape[0] - 1
    mean_x, var_x = mean[:d], var[:d]
    if fixed_step:
        return Coordinates(np.zeros(d), np.ones(d), fit_intercept)
    if fit_intercept:
        offset, scale = mean_x.copy(), np.sqrt(var_x)
    else:
        offset, scale = np.zeros(d), np.sqrt(var_x + mean_x**2)
    # (one comparison first: no column is constant, the common case)
    if not scale.min() > 1e-12 * max(float(np.abs(mean_x).max()), 1e-300):
        varying = scale > 1e-12 * np.maximum(np.abs(mean_x), 1e-300)
        scale[~varying] = 1.0
    y_offset = float(mean[d]) if fit_intercept else 0.0
    return Coordinates(offset, scale, fit_intercept, y_offset)
