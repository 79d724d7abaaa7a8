"""The checks' stable phase: each check on its own place in its interval (the same in every process), its
first run here from its last run anywhere, and later rounds back on that place. The clocks are arguments."""

from __future__ import annotations

import asyncio
import itertools
import math
from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from siaga.checks.base import Observation, ProbeContext
from siaga.checks.scheduler import Scheduler, first_run_in, nearest_point, next_point, phase_of
from siaga.config.checks import TcpCheck

WALL = 1_800_000_000.0  # a wall-clock time (epoch seconds) for the tests


def on_grid(t: float, interval: float, phase: float) -> bool:
    k = (t - phase * interval) / interval
    return math.isclose(k, round(k), abs_tol=1e-6)


def test_the_phase_is_stable_and_in_the_interval() -> None:
    # the same in every process and every run (a hash of the id, not Python's salted hash)
    assert phase_of("s1-tcp") == phase_of("s1-tcp")
    assert round(phase_of("portal-http"), 12) == round(phase_of("portal-http"), 12)
    assert phase_of("portal-http") != phase_of("berita-http")
    assert all(0.0 <= phase_of(f"s{i}-tcp") < 1.0 for i in range(1000))


def test_20000_checks_at_one_interval_spread_evenly_over_its_seconds() -> None:
    per_second = Counter(int(phase_of(f"s{i}-tcp") * 60) for i in range(20_000))
    assert len(per_second) == 60
    # 333 a second on average; a burst (everything in one second) would be 20,000
    assert max(per_second.values()) < 420 and min(per_second.values()) > 250, per_second.most_common(2)


@given(st.floats(0, 1e9), st.sampled_from([1.0, 10.0, 60.0, 300.0, 86400.0]), st.floats(0, 0.999999))
def test_phase_points(t: float, interval: float, phase: float) -> None:
    near, nxt = nearest_point(t, interval, phase), next_point(t, interval, phase)
    assert on_grid(near, interval, phase) and on_grid(nxt, interval, phase)
    assert abs(near - t) <= interval / 2 + 1e-6
    assert t - 1e-6 <= nxt < t + interval + 1e-6


def test_a_check_never_run_runs_within_the_catch_up_window_at_its_phase() -> None:
    phase = 0.75
    assert first_run_in(60.0, phase, WALL, None, 10.0) == 7.5
    assert first_run_in(5.0, phase, WALL, None, 10.0) == 3.75  # a short interval: within that interval
    assert first_run_in(86400.0, phase, WALL, None, 10.0) == 7.5  # a long one does not wait a day
    assert first_run_in(60.0, phase, WALL, None, 0.0) == 0.0  # no window: at once


def test_a_check_silent_two_intervals_catches_up_like_one_never_run() -> None:
    assert first_run_in(60.0, 0.5, WALL, 120.0, 10.0) == 5.0
    assert first_run_in(60.0, 0.5, WALL, 3600.0, 10.0) == 5.0


def test_a_check_that_missed_one_run_runs_at_once() -> None:
    # its share was held by a process that died: spread again, it could wait up to two intervals in all
    assert first_run_in(60.0, 0.99, WALL, 60.0, 10.0) == 0.0
    assert first_run_in(60.0, 0.99, WALL, 119.9, 10.0) == 0.0


@given(st.floats(0, 0.999999), st.floats(0, 59.999), st.sampled_from([10.0, 60.0]))
def test_a_check_that_ran_within_its_interval_keeps_its_phase(phase: float, age: float, interval: float) -> None:
    age = age % interval
    in_s = first_run_in(interval, phase, WALL, age, 10.0)
    at = WALL + in_s
    assert in_s >= 0.0
    assert on_grid(at, interval, phase) or in_s == 0.0
    last = WALL - age
    # never right after the last run (no double run when a share moves), never more than 1.5 intervals after it
    assert at >= min(last + interval / 2, WALL + interval) - 1e-6 or in_s == 0.0
    assert at <= last + 1.5 * interval + 1e-6


def test_a_share_taken_over_runs_each_check_one_interval_after_its_last_run() -> None:
    # the last holder ran the check on its phase point; the new holder, 3 s later, runs it at the next point
    interval, phase = 60.0, phase_of("s7-tcp")
    ran_at = next_point(WALL, interval, phase)
    now = ran_at + 3.0
    assert math.isclose(now + first_run_in(interval, phase, now, now - ran_at, 10.0), ran_at + interval)


class _Probe:
    def __init__(self, i: int, interval: float) -> None:
        self.check = TcpCheck(service=f"s{i}", type="tcp", host="127.0.0.1", port=9, interval_s=interval)

    async def probe(self, ctx: ProbeContext) -> Observation:
        return Observation(latency_ms=1.0, message="open")


def test_a_start_spreads_checks_never_run_over_the_catch_up_window() -> None:
    mono = [100.0]

    async def go() -> list[float]:
        sched = Scheduler([], ProbeContext(), lambda r: 60.0, catch_up_s=10.0,
                          monotonic=lambda: mono[0], wall=lambda: WALL)
        for i in range(1000):
            sched.add(_Probe(i, 60.0))
        return [due - mono[0] for due, *_ in sched._heap]

    dues = asyncio.run(go())
    assert all(0.0 <= d < 10.0 for d in dues)
    per_second = Counter(int(d) for d in dues)
    assert max(per_second.values()) < 150, per_second  # ~100 a second, not 1,000 at once


def test_a_regular_round_lands_back_on_the_phase() -> None:
    mono = [100.0]
    offset = WALL - mono[0]

    async def go() -> float:
        sched = Scheduler([], ProbeContext(), lambda r: 60.0, catch_up_s=10.0,
                          monotonic=lambda: mono[0], wall=lambda: mono[0] + offset)
        sched.add(_Probe(3, 60.0))  # its catch-up run, off its phase
        entry = sched._entries["s3-tcp"]
        due = sched._heap[0][0]
        sched._heap.clear()
        mono[0] = due
        await sched._attempt(entry, due)
        return sched._heap[0][0]

    nxt = asyncio.run(go())
    phase = phase_of("s3-tcp")
    assert on_grid(nxt + offset, 60.0, phase)
    assert 30.0 <= nxt - (100.0 + phase * 10.0) <= 90.0


class _Waiting(_Probe):
    gate: asyncio.Event

    async def probe(self, ctx: ProbeContext) -> Observation:
        await self.gate.wait()
        return Observation(latency_ms=1.0, message="open")


def test_a_round_due_at_once_starts_a_bounded_burst_per_turn_of_the_loop() -> None:
    async def go() -> list[int]:
        _Waiting.gate = asyncio.Event()
        sched = Scheduler([], ProbeContext(), lambda r: 60.0, burst=64)
        for i in range(300):
            sched.add(_Waiting(i, 60.0), at_once=True)
        stop = asyncio.Event()
        task = asyncio.create_task(sched.run(stop))
        seen = []
        for _ in range(6):
            await asyncio.sleep(0)  # one turn of the loop: the dispatcher's pass, then the others' callbacks
            seen.append(sched.in_flight)
        _Waiting.gate.set()
        stop.set()
        await task
        return seen

    seen = asyncio.run(go())
    assert seen[0] == 64 and seen[-1] == 300, seen
    assert all(b - a <= 64 for a, b in itertools.pairwise(seen)), seen
