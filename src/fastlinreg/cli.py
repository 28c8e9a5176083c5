"""The ``fastlinreg`` command line (also ``python -m fastlinreg``).

``fastlinreg demo``
    The classic tutorial end to end; ``--plot FILE.png`` draws it.
``fastlinreg fit DATA --target COLUMN``
    Fit a model on a CSV, ``.npy``/``.npz`` or Parquet file, print the
    coefficients, R² and the fit's facts (``--json`` for machines), and
    ``--save MODEL.json`` to use it later.
``fastlinreg predict MODEL.json DATA``
    One prediction per line (or ``--output FILE``).
``fastlinreg bench``
    Time a gradient step per backend on this machine (quick sizes unless
    ``--full``). It runs from the installed package; the fuller kernel suite,
    ``python benchmarks/run.py``, ships with the source.
``fastlinreg config``
    How this installation was built: compiled kernels or not, OpenMP and
    threads, compiler, versions (:func:`fastlinreg.show_config`).

Errors (a missing file, an unknown or non-numeric column, a bad option value)
print one line starting with ``fastlinreg: error:`` on stderr and exit with
status 2. For Python code, :func:`load_model` and :func:`save_model` read and
write the JSON model files.
"""

from __future__ import annotations

import argparse
import importlib.util
import itertools
import json
import os
import platform
import sys
import textwrap
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ._backend import BACKENDS, BackendName, available_backends
from ._config import show_config
from ._io import DataError, load_model, load_X, load_xy, read_model, save_model
from ._timing import interleaved_medians
from ._version import __version__
from .datasets import make_regression, train_test_split
from .linear_model import LinearRegression, loss_gradient

__all__ = ["SUPPORTED_LOSSES", "load_model", "main", "save_model"]

# The losses `fit --loss` accepts: the one place to extend when the estimator
# learns more of them.
SUPPORTED_LOSSES = (
    "squared_error",
    "absolute_error",
    "huber",
    "quantile",
    "epsilon_insensitive",
)

# The tutorial's own run: w = -1, b = 0, 500 epochs, learning rate 1e-6 on the
# sum of squared errors, i.e. 1e-6 * n on the mean.
TUTORIAL_W0, TUTORIAL_B0, TUTORIAL_EPOCHS, TUTORIAL_LR_SSE = -1.0, 0.0, 500, 1e-6
TRUE_COEF, TRUE_INTERCEPT = 7.6, -3.3

# `bench`: the shapes timed (n_samples, n_features), and a cap on X's size.
BENCH_SIZES = {
    "quick": ((10**5, 10**6), (1, 10)),
    "full": ((10**5, 10**6, 10**7), (1, 10, 100)),
}
BENCH_MAX_BYTES = 1 << 30


class CommandError(Exception):
    """A problem the command line reports in one line, exiting with status 2."""


# --------------------------------------------------------------------------
# demo
# --------------------------------------------------------------------------


def _demo(args: argparse.Namespace) -> int:
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
    backends = available_backends()
    print(f"  backends available: {', '.join(backends)}", file=out)

    # 1. The tutorial's algorithm, step for step.
    lr = TUTORIAL_LR_SSE * n
    # precompute=False: like the tutorial, every epoch reads the data (one pass
    # of the fused kernel instead of the tutorial's several NumPy temporaries).
    tutorial = LinearRegression(
        learning_rate=lr, max_iter=TUTORIAL_EPOCHS, tol=0.0, precompute=False
    )
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
                        learning_rate=lr,
                        max_iter=TUTORIAL_EPOCHS,
                        tol=0.0,
                        precompute=False,
                        backend=b,
                    ).fit(X, y, coef_init=[TUTORIAL_W0], intercept_init=TUTORIAL_B0)
                )
                for b in backends
            },
            repeat=max(3, args.repeat // 3),
        )
        print(
            f"  the tutorial's {TUTORIAL_EPOCHS} epochs (a pass over the data "
            f"each): cython "
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
    if args.plot is not None:
        _demo_figure(args.plot, X, y, tutorial, best)
        print(f"\nFigure written to {args.plot}", file=out)
    return 0


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
        f"{_count(fitted.n_iter_, 'iteration')}",
    )
    # Iterations 0, 1, 10, 100, 500 apart: the automatic fit's few steps show.
    right.set_xscale("symlog", linthresh=1.0)
    right.set_xlabel("iteration (log scale beyond 1)")
    right.set_title("Loss curve (mean squared error, log scale)")
    try:
        fig.savefig(path, dpi=100)
    except (OSError, ValueError) as exc:
        raise CommandError(f"cannot write the figure to {path}: {exc}") from None


