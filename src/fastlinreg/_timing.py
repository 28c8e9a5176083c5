"""Timing for the demo and the benchmarks: interleaved runs, medians.

The machines this runs on are shared and noisy; absolute times drift, but
ratios of candidates timed in turn, in one process, hold. So every candidate
runs once per round (after a warm-up round; a fast one several times in a
row) and the median per candidate is reported.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

__all__ = ["interleaved_medians", "paired_ratio"]


def interleaved_medians(
    candidates: Mapping[str, Callable[..., object]],
    *,
    repeat: int = 7,
    warmup: int = 1,
    min_time: float = 0.0,
    batch: float = 0.005,
    settle: float = 0.0,
) -> dict[str, float]:
    """Median wall time (seconds) of one call of each candidate, timed in turn.

    Parameters
    ----------
    candidates : mapping of name to zero-argument callable
    repeat : int, default=7
        Timed rounds (at least this many).
    warmup : int, default=1
        Untimed rounds first.
    min_time : float, default=0.0
        Keep adding rounds until the slowest candidate's total exceeds this.
    batch : float, default=0.005
        A candidate faster than this is called several times in a row per
        round (as many as fill ``batch`` seconds, from its warm-up time) and
        its time per call recorded: a single call of a few hundred
        microseconds right after another candidate would measure that
        candidate's cache pollution more than itself.
    settle : float, default=0.0
        Seconds of waiting (busy, not asleep: see ``_busy_wait``), not timed,
        before each candidate's turn in a timed round. A BLAS library keeps
        its idle threads spinning for a while after a call (OpenBLAS: about
        0.1 s); on a machine with few cores the next candidate, if it uses
        threads of another pool (scikit-learn's SciPy and NumPy each bring
        an OpenBLAS), competes with them for the cores and runs up to
        several times slower. Settling first times each candidate as it runs
        on a quiet machine.
    """
    calls = dict.fromkeys(candidates, 1)
    for _ in range(warmup):
        for name, fn in candidates.items():
            t0 = time.perf_counter()
            fn()
            elapsed = time.perf_counter() - t0
            calls[name] = max(1, min(1000, int(batch / max(elapsed, 1e-9))))
    times: dict[str, list[float]] = {name: [] for name in candidates}
    rounds = 0
    while rounds < repeat or max(sum(t) for t in times.values()) < min_time:
        for name, fn in candidates.items():
            k = calls[name]
            if settle > 0:
                _busy_wait(settle)
            t0 = time.perf_counter()
            for _ in range(k):
                fn()
            times[name].append((time.perf_counter() - t0) / k)
        rounds += 1
        if rounds >= 10 * max(repeat, 1):
            break
    return {name: float(np.median(t)) for name, t in times.items()}


def _busy_wait(seconds: float) -> None:
    """Wait without sleeping: a core that sleeps slows down, and a call timed
    right after a 20 ms sleep took up to 1.6x its time (a one-thread pass at
    1e7 x 1: 15.7 ms instead of 9.6)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def paired_ratio(
    candidates: Mapping[str, Callable[..., object]],
    first: str,
    second: str,
    *,
    repeat: int = 7,
    min_time: float = 0.0,
    settle: float = 0.3,
    turn_settle: float = 0.02,
    also: Sequence[str] = (),
) -> tuple[dict[str, float], float]:
    """Two of the candidates timed in rounds of their own: (medians, first/second).

    Thread scaling is timed this way: a candidate that uses BLAS leaves its
    threads spinning on the other cores for a while, which an all-threads run
    timed right after it would pay for (presumably waiting for a slice of a core
    they hold). The pair starts after ``settle`` seconds of sleep, when such
    threads have gone to sleep too, and each turn after ``turn_settle``
    seconds of waiting: OpenMP's idle threads spin too, after an all-threads
    call, and a one-thread call timed right after it measured up to twice
    its time (presumably the spinning thread shared the caller's core).
    ``repeat`` and ``min_time`` are :func:`interleaved_medians`'s; the
    candidates named in ``also`` run in the same rounds (their medians are
    returned too).
    """
    pair = {name: candidates[name] for name in (first, second, *also)}
    time.sleep(settle)
    seconds = interleaved_medians(
        pair, repeat=repeat, min_time=min_time, settle=turn_settle
    )
    return seconds, seconds[first] / seconds[second]
