"""Inference for the quantile and Huber losses: against statsmodels' QuantReg
(on engel), against direct NumPy transcriptions of the formulas, and by the
coverage of the intervals in simulations."""

from __future__ import annotations

import numpy as np
import pytest

from fastlinreg import LinearRegression

scipy_stats = pytest.importorskip("scipy.stats")
sm = pytest.importorskip("statsmodels.api")

QUANTILES = [0.1, 0.25, 0.5, 0.75, 0.9]


@pytest.fixture(scope="module")
def engel():
    data = sm.datasets.engel.load_pandas().data
    return data[["income"]], data["foodexp"].to_numpy()


def quantreg_bse(Z, y, beta, q, vcov, interpolated=()):
    """statsmodels' QuantReg covariance, transcribed, at ``beta`` (the rows
    ``interpolated`` given residual 0, as at an exact solution)."""
    n = len(y)
    e = y - Z @ beta
    e[list(interpolated)] = 0.0
    iqr = np.percentile(e, 75) - np.percentile(e, 25)
    norm = scipy_stats.norm
    z = norm.ppf(q)
    h = n ** (-1 / 3) * norm.ppf(0.975) ** (2 / 3)
    h *= (1.5 * norm.pdf(z) ** 2 / (2 * z * z + 1)) ** (1 / 3)
    h = min(np.std(y), iqr / 1.34) * (norm.ppf(q + h) - norm.ppf(q - h))
    u = e / h
    f = np.sum(0.75 * (1 - u * u) * (np.abs(u) <= 1)) / (n * h)
    inv = np.linalg.pinv(Z.T @ Z)
    if vcov == "iid":
        return np.sqrt(np.diag(q * (1 - q) / f**2 * inv))
    d = np.where(e > 0, (q / f) ** 2, ((1 - q) / f) ** 2)
    return np.sqrt(np.diag(inv @ (Z.T * d) @ Z @ inv))


def fixed(model, coef, intercept):
    """``model`` with its coefficients replaced (to evaluate inference at
    another solution of the same data)."""
    model.coef_ = np.asarray(coef, dtype=np.float64)
    model.intercept_ = float(intercept)
    return model


@pytest.mark.parametrize("q", QUANTILES)
def test_transcription_is_quantreg(engel, q):
    # The reference below is statsmodels' formula: at QuantReg's own solution
    # it gives QuantReg's standard errors.
    X, y = engel
    Z = sm.add_constant(X.to_numpy())
    for vcov in ("robust", "iid"):
        res = sm.QuantReg(y, Z).fit(q=q, vcov=vcov)
        np.testing.assert_allclose(
            quantreg_bse(Z, y, res.params, q, vcov), res.bse, rtol=1e-12
        )


@pytest.mark.parametrize("q", QUANTILES)
def test_quantile_formula_at_a_given_solution(engel, q):
    X, y = engel
    Z = sm.add_constant(X.to_numpy())
    # At QuantReg's coefficients: its iid standard errors (which do not look
    # at the residuals' signs; its ±1e-7 residuals at the interpolated rows,
    # set to 0 here, move the kernel estimate by ~1e-10).
    res = sm.QuantReg(y, Z).fit(q=q, vcov="iid")
    model = LinearRegression(loss="quantile", quantile=q).fit(X, y)
    fixed(model, res.params[1:], res.params[0])
    ours = model.inference(X, y, cov_type="iid")
    np.testing.assert_allclose(ours.bse, res.bse, rtol=1e-8)
    # Robust, at the exact (HiGHS) solution: the two rows it interpolates
    # count as zero residuals.
    from sklearn.linear_model import QuantileRegressor

    exact = QuantileRegressor(quantile=q, alpha=0.0, solver="highs").fit(X, y)
    beta = np.r_[exact.intercept_, exact.coef_]
    e = y - Z @ beta
    zero = np.argsort(np.abs(e))[:2]
    assert np.abs(e[zero]).max() < 1e-9
    fixed(model, exact.coef_, exact.intercept_)
    ours = model.inference(X, y, cov_type="robust")
    np.testing.assert_allclose(
        ours.bse, quantreg_bse(Z, y, beta, q, "robust", zero), rtol=1e-10
    )


