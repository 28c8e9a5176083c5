"""Out of core: a fit on a float32 memory map of several gigabytes on disk.

The benchmark writes X (1.1e8 × 10 float32: 4.4 GB) and y (float64, 0.9 GB)
to files in a temporary directory (``FASTLINREG_BENCH_TMPDIR``, else the
system's), block by block, and deletes them afterwards; it skips with a
message when less than 10 GB are free there. Each fit runs in a fresh Python
process that maps the files read-only and samples its own
``/proc/self/status`` every few milliseconds: the growth of ``RssAnon``
(anonymous memory: heap, NumPy buffers) is what the fit allocates, while the
mapped file shows up in ``RssFile`` (page cache, which the kernel can drop
under pressure: the data may be larger than RAM).

Runs:

* ``cold``  the default fit (sufficient statistics, one pass) right after the
  files' pages were dropped from the page cache (``posix_fadvise``
  DONTNEED), so the pass reads the disk;
* ``warm``  the same fit again, the files now in the page cache;
* ``stream`` (``--full``) ``precompute=False``: one pass over the map per
  iteration.

The reference is the in-memory fit of the same data, computed independently
in float64 from chunks loaded into memory: NumPy normal equations (shifted to
the first row, accumulated chunk by chunk), and fastlinreg's ``partial_fit``
over the same chunks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

import fastlinreg

N, D = 110_000_000, 10
MIN_FREE = 10 * 1024**3
BLOCK = 2_000_000  # rows generated / loaded at a time (80 MB of float32 X)
COEF = np.linspace(-2.0, 3.0, D)
INTERCEPT = -0.7
ANON_LIMIT = 100 * 1024**2

# The measuring child: maps the files, fits, reports memory and the result.
CHILD = r"""
import json, os, sys, threading, time
import numpy as np
import fastlinreg

x_path, y_path, n, d, precompute, cold = sys.argv[1:]
n, d = int(n), int(d)
precompute = {"True": True, "False": False}[precompute]

def status():
    out = {}
    with open("/proc/self/status") as fh:
        for line in fh:
            key, _, value = line.partition(":")
            if key in ("RssAnon", "RssFile", "VmRSS"):
                out[key] = int(value.split()[0]) * 1024
    return out

# Warm up: imports, the kernels' first call, the solver's code paths.
rng = np.random.default_rng(0)
Xs = rng.normal(size=(1000, d)).astype(np.float32)
fastlinreg.LinearRegression(precompute=precompute).fit(Xs, Xs @ np.ones(d))
del Xs

if cold == "True":
    for path in (x_path, y_path):
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)

X = np.memmap(x_path, dtype=np.float32, mode="r", shape=(n, d))
y = np.memmap(y_path, dtype=np.float64, mode="r", shape=(n,))
before = status()
peak = dict(before)
done = threading.Event()

def sample():
    while not done.wait(0.002):
        for key, value in status().items():
            peak[key] = max(peak[key], value)

sampler = threading.Thread(target=sample, daemon=True)
sampler.start()
t0 = time.perf_counter()
model = fastlinreg.LinearRegression(precompute=precompute).fit(X, y)
seconds = time.perf_counter() - t0
done.set()
sampler.join()
after = status()
for key, value in after.items():
    peak[key] = max(peak[key], value)
