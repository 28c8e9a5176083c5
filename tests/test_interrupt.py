"""Ctrl-C during a long fit: KeyboardInterrupt within 0.5 s, a usable
interpreter afterwards, and an estimator left unfitted (or as it was).

Each case runs in a child interpreter (``sys.executable -c``) that builds a
few million rows and starts a fit that would run for minutes (``tol=0``, a
huge ``max_iter``). The child prints a marker from the fit's callback once the
iterations run; the parent then waits a little, records the time and sends
SIGINT. The child records when KeyboardInterrupt reaches it; both clocks are
``time.monotonic()`` (CLOCK_MONOTONIC, system-wide on Linux and macOS), so
the difference is the latency. The kernels run without the GIL; called from
the main thread, they look for a pending signal between row chunks (at most
every 50 ms), so the latency is at most that or one kernel call (a pass over
the data, about 10 ms here); the last tests interrupt a single long kernel
call, on one thread and on two.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from typing import Any

import pytest

import fastlinreg

pytestmark = pytest.mark.skipif(
    sys.platform == "win32", reason="POSIX signals (SIGINT to a child process)"
)

LATENCY = 0.5  # seconds

CHILD = r"""
import json, sys, time
import numpy as np
import fastlinreg

case = json.loads(sys.argv[1])
n, d = case.pop("n_rows"), case.pop("n_features")
refit = case.pop("refit")
rng = np.random.default_rng(0)
X = rng.standard_normal((n, d))
y = X @ np.arange(1.0, d + 1) + 0.5 + rng.standard_normal(n)
# The long fit: nearly collinear columns (condition number ~1e6), so that
# gradient descent with tol=0 runs for minutes rather than reaching the
# rounding floor in a few steps.
X_slow = X.copy()
X_slow[:, 1:] = X[:, :1] + 1e-3 * X[:, 1:]
y_slow = X_slow @ np.arange(1.0, d + 1) + 0.5 + rng.standard_normal(n)

model = fastlinreg.LinearRegression(**case)
before = None
if refit:  # a fitted model, refitted: an interrupt must leave the first fit
    model.set_params(max_iter=50, tol=1e-8)
    model.fit(X_slow[:1000], y_slow[:1000])
    before = model.coef_.tolist(), float(model.intercept_), model.n_iter_
    model.set_params(max_iter=case["max_iter"], tol=case["tol"])

calls = []
def callback(info):
    calls.append(info.iteration)
    if len(calls) == 3:  # iterating: past validation and the first pass
        print("STARTED", time.monotonic(), flush=True)

model.set_params(callback=callback)
report = {"interrupted": False}
try:
    model.fit(X_slow, y_slow)
except KeyboardInterrupt:
    report["caught"] = time.monotonic()
    report["interrupted"] = True
report["iterations"] = len(calls)
report["fitted"] = hasattr(model, "coef_")
if report["fitted"]:
    report["state"] = model.coef_.tolist(), float(model.intercept_), model.n_iter_
    report["consistent"] = (
        model.coef_.shape == (model.n_features_in_,)
        and len(model.loss_curve_) == model.n_iter_ + 1
        and bool(np.isfinite(model.coef_).all())
    )
report["before"] = before
print("REPORT", json.dumps(report), flush=True)

