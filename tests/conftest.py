"""Shared fixtures and reference implementations for the fastlinreg tests.

Helpers are handed to the test modules as fixtures (the suite runs with
``--import-mode=importlib``, where test modules cannot import this file).
The reference formulas here are written from the mathematics, in plain float64
NumPy, never by calling fastlinreg.
"""

from __future__ import annotations

import importlib
import math
import os
import tracemalloc
from collections.abc import Callable
from types import ModuleType, SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import fastlinreg

# --------------------------------------------------------------------------
# Hypothesis profiles: HYPOTHESIS_PROFILE=ci for the long run, "dev" by default.
# --------------------------------------------------------------------------
settings.register_profile(
    "ci",
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=50, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

KERNEL_MODULES = {"cython": "fastlinreg._kernels", "numpy": "fastlinreg._numpy_kernels"}


def _import_kernels(name: str) -> ModuleType:
    try:
        return importlib.import_module(KERNEL_MODULES[name])
    except ImportError as exc:
        # test_backend.py::test_compiled_backend_in_use fails loudly for this.
        pytest.skip(f"{KERNEL_MODULES[name]} is not importable: {exc}")


@pytest.fixture(params=fastlinreg.available_backends())
def backend(request: pytest.FixtureRequest) -> str:
    """Each backend that can run here ("cython" and/or "numpy")."""
    return request.param


@pytest.fixture(scope="session", params=sorted(KERNEL_MODULES))
def kernels(request: pytest.FixtureRequest) -> ModuleType:
    """Each kernel module: ``fastlinreg._kernels`` and ``fastlinreg._numpy_kernels``."""
    return _import_kernels(request.param)


@pytest.fixture(scope="session")
def cython_kernels() -> ModuleType:
    return _import_kernels("cython")


@pytest.fixture(scope="session")
def numpy_kernels() -> ModuleType:
    return _import_kernels("numpy")


@pytest.fixture(autouse=True)
def _no_backend_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests choose the backend themselves; a FASTLINREG_BACKEND from the shell
    must not leak into them."""
    monkeypatch.delenv("FASTLINREG_BACKEND", raising=False)


# --------------------------------------------------------------------------
# Calling the kernels
# --------------------------------------------------------------------------


def run_loss_gradient(
    kernels: ModuleType,
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    intercept: float,
    x_offset: np.ndarray | None = None,
    n_threads: int = 1,
    y_offset: float = 0.0,
) -> tuple[float, np.ndarray, float]:
    """``(loss, grad_coef, grad_intercept)`` from a kernel module."""
    d = X.shape[1]
    offset = np.zeros(d) if x_offset is None else x_offset
    grad = np.full(d, np.nan)
    loss, grad_b = kernels.loss_gradient(
        X,
        y,
        np.ascontiguousarray(coef, dtype=np.float64),
        float(intercept),
        np.ascontiguousarray(offset, dtype=np.float64),
        float(y_offset),
        grad,
        n_threads,
    )
    return loss, grad, grad_b


def run_moments(
    kernels: ModuleType, X: np.ndarray, y: np.ndarray, n_threads: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """``(mean, m2)`` of the columns of ``[X | y]`` from a kernel module."""
    p = X.shape[1] + 1
    mean, m2 = np.full(p, np.nan), np.full(p, np.nan)
    assert kernels.moments(X, y, mean, m2, n_threads) is None
    return mean, m2


# --------------------------------------------------------------------------
# References written from the formulas
# --------------------------------------------------------------------------


def reference_loss_gradient(
    X: np.ndarray,
    y: np.ndarray,
    coef: np.ndarray,
    intercept: float,
    x_offset: np.ndarray | None = None,
    y_offset: float = 0.0,
) -> SimpleNamespace:
    """The objective in float64, with the scale of its rounding error.

    ``e = (y - y_offset) - b - (X - off) @ w``; ``loss = mean(e²)``;
    ``grad = -2 (X - off).T @ e / n``; ``grad_b = -2 mean(e)``.
    The ``*_scale`` entries bound the magnitudes of the summed terms
    (``E = |y| + |b| + |X - off| @ |w|`` bounds ``|e|``), so a tolerance
    relative to them does not break when a gradient is near zero.
    """
    Xd = np.asarray(X, dtype=np.float64)
    yd = np.asarray(y, dtype=np.float64)
    n, d = Xd.shape
    off = np.zeros(d) if x_offset is None else np.asarray(x_offset, dtype=np.float64)
    w = np.asarray(coef, dtype=np.float64)
    xo = Xd - off
    e = (yd - y_offset) - intercept - xo @ w
    big_e = np.abs(yd - y_offset) + abs(intercept) + np.abs(xo) @ np.abs(w)
    return SimpleNamespace(
        loss=float(e @ e) / n,
        grad=-2.0 * (xo.T @ e) / n,
        grad_b=-2.0 * float(e.sum()) / n,
        loss_scale=float(big_e @ big_e) / n,
        grad_scale=2.0 * (np.abs(xo).T @ big_e) / n,
        grad_b_scale=2.0 * float(big_e.sum()) / n,
    )


def reference_moments(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Exactly rounded column means and centred sums of squares of ``[X | y]``."""
    cols = np.column_stack([np.asarray(X, np.float64), np.asarray(y, np.float64)])
    n = cols.shape[0]
    mean = np.array([math.fsum(c) / n for c in cols.T])
    m2 = np.array(
        [math.fsum((c - mu) ** 2) for c, mu in zip(cols.T, mean, strict=True)]
    )
    return mean, m2


def assert_loss_gradient_close(
    got: tuple[float, np.ndarray, float], ref: SimpleNamespace, rtol: float
) -> None:
    """``got`` matches ``ref`` to ``rtol`` relative to the reference's scales."""
    loss, grad, grad_b = got
    assert abs(loss - ref.loss) <= rtol * ref.loss_scale, (loss, ref.loss)
    assert abs(grad_b - ref.grad_b) <= rtol * ref.grad_b_scale, (grad_b, ref.grad_b)
    err = np.abs(grad - ref.grad)
    assert np.all(err <= rtol * ref.grad_scale), (grad, ref.grad)


def lstsq_fit(
    X: np.ndarray, y: np.ndarray, fit_intercept: bool = True
) -> tuple[np.ndarray, float]:
    """The exact least-squares ``(coef, intercept)`` by ``numpy.linalg.lstsq``."""
    Xd = np.asarray(X, dtype=np.float64).reshape(len(y), -1)
    A = np.column_stack([Xd, np.ones(len(Xd))]) if fit_intercept else Xd
    sol, *_ = np.linalg.lstsq(A, np.asarray(y, dtype=np.float64), rcond=None)
    return (sol[:-1], float(sol[-1])) if fit_intercept else (sol, 0.0)


def plain_gradient_descent(
    X: np.ndarray,
    y: np.ndarray,
    learning_rate: float,
    n_iter: int,
    coef: np.ndarray,
    intercept: float,
) -> np.ndarray:
    """The tutorial's algorithm on the mean squared error: the objective at the
    start and after each of ``n_iter`` fixed steps."""
    Xd = np.asarray(X, dtype=np.float64).reshape(len(y), -1)
    yd = np.asarray(y, dtype=np.float64)
    w, b = np.array(coef, dtype=np.float64), float(intercept)
    curve = []
    for _ in range(n_iter + 1):
        e = yd - Xd @ w - b
        curve.append(float(e @ e) / len(yd))
        w = w - learning_rate * (-2.0 * (Xd.T @ e) / len(yd))
        b = b - learning_rate * (-2.0 * float(e.mean()))
    return np.array(curve)


def peak_traced_memory(fn: Callable[[], object]) -> int:
    """Peak bytes ``tracemalloc`` traced (NumPy reports its buffers) in ``fn()``."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    tracemalloc.reset_peak()
    base, _ = tracemalloc.get_traced_memory()
    try:
        fn()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        if not was_tracing:
            tracemalloc.stop()
    return peak - base


def readonly_memmap(path: os.PathLike, data: np.ndarray) -> np.memmap:
    """``data`` written to ``path`` and mapped back read-only."""
    out = np.memmap(path, dtype=data.dtype, mode="w+", shape=data.shape)
    out[...] = data
    out.flush()
    del out
    return np.memmap(path, dtype=data.dtype, mode="r", shape=data.shape)


@pytest.fixture(scope="session")
def ref() -> SimpleNamespace:
    """The helpers above, for the test modules."""
    return SimpleNamespace(
        run_loss_gradient=run_loss_gradient,
        run_moments=run_moments,
        loss_gradient=reference_loss_gradient,
        moments=reference_moments,
        assert_loss_gradient_close=assert_loss_gradient_close,
        lstsq_fit=lstsq_fit,
        plain_gradient_descent=plain_gradient_descent,
        peak_traced_memory=peak_traced_memory,
        readonly_memmap=readonly_memmap,
    )
