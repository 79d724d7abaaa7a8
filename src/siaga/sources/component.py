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
import functools
import json
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import delete
from sqlalchemy.exc import DBAPIError

from siaga.alerts.manager import AlertManager
from siaga.cluster.handoff import Listener, Publisher
from siaga.cluster.rule_keeper import RuleShardKeeper
from siaga.cluster.rule_shards import ShardedRules, ShardState, load_shard, share_key
from siaga.readings.query import last_readings
from siaga.readings.rollup import RollupMaintainer
from siaga.readings.spool import ReadingSpool
from siaga.readings.writer import ReadingWriter
from siaga.rules.engine import RulesEngine
from siaga.runtime.components import Component, ComponentError
from siaga.runtime.context import RuntimeContext
from siaga.runtime.stalls import STALLS
from siaga.sources.ingest import Ingest, Rules
from siaga.store.engine import first_error_line, spool_dir
from siaga.store.engine import libpq_dsn as dsn
from siaga.store.events import set_meta
from siaga.store.schema import meta
from siaga.waits import until_either

if TYPE_CHECKING:
    from siaga.vocab import Condition

log = logging.getLogger("siaga.rules")

TICK_SECONDS = 1.0
STOP_WAIT_SECONDS = 3.5  # within the supervisor's grace (5 s)
_DONE = {"stopped", "finished", "failed", "cancelled"}


def build(ctx: RuntimeContext, manager: AlertManager) -> tuple[Ingest, ReadingWriter, RollupMaintainer]:
    """The ingest path (feeding ``manager``), the writer and the rollup maintainer of ``ctx``'s site."""
    cfg = ctx.config
    now = ctx.clock()
    with ctx.engine.connect() as conn:
        seen = {s: r.received_at for s, r in last_readings(conn).items()}
    rules: Rules = RulesEngine(cfg, now=now, last_seen=seen)
    cluster = ctx.services.cluster
    if cluster is not None and cluster.shared:
        rules = sharded_rules(ctx)
    ingest = Ingest(cfg, rules=rules, alerts=manager, clock=ctx.clock)
    rollup = RollupMaintainer(ctx.engine, cfg.readings, interval=cfg.readings.rollup_every, clock=ctx.clock)
    writer = ReadingWriter(
        ingest, ctx.engine, flush_interval=cfg.readings.flush_interval, on_flushed=rollup.mark_dirty, clock=ctx.clock,
        spool=ReadingSpool(spool_path(ctx)),
    )
    return ingest, writer, rollup


def sharded_rules(ctx: RuntimeContext) -> ShardedRules:
    """Several processes on PostgreSQL: the rules in shards, each under a lease spread over the live processes
    (:mod:`siaga.cluster.rule_keeper`); the others' readings handed over (:mod:`siaga.cluster.handoff`)."""
    publisher = Publisher(dsn(ctx.engine))
    shards = ctx.config.runtime.rule_shards
    keeper = RuleShardKeeper(ctx.engine, shards, lease_s=ctx.config.runtime.lease, clock=ctx.clock)
    return ShardedRules(ctx.config, shards, keeper.holds, publisher.publish, publisher=publisher, keeper=keeper)


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
        if isinstance(ingest.rules, ShardedRules):
            await run_shards(ctx, ingest, ingest.rules, manager, stop)
            return
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


