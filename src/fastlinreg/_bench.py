"""``fastlinreg bench``: a gradient step per backend against the read floor.

It runs from the installed package (quick sizes unless ``--full``); the
fuller suites, ``python benchmarks/run.py``, ship with the source.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import textwrap
import warnings
from collections.abc import Callable, Sequence

import numpy as np

from ._backend import BackendName, available_backends
from ._cli_util import count
from ._loss_gradient import loss_gradient
from ._timing import interleaved_medians
from ._version import __version__
from .linear_model import LinearRegression

__all__ = ["BENCH_MAX_BYTES", "BENCH_SIZES", "run_bench"]

# The shapes timed (n_samples, n_features), and a cap on X's size.
BENCH_SIZES = {
    "quick": ((10**5, 10**6), (1, 10)),
    "full": ((10**5, 10**6, 10**7), (1, 10, 100)),
}
BENCH_MAX_BYTES = 1 << 30


def run_bench(args: argparse.Namespace) -> int:
    """The ``bench`` command (``args``: full, n_samples, n_features, repeat,
    n_jobs)."""
    mode = "full" if args.full else "quick"
    sizes, features = BENCH_SIZES[mode]
    sizes = args.n_samples or sizes
    features = args.n_features or features
    repeat = args.repeat or (9 if args.full else 5)
    backends = available_backends()
    print(
        f"fastlinreg {__version__} bench ({mode}): the loss and gradient per "
        f"backend, and a whole default fit, on {count(args.n_jobs, 'thread')}"
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
