"""One fit, as data: settings checked once, a Problem per target, a Solution.

::

    spec = make_spec(params, "LinearRegression")  # every setting checked once
    problem = Problem(...)                  # what one pass over the data gathered
    solution = solve(spec, problem, init)   # coefficients, iterations, warnings

Nothing here reads or writes an estimator: the gathering of Problems is in
``_gather`` (arrays in memory) and ``_dask`` (Dask arrays), and the estimator
commits Solutions to its attributes in one step. Warnings are data
(``Solution.warnings``), issued by the estimator when it commits, so a fit
that fails after one target warned leaves neither model nor warning behind.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import operator
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar

import numpy as np

from ._backend import ENV_VAR, Engine
from ._coords import Coordinates, coordinates
from ._datafits import GramMSE, StatsQuadratic
from ._exceptions import ConvergenceWarning, DivergenceError
from ._inference import check_cov_type
from ._losses import Loss, check_loss
from ._m_inference import check_loss_cov_type
from ._newton import SecondOrder, proximal_newton
from ._penalties import (
    Bounds,
    Penalty,
    check_bounds,
    check_penalty,
    per_target_alphas,
    per_target_penalties,
)
from ._progress import IterationInfo, Watcher
from ._refine import polish
from ._solver import (
    SolverResult,
    StopRule,
    accelerated_gradient,
    conjugate_gradient,
    gradient_descent,
)
from ._stats import OVERFLOW_MESSAGE, SufficientStats
from ._typing import F64, Objective
from ._validation import check_choice, check_coef, check_params, check_scalar

__all__ = [
    "SOLVERS",
    "FitSpec",
    "Init",
    "Problem",
    "Solution",
    "make_spec",
    "solve",
    "stats_problems",
    "target_inits",
]

ObjectiveFactory = Callable[[Coordinates], Objective]
SecondOrderFactory = Callable[[Coordinates], SecondOrder]
# A target's (coef_init, intercept_init), as given (checked by solve).
Init = tuple[Any, Any]
SOLVERS = ("auto", "gd", "nesterov", "cg", "newton")
# A larger max_iter is as good as infinite (and fits the kernels' C integers).
_MAX_ITER = 2**62


@dataclass(frozen=True)
class FitSpec:
    """Every setting of a fit, checked once (:func:`make_spec`).

    ``learning_rate`` is None for ``"auto"`` (descent in standardised
    coordinates with steps the solver chooses), else the fixed step.
    ``estimator`` names the estimator in messages.
    """

    loss: Loss
    penalty: Penalty
    learning_rate: float | None
    max_iter: int
    tol: float
    fit_intercept: bool
    precompute: bool | str
    solver: str
    verbose: int
    callback: Callable[[IterationInfo], Any] | None
    engine: Engine
    estimator: str = "LinearRegression"
    cov_type: str = "nonrobust"
    bounds: Bounds | None = None  # positive=True or bounds=(lower, upper)
    penalties: tuple[Penalty, ...] | None = None  # alpha per target (penalty: max)

    def for_target(self, j: int, n_targets: int) -> FitSpec:
        """Target ``j``'s spec: its own penalty when ``alpha`` was given per
        target (``ValueError`` when their numbers differ)."""
        if self.penalties is None:
            return self
        if len(self.penalties) != n_targets:
            raise ValueError(
                f"alpha has {len(self.penalties)} values, one per target, but y "
                f"has {n_targets} target(s)"
            )
        return dataclasses.replace(self, penalties=None, penalty=self.penalties[j])

    @property
    def fixed_step(self) -> bool:
        return self.learning_rate is not None

    def use_stats(self, d: int) -> bool:
        """Whether the squared loss of ``d`` features is solved from
        sufficient statistics (``precompute``)."""
        if self.precompute == "auto":
            return d <= Engine.PRECOMPUTE_MAX_FEATURES
        return bool(self.precompute)


def make_spec(params: Mapping[str, Any], estimator: str) -> FitSpec:
    """The :class:`FitSpec` of an estimator's parameters, or the
    ``ValueError``/``TypeError`` that names the first bad one.

    The last spec made is reused while the same parameter objects come again
    (``is``: so ``1`` never stands for ``True``) with the same
    ``FASTLINREG_BACKEND`` (which ``backend="auto"`` reads): fits repeat their
    settings, and a small fit costs about what the checks do.
    """
    values = list(params.values())
    env = os.environ.get(ENV_VAR)
    last = _last_spec
    if (
        last is not None
        and last[0] == env
        and last[1] == estimator
        and len(last[2]) == len(values)
        and all(map(operator.is_, last[2], values))
    ):
        return last[3]
    spec = _build_spec(params, estimator)
    _remember((env, estimator, values, spec))
    return spec


# (FASTLINREG_BACKEND, estimator, parameter values, spec) of the last
# make_spec; replaced whole, so that threads see one or the other.
_last_spec: tuple[str | None, str, list[Any], FitSpec] | None = None


def _remember(last: tuple[str | None, str, list[Any], FitSpec]) -> None:
    global _last_spec
    _last_spec = last


def _build_spec(params: Mapping[str, Any], estimator: str) -> FitSpec:
    callback = params["callback"]
    _cached(
        _check_settings,
        params["learning_rate"],
        params["max_iter"],
        params["tol"],
        params["fit_intercept"],
        params["precompute"],
        params["solver"],
        params["verbose"],
        callback is None or callable(callback),
    )
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be callable or None, got {callback!r}")
    alphas = per_target_alphas(params["alpha"])
    loss, penalty = _cached(
        _checked_terms,
        params["loss"],
        params["epsilon"],
        params["quantile"],
        params["penalty"],
        params["alpha"] if alphas is None else max(alphas),
        params["l1_ratio"],
    )
    penalties = per_target_penalties(params["penalty"], alphas, params["l1_ratio"])
    engine = Engine.resolve(params["backend"], params["n_jobs"])
    rate = params["learning_rate"]
    precompute = params["precompute"]
    cov_type = check_cov_type(params.get("cov_type", "nonrobust"))
    bounds = check_bounds(params.get("positive", False), params.get("bounds"))
    check_loss_cov_type(loss.name, cov_type)
    return FitSpec(
        loss=loss,
        penalty=penalty,
        learning_rate=None if isinstance(rate, str) else float(rate),
        max_iter=min(int(params["max_iter"]), _MAX_ITER),
        tol=float(params["tol"]),
        fit_intercept=bool(params["fit_intercept"]),
        precompute="auto" if isinstance(precompute, str) else bool(precompute),
        solver=str(params["solver"]),
        verbose=int(params["verbose"]),
        callback=callback,
        engine=engine,
        estimator=estimator,
        cov_type=cov_type,
        bounds=bounds,
        penalties=penalties,
    )


_T = TypeVar("_T")


def _cached(check: functools._lru_cache_wrapper[_T], *values: Any) -> _T:
    """``check(*values)`` through its ``lru_cache``; an unhashable value is
    checked uncached (the check then says what is wrong with it)."""
    try:
        return check(*values)
    except TypeError:
        return check.__wrapped__(*values)


@functools.lru_cache(maxsize=64, typed=True)
def _check_settings(
    learning_rate: Any,
    max_iter: Any,
    tol: Any,
    fit_intercept: Any,
    precompute: Any,
    solver: Any,
    verbose: Any,
    callback_ok: bool,
) -> None:
    """Raise for an invalid solver setting (cached: fits repeat their settings;
    of the callback only whether it is callable is known here)."""
    check_params(
        learning_rate=learning_rate,
        max_iter=max_iter,
        tol=tol,
        fit_intercept=fit_intercept,
    )
    check_choice(precompute, "precompute", ("auto", True, False))
    check_choice(solver, "solver", SOLVERS)
    if solver == "cg" and (precompute is False or learning_rate != "auto"):
        raise ValueError(
            "solver='cg' works on the sufficient statistics with its own steps: "
            "use it with precompute='auto' or True and learning_rate='auto'"
        )
    if isinstance(verbose, bool) or not isinstance(verbose, int | np.integer):
        raise TypeError(f"verbose must be an integer, got {verbose!r}")
    if verbose < 0:
        raise ValueError(f"verbose must be >= 0, got {verbose!r}")


@functools.lru_cache(maxsize=64, typed=True)
def _checked_terms(
    loss: Any, epsilon: Any, quantile: Any, penalty: Any, alpha: Any, l1_ratio: Any
) -> tuple[Loss, Penalty]:
    """The validated loss and penalty (cached: fits repeat their settings)."""
    return check_loss(loss, epsilon, quantile), check_penalty(penalty, alpha, l1_ratio)


class Problem(NamedTuple):
    """What one pass over the data gathered for one target: enough to solve it.

    ``mean`` and ``var`` are the means and population variances of the columns
    of ``[X | y]``, ``n_rows`` the rows (or their weights' sum). The factories
    turn the solver's coordinates into objectives: ``objective`` the
    first-order one (on the statistics, or a pass over the data per
    evaluation), ``second_order`` the Newton loop's (None where there is
    none), ``refine`` one that reads the data, for iterative refinement.
    ``stats``: the target's sufficient statistics, when the pass gathered
    them. ``weighted``: the rows have weights that only the Newton objective
    reads (statistics are weighted when gathered).
    """

    mean: F64
    var: F64
    n_rows: float
    objective: ObjectiveFactory
    stats: SufficientStats | None = None
    second_order: SecondOrderFactory | None = None
    refine: ObjectiveFactory | None = None
    weighted: bool = False


def stats_problems(
    stats: SufficientStats, refine: ObjectiveFactory | None = None
) -> list[Problem]:
    """One Problem per target of sufficient statistics (any number of targets)."""
    problems = []
    for j in range(stats.n_targets):
        target = stats.target(j)
        problems.append(
            Problem(
                target.mean,
                target.var,
                target.n,
                objective=functools.partial(GramMSE, target),
                stats=target,
                second_order=functools.partial(_stats_quadratic, target),
                refine=refine,
            )
        )
    return problems


def _stats_quadratic(stats: SufficientStats, coords: Coordinates) -> StatsQuadratic:
    return StatsQuadratic(GramMSE(stats, coords))


class Solution(NamedTuple):
    """One target's fit: its coefficients, how the solver got them, and the
    warnings to issue when the estimator commits it."""

    coef: F64
    intercept: float
    result: SolverResult
    solver: str
    warnings: tuple[Warning, ...] = ()


def target_inits(
    coef_init: Any, intercept_init: Any, n_targets: int, d: int
) -> list[Init]:
    """The (coef_init, intercept_init) of each target."""
    if n_targets == 1:
        return [(coef_init, intercept_init)]
    coefs: list[Any] = [None] * n_targets
    if coef_init is not None:
        arr = np.asarray(coef_init, dtype=np.float64)
        if arr.shape != (n_targets, d):
            raise ValueError(
                f"coef_init must have shape (n_targets, n_features) = "
                f"({n_targets}, {d}) for {n_targets} targets, got {arr.shape}"
            )
        coefs = list(arr)
    intercepts: list[Any] = [None] * n_targets
    if intercept_init is not None:
        b = np.asarray(intercept_init, dtype=np.float64)
        if b.ndim == 0:
            b = np.full(n_targets, float(b))
        if b.shape != (n_targets,):
            raise ValueError(
                f"intercept_init must be a float or have shape ({n_targets},), "
                f"got {b.shape}"
            )
        intercepts = [float(v) for v in b]
    return list(zip(coefs, intercepts, strict=True))


# --------------------------------------------------------------------------
# solve: setup -> run -> polish -> finish
# --------------------------------------------------------------------------


class _Setup(NamedTuple):
    """One target's solve, ready to run: what every step below reads."""

    spec: FitSpec
    problem: Problem
    coords: Coordinates
    theta0: F64
    solver: str
    rule: StopRule
    watcher: Watcher
    y_var: float  # the objective at the best constant model
    from_init: bool  # coef_init or intercept_init was given


