"""Datafits: the objectives the solvers minimise, built from data or statistics.

Each is a function of the solver's ``theta`` (see ``_coords``):

``StreamingMSE``
    the mean squared error by one fused kernel pass over ``X`` and ``y`` per
    evaluation: O(n·d).
``GramMSE``
    the same function from the sufficient statistics gathered beforehand:
    O(d²) per evaluation (the NumPy twin's :class:`GramObjective` in the
    estimator's coordinates).
``StatsQuadratic``
    ``GramMSE`` with its constant Hessian, for the Newton loop (penalties on
    the squared loss).
``StreamingLoss``
    any loss, its gradient and Hessian by one pass of ``robust_loss_gradient``
    per evaluation, for the Newton loop.

The non-smooth losses (absolute, quantile, epsilon-insensitive) are minimised
through smoothed versions ``ℓ_h``: each kink is replaced, within ``h`` of it,
by the parabola tangent to both sides, so ``ℓ <= ℓ_h <= ℓ + h/2``, and the two
differ only for residuals within ``h`` of a kink. A sequence of smoothing
levels, each solved by Newton's method from the previous solution
(continuation), shrinks ``h`` tenfold at a time until the smoothing's effect
on the objective, at most ``h/2`` times the share of weight within ``h`` of a
kink, is below ``1e-6`` of the objective (or ``h/2`` alone below ``1e-5`` of
it); that level is then solved to ``tol``. So the exact objective at the
result is within about ``1e-6`` (at worst ``1e-5``) relative of its minimum;
without a penalty, the quantile and absolute losses then take the exact
minimiser, a vertex of their linear programme (:meth:`StreamingLoss.finish`,
:mod:`fastlinreg._vertex`).
Huber's loss starts from least squares (``epsilon`` infinite), then takes its
own ``epsilon``.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np

from ._coords import Coordinates
from ._losses import Loss
from ._newton import Evaluation
from ._numpy_kernels import GramObjective
from ._solver import SolverResult
from ._stats import SufficientStats
from ._typing import F64, FloatArray
from ._vertex import quantile_vertex

__all__ = ["GramMSE", "StatsQuadratic", "StreamingLoss", "StreamingMSE"]

# Continuation: each smoothing level is this fraction of the previous one; the
# last is the first whose effect on the objective is below _SMOOTHING_GAP of it
# (counting the band's weight), or below _SMOOTHING_GAP_ANY whatever the band.
_SMOOTHING_DECAY = 0.1
_SMOOTHING_GAP = 1e-6
_SMOOTHING_GAP_ANY = 1e-5
# A level other than the last is solved until Newton's predicted decrease is
# below this fraction of its smoothing bias (h/2 at most).
_STAGE_TOL = 1e-3
# Huber's continuation: least squares (epsilon = infinity), then epsilon.
_HUGE_EPSILON = 1e300
# Piecewise-linear losses whose exact minimiser finish() finds.
_VERTEX_LOSSES = frozenset({"quantile", "absolute_error"})


class StreamingMSE:
    """Mean squared error by one fused kernel pass over the data per call."""

    def __init__(
        self,
        kernels: ModuleType,
        X: FloatArray,
        y: FloatArray,
        coords: Coordinates,
        n_threads: int,
    ) -> None:
        self.kernels = kernels
        self.X, self.y = X, y
        self.coords = coords
        self.n_threads = n_threads
        self._grad = np.empty(coords.d)

    def __call__(self, theta: F64) -> tuple[float, F64]:
        coef, c = self.coords.split(theta)
        coords = self.coords
        loss, grad_c = self.kernels.loss_gradient(
            self.X,
            self.y,
            coef,
            c,
            coords.offset,
            coords.y_offset,
            self._grad,
            self.n_threads,
        )
        return float(loss), self.coords.gradient(self._grad, grad_c)


class GramMSE(GramObjective):
    """Mean squared error from sufficient statistics, in ``coords``: O(d²)
    per call (see :class:`~fastlinreg._numpy_kernels.GramObjective`)."""

    def __init__(self, stats: SufficientStats, coords: Coordinates) -> None:
        super().__init__(
            stats.cov,
            stats.mean,
            stats.n,
            coords.offset,
            coords.scale,
            coords.fit_intercept,
            coords.y_offset,
        )
        self.coords = coords


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

    def warm_start(self) -> None:
        """(A single stage: nothing to skip.)"""

    def finish(self, result: SolverResult, max_iter: int) -> SolverResult:
        return result  # (Newton's step solves a quadratic exactly)


class StreamingLoss:
    """Any loss by one pass of ``robust_loss_gradient`` per evaluation.

    The pass returns the value, the gradient and the Hessian (the sum of
    ``s_i ℓ''(r_i) z_i z_iᵀ``, accumulated only over rows with curvature);
    this class maps them to the solver's coordinates and divides by the
    weight sum. Non-smooth losses and Huber's are solved in stages
    (:meth:`advance`), see the module docstring. ``kernels`` are those of the
    pass (``Engine.hessian_kernels``: BLAS's twin for many features).
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
        self.kernels = kernels
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

    def warm_start(self) -> None:
        """The start is given (``coef_init``): Huber skips its least-squares
        stage, whose solution would only take it away from a start already
        near its own (a refit from the solution then takes no iteration)."""
        if self.loss.name == "huber":
            self.epsilon = self.loss.epsilon
            self.final = True

    def finish(self, result: SolverResult, max_iter: int) -> SolverResult:
        """The quantile and absolute losses: the exact minimiser, a vertex
        found from the smoothed one (:mod:`fastlinreg._vertex`), taken when
        it is certified optimal or its objective is no higher. The finish is
        not an iteration of the loop (``n_iter`` and the loss curve stay the
        loop's, as a callback saw them); ``loss`` is the vertex's. A run a
        callback stopped is left as it stopped."""
        if self.loss.name not in _VERTEX_LOSSES or result.stop_reason == "callback":
            return result
        coords = self.coords
        coef, intercept = coords.to_model(result.theta)
        q = 0.5 if self.loss.name == "absolute_error" else self.loss.quantile
        start = np.concatenate([[intercept], coef]) if coords.fit_intercept else coef
        weights = None if self.weights.shape[0] == 0 else self.weights
        found = quantile_vertex(
            self.X, self.y, weights, q, start, coords.fit_intercept, max_iter
        )
        if found is None or not (found.certified or found.objective <= found.start):
            return result
        beta = found.beta
        theta = (
            coords.to_theta(beta[1:], float(beta[0]))
            if coords.fit_intercept
            else coords.to_theta(beta, 0.0)
        )
        # (the absolute error is twice the pinball loss at q = 1/2)
        scale = (2.0 if self.loss.name == "absolute_error" else 1.0) / self.total
        converged = result.converged or found.certified
        return SolverResult(
            theta=theta,
            loss=found.objective * scale,
            grad_norm=result.grad_norm,
            n_iter=result.n_iter,
            n_evals=result.n_evals,
            loss_curve=result.loss_curve,
            converged=converged,
            stop_reason="converged" if converged else result.stop_reason,
        )
