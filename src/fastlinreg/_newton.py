"""Proximal Newton steps: every loss and penalty.

At each iterate the objective's smooth part is replaced by its second-order
model (value, gradient and Hessian from one pass of the kernel, or from
sufficient statistics), the L1 part kept exact, and the model minimised: by a
Cholesky solve without L1, by coordinate descent with soft-thresholding with
it (so coefficients become exactly zero). A backtracking line search on the
true objective takes a fraction of that step. The objective may come in
stages (smoothing levels of a non-smooth loss, solved one after another from
the previous solution); each but the last ends when the step's predicted
decrease is below the stage's tolerance. The stopping rule is the loops' own
(:class:`~fastlinreg._solver.StopRule`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from ._solver import (
    _ARMIJO,
    _MAX_BACKTRACKS,
    _SHRINK,
    SolverResult,
    StopRule,
    _diverged_above,
    _norm,
)
from ._typing import F64

__all__ = ["Evaluation", "SecondOrder", "min_norm_subgradient", "proximal_newton"]


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
    def warm_start(self) -> None:
        """The start is near the answer (given by the user): skip what a cold
        start needs (a continuation stage)."""
        ...

    def finish(self, result: SolverResult, max_iter: int) -> SolverResult:
        """The unpenalised loop's result made exact where the objective
        allows it (a vertex of a piecewise-linear loss), else ``result``."""
        ...


# Coordinate descent on the Newton model (the backend's gram_cd, compiled or
# its twin): until its optimality conditions hold to this fraction of the
# model's scale (the largest entry of its gradient or curvature).
_CD_TOL = 1e-12
_CD_MAX_SWEEPS = 10_000
# gram_cd(G, g, beta, l1, l2, tol, max_sweeps, l1_prev, l1_factor, lower, upper)
Lasso = Callable[..., tuple[int, float]]
# Bounds on theta: (lower, upper), ±inf where there is none.
Box = tuple[F64, F64]
_MAX_DAMPING_TRIES = 12
_MIN_DAMPING = 1e-9


def min_norm_subgradient(theta: F64, g: F64, l1: F64, box: Box | None = None) -> F64:
    """The smallest element of the subdifferential of ``f + Σ l1·|θ|``,
    projected on the bounds ``box`` (when given).

    Zero exactly at the minimum; for a θ_j at zero the L1 term absorbs up to
    ``l1_j`` of its gradient, and at a bound a push outwards is no violation.
    """
    at_zero = theta == 0.0
    sub = g + l1 * np.sign(theta)
    sub[at_zero] = np.sign(g[at_zero]) * np.maximum(np.abs(g[at_zero]) - l1[at_zero], 0)
    if box is not None:
        lower, upper = box
        sub[((theta <= lower) & (sub > 0)) | ((theta >= upper) & (sub < 0))] = 0.0
    return sub


def _newton_step(
    theta: F64,
    g: F64,
    H: F64,
    l1: F64,
    damping: float,
    lasso: Lasso,
    box: Box | None = None,
) -> F64:
    """Minimise ``g·δ + ½ δᵀ(H + μI)δ + Σ l1·|θ + δ|`` over δ.

    ``μ = damping ×`` the largest diagonal entry of H (Levenberg-Marquardt);
    a singular H (a constant column, fewer rows with curvature than unknowns)
    gets a growing μ until its Cholesky factor exists. Without L1, a Cholesky
    solve; with L1, coordinate descent (``lasso``: the backend's
    ``gram_cd``) on ``u = θ + δ`` with soft-thresholding, from ``u = θ``;
    within bounds (``box``, which θ satisfies), the same clipped to them.
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
    if not l1.any() and box is None:
        z = np.linalg.solve(chol, -g)
        return np.asarray(np.linalg.solve(chol.T, z))
    # minimise ½ uᵀ A u − bᵀ u + Σ l1·|u|, A = H + μI, b = A θ − g
    A = np.ascontiguousarray(H + mu * np.eye(dim))
    b = np.ascontiguousarray(A @ theta - g)
    if box is not None:
        return _box_model(A, b, theta, np.ascontiguousarray(l1), lasso, box) - theta
    return _lasso_model(A, b, theta, np.ascontiguousarray(l1), lasso) - theta


