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
import dataclasses
import json
import os
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

from ._backend import BACKENDS
from ._bench import run_bench
from ._cli_util import CommandError, count, milliseconds, one_line
from ._config import show_config
from ._demo import run_demo
from ._io import DataError, load_model, load_X, load_xy, read_model, save_model
from ._linear_cv import LinearRegressionCV
from ._version import __version__
from .datasets import train_test_split
from .linear_model import LinearRegression

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

# --------------------------------------------------------------------------
# fit and predict
# --------------------------------------------------------------------------


def _fit(args: argparse.Namespace) -> int:
    data = load_xy(args.data, args.target, features=args.features, groups=args.cluster)
    inference = args.summary or args.cov_type is not None or args.cluster is not None
    X_train, y_train, groups, held_out = _split(args, data, inference)
    cov_type = args.cov_type or ("cluster" if args.cluster is not None else "nonrobust")
    model: Any = _model(args, cov_type) if args.alpha != "cv" else _cv_model(args)
    fit_kw = {} if args.alpha == "cv" else {"groups": groups}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        start = time.perf_counter()
        model.fit(X_train, y_train, **fit_kw)
        elapsed = time.perf_counter() - start
    summary = None
    if inference:
        try:
            result = model.inference_
        except ValueError as exc:
            raise CommandError(f"no inference for this fit: {exc}") from None
        assert not isinstance(result, list)  # the CLI fits one target
        # rows named by the file's columns
        names = result.names[: len(result.names) - len(data.feature_names)]
        result = dataclasses.replace(result, names=(*names, *data.feature_names))
        summary = result.summary(yname=str(data.target))
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
        "warnings": [one_line(w.message) for w in caught],
    }
    if args.alpha == "cv":
        report["cv"] = {
            "alpha": float(model.alpha_),
            "alpha_1se": float(model.alpha_1se_),
            "l1_ratio": float(model.l1_ratio_),
            "penalty": args.penalty,
            "folds": args.cv,
            "n_alphas": int(model.alphas_.shape[-1]),
        }
    if summary is not None:
        report["inference"] = _inference_facts(summary.result)
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
        if summary is not None:
            print()
            print(summary)
    for message in report["warnings"]:
        print(f"fastlinreg: warning: {message}", file=sys.stderr)
    return 0


def _inference_facts(result: Any) -> dict[str, Any]:
    """The numbers of an InferenceResult, as JSON."""
    ci = result.conf_int()
    facts: dict[str, Any] = {"names": list(result.names)}
    for key in ("params", "bse", "tvalues", "pvalues"):
        facts[key] = [float(v) for v in getattr(result, key)]
    facts["conf_int"] = [[float(a), float(b)] for a, b in ci]
    for key in ("nobs", "df_model", "df_resid", "rsquared", "rsquared_adj", "fvalue",
                "f_pvalue", "ssr", "scale", "llf", "aic", "bic"):  # fmt: skip
        facts[key] = float(getattr(result, key))
    facts["cov_type"] = result.cov_type
    facts["n_groups"] = None if result.n_groups is None else list(result.n_groups)
    return facts


# --test-size's default: 0.25, or every row for inference (not a size itself).
_TEST_SIZE_DEFAULT = -1.0


def _split(args: argparse.Namespace, data: Any, inference: bool) -> tuple[Any, ...]:
    """The training rows (X, y, groups) and the held-out (X, y) or None.
    Inference is about the model of all the rows: none held out unless asked."""
    test_size = args.test_size
    if test_size == _TEST_SIZE_DEFAULT:
        test_size = None if inference else 0.25
    if test_size is None:
        return data.X, data.y, data.groups, None
    X_train, X_test, y_train, y_test = train_test_split(
        data.X, data.y, test_size=test_size, random_state=args.seed
    )
    groups = data.groups
    if groups is not None:
        # the same shuffle of the rows' positions picks their groups
        rows = np.arange(data.y.shape[0])
        train_rows = train_test_split(
            rows, rows, test_size=test_size, random_state=args.seed
        )[0]
        groups = groups[train_rows]
    return X_train, y_train, groups, (X_test, y_test)


def _model(args: argparse.Namespace, cov_type: Any) -> LinearRegression:
    return LinearRegression(
        loss=args.loss,
        epsilon=args.epsilon,
        quantile=args.quantile,
        alpha=args.alpha,
        penalty=None if args.penalty == "none" else args.penalty,
        l1_ratio=args.l1_ratio,
        learning_rate=args.learning_rate,
        max_iter=args.max_iter,
        tol=args.tol,
        cov_type=cov_type,
        **_shared_params(args),
        # A progress bar on stderr for fits longer than a second, when a person
        # is watching (stdout, --json's included, stays clean).
        verbose=1 if sys.stderr.isatty() else 0,
    )