# The interpreter (and the kernels, and OpenMP) still work.
after = fastlinreg.LinearRegression(backend=case["backend"], n_jobs=case["n_jobs"])
after.fit(X[:20_000], y[:20_000])
print("AFTER", json.dumps([after.coef_.tolist(), float(after.intercept_)]), flush=True)
"""


def reader(stream: Any, lines: queue.Queue[str | None]) -> None:
    for line in stream:
        lines.put(line)
    lines.put(None)


def wait_for(lines: queue.Queue[str | None], prefix: str, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError(f"no {prefix!r} line within {timeout} s")
        line = lines.get(timeout=left)
        if line is None:
            raise AssertionError(f"the child ended before printing {prefix!r}")
        if line.startswith(prefix):
            return line[len(prefix) :].strip()


def start_child(
    code: str, *args: str
) -> tuple[subprocess.Popen[str], queue.Queue[str | None]]:
    """A child interpreter running ``code``; its stdout lines, as they come."""
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=reader, args=(proc.stdout, lines), daemon=True).start()
    return proc, lines


def interrupt_a_fit(case: dict[str, Any]) -> tuple[float, dict[str, Any], list]:
    """Run the child, SIGINT it while it iterates; (latency, report, after)."""
    proc, lines = start_child(CHILD, json.dumps(case))
    try:
        wait_for(lines, "STARTED", timeout=120)
        time.sleep(0.3)  # well inside the iterations (and inside a kernel call)
        sent = time.monotonic()
        proc.send_signal(signal.SIGINT)
        report = json.loads(wait_for(lines, "REPORT", timeout=60))
        after = json.loads(wait_for(lines, "AFTER", timeout=60))
        assert proc.wait(timeout=60) == 0, proc.stderr.read() if proc.stderr else ""
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert report["interrupted"], report
    latency = report["caught"] - sent
    print(f"KeyboardInterrupt {latency * 1e3:.1f} ms after SIGINT ({case})")
    return latency, report, after


BACKENDS = fastlinreg.available_backends()
LONG = {"tol": 0.0, "max_iter": 10**9, "n_rows": 3_000_000, "n_features": 2}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize(
    "case",
    [
        {"precompute": False, "n_jobs": 1},
        {"precompute": False, "n_jobs": 2},
        {"precompute": False, "n_jobs": 1, "learning_rate": 0.01},
        {"precompute": True, "n_jobs": 2, "learning_rate": 0.01},
    ],
    ids=["streaming", "streaming-2-threads", "fixed-step", "statistics"],
)
def test_keyboard_interrupt_stops_a_long_fit(backend, case):
    case = {**LONG, "backend": backend, "refit": False, **case}
    latency, report, after = interrupt_a_fit(case)
    assert latency < LATENCY, f"KeyboardInterrupt {latency:.3f} s after SIGINT"
    assert report["iterations"] >= 3
    # Unfitted: fit sets its attributes all at once, at the end.
    assert not report["fitted"], report
    # The interpreter goes on: a new fit in the same process is right.
    coef, intercept = after
    assert coef == pytest.approx([1.0, 2.0], abs=0.05)
    assert intercept == pytest.approx(0.5, abs=0.05)


@pytest.mark.parametrize("backend", BACKENDS)
def test_an_interrupted_refit_keeps_the_previous_fit(backend):
    case = {**LONG, "backend": backend, "refit": True, "precompute": False}
    case["n_jobs"] = 2
    latency, report, _ = interrupt_a_fit(case)
    assert latency < LATENCY, f"KeyboardInterrupt {latency:.3f} s after SIGINT"
    assert report["fitted"]
    assert report["consistent"]
    assert report["state"] == report["before"]  # exactly the first fit


ONE_PASS = r"""
import os, sys, threading, time
import numpy as np
from fastlinreg import _kernels

# One long kernel call: Huber's loss with its Hessian (d² products a row, in
# the kernel's own loop below 64 features). The pass must outlast the 50 ms
# between looks by far: the rows double until one pass takes 0.6 s here.
n_threads = int(sys.argv[1])
d = 48
def make(n):
    X = np.ones((n, d))
    X[:, ::2] = 2.0
    return X, np.ones(n), np.empty((d + 1, d + 1)), np.empty(d)
def one_pass():
    _kernels.robust_loss_gradient(
        X, y, np.empty(0), np.full(d, 0.1), 0.0, np.zeros(d), 0.0,
        2, 10.0, 0.5, 0.0, g, H, n_threads,
    )
def timed_pass():
    t0 = time.monotonic()
    one_pass()
    return time.monotonic() - t0
n = 500_000
X, y, H, g = make(n)
while timed_pass() < 0.6 and n < 4_000_000:
    n *= 2
    X, y, H, g = make(n)
def run():
    print("PID", os.getpid(), flush=True)
    print("PASS", timed_pass(), flush=True)
    print("STARTED", time.monotonic(), flush=True)
    try:
        one_pass()
        print("CAUGHT none", flush=True)
    except KeyboardInterrupt:
        print("CAUGHT", time.monotonic(), flush=True)

if sys.argv[2] == "main":
    run()
else:  # in a process forked from a thread that is not the main thread
    def fork_and_run():
        pid = os.fork()
        if pid == 0:
            try:
                run()
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
    worker = threading.Thread(target=fork_and_run)
    worker.start()
    worker.join()
"""


@pytest.mark.skipif("cython" not in BACKENDS, reason="the compiled kernels")
@pytest.mark.parametrize(
    ("n_threads", "where"),
    [
        (1, "main"),
        (2, "main"),
        pytest.param(
            1,
            "forked-from-thread",
            marks=pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork"),
        ),
    ],
)
def test_keyboard_interrupt_inside_one_kernel_call(n_threads: int, where: str) -> None:
    """The kernels look for Ctrl-C between chunks: a signal early in a long
    pass is raised well before the pass would have ended. Also in a process
    forked from a thread other than the main one: there, the thread that
    forked is the child's main thread, which Python runs signal handlers in."""
    proc, lines = start_child(ONE_PASS, str(n_threads), where)
    try:
        pid = int(wait_for(lines, "PID", timeout=60))
        pass_time = float(wait_for(lines, "PASS", timeout=120))
        wait_for(lines, "STARTED", timeout=60)
        time.sleep(0.1 * pass_time)
        sent = time.monotonic()
        os.kill(pid, signal.SIGINT)
        caught = wait_for(lines, "CAUGHT", timeout=60)
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert caught != "none", "the pass ended without KeyboardInterrupt"
    latency = float(caught) - sent
    print(f"KeyboardInterrupt {latency * 1e3:.1f} ms into a {pass_time:.2f} s pass")
    # Thread 0 looks every 50 ms; without looking the latency would be ~0.9.
    assert latency < 0.5 * pass_time