def _model_tol(A: F64, b: F64) -> float:
    """The tolerance of a Newton model's minimiser: ``_CD_TOL`` of its scale
    (the largest entry of its gradient or curvature)."""
    size = max(float(np.abs(b).max(initial=0.0)), float(np.abs(A).max(initial=0.0)))
    return _CD_TOL * (size if size > 0 else 1.0)


def _box_model(A: F64, b: F64, start: F64, l1: F64, lasso: Lasso, box: Box) -> F64:
    """``argmin ½ uᵀAu − bᵀu + Σ l1·|u|`` within ``box``, from ``start``
    (inside it): coordinate descent clipped to the bounds, each round of
    sweeps followed by an exact guess (the coordinates off their bounds and
    off zero solved with the others held, accepted when it stays inside
    and satisfies every optimality condition), four times more sweeps after
    a guess that fails."""
    lower, upper = np.ascontiguousarray(box[0]), np.ascontiguousarray(box[1])
    tol = _model_tol(A, b)
    u = start.copy()
    sweeps, spent = 16, 0
    while spent < _CD_MAX_SWEEPS:
        todo = min(sweeps, _CD_MAX_SWEEPS - spent)
        done, violation = lasso(A, b, u, 1.0, 0.0, tol, todo, 0.0, l1, lower, upper)
        spent += max(int(done), 1)
        if violation <= tol:
            return u
        guess = _held_solution(A, b, u, l1, box)
        if guess is not None and _box_violation(A, b, guess, l1, box) <= tol:
            return guess
        sweeps *= 4
    return u


def _held_solution(A: F64, b: F64, u: F64, l1: F64, box: Box) -> F64 | None:
    """The model's minimiser over the coordinates of ``u`` off their bounds
    and off zero (signs as in ``u``), the others held; None if it leaves
    the box or changes a sign."""
    lower, upper = box
    free = (u > lower) & (u < upper) & ((u != 0.0) | (l1 == 0.0))
    if not free.any():
        return None
    held = ~free
    rhs = b[free] - A[np.ix_(free, held)] @ u[held] - l1[free] * np.sign(u[free])
    try:
        part = np.linalg.solve(A[np.ix_(free, free)], rhs)
    except np.linalg.LinAlgError:
        return None
    out = u.copy()
    out[free] = part
    penalised = l1[free] > 0
    if np.any(np.sign(part[penalised]) != np.sign(u[free][penalised])):
        return None
    if np.any(part < lower[free]) or np.any(part > upper[free]):
        return None
    return out


def _box_violation(A: F64, b: F64, u: F64, l1: F64, box: Box) -> float:
    """The largest optimality violation of the box model at ``u``."""
    return float(np.abs(min_norm_subgradient(u, A @ u - b, l1, box)).max(initial=0.0))


def _lasso_model(A: F64, b: F64, start: F64, l1: F64, lasso: Lasso) -> F64:
    """``argmin ½ uᵀAu − bᵀu + Σ l1·|u|`` for a positive definite ``A``.

    Coordinate descent alone crawls when ``A`` is nearly singular (a
    smoothed loss's band holds few rows: thousands of sweeps a step). So a
    few sweeps of it start an exact active-set search (feature-sign search,
    Lee et al. 2007): solve the model on the nonzero coordinates with their
    signs fixed, move there, or to the best point where a coordinate crosses
    zero on the way (which then leaves the set); when the set is optimal
    among itself, add the coordinate whose optimality condition is most
    violated, until none is. Every move lowers the objective, so the search
    ends, at the exact minimiser; a search that has not ended after a few
    times ``d`` moves gives way to coordinate descent to ``tol``.
    """
    tol = _model_tol(A, b)
    u = start.copy()
    lasso(A, b, u, 1.0, 0.0, tol, 16, 0.0, l1)
    exact = _feature_sign(A, b, u, l1, tol, 4 * u.shape[0] + 20)
    if exact is not None:
        return exact
    lasso(A, b, u, 1.0, 0.0, tol, _CD_MAX_SWEEPS, 0.0, l1)
    return u


