"""What this installation of fastlinreg runs with: :func:`show_config`."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any, Literal, overload

import numpy as np

from . import _backend
from ._version import __version__

__all__ = ["show_config"]

# Packages fastlinreg uses when they are installed (versions are read from the
# installed metadata: nothing is imported).
_OPTIONAL = ("scikit-learn", "dask", "distributed", "matplotlib", "pandas")


def _installed_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _numpy_blas() -> str | None:
    """Name (and version) of the BLAS NumPy was built against, when it says."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
    except Exception:  # NumPy < 1.26 prints only; layouts differ by version
        return None
    name, version = blas.get("name"), blas.get("version")
    if not name:
        return None
    return f"{name} {version}" if version else str(name)


def _default_backend() -> str:
    """The backend ``backend="auto"`` resolves to, without warning about it."""
    env = os.environ.get(_backend.ENV_VAR, "").strip().lower()
    if env and env != "auto":
        if env not in _backend.BACKENDS:
            return f"invalid {_backend.ENV_VAR}={env!r}"
        if env == "numpy" or _backend._cython_kernels is not None:
            return f"{env} (from {_backend.ENV_VAR})"
        return f"{env} (from {_backend.ENV_VAR}; unavailable: fits raise ImportError)"
    return "cython" if _backend._cython_kernels is not None else "numpy"


def _config() -> dict[str, dict[str, Any]]:
    compiled = _backend._cython_kernels
    kernels: dict[str, Any] = {
        "compiled": compiled is not None,
        "default backend": _default_backend(),
    }
    if compiled is None:
        kernels["import error"] = str(_backend._IMPORT_ERROR)
        threads = 1
    else:
        kernels.update(compiled.BUILD_INFO)
        threads = compiled.max_threads()
    kernels["threads (n_jobs=None)"] = threads
    return {
        "fastlinreg": {
            "version": __version__,
            "location": os.path.dirname(os.path.abspath(__file__)),
        },
        "kernels": kernels,
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
        },
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
        },
        "dependencies": {
            "numpy": np.__version__,
            "numpy blas": _numpy_blas(),
            "threadpoolctl": _installed_version("threadpoolctl"),
            **{name: _installed_version(name) for name in _OPTIONAL},
        },
    }


@overload
def show_config(mode: Literal["stdout"] = ...) -> None: ...
@overload
def show_config(mode: Literal["dicts"]) -> dict[str, dict[str, Any]]: ...


def show_config(
    mode: Literal["stdout", "dicts"] = "stdout",
) -> dict[str, dict[str, Any]] | None:
    """Show how this installation was built and what it will run with.

    Says whether the compiled kernels import (and why not when they do not),
    which backend ``backend="auto"`` picks, whether the kernels were built
    with OpenMP and how many threads they use by default (``n_jobs=None``
    honours ``OMP_NUM_THREADS``), the compiler and instruction set of the
    build, and the versions of Python, NumPy (with its BLAS, which fits of
    64 or more features use) and of the optional dependencies.

    Parameters
    ----------
    mode : {"stdout", "dicts"}, default="stdout"
        ``"stdout"`` prints a report; ``"dicts"`` returns it as a dict of
        sections (each a dict; a missing optional package is ``None``).

    Returns
    -------
    dict or None
        The report when ``mode="dicts"``, else None.

    Examples
    --------
    >>> import fastlinreg
    >>> info = fastlinreg.show_config(mode="dicts")
    >>> info["kernels"]["compiled"] in (True, False)
    True
    """
    if not isinstance(mode, str) or mode not in ("stdout", "dicts"):
        raise ValueError(f"mode must be 'stdout' or 'dicts', got {mode!r}")
    config = _config()
    if mode == "dicts":
        return config
    for section, items in config.items():
        print(f"{section}:")
        for key, value in items.items():
            if key == "openmp" and value is not None:
                value = "yes" if value else "no (serial build: one thread)"
            elif value is None:
                value = "-"
            print(f"  {key + ':':24s}{value}")
    return None
