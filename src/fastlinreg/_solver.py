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

``proximal_newton``
    For every loss and penalty: at each iterate the objective's smooth part is
    replaced by its second-order model (value, gradient and Hessian from one
    pass of the kernel, or from sufficient statistics), the L1 part kept
    exact, and the model minimised: by a Cholesky solve without L1, by
    coordinate descent with soft-thresholding with it (so coefficients become
    exactly zero). A backtracking line search on the true objective takes a
    fraction of that step. The objective may come in stages (smoothing
    levels of a non-smooth loss, solved one after another from the previous
    solution); each but the last ends when the step's predicted decrease is
    below the stage's tolerance.

Every loop stops when ``|g| <= gtol`` at the current iterate (converged),
after ``max_iter`` iterations, when a monitor asks it to, or when the
objective stops being finite or grows past ``_DIVERGED`` times its start.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

__all__ = [
    "Evaluation",
    "SecondOrder",
    "SolverResult",
    "accelerated_gradient",
    "conjugate_gradient",
    "gradient_descent",
    "proximal_newton",
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

    def __init__(
        self,
        fun: Objective,
        gtol: float,
        max_iter: int,
        monitor: Monitor | None,
        f_scale: float,
    ) -> None:
        self.fun = fun
        self.gtol = gtol
        self.max_iter = max_iter
        self.monitor = monitor
        self.f_scale = f_scale
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
        return _ROUNDING_SLACK * (abs(self.f) + self.f_scale)

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


@dataclass(frozen=True)
class Evaluation:
    """The smooth part of an objective at ``theta``: value, gradient and
    Hessian, and the exact value (which differs while a loss is smoothed)."""

    value: float
    grad: F64
    hessian: F64
    exact: float


class SecondOrder(Protocol):
    """An objective the Newton loop can minimise, possibly in stages."""

    final: bool

    def evaluate(self, theta: F64) -> Evaluation: ...
    def stage_tol(self) -> float: ...
    def advance(self, exact: float) -> bool: ...


# Coordinate descent on the Newton model: sweeps until no coordinate moves by
# more than this fraction of the largest.
_CD_TOL = 1e-13
_CD_MAX_SWEEPS = 10_000
_MAX_DAMPING_TRIES = 12
_MIN_DAMPING = 1e-9


def _soft(v: float, t: float) -> float:
    return math.copysign(max(abs(v) - t, 0.0), v)


def _min_norm_subgradient(theta: F64, g: F64, l1: F64) -> F64:
    """The smallest element of the subdifferential of ``f + Σ l1·|θ|``.

    Zero exactly at the minimum; for a θ_j at zero the L1 term absorbs up to
    ``l1_j`` of its gradient.
    """
    at_zero = theta == 0.0
    sub = g + l1 * np.sign(theta)
    sub[at_zero] = np.sign(g[at_zero]) * np.maximum(np.abs(g[at_zero]) - l1[at_zero], 0)
    return sub


def _newton_step(theta: F64, g: F64, H: F64, l1: F64, damping: float) -> F64:
    """Minimise ``g·δ + ½ δᵀ(H + μI)δ + Σ l1·|θ + δ|`` over δ.

    ``μ = damping ×`` the largest diagonal entry of H (Levenberg-Marquardt);
    a singular H (a constant column, fewer rows with curvature than unknowns)
    gets a growing μ until its Cholesky factor exists. Without L1, a Cholesky
    solve; with L1, cyclic coordinate descent on ``u = θ + δ`` with
    soft-thresholding.
    """
    dim = theta.shape[0]
    diag = np.diag(H).copy()
    scale = float(diag.max()) if dim and diag.max() > 0 else 1.0
    mu = damping * scale
    for _ in range(_MAX_DAMPING_TRIES):
        try:
            chol = np.linalg.cholesky(H + mu * np.eye(dim))
            break
        except np.linalg.LinAlgError:
            mu = max(mu * 100.0, 1e-12 * scale)
    else:
        return -g / scale
    if not l1.any():
        z = np.linalg.solve(chol, -g)
        return np.asarray(np.linalg.solve(chol.T, z))
    # minimise ½ uᵀ A u − bᵀ u + Σ l1·|u|, A = H + μI, b = A θ − g
    A = H + mu * np.eye(dim)
    u = theta.copy()
    Au = A @ u
    b = Au - g
    adiag = np.diag(A)
    for _ in range(_CD_MAX_SWEEPS):
        biggest_move = 0.0
        for j in range(dim):
            if adiag[j] <= 0.0:
                continue
            # r_j = b_j − Σ_{k≠j} A_jk u_k
            r_j = b[j] - (Au[j] - adiag[j] * u[j])
            new = _soft(r_j, l1[j]) / adiag[j]
            move = new - u[j]
            if move != 0.0:
                Au += A[:, j] * move
                u[j] = new
                biggest_move = max(biggest_move, abs(move))
        if biggest_move <= _CD_TOL * max(float(np.abs(u).max()), 1e-300):
            break
    return u - theta


def proximal_newton(
    objective: SecondOrder,
    theta0: F64,
    *,
    l1: F64,
    l2: F64,
    max_iter: int,
    gtol: float,
    f_scale: float = 0.0,
    max_step: float = math.inf,
    monitor: Monitor | None = None,
) -> SolverResult:
    """Minimise ``objective + Σ l1·|θ| + ½ Σ l2·θ²`` by proximal Newton steps.

    ``l1`` and ``l2`` are per-coordinate penalty weights (0 for the intercept).
    ``max_step`` caps the length of the first step (a step radius that then
    adapts: the length of the last accepted step after a shortened one,
    growing fourfold after a full one), so a near-singular Hessian cannot
    send the first trial to absurd values.
    Converged when the smallest subgradient's norm is below ``gtol`` in the
    final stage, or when the step's predicted decrease is below the rounding
    of the objective (nothing left that float64 can resolve).
    """
    theta = np.array(theta0, dtype=np.float64)
    n_evals = 0

    def evaluate(t: F64) -> tuple[float, float, F64, F64]:
        nonlocal n_evals
        n_evals += 1
        e = objective.evaluate(t)
        pen = float(l1 @ np.abs(t)) + 0.5 * float(l2 @ (t * t))
        return e.value + pen, e.exact + pen, e.grad + l2 * t, e.hessian + np.diag(l2)

    F, exact, g, H = evaluate(theta)
    curve = [exact]
    n_iter = 0
    # Levenberg-Marquardt damping, relative to the curvature: raised when a
    # step had to be shortened (a near-singular H: the smoothed loss's band
    # holds few rows), lowered after each full step.
    damping = 0.0
    reported = -1
    reason: str | None = None
    gnorm = _norm(_min_norm_subgradient(theta, g, l1))
    while reason is None:
        if not (math.isfinite(F) and math.isfinite(gnorm)):
            reason = "diverged"
            break
        # Once per iterate (a change of stage re-evaluates the same one).
        if monitor is not None and n_iter != reported:
            reported = n_iter
            if monitor(n_iter, theta, exact, gnorm):
                reason = "callback"
                break
        if objective.final and gnorm <= gtol:
            reason = "converged"
            break
        if n_iter >= max_iter:
            reason = "max_iter"
            break
        delta = _newton_step(theta, g, H, l1, damping)
        length = _norm(delta)
        if length > max_step:
            delta *= max_step / length
            length = max_step
        # The decrease the model predicts (Armijo's reference slope).
        pen_now = float(l1 @ np.abs(theta))
        predicted = float(g @ delta) + float(l1 @ np.abs(theta + delta)) - pen_now
        rounding = _ROUNDING_SLACK * (abs(F) + f_scale)
        if objective.final and -predicted <= rounding:
            reason = "converged"  # what is left is below float64's resolution
            break
        if not objective.final and -predicted <= max(objective.stage_tol(), rounding):
            if objective.advance(exact):
                F, exact, g, H = evaluate(theta)
                gnorm = _norm(_min_norm_subgradient(theta, g, l1))
            continue
        t = 1.0
        for _ in range(_MAX_BACKTRACKS):
            trial = theta + t * delta
            F_new, exact_new, g_new, H_new = evaluate(trial)
            if F_new <= F + _ARMIJO * t * predicted + rounding:
                break
            t *= _SHRINK
        else:
            reason = "line_search_failed"
            break
        # A step cut to t suggests a damping 1/t times stronger.
        damping = max(damping, _MIN_DAMPING) / t if t < 1.0 else damping * 0.1
        if damping < _MIN_DAMPING:
            damping = 0.0
        max_step = t * length if t < 1.0 else max(max_step, 4.0 * length)
        theta, F, exact, g, H = trial, F_new, exact_new, g_new, H_new
        gnorm = _norm(_min_norm_subgradient(theta, g, l1))
        curve.append(exact)
        n_iter += 1
        if exact > _diverged_above(curve[0]):
            reason = "diverged"
    return SolverResult.stopped(reason, theta, exact, gnorm, n_iter, n_evals, curve)