@pytest.mark.parametrize("q", QUANTILES)
def test_quantile_fit_matches_quantreg_on_engel(engel, q):
    X, y = engel
    Z = sm.add_constant(X.to_numpy())
    for vcov in ("iid", "robust"):
        res = sm.QuantReg(y, Z).fit(q=q, vcov=vcov)
        ours = LinearRegression(loss="quantile", quantile=q, cov_type=vcov)
        r = ours.fit(X, y).inference_
        assert r.names == ("const", "income")
        assert r.use_t
        assert r.df_resid == res.df_resid
        assert r.nobs == res.nobs
        # ours is the exact optimum (the vertex finish); QuantReg's IRLS
        # stops within 3.2e-7 of it on engel
        np.testing.assert_allclose(r.params, res.params, rtol=1e-6)
        # QuantReg's robust form follows the signs of its IRLS residuals at
        # the interpolated rows (±1e-7): a few percent at q != 0.5
        rtol = 1e-6 if vcov == "iid" or q == 0.5 else 0.05
        np.testing.assert_allclose(r.bse, res.bse, rtol=rtol)
        np.testing.assert_allclose(r.tvalues, res.tvalues, rtol=rtol)
        np.testing.assert_allclose(r.conf_int(), res.conf_int(), rtol=max(rtol, 1e-6))
        if rtol < 1e-3:
            # (p-values near 1e-130: their relative error is t times that of t)
            np.testing.assert_allclose(r.pvalues, res.pvalues, rtol=1e-4)
    text = str(ours.summary())
    assert "Quantile Regression Results" in text
    assert "QuantReg" in text
    assert "R-squared" not in text


def huber_reference(Z, y, w, beta, eps):
    e = y - Z @ beta
    inside = (np.abs(e) <= eps).astype(float)
    psi = np.clip(e, -eps, eps)
    A = (Z.T * (w * inside)) @ Z
    B = (Z.T * (w * psi) ** 2) @ Z
    n, p = (w > 0).sum(), Z.shape[1]
    Ai = np.linalg.inv(A)
    return np.sqrt(np.diag(n / (n - p) * Ai @ B @ Ai))


def heavy_tailed(n, rng, d=3):
    X = rng.normal(size=(n, d)) * [1.0, 3.0, 0.5][:d] + [0.0, 50.0, -2.0][:d]
    noise = rng.standard_t(3, size=n) * (1.0 + 0.5 * np.abs(X[:, 0]))
    return X, X @ np.array([1.0, -0.5, 2.0][:d]) + 4.0 + noise


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_huber_sandwich_is_the_formula(weighted, fit_intercept):
    rng = np.random.default_rng(3)
    X, y = heavy_tailed(2_000, rng)
    w = rng.uniform(0.0, 2.0, size=len(y)) if weighted else np.ones(len(y))
    w[:5] = 0.0 if weighted else 1.0
    model = LinearRegression(loss="huber", epsilon=1.5, cov_type="robust")
    model.set_params(fit_intercept=fit_intercept, tol=1e-10)
    r = model.fit(X, y, sample_weight=w if weighted else None).inference_
    Z = sm.add_constant(X) if fit_intercept else X
    np.testing.assert_allclose(
        r.bse, huber_reference(Z, y, w, r.params, 1.5), rtol=1e-9
    )
    assert not r.use_t
    assert r.nobs == (w > 0).sum()
    assert r.names[0] == ("const" if fit_intercept else "x0")


def test_huber_intervals_cover():
    # 95% intervals from the sandwich cover the true coefficients in about
    # 95% of samples with heteroskedastic, heavy-tailed errors.
    rng = np.random.default_rng(11)
    hits = np.zeros(4)
    reps = 300
    truth = np.array([4.0, 1.0, -0.5, 2.0])
    for _ in range(reps):
        X, y = heavy_tailed(400, rng)
        model = LinearRegression(loss="huber", epsilon=1.0, cov_type="robust")
        ci = model.fit(X, y).inference_.conf_int()
        hits += (ci[:, 0] <= truth) & (truth <= ci[:, 1])
    coverage = hits / reps
    # binomial sd at 300 samples ~0.0126: 0.95 ± 3.5 sd
    assert (np.abs(coverage - 0.95) < 0.045).all(), coverage