def solve(spec: FitSpec, problem: Problem, init: Init = (None, None)) -> Solution:
    """Solve one target: its :class:`Solution`, or the error that says why not.

    Raises ``DivergenceError`` when a fixed step diverges, ``ValueError`` for
    data whose squares overflow or underflow float64. NumPy's floating-point
    warnings are off: overflow near float64's limits shows in the results,
    which are checked, with errors and warnings of our own saying what to do.
    """
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        setup = _setup(spec, problem, init)
        result, objective = _run(setup)
        notes: list[Warning] = []
        if isinstance(objective, GramMSE) and not spec.fixed_step:
            refine_with = setup.problem.refine
            result, notes = polish(
                result, objective, refine_with, setup.coords, setup.rule
            )
        return _finish(setup, result, notes)


def _setup(spec: FitSpec, problem: Problem, init: Init) -> _Setup:
    mean, var = problem.mean, problem.var
    _check_no_underflow(mean, var, problem.n_rows, spec.fit_intercept)
    d = mean.shape[0] - 1
    if spec.fit_intercept:
        y_var = float(var[d])
    else:
        # Without an intercept the model needs the raw second moments,
        # which can overflow where the centred statistics do not.
        raw = var + mean**2
        if not np.isfinite(raw).all():
            raise ValueError(OVERFLOW_MESSAGE)
        y_var = float(raw[d])
    coords = coordinates(spec.fixed_step, spec.fit_intercept, mean, var)
    coef_init, intercept_init = init
    if coef_init is None and intercept_init is None:
        # The default start (coef 0; the best intercept for it, y's mean,
        # with the automatic step, else 0) is theta = 0 in either coordinates.
        theta0 = np.zeros(coords.d + int(spec.fit_intercept))
    else:
        coef0 = (
            np.zeros(d) if coef_init is None else check_coef(coef_init, d, "coef_init")
        )
        if intercept_init is not None:
            b0 = check_scalar(intercept_init, "intercept_init")
        elif spec.fixed_step or not spec.fit_intercept:
            b0 = 0.0
        else:
            b0 = float(mean[d] - coef0 @ mean[:d])
        theta0 = coords.to_theta(coef0, b0)
    watcher = Watcher(spec.callback, spec.verbose, spec.max_iter, coords.to_model)
    name = spec.loss.name
    rule = StopRule(
        max_iter=spec.max_iter,
        gtol=spec.tol * spec.loss.grad_scale(math.sqrt(y_var)),
        f_scale=y_var if name == "squared_error" else 0.0,
        monitor=watcher if watcher.active else None,
    )
    return _Setup(
        spec,
        problem,
        coords,
        theta0,
        _resolve_solver(spec, problem),
        rule,
        watcher,
        y_var,
        from_init=not (coef_init is None and intercept_init is None),
    )


