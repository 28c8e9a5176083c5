"""The ``fastlinreg`` command line.

``fastlinreg demo`` reproduces the classic tutorial end to end.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from ._backend import available_backends
from ._timing import interleaved_medians
from ._version import __version__
from .datasets import make_regression
from .linear_model import LinearRegression

__all__ = ["main"]

# The tutorial's own run: w = -1, b = 0, 500 epochs, learning rate 1e-6 on the
# sum of squared errors, i.e. 1e-6 * n on the mean.
TUTORIAL_W0, TUTORIAL_B0, TUTORIAL_EPOCHS, TUTORIAL_LR_SSE = -1.0, 0.0, 500, 1e-6


def _demo(args: argparse.Namespace) -> int:
    out = sys.stdout
    n = args.n_samples
    X, y = make_regression(n_samples=n, random_state=args.seed)
    print(f"fastlinreg {__version__} demo: the tutorial's data", file=out)
    print(
        f"  n = {n:,}, x ~ Uniform(-10, 10), y = 7.6 x - 3.3 + N(0, 3^2), "
        f"RandomState({args.seed})",
        file=out,
    )
    backends = available_backends()
    print(f"  backends available: {', '.join(backends)}", file=out)

    # 1. The tutorial's algorithm, step for step.
    lr = TUTORIAL_LR_SSE * n
    tutorial = LinearRegression(learning_rate=lr, max_iter=TUTORIAL_EPOCHS, tol=0.0)
    tutorial.fit(X, y, coef_init=[TUTORIAL_W0], intercept_init=TUTORIAL_B0)
    print(
        f"\nThe tutorial's gradient descent (fixed step {lr:g} on the mean, "
        f"{TUTORIAL_EPOCHS} epochs, from w = {TUTORIAL_W0:g}, b = {TUTORIAL_B0:g}):",
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

    # 2. fastlinreg's default fit, on each backend.
    print("\nfastlinreg.LinearRegression() (automatic step), per backend:", file=out)
    models = {b: LinearRegression(backend=b).fit(X, y) for b in backends}
    columns = ("w", "b", "SSE", "R^2", "iters", "fit time")
    widths = (10, 10, 10, 8, 6, 11)
    header = "".join(f" {c:>{w}}" for c, w in zip(columns, widths, strict=True))
    print(f"  {'backend':8}{header}", file=out)
    fit_times = interleaved_medians(
        {b: (lambda b=b: LinearRegression(backend=b).fit(X, y)) for b in backends},
        repeat=args.repeat,
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
            {
                b: (
                    lambda b=b: LinearRegression(
                        learning_rate=lr, max_iter=TUTORIAL_EPOCHS, tol=0.0, backend=b
                    ).fit(X, y, coef_init=[TUTORIAL_W0], intercept_init=TUTORIAL_B0)
                )
                for b in backends
            },
            repeat=max(3, args.repeat // 3),
        )
        print(
            f"  the tutorial's {TUTORIAL_EPOCHS} epochs: cython "
            f"{loop['cython'] * 1e3:.1f} ms, numpy {loop['numpy'] * 1e3:.1f} ms "
            f"({loop['numpy'] / loop['cython']:.1f}x)",
            file=out,
        )

    # 3. The exact least-squares answer for comparison.
    A = np.column_stack([X[:, 0], np.ones(n)])
    (w_ls, b_ls), *_ = np.linalg.lstsq(A, y, rcond=None)
    sse_ls = float(np.sum((y - A @ np.array([w_ls, b_ls])) ** 2))
    print(
        f"\nExact least squares (numpy.linalg.lstsq): w = {w_ls:.4f}, b = {b_ls:.4f}, "
        f"SSE = {sse_ls:.0f}",
        file=out,
    )
    best = models[backends[0]]
    print(
        f"\nAnswer: y = {best.coef_[0]:.2f} x {_signed(best.intercept_)}"
        f"   (the tutorial: y = 7.59 x - 3.26)",
        file=out,
    )
    return 0


def _signed(v: float) -> str:
    return f"- {abs(v):.2f}" if v < 0 else f"+ {v:.2f}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fastlinreg",
        description="Linear regression by gradient descent with a fused Cython kernel.",
    )
    parser.add_argument(
        "--version", action="version", version=f"fastlinreg {__version__}"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser(
        "demo",
        help="reproduce the classic tutorial end to end",
        description="Fit the tutorial's data (y = 7.6 x - 3.3 + noise) "
        "with both backends.",
    )
    demo.add_argument(
        "--n-samples", type=int, default=10_000, help="rows (default 10000)"
    )
    demo.add_argument(
        "--seed", type=int, default=42, help="RandomState seed (default 42)"
    )
    demo.add_argument(
        "--repeat", type=int, default=15, help="timing rounds (default 15)"
    )
    demo.set_defaults(run=_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    return int(args.run(args))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