print(json.dumps({
    "seconds": seconds,
    "coef": model.coef_.astype(float).tolist(),
    "intercept": float(model.intercept_),
    "coef_dtype": str(model.coef_.dtype),
    "n_iter": model.n_iter_,
    "converged": bool(model.converged_),
    "solver": model.solver_,
    "before": before,
    "peak": peak,
    "after": after,
}))
"""


def _write(x_path: Path, y_path: Path, n: int) -> float:
    """X and y drawn block by block into the files; seconds taken."""
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    scale = np.linspace(0.5, 4.0, D).astype(np.float32)
    offset = np.linspace(-3.0, 5.0, D).astype(np.float32)
    X = np.memmap(x_path, dtype=np.float32, mode="w+", shape=(n, D))
    y = np.memmap(y_path, dtype=np.float64, mode="w+", shape=(n,))
    for lo in range(0, n, BLOCK):
        hi = min(lo + BLOCK, n)
        xb = rng.standard_normal((hi - lo, D), dtype=np.float32)
        xb *= scale
        xb += offset
        X[lo:hi] = xb
        y[lo:hi] = xb @ COEF + INTERCEPT + rng.standard_normal(hi - lo)
    X.flush()
    y.flush()
    del X, y
    return time.perf_counter() - t0


def _reference(x_path: Path, y_path: Path, n: int) -> dict[str, Any]:
    """The in-memory fit, from chunks loaded into memory, two ways."""
    X = np.memmap(x_path, dtype=np.float32, mode="r", shape=(n, D))
    y = np.memmap(y_path, dtype=np.float64, mode="r", shape=(n,))
    t0 = time.perf_counter()
    shift = np.append(X[0].astype(np.float64), y[0])
    s1 = np.zeros(D + 1)
    s2 = np.zeros((D + 1, D + 1))
    model = fastlinreg.LinearRegression()
    for lo in range(0, n, BLOCK):
        hi = min(lo + BLOCK, n)
        xb = np.array(X[lo:hi])  # in memory
        yb = np.array(y[lo:hi])
        Z = np.empty((hi - lo, D + 1))
        Z[:, :D] = xb
        Z[:, D] = yb
        Z -= shift
        s1 += Z.sum(axis=0)
        s2 += Z.T @ Z
        model.partial_fit(xb, yb)
    mean = s1 / n
    cov = s2 - n * np.outer(mean, mean)
    coef = np.linalg.solve(cov[:D, :D], cov[:D, D])
    mean += shift
    intercept = float(mean[D] - mean[:D] @ coef)
    return {
        "seconds": time.perf_counter() - t0,
        "normal_eq": np.append(coef, intercept),
        "partial_fit": np.append(model.coef_.astype(np.float64), model.intercept_),
    }


def _child(x_path: Path, y_path: Path, n: int, precompute: bool, cold: bool) -> Any:
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            CHILD,
            *map(str, (x_path, y_path, n, D, precompute, cold)),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _max_rel(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want) / np.abs(want)))


def run(
    *, quick: bool = False, repeat: int | None = None, full: bool = False
) -> list[dict[str, Any]]:
    if not Path("/proc/self/status").exists():
        print("bench_memmap: skipped (needs /proc/self/status, i.e. Linux)")
        return []
    parent = os.environ.get("FASTLINREG_BENCH_TMPDIR") or tempfile.gettempdir()
    free = shutil.disk_usage(parent).free
    if free < MIN_FREE:
        print(
            f"bench_memmap: skipped: {free / 1024**3:.1f} GB free in {parent}, "
            f"it needs {MIN_FREE / 1024**3:.0f} GB (set FASTLINREG_BENCH_TMPDIR)"
        )
        return []
    n = N
    tmp = Path(tempfile.mkdtemp(prefix="fastlinreg-memmap-", dir=parent))
    try:
        x_path, y_path = tmp / "X.f32", tmp / "y.f64"
        write_seconds = _write(x_path, y_path, n)
        ref = _reference(x_path, y_path, n)
        runs = {"cold": (True, True), "warm": (True, False)}
        if full:
            runs["stream"] = (False, False)
        rec: dict[str, Any] = {
            "n": n,
            "d": D,
            "x_bytes": x_path.stat().st_size,
            "y_bytes": y_path.stat().st_size,
            "write_seconds": write_seconds,
            "reference_seconds": ref["seconds"],
            "partial_fit_vs_normal_eq": _max_rel(ref["partial_fit"], ref["normal_eq"]),
            "runs": {},
        }
        for name, (precompute, cold) in runs.items():
            out = _child(x_path, y_path, n, precompute, cold)
            got = np.append(out["coef"], out["intercept"])
            out["anon_growth_peak"] = out["peak"]["RssAnon"] - out["before"]["RssAnon"]
            out["anon_growth_after"] = (
                out["after"]["RssAnon"] - out["before"]["RssAnon"]
            )
            out["file_peak"] = out["peak"]["RssFile"]
            out["rel_err_vs_normal_eq"] = _max_rel(got, ref["normal_eq"])
            out["rel_err_vs_partial_fit"] = _max_rel(got, ref["partial_fit"])
            out["gb_per_second"] = (
                (rec["x_bytes"] + rec["y_bytes"]) / out["seconds"] / 1e9
            )
            rec["runs"][name] = out
        return [rec]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "(skipped: see the message above)"
    lines = []
    for r in records:
        lines.append(
            f"X {r['n']:.1e} x {r['d']} float32 on disk ({r['x_bytes'] / 1e9:.2f} GB)"
            f", y float64 ({r['y_bytes'] / 1e9:.2f} GB); written in "
            f"{r['write_seconds']:.0f} s; reference (float64 normal equations on "
            f"chunks in memory) in {r['reference_seconds']:.0f} s; partial_fit "
            f"over the same chunks within {r['partial_fit_vs_normal_eq']:.1e} of it.\n"
        )
        lines.append(
            "| run | seconds | GB/s | iters | RssAnon growth peak KiB "
            "| after KiB | RssFile peak GB | rel err vs NE | vs partial_fit |"
        )
        lines.append("|" + "---|" * 9)
        for name, o in r["runs"].items():
            lines.append(
                f"| {name} | {o['seconds']:.2f} | {o['gb_per_second']:.2f} | "
                f"{o['n_iter']} | {o['anon_growth_peak'] / 1024:.0f} | "
                f"{o['anon_growth_after'] / 1024:.0f} | {o['file_peak'] / 1e9:.2f} | "
                f"{o['rel_err_vs_normal_eq']:.1e} | "
                f"{o['rel_err_vs_partial_fit']:.1e} |"
            )
        worst = max(o["anon_growth_peak"] for o in r["runs"].values())
        err = max(o["rel_err_vs_normal_eq"] for o in r["runs"].values())
        lines.append(
            f"\nAnonymous memory growth at most {worst / 2**20:.2f} MiB "
            f"(acceptance: < {ANON_LIMIT / 2**20:.0f} MiB); result within {err:.1e} "
            "of the in-memory fit (acceptance: 1e-6; coef_ is float32 like X, "
            "so 3e-8 is its rounding)."
        )
    return "\n".join(lines)