# --------------------------------------------------------------------------
# fit and predict
# --------------------------------------------------------------------------


def _fit(args: argparse.Namespace) -> int:
    data = load_xy(args.data, args.target, features=args.features)
    X_train, y_train, held_out = data.X, data.y, None
    if args.test_size is not None:
        X_train, X_test, y_train, y_test = train_test_split(
            data.X, data.y, test_size=args.test_size, random_state=args.seed
        )
        held_out = (X_test, y_test)
    model = LinearRegression(
        loss=args.loss,
        epsilon=args.epsilon,
        quantile=args.quantile,
        alpha=args.alpha,
        penalty=None if args.penalty == "none" else args.penalty,
        l1_ratio=args.l1_ratio,
        learning_rate=args.learning_rate,
        max_iter=args.max_iter,
        tol=args.tol,
        fit_intercept=not args.no_intercept,
        backend=args.backend,
        n_jobs=args.n_jobs,
        # A progress bar on stderr for fits longer than a second, when a person
        # is watching (stdout, --json's included, stays clean).
        verbose=1 if sys.stderr.isatty() else 0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X_train, y_train)
        elapsed = time.perf_counter() - start
    report: dict[str, Any] = {
        "data": str(args.data),
        "target": data.target,
        "feature_names": data.feature_names,
        "coef": [float(c) for c in model.coef_],
        "intercept": float(model.intercept_),
        "loss": args.loss,
        "n_train": int(y_train.shape[0]),
        "n_test": 0 if held_out is None else int(held_out[1].shape[0]),
        "r2_train": model.score(X_train, y_train),
        "r2_test": None if held_out is None else model.score(*held_out),
        "n_iter": int(model.n_iter_),
        "converged": bool(model.converged_),
        "stop_reason": str(model.stop_reason_),
        "backend": str(model.backend_),
        "fit_time_s": elapsed,
        "seed": args.seed,
        "model_file": None if args.save is None else str(args.save),
        "warnings": [_one_line(w.message) for w in caught],
    }
    if args.save is not None:
        training = {k: report[k] for k in report if k not in _NOT_TRAINING_FACTS}
        try:
            save_model(
                model,
                args.save,
                feature_names=data.feature_names,
                target=data.target,
                training=training,
            )
        except OSError as exc:
            raise CommandError(
                f"cannot write the model to {args.save}: {exc.strerror or exc}"
            ) from None
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        _print_fit_report(report)
    for message in report["warnings"]:
        print(f"fastlinreg: warning: {message}", file=sys.stderr)
    return 0


# Facts of the fit report that the model file already holds elsewhere.
_NOT_TRAINING_FACTS = ("feature_names", "coef", "intercept", "model_file", "target")


def _print_fit_report(r: dict[str, Any]) -> None:
    split = (
        f"{r['n_train']:,} training rows, {r['n_test']:,} held out (seed {r['seed']})"
        if r["n_test"]
        else f"{r['n_train']:,} rows, no held-out part"
    )
    print(
        f"fastlinreg fit {r['data']}: target {_column(r['target'])}, "
        f"{len(r['coef'])} feature(s), {split}"
    )
    names = [*r["feature_names"], "intercept"]
    width = max(len(str(name)) for name in names)
    print(f"\n  {'feature':<{width}}  {'coef':>15}")
    for name, value in zip(names, [*r["coef"], r["intercept"]], strict=True):
        print(f"  {name:<{width}}  {value:>15.8g}")
    test = "" if r["r2_test"] is None else f", test {r['r2_test']:.5f}"
    print(f"\n  R² train {r['r2_train']:.5f}{test}")
    if r["converged"]:
        how = f"converged in {_count(r['n_iter'], 'iteration')}"
    else:
        how = f"stopped after {_count(r['n_iter'], 'iteration')} ({r['stop_reason']})"
    print(f"  {how}; backend {r['backend']}; fit time {_ms(r['fit_time_s'])}")
    if r["model_file"] is not None:
        print(f"  model saved to {r['model_file']}")


def _column(key: str | int) -> str:
    return f"column {key}" if isinstance(key, int) else repr(key)


