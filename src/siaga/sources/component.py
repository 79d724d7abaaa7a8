"""The sensing core in ``siaga serve``: the ingest path, the rules, the readings writer.

The factory ``component(ctx)`` builds them over the alerts hub (``ctx.services.alerts``, built by
``siaga.alerts.component`` before it) and shares them in ``ctx.services``:

- ``ingest``: :class:`~siaga.sources.ingest.Ingest`, the one ``IngestSink`` every source feeds
  (``ctx.services.ingest.ingest([...])``);
- ``readings_writer``: :class:`~siaga.readings.writer.ReadingWriter`.

It returns three components: ``sensing.writer`` (flushes readings at least every second; on stop it
waits for the other components to stop, so what sources hand over while stopping is written too),
``sensing.rules`` (about once a second: hold times, stale sensors, alerts acknowledged elsewhere) and
``sensing.rollup`` (1-minute and 1-hour rollups, retention).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from pathlib import Path

from siaga.alerts.manager import AlertManager
from siaga.readings.query import last_readings
from siaga.readings.rollup import RollupMaintainer
from siaga.readings.spool import ReadingSpool
from siaga.readings.writer import ReadingWriter
from siaga.rules.engine import RulesEngine
from siaga.runtime.components import Component, ComponentError
from siaga.runtime.context import RuntimeContext
from siaga.sources.ingest import Ingest
from siaga.store.engine import spool_dir

TICK_SECONDS = 1.0
STOP_WAIT_SECONDS = 3.5  # within the supervisor's grace (5 s)
_DONE = {"stopped", "finished", "failed", "cancelled"}


def build(ctx: RuntimeContext, manager: AlertManager) -> tuple[Ingest, ReadingWriter, RollupMaintainer]:
    """The ingest path (feeding ``manager``), the writer and the rollup maintainer of ``ctx``'s site."""
    cfg = ctx.config
    now = ctx.clock()
    with ctx.engine.connect() as conn:
        seen = {s: r.received_at for s, r in last_readings(conn).items()}
    rules = RulesEngine(cfg, now=now, last_seen=seen)
    ingest = Ingest(cfg, rules=rules, alerts=manager, clock=ctx.clock)
    rollup = RollupMaintainer(ctx.engine, cfg.readings, clock=ctx.clock)
    writer = ReadingWriter(
        ingest, ctx.engine, flush_interval=cfg.readings.flush_interval, on_flushed=rollup.mark_dirty, clock=ctx.clock,
        spool=ReadingSpool(spool_path(ctx)),
    )
    return ingest, writer, rollup


def spool_path(ctx: RuntimeContext) -> Path:
    """``readings.spool`` in ``store.spool_dir`` (the alerts' spool beside it; outside the data dir by default)."""
    return spool_dir(ctx.loaded) / "readings.spool"


def component(ctx: RuntimeContext) -> list[Component]:
    manager = ctx.services.alerts
    if manager is None:
        raise ComponentError("sensing: no alerts hub (siaga.alerts.component must run before it)")
    ingest, writer, rollup = build(ctx, manager)
    ctx.services.ingest = ingest
    ctx.services.readings_writer = writer

    async def run_writer(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        await writer.serve(stop)  # every flush_interval, and at once when a source waits to acknowledge
        # Sources stop at the same time as we do: keep flushing until they are done.
        deadline = time.monotonic() + STOP_WAIT_SECONDS
        while time.monotonic() < deadline:
            others = {n: s for n, s in ctx.component_states.items() if not n.startswith("sensing.")}
            if all(s in _DONE for s in others.values()):
                break
            with contextlib.suppress(Exception):  # spooled or kept; said by serve's log already
                await writer.flush()
            await asyncio.sleep(0.05)
        await writer.flush()

    async def run_rules(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), TICK_SECONDS)
            if stop.is_set():
                return
            now = ctx.clock()
            await asyncio.to_thread(_tick, ingest, manager, now)

    async def run_rollup(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await asyncio.to_thread(rollup.run_once)
            except Exception:
                ctx.logger.exception("readings: rollup failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), rollup.interval)

    return [
        Component("sensing.writer", run_writer),
        Component("sensing.rules", run_rules),
        Component("sensing.rollup", run_rollup),
    ]


def _tick(ingest: Ingest, manager: AlertManager, now: dt.datetime) -> None:
    ingest.tick(now)
    manager.tick(now)
