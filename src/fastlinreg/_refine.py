"""Polishing a solution from sufficient statistics: condition and refinement.

The statistics' solution carries the rounding of forming ``X'X`` (relative
error about condition number × eps). Above :data:`REFINE_CONDITION` a fit
polishes it with Newton corrections whose gradient comes from the data
themselves when they are at hand (:class:`~fastlinreg._accurate.AccurateMSE`
on small data, a kernel pass otherwise); above :data:`UNTRUSTED_CONDITION` it
warns that digits are lost whatever we do, and does not try (a singular
Hessian, e.g. more features than rows, would add an arbitrary null-space
component to the minimum-norm answer the solver found). Refinement steps are
iterations: they count in ``n_iter`` and never take it past ``max_iter``.
"""

from __future__ import annotations

import math

import numpy as np

from ._datafits import GramMSE
from ._solver import SolverResult
from ._typing import Objective

__all__ = [
    "MAX_REFINEMENTS",
    "REFINE_CONDITION",
    "UNTRUSTED_CONDITION",
    "condition_number",
    "refine",
]

REFINE_CONDITION = 1e3
UNTRUSTED_CONDITION = 1e12
# The condition number is computed (eigvalsh) only up to this many features.
CONDITION_MAX_FEATURES = 256
MAX_REFINEMENTS = 3


def condition_number(objective: GramMSE) -> float | None:
    """Condition number of the Hessian, constant columns left out.

    A constant column has zero curvature in its direction; its coefficient
    stays at its start (0), the minimum-norm answer, and is no cause for alarm.
    None when it is not computed (too many features, or no curvature at all).
    """
    coords = objective.coords
    if coords.d > CONDITION_MAX_FEATURES:
        return None
    if coords.d == 1 and coords.fit_intercept and objective.centred:
        return 1.0  # one standardised, centred feature: the Hessian is 2·I
    # Directions of zero curvature (constant columns with an intercept, all-zero
    # columns without) are left out: in standardised coordinates every other
    # column has curvature 2 on the diagonal.
    h = objective.hessian()
    diag = np.diag(h)
    keep = diag > 1e-12 * diag.max()
    if not keep.any():
        return None
    if keep.all():
        lipschitz, mu = objective.curvature()
    else:
        eig = np.linalg.eigvalsh(h[np.ix_(keep, keep)])
        lipschitz, mu = float(eig[-1]), float(eig[0])
    return lipschitz / mu if mu > 0 else float("inf")


def refine(
    result: SolverResult, data: Objective, stats: GramMSE, gtol: float, max_iter: int
) -> SolverResult:
    """Iterative refinement: Newton corrections with the statistics' Hessian
    and the gradient of ``data`` (the data's own when they are at hand).

    Each correction gains digits while the condition number is below 1/eps;
    one is kept only when it shrinks the data's gradient. At most
    :data:`MAX_REFINEMENTS` corrections, and no more than the iterations left
    of ``max_iter``.
    """
    budget = min(MAX_REFINEMENTS, max_iter - result.n_iter)
    if budget <= 0:
        return result
    hessian = stats.hessian()
    theta = result.theta
    f, g = data(theta)
    gnorm = math.sqrt(float(g @ g))
    curve = list(result.loss_curve)
    steps = 0
    for _ in range(budget):
        if gnorm == 0.0:
            break
        try:
            trial = theta - np.linalg.solve(hessian, g)
        except np.linalg.LinAlgError:
            break
        f_new, g_new = data(trial)
        gnorm_new = math.sqrt(float(g_new @ g_new))
        if not gnorm_new < gnorm:
            break
        theta, f, g, gnorm = trial, f_new, g_new, gnorm_new
        curve.append(f)
        steps += 1
    if steps == 0:
        return result
    converged = result.converged or gnorm <= gtol
    return SolverResult(
        theta=theta,
        loss=float(f),
        grad_norm=gnorm,
        n_iter=result.n_iter + steps,
        n_evals=result.n_evals + steps + 1,
        loss_curve=np.asarray(curve),
        converged=converged,
        stop_reason="converged" if converged else result.stop_reason,
    )