def _predict(args: argparse.Namespace) -> int:
    model, doc = read_model(args.model)
    X = load_X(args.data, doc["feature_names"], doc.get("target"))
    pred = model.predict(X)
    # Shortest text that reads back as the same float (float32 stays float32).
    text = pred.tolist() if pred.dtype == np.float64 else [str(v) for v in pred]
    lines = "".join(f"{v}\n" for v in text)
    if args.output is None:
        sys.stdout.write(lines)
        return 0
    try:
        args.output.write_text(lines)
    except OSError as exc:
        raise CommandError(
            f"cannot write {args.output}: {exc.strerror or exc}"
        ) from None
    print(f"wrote {len(text):,} predictions to {args.output}")
    return 0


# --------------------------------------------------------------------------
# bench
# --------------------------------------------------------------------------


def _bench(args: argparse.Namespace) -> int:
    mode = "full" if args.full else "quick"
    sizes, features = BENCH_SIZES[mode]
    sizes = args.n_samples or sizes
    features = args.n_features or features
    repeat = args.repeat or (9 if args.full else 5)
    backends = available_backends()
    print(
        f"fastlinreg {__version__} bench ({mode}): the loss and gradient per "
        f"backend, and a whole default fit, on {_count(args.n_jobs, 'thread')}"
    )
    print(
        f"machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}, NumPy {np.__version__}\n"
    )
    head = ["n x d", "dtype", *(f"{b} ms" for b in backends), "floor ms"]
    if "cython" in backends:
        head += ["numpy / cython", "cython / floor"]
    head.append("fit ms")
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    rng = np.random.default_rng(0)
    for n, d, dtype in itertools.product(sizes, features, (np.float64, np.float32)):
        if n * d * np.dtype(dtype).itemsize > BENCH_MAX_BYTES:
            continue
        X = rng.standard_normal((n, d)).astype(dtype)
        y = (X @ rng.standard_normal(d) + rng.standard_normal(n)).astype(dtype)
        t = interleaved_medians(
            _bench_candidates(X, y, backends, args.n_jobs), repeat=repeat
        )
        ms = {name: f"{value * 1e3:.3f}" for name, value in t.items()}
        row = [f"{n:.0e} x {d}", np.dtype(dtype).name]
        row += [ms[b] for b in backends] + [ms["floor"]]
        if "cython" in backends:
            row += [
                f"{t['numpy'] / t['cython']:.1f}",
                f"{t['cython'] / t['floor']:.2f}",
            ]
        row.append(ms["fit"])
        print("| " + " | ".join(row) + " |", flush=True)
    note = (
        "A backend's time is one call of fastlinreg.loss_gradient (the pass "
        "over the data that a gradient step makes, input checks included); "
        "'floor' is NumPy merely reading X and y once; 'fit' is a default "
        f"LinearRegression().fit. Medians of {repeat} interleaved rounds: on a "
        "busy machine trust the ratios. The kernel suite without the input "
        "checks ships with the source: python benchmarks/run.py"
    )
    print("\n" + textwrap.fill(note, width=79))
    return 0


def _bench_candidates(
    X: np.ndarray, y: np.ndarray, backends: Sequence[BackendName], n_jobs: int | None
) -> dict[str, Callable[[], object]]:
    coef = np.full(X.shape[1], 0.5)

    def one_pass(backend: BackendName) -> Callable[[], object]:
        return lambda: loss_gradient(X, y, coef, 0.5, backend=backend, n_jobs=n_jobs)

    def fit() -> None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            LinearRegression(n_jobs=n_jobs).fit(X, y)

    passes: dict[str, Callable[[], object]] = {b: one_pass(b) for b in backends}
    return {**passes, "floor": lambda: (X.sum(), y.sum()), "fit": fit}


# --------------------------------------------------------------------------
# The parser
# --------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error raised (one line) instead of printed."""

    def error(self, message: str) -> NoReturn:
        raise CommandError(f"{message} (see '{self.prog} --help')")


