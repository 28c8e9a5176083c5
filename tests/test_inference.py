"""Statistical inference: statsmodels' numbers, NIST's certified ones, and
clear errors where there is no valid inference."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastlinreg
from fastlinreg import LinearRegression
from fastlinreg._distributions import f_sf, norm_ppf, norm_sf, t_ppf, t_sf2

scipy_stats = pytest.importorskip("scipy.stats")
sm = pytest.importorskip("statsmodels.api")

COV_TYPES = ["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "cluster2"]
FIELDS = [
    "params", "bse", "tvalues", "pvalues", "rsquared", "rsquared_adj", "fvalue",
    "f_pvalue", "ssr", "scale", "llf", "aic", "bic", "nobs", "df_model", "df_resid",
]  # fmt: skip


def worst_relative(ours, theirs) -> dict[str, float]:
    """Largest relative difference of each statsmodels field (and conf_int)."""
    out = {}
    for name in FIELDS:
        a = np.asarray(getattr(ours, name), dtype=float)
        b = np.asarray(getattr(theirs, name), dtype=float)
        out[name] = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-300)))
    a, b = ours.conf_int(), np.asarray(theirs.conf_int())
    # an interval end near 0 is compared on the interval's width
    width = np.abs(b[:, 1] - b[:, 0])[:, None]
    out["conf_int"] = float(np.max(np.abs(a - b) / np.maximum(np.abs(b), width)))
    return out


def statsmodels_fit(X, y, weights, fit_intercept, cov_type, groups):
    Z = sm.add_constant(X, has_constant="add") if fit_intercept else X
    model = sm.OLS(y, Z) if weights is None else sm.WLS(y, Z, weights=weights)
    kw = {} if groups is None else {"groups": groups}
    res = model.fit(cov_type="cluster" if groups is not None else cov_type, cov_kwds=kw)
    _ = res.fvalue  # statsmodels' f_pvalue is the Wald test's once fvalue ran
    return res


def ours_fit(X, y, weights, fit_intercept, cov_type, groups):
    model = LinearRegression(
        cov_type="cluster" if groups is not None else cov_type,
        fit_intercept=fit_intercept,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return model.fit(X, y, sample_weight=weights, groups=groups)


def groups_for(cov_type, n, rng):
    if cov_type == "cluster":
        return rng.integers(0, max(n // 12, 3), n)
    if cov_type == "cluster2":
        return np.column_stack(
            [rng.integers(0, max(n // 12, 3), n), rng.integers(0, 7, n)]
        )
    return None


def heteroskedastic(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)) * [1.0, 10.0, 0.1] + [0.0, 100.0, -5.0]
    y = X @ [1.0, -0.2, 3.0] + 2.0 + rng.standard_normal(n) * (1.0 + np.abs(X[:, 0]))
    return X, y, rng


# ---------------------------------------------------------------- statsmodels


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("weighted", [False, True])
def test_synthetic_heteroskedastic_matches_statsmodels(
    cov_type, fit_intercept, weighted
):
    X, y, rng = heteroskedastic()
    w = rng.uniform(0.2, 3.0, y.shape[0]) if weighted else None
    groups = groups_for(cov_type, y.shape[0], rng)
    ours = ours_fit(X, y, w, fit_intercept, cov_type, groups).inference_
    theirs = statsmodels_fit(X, y, w, fit_intercept, cov_type, groups)
    errors = worst_relative(ours, theirs)
    assert max(errors.values()) < 1e-8, errors
    assert ours.cov_type == ("cluster" if cov_type.startswith("cluster") else cov_type)
    assert ours.use_t == (cov_type == "nonrobust")
    names = ["x0", "x1", "x2"]
    assert list(ours.names) == (["const", *names] if fit_intercept else names)


def dataset(name):
    data = getattr(sm.datasets, name).load_pandas()
    return np.asarray(data.exog, dtype=float), np.asarray(data.endog, dtype=float)


@pytest.mark.parametrize("name", ["stackloss", "longley", "copper", "cpunish"])
@pytest.mark.parametrize("cov_type", COV_TYPES)
def test_real_data_matches_statsmodels(name, cov_type):
    X, y = dataset(name)
    n = y.shape[0]
    # clusters of two rows, so that there are more clusters than parameters
    # (with fewer, the clustered covariance is singular and F undefined)
    groups = {
        "cluster": np.arange(n) // 2,
        "cluster2": np.c_[np.arange(n) // 2, np.arange(n) % 3],
    }
    groups = groups.get(cov_type)
    ours = ours_fit(X, y, None, True, cov_type, groups).inference_
    theirs = statsmodels_fit(X, y, None, True, cov_type, groups)
    errors = worst_relative(ours, theirs)
    if name == "longley" and cov_type != "nonrobust":
        # Longley's design has condition number ~5e9: statsmodels' pinv of it
        # is good to ~3e-8 there for the robust types, and the p-values of
        # t ~ 4 amplify that tenfold (ours agree with a 50-digit computation:
        # test_longley_robust_against_high_precision).
        # The clustered covariance of 8 clusters for 7 parameters has condition
        # number ~2e14: a Wald F of it keeps 2-3 digits in anyone's hands.
        f_errors = {k: errors.pop(k) for k in ("fvalue", "f_pvalue")}
        assert max(f_errors.values()) < (1e-2 if "cluster" in cov_type else 1e-5)
        assert errors.pop("pvalues") < 1e-5
        assert max(errors.values()) < 1e-6, errors
    else:
        # The Wald F inverts the slope block of the covariance: its digits are
        # those the block's condition number leaves (cpunish's two-way
        # clustered block, not even positive definite, has ~1e12).
        slopes = ours.cov_params()[1:, 1:]
        f_tol = max(1e-8, 1e-16 * np.linalg.cond(slopes))
        for key in ("fvalue", "f_pvalue"):
            assert errors.pop(key) < f_tol, (key, f_tol)
        assert max(errors.values()) < 1e-8, errors


def test_longley_robust_against_high_precision():
    mp = pytest.importorskip("mpmath")
    mp.mp.dps = 50
    X, y = dataset("longley")
    n, d = X.shape
    Z = mp.matrix([[1, *(mp.mpf(v) for v in row)] for row in X])
    Y = mp.matrix([mp.mpf(v) for v in y])
    inv = (Z.T * Z) ** -1
    beta = inv * (Z.T * Y)
    e = Y - Z * beta
    p = d + 1
    rows = [Z[i, :] for i in range(n)]
    h = [(r * inv * r.T)[0] for r in rows]

    def sandwich(weights):
        meat = mp.matrix(p, p)
        for r, c in zip(rows, weights, strict=True):
            meat += (r.T * r) * c
        return inv * meat * inv

    exact = {
        "HC0": sandwich([e[i] ** 2 for i in range(n)]),
        "HC2": sandwich([e[i] ** 2 / (1 - h[i]) for i in range(n)]),
        "HC3": sandwich([e[i] ** 2 / (1 - h[i]) ** 2 for i in range(n)]),
    }
    groups = np.arange(n) // 2
    sums = mp.matrix(n // 2, p)
    for i in range(n):
        for j in range(p):
            sums[int(groups[i]), j] += e[i] * Z[i, j]
    G = n // 2
    exact["cluster"] = (
        inv * (sums.T * sums) * inv * (mp.mpf(G) / (G - 1)) * (mp.mpf(n - 1) / (n - p))
    )
    for cov_type, cov in exact.items():
        want = np.array([float(mp.sqrt(cov[j, j])) for j in range(p)])
        fitted = ours_fit(
            X, y, None, True, cov_type, groups if cov_type == "cluster" else None
        )
        np.testing.assert_allclose(fitted.inference_.bse, want, rtol=1e-11)


def test_weighted_real_data_matches_wls():
    X, y = dataset("stackloss")
    w = np.linspace(0.5, 2.0, y.shape[0])
    for cov_type in ["nonrobust", "HC1", "HC3"]:
        ours = ours_fit(X, y, w, True, cov_type, None).inference_
        theirs = statsmodels_fit(X, y, w, True, cov_type, None)
        errors = worst_relative(ours, theirs)
        assert max(errors.values()) < 1e-8, (cov_type, errors)


def test_zero_weights_are_rows_left_out():
    X, y, rng = heteroskedastic(200)
    w = rng.uniform(0.5, 2.0, 200)
    w[::5] = 0.0
    for cov_type in ["nonrobust", "HC2", "cluster"]:
        groups = rng.integers(0, 20, 200) if cov_type == "cluster" else None
        with_zeros = ours_fit(X, y, w, True, cov_type, groups).inference_
        keep = w > 0
        kept = ours_fit(
            X[keep],
            y[keep],
            w[keep],
            True,
            cov_type,
            None if groups is None else groups[keep],
        ).inference_
        assert with_zeros.nobs == kept.nobs == keep.sum()
        np.testing.assert_allclose(with_zeros.bse, kept.bse, rtol=1e-10)
        np.testing.assert_allclose(with_zeros.llf, kept.llf, rtol=1e-12)


# ---------------------------------------------------------------- NIST


NIST = json.loads((Path(__file__).parent / "data" / "nist_strd.json").read_text())


def nist_design(ds):
    model = ds["model"]
    y = np.array(ds["y"], dtype=np.float64)
    if "predictors" in model:
        X = np.column_stack([np.array(ds["x"][k], float) for k in model["predictors"]])
    else:
        x = np.array(ds["x"][model["predictor"]], dtype=np.float64)
        X = np.column_stack([x**p for p in model["powers"] if p > 0])
    return X, y


@pytest.mark.parametrize(
    "name", ["Norris", "Pontius", "NoInt1", "NoInt2", "Longley", "Wampler3", "Wampler4"]
)
def test_nist_certified_standard_errors(name):
    ds = next(d for d in NIST["datasets"] if d["name"] == name)
    X, y = nist_design(ds)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LinearRegression(fit_intercept=ds["model"]["intercept"]).fit(X, y)
    result = model.inference_
    sd = np.array([p["sd"] for p in ds["certified_parameters"]])
    # LRE >= 8 (statsmodels reaches ~7.7 on Longley's standard errors)
    np.testing.assert_allclose(result.bse, sd, rtol=1e-8)
    np.testing.assert_allclose(
        np.sqrt(result.scale), ds["certified_residual_sd"], rtol=1e-8
    )
    np.testing.assert_allclose(result.rsquared, ds["certified_r_squared"], rtol=1e-10)
    anova = ds["certified_anova"]
    np.testing.assert_allclose(result.ssr, anova["residual"]["ss"], rtol=1e-8)
    assert result.df_resid == anova["residual"]["df"]
    if "f" in anova["regression"]:
        np.testing.assert_allclose(result.fvalue, anova["regression"]["f"], rtol=1e-8)


# ---------------------------------------------------------------- paths


def test_memmap_and_partial_fit_equal_in_memory(tmp_path):
    X, y, rng = heteroskedastic(3000)
    whole = ours_fit(X, y, None, True, "nonrobust", None).inference_
    path = tmp_path / "X.dat"
    mm = np.memmap(path, dtype=np.float64, mode="w+", shape=X.shape)
    mm[:] = X
    mm.flush()
    mapped = np.memmap(path, dtype=np.float64, mode="r", shape=X.shape)
    for cov_type in ["nonrobust", "HC3", "cluster"]:
        groups = rng.integers(0, 100, 3000) if cov_type == "cluster" else None
        a = ours_fit(X, y, None, True, cov_type, groups).inference_
        b = ours_fit(mapped, y, None, True, cov_type, groups).inference_
        np.testing.assert_allclose(b.bse, a.bse, rtol=1e-10)
        np.testing.assert_allclose(b.params, a.params, rtol=1e-10)
    model = LinearRegression()
    for rows in np.array_split(np.arange(3000), 7):
        model.partial_fit(X[rows], y[rows])
    streamed = model.inference_
    for name in ["params", "bse", "pvalues", "fvalue", "llf", "rsquared"]:
        np.testing.assert_allclose(
            getattr(streamed, name), getattr(whole, name), rtol=1e-10
        )
    # robust covariances after partial_fit: from the data given again
    robust = model.inference(X, y, cov_type="HC1")
    direct = ours_fit(X, y, None, True, "HC1", None).inference_
    np.testing.assert_allclose(robust.bse, direct.bse, rtol=1e-10)
    groups = rng.integers(0, 50, 3000)
    clustered = model.inference(X, y, cov_type="cluster", groups=groups)
    direct = ours_fit(X, y, None, True, "cluster", groups).inference_
    np.testing.assert_allclose(clustered.bse, direct.bse, rtol=1e-10)


def test_partial_fit_with_robust_cov_type_asks_for_the_data():
    X, y, _ = heteroskedastic(300)
    model = LinearRegression(cov_type="HC1").partial_fit(X, y)
    with pytest.raises(ValueError, match=r"model\.inference\(X, y"):
        _ = model.inference_
    assert model.inference(X, y).cov_type == "HC1"


def test_inference_on_other_data_raises():
    X, y, _ = heteroskedastic(300)
    model = LinearRegression().fit(X, y)
    with pytest.raises(ValueError, match="normal equations"):
        model.inference(X, y + X[:, 0])
    with pytest.raises(ValueError, match="features"):
        model.inference(X[:, :2], y)


@pytest.mark.parametrize("cov_type", COV_TYPES)
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_dask_equals_in_memory(cov_type, fit_intercept):
    """Chunks of 300 rows (the last one short), clusters spread over all of
    them, ids as strings for two-way: the merged scores are the in-memory
    ones, and so are inference() on Dask arrays and on a Dask-fitted model."""
    da = pytest.importorskip("dask.array")
    X, y, rng = heteroskedastic(2000)
    groups = groups_for(cov_type, 2000, rng)
    if cov_type == "cluster2":
        groups = groups.astype(str)
    a = ours_fit(X, y, None, fit_intercept, cov_type, groups).inference_
    Xd, yd = da.from_array(X, chunks=(300, 3)), da.from_array(y, chunks=300)
    gd = (
        None
        if groups is None
        else da.from_array(groups, chunks=(700, *groups.shape[1:]))
    )
    model = ours_fit(Xd, yd, None, fit_intercept, cov_type, gd)
    b = model.inference_
    for name in ["params", "bse", "pvalues", "fvalue", "ssr", "rsquared", "llf"]:
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), rtol=1e-10)
    assert b.n_groups == a.n_groups
    c = model.inference(X, y, groups=groups)  # the Dask fit, data in memory
    d = LinearRegression(fit_intercept=fit_intercept).fit(X, y)
    kind = "cluster" if cov_type.startswith("cluster") else cov_type
    d = d.inference(Xd, yd, groups=gd, cov_type=kind)  # and the other way
    for other in (c, d):
        np.testing.assert_allclose(other.bse, a.bse, rtol=1e-10)


def test_dask_cluster_ids_are_checked():
    da = pytest.importorskip("dask.array")
    X, y, _ = heteroskedastic(600)
    Xd, yd = da.from_array(X, chunks=(200, 3)), da.from_array(y, chunks=200)
    model = LinearRegression(cov_type="cluster")
    ids = np.arange(600.0) // 7
    ids[450] = np.nan
    with pytest.raises(ValueError, match="nan at row 450"):
        model.fit(Xd, yd, groups=da.from_array(ids, chunks=250))
    with pytest.raises(ValueError, match="groups has 599 rows"):
        model.fit(Xd, yd, groups=np.arange(599))
    with pytest.raises(TypeError, match="object"):
        model.fit(Xd, yd, groups=np.array([None] * 600, dtype=object))
    assert not hasattr(model, "coef_")


def test_several_targets_give_one_result_each():
    X, y, _ = heteroskedastic(300)
    Y = np.column_stack([y, 2 * y + X[:, 1]])
    for cov_type in ["nonrobust", "HC2"]:
        results = LinearRegression(cov_type=cov_type).fit(X, Y).inference_
        assert isinstance(results, list)
        assert len(results) == 2
        for j in range(2):
            single = ours_fit(X, Y[:, j], None, True, cov_type, None).inference_
            np.testing.assert_allclose(results[j].bse, single.bse, rtol=1e-9)
    model = LinearRegression().fit(X, Y)
    with pytest.raises(ValueError, match="target"):
        model.summary()
    assert "x2" in str(model.summary(target=1))


def test_feature_names_name_the_rows():
    pd = pytest.importorskip("pandas")
    X, y, _ = heteroskedastic(100)
    df = pd.DataFrame(X, columns=["age", "income", "rate"])
    for cov_type in ["nonrobust", "HC0"]:
        result = LinearRegression(cov_type=cov_type).fit(df, y).inference_
        assert result.names == ("const", "age", "income", "rate")
    frame = LinearRegression().fit(df, y).summary().to_frame()
    assert list(frame.index) == ["const", "age", "income", "rate"]
    assert list(frame.columns) == ["coef", "std err", "t", "P>|t|", "[0.025", "0.975]"]


# ---------------------------------------------------------------- no inference


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"alpha": 0.1}, "penalised"),
        ({"loss": "huber"}, "no classical"),
        ({"loss": "absolute_error"}, "not loss='absolute_error'"),
        ({"loss": "quantile", "cov_type": "robust", "alpha": 0.1}, "penalised"),
        ({"max_iter": 1, "solver": "gd", "tol": 1e-12}, "did not converge"),
    ],
)
def test_fits_without_valid_inference_say_so(params, match):
    X, y, _ = heteroskedastic(200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LinearRegression(**params).fit(X, y)
    for call in (
        lambda: model.inference_,
        model.summary,
        lambda: model.inference(X, y),
    ):
        with pytest.raises(ValueError, match=match):
            call()


def test_bad_settings_are_clear_errors():
    X, y, _ = heteroskedastic(100)
    with pytest.raises(ValueError, match="cov_type must be one of"):
        LinearRegression(cov_type="HC4").fit(X, y)
    with pytest.raises(ValueError, match=r"groups=\.\.\."):
        LinearRegression(cov_type="cluster").fit(X, y)
    with pytest.raises(ValueError, match="cluster ids"):
        LinearRegression().fit(X, y, groups=np.zeros(100))
    with pytest.raises(ValueError, match="rows"):
        LinearRegression(cov_type="cluster").fit(X, y, groups=np.zeros(99))
    bad = np.arange(100.0)
    bad[7] = np.nan
    with pytest.raises(ValueError, match="row 7"):
        LinearRegression(cov_type="cluster").fit(X, y, groups=bad)
    with pytest.raises(sklearn_not_fitted()):
        _ = LinearRegression().inference_
    collinear = np.column_stack([X, X[:, 0] * 2.0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = LinearRegression().fit(collinear, y)
    with pytest.raises(ValueError, match=r"collinear|converge"):
        _ = model.inference_


def sklearn_not_fitted():
    from fastlinreg._exceptions import not_fitted_error_class

    return not_fitted_error_class()


def test_a_failed_fit_keeps_the_previous_inference():
    X, y, _ = heteroskedastic(100)
    model = LinearRegression(cov_type="HC1").fit(X, y)
    before = model.inference_
    with pytest.raises(ValueError, match="cluster ids"):
        model.fit(X, y, groups=np.zeros(100))  # groups without cluster
    assert model.inference_ is before


def test_results_are_immutable():
    X, y, _ = heteroskedastic(100)
    result = LinearRegression().fit(X, y).inference_
    with pytest.raises(ValueError, match="read-only"):
        result.bse[0] = 1.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.nobs = 3  # type: ignore[misc]
    cov = result.cov_params()
    cov[0, 0] = -1.0
    assert result.cov_params()[0, 0] > 0


def test_summary_reads_like_a_regression_table():
    X, y = dataset("longley")
    text = str(LinearRegression().fit(X, y).summary())
    labels = ["R-squared:", "Adj. R-squared:", "F-statistic:", "No. Observations:"]
    labels += ["Covariance Type:", "nonrobust", "coef", "std err", "P>|t|", "const"]
    for label in labels:
        assert label in text
    text = str(LinearRegression(cov_type="HC3").fit(X, y).summary(alpha=0.1))
    for label in ["P>|z|", "[0.05", "0.95]", "HC3"]:
        assert label in text


# ---------------------------------------------------------------- distributions


def test_distributions_match_scipy():
    ts = np.array([0.0, 1e-6, 0.1, 0.5, 1.0, 1.96, 2.5, 4.0, 8.0, 20.0, 50.0, 1e3])
    for df in [1, 2, 3, 5, 9, 30, 100, 1e3, 1e4, 2e6, 1e7]:
        ours = t_sf2(ts, df)
        theirs = 2 * scipy_stats.t.sf(ts, df)
        ok = theirs > 1e-290
        rel = np.abs(ours - theirs)[ok] / theirs[ok]
        # scipy's own t.sf near t = 0 is good to ~1e-8 at df = 1
        assert rel.max() < (1e-8 if df < 2 else 1e-9), (df, rel)
        for p in [0.6, 0.95, 0.975, 0.995, 0.9999]:
            assert t_ppf(p, df) == pytest.approx(scipy_stats.t.ppf(p, df), rel=1e-8)
        for d1 in [1, 3, 20]:
            for f in [0.01, 0.5, 1.0, 3.0, 30.0, 330.0]:
                want = scipy_stats.f.sf(f, d1, df)
                if want > 1e-290:
                    assert f_sf(f, d1, df) == pytest.approx(want, rel=1e-8)
    z = np.array([0.0, 0.5, 1.96, 5.0, 30.0])
    np.testing.assert_allclose(norm_sf(z), scipy_stats.norm.sf(z), rtol=1e-12)
    assert norm_ppf(0.975) == pytest.approx(scipy_stats.norm.ppf(0.975), rel=1e-14)


def test_import_stays_numpy_only():
    import subprocess
    import sys

    code = (
        "import sys, fastlinreg, numpy as np; "
        "X = np.arange(20.0).reshape(10, 2); X[:, 1] = X[:, 1] ** 2; "
        "y = X @ [1.0, 2.0] + np.sin(X[:, 0]); "
        "m = fastlinreg.LinearRegression(cov_type='HC1').fit(X, y); "
        "m.summary(); print('scipy' in sys.modules, 'statsmodels' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "False"]


def test_public_names():
    assert fastlinreg.InferenceResult.__name__ == "InferenceResult"
