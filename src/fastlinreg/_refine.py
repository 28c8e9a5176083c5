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

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from ._coords import Coordinates
from ._datafits import GramMSE
from ._exceptions import IllConditionedWarning
from ._solver import SolverResult, StopRule
from ._stats import OVERFLOW_MESSAGE
from ._typing import F64, Objective

__all__ = [
    "MAX_REFINEMENTS",
    "REFINE_CONDITION",
    "UNTRUSTED_CONDITION",
    "condition_number",
    "minimum_norm",
    "polish",
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


def minimum_norm(objective: GramMSE, theta: F64) -> F64 | None:
    """``theta`` moved to the minimum-norm solution in the user's
    coordinates, as ``numpy.linalg.lstsq`` gives it, where the problem is
    rank-deficient (None where it is not, or is not computed).

    The solutions of a rank-deficient least-squares problem are one plus the
    null space of its curvature. Which directions are null is decided in the
    standardised coordinates (scale-free: eigenvalues of the standardised
    Hessian below ``1/UNTRUSTED_CONDITION`` of the largest); in the user's
    coordinates (``coef = v / scale``) that space is ``S⁻¹`` of it, and the
    coefficients lose their component along it. The fitted values do not
    change (the intercept, fitted about the means, is kept).
    """
    coords = objective.coords
    d = coords.d
    if d > CONDITION_MAX_FEATURES or d == 0:
        return None
    h = objective.hessian()[:d, :d]
    lam, U = np.linalg.eigh(h)
    null = lam <= lam[-1] / UNTRUSTED_CONDITION
    if not null.any() or lam[-1] <= 0:
        return None
    # an orthonormal basis of the null space in the user's coordinates
    basis, _ = np.linalg.qr(U[:, null] / coords.scale[:, None])
    coef = theta[:d] / coords.scale
    coef = coef - basis @ (basis.T @ coef)
    out = theta.copy()
    out[:d] = coef * coords.scale
    return out


def polish(
    result: SolverResult,
    objective: GramMSE,
    refine_with: Callable[[Coordinates], Objective] | None,
    coords: Coordinates,
    rule: StopRule,
) -> tuple[SolverResult, list[Warning]]:
    """Iterative refinement where the statistics are ill-conditioned (with
    the data's exact gradient, ``refine_with``, when they are at hand, else
    with the statistics' own: partial_fit, Dask), and where they are too
    ill-conditioned to trust the minimum-norm coefficients and a warning."""
    try:
        condition = condition_number(objective)
    except np.linalg.LinAlgError:  # a Hessian of inf/NaN: overflow
        raise ValueError(OVERFLOW_MESSAGE) from None
    if condition is None:
        return result, []
    if REFINE_CONDITION < condition <= UNTRUSTED_CONDITION and result.stop_reason in (
        "converged",
        "max_iter",
    ):
        exact = objective if refine_with is None else refine_with(coords)
        result = refine(result, exact, objective, rule.gtol, rule.max_iter)
    if condition <= UNTRUSTED_CONDITION:
        return result, []
    shorter = minimum_norm(objective, result.theta)
    if shorter is not None:
        result = dataclasses.replace(result, theta=shorter)
    return result, [
        IllConditionedWarning(
            f"the problem is too ill-conditioned for float64: the condition "
            f"number of the standardised normal equations is {condition:.1e} "
            "(collinear or nearly collinear features), so the coefficients "
            "cannot be trusted to many digits"
            + ("" if shorter is None else " (the minimum-norm ones are returned)")
            + "; remove redundant features or re-parameterise them (e.g. "
            "orthogonal polynomials)."
        )
    ]
