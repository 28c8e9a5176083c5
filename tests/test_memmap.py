"""Out of core: memory-mapped X and y are read in place, never copied.

A 50 MB float32 X (with a float64 y: the kernels mix precisions) on disk: the
fit equals the in-memory fit bit for bit, on both paths (sufficient
statistics, and one pass per iteration), and the memory the fit allocates
stays a tiny fraction of the data. benchmarks/bench_memmap.py does the same
for a file of several gigabytes and measures resident anonymous memory.
"""

from __future__ import annotations

import numpy as np
import pytest

from fastlinreg import LinearRegression
from fastlinreg._validation import check_X, check_y

N, D = 1_250_000, 10  # 50 MB of float32
# A fit may allocate the statistics, per-thread partial sums, the solver's
# vectors: kilobytes. A copy of X would be 50 MB, of y 10 MB.
MAX_FIT_BYTES = 2 * 1024**2


@pytest.fixture(scope="module")
def on_disk(tmp_path_factory: pytest.TempPathFactory) -> tuple[np.memmap, np.memmap]:
    """(X, y) as read-only memory maps of files written block by block."""
    path = tmp_path_factory.mktemp("memmap")
    rng = np.random.default_rng(0)
    coef = np.linspace(-2, 3, D)
    X = np.memmap(path / "X.f32", dtype=np.float32, mode="w+", shape=(N, D))
    y = np.memmap(path / "y.f64", dtype=np.float64, mode="w+", shape=(N,))
    step = 100_000
    for lo in range(0, N, step):
        block = rng.normal(size=(min(step, N - lo), D)) * 3.0 + 1.5
        X[lo : lo + step] = block
        y[lo : lo + step] = block @ coef - 0.7 + rng.normal(size=block.shape[0])
    X.flush()
    y.flush()
    del X, y
    return (
        np.memmap(path / "X.f32", dtype=np.float32, mode="r", shape=(N, D)),
        np.memmap(path / "y.f64", dtype=np.float64, mode="r", shape=(N,)),
    )


def test_validation_keeps_the_maps(on_disk):
    X, y = on_disk
    assert np.shares_memory(check_X(X, finite=False), X)
    assert np.shares_memory(check_y(y, finite=False), y)


@pytest.mark.parametrize("precompute", [True, False])
def test_memmap_fit_equals_in_memory_fit_without_copies(on_disk, ref, precompute):
    X, y = on_disk
    models = {}
    peak = ref.peak_traced_memory(
        lambda: models.setdefault(
            "map", LinearRegression(precompute=precompute).fit(X, y)
        )
    )
    assert peak < MAX_FIT_BYTES, f"the fit allocated {peak / 2**20:.1f} MiB"
    on_disk_model = models["map"]
    in_memory = LinearRegression(precompute=precompute).fit(np.array(X), np.array(y))
    assert on_disk_model.converged_
    assert on_disk_model.coef_.dtype == np.float32
    np.testing.assert_array_equal(on_disk_model.coef_, in_memory.coef_)
    assert on_disk_model.intercept_ == in_memory.intercept_
    # The model the data were drawn from (standard errors ~3e-4).
    np.testing.assert_allclose(on_disk_model.coef_, np.linspace(-2, 3, D), atol=3e-3)
    assert float(on_disk_model.intercept_) == pytest.approx(-0.7, abs=1e-2)


def test_partial_fit_over_slices_of_the_map(on_disk):
    X, y = on_disk
    model = LinearRegression()
    for lo in range(0, N, 300_000):
        model.partial_fit(X[lo : lo + 300_000], y[lo : lo + 300_000])
    whole = LinearRegression().fit(X, y)
    np.testing.assert_allclose(model.coef_, whole.coef_, rtol=1e-6)
    assert float(model.intercept_) == pytest.approx(float(whole.intercept_), rel=1e-6)


def test_predict_and_score_read_the_map(on_disk, ref):
    X, y = on_disk
    model = LinearRegression().fit(X, y)
    peak = ref.peak_traced_memory(lambda: model.predict(X))
    # The predictions (float32, 5 MB) and nothing of the size of X.
    assert peak < 4 * N + MAX_FIT_BYTES
    assert model.score(X, y) > 0.9
