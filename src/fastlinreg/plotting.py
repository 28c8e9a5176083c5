"""Pictures of a fitted model: the fitted line, the loss curve, the residuals.

Needs matplotlib (``pip install "fastlinreg[plot]"``), imported only when a
function here is called: ``import fastlinreg.plotting`` alone costs nothing.
Each function draws on the Axes given as ``ax`` (or on a new figure's) and
returns that Axes, so pictures compose::

    fig, (left, right) = plt.subplots(1, 2)
    plot_fit(model, X, y, ax=left)
    plot_loss_curve(model, ax=right)

The functions read only ``coef_``, ``intercept_``, ``loss_curve_`` and
``predict``, so other fitted linear models (scikit-learn's) work too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from ._exceptions import not_fitted_error_class
from ._validation import check_X, check_y

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes

__all__ = ["plot_fit", "plot_loss_curve", "plot_residuals"]


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
