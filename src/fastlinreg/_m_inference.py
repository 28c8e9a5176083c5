"""Inference for the robust losses: quantile regression and Huber.

Both are M-estimators, so their covariances are sandwiches of weighted Grams
that one pass over the data gathers (:func:`fastlinreg._sandwich.
block_grams`), in the centred coordinates ``z̃ = [1, x − x̄]`` and mapped back
to ``(const, coef)`` as for least squares.

Quantile regression (``loss="quantile"``), as statsmodels' ``QuantReg``
computes it: the density of the errors at the quantile is estimated by an
Epanechnikov kernel ``K(u) = ¾ (1 − u²) 1{|u| ≤ 1}`` of the residuals,
``f̂ = Σ K(e/h) / (n h)``, with the Hall–Sheather bandwidth

    h₀ = n^(−1/3) z_{0.975}^(2/3) (1.5 φ(Φ⁻¹(q))² / (2 Φ⁻¹(q)² + 1))^(1/3)
    h  = min(sd(y), IQR(e) / 1.34) · (Φ⁻¹(q + h₀) − Φ⁻¹(q − h₀));

``cov_type="robust"`` (QuantReg's default) is ``(ZᵀZ)⁻¹ ZᵀDZ (ZᵀZ)⁻¹`` with
``D_ii = (q/f̂)²`` where ``e_i > 0`` and ``((1 − q)/f̂)²`` elsewhere;
``"iid"`` is ``q (1 − q) / f̂² · (ZᵀZ)⁻¹``. Tests use Student's t with
``n − p`` degrees of freedom, as QuantReg's results do. The robust form
weighs each row by the sign of its residual; the up to p rows the fit
interpolates (residual within ~1e-5 of the size of its terms) count as zero
residuals, as at the exact (linear-programming) solution. statsmodels' IRLS
leaves them at ±1e-7 with either sign, which moves its robust standard errors
at q != 0.5 by up to a few percent (on engel: 0.4-3%).

Huber (``loss="huber"``, threshold ``ε``), ``cov_type="robust"``: with
``ψ(r) = clip(r, −ε, ε)`` and weights ``w``,

    V = n/(n − p) · A⁻¹ B A⁻¹,   A = Σ w 1{|e| ≤ ε} z̃ z̃ᵀ,   B = Σ w² ψ(e)² z̃ z̃ᵀ,

the heteroskedasticity-robust (HC1-like) sandwich of an M-estimator with a
fixed threshold; tests use the standard normal.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ._distributions import norm_ppf
from ._inference import (
    InferenceResult,
    centring_map,
    check_df_resid,
    coefficient_tests,
    frozen,
    standardised_inverse,
)
from ._sandwich import block_grams, centred_fit
from ._typing import F64, FloatArray

__all__ = [
    "LOSS_COV_TYPES",
    "check_loss_cov_type",
    "m_inference",
    "nonrobust_reason",
]

# The covariance types each loss has; the default "nonrobust" is accepted
# by every loss (a fit need not ask for inference) but gives none for these.
LOSS_COV_TYPES = {
    "squared_error": ("nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster"),
    "quantile": ("robust", "iid"),
    "huber": ("robust",),
}

_HALL_SHEATHER_ALPHA = 0.05
# The gradient at a converged fit, relative to Σ |ψ| |z̃|, stays below this.
_FIRST_ORDER_SLACK = 1e-3
# A quantile fit's residual below this fraction of its terms' size is one
# the fit interpolates (the smoothed solution is exact to ~1e-6 of them).
_INTERPOLATED = 1e-5


def check_loss_cov_type(loss: str, cov_type: str) -> None:
    """ValueError for a ``cov_type`` the loss has no formula for."""
    if cov_type == "nonrobust":
        return
    allowed = LOSS_COV_TYPES.get(loss, ())
    if cov_type not in allowed:
        raise ValueError(
            f"cov_type={cov_type!r} is not available for loss={loss!r}"
            + (f"; choose one of {', '.join(map(repr, allowed))}" if allowed else "")
        )


def nonrobust_reason(loss: str) -> str:
    """Why a robust loss fitted with cov_type='nonrobust' has no inference."""
    choices = {
        "quantile": "cov_type='robust' (statsmodels QuantReg's default) or 'iid'",
        "huber": "cov_type='robust' (a sandwich)",
    }
    if loss in choices:
        return (
            f"loss={loss!r} has no classical (nonrobust) covariance: fit with "
            f"{choices[loss]}"
        )
    return (
        "inference is available for loss='squared_error' (OLS, WLS), 'quantile' "
        f"and 'huber', not loss={loss!r}"
    )


class MPoint(NamedTuple):
    """The fit, centred as :func:`block_grams` reads it:
    ``e = (y − ȳ) − (x − x̄)ᵀβ − δ`` (:func:`centred_fit`)."""

    coef: F64
    xbar: F64
    ybar: float
    delta: float


def m_inference(
    kernels: Any,
    threads: int,
    X: FloatArray,
    y: FloatArray,
    weights: F64 | None,
    loss: Any,
    cov_type: str,
    coef: F64,
    intercept: float,
    *,
    fit_intercept: bool,
    names: Sequence[str],
) -> InferenceResult:
    """Inference for the quantile or Huber fit ``(coef, intercept)`` of one
    target ``y``: a pass for the centre (the column means) and one for the
    Grams. ``loss`` is the fit's :class:`~fastlinreg._losses.Loss`."""
    d = X.shape[1]
    mean, m2 = np.empty(d + 1), np.empty(d + 1)
    kernels.moments(X, y, mean, m2, threads)
    with_const = fit_intercept
    point = MPoint(*centred_fit(coef, intercept, mean, with_const))
    p = d + int(with_const)
    quantile = loss.name == "quantile"
    if quantile and weights is not None:
        raise ValueError(
            "inference for loss='quantile' with sample_weight is not "
            "available (statsmodels' QuantReg has no weights to follow)"
        )
    n_obs = float(X.shape[0] if weights is None else np.count_nonzero(weights > 0))
    df_resid = check_df_resid(n_obs, p)
    if quantile:
        cov_c = _quantile_cov(X, y, point, with_const, loss.quantile, cov_type, m2)
        model = "QuantReg"
    else:
        cov_c = _huber_cov(X, y, weights, point, with_const, loss.epsilon, n_obs)
        model = "Huber"
    use_t = model == "QuantReg"
    params, cov, bse, tvalues, pvalues = coefficient_tests(
        cov_c,
        centring_map(point.xbar, with_const),
        coef,
        intercept,
        fit_intercept,
        df_resid if use_t else None,
    )
    nan = math.nan
    return InferenceResult(
        params=frozen(params),
        bse=frozen(bse),
        tvalues=frozen(tvalues),
        pvalues=frozen(pvalues),
        nobs=n_obs,
        df_model=float(p - int(with_const)),
        df_resid=df_resid,
        rsquared=nan,
        rsquared_adj=nan,
        fvalue=nan,
        f_pvalue=nan,
        ssr=nan,
        scale=1.0,
        llf=nan,
        aic=nan,
        bic=nan,
        names=(("const",) if with_const else ()) + tuple(names),
        cov_type=cov_type,
        use_t=use_t,
        weighted=weights is not None,
        model=model,
        _cov=frozen(cov),
        _df_inference=df_resid if use_t else math.inf,
    )


