"""The benchmarks' timer: medians of interleaved rounds, per call."""

from __future__ import annotations

import itertools
import time

from fastlinreg._timing import interleaved_medians, paired_ratio


def test_fast_candidates_are_batched_and_timed_per_call():
    calls = {"fast": 0, "slow": 0}

    def fast() -> None:
        calls["fast"] += 1

    def slow() -> None:
        calls["slow"] += 1
        time.sleep(0.01)

    t = interleaved_medians({"fast": fast, "slow": slow}, repeat=3, batch=0.002)
    assert calls["slow"] == 1 + 3  # warm-up, then once per round
    assert calls["fast"] > 10 * calls["slow"]  # many calls per round
    assert t["slow"] >= 0.01
    assert t["fast"] < t["slow"] / 10  # a time per call, not per batch


def test_batch_zero_calls_each_candidate_once_per_round():
    calls = []
    interleaved_medians({"a": lambda: calls.append("a")}, repeat=4, batch=0.0)
    assert len(calls) == 1 + 4


def test_paired_ratio_times_only_the_pair():
    called = set()

    def make(name: str, seconds: float):
        def fn() -> None:
            called.add(name)
            time.sleep(seconds)

        return fn

    cands = {
        "one": make("one", 0.02),
        "all": make("all", 0.01),
        "other": make("other", 0),
    }
    seconds, ratio = paired_ratio(cands, "one", "all", repeat=3)
    assert called == {"one", "all"}
    assert set(seconds) == {"one", "all"}
    assert ratio == seconds["one"] / seconds["all"]
    assert 1.1 < ratio < 3.0  # 20 ms against 10 ms, with a sleep's slack
    called.clear()
    seconds, _ = paired_ratio(cands, "one", "all", repeat=3, also=["other"])
    assert called == set(seconds) == {"one", "all", "other"}


def test_settle_waits_before_each_turn_untimed():
    stamps: list[tuple[str, float]] = []

    def make(name: str):
        return lambda: stamps.append((name, time.perf_counter()))

    t = interleaved_medians(
        {"a": make("a"), "b": make("b")}, repeat=3, batch=0.0, settle=0.03
    )
    timed = stamps[2:]  # after the warm-up round
    assert [name for name, _ in timed] == ["a", "b"] * 3
    gaps = [b[1] - a[1] for a, b in itertools.pairwise(timed)]
    assert min(gaps) >= 0.03  # a wait before every turn...
    assert max(t.values()) < 0.03  # ...that is not part of the time
