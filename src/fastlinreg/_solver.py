"""The gradient-descent loops: step sizes, convergence checks and history.

The loops know nothing about data: they see an objective ``fun(theta) ->
(value, gradient)`` (one kernel pass, or an O(d²) evaluation on sufficient
statistics) and a starting point.

``gradient_descent``
    With ``line_search=False``: plain gradient descent with a fixed step, the
    tutorial's algorithm. With ``line_search=True``: an Armijo backtracking
    line search; a trial step ``t`` is accepted when it decreases the objective
    by at least ``_ARMIJO · t · |g|²`` (which any ``t <= 1/L`` does on an
    L-smooth objective), else it is halved. Near the optimum, where that
    decrease is below the rounding of the objective, a step is accepted when
    it shrinks the gradient instead. Until the first rejection the step
    doubles after each accepted step, so a cautious first guess costs only a
    few iterations; after it the step stays calibrated and no evaluation is
    wasted on rejected trials. One evaluation per iteration in steady state.

``accelerated_gradient``
    Nesterov's method with a step ``1/L`` (``L`` doubled whenever the
    sufficient-decrease test fails, so an underestimate is corrected), constant
    momentum ``(√L − √μ)/(√L + √μ)`` when the strong-convexity constant ``μ``
    is known and the usual ``t_k`` sequence otherwise. It is kept monotone: a
    step that would increase the objective is replaced by a plain gradient
    step and the momentum restarts. Two evaluations per iteration, so it pays
    where evaluations are cheap (sufficient statistics) or many iterations are
    needed (ill-conditioned problems).

``conjugate_gradient``
    For a quadratic objective whose Hessian-vector product is at hand (the
    squared loss on sufficient statistics): conjugate directions built from
    the gradients, each step the exact minimiser along its direction. It
    reaches the minimum in at most ``dim(theta)`` steps in exact arithmetic,
    whatever the conditioning; the gradient is re-evaluated by the objective
    at every step (not updated recursively), so rounding does not accumulate.

Every loop reads one :class:`StopRule` (``max_iter``, ``gtol``, the
objective's scale and the monitor) and stops when ``|g| <= gtol`` at the
current iterate (converged), after ``max_iter`` iterations, when the monitor
asks it to, or when the objective stops being finite or grows past
``_DIVERGED`` times its start. The proximal Newton loop, for the other losses
and the penalties, is in ``_newton``. This module imports nothing of the
package but the type aliases: the NumPy twin of the compiled ``gram_cg`` runs
:func:`conjugate_gradient` itself, so there is one CG in Python.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._typing import F64, Objective

__all__ = [
    "Monitor",
    "SolverResult",
    "StopRule",
    "accelerated_gradient",
    "conjugate_gradient",
    "gradient_descent",
]

# monitor(iteration, theta, loss, grad_norm) -> True to stop
Monitor = Callable[[int, F64, float, float], bool]

_ARMIJO = 0.25
_GROW = 2.0
_SHRINK = 0.5
_MAX_BACKTRACKS = 60
_DIVERGED = 1e6
# Slack in the sufficient-decrease tests, relative to the objective's scale:
# near the optimum the decrease a step buys falls below the rounding of the
# objective itself, which is of the order of eps times the scale of the terms
# summed in it (not of the objective's value, far smaller when the fit is good).
_ROUNDING_SLACK = 16 * np.finfo(np.float64).eps
_TINY = float(np.finfo(np.float64).tiny)


def _diverged_above(f0: float) -> float:
    """The objective past which a loop that started at ``f0`` has diverged."""
    return _DIVERGED * max(f0, _TINY)


def _unit(v: F64) -> float:
    """The power of two just above ``max|v|`` (1 if v is 0 or not finite).

    Dividing by it is exact, so products of the scaled vectors are those of
    the originals scaled by a power of two, bit for bit, but cannot overflow
    where the originals' would (entries near 1e154 and beyond).
    """
    m = float(np.abs(v).max()) if v.size else 0.0
    if not 0.0 < m < math.inf:
        return 1.0
    return math.ldexp(1.0, math.frexp(m)[1])


def _norm(g: F64) -> float:
    unit = _unit(g)
    u = g / unit
    return unit * math.sqrt(float(u @ u))


class StopRule(NamedTuple):
    """When a loop stops, read by every loop (one bundle, not a relay of
    keywords).

    ``max_iter`` iterations at most; converged when the gradient's norm is at
    most ``gtol``; ``f_scale`` is the scale of the terms the objective sums
    (for the mean squared error, the variance of y), which sets the rounding
    slack of the sufficient-decrease tests; ``monitor`` is called at the start
    and after every iteration and stops the loop by returning True.
    """

    max_iter: int
    gtol: float
    f_scale: float = 0.0
    monitor: Monitor | None = None

    def slack(self, f: float) -> float:
        """What rounding may hide of a decrease of an objective near ``f``."""
        return _ROUNDING_SLACK * (abs(f) + self.f_scale)


@dataclass(frozen=True)
class SolverResult:
    """What a run of a loop produced.

    ``loss_curve[k]`` is the objective after ``k`` iterations
    (``loss_curve[0]`` at the starting point), so it has ``n_iter + 1``
    entries.
    """

    theta: F64
    loss: float
    grad_norm: float
    n_iter: int
    n_evals: int
    loss_curve: F64
    converged: bool
    stop_reason: str

    @classmethod
    def stopped(
        cls,
        reason: str,
        theta: F64,
        loss: float,
        grad_norm: float,
        n_iter: int,
        n_evals: int,
        curve: list[float],
    ) -> SolverResult:
        """The result of a loop that stopped for ``reason``."""
        return cls(
            theta=theta,
            loss=float(loss),
            grad_norm=grad_norm,
            n_iter=n_iter,
            n_evals=n_evals,
            loss_curve=np.asarray(curve, dtype=np.float64),
            converged=reason == "converged",
            stop_reason=reason,
        )


class _Run:
    """Book-keeping shared by the loops: history, stopping tests, the monitor."""

    def __init__(self, fun: Objective, rule: StopRule) -> None:
        self.fun = fun
        self.rule = rule
        self.n_evals = 0
        self.n_iter = 0
        self.curve: list[float] = []
        self.theta: F64
        self.f: float
        self.g: F64
        self.gnorm: float
        self._diverged_above = math.inf

    def start(self, theta0: F64) -> str | None:
        self.theta = np.array(theta0, dtype=np.float64)
        self.f, self.g = self.eval(self.theta)
        self.gnorm = _norm(self.g)
        self.curve.append(self.f)
        if not (math.isfinite(self.f) and math.isfinite(self.gnorm)):
            return "diverged"
        self._diverged_above = _diverged_above(self.f)
        return self.check()

    def eval(self, theta: F64) -> tuple[float, F64]:
        self.n_evals += 1
        return self.fun(theta)

    def slack(self) -> float:
        return self.rule.slack(self.f)

    def accept(self, theta: F64, f: float, g: F64) -> str | None:
        """Move to a new iterate; the reason to stop, if there is one."""
        self.theta, self.f, self.g = theta, f, g
        self.gnorm = _norm(g)
        self.curve.append(f)
        self.n_iter += 1
        if not (math.isfinite(f) and math.isfinite(self.gnorm)):
            return "diverged"
        if f > self._diverged_above:
            return "diverged"
        return self.check()

    def check(self) -> str | None:
        rule = self.rule
        if rule.monitor is not None and rule.monitor(
            self.n_iter, self.theta, self.f, self.gnorm
        ):
            return "callback"
        if self.gnorm <= rule.gtol:
            return "converged"
        if self.n_iter >= rule.max_iter:
            return "max_iter"
        return None

    def result(self, reason: str) -> SolverResult:
        return SolverResult.stopped(
            reason,
            self.theta,
            self.f,
            self.gnorm,
            self.n_iter,
            self.n_evals,
            self.curve,
        )


def gradient_descent(
    fun: Objective,
    theta0: F64,
    rule: StopRule,
    *,
    step: float,
    line_search: bool,
) -> SolverResult:
    """Minimise ``fun`` from ``theta0`` by gradient descent (module docstring):
    a fixed ``step``, or a first trial step of a backtracking line search."""
    run = _Run(fun, rule)
    reason = run.start(theta0)
    t = float(step)
    growing = line_search
    while reason is None:
        if line_search:
            g2 = run.gnorm * run.gnorm
            for _ in range(_MAX_BACKTRACKS):
                trial = run.theta - t * run.g
                f_new, g_new = run.eval(trial)
                wanted = _ARMIJO * t * g2
                if run.f - f_new >= wanted:
                    break
                if run.f - f_new >= wanted - run.slack() and _norm(g_new) < run.gnorm:
                    # Within rounding the objective cannot tell; the gradient,
                    # which shrinks under any stable step, says we progressed.
                    growing = False
                    break
                t *= _SHRINK
                growing = False
            else:
                reason = "line_search_failed"
                break
        else:
            trial = run.theta - t * run.g
            f_new, g_new = run.eval(trial)
        reason = run.accept(trial, f_new, g_new)
        if growing:
            t *= _GROW
    return run.result(reason)


def accelerated_gradient(
    fun: Objective,
    theta0: F64,
    rule: StopRule,
    *,
    lipschitz: float,
    strong_convexity: float = 0.0,
) -> SolverResult:
    """Minimise ``fun`` from ``theta0`` by Nesterov's method (module docstring).

    ``lipschitz`` is the gradient's Lipschitz constant (or a guess, corrected
    upwards when needed); ``strong_convexity`` its lower counterpart ``μ``
    (0 when unknown).
    """
    run = _Run(fun, rule)
    reason = run.start(theta0)
    L = float(lipschitz)
    mu = float(strong_convexity)
    y, f_y, g_y = run.theta, run.f, run.g
    t_k = 1.0
    while reason is None:
        # z = y − g(y)/L, with L doubled until the decrease it promises holds
        for _ in range(_MAX_BACKTRACKS):
            z = y - g_y / L
            f_z, g_z = run.eval(z)
            if f_z <= f_y - float(g_y @ g_y) / (2.0 * L) + run.slack():
                break
            L *= 2.0
        else:
            reason = "line_search_failed"
            break
        if f_z > run.f + run.slack():
            # Momentum overshot: take a plain gradient step from the iterate
            # instead (it decreases the objective) and restart the momentum.
            z = run.theta - run.g / L
            f_z, g_z = run.eval(z)
            t_k = 1.0
            y_next_momentum = 0.0
        else:
            if mu > 0.0:
                y_next_momentum = (math.sqrt(L) - math.sqrt(mu)) / (
                    math.sqrt(L) + math.sqrt(mu)
                )
            else:
                t_next = (1.0 + math.sqrt(1.0 + 4.0 * t_k * t_k)) / 2.0
                y_next_momentum = (t_k - 1.0) / t_next
                t_k = t_next
        previous = run.theta
        reason = run.accept(z, f_z, g_z)
        if reason is not None:
            break
        y = z + y_next_momentum * (z - previous)
        if y_next_momentum == 0.0:
            f_y, g_y = f_z, g_z
        else:
            f_y, g_y = run.eval(y)
    return run.result(reason)


def conjugate_gradient(
    fun: Objective,
    theta0: F64,
    rule: StopRule,
    *,
    hessp: Callable[[F64], F64],
) -> SolverResult:
    """Minimise a convex quadratic ``fun`` by conjugate gradients.

    ``hessp(v)`` is the product of the (constant) Hessian with ``v``. The
    directions are restarted from the steepest descent one every
    ``dim(theta)`` steps, and whenever a direction stops being one of descent.
    """
    run = _Run(fun, rule)
    reason = run.start(theta0)
    direction = -run.g
    since_restart = 0
    while reason is None:
        # The direction over a power of two: the same step, bit for bit, with
        # no overflow in its curvature when theta is near 1e154 (y near it).
        u = direction / _unit(direction)
        curv = float(u @ hessp(u))
        slope = float(u @ run.g)
        if not curv > 0.0 or not slope < 0.0:
            reason = "line_search_failed"
            break
        theta = run.theta + (-slope / curv) * u
        f_new, g_new = run.eval(theta)
        g_old = run.g
        reason = run.accept(theta, f_new, g_new)
        if reason is not None:
            break
        since_restart += 1
        # Polak-Ribière coefficient, clipped at 0 (a restart) as usual (the
        # gradients over a power of two, as the direction above).
        unit = max(_unit(g_old), _unit(g_new))
        g_new_u, g_old_u = g_new / unit, g_old / unit
        beta = float(g_new_u @ (g_new_u - g_old_u)) / float(g_old_u @ g_old_u)
        beta = beta if beta > 0.0 else 0.0
        if since_restart >= theta.shape[0]:
            beta, since_restart = 0.0, 0
        direction = -g_new + beta * direction
    return run.result(reason)
