"""The benchmark timer's protocol: blocks open with untimed calls, then time a loop."""

from __future__ import annotations

import math

import pytest

from xconv._bench import timing


class FakeClock:
    """``time.perf_counter`` and ``time.sleep`` of a test: each call of :meth:`run`
    takes ``step`` seconds, and nothing else takes any."""

    def __init__(self, step: float) -> None:
        self.now = 0.0
        self.step = step
        self.calls = 0

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def run(self) -> None:
        self.calls += 1
        self.now += self.step


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock(step=0.03)
    monkeypatch.setattr(timing.time, "perf_counter", fake.perf_counter)
    monkeypatch.setattr(timing.time, "sleep", fake.sleep)
    return fake


def test_warm_up_runs_until_its_time_has_passed(clock: FakeClock) -> None:
    # 0.03 s calls: after 3 calls 0.09 s have passed, after the 4th 0.12 >= 0.1
    assert timing.warm_up(clock.run, first_call_s=0.03, warm_s=0.1) == 4
    assert clock.calls == 4


def test_warm_up_calls_once_at_least(clock: FakeClock) -> None:
    clock.step = 0.4
    assert timing.warm_up(clock.run, first_call_s=0.4, warm_s=0.1) == 1


def test_no_warm_up_for_slow_candidates(clock: FakeClock) -> None:
    assert timing.warm_up(clock.run, first_call_s=0.6, warm_s=0.1) == 0
    assert clock.calls == 0


def test_blocks_time_only_the_calls_after_the_warm_up(clock: FakeClock) -> None:
    timer = timing.Timer(blocks=3)
    t = timing.Timed("candidate", "numpy", clock.run, first_call_s=0.03)
    timer.time_all([t])
    inner = max(1, min(timing.MAX_INNER, round(timing.BLOCK_TARGET_S / 0.03)))
    per_block_warm = math.ceil(timing.WARM_S / 0.03 - 1e-9)  # 4 calls of 0.03 s for 0.1 s
    assert [len(b) for b in t.blocks] == [inner] * 3
    assert clock.calls == 3 * (per_block_warm + inner)
    assert all(v == pytest.approx(0.03) for b in t.blocks for v in b)
