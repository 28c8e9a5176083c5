"""fork() after OpenMP: a child process must be able to fit.

GNU libgomp (GCC's OpenMP runtime, the one in the Linux wheels) keeps a pool
of worker threads after a parallel region; ``fork()`` copies the process but
not those threads, and a child that starts a parallel region of its own waits
for them for ever. fastlinreg therefore runs its kernels on one thread in a
forked child (``os.register_at_fork`` in ``_backend``; see its docstring):
the answers are bitwise the same, only slower. Processes started with
"spawn" or "forkserver" keep their threads.

Each scenario runs in a child interpreter with a timeout, so that a hang
fails the test instead of hanging pytest; inside it, every forked process is
waited for with its own deadline and killed if it hangs.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import fastlinreg

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork (POSIX)")

TIMEOUT = 180  # seconds for a whole scenario (each runs in a few seconds)

PRELUDE = textwrap.dedent(
    """
    import multiprocessing as mp
    import os
    import sys
    import threading
    import time

    import numpy as np

    import fastlinreg
    from fastlinreg import LinearRegression, _backend

    BACKEND = sys.argv[1]
    KERNELS = _backend.get_kernels(BACKEND)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200_000, 2))  # 400,000 elements: threaded
    y = X @ [1.0, 2.0] + 0.5 + rng.standard_normal(200_000)
    PARAMS = dict(backend=BACKEND, n_jobs=2, precompute=False, tol=1e-12)


    def fit():
        model = LinearRegression(**PARAMS).fit(X, y)
        return model.coef_.tolist(), float(model.intercept_), model.n_iter_


    def threads():
        return _backend.resolve_n_threads(2, KERNELS, X.size)


    def wait(pid, what, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                code = os.waitstatus_to_exitcode(status)
                assert code == 0, f"{what}: exit code {code}"
                return
            time.sleep(0.01)
        os.kill(pid, 9)
        os.waitpid(pid, 0)
        raise SystemExit(f"HANG: {what} did not finish within {timeout} s")


    def in_child(check):
        # Fork; in the child run check() (exit 0 if it returns True).
        pid = os.fork()
        if pid == 0:
            try:
                os._exit(0 if check() else 3)
            except BaseException:
                import traceback
                traceback.print_exc()
                os._exit(4)
        return pid


    # The parent runs threaded parallel regions first (libgomp starts its pool).
    PARENT = fit()
    if KERNELS.HAS_OPENMP:
        assert threads() == 2
    """
)

SCENARIOS = {
    "os.fork": """
        pid = in_child(lambda: fit() == PARENT and threads() == 1)
        wait(pid, "a child made by os.fork")
    """,
    "fork in a fork": """
        def grandchild():
            pid = in_child(lambda: fit() == PARENT and threads() == 1)
            wait(pid, "a grandchild")
            return fit() == PARENT
        wait(in_child(grandchild), "a child that forks")
    """,
    "multiprocessing fork Process": """
        ctx = mp.get_context("fork")
        queue = ctx.Queue()
        proc = ctx.Process(target=lambda: queue.put((fit(), threads())))
        proc.start()
        result = queue.get(timeout=60)
        proc.join(timeout=60)
        assert proc.exitcode == 0, proc.exitcode
        assert result == (PARENT, 1), result
    """,
    "multiprocessing fork Pool": """
        def work(seed):
            rng = np.random.default_rng(seed)
            Xs = rng.standard_normal((200_000, 2))
            ys = Xs @ [3.0, -1.0] + rng.standard_normal(200_000)
            model = LinearRegression(**PARAMS).fit(Xs, ys)
            return model.coef_.tolist(), threads()

        with mp.get_context("fork").Pool(2) as pool:
            got = pool.map_async(work, [1, 2, 3, 4]).get(timeout=120)
        for seed, (coef, n_threads) in zip([1, 2, 3, 4], got):
            assert n_threads == 1
            # The same answer as with threads, in the parent.
            assert coef == work(seed)[0], (coef, work(seed)[0])
    """,
    "fork during a parallel region": """
        # Another thread of the parent is inside threaded kernels while the
        # main thread forks.
        stop = threading.Event()

        def busy():
            while not stop.is_set():
                fastlinreg.loss_gradient(X, y, [0.0, 0.0], backend=BACKEND, n_jobs=2)

        worker = threading.Thread(target=busy)
        worker.start()
        try:
            for _ in range(5):
                time.sleep(0.02)
                wait(in_child(lambda: fit() == PARENT), "a child forked mid-region")
        finally:
            stop.set()
            worker.join()
    """,
    "spawn keeps threads": """
        if __name__ == "__main__":
            with mp.get_context("spawn").Pool(1) as pool:
                n_threads = pool.apply_async(threads).get(timeout=120)
            assert n_threads == (2 if KERNELS.HAS_OPENMP else 1), n_threads
    """,
}

EPILOGUE = """
# The parent still runs threaded kernels, with the same answer.
assert fit() == PARENT
if KERNELS.HAS_OPENMP:
    assert threads() == 2
print("OK")
"""


@pytest.mark.parametrize("backend", fastlinreg.available_backends())
@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_a_forked_child_can_fit(scenario, backend, tmp_path: Path):
    script = tmp_path / "fork_scenario.py"  # a file: "spawn" imports __main__
    body = textwrap.dedent(SCENARIOS[scenario])
    if scenario == "spawn keeps threads":
        script.write_text(PRELUDE + body + textwrap.indent(EPILOGUE, "    "))
    else:
        script.write_text(PRELUDE + body + EPILOGUE)
    proc = subprocess.Popen(
        [sys.executable, "-W", "ignore::DeprecationWarning", str(script), backend],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group: a hang is killed whole
    )
    try:
        stdout, stderr = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the scenario and every child of it
        stdout, stderr = proc.communicate()
        pytest.fail(f"{scenario}: hung (no result in {TIMEOUT} s): {stderr}")
    assert proc.returncode == 0, stdout + stderr
    assert stdout.strip().endswith("OK"), stdout + stderr


def test_the_fork_fallback_is_only_for_children(tmp_path: Path):
    """This process itself was not forked: it keeps its threads."""
    from fastlinreg import _backend

    if "cython" not in fastlinreg.available_backends():
        pytest.skip("no compiled kernels")
    kernels = _backend.get_kernels("cython")
    assert not _backend._in_forked_child
    want = 3 if kernels.HAS_OPENMP else 1
    assert _backend.resolve_n_threads(3, kernels, 1 << 20) == want
