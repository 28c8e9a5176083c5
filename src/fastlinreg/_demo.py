"""``fastlinreg demo``: the classic tutorial, end to end, with its numbers.

The tutorial's own fixed-step descent (printing its published sums of squared
errors), fastlinreg's default fit on each backend with their times, and the
exact least-squares answer; ``--plot FILE.png`` draws the data and the loss
curves.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import TextIO

import numpy as np

from ._backend import BackendName, available_backends
from ._cli_util import CommandError, count
from ._timing import interleaved_medians
from ._typing import F64
from ._version import __version__
from .datasets import make_regression
from .linear_model import LinearRegression

__all__ = ["TUTORIAL_EPOCHS", "run_demo"]

# The tutorial's own run: w = -1, b = 0, 500 epochs, learning rate 1e-6 on the
# sum of squared errors, i.e. 1e-6 * n on the mean.
TUTORIAL_W0, TUTORIAL_B0, TUTORIAL_EPOCHS, TUTORIAL_LR_SSE = -1.0, 0.0, 500, 1e-6
TRUE_COEF, TRUE_INTERCEPT = 7.6, -3.3


def run_demo(args: argparse.Namespace) -> int:
    """The ``demo`` command (``args``: n_samples, seed, repeat, plot)."""
    if args.plot is not None:
        _check_plot_target(args.plot)
    out = sys.stdout
    n = args.n_samples
    X, y = make_regression(n_samples=n, random_state=args.seed)
    print(f"fastlinreg {__version__} demo: the tutorial's data", file=out)
    print(
        f"  n = {n:,}, x ~ Uniform(-10, 10), y = 7.6 x - 3.3 + N(0, 3^2), "
        f"RandomState({args.seed})",
        file=out,
    )
    print(f"  backends available: {', '.join(available_backends())}", file=out)
    tutorial = _tutorial(X, y, out)
    best = _default_fits(X, y, args.repeat, out)
    _exact(X, y, out)
    print(
        f"\nAnswer: y = {best.coef_[0]:.2f} x {_signed(best.intercept_)}"
        f"   (the tutorial: y = 7.59 x - 3.26)",
        file=out,
    )
    if args.plot is not None:
        _demo_figure(args.plot, X, y, tutorial, best)
        print(f"\nFigure written to {args.plot}", file=out)
    return 0


def _tutorial_model(n: int, backend: BackendName = "auto") -> LinearRegression:
    # precompute=False: like the tutorial, every epoch reads the data (one pass
    # of the fused kernel instead of the tutorial's several NumPy temporaries).
    return LinearRegression(
        learning_rate=TUTORIAL_LR_SSE * n,
        max_iter=TUTORIAL_EPOCHS,
        tol=0.0,
        precompute=False,
        backend=backend,
    )


def _tutorial_fit(X: F64, y: F64, backend: BackendName = "auto") -> LinearRegression:
    """The tutorial's algorithm, step for step."""
    return _tutorial_model(len(y), backend).fit(
        X, y, coef_init=[TUTORIAL_W0], intercept_init=TUTORIAL_B0
    )


def _tutorial(X: F64, y: F64, out: TextIO) -> LinearRegression:
    n = len(y)
    tutorial = _tutorial_fit(X, y)
    print(
        f"\nThe tutorial's gradient descent (fixed step {TUTORIAL_LR_SSE * n:g} on "
        f"the mean, {TUTORIAL_EPOCHS} epochs, from w = {TUTORIAL_W0:g}, "
        f"b = {TUTORIAL_B0:g}):",
        file=out,
    )
    print("  epoch   sum of squared errors", file=out)
    for epoch in range(50, TUTORIAL_EPOCHS + 1, 50):
        print(f"  {epoch:5d}   {tutorial.loss_curve_[epoch] * n:12.0f}", file=out)
    print(
        f"  -> y = {tutorial.coef_[0]:.2f} x {_signed(tutorial.intercept_)} "
        f"(b is still moving: {TUTORIAL_EPOCHS} small steps)",
        file=out,
    )
    return tutorial