async def run_shards(ctx: RuntimeContext, ingest: Ingest, rules: ShardedRules, manager: AlertManager,
                     stop: asyncio.Event) -> None:
    """The rules of the shards this process holds: a shard taken is loaded from the store (its open alerts,
    its sensors' recent readings) as soon as the keeper's round takes it; the readings other processes hand
    over are fed as they come; about once a second, time passes (holds, stale sensors) and this process's
    share is written for ``siaga cluster status``. Between, this loop sleeps: it wakes when the shards held
    here change (or the listener was away), not on a poll."""
    keeper = rules.keeper
    assert rules.publisher is not None and keeper is not None
    rules.publisher.start()
    keeping = asyncio.ensure_future(keeper.run(ctx.session_id, stop))
    loop = asyncio.get_running_loop()

    def gap() -> None:  # the listener's thread: load every shard again, now
        ingest.apply_rules(rules.reload_all)
        with contextlib.suppress(RuntimeError):  # the loop is closed: siaga is stopping
            loop.call_soon_threadsafe(keeper.changed.set)

    listener = Listener(dsn(ctx.engine), lambda parts: ingest.apply_rules(lambda: rules.observe_parts(parts)), gap)
    listener.start()
    next_tick = loop.time() + TICK_SECONDS
    try:
        while not stop.is_set():
            await until_either(stop, keeper.changed, max(0.0, next_tick - loop.time()))
            keeper.changed.clear()
            if stop.is_set():
                return
            ingest.apply_rules(rules.to_load)
            if rules.loading():
                await asyncio.to_thread(_load_shards, ctx, ingest, rules, manager)
            if loop.time() >= next_tick:
                next_tick = loop.time() + TICK_SECONDS
                now = ctx.clock()
                await asyncio.to_thread(_tick, ingest, manager, now)
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(_write_share, ctx, rules, listener, now)
    finally:
        # a clean stop: what this process evaluated of its shards lately goes to their next holders first
        # (the publisher still runs), then the keeper gives the leases up (the next holders take them at once)
        with contextlib.suppress(Exception):
            ingest.apply_rules(rules.let_go_all)
        await keeping
        listener.stop()
        rules.publisher.stop()
        with contextlib.suppress(Exception):
            await asyncio.to_thread(_forget_share, ctx)


def _load_shards(ctx: RuntimeContext, ingest: Ingest, rules: ShardedRules, manager: AlertManager) -> None:
    for shard in rules.loading():
        now = ctx.clock()
        sensors = rules.sensors_of.get(shard, [])
        try:
            manager.adopt(sensors)
            with ctx.engine.connect() as conn:
                state = load_shard(conn, sensors, now)
        except DBAPIError as exc:
            # The store is away: the shard is evaluated from now on without its history (a leak must page
            # while PostgreSQL is down). Its open alerts are not taken up, so one may be raised again: a
            # page may come twice, never none.
            log.warning("rules: the store cannot be read; shard %d starts without its history", shard,
                        extra={"shard": shard, "error": first_error_line(exc)})
            state = ShardState()
        except Exception:
            ctx.logger.exception("rules: loading shard %d from the store failed; trying again", shard)
            ingest.apply_rules(functools.partial(rules.unload, shard))
            continue
        engine, replayed = rules.build(shard, state, now)
        ingest.apply_rules(functools.partial(_install, rules, shard, engine, replayed, ctx.clock()))
        log.info("rules: shard taken", extra={"shard": shard, "sensors": len(sensors), "replayed": len(state.rows)})


def _install(rules: ShardedRules, shard: int, engine: RulesEngine, replayed: list[Condition],
             now: dt.datetime) -> list[Condition]:
    return replayed + rules.install(shard, engine, now)


def _write_share(ctx: RuntimeContext, rules: ShardedRules, listener: Listener, now: dt.datetime) -> None:
    """This process's share of the work, for ``siaga cluster status`` and ``/metrics`` (``meta``)."""
    if ctx.session_id is None:
        return
    mqtt = ctx.services.mqtt
    share = {
        "mqtt_connected": mqtt.stats.connected if mqtt is not None else None,
        "mqtt_messages": mqtt.stats.messages if mqtt is not None else 0,
        "mqtt_batches": mqtt.stats.batches if mqtt is not None else 0,
        "readings": ctx.services.ingest.counts.get("accepted", 0) if ctx.services.ingest is not None else 0,
        "handed_off": rules.handed_off, "handed_in": rules.received, "evaluated": rules.evaluated,
        "handoff_failed": rules.publisher.failed if rules.publisher is not None else 0,  # not sent: the store failed
        "shards": rules.held_shards(),
        "handoffs_foreign": listener.foreign,  # notifications on the channel siaga did not write (ignored)
        "stalls": STALLS.summary(),  # this process's event-loop lag and collector pauses
    }
    with ctx.engine.begin() as conn:
        set_meta(conn, share_key(ctx.session_id), json.dumps(share), at=now)


def _forget_share(ctx: RuntimeContext) -> None:
    """A clean stop: this run's share leaves ``meta`` (a crashed run's stays, shown by no live process)."""
    if ctx.session_id is not None:
        with ctx.engine.begin() as conn:
            conn.execute(delete(meta).where(meta.c.key == share_key(ctx.session_id)))


def _tick(ingest: Ingest, manager: AlertManager, now: dt.datetime) -> None:
    ingest.tick(now)
    manager.tick(now)
