"""The tutorial fastlinreg reproduces (see /work/shared/seed.md), the demo
command, and the dataset helpers ``make_regression`` and ``train_test_split``.

The expected numbers are the tutorial's published ones: losses 103801, 91779,
90183, 89971, 89943, 89939 every 50 epochs; y = 7.59 x - 3.26; R² = 0.9953.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import fastlinreg
from fastlinreg import LinearRegression, make_regression, train_test_split

N = 10_000
TUTORIAL_SSE = {50: 103801, 100: 91779, 150: 90183, 200: 89971, 250: 89943, 300: 89939}


@pytest.fixture
def tutorial_data():
    """The tutorial's own code, run on NumPy's global generator (restored after)."""
    # The legacy global-state API on purpose: it is what the tutorial runs.
    state = np.random.get_state()  # noqa: NPY002
    try:
        np.random.seed(42)  # noqa: NPY002
        X = np.random.uniform(-10, 10, N)  # noqa: NPY002
        noise = np.random.normal(0, 3, N)  # noqa: NPY002
        true_w, true_b = 7.6, -3.3
        y = true_w * X + true_b + noise
    finally:
        np.random.set_state(state)  # noqa: NPY002
    return X, y


def test_make_regression_reproduces_the_tutorial_draws(tutorial_data):
    X, y = make_regression(random_state=42)
    x_t, y_t = tutorial_data
    assert X.shape == (N, 1)
    assert X.dtype == y.dtype == np.float64
    assert np.array_equal(X[:, 0], x_t)
    assert np.array_equal(y, y_t)


def test_default_fit_gives_the_tutorial_line(backend, tutorial_data):
    x, y = tutorial_data
    model = LinearRegression(backend=backend).fit(x, y)
    assert round(float(model.coef_[0]), 4) == 7.5941
    assert round(float(model.intercept_), 4) == -3.2636
    assert round(float(model.coef_[0]), 2) == 7.59
    assert round(float(model.intercept_), 2) == -3.26
    assert round(N * model.loss_curve_[-1]) == 89939
    assert round(model.score(x, y), 4) == 0.9953
    assert model.converged_


def test_fixed_step_run_gives_the_tutorial_losses(backend, ref, tutorial_data):
    """The tutorial's loop: w = -1, b = 0, 500 epochs, step 1e-6 on the sum of
    squared errors, i.e. 1e-6 * n = 0.01 on the mean."""
    x, y = tutorial_data
    model = LinearRegression(backend=backend, learning_rate=0.01, max_iter=500, tol=0.0)
    model.fit(x, y, coef_init=[-1.0], intercept_init=0.0)
    assert model.n_iter_ == 500
    assert model.loss_curve_.shape == (501,)
    sse = N * model.loss_curve_
    assert {k: round(sse[k]) for k in TUTORIAL_SSE} == TUTORIAL_SSE
    assert all(round(s) == 89939 for s in sse[300::50])
    # ... and step for step the tutorial's own arithmetic.
    want = ref.plain_gradient_descent(x, y, 1e-6 * N, 500, [-1.0], 0.0)
    np.testing.assert_allclose(model.loss_curve_, want, rtol=1e-11)
    assert round(float(model.coef_[0]), 2) == 7.59


def test_demo_command():
    env = {k: v for k, v in os.environ.items() if k != "FASTLINREG_BACKEND"}
    done = subprocess.run(
        [sys.executable, "-m", "fastlinreg", "demo", "--repeat", "3"],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    # The computed answer (the line also quotes the tutorial, so match both parts).
    assert re.search(r"Answer: y = 7\.59 x - 3\.26 ", out), out
    assert re.search(r"cython\s+7\.59\d\d\s+-3\.26\d\d\s+89939\s+0\.9953", out), out
    for epoch, sse in TUTORIAL_SSE.items():
        assert re.search(rf"^\s+{epoch}\s+{sse}$", out, re.MULTILINE), (epoch, out)
    assert re.search(r"NumPy fallback / Cython fit time: \d+\.\dx", out), out


def test_cli_without_command_prints_help():
    done = subprocess.run(
        [sys.executable, "-m", "fastlinreg"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert "demo" in done.stdout


# --------------------------------------------------------------------------
# make_regression
# --------------------------------------------------------------------------


def test_make_regression_options():
    X, y, coef = make_regression(
        n_samples=500,
        n_features=4,
        noise_scale=0.0,
        intercept=2.0,
        x_range=(0.0, 1.0),
        random_state=3,
        return_coef=True,
    )
    assert X.shape == (500, 4)
    assert y.shape == (500,)
    assert coef.shape == (4,)
    assert X.min() >= 0.0
    assert X.max() < 1.0
    np.testing.assert_allclose(y, X @ coef + 2.0, rtol=1e-13)
    given = np.array([1.0, -2.0, 0.5, 0.0])
    X, y, coef = make_regression(
        n_samples=50,
        n_features=4,
        coef=given,
        noise_scale=0.0,
        random_state=3,
        return_coef=True,
    )
    np.testing.assert_array_equal(coef, given)
    np.testing.assert_allclose(y, X @ given - 3.3, rtol=1e-13)


@pytest.mark.parametrize(
    ("noise", "std"),
    [
        ("normal", 3.0),
        ("laplace", 3.0 * np.sqrt(2)),
        ("student_t", 3.0 * np.sqrt(5 / 3)),  # df=5
        ("uniform", 3.0 / np.sqrt(3)),
    ],
)
def test_make_regression_noise_families(noise, std):
    n = 40_000
    X, y, coef = make_regression(
        n_samples=n, noise=noise, df=5.0, random_state=0, return_coef=True
    )
    eps = y - X @ coef + 3.3
    assert abs(eps.mean()) < 5 * std / np.sqrt(n)
    assert eps.std() == pytest.approx(std, rel=0.05)
    if noise == "uniform":
        assert np.abs(eps).max() <= 3.0 + 1e-9
    # A different family gives a different draw.
    other = "normal" if noise != "normal" else "laplace"
    assert not np.allclose(
        y, make_regression(n_samples=n, noise=other, random_state=0)[1]
    )


def test_make_regression_dtype_and_random_state():
    X, y = make_regression(
        n_samples=100, n_features=2, dtype=np.float32, random_state=1
    )
    assert X.dtype == y.dtype == np.float32
    a = make_regression(n_samples=100, random_state=7)
    b = make_regression(n_samples=100, random_state=np.random.RandomState(7))
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    c = make_regression(n_samples=100, random_state=8)
    assert not np.array_equal(a[0], c[0])
    g1 = make_regression(n_samples=100, random_state=np.random.default_rng(7))
    g2 = make_regression(n_samples=100, random_state=np.random.default_rng(7))
    assert np.array_equal(g1[1], g2[1])


@pytest.mark.parametrize(
    "kwargs",
    [
        {"n_samples": 0},
        {"n_samples": -5},
        {"n_samples": 2.5},
        {"n_samples": True},
        {"n_features": 0},
        {"n_features": 2.0},
        {"noise": "cauchy"},
        {"noise_scale": -1.0},
        {"noise_scale": np.nan},
        {"noise_scale": np.inf},
        {"noise": "student_t", "df": 0.0},
        {"noise": "student_t", "df": np.nan},
        {"x_range": (1.0, 1.0)},
        {"x_range": (2.0, -2.0)},
        {"x_range": (0.0, np.inf)},
        {"dtype": np.float16},
        {"dtype": np.int64},
        {"coef": [1.0, 2.0]},
        {"n_features": 3, "coef": [1.0]},
    ],
)
def test_make_regression_invalid_arguments(kwargs):
    # The message names the (last) offending argument.
    with pytest.raises(ValueError, match=list(kwargs)[-1]):
        make_regression(**{"n_samples": 10, **kwargs})


@pytest.mark.parametrize("kwargs", [{"intercept": np.nan}, {"coef": [np.inf]}])
def test_make_regression_rejects_non_finite_model(kwargs):
    with pytest.raises(ValueError, match=r"intercept|coef"):
        make_regression(n_samples=10, **kwargs)


# --------------------------------------------------------------------------
# train_test_split
# --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "test_size", "n_test"),
    [(10, 0.25, 3), (7, 0.3, 3), (100, 0.2, 20), (3, 0.5, 2), (10, 4, 4), (10, 1, 1)],
)
@pytest.mark.parametrize("shuffle", [True, False])
def test_split_sizes_and_partition(n, test_size, n_test, shuffle):
    """Sizes as scikit-learn rounds them (the test part is ceil(test_size·n))."""
    X = np.arange(n, dtype=float)[:, None] * [1.0, 10.0]
    y = np.arange(n) * 100.0
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, shuffle=shuffle, random_state=0
    )
    assert (len(X_tr), len(X_te), len(y_tr), len(y_te)) == (n - n_test, n_test) * 2
    rows = np.concatenate([X_tr[:, 0], X_te[:, 0]])
    assert sorted(rows) == list(range(n))  # a partition: no overlap, nothing lost
    np.testing.assert_array_equal(y_tr, X_tr[:, 0] * 100)  # rows stay aligned
    np.testing.assert_array_equal(y_te, X_te[:, 0] * 100)


def test_split_is_reproducible_and_shuffles():
    X, y = np.arange(200.0), np.arange(200.0)
    a = train_test_split(X, y, random_state=5)
    b = train_test_split(X, y, random_state=5)
    c = train_test_split(X, y, random_state=6)
    assert all(np.array_equal(u, v) for u, v in zip(a, b, strict=True))
    assert not np.array_equal(a[1], c[1])
    assert not np.array_equal(a[0], np.sort(a[0]))


def test_split_without_shuffle_gives_views():
    X = np.arange(40.0).reshape(20, 2)
    y = np.arange(20.0)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=5, shuffle=False)
    for part, whole in [(X_tr, X), (X_te, X), (y_tr, y), (y_te, y)]:
        assert np.shares_memory(part, whole)
    np.testing.assert_array_equal(X_te, X[15:])
    np.testing.assert_array_equal(y_tr, y[:15])


def test_split_dataframe():
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(
        {"a": np.arange(12.0), "b": -np.arange(12.0)}, index=range(100, 112)
    )
    y = pd.Series(np.arange(12.0) * 2, index=X.index, name="t")
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.25, random_state=1)
    assert isinstance(X_tr, pd.DataFrame)
    assert isinstance(y_te, pd.Series)
    assert list(X_tr.columns) == ["a", "b"]
    assert (len(X_tr), len(X_te)) == (9, 3)
    assert X_tr.index.equals(y_tr.index)
    assert sorted([*X_tr.index, *X_te.index]) == list(range(100, 112))
    # The frame fits and keeps its names (b = -a: collinear, and said so).
    with pytest.warns(fastlinreg.IllConditionedWarning):
        model = LinearRegression().fit(X_tr, y_tr)
    assert list(model.feature_names_in_) == ["a", "b"]


@pytest.mark.parametrize(
    ("kwargs", "exc"),
    [
        ({"test_size": 0}, ValueError),
        ({"test_size": 1.0}, ValueError),
        ({"test_size": 1.5}, ValueError),
        ({"test_size": -1}, ValueError),
        ({"test_size": 10}, ValueError),
        ({"test_size": 0.99}, ValueError),
        ({"test_size": "half"}, ValueError),
        ({"test_size": True}, TypeError),
        ({"random_state": "seed"}, TypeError),
    ],
)
def test_split_invalid_arguments(kwargs, exc):
    with pytest.raises(exc, match=r"test_size|random_state"):
        train_test_split(np.arange(10.0), np.arange(10.0), **kwargs)


def test_split_mismatched_lengths():
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        train_test_split(np.arange(10.0), np.arange(9.0))
    with pytest.raises(ValueError, match="scalar"):
        train_test_split(1.0, np.arange(9.0))


def test_public_names():
    for name in fastlinreg.__all__:
        assert hasattr(fastlinreg, name)