# Spreads this small mean values around 1e-140: their squares, which the
# statistics and the curvature are made of, fall toward float64's underflow.
_TINY_VARIANCE = 1e-280
_TINY_VALUE = 1e-140


def _check_no_underflow(
    mean: F64, var: F64, n_rows: float, fit_intercept: bool = True
) -> None:
    """Raise when the data are so small that their squares underflow (a zero
    variance of tiny values counts from two rows on: one row has none, unless
    there is no intercept, when the raw squares are the model's)."""
    if var.min() >= _TINY_VARIANCE:
        return  # the common case, in one reduction: no variance is tiny or 0
    d = mean.shape[0] - 1
    tiny = (var > 0) & (var < _TINY_VARIANCE)
    if n_rows > 1 or not fit_intercept:
        tiny |= (var == 0) & (np.abs(mean) > 0) & (np.abs(mean) < _TINY_VALUE)
    if tiny.any():
        j = int(np.flatnonzero(tiny)[0])
        where = "y" if j == d else f"column {j} of X"
        raise ValueError(
            f"{where} holds values so small (mean {mean[j]:.3g}, variance "
            f"{var[j]:.3g}) that their squares underflow float64; rescale X and y "
            "(e.g. multiply by a power of ten) before fitting"
        )


def _resolve_solver(spec: FitSpec, problem: Problem) -> str:
    """The solver that runs: Newton where the loss or penalty needs it."""
    loss, solver = spec.loss, spec.solver
    needs_newton = (
        loss.name != "squared_error"
        or spec.penalty.active
        or spec.bounds is not None
        or (problem.weighted and problem.stats is None)
    )
    if needs_newton or solver == "newton":
        what = (
            f"loss={loss.name!r}"
            if loss.name != "squared_error"
            else "alpha > 0, positive=True or bounds (or sample weights without "
            "precompute)"
        )
        if solver not in ("auto", "newton"):
            raise ValueError(
                f"solver={solver!r} fits the squared error without penalty; "
                f"{what} needs solver='auto' or 'newton'"
            )
        if spec.fixed_step:
            raise ValueError(
                "learning_rate must be 'auto' with solver='newton' "
                f"({what} is solved by Newton steps, which choose their own "
                "step length)"
            )
        return "newton"
    precomputed = problem.stats is not None
    if solver == "cg" and not precomputed:
        raise ValueError(
            "solver='cg' needs the sufficient statistics, which are not gathered "
            f"beyond {Engine.PRECOMPUTE_MAX_FEATURES} features; use 'gd' or "
            "'nesterov'"
        )
    if solver != "auto":
        return solver
    return "cg" if precomputed and not spec.fixed_step else "gd"


