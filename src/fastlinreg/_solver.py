"""The gradient-descent loop: step sizes, convergence checks and history.

The loop knows nothing about data: it sees an objective ``fun(theta) ->
(value, gradient)`` (one kernel pass per call) and a starting point. Two step
rules:

``step`` given (``line_search=False``)
    Plain gradient descent with that fixed step, the tutorial's algorithm. If
    the objective stops being finite or grows past ``_DIVERGED`` times its
    starting value the loop stops with ``stop_reason="diverged"``.

``line_search=True``
    Gradient descent with an Armijo backtracking line search: a trial step
    ``t`` is accepted when it decreases the objective by at least
    ``_ARMIJO · t · |g|²`` (which any ``t <= 1/L`` does on an L-smooth
    objective), else it is halved. Until the first rejection the step doubles
    after each accepted step, so a cautious first guess costs only a few
    iterations; after it the step stays calibrated (within a factor two of the
    largest acceptable one) and no pass is wasted on rejected trials.

Both stop when ``|g| <= gtol`` (converged) or after ``max_iter`` steps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SolverResult", "gradient_descent"]

F64 = npt.NDArray[np.float64]
Objective = Callable[[F64], tuple[float, F64]]

_ARMIJO = 0.25
_GROW = 2.0
_SHRINK = 0.5
_MAX_BACKTRACKS = 60
_DIVERGED = 1e6
# Slack in the Armijo test, relative to the objective's scale: near the optimum
# the decrease a step buys falls below the rounding of the objective itself,
# which is of the order of eps times the scale of the terms summed in it (not of
# the objective's value, which can be far smaller when the fit is good).
_ROUNDING_SLACK = 16 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class SolverResult:
    """What a run of the loop produced.

    ``loss_curve[k]`` is the objective after ``k`` steps (``loss_curve[0]`` at
    the starting point), so it has ``n_iter + 1`` entries.
    """

    theta: F64
    loss: float
    grad_norm: float
    n_iter: int
    n_evals: int
    loss_curve: F64
    converged: bool
    stop_reason: str


def gradient_descent(
    fun: Objective,
    theta0: F64,
    *,
    step: float,
    max_iter: int,
    gtol: float,
    line_search: bool,
    f_scale: float = 0.0,
) -> SolverResult:
    """Minimise ``fun`` from ``theta0`` (see the module docstring).

    ``f_scale`` is the scale of the terms the objective sums (for the mean
    squared error, the variance of y); it sets the rounding slack of the
    line search.
    """
    theta = np.array(theta0, dtype=np.float64)
    f, g = fun(theta)
    n_evals = 1
    gnorm = float(np.linalg.norm(g))
    curve = [f]
    t = float(step)
    reason = "max_iter"
    n_iter = 0
    growing = line_search
    if not np.isfinite(f) or not np.isfinite(gnorm):
        return _result(theta, f, gnorm, 0, n_evals, curve, "diverged")
    while True:
        if gnorm <= gtol:
            reason = "converged"
            break
        if n_iter >= max_iter:
            break
        if line_search:
            g2 = gnorm * gnorm
            for _ in range(_MAX_BACKTRACKS):
                trial = theta - t * g
                f_new, g_new = fun(trial)
                n_evals += 1
                slack = _ROUNDING_SLACK * (abs(f) + f_scale)
                if f_new <= f - _ARMIJO * t * g2 + slack:
                    break
                t *= _SHRINK
                growing = False
            else:
                reason = "line_search_failed"
                break
        else:
            trial = theta - t * g
            f_new, g_new = fun(trial)
            n_evals += 1
        theta, f, g = trial, f_new, g_new
        gnorm = float(np.linalg.norm(g))
        curve.append(f)
        n_iter += 1
        if not (np.isfinite(f) and np.isfinite(gnorm)) or f > _DIVERGED * max(
            curve[0], np.finfo(np.float64).tiny
        ):
            reason = "diverged"
            break
        if growing:
            t *= _GROW
    return _result(theta, f, gnorm, n_iter, n_evals, curve, reason)


def _result(
    theta: F64,
    f: float,
    gnorm: float,
    n_iter: int,
    n_evals: int,
    curve: list[float],
    reason: str,
) -> SolverResult:
    return SolverResult(
        theta=theta,
        loss=float(f),
        grad_norm=gnorm,
        n_iter=n_iter,
        n_evals=n_evals,
        loss_curve=np.asarray(curve, dtype=np.float64),
        converged=reason == "converged",
        stop_reason=reason,
    )