def _default_fits(X: F64, y: F64, repeat: int, out: TextIO) -> LinearRegression:
    """fastlinreg's default fit on each backend, timed; the first backend's."""
    backends = available_backends()
    n = len(y)
    print("\nfastlinreg.LinearRegression() (automatic step), per backend:", file=out)
    models = {b: LinearRegression(backend=b).fit(X, y) for b in backends}
    columns = ("w", "b", "SSE", "R^2", "iters", "fit time")
    widths = (10, 10, 10, 8, 6, 11)
    header = "".join(f" {c:>{w}}" for c, w in zip(columns, widths, strict=True))
    print(f"  {'backend':8}{header}", file=out)
    fit_times = interleaved_medians(
        {b: (lambda b=b: LinearRegression(backend=b).fit(X, y)) for b in backends},
        repeat=repeat,
    )
    for b, m in models.items():
        sse = m.loss_curve_[-1] * n
        print(
            f"  {b:8} {m.coef_[0]:10.4f} {m.intercept_:10.4f} {sse:10.0f} "
            f"{m.score(X, y):8.4f} {m.n_iter_:6d} {fit_times[b] * 1e3:8.3f} ms",
            file=out,
        )
    if "cython" in backends:
        print(
            f"  NumPy fallback / Cython fit time: "
            f"{fit_times['numpy'] / fit_times['cython']:.1f}x",
            file=out,
        )
        loop = interleaved_medians(
            {b: (lambda b=b: _tutorial_fit(X, y, b)) for b in backends},
            repeat=max(3, repeat // 3),
        )
        print(
            f"  the tutorial's {TUTORIAL_EPOCHS} epochs (a pass over the data "
            f"each): cython "
            f"{loop['cython'] * 1e3:.1f} ms, numpy {loop['numpy'] * 1e3:.1f} ms "
            f"({loop['numpy'] / loop['cython']:.1f}x)",
            file=out,
        )
    return models[backends[0]]


def _exact(X: F64, y: F64, out: TextIO) -> None:
    """The exact least-squares answer, for comparison."""
    A = np.column_stack([X[:, 0], np.ones(len(y))])
    (w_ls, b_ls), *_ = np.linalg.lstsq(A, y, rcond=None)
    sse_ls = float(np.sum((y - A @ np.array([w_ls, b_ls])) ** 2))
    print(
        f"\nExact least squares (numpy.linalg.lstsq): w = {w_ls:.4f}, b = {b_ls:.4f}, "
        f"SSE = {sse_ls:.0f}",
        file=out,
    )


def _signed(v: float) -> str:
    return f"- {abs(v):.2f}" if v < 0 else f"+ {v:.2f}"


def _check_plot_target(path: Path) -> None:
    """Fail before the demo runs, not after, when the figure cannot be written."""
    if not path.parent.is_dir():
        raise CommandError(f"cannot write {path}: no directory {path.parent}")
    if importlib.util.find_spec("matplotlib") is None:
        raise CommandError(
            "--plot needs matplotlib, which is not installed: "
            "pip install 'fastlinreg[plot]'"
        )


def _demo_figure(
    path: Path,
    X: np.ndarray,
    y: np.ndarray,
    tutorial: LinearRegression,
    fitted: LinearRegression,
) -> None:
    """The cloud with the true and fitted lines; beside it both loss curves."""
    # No pyplot: a Figure on the Agg canvas touches no global state.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from .plotting import plot_fit, plot_loss_curve

    fig = Figure(figsize=(12, 4.8), layout="constrained")
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2)
    plot_fit(fitted, X, y, ax=left, true_coef=TRUE_COEF, true_intercept=TRUE_INTERCEPT)
    left.set_title(f"The tutorial's data (n = {len(y):,}) and the fitted line")
    plot_loss_curve(
        tutorial,
        ax=right,
        label=f"the tutorial: fixed step {tutorial.learning_rate:g}, "
        f"{tutorial.n_iter_} epochs from w = {TUTORIAL_W0:g}",
    )
    plot_loss_curve(
        fitted,
        ax=right,
        label=f"LinearRegression(): automatic step, "
        f"{count(fitted.n_iter_, 'iteration')}",
    )
    # Iterations 0, 1, 10, 100, 500 apart: the automatic fit's few steps show.
    right.set_xscale("symlog", linthresh=1.0)
    right.set_xlabel("iteration (log scale beyond 1)")
    right.set_title("Loss curve (mean squared error, log scale)")
    try:
        fig.savefig(path, dpi=100)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot write the figure to {path}: {exc}") from None