def _run(s: _Setup) -> tuple[SolverResult, Objective | None]:
    """Run the solver; its result, and the first-order objective if one was
    made (the statistics' objective: its Hessian decides on refinement)."""
    if not s.watcher.active:
        return _run_solver(s)
    with s.watcher:
        return _run_solver(s)


def _run_solver(s: _Setup) -> tuple[SolverResult, Objective | None]:
    spec, problem = s.spec, s.problem
    d = s.coords.d
    if s.solver == "newton":
        if problem.second_order is None:
            raise ValueError(
                "this fit needs solver='newton' (another loss than the "
                "squared error, or a penalty), which on Dask arrays needs "
                "the sufficient statistics: use precompute='auto' or True"
            )
        l1, l2 = spec.penalty.in_theta(s.coords)
        box = None if spec.bounds is None else spec.bounds.in_theta(s.coords)
        theta0 = s.theta0 if box is None else np.clip(s.theta0, *box)  # (inside)
        # theta is in units of y: no sensible first step is longer.
        reach = 10.0 * (float(np.sqrt(s.y_var)) + float(np.abs(theta0).max()))
        newton = problem.second_order(s.coords)
        if s.from_init:
            newton.warm_start()
        result = proximal_newton(
            newton,
            theta0,
            s.rule,
            l1=l1,
            l2=l2,
            lasso=spec.engine.kernels.gram_cd,
            box=box,
            max_step=reach if reach > 0 else math.inf,
        )
        if not (l1.any() or l2.any() or box is not None):
            result = newton.finish(result, s.spec.max_iter)
        return result, None
    if (
        s.solver == "cg"
        and problem.stats is not None
        and s.rule.monitor is None
        and spec.engine.compiled_cg(d)
    ):
        # Few features: the whole CG loop on the statistics in one kernel
        # call (the Python loop's steps without its per-iteration cost).
        result = _kernel_cg(spec.engine, problem.stats, s.coords, s.theta0, s.rule)
        if d == 1 and spec.fit_intercept:  # (then centred: condition 1)
            return result, None
        return result, problem.objective(s.coords)  # for its Hessian
    objective = problem.objective(s.coords)
    return _first_order(s, objective), objective


