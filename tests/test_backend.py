"""Backend selection: the compiled kernels are in use, FASTLINREG_BACKEND, and
the fallback (with one BackendWarning) when the extension is missing."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import fastlinreg
from fastlinreg import LinearRegression, _backend

ENV = "FASTLINREG_BACKEND"


@pytest.fixture
def data():
    return fastlinreg.make_regression(n_samples=500, n_features=2, random_state=0)


def test_compiled_backend_in_use(data):
    """CI relies on this one: it fails (never skips) without the extension."""
    assert "cython" in fastlinreg.available_backends()
    assert fastlinreg.available_backends()[0] == "cython"
    assert LinearRegression().fit(*data).backend_ == "cython"


@pytest.mark.parametrize("value", ["numpy", " NumPy "])
def test_env_var_selects_numpy(monkeypatch, data, value):
    monkeypatch.setenv(ENV, value)
    assert LinearRegression().fit(*data).backend_ == "numpy"
    assert _backend.get_kernels() is _backend._numpy_kernels
    # An explicit backend wins over the environment.
    for name in fastlinreg.available_backends():
        assert LinearRegression(backend=name).fit(*data).backend_ == name


def test_env_var_auto_is_the_default(monkeypatch, data):
    monkeypatch.setenv(ENV, "auto")
    assert LinearRegression().fit(*data).backend_ == fastlinreg.available_backends()[0]


def test_invalid_env_var_raises(monkeypatch, data):
    monkeypatch.setenv(ENV, "gpu")
    with pytest.raises(ValueError, match=f"{ENV}.*'gpu'"):
        LinearRegression().fit(*data)
    with pytest.raises(ValueError, match=ENV):
        fastlinreg.loss_gradient(data[0], data[1], [0.0, 0.0])


def test_explicit_backends_agree(cython_kernels, data):
    fits = {b: LinearRegression(backend=b).fit(*data) for b in ("cython", "numpy")}
    assert {b: m.backend_ for b, m in fits.items()} == {
        "cython": "cython",
        "numpy": "numpy",
    }
    np.testing.assert_allclose(fits["cython"].coef_, fits["numpy"].coef_, rtol=1e-10)
    lg = {b: fastlinreg.loss_gradient(*data, [1.0, 2.0], 0.5, backend=b) for b in fits}
    assert lg["cython"][0] == pytest.approx(lg["numpy"][0], rel=1e-12)
    np.testing.assert_allclose(lg["cython"][1], lg["numpy"][1], rtol=1e-12)


def test_n_jobs_resolution(cython_kernels):
    big = 1 << 20
    assert _backend.resolve_n_threads(1, cython_kernels, big) == 1
    assert _backend.resolve_n_threads(None, cython_kernels, 10) == 1  # small input
    if cython_kernels.HAS_OPENMP:
        assert _backend.resolve_n_threads(3, cython_kernels, big) == 3
        assert _backend.resolve_n_threads(-1, cython_kernels, big) >= 1
    assert _backend.resolve_n_threads(4, _backend._numpy_kernels, big) == 1


class TestMissingExtension:
    @pytest.fixture(autouse=True)
    def _no_extension(self, monkeypatch):
        monkeypatch.setattr(_backend, "_cython_kernels", None)
        monkeypatch.setattr(_backend, "_IMPORT_ERROR", ImportError("simulated"))
        monkeypatch.setattr(_backend, "_fallback_warned", False)

    def test_auto_warns_once_and_falls_back(self, data):
        assert fastlinreg.available_backends() == ("numpy",)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            first = LinearRegression().fit(*data)
            second = LinearRegression().fit(*data)
            fastlinreg.loss_gradient(data[0], data[1], [0.0, 0.0])
        backend_warnings = [
            w for w in caught if w.category is fastlinreg.BackendWarning
        ]
        assert len(backend_warnings) == 1
        assert "NumPy fallback" in str(backend_warnings[0].message)
        assert first.backend_ == second.backend_ == "numpy"
        want = LinearRegression(backend="numpy").fit(*data)
        assert np.array_equal(first.coef_, want.coef_)

    def test_cython_request_raises_import_error(self, data):
        with pytest.raises(ImportError, match="backend='numpy'"):
            LinearRegression(backend="cython").fit(*data)
        with pytest.raises(ImportError, match="unavailable"):
            fastlinreg.loss_gradient(data[0], data[1], [0.0, 0.0], backend="cython")

    def test_numpy_request_does_not_warn(self, data):
        with warnings.catch_warnings():
            warnings.simplefilter("error", fastlinreg.BackendWarning)
            assert LinearRegression(backend="numpy").fit(*data).backend_ == "numpy"
