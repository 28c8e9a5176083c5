"""Pictures of a fitted model: the fitted line, the loss curve, the residuals,
the cross-validation path.

Needs matplotlib (``pip install "fastlinreg[plot]"``), imported only when a
function here is called: ``import fastlinreg.plotting`` alone costs nothing.
Each function draws on the Axes given as ``ax`` (or on a new figure's) and
returns that Axes, so pictures compose::

    fig, (left, right) = plt.subplots(1, 2)
    plot_fit(model, X, y, ax=left)
    plot_loss_curve(model, ax=right)

The functions read only ``coef_``, ``intercept_``, ``loss_curve_``,
``predict`` (and, for the path, ``alphas_``, ``mse_path_`` and ``alpha_``),
so other fitted linear models (scikit-learn's, its ``LassoCV``) work too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._exceptions import not_fitted_error_class
from ._validation import check_X, check_y

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_cv_path", "plot_fit", "plot_loss_curve", "plot_residuals"]


def _axes(ax: Axes | None) -> Axes:
    """``ax``, or the Axes of a new figure."""
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError:
        raise ImportError(
            "fastlinreg.plotting needs matplotlib: pip install 'fastlinreg[plot]'"
        ) from None
    return plt.subplots()[1]


def _fitted(model: Any, name: str) -> Any:
    value = getattr(model, name, None)
    if value is None:
        raise not_fitted_error_class()(
            f"This {type(model).__name__} instance has no {name}: fit it first."
        )
    return value


def _line_label(what: str, coef: float, intercept: float) -> str:
    sign = "-" if intercept < 0 else "+"
    return f"{what}: y = {coef:.2f} x {sign} {abs(intercept):.2f}"


def plot_fit(
    model: Any,
    X: npt.ArrayLike,
    y: npt.ArrayLike,
    ax: Axes | None = None,
    true_coef: float | npt.ArrayLike | None = None,
    true_intercept: float | None = None,
) -> Axes:
    """The data cloud and the fitted line, for a model of one feature.

    Parameters
    ----------
    model : LinearRegression
        A fitted model with one feature.
    X : array-like of shape (n_samples, 1) or (n_samples,)
        The feature.
    y : array-like of shape (n_samples,)
        The target.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure.
    true_coef, true_intercept : float, optional
        A known true line to draw too (in red), for synthetic data.
        ``true_intercept`` defaults to 0.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Raises
    ------
    ValueError
        When the model or ``X`` has more than one feature (use
        :func:`plot_residuals` then).

    Examples
    --------
    >>> import fastlinreg
    >>> from fastlinreg.plotting import plot_fit
    >>> X, y = fastlinreg.make_regression(n_samples=500, random_state=42)
    >>> model = fastlinreg.LinearRegression().fit(X, y)
    >>> ax = plot_fit(model, X, y, true_coef=7.6, true_intercept=-3.3)
    >>> [line.get_label() for line in ax.get_lines()]
    ['true: y = 7.60 x - 3.30', 'fit: y = 7.63 x - 3.28']
    """
    coef = np.ravel(_fitted(model, "coef_"))
    intercept = float(_fitted(model, "intercept_"))
    Xa = check_X(X)
    if coef.shape[0] != 1 or Xa.shape[1] != 1:
        raise ValueError(
            "plot_fit draws one feature against y, but the model has "
            f"{coef.shape[0]} and X has {Xa.shape[1]} features; use "
            "plot_residuals(model, X, y) for several features"
        )
    x = Xa[:, 0]
    ya = check_y(y, Xa.shape[0])
    ax = _axes(ax)
    ax.scatter(x, ya, s=4, alpha=0.3, color="tab:blue", linewidths=0, label="data")
    ends = np.array([x.min(), x.max()], dtype=np.float64)
    if true_coef is not None:
        w_true = float(np.ravel(true_coef)[0])
        b_true = float(true_intercept or 0.0)
        ax.plot(
            ends,
            w_true * ends + b_true,
            color="red",
            linewidth=4,
            alpha=0.6,
            label=_line_label("true", w_true, b_true),
        )
    ax.plot(
        ends,
        coef[0] * ends + intercept,
        color="black",
        linestyle="--",
        linewidth=1.5,
        label=_line_label("fit", float(coef[0]), intercept),
    )
    names = getattr(model, "feature_names_in_", None)
    ax.set_xlabel(str(names[0]) if names is not None else "x")
    ax.set_ylabel("y")
    ax.legend(loc="upper left", markerscale=3)
    return ax


def plot_loss_curve(
    model: Any, ax: Axes | None = None, *, label: str | None = None
) -> Axes:
    """The objective after each gradient step, on a log scale.

    Parameters
    ----------
    model : LinearRegression
        A fitted model (``loss_curve_`` has the objective at the start and
        after each step).
    ax : matplotlib Axes, optional
        Where to draw; default a new figure. Draw several models on one Axes
        to compare them.
    label : str, optional
        Legend entry; default the iterations and stop reason.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import fastlinreg
    >>> from fastlinreg.plotting import plot_loss_curve
    >>> X, y = fastlinreg.make_regression(n_samples=500, random_state=42)
    >>> model = fastlinreg.LinearRegression(learning_rate=0.01, max_iter=50, tol=0)
    >>> ax = plot_loss_curve(model.fit(X, y))
    >>> ax.get_yscale(), len(ax.get_lines()[0].get_ydata())
    ('log', 51)
    """
    curve = np.asarray(_fitted(model, "loss_curve_"), dtype=np.float64)
    if label is None:
        steps = len(curve) - 1
        reason = getattr(model, "stop_reason_", None)
        label = f"{steps} steps" + (f" ({reason})" if reason else "")
    ax = _axes(ax)
    ax.plot(
        np.arange(len(curve)),
        curve,
        marker="o" if len(curve) <= 30 else None,
        label=label,
    )
    ax.set_yscale("log")
    ax.set_xlabel("iteration")
    ax.set_ylabel("mean squared error")
    ax.legend(loc="upper right")
    return ax


def plot_residuals(
    model: Any, X: npt.ArrayLike, y: npt.ArrayLike, ax: Axes | None = None
) -> Axes:
    """Residuals ``y - model.predict(X)`` against the predictions.

    A good linear fit shows a structureless band around zero; curvature or a
    funnel shape shows what a straight line misses. Any number of features.

    Parameters
    ----------
    model : LinearRegression
        A fitted model.
    X : array-like of shape (n_samples, n_features)
        Samples.
    y : array-like of shape (n_samples,)
        True targets.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import fastlinreg
    >>> from fastlinreg.plotting import plot_residuals
    >>> X, y = fastlinreg.make_regression(n_samples=500, n_features=3, random_state=0)
    >>> model = fastlinreg.LinearRegression().fit(X, y)
    >>> ax = plot_residuals(model, X, y)
    >>> ax.get_xlabel(), ax.collections[0].get_offsets().shape
    ('prediction', (500, 2))
    """
    pred = np.asarray(model.predict(X), dtype=np.float64)
    ya = check_y(y, pred.shape[0])
    ax = _axes(ax)
    ax.scatter(pred, ya - pred, s=4, alpha=0.3, linewidths=0, color="tab:blue")
    ax.axhline(0.0, color="black", linewidth=1)
    ax.set_xlabel("prediction")
    ax.set_ylabel("residual (y - prediction)")
    return ax


def plot_cv_path(model: Any, ax: Axes | None = None, *, target: int = 0) -> Axes:
    """The held-out error against the penalty: the mean over the folds ± one
    standard error, the chosen alpha and the one-standard-error alpha marked.

    Parameters
    ----------
    model : LinearRegressionCV
        A fitted model (``alphas_``, ``mse_path_``, ``alpha_`` and, when it
        has one, ``alpha_1se_``; scikit-learn's ``LassoCV`` works too). With
        several ``l1_ratio`` values, the path of the chosen one is drawn.
    ax : matplotlib Axes, optional
        Where to draw; default a new figure.
    target : int, default=0
        Which target's path, for a model fitted to several.

    Returns
    -------
    matplotlib.axes.Axes
        The Axes drawn on.

    Examples
    --------
    >>> import numpy as np
    >>> from fastlinreg import LinearRegressionCV
    >>> from fastlinreg.plotting import plot_cv_path
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 8))
    >>> y = X[:, 0] - 2 * X[:, 1] + rng.normal(size=300)
    >>> ax = plot_cv_path(LinearRegressionCV(alphas=30).fit(X, y))
    >>> ax.get_xscale(), len(ax.get_lines()[0].get_ydata())
    ('log', 30)
    """
    alphas = np.asarray(_fitted(model, "alphas_"), dtype=np.float64)
    mse = np.asarray(_fitted(model, "mse_path_"), dtype=np.float64)
    chosen = np.atleast_1d(np.asarray(_fitted(model, "alpha_"), dtype=np.float64))
    one_se = getattr(model, "alpha_1se_", None)
    several = chosen.size > 1  # (one search per target)
    if several:
        if not 0 <= target < chosen.size:
            raise ValueError(
                f"target must be in 0..{chosen.size - 1} (the model has "
                f"{chosen.size} targets), got {target!r}"
            )
        alphas, mse = alphas[target], mse[target]
        one_se = None if one_se is None else np.asarray(one_se)[target]
    alpha = float(chosen[target if several else 0])
    if mse.ndim == 3:  # (l1_ratio, alpha, fold): the chosen ratio's path
        row = int(np.argwhere(np.isclose(alphas, alpha, rtol=1e-12, atol=0))[0, 0])
        alphas, mse = alphas[row], mse[row]
    if mse.ndim == 1:  # (leave-one-out or GCV: one error per alpha)
        results = getattr(model, "cv_results_", {})
        sem = np.asarray(results.get("sem_test_mse", np.zeros_like(mse)), dtype=float)
        mean, sem = mse, sem[target] if several else sem
    else:
        mean = mse.mean(axis=1)
        sem = mse.std(axis=1) / np.sqrt(mse.shape[1])
    ax = _axes(ax)
    ax.plot(alphas, mean, color="C0", label="mean held-out MSE")
    ax.fill_between(
        alphas, mean - sem, mean + sem, color="C0", alpha=0.25, label="± 1 std. error"
    )
    ax.axvline(alpha, color="C3", linestyle="--", label=f"alpha_ = {alpha:.3g}")
    if one_se is not None:
        ax.axvline(
            float(one_se),
            color="C2",
            linestyle=":",
            label=f"alpha_1se_ = {float(one_se):.3g}",
        )
    ax.set_xscale("log")
    ax.set_xlabel("alpha")
    ax.set_ylabel("held-out mean squared error")
    ax.legend(loc="upper left")
    return ax