def _kernel_cg(
    engine: Engine,
    stats: SufficientStats,
    coords: Coordinates,
    theta0: F64,
    rule: StopRule,
) -> SolverResult:
    """``conjugate_gradient`` on ``GramMSE(stats, coords)`` by ``gram_cg``."""
    theta = np.array(theta0, dtype=np.float64)
    n_iter, n_evals, reason, loss, gnorm, curve = engine.kernels.gram_cg(
        np.ascontiguousarray(stats.cov, dtype=np.float64),
        np.ascontiguousarray(stats.mean, dtype=np.float64),
        float(stats.n),
        coords.offset,  # (made contiguous float64 by coordinates())
        coords.scale,
        coords.fit_intercept,
        coords.y_offset,
        theta,
        rule.gtol,
        rule.max_iter,
    )
    return SolverResult.stopped(reason, theta, loss, gnorm, n_iter, n_evals, curve)


def _first_order(s: _Setup, objective: Objective) -> SolverResult:
    """Gradient descent, Nesterov or conjugate gradients on ``objective``."""
    if s.solver == "cg":
        assert isinstance(objective, GramMSE)
        return conjugate_gradient(objective, s.theta0, s.rule, hessp=objective.hessp)
    rate = s.spec.learning_rate
    if s.solver == "nesterov":
        lipschitz, mu = 2.0, 0.0  # standardised: the Hessian's diagonal is 2
        if rate is not None:
            lipschitz = 1.0 / rate
        elif isinstance(objective, GramMSE):
            exact, low = objective.curvature()  # exact on the statistics
            if exact > 0 and np.isfinite(exact):
                lipschitz, mu = exact, max(low, 0.0)
        return accelerated_gradient(
            objective, s.theta0, s.rule, lipschitz=lipschitz, strong_convexity=mu
        )
    d = s.theta0.shape[0] - (1 if s.spec.fit_intercept else 0)
    step = rate if rate is not None else 1.0 / (2.0 * d)
    return gradient_descent(
        objective, s.theta0, s.rule, step=step, line_search=rate is None
    )


