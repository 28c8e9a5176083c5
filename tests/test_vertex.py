"""The exact quantile fit: the vertex finish against HiGHS's linear programme.

The quantile (and absolute) loss is minimised exactly: after the smoothed
Newton fit a vertex of the linear programme is found and certified by its
optimality conditions (``fastlinreg._vertex``). The reference is the same
programme solved by HiGHS (``scipy.optimize.linprog``); data include ties
(many zero residuals at the optimum), zero weights, no intercept, and a band
of rows on larger data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fastlinreg import LinearRegression
from fastlinreg._vertex import quantile_vertex

linprog = pytest.importorskip("scipy.optimize").linprog
sm = pytest.importorskip("statsmodels.api")


def highs(X, y, q, w=None, with_const=True):
    """The minimiser of Σ w ρ_q(y − Z β) and its value, by HiGHS."""
    n = X.shape[0]
    Z = np.column_stack([np.ones(n), X]) if with_const else X
    p = Z.shape[1]
    w = np.ones(n) if w is None else w
    c = np.concatenate([np.zeros(p), q * w, (1 - q) * w])
    A = np.hstack([Z, np.eye(n), -np.eye(n)])
    bounds = [(None, None)] * p + [(0, None)] * (2 * n)
    res = linprog(c, A_eq=A, b_eq=y, bounds=bounds, method="highs")
    assert res.status == 0
    return res.x[:p], float(res.fun)


def pinball(X, y, coef, intercept, q, w=None):
    r = y - X @ coef - intercept
    rho = np.where(r >= 0, q * r, (q - 1) * r)
    return float(rho.sum() if w is None else w @ rho)


@pytest.fixture(scope="module")
def engel():
    data = sm.datasets.engel.load_pandas().data
    return data[["income"]].to_numpy(), data["foodexp"].to_numpy()


@pytest.mark.parametrize("q", [0.1, 0.25, 0.5, 0.75, 0.9])
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_engel_is_the_exact_optimum(engel, q, fit_intercept):
    X, y = engel
    model = LinearRegression(loss="quantile", quantile=q, fit_intercept=fit_intercept)
    model.fit(X, y)
    beta, _ = highs(X, y, q, with_const=fit_intercept)
    ours = np.r_[model.intercept_, model.coef_] if fit_intercept else model.coef_
    np.testing.assert_allclose(ours, beta, rtol=1e-11)
    assert model.converged_
    assert model.stop_reason_ == "converged"


def test_absolute_error_is_the_median_fit(engel):
    X, y = engel
    a = LinearRegression(loss="absolute_error").fit(X, y)
    b = LinearRegression(loss="quantile", quantile=0.5).fit(X, y)
    beta, _ = highs(X, y, 0.5)
    np.testing.assert_allclose(np.r_[a.intercept_, a.coef_], beta, rtol=1e-11)
    np.testing.assert_allclose(a.coef_, b.coef_, rtol=1e-12)


@st.composite
def problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    d = draw(st.integers(1, 4))
    with_const = draw(st.booleans())
    n = draw(st.integers(d + 2, 120))
    X = rng.normal(size=(n, d))
    y = X @ rng.normal(size=d) + rng.standard_t(2, size=n)
    if draw(st.booleans()):  # ties: integer data, many zero residuals
        X, y = np.round(X), np.round(y)
    w = None
    if draw(st.booleans()):
        w = rng.uniform(0.0, 2.0, n)
        w[rng.integers(0, n, n // 4)] = 0.0
    q = draw(st.sampled_from([0.05, 0.3, 0.5, 0.77, 0.95]))
    return X, y, w, q, with_const


@settings(max_examples=60, deadline=None)
@given(problem=problems())
def test_vertex_from_zero_reaches_the_optimum(problem):
    """From β = 0 (far from the optimum): simplex steps, and on ties the
    perturbed stage, end at a certified vertex with HiGHS's value."""
    X, y, w, q, with_const = problem
    p = X.shape[1] + with_const
    _, best = highs(X, y, q, w, with_const)
    found = quantile_vertex(X, y, w, q, np.zeros(p), with_const, 10_000)
    if found is None:  # (rows of positive weight that span no basis)
        live = X if w is None else X[w > 0]
        Z = np.column_stack([np.ones(live.shape[0]), live]) if with_const else live
        assert np.linalg.matrix_rank(Z) < p
        return
    assert found.certified
    assert found.objective == pytest.approx(best, rel=1e-10, abs=1e-12)


