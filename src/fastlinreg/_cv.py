"""Cross-validation of the penalty from per-fold sufficient statistics.

For the squared loss every fold needs only its statistics (count, means,
centred cross-products of ``[X | y]``): one pass over the data gathers them
for all folds at once. The training statistics of fold ``k`` are the other
folds' merged by Chan's update (prefix and suffix merges, never a difference
of raw sums), and the held-out error of any ``(β, b)`` on fold ``k`` is, in
its own centred form,

    MSE_k = (S_yy − 2 βᵀ S_xy + βᵀ S_xx β) / n_k + (ȳ_k − x̄_kᵀ β − b)²,

so every penalty on every fold costs O(d²) (O(d³) once per fold for the
ridge's eigendecomposition), whatever the number of rows.

Objective (as :class:`~fastlinreg.LinearRegression`'s): the mean squared
error plus ``α (ρ ‖β‖₁ + ½ (1 − ρ) ‖β‖²)``. With the training moments
``A`` (``S_xx``, about the means with an intercept, about zero without) and
``c`` (``S_xy``) over ``n`` rows, that is ``2 [½ βᵀ(A/n)β − (c/n)ᵀβ] +
α ρ ‖β‖₁ + ½ α (1 − ρ) ‖β‖²``: coordinate descent on ``G = A/n``, ``g =
c/n`` with ``l1 = α ρ / 2``, ``l2 = α (1 − ρ) / 2`` (``gram_cd``), and for
the ridge ``β = V (Vᵀ c) / (λ + n α / 2)`` from ``A = V Λ Vᵀ``.
"""

from __future__ import annotations

from collections.abc import Sequence
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

from ._stats import SufficientStats
from ._typing import F64

__all__ = [
    "CVPath",
    "Choice",
    "Moments",
    "Rule",
    "alpha_grid",
    "choose",
    "contiguous_folds",
    "cv_path",
    "grid_of",
    "moments_of",
    "ridge_betas",
    "ridge_gcv",
    "ridge_loo",
    "select",
    "train_and_test",
]


class Rule(NamedTuple):
    """When coordinate descent stops: the optimality conditions to ``tol``
    times the gradient's scale, or ``max_sweeps``; and whether the
    coefficients are held non-negative (``positive``)."""

    tol: float
    max_sweeps: int
    positive: bool = False


class Moments(NamedTuple):
    """A fold's statistics as the path reads them: ``n``, the means, and
    the second moments about the means (``with_const``) or about zero."""

    n: float
    xbar: F64
    ybar: float
    A: F64  # d × d
    c: F64  # d
    yy: float
    centred: F64  # the statistics' own (d + 1) × (d + 1) centred moments


def moments_of(stats: SufficientStats, with_const: bool) -> Moments:
    """:class:`Moments` of one target's statistics."""
    d = stats.d
    cov, mean, n = stats.cov, stats.mean, float(stats.n)
    A, c, yy = cov[:d, :d], cov[:d, d], float(cov[d, d])
    if not with_const:
        # (about zero: the centred moments plus n · mean ⊗ mean)
        A = A + n * np.multiply.outer(mean[:d], mean[:d])
        c = c + n * mean[:d] * mean[d]
        yy = yy + n * float(mean[d]) ** 2
    return Moments(n, mean[:d], float(mean[d]), A, c, yy, cov)


