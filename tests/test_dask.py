"""Dask arrays, fitted on a real distributed cluster.

A ``distributed.LocalCluster`` with two worker processes on the loopback
interface (no dashboard) runs for the whole module; every fit is compared with
the in-memory fit of the same data. Skipped cleanly when dask or distributed
are missing (they are in the ``test`` extra, so CI runs these).
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")
distributed = pytest.importorskip("distributed")

from fastlinreg import LinearRegression  # noqa: E402
from fastlinreg._dask import FAN_IN, is_dask_collection  # noqa: E402
from fastlinreg._exceptions import DataConversionWarning  # noqa: E402

N, D = 20_000, 5
LAYOUTS = {
    "uneven": ((7, 993, 5000, 1, 9999, 4000), (D,)),
    "single": ((N,), (D,)),
    "many": ((250,) * 80, (D,)),
    "column_chunks": ((6000, 6000, 8000), (2, 3)),
    "with_empty_chunk": ((0, 10_000, 0, 10_000), (D,)),
}


@pytest.fixture(scope="module")
def client():
    with warnings.catch_warnings():
        # Start-up chatter of distributed is not what these tests are about.
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
        client = distributed.Client(cluster)
    try:
        yield client
    finally:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            client.close()
            cluster.close()


@pytest.fixture(scope="module")
def data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(N, D)) * rng.uniform(0.5, 10, D) + rng.uniform(-5, 5, D)
    y = X @ rng.uniform(-3, 3, D) + 2.5 + rng.normal(size=N)
    return X, y


def merge_tasks(n_chunks: int) -> int:
    """Tasks in the merge tree: each combines up to FAN_IN partial results."""
    count = 0
    while n_chunks > 1:
        groups = -(-n_chunks // FAN_IN)
        count += groups - (n_chunks % FAN_IN == 1)
        n_chunks = groups
    return count


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a - b)) / np.max(np.abs(b)))


def test_duck_typing_without_importing_dask(data):
    X, _ = data
    assert not is_dask_collection(X)
    assert not is_dask_collection([1.0, 2.0])
    assert is_dask_collection(da.from_array(X))


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_fit_on_the_cluster_equals_the_in_memory_fit(client, data, layout):
    X, y = data
    chunks = LAYOUTS[layout]
    Xd = da.from_array(X, chunks=chunks)
    yd = da.from_array(y, chunks=(chunks[0],))
    want = LinearRegression().fit(X, y)
    with distributed.get_task_stream(client) as stream:
        got = LinearRegression().fit(Xd, yd)
    assert relative_error(got.coef_, want.coef_) < 1e-10
    assert float(got.intercept_) == pytest.approx(float(want.intercept_), rel=1e-10)
    assert got.n_features_in_ == D
    assert got.precomputed_
    assert got.converged_
    # One statistics task per row chunk and a tree of merge tasks.
    names = [
        t["key"][0] if isinstance(t["key"], tuple) else t["key"] for t in stream.data
    ]
    n_chunks = len(chunks[0])
    assert sum(str(k).startswith("_chunk_stats") for k in names) == n_chunks
    merges = sum(str(k).startswith("_merge_stats") for k in names)
    assert merges == merge_tasks(n_chunks)


def test_fit_intercept_false_and_float32(client, data):
    X, y = data
    chunks = ((4000,) * 5, (D,))
    for params in ({"fit_intercept": False}, {"solver": "nesterov"}):
        want = LinearRegression(**params).fit(X, y)
        got = LinearRegression(**params).fit(da.from_array(X, chunks=chunks), y)
        assert relative_error(got.coef_, want.coef_) < 1e-10
    X32, y32 = X.astype(np.float32), y.astype(np.float32)
    got = LinearRegression().fit(da.from_array(X32, chunks=chunks), da.from_array(y32))
    want = LinearRegression().fit(X32, y32)
    assert got.coef_.dtype == np.float32
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=1e-6)


def test_per_iteration_path_one_task_per_chunk_per_evaluation(client, data, ref):
    X, y = data
    Xd = da.from_array(X, chunks=((5000,) * 4, (D,)))
    with distributed.get_task_stream(client) as stream:
        got = LinearRegression(precompute=False).fit(Xd, y)
    want = LinearRegression(precompute=False).fit(X, y)
    assert not got.precomputed_
    assert got.converged_
    coef, intercept = ref.lstsq_fit(X, y)
    np.testing.assert_allclose(got.coef_, coef, rtol=1e-6)
    np.testing.assert_allclose(got.coef_, want.coef_, rtol=1e-6)
    assert float(got.intercept_) == pytest.approx(intercept, rel=1e-6)
    keys = [str(t["key"]) for t in stream.data]
    evaluations = sum("_chunk_loss_grad" in k for k in keys)
    assert evaluations % 4 == 0
    assert evaluations // 4 >= got.n_iter_


def test_predict_is_lazy_and_score_matches(client, data):
    X, y = data
    model = LinearRegression().fit(X, y)
    Xd = da.from_array(X, chunks=((3000, 17000), (2, 3)))
    pred = model.predict(Xd)
    assert isinstance(pred, da.Array)
    assert pred.chunks == ((3000, 17000),)
    assert pred.dtype == np.float64
    np.testing.assert_allclose(pred.compute(), model.predict(X), rtol=1e-13)
    assert model.score(Xd, da.from_array(y)) == pytest.approx(
        model.score(X, y), rel=1e-12
    )
    assert model.score(Xd, y) == pytest.approx(model.score(X, y), rel=1e-12)
    pred32 = model.predict(Xd.astype(np.float32))
    assert pred32.dtype == np.float32
    assert pred32.compute().dtype == np.float32
    with pytest.raises(ValueError, match="X has 4 features"):
        model.predict(Xd[:, :4])


def test_partial_fit_mixes_dask_and_numpy_chunks(client, data):
    X, y = data
    model = LinearRegression()
    model.partial_fit(da.from_array(X[:12_000], chunks=5000), y[:12_000])
    model.partial_fit(X[12_000:15_000], y[12_000:15_000])
    model.partial_fit(da.from_array(X[15_000:]), da.from_array(y[15_000:]))
    want = LinearRegression().fit(X, y)
    assert relative_error(model.coef_, want.coef_) < 1e-10
    with pytest.raises(ValueError, match="X has 3 features"):
        model.partial_fit(da.from_array(X[:, :3]), y)


def test_input_that_needs_fixing_or_refusing(client, data):
    X, y = data
    Xd = da.from_array(X, chunks=5000)
    want = LinearRegression().fit(X, y)
    # y chunked differently from X's rows is rechunked; a column y flattened.
    got = LinearRegression().fit(Xd, da.from_array(y, chunks=3333))
    assert relative_error(got.coef_, want.coef_) < 1e-10
    with pytest.warns(DataConversionWarning):
        LinearRegression().fit(Xd, da.from_array(y[:, None], chunks=7000))
    # Integers become float64; a 1-D X is one feature.
    ints = LinearRegression().fit(da.from_array(np.arange(100)), np.arange(100) * 2.0)
    assert ints.coef_[0] == pytest.approx(2.0)
    bad = X.copy()
    bad[12_345, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        LinearRegression().fit(da.from_array(bad, chunks=5000), y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        LinearRegression().fit(Xd, y[:-1])
    unknown = Xd[da.from_array(y, chunks=5000) > 0]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        LinearRegression().fit(unknown, y)
    with pytest.raises(ValueError, match="Complex"):
        LinearRegression().fit(Xd.astype(np.complex128), y)


def test_any_active_scheduler(data):
    """Without the cluster: the threaded and synchronous local schedulers."""
    X, y = data
    want = LinearRegression().fit(X, y)
    for scheduler in ("threads", "sync"):
        with dask.config.set(scheduler=scheduler):
            got = LinearRegression().fit(da.from_array(X, chunks=3000), y)
        assert relative_error(got.coef_, want.coef_) < 1e-10


def test_dask_dataframe_keeps_feature_names(data):
    dd = pytest.importorskip("dask.dataframe")
    pd = pytest.importorskip("pandas")
    X, y = data
    frame = pd.DataFrame(X, columns=[f"x{j}" for j in range(D)])
    ddf = dd.from_pandas(frame, npartitions=3)
    with dask.config.set(scheduler="sync"):
        got = LinearRegression().fit(ddf, dd.from_pandas(pd.Series(y), npartitions=3))
    want = LinearRegression().fit(frame, y)
    assert list(got.feature_names_in_) == list(frame.columns)
    assert relative_error(got.coef_, want.coef_) < 1e-10


def test_penalised_fit_on_dask_equals_the_in_memory_fit(client):
    rng = np.random.default_rng(7)
    X = rng.normal(size=(3000, 5))
    y = X @ rng.normal(size=5) + rng.normal(size=3000)
    Xd, yd = da.from_array(X, chunks=700), da.from_array(y, chunks=700)
    params = {"penalty": "elasticnet", "alpha": 0.3, "l1_ratio": 0.7}
    on_dask = LinearRegression(**params).fit(Xd, yd)
    in_memory = LinearRegression(**params).fit(X, y)
    np.testing.assert_allclose(on_dask.coef_, in_memory.coef_, rtol=1e-10, atol=1e-14)
    assert (on_dask.coef_ == 0).sum() == (in_memory.coef_ == 0).sum()


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"loss": "huber"}, "not supported on Dask"),
        ({"alpha": 1.0, "precompute": False}, "sufficient statistics"),
    ],
)
def test_what_dask_arrays_cannot_fit_says_so(client, params, match):
    Xd = da.from_array(np.ones((100, 2)), chunks=50)
    yd = da.from_array(np.arange(100.0), chunks=50)
    with pytest.raises(ValueError, match=match):
        LinearRegression(**params).fit(Xd, yd)
    with pytest.raises(ValueError, match="sample_weight"):
        LinearRegression().fit(Xd, yd, sample_weight=np.ones(100))
