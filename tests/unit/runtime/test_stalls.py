"""The stall watch counts what holds a process: a callback that blocks the event loop, and the garbage
collector's passes, in Prometheus's cumulative buckets."""

from __future__ import annotations

import asyncio
import gc
import time

from siaga.runtime.stalls import Histogram, Stalls


def test_values_fall_in_the_first_bucket_that_holds_them_and_read_back_cumulative() -> None:
    h = Histogram((0.1, 1.0))
    for v in (0.05, 0.1, 0.5, 3.0):
        h.observe(v)
    assert h.cumulative() == [(0.1, 2), (1.0, 3), (float("inf"), 4)]
    assert h.count == 4 and h.max == 3.0 and h.over(0.1) == 2 and h.over(1.0) == 1
    assert abs(h.sum - 3.65) < 1e-9


def test_a_callback_that_blocks_the_loop_is_counted_as_its_lag() -> None:
    stalls = Stalls()

    async def main() -> None:
        stop = asyncio.Event()
        watching = asyncio.create_task(stalls.watch_loop(stop, tick=0.02))
        await asyncio.sleep(0.1)
        time.sleep(0.3)  # noqa: ASYNC251 (a component that blocks the loop: what is measured)
        await asyncio.sleep(0.1)
        stop.set()
        await watching

    asyncio.run(main())
    summary = stalls.summary()
    assert summary["loop_lags_over_0_25s"] == 1
    assert 0.25 < summary["loop_lag_max_s"] < 1.0
    assert stalls.lag.count >= 5  # the quiet ticks are counted too, in the low buckets


def test_every_collection_is_timed_by_its_generation_until_uninstalled() -> None:
    stalls = Stalls()
    stalls.install()
    try:
        gc.collect()
        gc.collect(0)
    finally:
        stalls.uninstall()
    assert stalls.gc[2].count >= 1 and stalls.gc[0].count >= 1
    summary = stalls.summary()
    assert summary["gc_full_passes"] >= 1
    # the collector's own CPU time beside the wall time: no more than it (the rest, other threads ran)
    assert stalls.gc_cpu_max > 0 and summary["gc_pause_max_cpu_s"] <= summary["gc_pause_max_s"] + 0.001
    full = stalls.gc[2].count
    gc.collect()
    assert stalls.gc[2].count == full  # not counted once uninstalled