def _quantile_cov(
    X: FloatArray,
    y: FloatArray,
    point: MPoint,
    with_const: bool,
    q: float,
    cov_type: str,
    m2: F64,
) -> F64:
    """QuantReg's covariance in the centred coordinates (module docstring)."""
    n = X.shape[0]
    resid = np.empty(n)
    first_order = _FirstOrder(X.shape[1] + int(with_const), with_const)
    # (rows, |e| / scale) of residuals ≈ 0
    near: list[tuple[npt.NDArray[np.intp], F64]] = []

    def rows(Z: F64, e: F64, lo: int, hi: int) -> list[F64]:
        resid[lo:hi] = e
        first_order.add(Z, np.where(e < 0, q - 1.0, q))
        # |e| against the terms it is the difference of
        scale = np.abs(Z) @ np.abs(point.coef) + abs(point.ybar + point.delta)
        rel = np.abs(e) / (scale + np.abs(e) + 1e-300)
        at = np.flatnonzero(rel < _INTERPOLATED)
        near.append((at + lo, rel[at]))
        return [np.ones_like(e), (e > 0).astype(np.float64)]

    G, G_pos = block_grams(X, y, point, with_const, rows, 2)
    p = G.shape[0]
    # At the optimum of the check loss the subgradient is balanced by the
    # p rows the fit interpolates: |Σ ψ z̃_j| <= p · max |z̃_j| (plus slack).
    first_order.check(p)
    _interpolate(X, point, with_const, resid, G_pos, near, p)
    q25, q75 = np.percentile(resid, [25.0, 75.0])
    sd_y = math.sqrt(m2[-1] / n)
    z = norm_ppf(q)
    density = math.exp(-0.5 * z * z) / math.sqrt(2.0 * math.pi)
    h0 = (
        n ** (-1.0 / 3.0)
        * norm_ppf(1.0 - _HALL_SHEATHER_ALPHA / 2.0) ** (2.0 / 3.0)
        * (1.5 * density**2 / (2.0 * z * z + 1.0)) ** (1.0 / 3.0)
    )
    if not 0.0 < q - h0 < q + h0 < 1.0:
        raise ValueError(
            f"inference is undefined: quantile={q:g} is too close to 0 or 1 for "
            f"{n} rows (the Hall-Sheather bandwidth {h0:.3g} reaches past it)"
        )
    h = min(sd_y, (q75 - q25) / 1.34) * (norm_ppf(q + h0) - norm_ppf(q - h0))
    u = resid / h if h > 0 else np.full(n, math.inf)
    f_hat = float(np.sum(0.75 * (1.0 - u * u) * (np.abs(u) <= 1.0))) / (n * h)
    if not (f_hat > 0 and math.isfinite(f_hat)):
        raise ValueError(
            "inference is undefined: the kernel estimate of the errors' density "
            "at the quantile is zero (no residuals within the bandwidth)"
        )
    G_inv = standardised_inverse(G, _design(with_const))
    if cov_type == "iid":
        return q * (1.0 - q) / f_hat**2 * G_inv  # type: ignore[no-any-return]
    middle = (q / f_hat) ** 2 * G_pos + ((1.0 - q) / f_hat) ** 2 * (G - G_pos)
    return G_inv @ middle @ G_inv  # type: ignore[no-any-return]


