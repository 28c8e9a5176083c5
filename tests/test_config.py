"""fastlinreg.show_config() and ``fastlinreg config``: what the build says of itself."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import fastlinreg
from fastlinreg import _backend
from fastlinreg.cli import main

SECTIONS = ["fastlinreg", "kernels", "machine", "python", "dependencies"]


def test_dicts_describe_the_kernels_that_run():
    info = fastlinreg.show_config(mode="dicts")
    assert list(info) == SECTIONS
    kernels = info["kernels"]
    assert kernels["compiled"] == ("cython" in fastlinreg.available_backends())
    assert kernels["default backend"] == fastlinreg.available_backends()[0]
    assert info["fastlinreg"]["version"] == fastlinreg.__version__
    assert info["dependencies"]["numpy"] == np.__version__
    # The report is plain data: it survives JSON.
    assert json.loads(json.dumps(info)) == info


def test_compiled_build_reports_openmp_and_threads(cython_kernels):
    kernels = fastlinreg.show_config(mode="dicts")["kernels"]
    assert kernels["openmp"] is cython_kernels.HAS_OPENMP
    assert kernels["threads (n_jobs=None)"] == cython_kernels.max_threads()
    if cython_kernels.HAS_OPENMP:
        # _OPENMP is yyyymm of the specification: 2.5 (2005) or later.
        assert int(kernels["openmp version"]) >= 200505
    else:
        assert kernels["openmp version"] is None
    assert kernels["compiler"] not in ("", "unknown")
    version = tuple(map(int, kernels["cython"].split(".")))
    assert len(version) == 3
    assert version >= (3, 1, 0)


def test_openmp_line_says_yes_or_serial(capsys, cython_kernels):
    fastlinreg.show_config()
    out = capsys.readouterr().out
    line = next(s for s in out.splitlines() if s.strip().startswith("openmp:"))
    want = "yes" if cython_kernels.HAS_OPENMP else "no (serial build: one thread)"
    assert line.split(":", 1)[1].strip() == want


def test_without_the_extension_it_says_why_and_does_not_warn(monkeypatch, capsys):
    monkeypatch.setattr(_backend, "_cython_kernels", None)
    monkeypatch.setattr(_backend, "_IMPORT_ERROR", ImportError("simulated"))
    monkeypatch.setattr(_backend, "_fallback_warned", False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = fastlinreg.show_config(mode="dicts")
        fastlinreg.show_config()
    kernels = info["kernels"]
    assert kernels["compiled"] is False
    assert kernels["import error"] == "simulated"
    assert kernels["default backend"] == "numpy"
    assert kernels["threads (n_jobs=None)"] == 1
    assert "compiler" not in kernels
    assert "import error:           simulated" in capsys.readouterr().out
    # Reporting is not using: the one fallback warning is still to come.
    assert _backend._fallback_warned is False


@pytest.mark.parametrize(
    ("value", "compiled", "want"),
    [
        ("numpy", True, "numpy (from FASTLINREG_BACKEND)"),
        ("Cython", True, "cython (from FASTLINREG_BACKEND)"),
        (
            "cython",
            False,
            "cython (from FASTLINREG_BACKEND; unavailable: fits raise ImportError)",
        ),
        ("auto", True, "cython"),
        ("auto", False, "numpy"),
        ("gpu", True, "invalid FASTLINREG_BACKEND='gpu'"),
    ],
)
def test_default_backend_follows_the_environment(monkeypatch, value, compiled, want):
    if not compiled:
        monkeypatch.setattr(_backend, "_cython_kernels", None)
    elif _backend._cython_kernels is None:
        pytest.skip("needs the compiled kernels")
    monkeypatch.setenv("FASTLINREG_BACKEND", value)
    assert fastlinreg.show_config(mode="dicts")["kernels"]["default backend"] == want


def test_bad_mode_raises():
    with pytest.raises(ValueError, match="mode must be 'stdout' or 'dicts'"):
        fastlinreg.show_config(mode="json")  # type: ignore[call-overload]


def test_cli_config_prints_the_report(capsys):
    assert main(["config"]) == 0
    out = capsys.readouterr().out
    assert [s[:-1] for s in out.splitlines() if not s.startswith(" ")] == SECTIONS
    assert main(["config", "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == fastlinreg.show_config(mode="dicts")
