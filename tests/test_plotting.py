"""fastlinreg.plotting: each function draws on the Axes it is given (or a new
figure's), returns it, and refuses what it cannot draw."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import fastlinreg
from fastlinreg import LinearRegression, make_regression

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
plt = pytest.importorskip("matplotlib.pyplot")
from matplotlib.axes import Axes  # noqa: E402

from fastlinreg.plotting import (  # noqa: E402
    plot_cv_path,
    plot_fit,
    plot_loss_curve,
    plot_residuals,
)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def one_feature():
    X, y = make_regression(n_samples=300, random_state=42)
    return LinearRegression().fit(X, y), X, y


@pytest.fixture(scope="module")
def three_features():
    X, y = make_regression(n_samples=300, n_features=3, random_state=0)
    return LinearRegression().fit(X, y), X, y


def test_plot_fit_draws_cloud_and_lines(one_feature):
    model, X, y = one_feature
    ax = plot_fit(model, X, y)
    assert isinstance(ax, Axes)
    assert len(ax.collections) == 1  # the scatter
    np.testing.assert_array_equal(ax.collections[0].get_offsets(), np.c_[X[:, 0], y])
    (fit_line,) = ax.get_lines()
    xs, ys = fit_line.get_data()
    np.testing.assert_allclose(ys, model.coef_[0] * xs + model.intercept_)
    assert fit_line.get_label().startswith("fit: y = 7.")


def test_plot_fit_on_given_axes_with_true_line(one_feature):
    model, X, y = one_feature
    _, (left, right) = plt.subplots(1, 2)
    ax = plot_fit(model, X[:, 0], y, ax=right, true_coef=[7.6], true_intercept=-3.3)
    assert ax is right
    assert not left.has_data()
    true_line, fit_line = ax.get_lines()
    assert true_line.get_color() == "red"
    xs, ys = true_line.get_data()
    np.testing.assert_allclose(ys, 7.6 * xs - 3.3)
    assert [t.get_text() for t in ax.get_legend().get_texts()][1:] == [
        "true: y = 7.60 x - 3.30",
        fit_line.get_label(),
    ]


def test_plot_fit_uses_the_feature_name():
    pd = pytest.importorskip("pandas")
    X, y = make_regression(n_samples=50, random_state=1)
    frame = pd.DataFrame({"area": X[:, 0]})
    model = LinearRegression().fit(frame, y)
    assert plot_fit(model, frame, y).get_xlabel() == "area"


def test_plot_fit_refuses_several_features(three_features, one_feature):
    model, X, y = three_features
    with pytest.raises(ValueError, match=r"one feature.*plot_residuals"):
        plot_fit(model, X, y)
    model1, X1, y1 = one_feature
    with pytest.raises(ValueError, match="one feature"):
        plot_fit(model1, np.c_[X1, X1], y1)


def test_plot_loss_curve_log_scale(one_feature):
    model = LinearRegression(learning_rate=0.01, max_iter=40, tol=0)
    X, y = one_feature[1:]
    model.fit(X, y)
    ax = plot_loss_curve(model)
    assert isinstance(ax, Axes)
    assert ax.get_yscale() == "log"
    (line,) = ax.get_lines()
    np.testing.assert_array_equal(line.get_ydata(), model.loss_curve_)
    np.testing.assert_array_equal(line.get_xdata(), np.arange(41))
    assert line.get_label() == "40 steps (max_iter)"
    _, ax2 = plt.subplots()
    assert plot_loss_curve(model, ax=ax2, label="mine") is ax2
    assert plot_loss_curve(one_feature[0], ax=ax2) is ax2
    assert ax2.get_legend().get_texts()[0].get_text() == "mine"
    assert len(ax2.get_lines()) == 2


def test_plot_residuals(three_features):
    model, X, y = three_features
    _, ax = plt.subplots()
    assert plot_residuals(model, X, y, ax=ax) is ax
    offsets = ax.collections[0].get_offsets()
    pred = model.predict(X)
    np.testing.assert_allclose(offsets[:, 0], pred)
    np.testing.assert_allclose(offsets[:, 1], y - pred)
    assert isinstance(plot_residuals(model, X, y), Axes)


def test_unfitted_model(one_feature):
    _, X, y = one_feature
    for draw in (
        lambda m: plot_fit(m, X, y),
        lambda m: plot_loss_curve(m),
        lambda m: plot_residuals(m, X, y),
    ):
        with pytest.raises(fastlinreg.NotFittedError):
            draw(LinearRegression())


def test_scikit_learn_models_work_too(one_feature):
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    _, X, y = one_feature
    model = sklearn_linear.LinearRegression().fit(X, y)
    assert isinstance(plot_fit(model, X, y), Axes)
    assert isinstance(plot_residuals(model, X, y), Axes)


def test_without_matplotlib_a_clear_error(one_feature, monkeypatch):
    model = one_feature[0]
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install 'fastlinreg\[plot\]'"):
        plot_loss_curve(model)


def _cv_data():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 6))
    return X, X[:, 0] - 2 * X[:, 1] + rng.normal(size=200)


def test_plot_cv_path_marks_the_choices():
    X, y = _cv_data()
    model = fastlinreg.LinearRegressionCV(alphas=25, cv=4).fit(X, y)
    ax = plot_cv_path(model)
    assert isinstance(ax, Axes)
    assert ax.get_xscale() == "log"
    mean, chosen, one_se = ax.get_lines()
    np.testing.assert_allclose(mean.get_xdata(), model.alphas_)
    np.testing.assert_allclose(mean.get_ydata(), model.mse_path_.mean(axis=1))
    assert chosen.get_xdata()[0] == model.alpha_
    assert one_se.get_xdata()[0] == model.alpha_1se_


def test_plot_cv_path_ratios_targets_and_sklearn():
    from sklearn.linear_model import LassoCV

    X, y = _cv_data()
    model = fastlinreg.LinearRegressionCV(
        penalty="elasticnet", l1_ratio=[0.3, 0.9], alphas=10, cv=3
    ).fit(X, np.c_[y, -y])
    line = plot_cv_path(model, target=1).get_lines()[0]
    r = int(np.flatnonzero(np.asarray([0.3, 0.9]) == model.l1_ratio_[1])[0])
    np.testing.assert_allclose(line.get_xdata(), model.alphas_[1, r])
    with pytest.raises(ValueError, match="target"):
        plot_cv_path(model, target=2)
    theirs = LassoCV(alphas=10, cv=3).fit(X, y)
    assert len(plot_cv_path(theirs).get_lines()) == 2  # (no alpha_1se_)
    with pytest.raises(fastlinreg.NotFittedError):
        plot_cv_path(fastlinreg.LinearRegressionCV())


def test_plot_cv_path_leave_one_out():
    X, y = _cv_data()
    model = fastlinreg.LinearRegressionCV(penalty="l2", cv=None, alphas=15).fit(X, y)
    ax = plot_cv_path(model)
    np.testing.assert_allclose(ax.get_lines()[0].get_ydata(), model.mse_path_)