def _feature_sign(
    A: F64, b: F64, start: F64, l1: F64, tol: float, moves: int
) -> F64 | None:
    """The exact minimiser by feature-sign search from ``start`` (see
    :func:`_lasso_model`), or None after ``moves`` moves."""
    x = start.copy()
    free = l1 == 0.0
    solved = False  # x is the signed solution of its set (to rounding)
    for _ in range(moves):
        keep = (x != 0.0) | free
        signs = np.sign(x)
        if solved or _set_optimal(A, b, x, l1, keep, tol):
            # the most violated optimality condition outside the set joins it
            r = b - A @ x
            slack = np.where(keep, -np.inf, np.abs(r) - l1)
            j = int(np.argmax(slack))
            if keep.all() or slack[j] <= tol:
                return x
            keep[j], signs[j] = True, np.sign(r[j])
        idx = np.flatnonzero(keep)
        try:
            target = np.linalg.solve(A[np.ix_(idx, idx)], b[idx] - l1[idx] * signs[idx])
        except np.linalg.LinAlgError:
            return None
        x, solved = _best_on_the_way(A, b, l1, x, idx, np.asarray(target), free)
        # (a joining coordinate may come out against its sign: not solved)
        solved = solved and bool(np.all((np.sign(x) == signs)[idx] | free[idx]))
    return None


def _best_on_the_way(
    A: F64, b: F64, l1: F64, x: F64, idx: Any, target: Any, free: Any
) -> tuple[F64, bool]:
    """Of the signed solution (``target`` on ``idx``) and the points where a
    coordinate changes sign on the segment to it, the lowest objective; and
    whether it is the signed solution."""

    def objective(v: F64) -> float:
        return float(0.5 * v @ A @ v - b @ v + l1 @ np.abs(v))

    new = np.zeros_like(x)
    new[idx] = target
    step = new - x
    best, best_value, solved = new, objective(new), True
    crossing = (x != 0.0) & (np.sign(new) != np.sign(x)) & ~free
    for k in np.flatnonzero(crossing):
        point = x - (x[k] / step[k]) * step
        point[k] = 0.0
        value = objective(point)
        if value < best_value:
            best, best_value, solved = point, value, False
    return best, solved


def _set_optimal(A: F64, b: F64, x: F64, l1: F64, keep: Any, tol: float) -> bool:
    """The optimality conditions hold on the coordinates of ``keep``."""
    sub = min_norm_subgradient(x, A @ x - b, l1)
    return bool(np.all(np.abs(sub[keep]) <= tol))


def proximal_newton(
    objective: SecondOrder,
    theta0: F64,
    rule: StopRule,
    *,
    l1: F64,
    l2: F64,
    lasso: Lasso,
    box: Box | None = None,
    max_step: float = math.inf,
) -> SolverResult:
    """Minimise ``objective + Σ l1·|θ| + ½ Σ l2·θ²`` by proximal Newton steps,
    within ``box`` (per-coordinate bounds, which ``theta0`` satisfies) when
    given.

    ``l1`` and ``l2`` are per-coordinate penalty weights (0 for the intercept);
    ``lasso`` minimises each step's model with L1 or bounds (the backend's
    ``gram_cd``); every step stays inside the box (it is convex).
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
    gnorm = _norm(min_norm_subgradient(theta, g, l1, box))
    while reason is None:
        if not (math.isfinite(F) and math.isfinite(gnorm)):
            reason = "diverged"
            break
        # Once per iterate (a change of stage re-evaluates the same one).
        if rule.monitor is not None and n_iter != reported:
            reported = n_iter
            if rule.monitor(n_iter, theta, exact, gnorm):
                reason = "callback"
                break
        if objective.final and gnorm <= rule.gtol:
            reason = "converged"
            break
        if n_iter >= rule.max_iter:
            reason = "max_iter"
            break
        delta = _newton_step(theta, g, H, l1, damping, lasso, box)
        length = _norm(delta)
        if length > max_step:
            delta *= max_step / length
            length = max_step
        # The decrease the model predicts (Armijo's reference slope).
        pen_now = float(l1 @ np.abs(theta))
        predicted = float(g @ delta) + float(l1 @ np.abs(theta + delta)) - pen_now
        rounding = rule.slack(F)
        if objective.final and -predicted <= rounding:
            reason = "converged"  # what is left is below float64's resolution
            break
        if not objective.final and -predicted <= max(objective.stage_tol(), rounding):
            if objective.advance(exact):
                F, exact, g, H = evaluate(theta)
                gnorm = _norm(min_norm_subgradient(theta, g, l1, box))
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
        gnorm = _norm(min_norm_subgradient(theta, g, l1, box))
        curve.append(exact)
        n_iter += 1
        if exact > _diverged_above(curve[0]):
            reason = "diverged"
    return SolverResult.stopped(reason, theta, exact, gnorm, n_iter, n_evals, curve)