def _cv_model(args: argparse.Namespace) -> LinearRegressionCV:
    """``--alpha cv``: the penalty chosen by K-fold cross-validation."""
    if args.loss != "squared_error":
        raise CommandError(
            f"--alpha cv chooses the penalty of the squared error; --loss "
            f"{args.loss} is out of its scope: give --alpha a number"
        )
    if args.penalty == "none":
        raise CommandError("--alpha cv needs a penalty: --penalty l2, l1 or elasticnet")
    if args.summary or args.cov_type is not None or args.cluster is not None:
        raise CommandError(
            "--alpha cv gives a penalised fit, which has no classical "
            "inference: drop --summary, --cov-type and --cluster"
        )
    return LinearRegressionCV(
        penalty=args.penalty, l1_ratio=args.l1_ratio, cv=args.cv, **_shared_params(args)
    )


def _shared_params(args: argparse.Namespace) -> dict[str, Any]:
    return {  # (the options both estimators take the same way)
        "fit_intercept": not args.no_intercept,
        "positive": args.positive,
        "backend": args.backend,
        "n_jobs": args.n_jobs,
    }


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
        how = f"converged in {count(r['n_iter'], 'iteration')}"
    else:
        how = f"stopped after {count(r['n_iter'], 'iteration')} ({r['stop_reason']})"
    print(f"  {how}; backend {r['backend']}; fit time {milliseconds(r['fit_time_s'])}")
    if "cv" in r:
        cv = r["cv"]
        ratio = (
            f", l1_ratio {cv['l1_ratio']:g}" if cv["penalty"] == "elasticnet" else ""
        )
        print(
            f"  {cv['penalty']} alpha {cv['alpha']:.6g}{ratio}: chosen by "
            f"{cv['folds']}-fold cross-validation over {cv['n_alphas']} alphas "
            f"(one-standard-error rule: {cv['alpha_1se']:.6g})"
        )
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


def _number_or(word: str) -> Callable[[str], float | str]:
    """An argparse conversion: ``word`` as itself, any other text a float."""
    return lambda text: text if text == word else float(text)


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
        type=_checked(
            "a number >= 0 or 'cv'",
            _number_or("cv"),
            lambda v: v == "cv" or bool(np.isfinite(v) and v >= 0),
        ),
        default=0.0,
        help="strength of the penalty on the coefficients (default 0: none), "
        "or 'cv' to choose it by K-fold cross-validation in one pass",
    )
    p.add_argument(
        "--positive",
        action="store_true",
        help="constrain the coefficients to be >= 0 (the intercept stays free)",
    )
    p.add_argument(
        "--cv",
        type=_checked("an integer >= 2", int, lambda v: v >= 2),
        default=5,
        help="folds of --alpha cv (default 5: contiguous, as KFold(5))",
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
            _number_or("auto"),
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

    for add in (_add_demo, _add_fit, _add_predict, _add_bench, _add_config):
        add(sub)
    return parser


def _add_demo(sub: argparse._SubParsersAction[_Parser]) -> None:
    """The ``demo`` command: the tutorial end to end."""
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
    demo.set_defaults(run=run_demo)


def _add_fit(sub: argparse._SubParsersAction[_Parser]) -> None:
    """The ``fit`` command: fit a model on a data file."""
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
        default=_TEST_SIZE_DEFAULT,
        help="held-out fraction or rows (default 0.25, or 0 with --summary, "
        "--cov-type or --cluster; 0: fit on every row)",
    )
    fit.add_argument(
        "--summary",
        action="store_true",
        help="print the regression table: standard errors, t, p, intervals, "
        "R², F (squared error, no penalty); with --json, in 'inference'",
    )
    fit.add_argument(
        "--cov-type",
        choices=["nonrobust", "HC0", "HC1", "HC2", "HC3", "cluster", "robust", "iid"],
        help="the covariance of the table (default nonrobust; cluster with "
        "--cluster; robust or iid for --loss quantile, robust for huber)",
    )
    fit.add_argument(
        "--cluster",
        metavar="COLUMN",
        help="a column of cluster ids for cov-type cluster (not a feature)",
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


def _add_predict(sub: argparse._SubParsersAction[_Parser]) -> None:
    """The ``predict`` command: predict with a saved model."""
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


def _add_bench(sub: argparse._SubParsersAction[_Parser]) -> None:
    """The ``bench`` command: time the kernels on this machine."""
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
    bench.set_defaults(run=run_bench)


def _add_config(sub: argparse._SubParsersAction[_Parser]) -> None:
    """The ``config`` command: how this installation was built."""
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
        print(f"fastlinreg: error: {one_line(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