def _finish(s: _Setup, result: SolverResult, notes: list[Warning]) -> Solution:
    """The model's coefficients, or the error of a run that diverged."""
    coef, intercept = s.coords.to_model(result.theta)
    if result.stop_reason == "diverged" or not (
        np.isfinite(coef).all() and math.isfinite(intercept)
    ):
        if not np.isfinite(result.loss_curve[0]) and s.from_init:
            raise ValueError(
                "coef_init/intercept_init are too large: the objective is "
                "not finite there; start from smaller values (or the default)"
            )
        raise DivergenceError(_divergence_message(s, result))
    if result.stop_reason in ("max_iter", "line_search_failed") and s.spec.tol > 0:
        notes = [*notes, ConvergenceWarning(_not_converged_message(s, result))]
    return Solution(coef, intercept, result, s.solver, tuple(notes))


def _divergence_message(s: _Setup, result: SolverResult) -> str:
    start, last = result.loss_curve[0], result.loss_curve[-1]
    msg = (
        f"gradient descent diverged after {result.n_iter} steps "
        f"(objective {start:.6g} -> {last:.6g})."
    )
    rate = s.spec.learning_rate
    if rate is None:
        return msg + " The data are too large for float64 arithmetic; rescale X and y."
    # For the MSE, L = 2·λmax([X 1]'[X 1]/n) <= 2·(1 + Σ_j mean(x_j²)).
    mean, var = s.problem.mean, s.problem.var
    d = mean.shape[0] - 1
    lipschitz = 2.0 * (1.0 + float(np.sum(var[:d] + mean[:d] ** 2)))
    return msg + (
        f" learning_rate={rate!r} is too large for this data: steps "
        f"below {1.0 / lipschitz:.3g} are safe. Use a smaller learning_rate, or "
        "learning_rate='auto', which chooses the step itself."
    )


def _not_converged_message(s: _Setup, result: SolverResult) -> str:
    if result.stop_reason == "line_search_failed":
        what = (
            "the line search could not decrease the objective any further "
            "(the tolerance may be below what float64 rounding allows, or the "
            "problem is very ill-conditioned)"
        )
    else:
        what = f"it reached max_iter={s.spec.max_iter}"
    return (
        f"{s.spec.estimator} stopped before converging: {what}; gradient norm "
        f"{result.grad_norm:.3g} > tol·scale = {s.rule.gtol:.3g}. "
        + (
            "Increase max_iter or tol."
            if not s.spec.fixed_step
            else "Increase max_iter or tol, or use learning_rate='auto'."
        )
    )