@settings(max_examples=30, deadline=None)
@given(problem=problems())
def test_fit_is_never_above_highs(problem):
    X, y, w, q, with_const = problem
    model = LinearRegression(loss="quantile", quantile=q, fit_intercept=with_const)
    try:
        model.fit(X, y, sample_weight=w)
    except ValueError:
        return  # (e.g. all weights zero)
    _, best = highs(X, y, q, w, with_const)
    f = pinball(X, y, model.coef_, model.intercept_, q, w)
    live = X if w is None else X[w > 0]
    Z = np.column_stack([np.ones(live.shape[0]), live]) if with_const else live
    if np.linalg.matrix_rank(Z) == Z.shape[1]:
        assert f <= best * (1 + 1e-10) + 1e-12
    else:  # no vertex: the smoothed fit's guarantee (1e-6 of the optimum)
        assert f <= best * (1 + 1e-6) + 1e-12


@pytest.mark.parametrize("q", [0.2, 0.5, 0.9])
def test_band_of_rows_on_larger_data(q):
    """Enough rows that the steps run on a band of the smallest residuals
    (the rest through their signs): still HiGHS's optimum."""
    rng = np.random.default_rng(4)
    n, d = 3000, 2
    X = rng.normal(size=(n, d))
    y = X @ [1.0, -2.0] + rng.standard_t(3, size=n)
    beta, best = highs(X, y, q)
    model = LinearRegression(loss="quantile", quantile=q).fit(X, y)
    np.testing.assert_allclose(np.r_[model.intercept_, model.coef_], beta, rtol=1e-9)
    # from a start whose signs are far from the optimum's: bands that grow
    found = quantile_vertex(X, y, None, q, np.array([5.0, 0.0, 0.0]), True, 10_000)
    assert found is not None
    assert found.objective == pytest.approx(best, rel=1e-10)


def test_penalised_quantile_fit_keeps_its_penalty():
    """With an L1 penalty the optimum is not the plain vertex: the finish is
    not applied, and the penalised objective is lower than at the vertex."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 3))
    y = X @ [1.0, 0.0, -1.0] + rng.standard_t(3, size=400)
    alpha = 0.05
    pen = LinearRegression(loss="quantile", quantile=0.3, alpha=alpha, penalty="l1")
    plain = LinearRegression(loss="quantile", quantile=0.3)
    pen.fit(X, y)
    plain.fit(X, y)

    def objective(m):
        return (
            pinball(X, y, m.coef_, m.intercept_, 0.3) / 400
            + alpha * np.abs(m.coef_).sum()
        )

    assert objective(pen) < objective(plain)


def test_rows_of_zeros_are_not_a_basis():
    """Rows with x = 0 and y = 0 have zero residual at every β: the nearest
    rows cannot form a basis, and the candidates widen past them."""
    rng = np.random.default_rng(6)
    X = np.r_[np.zeros((40, 1)), rng.normal(size=(30, 1))]
    y = np.r_[np.zeros(40), 0.5 * X[40:, 0] + rng.standard_t(3, size=30)]
    model = LinearRegression(loss="quantile", quantile=0.3, fit_intercept=False)
    model.fit(X, y)
    beta, _ = highs(X, y, 0.3, with_const=False)
    np.testing.assert_allclose(model.coef_, beta, rtol=1e-11)


@pytest.mark.parametrize(
    "name", ["vertex_ties_1.npz", "vertex_ties_2.npz", "vertex_ties_3.npz"]
)
def test_tied_problems_hypothesis_found(name):
    """Two problems of small integers (many exact ties) on which the finish
    once ended uncertified: the first cycled along level edges between tied
    optima until max_steps (a step that does not lower the objective now
    counts as a stall); on the second a vertex entry that should be 0 was
    1e-17, and rows whose own terms were smaller did not count as ties (the
    size of a residual's terms now includes the vertex's largest entry); on
    the third a row's perturbed residual was zero to rounding (its ψ 0 in the
    perturbed check), yet the true data's check took its sign (both now take
    the perturbed check's ψ)."""
    data = np.load(Path(__file__).parent / "data" / name)
    X, y, q, with_const = (
        data["X"],
        data["y"],
        float(data["q"]),
        bool(data["with_const"]),
    )
    w = data["w"] if data["w"].size else None
    _, best = highs(X, y, q, w, with_const)
    found = quantile_vertex(
        X, y, w, q, np.zeros(X.shape[1] + with_const), with_const, 10_000
    )
    assert found.certified
    assert found.objective == pytest.approx(best, rel=1e-10, abs=1e-12)
