"""Dask: fastlinreg's fit on a distributed cluster, side by side with local
NumPy normal equations and dask-ml.

Setup (not timed): a ``distributed.LocalCluster`` of 2 worker processes with
one thread each, on the loopback interface; X (4e6 × 10 float64, 16 row
chunks; ``--quick``: 1e6 × 10) and y drawn on the workers by Dask's random
generator and persisted there; the same data gathered to the client for the
in-memory candidates; one untimed round of each candidate (worker imports,
JIT compilation) before the timed rounds.

Candidates:

* ``flr_dask``     ``LinearRegression().fit(X, y)`` on the Dask arrays: one
  statistics task per chunk, a tree of merges, iterations on the client;
* ``flr_local``    the same fit on the in-memory arrays (the reference the
  Dask fit must equal within 1e-10 relative);
* ``normal_eq``    NumPy's normal equations on the in-memory arrays (all BLAS
  threads): the physical competitor, one pass and a small solve;
* ``dask_ml``      dask-ml's ``LinearRegression()`` with its default solver
  (admm), on the Dask arrays (a benchmark-only dependency: ``pip install
  dask-ml``; reported as missing when it cannot be imported or fails);
* ``--full`` adds ``flr_dask_stream`` (``precompute=False``: one task per chunk
  per evaluation) and dask-ml's ``lbfgs`` and ``gradient_descent`` solvers.

Every coefficient vector (with the intercept) is compared with
``numpy.linalg.lstsq`` on the in-memory data, and the Dask fit with the
in-memory fit.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from bench_fit import normal_equations

import fastlinreg
from fastlinreg._timing import interleaved_medians

N_FULL, N_QUICK, D, CHUNKS = 4_000_000, 1_000_000, 10, 16


def _dask_ml() -> tuple[Any, str | None]:
    try:
        from dask_ml.linear_model import LinearRegression
    except Exception as exc:  # ImportError, or an incompatibility with dask
        return None, f"{type(exc).__name__}: {exc}"
    return LinearRegression, None


def _as_vector(model: Any) -> np.ndarray:
    coef = np.asarray(model.coef_, dtype=np.float64).ravel()
    return np.append(coef, float(np.asarray(model.intercept_)))


def _max_rel(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want) / np.abs(want)))


def _start_cluster() -> tuple[Any, Any]:
    import distributed

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    return cluster, client


def _data(n: int) -> tuple[Any, Any]:
    """X and y drawn chunk by chunk on the workers and persisted there."""
    import dask
    import dask.array as da

    rng = da.random.default_rng(0)
    rows = n // CHUNKS
    X = rng.uniform(-10, 10, size=(n, D), chunks=(rows, D))
    coef = np.random.default_rng(1).uniform(-5, 5, D)
    y = X @ coef - 3.3 + 3.0 * rng.standard_normal(n, chunks=rows)
    X, y = dask.persist(X, y)
    dask.compute(X.sum(), y.sum())  # wait until both are in worker memory
    return X, y


def _time_once(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def run(
    *, quick: bool = False, repeat: int | None = None, full: bool = False
) -> list[dict[str, Any]]:
    try:
        import dask
        import distributed  # noqa: F401
    except ImportError as exc:
        print(f"bench_dask: skipped ({exc}); pip install 'fastlinreg[dask]'")
        return []
    n = N_QUICK if quick else N_FULL
    repeat = repeat or (3 if quick else 7)
    cluster, client = _start_cluster()
    try:
        Xd, yd = _data(n)
        X, y = dask.compute(Xd, yd)
        A = np.column_stack([X, np.ones(n)])
        exact, *_ = np.linalg.lstsq(A, y, rcond=None)
        del A
        LR = fastlinreg.LinearRegression
        cands: dict[str, Callable[[], object]] = {
            "flr_dask": lambda: LR().fit(Xd, yd),
            "flr_local": lambda: LR().fit(X, y),
            "normal_eq": lambda: normal_equations(X, y),
        }
        if full:
            cands["flr_dask_stream"] = lambda: LR(precompute=False).fit(Xd, yd)
        seconds = interleaved_medians(cands, repeat=repeat, warmup=1)
        rec: dict[str, Any] = {
            "n": n,
            "d": D,
            "chunks": CHUNKS,
            "workers": "2 processes x 1 thread (LocalCluster)",
            "dask": dask.__version__,
            "distributed": distributed_version(),
            "seconds": seconds,
        }
        dask_fit, local_fit = LR().fit(Xd, yd), LR().fit(X, y)
        errors = {
            "flr_dask": _max_rel(_as_vector(dask_fit), exact),
            "flr_local": _max_rel(_as_vector(local_fit), exact),
            "normal_eq": _max_rel(normal_equations(X, y), exact),
        }
        rec["dask_vs_in_memory"] = _max_rel(_as_vector(dask_fit), _as_vector(local_fit))
        if full:
            stream = LR(precompute=False).fit(Xd, yd)
            errors["flr_dask_stream"] = _max_rel(_as_vector(stream), exact)
            rec["flr_dask_stream_iters"] = stream.n_iter_
        rec["flr_dask_iters"] = dask_fit.n_iter_

        DaskML, why = _dask_ml()
        rec["dask_ml"] = why or "ok"
        if DaskML is not None:
            solvers = ["admm", "lbfgs", "gradient_descent"] if full else ["admm"]
            for solver in solvers:
                name = "dask_ml" if solver == "admm" else f"dask_ml_{solver}"
                kwargs = {} if solver == "admm" else {"solver": solver}
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        DaskML(**kwargs).fit(Xd, yd)  # warm-up (numba, imports)
                        runs = [
                            _time_once(lambda k=kwargs: DaskML(**k).fit(Xd, yd))
                            for _ in range(1 if quick else 2)
                        ]
                except Exception as exc:
                    rec[name] = f"failed: {type(exc).__name__}: {exc}"
                    continue
                seconds[name] = float(np.median([t for t, _ in runs]))
                errors[name] = _max_rel(_as_vector(runs[-1][1]), exact)
        rec["rel_err_vs_lstsq"] = errors
        rec["flr_dask_over_normal_eq"] = seconds["flr_dask"] / seconds["normal_eq"]
        rec["flr_dask_over_flr_local"] = seconds["flr_dask"] / seconds["flr_local"]
        if "dask_ml" in seconds:
            rec["dask_ml_over_flr_dask"] = seconds["dask_ml"] / seconds["flr_dask"]
        return [rec]
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.close()
            cluster.close()


def distributed_version() -> str:
    import distributed

    return str(distributed.__version__)


def table(records: list[dict[str, Any]]) -> str:
    if not records:
        return "(skipped: dask and distributed are not installed)"
    lines = []
    for r in records:
        lines.append(
            f"{r['n']:.0e} x {r['d']} float64 in {r['chunks']} chunks, "
            f"{r['workers']}; dask {r['dask']}, distributed {r['distributed']}; "
            f"dask-ml: {r['dask_ml']}\n"
        )
        lines.append("| candidate | seconds | / flr_dask | max rel err vs lstsq |")
        lines.append("|---|---|---|---|")
        s, err = r["seconds"], r["rel_err_vs_lstsq"]
        for name in sorted(s, key=s.get):
            lines.append(
                f"| {name} | {s[name]:.3f} | {s[name] / s['flr_dask']:.2f} | "
                f"{err.get(name, float('nan')):.1e} |"
            )
        lines.append(
            f"\nflr_dask / normal_eq = {r['flr_dask_over_normal_eq']:.2f} "
            "(acceptance: <= 1.5); "
            + (
                f"dask_ml / flr_dask = {r['dask_ml_over_flr_dask']:.1f} "
                "(acceptance: >= 10); "
                if "dask_ml_over_flr_dask" in r
                else ""
            )
            + f"Dask fit vs in-memory fit: max rel diff {r['dask_vs_in_memory']:.1e} "
            f"(acceptance: <= 1e-10); iterations {r['flr_dask_iters']}."
        )
    return "\n".join(lines)
