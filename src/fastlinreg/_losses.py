"""Losses and penalties, and the objectives the Newton solver sees.

The objective is, with weights ``s_i`` (1 without ``sample_weight``) and
residuals ``r_i = y_i − x_i·coef − intercept``::

    F(coef, intercept) = Σ_i s_i ℓ(r_i) / Σ_i s_i
                         + alpha · (l1_ratio · ‖coef‖₁ + ½ (1 − l1_ratio) · ‖coef‖²)

with ``ℓ`` one of

=========================  ===================================================
``squared_error``          ``r²`` (so that F is the mean squared error)
``absolute_error``         ``|r|``
``huber``                  ``½ r²`` if ``|r| <= ε``, else ``ε·|r| − ½ ε²``
``quantile``               ``q·r`` if ``r >= 0``, else ``(q − 1)·r``
``epsilon_insensitive``    ``max(0, |r| − ε)``
=========================  ===================================================

(``ε`` is ``epsilon``, ``q`` is ``quantile``.)

The non-smooth losses (absolute, quantile, epsilon-insensitive) are minimised
through smoothed versions ``ℓ_h``: each kink is replaced, within ``h`` of it,
by the parabola tangent to both sides, so ``ℓ <= ℓ_h <= ℓ + h/2``, and the two
differ only for residuals within ``h`` of a kink. A sequence of smoothing
levels, each solved by Newton's method from the previous solution
(continuation), shrinks ``h`` tenfold at a time until the smoothing's effect
on the objective, at most ``h/2`` times the share of weight within ``h`` of a
kink, is below ``1e-6`` of the objective (or ``h/2`` alone below ``1e-5`` of
it); that level is then solved to ``tol``. So the exact objective at the
result is within about ``1e-6`` (at worst ``1e-5``) relative of its minimum.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _numpy_kernels
from ._objectives import Coordinates, GramMSE
from ._solver import Evaluation
from ._validation import FloatArray, check_choice, check_real

__all__ = [
    "LOSSES",
    "PENALTIES",
    "Loss",
    "Penalty",
    "StatsQuadratic",
    "StreamingLoss",
    "check_loss",
    "check_penalty",
]

F64 = npt.NDArray[np.float64]

# From this many features on, the d² products a row of the Hessian are BLAS's
# job (the NumPy twin: matmul on the rows with curvature), not the hand loop.
_HESSIAN_BLAS_MIN_FEATURES = 16

# The kernels' loss codes (see robust_loss_gradient in _kernels.pyx).
LOSSES = {
    "squared_error": 0,
    "absolute_error": 1,
    "huber": 2,
    "quantile": 3,
    "epsilon_insensitive": 4,
}
NON_SMOOTH = frozenset({"absolute_error", "quantile", "epsilon_insensitive"})
PENALTIES = ("l2", "l1", "elasticnet", None)

# Continuation: each smoothing level is this fraction of the previous one; the
# last is the first whose effect on the objective is below _SMOOTHING_GAP of it
# (counting the band's weight), or below _SMOOTHING_GAP_ANY whatever the band.
_SMOOTHING_DECAY = 0.1
_SMOOTHING_GAP = 1e-6
_SMOOTHING_GAP_ANY = 1e-5
# A level other than the last is solved until Newton's predicted decrease is
# below this fraction of its smoothing bias (h/2 at most).
_STAGE_TOL = 1e-3
# The largest penalty weight per coordinate (see Penalty.in_theta).
_MAX_WEIGHT = 1e300
# Huber's continuation: least squares (epsilon = infinity), then epsilon.
_HUGE_EPSILON = 1e300


@dataclass(frozen=True)
class Loss:
    """A loss by name with its parameters (validated by :func:`check_loss`)."""

    name: str = "squared_error"
    epsilon: float = 0.1
    quantile: float = 0.5

    @property
    def code(self) -> int:
        return LOSSES[self.name]

    @property
    def smooth(self) -> bool:
        return self.name not in NON_SMOOTH

    def grad_scale(self, y_scale: float) -> float:
        """The typical size of ``dℓ/dr``: what ``tol`` is relative to."""
        if self.name == "squared_error":
            return y_scale
        if self.name == "huber":
            return min(self.epsilon, y_scale) if y_scale > 0 else self.epsilon
        return 1.0  # |dℓ/dr| <= 1


def check_loss(loss: Any, epsilon: Any, quantile: Any) -> Loss:
    """A :class:`Loss`, or ``ValueError``/``TypeError`` naming the problem."""
    check_choice(loss, "loss", tuple(LOSSES))
    eps = check_real(epsilon, "epsilon", "a non-negative finite float")
    if eps < 0:
        raise ValueError(
            f"epsilon must be a non-negative finite float, got {epsilon!r}"
        )
    if loss == "huber" and eps == 0:
        raise ValueError("epsilon must be > 0 for loss='huber'")
    q = check_real(quantile, "quantile", "a float in (0, 1)")
    if not 0 < q < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile!r}")
    return Loss(str(loss), eps, q)


@dataclass(frozen=True)
class Penalty:
    """``alpha · (l1_ratio · ‖coef‖₁ + ½ (1 − l1_ratio) · ‖coef‖²)``."""

    alpha: float = 0.0
    l1_ratio: float = 0.0

    @property
    def l1(self) -> float:
        return self.alpha * self.l1_ratio

    @property
    def l2(self) -> float:
        return self.alpha * (1.0 - self.l1_ratio)

    @property
    def active(self) -> bool:
        return self.alpha > 0

    def in_theta(self, coords: Coordinates) -> tuple[F64, F64]:
        """Per-coordinate L1 and L2 weights in the solver's ``theta``.

        ``coef = v / scale``, so ``l1·|coef_j| = (l1 / scale_j)·|v_j|`` and
        ``½ l2·coef_j² = ½ (l2 / scale_j²)·v_j²``; the intercept gets 0.
        """
        extra = 1 if coords.fit_intercept else 0
        l1 = np.zeros(coords.d + extra)
        l2 = np.zeros(coords.d + extra)
        with np.errstate(over="ignore"):
            l1[: coords.d] = self.l1 / coords.scale
            l2[: coords.d] = self.l2 / coords.scale**2
        # A weight beyond float64 (a huge alpha on a narrow column) pins its
        # coefficient at 0 just as well as a very large finite one.
        np.minimum(l1, _MAX_WEIGHT, out=l1)
        np.minimum(l2, _MAX_WEIGHT, out=l2)
        return l1, l2


def check_penalty(penalty: Any, alpha: Any, l1_ratio: Any) -> Penalty:
    """A :class:`Penalty`, or ``ValueError``/``TypeError`` naming the problem."""
    check_choice(penalty, "penalty", PENALTIES)
    a = check_real(alpha, "alpha", "a non-negative finite float")
    if a < 0:
        raise ValueError(f"alpha must be a non-negative finite float, got {alpha!r}")
    ratio = check_real(l1_ratio, "l1_ratio", "a float in [0, 1]")
    if not 0 <= ratio <= 1:
        raise ValueError(f"l1_ratio must be in [0, 1], got {l1_ratio!r}")
    if penalty is None:
        return Penalty(0.0, 0.0)
    ratio = {"l2": 0.0, "l1": 1.0}.get(penalty, ratio)
    return Penalty(a, ratio)


class StatsQuadratic:
    """The squared loss on sufficient statistics, with its constant Hessian."""

    final = True

    def __init__(self, objective: GramMSE) -> None:
        self.objective = objective
        self._hessian = objective.hessian()

    def evaluate(self, theta: F64) -> Evaluation:
        f, g = self.objective(theta)
        return Evaluation(f, g, self._hessian, f)

    def stage_tol(self) -> float:
        return 0.0

    def advance(self, exact: float) -> bool:
        raise AssertionError("a single stage")


class StreamingLoss:
    """Any loss by one pass of ``robust_loss_gradient`` per evaluation.

    The pass returns the value, the gradient and the Hessian (the sum of
    ``s_i ℓ''(r_i) z_i z_iᵀ``, accumulated only over rows with curvature);
    this class maps them to the solver's coordinates and divides by the
    weight sum. Non-smooth losses and Huber's are solved in stages
    (:meth:`advance`), see the module docstring.
    """

    def __init__(
        self,
        kernels: ModuleType,
        X: FloatArray,
        y: FloatArray,
        sample_weight: F64 | None,
        loss: Loss,
        coords: Coordinates,
        n_threads: int,
        y_scale: float,
    ) -> None:
        self.kernels = (
            _numpy_kernels if X.shape[1] >= _HESSIAN_BLAS_MIN_FEATURES else kernels
        )
        self.X, self.y = X, y
        self.weights = np.empty(0) if sample_weight is None else sample_weight
        self.total = float(X.shape[0] if sample_weight is None else sample_weight.sum())
        self.loss = loss
        self.coords = coords
        self.n_threads = n_threads
        d = coords.d
        self._grad = np.empty(d)
        self._hess = np.empty((d + 1, d + 1))
        # The first stage: a smoothing as wide as the spread of y (the loss is
        # then nearly quadratic), or least squares for Huber.
        self.final = loss.smooth and loss.name != "huber"
        self.smoothing = 0.0 if loss.smooth else max(y_scale, 1e-300)
        self.epsilon = _HUGE_EPSILON if loss.name == "huber" else loss.epsilon
        self._exact = 0.0
        self._band = 1.0  # share of the weight within the smoothing band

    def evaluate(self, theta: F64) -> Evaluation:
        coords = self.coords
        coef, c = coords.split(theta)
        value, grad_c, exact = self.kernels.robust_loss_gradient(
            self.X,
            self.y,
            self.weights,
            coef,
            c,
            coords.offset,
            coords.y_offset,
            self.loss.code,
            self.epsilon,
            self.loss.quantile,
            self.smoothing,
            self._grad,
            self._hess,
            self.n_threads,
        )
        inv = 1.0 / self.total
        # Chain rule: theta = (coef·scale, c), so d/dv = d/dcoef / scale.
        unscale = np.append(1.0 / coords.scale, 1.0)
        hess = self._hess * np.multiply.outer(unscale, unscale) * inv
        if not coords.fit_intercept:
            hess = hess[:-1, :-1]
        grad = coords.gradient(self._grad * inv, float(grad_c) * inv)
        self._exact = float(exact) * inv
        if self.smoothing > 0:
            # Σ w ℓ'' over the band is its weight times 1/h (absolute) or
            # 1/(2h) (pinball, epsilon-insensitive): the band's share.
            per_row = (
                1.0 / self.smoothing if self.loss.code == 1 else 0.5 / self.smoothing
            )
            self._band = min(float(self._hess[-1, -1]) * inv / per_row, 1.0)
        return Evaluation(float(value) * inv, grad, hess, self._exact)

    def __call__(self, theta: F64) -> tuple[float, F64]:
        e = self.evaluate(theta)
        return e.value, e.grad

    def stage_tol(self) -> float:
        """Newton decrement below which a non-final stage is solved."""
        if self.loss.name == "huber":  # least squares: one Newton step solves it
            return _STAGE_TOL * 1e-3 * self._exact
        return _STAGE_TOL * self.smoothing

    def advance(self, exact: float) -> bool:
        """Go to the next stage, given the exact mean loss where the last one
        ended; whether the function changed (False: the same level, now to be
        solved to ``tol``)."""
        if self.loss.name == "huber":
            self.epsilon = self.loss.epsilon
            self.final = True
            return True
        effect = 0.5 * self.smoothing
        if (
            effect * self._band <= _SMOOTHING_GAP * exact
            or effect <= _SMOOTHING_GAP_ANY * exact
            or exact == 0.0
        ):
            self.final = True  # solve this level to tol
            return False
        self.smoothing = max(self.smoothing * _SMOOTHING_DECAY, 1e-300)
        return True
