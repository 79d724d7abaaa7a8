"""The scheduler: runs every check on its cadence, spread out, bounded, polite per host.

- A stable phase: each check has its own place in its interval (:func:`phase_of`, a hash of its id, the
  same in every process and run), and its regular runs fall on that phase on the wall clock
  (:func:`nearest_point`): 20,000 checks at 60 s make an even ~333 a second, in one process or shared by
  several, and a check that moves to another process keeps its place, so a share taken over does not run
  all at once.
- The first run here (:func:`first_run_in`): a check that ran within its interval (before a restart, or
  in the process that held it) runs at its next phase point, at least half an interval after that run; a
  check that missed one run (its last run one to two intervals ago: its share comes from a process that
  died, a quick restart) runs at once, within the bounds below; a check never run, or silent for two
  intervals or more, catches up within ``catch_up_s`` (at most its interval), spread over that window by
  its phase, so the status page knows every service within seconds of a start without the whole site
  starting in the same second; a check in doubt (a failure to confirm) runs at once.
- Cadence: the next run is planned from the previous *due* time, not from when it finished, so
  slow answers do not make checks drift; a check never has two attempts in flight.
- Bounds: at most ``concurrency`` attempts at once, and at most ``per_host`` at once against one
  host:port (politeness: a shared hosting server with 500 sites is not hit 500 times at once); at most
  ``burst`` attempts start per turn of the event loop, so what else the loop carries (a leak's page)
  does not wait behind a whole round due at once.
- The delay after each result comes from ``on_result`` (short while a check is in doubt); a regular
  delay (one interval) lands on the check's phase point nearest to it.
- Schedule lag (actual start - due time) is sampled for the capacity figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import heapq
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from siaga.checks.base import CheckResult, Probe, ProbeContext, run_once

log = logging.getLogger("siaga.checks")

OnResult = Callable[[CheckResult], float]


def phase_of(check_id: str) -> float:
    """A check's place in its interval, in [0, 1): stable across processes, runs and Python versions."""
    return int.from_bytes(hashlib.blake2b(check_id.encode(), digest_size=8).digest(), "big") / 2**64


def nearest_point(t: float, interval_s: float, phase: float) -> float:
    """The phase point nearest ``t`` (wall-clock seconds): the times ``(k + phase) * interval_s``."""
    offset = phase * interval_s
    return offset + round((t - offset) / interval_s) * interval_s


def next_point(t: float, interval_s: float, phase: float) -> float:
    """The first phase point at or after ``t`` (wall-clock seconds)."""
    offset = phase * interval_s
    return offset + math.ceil((t - offset) / interval_s) * interval_s


def first_run_in(interval_s: float, phase: float, now: float, last_age_s: float | None, catch_up_s: float) -> float:
    """Seconds from ``now`` (wall clock) to a check's first run in this scheduler.

    ``last_age_s``: how long ago the check last ran (anywhere), None when it never ran. Run within the
    interval: its next phase point at least half an interval after that run (no second run right after
    the other process's). Overdue by less than an interval (its run was missed once: its share comes
    from a process that died, a quick restart): at once, since spreading it again would leave the service
    unwatched for up to two intervals. Never run, or silent for two intervals or more (a start after a
    stop): within ``catch_up_s`` (at most its interval), at its phase's share of that window."""
    if last_age_s is None or last_age_s >= 2 * interval_s:
        return phase * min(interval_s, catch_up_s)
    if last_age_s >= interval_s:
        return 0.0
    return max(0.0, next_point(now - last_age_s + interval_s / 2, interval_s, phase) - now)


@dataclass
class _Entry:
    probe: Probe
    host: str
    interval_s: float
    phase: float
    running: bool = False


