"""Statistical inference for least-squares fits, from sufficient statistics.

Classical (``nonrobust``) inference needs nothing beyond what the fit
gathered: the bread ``(ZᵀWZ)⁻¹`` of the design ``Z = [1, X]`` comes from the
centred cross-products (in centred coordinates it is block diagonal,
``diag(1/Σw, A⁻¹)`` with ``A = Σ w (x − x̄)(x − x̄)ᵀ``), and the residual sum
of squares from ``Syy − 2βᵀSxy + βᵀAβ``. The heteroskedasticity-robust
(HC0–HC3) and cluster-robust covariances add a meat that one more pass over
the data gathers (:mod:`fastlinreg._sandwich`). Everything is computed in the
centred coordinates, where the matrices are well conditioned however far the
data sit from zero, and mapped back to ``(const, coef)`` at the end.

The numbers are those statsmodels' OLS and WLS report (names, degrees of
freedom, small-sample corrections, t or normal reference distributions), so
that a user can check one against the other. Weights are WLS weights: the
observations are the rows of positive weight.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from ._distributions import f_sf, norm_ppf, norm_sf, t_ppf, t_sf2
from ._stats import SufficientStats
from ._typing import F64

if TYPE_CHECKING:
    from ._summary import Summary

__all__ = [
    "COV_TYPES",
    "CoefficientTests",
    "InferenceResult",
    "Meat",
    "centring_map",
    "check_df_resid",
    "coefficient_tests",
    "frozen",
    "least_squares_inference",
    "standardised_inverse",
]

COV_TYPES = ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "robust", "iid")


class Meat(NamedTuple):
    """What the pass over the data gathered for a robust covariance, in the
    centred coordinates: ``parts`` holds one ``(Σ s sᵀ, n_groups)`` per
    clustering (one for HC and one-way; three for two-way: both ways and
    their intersection), ``ssr`` the weighted residual sum of squares."""

    parts: tuple[tuple[F64, int], ...]
    ssr: float
    n_obs: float


@dataclass(frozen=True, eq=False)
class InferenceResult:
    """Inference for one fitted target, named as statsmodels names it.

    ``params`` are ``[const, coef...]`` with an intercept (the order
    ``sm.add_constant`` gives), else the coefficients. p-values and intervals
    use Student's t with ``df_resid`` degrees of freedom for ``nonrobust``
    and the standard normal for the robust and clustered types (``use_t``),
    as statsmodels does by default. Arrays are read-only.

    Examples
    --------
    >>> import numpy as np, fastlinreg
    >>> X = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    >>> y = np.array([1.1, 2.9, 5.2, 6.8, 9.1])
    >>> result = fastlinreg.LinearRegression().fit(X, y).inference_
    >>> result.params.round(3).tolist(), result.bse.round(3).tolist()
    ([1.04, 1.99], [0.146, 0.06])
    >>> result.conf_int(alpha=0.05).round(2).tolist()
    [[0.57, 1.51], [1.8, 2.18]]
    >>> result.cov_params().shape, result.df_resid, round(result.rsquared, 4)
    ((2, 2), 3.0, 0.9973)
    """

    params: F64
    bse: F64
    tvalues: F64
    pvalues: F64
    nobs: float
    df_model: float
    df_resid: float
    rsquared: float
    rsquared_adj: float
    fvalue: float
    f_pvalue: float
    ssr: float
    scale: float
    llf: float
    aic: float
    bic: float
    names: tuple[str, ...]
    cov_type: str
    use_t: bool
    n_groups: tuple[int, ...] | None = None
    weighted: bool = False
    model: str = "OLS"
    _cov: F64 = field(default_factory=lambda: np.empty((0, 0)), repr=False)
    _df_inference: float = field(default=math.nan, repr=False)

    def cov_params(self) -> F64:
        """The (k, k) covariance matrix of ``params`` (a copy)."""
        return self._cov.copy()

    def conf_int(self, alpha: float = 0.05) -> F64:
        """The (k, 2) confidence intervals ``[lower, upper]`` of ``params`` at
        level ``1 − alpha``."""
        if not 0.0 < alpha < 1.0:
            raise ValueError(f"alpha must be in (0, 1), got {alpha!r}")
        q = self._critical(1.0 - alpha / 2.0)
        return np.column_stack([self.params - q * self.bse, self.params + q * self.bse])

    def _critical(self, p: float) -> float:
        if self.use_t:
            return _t_quantile(p, self._df_inference)
        return norm_ppf(p)

    def summary(
        self, alpha: float = 0.05, title: str | None = None, yname: str = "y"
    ) -> Summary:
        """The regression table (:class:`~fastlinreg._summary.Summary`), with
        intervals at level ``1 − alpha``; ``yname`` names the target."""
        from ._summary import Summary

        return Summary(self, alpha, title, yname)


@functools.lru_cache(maxsize=64)
def _t_quantile(p: float, df: float) -> float:
    return t_ppf(p, df)


def frozen(a: F64) -> F64:
    a = np.array(a, dtype=np.float64)
    a.setflags(write=False)
    return a


def standardised_inverse(M: F64, what: str) -> F64:
    """The inverse of the symmetric positive definite ``M``, by way of its
    correlation form (unit diagonal: the inverse's error then grows with the
    condition number of the correlations, not with the columns' scales)."""
    s = np.sqrt(np.diag(M))
    if not (s > 0).all() or not np.isfinite(s).all():
        bad = int(np.argmin(s > 0))
        raise ValueError(
            f"inference is undefined: column {bad} of the {what} is constant over the "
            "rows (it has no variance to estimate a coefficient from)"
        )
    R = M / np.multiply.outer(s, s)
    evals = np.linalg.eigvalsh(R)
    if evals[0] <= evals[-1] * R.shape[0] * np.finfo(np.float64).eps * 16:
        raise ValueError(
            "inference is undefined: the features are collinear (the design "
            "matrix is rank deficient: condition number "
            f"{evals[-1] / max(evals[0], 1e-300):.3g}); remove redundant features"
        )
    inv = np.linalg.solve(R, np.eye(R.shape[0]))
    inv = 0.5 * (inv + inv.T)
    return inv / np.multiply.outer(s, s)


class Bread(NamedTuple):
    """``(Z̃ᵀWZ̃)⁻¹`` in the centred coordinates ``Z̃ = [1, X − x̄]`` (or ``X``
    without an intercept), and ``T`` mapping them to ``(const, coef)``."""

    inverse: F64
    T: F64
    p: int


def centring_map(xbar: F64, with_const: bool) -> F64:
    """``T`` taking parameters in the centred coordinates ``[1, x − x̄]`` to
    ``(const, coef)``: the constant less ``x̄ᵀβ``."""
    d = xbar.shape[0]
    T = np.eye(d + 1 if with_const else d)
    if with_const:
        T[0, 1:] = -xbar
    return T


def check_df_resid(nobs: float, p: int) -> float:
    """``nobs − p``, or the ValueError when no degrees of freedom are left."""
    if nobs - p <= 0:
        raise ValueError(
            f"inference is undefined: {nobs:g} observations for {p} parameters "
            "leave no degrees of freedom for the residuals"
        )
    return nobs - p


class CoefficientTests(NamedTuple):
    """The per-parameter numbers of a result: covariance, its square-root
    diagonal, the z/t statistics and their two-sided p-values."""

    params: F64
    cov: F64
    bse: F64
    tvalues: F64
    pvalues: F64


def coefficient_tests(
    cov_centred: F64,
    T: F64,
    coef: F64,
    intercept: float,
    fit_intercept: bool,
    df: float | None,
) -> CoefficientTests:
    """The covariance in the centred coordinates mapped by ``T`` to
    ``(const, coef)`` and the tests of each parameter: Student's t with
    ``df`` degrees of freedom, or the standard normal for ``df=None``."""
    cov = T @ cov_centred @ T.T
    cov = 0.5 * (cov + cov.T)
    params = np.concatenate([[intercept], coef]) if fit_intercept else coef.copy()
    bse = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        tvalues = params / bse
    pvalues = 2.0 * norm_sf(np.abs(tvalues)) if df is None else t_sf2(tvalues, df)
    return CoefficientTests(params, cov, bse, tvalues, pvalues)


def bread(stats: SufficientStats, fit_intercept: bool) -> Bread:
    """The bread of the sandwich from the statistics of one target."""
    d = stats.d
    A = stats.cov[:d, :d]
    xbar = stats.mean[:d]
    if fit_intercept:
        p = d + 1
        inv = np.zeros((p, p))
        inv[0, 0] = 1.0 / stats.n
        if d:
            inv[1:, 1:] = standardised_inverse(A, "features X")
        return Bread(inv, centring_map(xbar, True), p)
    # Without an intercept the design is X itself: Σ w x xᵀ = A + n x̄ x̄ᵀ.
    G = A + stats.n * np.multiply.outer(xbar, xbar)
    return Bread(standardised_inverse(G, "features X"), np.eye(d), d)


def stats_ssr(
    stats: SufficientStats, coef: F64, intercept: float, fit_intercept: bool
) -> float:
    """Σ w e² from the statistics: ``Syy − 2βᵀSxy + βᵀAβ + n δ²`` with ``δ``
    the intercept's distance from the best one for these coefficients."""
    d = stats.d
    A, Sxy, Syy = stats.cov[:d, :d], stats.cov[:d, d], float(stats.cov[d, d])
    xbar, ybar = stats.mean[:d], float(stats.mean[d])
    delta = (intercept if fit_intercept else 0.0) - ybar + float(xbar @ coef)
    ssr = Syy - float(coef @ (2.0 * Sxy - A @ coef)) + stats.n * delta * delta
    return max(ssr, 0.0)


def least_squares_inference(
    stats: SufficientStats,
    coef: F64,
    intercept: float,
    *,
    fit_intercept: bool,
    names: Sequence[str],
    cov_type: str = "nonrobust",
    meat: Meat | None = None,
) -> InferenceResult:
    """Inference for the least-squares fit ``(coef, intercept)`` of the target
    whose statistics are ``stats``; robust types need the pass's ``meat``."""
    coef = np.asarray(coef, dtype=np.float64)
    b = bread(stats, fit_intercept)
    k_const = 1 if fit_intercept else 0
    nobs = stats.n_obs if meat is None else meat.n_obs
    df_resid = check_df_resid(nobs, b.p)
    ssr = stats_ssr(stats, coef, intercept, fit_intercept) if meat is None else meat.ssr
    scale = ssr / df_resid
    if cov_type == "nonrobust":
        cov_c = scale * b.inverse
        df_inf, n_groups = df_resid, None
    else:
        if meat is None:
            raise ValueError(f"cov_type={cov_type!r} needs a pass over the data")
        cov_c, df_inf, n_groups = _robust_cov(b, meat, cov_type, nobs)
    use_t = cov_type == "nonrobust"
    params, cov, bse, tvalues, pvalues = coefficient_tests(
        cov_c, b.T, coef, intercept, fit_intercept, df_inf if use_t else None
    )
    d = stats.d
    ybar = float(stats.mean[d])
    centred_tss = float(stats.cov[d, d])
    tss = centred_tss if fit_intercept else centred_tss + stats.n * ybar * ybar
    df_model = float(b.p - k_const)
    fvalue, f_pvalue = _f_test(
        params, cov, k_const, cov_type, tss - ssr, ssr, df_model, df_resid, df_inf
    )
    rsquared = 1.0 - ssr / tss if tss > 0 else math.nan
    llf = -0.5 * nobs * (math.log(2.0 * math.pi) + math.log(ssr / nobs) + 1.0)
    llf += 0.5 * stats.sum_log_weights
    n_params = df_model + k_const
    return InferenceResult(
        params=frozen(params),
        bse=frozen(bse),
        tvalues=frozen(tvalues),
        pvalues=frozen(pvalues),
        nobs=float(nobs),
        df_model=df_model,
        df_resid=float(df_resid),
        rsquared=rsquared,
        rsquared_adj=1.0 - (nobs - k_const) / df_resid * (1.0 - rsquared),
        fvalue=fvalue,
        f_pvalue=f_pvalue,
        ssr=float(ssr),
        scale=float(scale),
        llf=llf,
        aic=-2.0 * llf + 2.0 * n_params,
        bic=-2.0 * llf + math.log(nobs) * n_params,
        names=(("const",) if fit_intercept else ()) + tuple(names),
        cov_type=cov_type,
        use_t=use_t,
        n_groups=n_groups,
        weighted=stats.weighted_rows is not None,
        model="OLS" if stats.weighted_rows is None else "WLS",
        _cov=frozen(cov),
        _df_inference=float(df_inf),
    )


def _robust_cov(
    b: Bread, meat: Meat, cov_type: str, nobs: float
) -> tuple[F64, float, tuple[int, ...] | None]:
    """The sandwich ``B M B`` with statsmodels' small-sample corrections, the
    degrees of freedom of its tests, and the numbers of clusters."""
    B = b.inverse
    if cov_type != "cluster":
        ((M, _),) = meat.parts
        cov = B @ M @ B
        if cov_type == "HC1":
            cov *= nobs / (nobs - b.p)
        return cov, nobs - b.p, None
    # CRV1 for each clustering: G/(G − 1) · (n − 1)/(n − k); two-way is
    # V(first) + V(second) − V(intersection) (Cameron, Gelbach and Miller).
    covs = []
    for M, groups in meat.parts:
        correction = groups / (groups - 1.0) * (nobs - 1.0) / (nobs - b.p)
        covs.append(correction * (B @ M @ B))
    n_groups = tuple(g for _, g in meat.parts)
    if len(covs) == 1:
        return covs[0], n_groups[0] - 1.0, n_groups
    cov = covs[0] + covs[1] - covs[2]
    return cov, min(n_groups[:2]) - 1.0, n_groups[:2]


def _f_test(
    params: F64,
    cov: F64,
    k_const: int,
    cov_type: str,
    ess: float,
    ssr: float,
    df_model: float,
    df_resid: float,
    df_inf: float,
) -> tuple[float, float]:
    """The F statistic that all coefficients but the constant are zero, and
    its p-value: the ratio of mean squares (nonrobust), else the Wald form
    with the robust covariance, as statsmodels computes them."""
    if df_model == 0:
        return math.nan, math.nan
    if cov_type == "nonrobust":
        fvalue = (ess / df_model) / (ssr / df_resid) if ssr > 0 else math.inf
        return fvalue, f_sf(fvalue, df_model, df_resid)
    beta = params[k_const:]
    V = cov[k_const:, k_const:]
    rank = int(np.linalg.matrix_rank(V))
    fvalue = float(beta @ np.linalg.pinv(V) @ beta) / rank
    return fvalue, f_sf(fvalue, float(rank), df_inf)


def check_cov_type(cov_type: Any) -> str:
    """``cov_type``, or the ValueError that lists the choices."""
    if not isinstance(cov_type, str) or cov_type not in COV_TYPES:
        raise ValueError(
            f"cov_type must be one of {', '.join(map(repr, COV_TYPES))}, "
            f"got {cov_type!r}"
        )
    return cov_type
