"""How long this process stood still: the event loop's lag and the garbage collector's pauses.

A leak's page waits behind whatever holds the process: a callback that runs long on the event loop (every
component's coroutines share it), or a full pass of the garbage collector (no thread runs meanwhile). Both
are measured here, for ``/metrics`` (``siaga_event_loop_lag_seconds``, ``siaga_gc_pause_seconds``) and for
each process's share in ``siaga cluster status`` (and bench/cluster.py, which reads the shares):

- :meth:`Stalls.watch_loop` sleeps :data:`TICK_S` at a time and counts how late it wakes (its lag);
- :meth:`Stalls.install` adds a :data:`gc.callbacks` hook timing each collection, by generation.

One :data:`STALLS` per process (the loop and the collector are the process's); the counts are cumulative
since start, in the buckets of :data:`LAG_BUCKETS` and :data:`GC_BUCKETS` (seconds, upper bounds).
"""

from __future__ import annotations

import asyncio
import bisect
import copy
import gc
import threading
import time
from collections.abc import Callable
from typing import Any

TICK_S = 0.05
LAG_BUCKETS = (0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
GC_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0)


class Histogram:
    """Counts of observed values per bucket (upper bounds, and +Inf), their sum and their largest."""

    def __init__(self, bounds: tuple[float, ...]) -> None:
        self.bounds = bounds
        self.counts = [0] * (len(bounds) + 1)  # the last one: above every bound
        self.sum = 0.0
        self.max = 0.0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.bounds, value)] += 1  # the first bound at least the value
        self.sum += value
        self.max = max(self.max, value)

    def cumulative(self) -> list[tuple[float, int]]:
        """(upper bound, count of values at most it) per bucket, +Inf last: Prometheus's buckets."""
        out, total = [], 0
        for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True):
            total += n
            out.append((bound, total))
        return out

    def over(self, limit: float) -> int:
        """How many values were above ``limit`` (a bucket bound)."""
        return sum(n for bound, n in zip((*self.bounds, float("inf")), self.counts, strict=True) if bound > limit)

    @property
    def count(self) -> int:
        return sum(self.counts)


class Stalls:
    """The event loop's lag and the collector's pauses of this process (thread-safe reads)."""

    def __init__(self, clock: Callable[[], float] = time.perf_counter) -> None:
        self.clock = clock
        self.lag = Histogram(LAG_BUCKETS)
        self.gc = {gen: Histogram(GC_BUCKETS) for gen in (0, 1, 2)}
        self._gc_started: float | None = None
        self._gc_cpu_started = 0.0
        self.gc_cpu_max = 0.0  # the longest pass in this thread's CPU time: the rest of its wall time, others ran
        self._lock = threading.Lock()
        self._installed = False

    # the garbage collector -------------------------------------------------------------------------------
    def install(self) -> None:
        """Time every collection from now on (once per process)."""
        if not self._installed:
            gc.callbacks.append(self._on_gc)
            self._installed = True

    def uninstall(self) -> None:
        if self._installed:
            gc.callbacks.remove(self._on_gc)
            self._installed = False

    def _on_gc(self, phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            self._gc_started = self.clock()
            self._gc_cpu_started = time.thread_time()
            return
        started, self._gc_started = self._gc_started, None
        if started is None:
            return
        gen = info.get("generation", 2)
        cpu = time.thread_time() - self._gc_cpu_started
        with self._lock:
            self.gc[gen if gen in self.gc else 2].observe(self.clock() - started)
            self.gc_cpu_max = max(self.gc_cpu_max, cpu)

    # the event loop ----------------------------------------------------------------------------------------
    def lagged(self, seconds: float) -> None:
        with self._lock:
            self.lag.observe(max(0.0, seconds))

    async def watch_loop(self, stop: asyncio.Event, tick: float = TICK_S) -> None:
        """Until ``stop``: sleep ``tick``, count how much later than that the loop woke this task."""
        while not stop.is_set():
            before = self.clock()
            await asyncio.sleep(tick)
            self.lagged(self.clock() - before - tick)

    # what is read ------------------------------------------------------------------------------------------
    def summary(self) -> dict[str, float | int | list[int]]:
        """The figures a process's share carries (cumulative since start)."""
        with self._lock:
            full = self.gc[2]
            return {
                "loop_lag_max_s": round(self.lag.max, 4),
                "loop_lags_over_0_1s": self.lag.over(0.1),
                "loop_lags_over_0_25s": self.lag.over(0.25),
                "gc_pause_max_s": round(max(h.max for h in self.gc.values()), 4),
                "gc_pause_max_cpu_s": round(self.gc_cpu_max, 4),  # of the same passes: what the collector did
                "gc_pauses_over_0_1s": sum(h.over(0.1) for h in self.gc.values()),
                "gc_pauses_over_0_1s_by_generation": [self.gc[gen].over(0.1) for gen in (0, 1, 2)],
                "gc_full_passes": full.count,
                "gc_full_pause_s": round(full.sum, 3),
            }

    def histograms(self) -> tuple[Histogram, dict[int, Histogram]]:
        """Copies of the loop's lag and the collector's pauses per generation (for ``/metrics``)."""
        with self._lock:
            return copy.deepcopy(self.lag), copy.deepcopy(self.gc)


STALLS = Stalls()
"""This process's."""