def test_quantile_intervals_cover():
    rng = np.random.default_rng(12)
    hits = {"robust": np.zeros(2), "iid": np.zeros(2)}
    reps = 200
    q = 0.75
    for _ in range(reps):
        x = rng.uniform(0, 4, size=500)
        noise = rng.standard_t(4, size=500) * (1 + 0.5 * x)
        y = 1.0 + 2.0 * x + noise
        # the q quantile of y given x: 1 + 2x + (1 + 0.5x) t_q
        tq = scipy_stats.t.ppf(q, 4)
        truth = np.array([1.0 + tq, 2.0 + 0.5 * tq])
        for kind in hits:
            model = LinearRegression(loss="quantile", quantile=q, cov_type=kind)
            ci = model.fit(x, y).inference_.conf_int()
            hits[kind] += (ci[:, 0] <= truth) & (truth <= ci[:, 1])
    for kind, count in hits.items():
        coverage = count / reps
        # binomial sd at 200 samples ~0.0154: 0.95 ± 3.5 sd
        assert (np.abs(coverage - 0.95) < 0.055).all(), (kind, coverage)


def test_memmap_equals_in_memory(tmp_path):
    rng = np.random.default_rng(5)
    X, y = heavy_tailed(3_000, rng)
    path = tmp_path / "X.npy"
    np.save(path, X)
    Xm = np.load(path, mmap_mode="r")
    for params in (
        {"loss": "huber", "epsilon": 1.0, "cov_type": "robust"},
        {"loss": "quantile", "quantile": 0.3, "cov_type": "robust"},
        {"loss": "quantile", "quantile": 0.3, "cov_type": "iid"},
    ):
        a = LinearRegression(**params).fit(X, y).inference_
        b = LinearRegression(**params).fit(Xm, y).inference_
        np.testing.assert_allclose(b.bse, a.bse, rtol=1e-10)
        np.testing.assert_allclose(b.params, a.params, rtol=1e-10)


def test_several_targets():
    rng = np.random.default_rng(6)
    X, y = heavy_tailed(1_000, rng)
    Y = np.column_stack([y, 3.0 - y + X[:, 0]])
    model = LinearRegression(loss="huber", epsilon=1.0, cov_type="robust")
    results = model.fit(X, Y).inference_
    assert isinstance(results, list)
    assert len(results) == 2
    for j in range(2):
        single = LinearRegression(loss="huber", epsilon=1.0, cov_type="robust")
        np.testing.assert_allclose(
            results[j].bse, single.fit(X, Y[:, j]).inference_.bse, rtol=1e-6
        )


def test_clear_errors_and_state_kept():
    rng = np.random.default_rng(7)
    X, y = heavy_tailed(300, rng)
    for loss, cov_type in (
        ("quantile", "HC1"),
        ("huber", "iid"),
        ("squared_error", "robust"),
    ):
        with pytest.raises(ValueError, match=f"cov_type='{cov_type}' is not available"):
            LinearRegression(loss=loss, cov_type=cov_type).fit(X, y)
    model = LinearRegression(loss="quantile", quantile=0.5)
    model.fit(X, y)
    with pytest.raises(ValueError, match="cov_type='robust'"):
        _ = model.inference_
    # the fit's data give inference on request; other data are refused
    assert model.inference(X, y, cov_type="iid").bse.shape == (4,)
    with pytest.raises(ValueError, match="do not minimise the loss"):
        model.inference(X, y[::-1], cov_type="robust")
    with pytest.raises(ValueError, match="the model has 3"):
        model.inference(X[:, :2], y, cov_type="robust")
    weighted = LinearRegression(loss="quantile", cov_type="robust")
    weighted.fit(X, y, sample_weight=np.ones(len(y)))
    with pytest.raises(ValueError, match="sample_weight"):
        _ = weighted.inference_


def test_dask_says_what_to_do():
    # Robust losses do not fit on Dask arrays; inference() for one fitted in
    # memory, given Dask arrays, says so.
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(8)
    X, y = heavy_tailed(600, rng)
    Xd, yd = da.from_array(X, chunks=(200, 3)), da.from_array(y, chunks=200)
    model = LinearRegression(loss="huber", epsilon=1.0, cov_type="robust")
    model.fit(X, y)
    with pytest.raises(ValueError, match="Dask arrays is not available"):
        model.inference(Xd, yd)