class Scheduler:
    def __init__(
        self,
        probes: Iterable[Probe],
        ctx: ProbeContext,
        on_result: OnResult,
        *,
        concurrency: int = 512,
        per_host: int = 16,
        catch_up_s: float = 0.0,
        burst: int = 64,
        monotonic: Callable[[], float] = time.monotonic,
        wall: Callable[[], float] = time.time,
        lag_samples: int = 20_000,
    ) -> None:
        """``catch_up_s``: the window over which checks never run (or overdue) make their first run
        (0: at once)."""
        self.ctx = ctx
        self.on_result = on_result
        self.concurrency = concurrency
        self.per_host = per_host
        self.catch_up_s = catch_up_s
        self.burst = burst
        self.monotonic = monotonic
        self.wall = wall
        self._entries: dict[str, _Entry] = {}
        self._heap: list[tuple[float, int, str, _Entry]] = []
        self._seq = 0
        self._global = asyncio.Semaphore(concurrency)
        self._hosts: dict[str, asyncio.Semaphore] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        self.lags: deque[float] = deque(maxlen=lag_samples)
        self.completed = 0
        for probe in probes:
            self.add(probe)

    def add(self, probe: Probe, *, last_age_s: float | None = None, at_once: bool = False) -> None:
        """Schedule a check (see :func:`first_run_in`); ``last_age_s``: seconds since it last ran, anywhere
        (None: never); ``at_once``: its first run now (a check in doubt: its retry is due)."""
        check = probe.check
        entry = _Entry(probe, check.target_host() or check.check_id, check.interval_s, phase_of(check.check_id))
        self._entries[check.check_id] = entry
        first_in = 0.0 if at_once else first_run_in(check.interval_s, entry.phase, self.wall(), last_age_s,
                                                    self.catch_up_s)
        self._push(self.monotonic() + first_in, check.check_id)

    def remove(self, check_id: str) -> None:
        """Stop running a check (its slot moved to another process); an attempt in flight ends unplanned."""
        self._entries.pop(check_id, None)

    def run_now(self, check_id: str) -> None:
        """Move a check to the front (a person asked for it)."""
        if check_id in self._entries:
            self._push(self.monotonic(), check_id)

    def _push(self, due: float, check_id: str) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, check_id, self._entries[check_id]))
        self._wake.set()

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Dispatch until ``stop`` is set (or the task is cancelled); then cancel what is in flight."""
        stop = stop or asyncio.Event()
        try:
            while not stop.is_set():
                now = self.monotonic()
                started = 0
                while self._heap and self._heap[0][0] <= now and started < self.burst:
                    due, _seq, check_id, planned = heapq.heappop(self._heap)
                    entry = self._entries.get(check_id)
                    if entry is not planned or entry.running:
                        continue  # removed (or removed and added again), or a run_now while an attempt is in flight
                    entry.running = True
                    started += 1
                    task = asyncio.create_task(self._attempt(entry, due), name=f"check:{check_id}")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                wait = min(self._heap[0][0] - now, 1.0) if self._heap else 1.0
                self._wake.clear()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self._wake.wait()
                else:  # more due (or the burst's bound reached): let the loop turn first
                    await asyncio.sleep(0)
        finally:
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _attempt(self, entry: _Entry, due: float) -> None:
        check_id = entry.probe.check.check_id
        host_sem = self._hosts.get(entry.host)
        if host_sem is None:
            host_sem = self._hosts[entry.host] = asyncio.Semaphore(self.per_host)
        delay = entry.interval_s
        try:
            async with host_sem, self._global:
                self.lags.append(max(0.0, self.monotonic() - due))
                result = await run_once(entry.probe, self.ctx)
            self.completed += 1
            try:
                delay = self.on_result(result)
            except Exception:  # a bug downstream must not stop the checks
                log.exception("handling the result of check %s failed", check_id)
        finally:
            entry.running = False
        if self._entries.get(check_id) is entry:  # not removed (nor removed and added again)
            nxt = due + delay
            if delay >= entry.interval_s:  # a regular round: on (or back on) the check's phase
                offset = self.wall() - self.monotonic()
                nxt = nearest_point(nxt + offset, entry.interval_s, entry.phase) - offset
            now = self.monotonic()
            if nxt < now:  # fell behind: do not burst to catch up, start again from now (spread by phase)
                nxt = now + min(delay, 1.0) * entry.phase
            self._push(nxt, check_id)

    def lag_percentile(self, q: float) -> float | None:
        if not self.lags:
            return None
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
