"""The scheduler: runs every check on its cadence, spread out, bounded, polite per host.

- At once, then spread: every check runs as soon as siaga starts (bounded by the limits below), so the
  status page knows each service within seconds; its second regular run is pushed back by a random part
  of its interval (jitter; at most 60 s), so from then on 10,000 checks at 60 s make an even ~167 a second
  instead of a burst each minute.
- Cadence: the next run is planned from the previous *due* time, not from when it finished, so
  slow answers do not make checks drift; a check never has two attempts in flight.
- Bounds: at most ``concurrency`` attempts at once, and at most ``per_host`` at once against one
  host:port (politeness: a shared hosting server with 500 sites is not hit 500 times at once).
- The delay after each result comes from ``on_result`` (short while a check is in doubt).
- Schedule lag (actual start - due time) is sampled for the capacity figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import random
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from siaga.checks.base import CheckResult, Probe, ProbeContext, run_once

log = logging.getLogger("siaga.checks")

OnResult = Callable[[CheckResult], float]


@dataclass
class _Entry:
    probe: Probe
    host: str
    interval_s: float
    running: bool = False
    spread: float = 0.0  # added once, to the first regular (not in doubt) run after the first


class Scheduler:
    def __init__(
        self,
        probes: Iterable[Probe],
        ctx: ProbeContext,
        on_result: OnResult,
        *,
        concurrency: int = 512,
        per_host: int = 16,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        lag_samples: int = 20_000,
    ) -> None:
        self.ctx = ctx
        self.on_result = on_result
        self.concurrency = concurrency
        self.per_host = per_host
        self.rng = rng or random.Random()
        self.monotonic = monotonic
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

    def add(self, probe: Probe, *, first_in: float = 0.0, spread: bool = True) -> None:
        """Schedule a check: its first run ``first_in`` seconds from now (at once by default); ``spread=False``
        keeps the phase ``first_in`` gives (a check that moved from another process keeps its cadence)."""
        check = probe.check
        # later rounds fall anywhere in the interval (at most a minute, so long intervals stay near their phase)
        spread_s = self.rng.uniform(0, min(check.interval_s, 60.0)) if spread else 0.0
        entry = _Entry(probe, check.target_host() or check.check_id, check.interval_s, spread=spread_s)
        self._entries[check.check_id] = entry
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
                while self._heap and self._heap[0][0] <= now:
                    due, _seq, check_id, planned = heapq.heappop(self._heap)
                    entry = self._entries.get(check_id)
                    if entry is not planned or entry.running:
                        continue  # removed (or removed and added again), or a run_now while an attempt is in flight
                    entry.running = True
                    task = asyncio.create_task(self._attempt(entry, due), name=f"check:{check_id}")
                    self._tasks.add(task)
                    task.add_done_callback(self._tasks.discard)
                wait = min(self._heap[0][0] - now, 1.0) if self._heap else 1.0
                self._wake.clear()
                if wait > 0:
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(wait):
                            await self._wake.wait()
                else:
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
            if entry.spread and delay >= entry.interval_s:  # the first regular round after the start: spread
                nxt += entry.spread
                entry.spread = 0.0
            now = self.monotonic()
            if nxt < now:  # fell behind: do not burst to catch up, start again from now
                nxt = now + min(delay, 1.0) * self.rng.random()
            self._push(nxt, check_id)

    def lag_percentile(self, q: float) -> float | None:
        if not self.lags:
            return None
        ordered = sorted(self.lags)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]