def _checked(
    kind: str, convert: Callable[[str], Any], ok: Callable[[Any], bool]
) -> Callable[[str], Any]:
    """An argparse ``type``: ``convert`` the text, and require ``ok`` of it."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
            good = ok(value)
        except ValueError:
            good = False
        if not good:
            raise argparse.ArgumentTypeError(f"expected {kind}, got {text!r}")
        return value

    return parse


def _learning_rate(text: str) -> float | str:
    return "auto" if text == "auto" else float(text)


def _test_size(text: str) -> float | int | None:
    value = float(text)
    if value == 0:
        return None
    return int(value) if value >= 1 and value.is_integer() else value


def _loss(text: str) -> str:
    if text not in SUPPORTED_LOSSES:
        raise argparse.ArgumentTypeError(
            f"unknown loss {text!r} (supported: {', '.join(SUPPORTED_LOSSES)})"
        )
    return text


def _names(text: str) -> list[str]:
    return [name.strip() for name in text.split(",") if name.strip()]


_positive_int = _checked("an integer >= 1", int, lambda v: v >= 1)


def _estimator_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--loss",
        type=_loss,
        default=SUPPORTED_LOSSES[0],
        help=f"the loss to minimise: {', '.join(SUPPORTED_LOSSES)} "
        "(default squared_error)",
    )
    non_negative = _checked(
        "a number >= 0", float, lambda v: bool(np.isfinite(v) and v >= 0)
    )
    p.add_argument(
        "--epsilon",
        type=non_negative,
        default=0.1,
        help="threshold of huber, width of epsilon_insensitive (default 0.1)",
    )
    p.add_argument(
        "--quantile",
        type=_checked("a number in (0, 1)", float, lambda v: 0 < v < 1),
        default=0.5,
        help="level of the quantile loss (default 0.5, the median)",
    )
    p.add_argument(
        "--alpha",
        type=non_negative,
        default=0.0,
        help="strength of the penalty on the coefficients (default 0: none)",
    )
    p.add_argument(
        "--penalty",
        choices=("l2", "l1", "elasticnet", "none"),
        default="l2",
        help="the penalty alpha weighs (default l2)",
    )
    p.add_argument(
        "--l1-ratio",
        type=_checked("a number in [0, 1]", float, lambda v: 0 <= v <= 1),
        default=0.15,
        help="the L1 share of an elasticnet penalty (default 0.15)",
    )
    p.add_argument(
        "--learning-rate",
        type=_checked(
            "'auto' or a positive number",
            _learning_rate,
            lambda v: v == "auto" or (np.isfinite(v) and v > 0),
        ),
        default="auto",
        help="'auto' (default: a step the solver chooses) or a fixed step",
    )
    p.add_argument(
        "--max-iter", type=_positive_int, default=1000, help="at most this many steps"
    )
    p.add_argument(
        "--tol",
        type=_checked(
            "a number >= 0", float, lambda v: bool(np.isfinite(v) and v >= 0)
        ),
        default=1e-10,
        help="stop when the gradient norm falls below tol times the spread of y",
    )
    p.add_argument(
        "--backend", choices=("auto", *BACKENDS), default="auto", help="kernels to run"
    )
    p.add_argument(
        "--n-jobs",
        type=_checked("a non-zero integer", int, lambda v: v != 0),
        default=None,
        help="threads for the compiled kernels (default: all)",
    )
    p.add_argument(
        "--no-intercept", action="store_true", help="fit without an intercept"
    )


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="fastlinreg",
        description="Linear regression by gradient descent with a fused Cython kernel.",
        epilog="Run 'fastlinreg COMMAND --help' for a command's options.",
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
        "--n-samples", type=_positive_int, default=10_000, help="rows (default 10000)"
    )
    demo.add_argument(
        "--seed", type=int, default=42, help="RandomState seed (default 42)"
    )
    demo.add_argument(
        "--repeat", type=_positive_int, default=15, help="timing rounds (default 15)"
    )
    demo.add_argument(
        "--plot",
        type=Path,
        metavar="FILE.png",
        help="also draw the data, the true and fitted lines and the loss curves "
        "(needs matplotlib)",
    )
    demo.set_defaults(run=_demo)

    fit = sub.add_parser(
        "fit",
        help="fit a model on a data file",
        description="Fit LinearRegression on a CSV (with a header), .npy, .npz "
        "or Parquet file and print the coefficients, R² on the training and "
        "held-out rows, the iterations and the time.",
    )
    fit.add_argument("data", type=Path, metavar="DATA", help="the data file")
    fit.add_argument(
        "--target",
        metavar="COLUMN",
        help="the target column: a name, or a position (required except for an "
        ".npz file holding X and y)",
    )
    fit.add_argument(
        "--features",
        type=_names,
        metavar="A,B,...",
        help="the feature columns (default: all but the target)",
    )
    _estimator_options(fit)
    fit.add_argument(
        "--test-size",
        type=_checked(
            "a fraction in [0, 1) or a whole number of rows",
            _test_size,
            lambda v: v is None or isinstance(v, int) or 0 < v < 1,
        ),
        default=0.25,
        help="held-out fraction or rows (default 0.25; 0: fit on every row)",
    )
    fit.add_argument(
        "--seed", type=int, default=0, help="seed of the train/test shuffle (default 0)"
    )
    fit.add_argument(
        "--json", action="store_true", help="print only a JSON object (for machines)"
    )
    fit.add_argument(
        "--save", type=Path, metavar="MODEL.json", help="write the model (plain JSON)"
    )
    fit.set_defaults(run=_fit)

    predict = sub.add_parser(
        "predict",
        help="predict with a saved model",
        description="Print one prediction per line. CSV and Parquet columns are "
        "matched by name (others, such as the target, are ignored); arrays by "
        "position.",
    )
    predict.add_argument("model", type=Path, metavar="MODEL.json")
    predict.add_argument("data", type=Path, metavar="DATA")
    predict.add_argument(
        "--output", type=Path, metavar="FILE", help="write the predictions here"
    )
    predict.set_defaults(run=_predict)

    bench = sub.add_parser(
        "bench",
        help="time the kernels on this machine (the benchmark table)",
        description="Time fastlinreg.loss_gradient (the pass over the data that a "
        "gradient step makes) with each backend, against NumPy merely reading the "
        "same bytes, and a default fit (quick sizes unless --full).",
    )
    bench.add_argument(
        "--full", action="store_true", help="up to 1e7 rows and 100 features"
    )
    bench.add_argument(
        "--n-samples", type=_positive_int, nargs="+", metavar="N", help="row counts"
    )
    bench.add_argument(
        "--n-features",
        type=_positive_int,
        nargs="+",
        metavar="D",
        help="feature counts",
    )
    bench.add_argument("--repeat", type=_positive_int, help="timed rounds per case")
    bench.add_argument(
        "--n-jobs",
        type=_checked("a positive integer", int, lambda v: v >= 1),
        default=1,
        help="threads for the compiled kernel (default 1: the candidates run in "
        "turn, and idle threads of one pool slow the next one down)",
    )
    bench.set_defaults(run=_bench)

    config = sub.add_parser(
        "config",
        help="show how this installation was built (compiled kernels, OpenMP)",
        description="Print fastlinreg.show_config(): whether the compiled kernels "
        "import and which backend runs by default, whether they were built with "
        "OpenMP and how many threads they use, the compiler, and the versions of "
        "Python, NumPy and the optional dependencies.",
    )
    config.add_argument(
        "--json", action="store_true", help="print only a JSON object (for machines)"
    )
    config.set_defaults(run=_config)
    return parser


def _config(args: argparse.Namespace) -> int:
    if args.json:
        print(json.dumps(show_config(mode="dicts"), indent=2))
    else:
        show_config()
    return 0


def _silence_stdout() -> None:
    """Point stdout at /dev/null so that the interpreter's exit flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):  # no real file descriptor (e.g. captured)
        pass


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.3g} ms" if seconds < 1 else f"{seconds:.3g} s"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line.

    Parameters
    ----------
    argv : sequence of str, optional
        The arguments (default ``sys.argv[1:]``).

    Returns
    -------
    int
        The exit status: 0, or 2 after an error, which is printed as one line
        ``fastlinreg: error: ...`` on stderr (no traceback).

    Examples
    --------
    >>> import tempfile
    >>> from pathlib import Path
    >>> from fastlinreg import make_regression
    >>> from fastlinreg.cli import main
    >>> X, y = make_regression(n_samples=1000, random_state=42)
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     data = Path(tmp) / "data.csv"
    ...     rows = [f"{a!r},{b!r}" for a, b in zip(X[:, 0].tolist(), y.tolist())]
    ...     _ = data.write_text("x,y\\n" + "\\n".join(rows) + "\\n")
    ...     status = main(["fit", str(data), "--target", "y", "--max-iter", "50"])
    fastlinreg fit ...data.csv: target 'y', 1 feature(s), 750 training rows, ...
    <BLANKLINE>
      feature               coef
      x                7.5832581
      intercept       -3.0992615
    <BLANKLINE>
      R² train 0.99568, test 0.99509
      converged in ...; backend ...; fit time ...
    >>> status
    0
    """
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        if args.command is None:
            parser.print_help()
            return 2
        return int(args.run(args))
    except BrokenPipeError:
        # The reader went away (`fastlinreg predict ... | head`): stop quietly.
        _silence_stdout()
        return 1
    except (
        CommandError,
        DataError,
        OSError,
        ValueError,
        TypeError,
        ArithmeticError,
        ImportError,
    ) as exc:
        print(f"fastlinreg: error: {_one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
