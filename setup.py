"""Build the compiled kernels of fastlinreg.

Metadata lives in pyproject.toml; this file only describes the extension.

Environment variables
---------------------
FASTLINREG_STRICT_BUILD=1
    A failed compile is an error. Without it the build falls back, loudly, to a
    pure-Python package that runs the NumPy kernels. CI and cibuildwheel set it.
FASTLINREG_NO_OPENMP=1
    Build without OpenMP (the kernels then run on one thread).
FASTLINREG_OPENMP_PREFIX=/path/to/libomp
    macOS: where libomp is installed (its include/ and lib/). Without it
    Homebrew's keg (/opt/homebrew/opt/libomp, /usr/local/opt/libomp) is used
    when present; CPPFLAGS/LDFLAGS (or CPATH/LIBRARY_PATH) also work.
FASTLINREG_DEBUG=1
    Compile with Cython's bounds and wraparound checks on and no optimisation:
    for AddressSanitizer / valgrind runs, never for a release.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import sysconfig
import tempfile
import textwrap

from setuptools import setup
from setuptools.command.build_ext import build_ext


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


STRICT = _flag("FASTLINREG_STRICT_BUILD")
DEBUG = _flag("FASTLINREG_DEBUG")


def _openmp_flags(compiler_type: str) -> tuple[list[str], list[str]]:
    """Compile and link flags that enable OpenMP, or two empty lists."""
    if _flag("FASTLINREG_NO_OPENMP"):
        return [], []
    if compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang needs libomp (Homebrew: `brew install libomp`, a keg
        # outside the compiler's default search paths).
        cflags, ldflags = ["-Xpreprocessor", "-fopenmp"], ["-lomp"]
        prefix = _libomp_prefix()
        if prefix:
            cflags.append("-I" + os.path.join(prefix, "include"))
            ldflags.insert(0, "-L" + os.path.join(prefix, "lib"))
        return cflags, ldflags
    return ["-fopenmp"], ["-fopenmp"]


def _libomp_prefix() -> str | None:
    """macOS: FASTLINREG_OPENMP_PREFIX, else Homebrew's libomp if installed."""
    prefix = os.environ.get("FASTLINREG_OPENMP_PREFIX", "").strip()
    if prefix:
        return prefix
    for keg in ("/opt/homebrew/opt/libomp", "/usr/local/opt/libomp"):
        if os.path.isfile(os.path.join(keg, "include", "omp.h")):
            return keg
    return None


def _compiles_with(cc: list[str], cflags: list[str], ldflags: list[str]) -> bool:
    """True when a small OpenMP program compiles and links with these flags."""
    source = textwrap.dedent(
        """
        #include <omp.h>
        int main(void) { return omp_get_max_threads() > 0 ? 0 : 1; }
        """
    )
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "omp_test.c")
        with open(src, "w") as fh:
            fh.write(source)
        # The user's CPPFLAGS/CFLAGS/LDFLAGS take part, as in the real build.
        user = ("CPPFLAGS", "CFLAGS", "LDFLAGS")
        cpp, cfl, ldf = (shlex.split(os.environ.get(v, "")) for v in user)
        out = os.path.join(tmp, "omp_test")
        cmd = [*cc, *cpp, *cfl, *cflags, src, "-o", out, *ldflags, *ldf]
        try:
            done = subprocess.run(cmd, capture_output=True, check=False)
        except OSError:
            return False
        return done.returncode == 0


class BuildExt(build_ext):
    """build_ext that detects OpenMP and can fall back to pure Python."""

    def build_extensions(self) -> None:
        ctype = self.compiler.compiler_type
        cflags, ldflags = _openmp_flags(ctype)
        use_openmp = bool(cflags)
        if use_openmp and ctype != "msvc":
            cc = list(self.compiler.compiler_so[:1]) or [sysconfig.get_config_var("CC")]
            use_openmp = _compiles_with(cc, cflags, ldflags)
        if not use_openmp and cflags:
            print("fastlinreg: OpenMP not available, building serial kernels")
        for ext in self.extensions:
            if use_openmp:
                ext.extra_compile_args += cflags
                ext.extra_link_args += ldflags
            ext.define_macros.append(("FASTLINREG_OPENMP", "1" if use_openmp else "0"))
            if DEBUG and ctype != "msvc":
                ext.extra_compile_args += ["-O0", "-g", "-fno-omit-frame-pointer"]
        super().build_extensions()

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            if STRICT:
                raise
            _warn_fallback(exc)

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:
            if STRICT:
                raise
            _warn_fallback(exc)


def _warn_fallback(exc: BaseException) -> None:
    bar = "*" * 78
    print(
        f"\n{bar}\nfastlinreg: the compiled kernels failed to build ({exc!r}).\n"
        "The package will run the (slower) NumPy kernels. Set\n"
        "FASTLINREG_STRICT_BUILD=1 to make this an error.\n"
        f"{bar}\n",
        file=sys.stderr,
    )


# The compiled kernels, one extension module per family (src/fastlinreg/_kernels).
KERNEL_MODULES = ("_chunks", "_mse", "_gram", "_robust", "_cg", "_cd", "_scores")


def _extensions() -> list:
    try:
        import numpy as np
        from Cython.Build import cythonize
    except ImportError as exc:
        if STRICT:
            raise
        _warn_fallback(exc)
        return []
    from setuptools import Extension

    directives = {
        "language_level": 3,
        "boundscheck": DEBUG,
        "wraparound": DEBUG,
        "initializedcheck": DEBUG,
        "cdivision": True,
        "embedsignature": True,
        # Ready for free-threaded CPython; see _kernels/__init__.py for why.
        "freethreading_compatible": True,
    }
    kernels = os.path.join("src", "fastlinreg", "_kernels")
    exts = [
        Extension(
            f"fastlinreg._kernels.{name}",
            [os.path.join(kernels, f"{name}.pyx")],
            # flr_simd.h, flr_runtime.h
            include_dirs=[kernels, np.get_include()],
            define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_9_API_VERSION")],
        )
        for name in KERNEL_MODULES
    ]
    return cythonize(
        exts,
        compiler_directives=directives,
        include_path=[os.path.join("src")],
        quiet=True,
    )


setup(ext_modules=_extensions(), cmdclass={"build_ext": BuildExt})
