"""Free-threaded CPython: the compiled module keeps the GIL off, and the kernels
give the same answers when called from many threads at once.

setup.py declares the extension ``freethreading_compatible``; were that missing,
a free-threaded interpreter would turn the GIL back on when it imports
``fastlinreg._kernels`` (with a RuntimeWarning). The thread test runs on every
interpreter; on a free-threaded one it is a real race test.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
import threading

import numpy as np
import pytest

import fastlinreg

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
needs_free_threading = pytest.mark.skipif(
    not FREE_THREADED, reason="needs a free-threaded CPython build (3.14t)"
)


@needs_free_threading
def test_gil_stays_disabled_after_import():
    import fastlinreg._kernels  # noqa: F401  (the compiled module itself)

    assert sys._is_gil_enabled() is False


@needs_free_threading
def test_gil_stays_disabled_in_a_fresh_interpreter():
    env = {k: v for k, v in os.environ.items() if k != "PYTHON_GIL"}
    code = (
        "import sys, fastlinreg, fastlinreg._kernels; "
        "print(sys._is_gil_enabled(), fastlinreg.available_backends())"
    )
    done = subprocess.run(
        [sys.executable, "-W", "error::RuntimeWarning", "-c", code],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split()[0] == "False", done.stdout + done.stderr


def test_concurrent_calls_agree_with_serial(backend):
    """Many threads calling the kernel and fitting at once get the serial answers."""
    X, y = fastlinreg.make_regression(n_samples=3000, n_features=4, random_state=1)
    coefs = [np.linspace(-1.0, 1.0, 4) * k for k in range(8)]
    expected = [
        fastlinreg.loss_gradient(X, y, c, 0.5, backend=backend, n_jobs=1) for c in coefs
    ]
    expected_fit = fastlinreg.LinearRegression(backend=backend).fit(X, y).coef_
    n_threads = 8
    barrier = threading.Barrier(n_threads)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                for c, (loss, grad, gb) in zip(coefs, expected, strict=True):
                    got = fastlinreg.loss_gradient(
                        X, y, c, 0.5, backend=backend, n_jobs=1
                    )
                    assert got[0] == loss
                    np.testing.assert_array_equal(got[1], grad)
                    assert got[2] == gb
            fit = fastlinreg.LinearRegression(backend=backend).fit(X, y)
            np.testing.assert_array_equal(fit.coef_, expected_fit)
        except BaseException as exc:  # handed to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
