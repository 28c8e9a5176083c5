"""Run fastlinreg's benchmarks: print markdown tables, optionally write JSON.

Usage::

    python benchmarks/run.py [SUITE ...] [--quick] [--full] [--repeat N]
                             [--json FILE] [--plot FILE]

Suites: ``kernels`` (per-iteration kernel vs NumPy twin vs memory floor),
``fit`` (whole fits vs NumPy's normal equations, scikit-learn, SGD, the
tutorial's loop), ``nist`` (accuracy, LRE beside lstsq), ``losses``
(robust losses vs HuberRegressor and QuantileRegressor), ``inference``
(robust and clustered standard errors vs statsmodels) and ``cv``
(LinearRegressionCV vs one fit, LassoCV, ElasticNetCV, RidgeCV) run by default;
two heavy ones run only when named: ``dask``
(a fit on a 2-worker distributed LocalCluster vs local normal equations vs
dask-ml; needs ``fastlinreg[dask]``, dask-ml optional) and ``memmap`` (a fit
on a 4.4 GB float32 memory map written to a temporary directory; anonymous
memory growth; needs 10 GB free disk). ``--quick`` finishes in
about a minute; ``--full`` also runs the slowest competitors at 1e7 rows;
``--plot FILE`` draws fit time against n (needs matplotlib). Times are
medians of interleaved rounds in one process; on a shared machine trust the
ratios, not the absolute times.
Nothing is written unless ``--json`` names a file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_cv
import bench_dask
import bench_fit
import bench_inference
import bench_kernels
import bench_losses
import bench_memmap
import bench_nist

import fastlinreg
from fastlinreg import _kernels

SUITES = {
    "kernels": bench_kernels,
    "fit": bench_fit,
    "dask": bench_dask,
    "memmap": bench_memmap,
    "nist": bench_nist,
    "losses": bench_losses,
    "inference": bench_inference,
    "cv": bench_cv,
}
# Run when no suite is named; the others only on request (minutes, a cluster,
# gigabytes of disk).
DEFAULT_SUITES = ["kernels", "fit", "nist", "losses", "inference", "cv"]


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "openmp_threads": _kernels.max_threads(),
        "python": platform.python_version(),
        "numpy": __import__("numpy").__version__,
        "fastlinreg": fastlinreg.__version__,
        "platform": platform.platform(),
        # How the kernels were built (compiler, instruction set, OpenMP).
        "build": fastlinreg.show_config(mode="dicts")["kernels"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "suites",
        nargs="*",
        metavar="SUITE",
        help=f"which to run: {', '.join(SUITES)} "
        f"(default: {', '.join(DEFAULT_SUITES)})",
    )
    parser.add_argument(
        "--quick", action="store_true", help="smaller sizes, fewer rounds"
    )
    parser.add_argument(
        "--repeat", type=int, default=None, help="timed rounds per case"
    )
    parser.add_argument("--full", action="store_true", help="slow competitors too")
    parser.add_argument(
        "--plot", type=Path, default=None, help="draw fit times (log-log) here"
    )
    parser.add_argument(
        "--json", type=Path, default=None, help="write the results here"
    )
    args = parser.parse_args(argv)
    unknown = sorted(set(args.suites) - set(SUITES))
    if unknown:
        parser.error(
            f"unknown suite(s) {', '.join(unknown)}; choose from {', '.join(SUITES)}"
        )
    info = machine()
    print(
        f"machine: {info['cpu']}, {info['cpus']} CPUs, "
        f"OpenMP threads {info['openmp_threads']}, Python {info['python']}, "
        f"NumPy {info['numpy']}; kernels: {info['build']['compiler']}, "
        f"{info['build']['instruction set']}"
    )
    results: dict[str, Any] = {"machine": info, "date": time.strftime("%Y-%m-%d")}
    for name in args.suites or DEFAULT_SUITES:
        suite = SUITES[name]
        records = suite.run(quick=args.quick, repeat=args.repeat, full=args.full)
        print(f"\n## {name}\n")
        print(suite.table(records))
        results[name] = records
    if args.plot is not None and "fit" in results:
        bench_fit.plot(results["fit"], str(args.plot))
        print(f"\nwrote {args.plot}")
    if args.json is not None:
        args.json.write_text(json.dumps(results, indent=2))
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
