"""Python threads: fits and predictions running at once give, bit for bit,
what the same calls give one after another.

The kernels release the GIL and keep no shared mutable state, so on any
interpreter (the GIL-free build included) eight threads fitting eight
estimators on eight datasets must not disturb one another: same coefficients,
same iterations, same loss curve, same callback calls. The data are large
enough for each fit to start OpenMP threads of its own (``n_jobs=2``), so
OpenMP teams from several Python threads also run at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import fastlinreg
from fastlinreg import LinearRegression, _backend

N_THREADS = 8
N_ROWS = 40_000  # x 4 features: above the OpenMP threshold
N_FEATURES = 4


def dataset(seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Different data for each thread: other coefficients, scales, offsets."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(N_ROWS, N_FEATURES)) * rng.uniform(0.1, 10, N_FEATURES)
    X += rng.uniform(-5, 5, N_FEATURES)
    y = X @ rng.uniform(-3, 3, N_FEATURES) + rng.normal() + rng.normal(size=N_ROWS)
    return X, y


def run_together(jobs: list[Callable[[], Any]]) -> list[Any]:
    """Run the jobs in threads started at the same moment; their results."""
    barrier = threading.Barrier(len(jobs))
    results: list[Any] = [None] * len(jobs)
    errors: list[BaseException] = []

    def work(i: int) -> None:
        try:
            barrier.wait()
            results[i] = jobs[i]()
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert not any(t.is_alive() for t in threads), "a thread hangs"
    if errors:
        raise errors[0]
    return results


def fitted_state(model: LinearRegression, calls: list[tuple[Any, ...]]) -> dict:
    return {
        "coef": model.coef_.copy(),
        "intercept": model.intercept_,
        "n_iter": model.n_iter_,
        "loss_curve": np.array(model.loss_curve_),
        "converged": model.converged_,
        "stop_reason": model.stop_reason_,
        "solver": model.solver_,
        "precomputed": model.precomputed_,
        "callback": calls,
    }


def assert_same(got: dict, want: dict) -> None:
    """Bitwise equality of every fitted attribute and of the callback calls."""
    for key in ("coef", "loss_curve"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
        assert got[key].dtype == want[key].dtype
    for key in ("intercept", "n_iter", "converged", "stop_reason", "solver"):
        assert got[key] == want[key], key
    assert got["precomputed"] == want["precomputed"]
    assert len(got["callback"]) == len(want["callback"])
    for a, b in zip(got["callback"], want["callback"], strict=True):
        assert a[:3] == b[:3]  # iteration, loss, grad_norm
        np.testing.assert_array_equal(a[3], b[3])  # coef


def make_fit(
    X: np.ndarray, y: np.ndarray, params: dict[str, Any]
) -> Callable[[], dict]:
    def fit() -> dict:
        calls: list[tuple[Any, ...]] = []

        def record(info: fastlinreg.IterationInfo) -> None:
            calls.append((info.iteration, info.loss, info.grad_norm, info.coef))

        model = LinearRegression(callback=record, **params).fit(X, y)
        return fitted_state(model, calls)

    return fit


def test_the_data_start_openmp_threads():
    """Each fit below runs the compiled kernels on two OpenMP threads."""
    if "cython" not in fastlinreg.available_backends():
        pytest.skip("no compiled kernels")
    kernels = _backend.get_kernels("cython")
    if not kernels.HAS_OPENMP:
        pytest.skip("built without OpenMP")
    assert _backend.resolve_n_threads(2, kernels, N_ROWS * N_FEATURES) == 2


@pytest.mark.parametrize("backend", fastlinreg.available_backends())
@pytest.mark.parametrize(
    "params",
    [
        {"precompute": True},
        {"precompute": False},
        {"precompute": False, "solver": "nesterov"},
        {"precompute": True, "learning_rate": 1e-3, "max_iter": 50, "tol": 0.0},
        {"loss": "huber", "epsilon": 1.0},
        {"alpha": 0.1, "penalty": "elasticnet", "l1_ratio": 0.5},
    ],
    ids=["stats", "streaming", "nesterov", "fixed-step", "huber", "elasticnet"],
)
def test_fits_in_threads_match_serial_fits(backend, params):
    params = {"backend": backend, "n_jobs": 2, "tol": 1e-8, **params}
    data = [dataset(seed) for seed in range(N_THREADS)]
    jobs = [make_fit(X, y, params) for X, y in data]
    with np.errstate(all="raise"):
        serial = [job() for job in jobs]
    for _ in range(2):  # twice: the first round also warms the OpenMP pools
        together = run_together(jobs)
        for got, want in zip(together, serial, strict=True):
            assert_same(got, want)
    # Eight different problems, not eight copies of one.
    assert len({s["coef"].tobytes() for s in serial}) == N_THREADS


@pytest.mark.parametrize("backend", fastlinreg.available_backends())
def test_partial_fits_in_threads_match_serial(backend):
    data = [dataset(seed) for seed in range(N_THREADS)]

    def make(X: np.ndarray, y: np.ndarray) -> Callable[[], dict]:
        def job() -> dict:
            model = LinearRegression(backend=backend, n_jobs=2)
            for rows in np.array_split(np.arange(N_ROWS), 4):
                model.partial_fit(X[rows], y[rows])
            return fitted_state(model, [])

        return job

    jobs = [make(X, y) for X, y in data]
    serial = [job() for job in jobs]
    for got, want in zip(run_together(jobs), serial, strict=True):
        assert_same(got, want)


@pytest.mark.parametrize("backend", fastlinreg.available_backends())
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_one_model_predicts_from_threads(backend, dtype):
    """One fitted model, eight threads calling predict and score at once."""
    X0, y0 = dataset(100)
    model = LinearRegression(backend=backend).fit(X0.astype(dtype), y0)
    inputs = [dataset(seed) for seed in range(N_THREADS)]
    inputs = [(X.astype(dtype), y) for X, y in inputs]
    serial = [(model.predict(X), model.score(X, y)) for X, y in inputs]

    def make(X: np.ndarray, y: np.ndarray) -> Callable[[], list]:
        return lambda: [(model.predict(X), model.score(X, y)) for _ in range(5)]

    for results, (want_pred, want_score) in zip(
        run_together([make(X, y) for X, y in inputs]), serial, strict=True
    ):
        for pred, score in results:
            np.testing.assert_array_equal(pred, want_pred)
            assert pred.dtype == dtype
            assert score == want_score
    # Predicting did not change the model.
    np.testing.assert_array_equal(
        model.coef_,
        LinearRegression(backend=backend).fit(X0.astype(dtype), y0).coef_,
    )