def contiguous_folds(n: int, k: int) -> list[tuple[int, int]]:
    """The row ranges of scikit-learn's ``KFold(k)`` without shuffling: the
    first ``n % k`` folds one row longer."""
    sizes = np.full(k, n // k)
    sizes[: n % k] += 1
    ends = np.cumsum(sizes)
    return [(int(e - s), int(e)) for s, e in zip(sizes, ends, strict=True)]


def train_and_test(
    folds: Sequence[SufficientStats],
) -> tuple[list[SufficientStats], SufficientStats]:
    """The training statistics of each fold (all the others, merged) and the
    total, by prefix and suffix merges: O(k) merges for k folds."""
    k = len(folds)
    prefix = [folds[0]]
    for s in folds[1:]:
        prefix.append(prefix[-1].merge(s))
    suffix = [folds[-1]]
    for s in reversed(folds[:-1]):
        suffix.append(s.merge(suffix[-1]))
    suffix.reverse()
    train = []
    for j in range(k):
        if j == 0:
            train.append(suffix[1])
        elif j == k - 1:
            train.append(prefix[k - 2])
        else:
            train.append(prefix[j - 1].merge(suffix[j + 1]))
    return train, prefix[-1]


def alpha_grid(total: Moments, l1_ratio: float, n_alphas: int, eps: float) -> F64:
    """``n_alphas`` penalties on a log grid, largest first: from the smallest
    α whose fit is all zeros (``2 max|c| / (n ρ)``, as LassoCV's ``alpha_max``
    maps) down to ``eps`` of it. The ridge (ρ = 0) has no such α: its grid
    spans ``10³`` to ``eps · 10³`` times twice the mean eigenvalue of
    ``A / n``."""
    if l1_ratio > 0:
        top = 2.0 * float(np.abs(total.c).max(initial=0.0)) / (total.n * l1_ratio)
    else:
        top = 2e3 * float(np.trace(total.A)) / (total.n * max(total.A.shape[0], 1))
    if not top > 0:
        top = 1.0  # (y constant, or X all zeros: any grid fits zeros)
    return np.geomspace(top, top * eps, num=n_alphas)


def grid_of(total: Moments, l1_ratio: float, alphas: int | F64, eps: float) -> F64:
    """The alphas of a search: ``alphas`` itself, or for an int that many
    on :func:`alpha_grid`'s grid."""
    if isinstance(alphas, int):
        return alpha_grid(total, l1_ratio, alphas, eps)
    return alphas


def held_out_mse(test: Moments, betas: F64, intercepts: F64) -> F64:
    """The mean squared error on a fold of each row of ``betas`` (m × d)
    with its intercept, from the fold's centred moments (the formula of the
    module docstring), for the whole path at once."""
    cov, d = test.centred, betas.shape[1]
    S_xx, S_xy = cov[:d, :d], cov[:d, d]
    # spread_a = S_yy − 2 β_aᵀ S_xy + β_aᵀ S_xx β_a
    spread = (
        cov[d, d] - 2.0 * (betas @ S_xy) + np.einsum("ij,ij->i", betas @ S_xx, betas)
    )
    shift = test.ybar - betas @ test.xbar - intercepts
    out: F64 = np.maximum(spread, 0.0) / test.n + shift * shift
    return out


def intercept_of(train: Moments, beta: F64, with_const: bool) -> float:
    return train.ybar - float(train.xbar @ beta) if with_const else 0.0


def intercepts_of(train: Moments, betas: F64, with_const: bool) -> F64:
    """The intercept of each row of ``betas``: ``ȳ − x̄ᵀβ`` (0 without)."""
    if not with_const:
        return np.zeros(betas.shape[0])
    return train.ybar - betas @ train.xbar


class CVPath(NamedTuple):
    """What a path over the folds gives: ``mse[a, k]`` for the alphas and
    folds, and the largest sweeps (coordinate descent) a point needed."""

    mse: F64
    sweeps: int
    converged: bool


def ridge_path(
    trains: Sequence[Moments], tests: Sequence[Moments], alphas: F64, with_const: bool
) -> CVPath:
    """Every alpha on every fold from one eigendecomposition per fold."""
    mse = np.empty((alphas.shape[0], len(trains)))
    for k, (train, test) in enumerate(zip(trains, tests, strict=True)):
        betas = ridge_betas(train, alphas)
        mse[:, k] = held_out_mse(test, betas, intercepts_of(train, betas, with_const))
    return CVPath(mse, 0, True)


def ridge_betas(train: Moments, alphas: F64) -> F64:
    """The ridge coefficients of every alpha (m × d) from one
    eigendecomposition: ``β_a = V (Vᵀc / (λ + nα_a/2))``."""
    lam, V, proj = _ridge_basis(train)
    shrunk = proj[None, :] / (lam[None, :] + 0.5 * train.n * alphas[:, None])
    out: F64 = shrunk @ V.T
    return out


def ridge_fit(train: Moments, alpha: float) -> F64:
    """The ridge coefficients of one set of moments."""
    d = train.A.shape[0]
    system = train.A + 0.5 * train.n * alpha * np.eye(d)
    return np.asarray(np.linalg.solve(system, train.c), dtype=np.float64)


class Quadratic(NamedTuple):
    """``½ βᵀGβ − gᵀβ`` of a set of moments (``G = A/n``, ``g = c/n``), and
    the scale of its gradient (the largest of ``|g|`` and ``|G|``), which
    ``tol`` is relative to."""

    G: F64
    g: F64
    scale: float

    @classmethod
    def of(cls, train: Moments) -> Quadratic:
        G = np.ascontiguousarray(train.A / train.n)
        g = np.ascontiguousarray(train.c / train.n)
        scale = max(
            float(np.abs(g).max(initial=0.0)), float(np.abs(G).max(initial=0.0))
        )
        return cls(G, g, scale if scale > 0 else 1.0)

    def solve(
        self,
        kernels: ModuleType,
        alpha: float,
        l1_ratio: float,
        rule: Rule,
        beta: F64,
        alpha_prev: float = 0.0,
    ) -> tuple[int, bool]:
        """Coordinate descent for one penalty from ``beta`` (overwritten),
        screened when ``alpha_prev`` (the path's last penalty) is larger:
        the sweeps, and whether the optimality conditions hold to ``tol``
        times the gradient's scale."""
        gtol = rule.tol * self.scale
        l1, l2 = 0.5 * alpha * l1_ratio, 0.5 * alpha * (1.0 - l1_ratio)
        lower = np.zeros(beta.shape[0]) if rule.positive else None
        sweeps, violation = kernels.gram_cd(
            self.G,
            self.g,
            beta,
            l1,
            l2,
            gtol,
            rule.max_sweeps,
            0.5 * alpha_prev * l1_ratio,
            None,
            lower,
        )
        return int(sweeps), bool(violation <= gtol)


def cv_path(
    kernels: ModuleType,
    trains: Sequence[Moments],
    tests: Sequence[Moments],
    alphas: F64,
    l1_ratio: float,
    with_const: bool,
    rule: Rule,
) -> CVPath:
    """The held-out errors of every alpha on every fold: the ridge from one
    eigendecomposition per fold; otherwise coordinate descent on the fold's
    Gram, largest alpha first, each warm-started from the last and screened
    by the strong rule from it (a positive ridge too, without L1)."""
    if l1_ratio == 0 and not rule.positive:
        return ridge_path(trains, tests, alphas, with_const)
    mse = np.empty((alphas.shape[0], len(trains)))
    worst, converged = 0, True
    for k, (train, test) in enumerate(zip(trains, tests, strict=True)):
        problem = Quadratic.of(train)
        beta = np.zeros(train.A.shape[0])
        betas = np.empty((alphas.shape[0], beta.shape[0]))
        previous = 0.0
        for a, alpha in enumerate(alphas):
            sweeps, ok = problem.solve(kernels, alpha, l1_ratio, rule, beta, previous)
            previous = alpha
            worst, converged = max(worst, sweeps), converged and ok
            betas[a] = beta
        mse[:, k] = held_out_mse(test, betas, intercepts_of(train, betas, with_const))
    return CVPath(mse, worst, converged)


class Choice(NamedTuple):
    """What the search chose for one target, and the path it chose from
    (arrays over ``(l1_ratio, alpha[, fold])``)."""

    coef: F64
    intercept: float
    alpha: float
    alpha_1se: float
    l1_ratio: float
    alphas: F64
    mse: F64
    mean: F64
    std: F64
    sem: F64
    n_iter: int
    converged: bool


def select(
    kernels: ModuleType,
    folds: Sequence[tuple[SufficientStats, SufficientStats]],
    total_stats: SufficientStats,
    ratios: Sequence[float],
    alphas: int | F64,
    eps: float,
    with_const: bool,
    rule: Rule,
) -> Choice:
    """The path over every ``l1_ratio`` and alpha on the ``(train, test)``
    folds of one target, the smallest mean held-out error chosen (and the
    one-standard-error alpha beside it), and the refit on the total."""
    trains = [moments_of(tr, with_const) for tr, _ in folds]
    tests = [moments_of(te, True) for _, te in folds]
    total = moments_of(total_stats, with_const)
    grids, paths, converged = [], [], True
    for ratio in ratios:
        grid = grid_of(total, ratio, alphas, eps)
        path = cv_path(kernels, trains, tests, grid, ratio, with_const, rule)
        grids.append(grid)
        paths.append(path.mse)
        converged = converged and path.converged
    grid_all, mse = np.stack(grids), np.stack(paths)  # (ratios, alphas, folds)
    mean, std = mse.mean(axis=2), mse.std(axis=2)
    sem = std / np.sqrt(mse.shape[2])
    return choose(
        kernels, total, ratios, grid_all, (mse, mean, std, sem), with_const, rule,
        converged,
    )  # fmt: skip


def choose(
    kernels: ModuleType,
    total: Moments,
    ratios: Sequence[float],
    grid: F64,
    errors: tuple[F64, F64, F64, F64],
    with_const: bool,
    rule: Rule,
    converged: bool,
) -> Choice:
    """The smallest mean held-out error of ``errors = (path, mean, std,
    sem)`` (``mean`` etc. over ``(ratio, alpha)`` like ``grid``), the
    one-standard-error alpha beside it, and the refit on the total."""
    mse, mean, std, sem = errors
    r, a = (int(i) for i in np.unravel_index(int(np.argmin(mean)), mean.shape))
    alpha, ratio = float(grid[r, a]), float(ratios[r])
    # the one-standard-error rule: the largest alpha (same ratio) within it
    alpha_1se = float(grid[r, mean[r] <= mean[r, a] + sem[r, a]].max())
    if ratio == 0 and not rule.positive:
        coef, n_iter, ok = ridge_fit(total, alpha), 0, True
    else:
        coef = np.zeros(total.A.shape[0])
        n_iter, ok = Quadratic.of(total).solve(kernels, alpha, ratio, rule, coef)
    intercept = intercept_of(total, coef, with_const)
    return Choice(
        coef, intercept, alpha, alpha_1se, ratio, grid, mse, mean, std, sem,
        n_iter, converged and ok,
    )  # fmt: skip


# --------------------------------------------------------------------------
# The ridge without folds: generalised and leave-one-out cross-validation
# --------------------------------------------------------------------------


def _ridge_basis(total: Moments) -> tuple[F64, F64, F64]:
    """``A = V Λ Vᵀ`` and ``Vᵀ c``: every ridge fit of the total moments."""
    lam, V = np.linalg.eigh(total.A)
    return np.maximum(lam, 0.0), V, V.T @ total.c


def ridge_gcv(total: Moments, alphas: F64, with_const: bool) -> tuple[F64, F64]:
    """Generalised cross-validation of every alpha, from the statistics
    alone: ``(RSS/n) / (1 − df/n)²`` with ``df = Σ λ/(λ + nα/2)`` (+1 for
    the intercept); ``(gcv, zeros)`` (GCV has no standard error)."""
    lam = _ridge_basis(total)[0]
    n = total.n
    betas = ridge_betas(total, alphas)
    # RSS/n: the fit's own error on the rows it was fitted to
    mse = held_out_mse(total, betas, intercepts_of(total, betas, with_const))
    df = (lam[None, :] / (lam[None, :] + 0.5 * n * alphas[:, None])).sum(axis=1)
    df += 1.0 if with_const else 0.0
    with np.errstate(divide="ignore"):
        gcv = np.where(df < n, mse / (1.0 - df / n) ** 2, np.inf)
    return gcv, np.zeros_like(gcv)


def ridge_loo(
    X: Any,
    y: F64,
    w: F64 | None,
    total: Moments,
    alphas: F64,
    with_const: bool,
    block_rows: int,
) -> tuple[F64, F64]:
    """Exact leave-one-out errors of every alpha, in one more pass over the
    rows (blocks of ``block_rows``): the residual ``e_i`` of the fit on all
    rows over ``1 − h_ii``, the leverage of the ridge with an unpenalised
    intercept ``h_ii = w_i (1/n + z_iᵀ (Λ + nα/2)⁻¹ z_i)``, ``z_i = Vᵀ (x_i −
    x̄)``. Returns the weighted mean of the squared LOO residuals per alpha
    and its standard error over the rows."""
    lam, V, proj = _ridge_basis(total)
    n = total.n
    inv = 1.0 / (lam[:, None] + 0.5 * n * alphas[None, :])  # d × m
    coef = proj[:, None] * inv  # Vᵀβ for every alpha
    base = 1.0 / n if with_const else 0.0
    sums = np.zeros((3, alphas.shape[0]))  # Σw, Σ w e'², Σ w e'⁴
    for start in range(0, X.shape[0], block_rows):
        stop = min(start + block_rows, X.shape[0])
        xb = np.asarray(X[start:stop], dtype=np.float64)
        z = (xb - total.xbar) @ V if with_const else xb @ V
        wb = np.ones(stop - start) if w is None else w[start:stop]
        yc = y[start:stop] - (total.ybar if with_const else 0.0)
        # h = w (1/n + z² (Λ + c)⁻¹), e = (y − ȳ) − z Vᵀβ: block × m each
        h = wb[:, None] * (base + (z * z) @ inv)
        e = yc[:, None] - z @ coef
        with np.errstate(divide="ignore", invalid="ignore"):
            loo2 = np.where(wb[:, None] > 0, (e / (1.0 - h)) ** 2, 0.0)
        sums[0] += wb.sum()
        sums[1] += wb @ loo2
        sums[2] += wb @ (loo2 * loo2)
    mean = sums[1] / sums[0]
    rows = total.n if w is None else float(np.count_nonzero(w))
    spread = np.maximum(sums[2] / sums[0] - mean * mean, 0.0)
    return mean, np.sqrt(spread / rows)