def _interpolate(
    X: FloatArray,
    point: MPoint,
    with_const: bool,
    resid: F64,
    G_pos: F64,
    near: list[tuple[npt.NDArray[np.intp], F64]],
    p: int,
) -> None:
    """The rows an exact solution interpolates have residual 0, and so count
    among ``e <= 0``; the fit's are within its accuracy of 0 with either sign.
    Up to ``p`` rows with ``|e|`` below ``_INTERPOLATED`` of their scale are
    set to 0 (``resid``, ``G_pos`` updated)."""
    at = np.concatenate([a for a, _ in near]).astype(np.intp)
    rel = np.concatenate([r for _, r in near])
    for i in at[np.argsort(rel, kind="stable")[:p]]:
        if resid[i] > 0:
            z = np.asarray(X[i], dtype=np.float64) - point.xbar
            if with_const:
                z = np.r_[1.0, z]
            G_pos -= np.multiply.outer(z, z)
        resid[i] = 0.0


class _FirstOrder:
    """Σ ψ(e) z̃ (the gradient of the loss at the fit) beside Σ |ψ| |z̃| and
    max |z̃|: coefficients given with other data than their fit's are caught
    by a gradient far from zero (inference for them would be silently wrong)."""

    def __init__(self, p: int, with_const: bool) -> None:
        self.k = int(with_const)  # the constant's column, first
        self.grad, self.size, self.peak = np.zeros(p), np.zeros(p), np.zeros(p)
        self.peak[: self.k] = 1.0

    def add(self, Z: F64, psi: F64) -> None:
        k, a = self.k, np.abs(Z)
        self.grad[k:] += psi @ Z
        self.size[k:] += np.abs(psi) @ a
        np.maximum(self.peak[k:], a.max(axis=0, initial=0.0), out=self.peak[k:])
        if k:
            self.grad[0] += psi.sum()
            self.size[0] += np.abs(psi).sum()

    def check(self, interpolated: int) -> None:
        allowed = _FIRST_ORDER_SLACK * self.size + 2.0 * interpolated * self.peak
        worst = np.abs(self.grad) - allowed
        if (worst > 0).any():
            j = int(np.argmax(worst))
            raise ValueError(
                "the coefficients do not minimise the loss on this X and y "
                f"(gradient {self.grad[j]:.3g} in parameter {j}, "
                f"{self.grad[j] / max(self.size[j], 1e-300):.2g} of its scale): "
                "inference() needs the data the model was fitted on"
            )


def _design(with_const: bool) -> str:
    return "design [const, X]" if with_const else "design X"


def _huber_cov(
    X: FloatArray,
    y: FloatArray,
    weights: F64 | None,
    point: MPoint,
    with_const: bool,
    epsilon: float,
    n_obs: float,
) -> F64:
    """``n/(n − p) · A⁻¹ B A⁻¹`` in the centred coordinates (module docstring)."""

    first_order = _FirstOrder(X.shape[1] + int(with_const), with_const)

    def rows(Z: F64, e: F64, lo: int, hi: int) -> list[F64]:
        inside = (np.abs(e) <= epsilon).astype(np.float64)
        psi = np.clip(e, -epsilon, epsilon)
        if weights is not None:
            w = weights[lo:hi]
            inside *= w
            psi *= w
        first_order.add(Z, psi)
        return [inside, psi * psi]

    A, B = block_grams(X, y, point, with_const, rows, 2)
    first_order.check(0)
    A_inv = standardised_inverse(
        A, _design(with_const) + " over the rows with |residual| <= epsilon"
    )
    p = A.shape[0]
    return n_obs / (n_obs - p) * (A_inv @ B @ A_inv)  # type: ignore[no-any-return]
