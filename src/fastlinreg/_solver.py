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

Every loop stops when ``|g| <= gtol`` at the current iterate (converged),
after ``max_iter`` iterations, when a monitor asks it to, or when the
objective stops being finite or grows past ``_DIVERGED`` times its start.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

__all__ = [
    "SolverResult",
    "accelerated_gradient",
    "conjugate_gradient",
    "gradient_descent",
]

F64 = npt.NDArray[np.float64]
Objective = Callable[[F64], tuple[float, F64]]
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


def _norm(g: F64) -> float:
    return math.sqrt(float(g @ g))


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


@dataclass
class _Run:
    """Book-keeping shared by the loops: history, stopping tests, the monitor."""

    fun: Objective
    gtol: float
    max_iter: int
    monitor: Monitor | None
    f_scale: float
    theta: F64 = field(init=False)
    f: float = field(init=False)
    g: F64 = field(init=False)
    gnorm: float = field(init=False)
    n_evals: int = 0
    n_iter: int = 0
    curve: list[float] = field(default_factory=list)

    def start(self, theta0: F64) -> str | None:
        self.theta = np.array(theta0, dtype=np.float64)
        self.f, self.g = self.eval(self.theta)
        self.gnorm = _norm(self.g)
        self.curve.append(self.f)
        if not (math.isfinite(self.f) and math.isfinite(self.gnorm)):
            return "diverged"
        return self.check()

    def eval(self, theta: F64) -> tuple[float, F64]:
        self.n_evals += 1
        return self.fun(theta)

    def slack(self) -> float:
        return _ROUNDING_SLACK * (abs(self.f) + self.f_scale)

    def accept(self, theta: F64, f: float, g: F64) -> str | None:
        """Move to a new iterate; the reason to stop, if there is one."""
        self.theta, self.f, self.g = theta, f, g
        self.gnorm = _norm(g)
        self.curve.append(f)
        self.n_iter += 1
        if not (math.isfinite(f) and math.isfinite(self.gnorm)):
            return "diverged"
        if f > _DIVERGED * max(self.curve[0], np.finfo(np.float64).tiny):
            return "diverged"
        return self.check()

    def check(self) -> str | None:
        if self.monitor is not None and self.monitor(
            self.n_iter, self.theta, self.f, self.gnorm
        ):
            return "callback"
        if self.gnorm <= self.gtol:
            return "converged"
        if self.n_iter >= self.max_iter:
            return "max_iter"
        return None

    def result(self, reason: str) -> SolverResult:
        return SolverResult(
            theta=self.theta,
            loss=float(self.f),
            grad_norm=self.gnorm,
            n_iter=self.n_iter,
            n_evals=self.n_evals,
            loss_curve=np.asarray(self.curve, dtype=np.float64),
            converged=reason == "converged",
            stop_reason=reason,
        )


def gradient_descent(
    fun: Objective,
    theta0: F64,
    *,
    step: float,
    max_iter: int,
    gtol: float,
    line_search: bool,
    f_scale: float = 0.0,
    monitor: Monitor | None = None,
) -> SolverResult:
    """Minimise ``fun`` from ``theta0`` by gradient descent (module docstring).

    ``f_scale`` is the scale of the terms the objective sums (for the mean
    squared error, the variance of y); it sets the rounding slack of the line
    search. ``monitor`` is called after every iteration.
    """
    run = _Run(fun, gtol, max_iter, monitor, f_scale)
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
    *,
    lipschitz: float,
    strong_convexity: float = 0.0,
    max_iter: int,
    gtol: float,
    f_scale: float = 0.0,
    monitor: Monitor | None = None,
) -> SolverResult:
    """Minimise ``fun`` from ``theta0`` by Nesterov's method (module docstring).

    ``lipschitz`` is the gradient's Lipschitz constant (or a guess, corrected
    upwards when needed); ``strong_convexity`` its lower counterpart ``μ``
    (0 when unknown).
    """
    run = _Run(fun, gtol, max_iter, monitor, f_scale)
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
    *,
    hessp: Callable[[F64], F64],
    max_iter: int,
    gtol: float,
    f_scale: float = 0.0,
    monitor: Monitor | None = None,
) -> SolverResult:
    """Minimise a convex quadratic ``fun`` by conjugate gradients.

    ``hessp(v)`` is the product of the (constant) Hessian with ``v``. The
    directions are restarted from the steepest descent one every
    ``dim(theta)`` steps, and whenever a direction stops being one of descent.
    """
    run = _Run(fun, gtol, max_iter, monitor, f_scale)
    reason = run.start(theta0)
    direction = -run.g
    since_restart = 0
    while reason is None:
        curv = float(direction @ hessp(direction))
        slope = float(direction @ run.g)
        if not curv > 0.0 or not slope < 0.0:
            reason = "line_search_failed"
            break
        theta = run.theta + (-slope / curv) * direction
        f_new, g_new = run.eval(theta)
        g_old = run.g
        reason = run.accept(theta, f_new, g_new)
        since_restart += 1
        # Polak-Ribière coefficient, clipped at 0 (a restart) as usual.
        beta = max(float(g_new @ (g_new - g_old)) / float(g_old @ g_old), 0.0)
        if since_restart >= theta.shape[0]:
            beta, since_restart = 0.0, 0
        direction = -g_new + beta * direction
    return run.result(reason)
