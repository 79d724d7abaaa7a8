"""The checks engine of a running siaga: scheduler + monitor + batched writes + daily tallies.

``siaga serve`` runs it as the ``checks`` component (``siaga.checks.component``). It restores the last
states and heartbeat pings from the store, runs every enabled check on the scheduler, hands changes
to the alert manager (when one is registered as ``alerts.manager``/``alerts.sink``), writes states
and changes in batches every ``flush_s`` seconds, and recomputes today's per-service tallies every
``daily_s`` seconds. In the demo, every check's traffic goes to a local stand-in (nothing leaves
the machine).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import aiohttp
from sqlalchemy import Connection

from siaga.alerts.model import Alert, AlertSink
from siaga.checks import records
from siaga.checks.base import CheckResult, Probe, ProbeContext, run_once, utcnow
from siaga.checks.confirm import Status
from siaga.checks.heartbeat import HeartbeatBook
from siaga.checks.monitor import Monitor
from siaga.checks.registry import probe_for
from siaga.checks.scheduler import Scheduler
from siaga.checks.uptime import Interval
from siaga.config.checks import CheckBase, HeartbeatCheck, MaintenanceWindow
from siaga.config.models import SiteConfig
from siaga.sources.ratelimit import RateLimitedLog
from siaga.store.engine import first_error_line

if TYPE_CHECKING:
    from siaga.cluster.leases import Fence
    from siaga.cluster.shards import Share
    from siaga.store.engine import RunsDb

log = logging.getLogger("siaga.checks")
FOLLOW_S = 0.2
"""How often a process sharing the checks looks whether its share changed (a local look, no query)."""
CATCH_UP_S = 10.0
"""Checks never run (or silent for two intervals) make their first run within this many seconds of coming
here (a start), spread by their phase: the status page knows them soon, without one burst. A check that
missed only one run (a share taken over from a process that died) runs at once
(:func:`siaga.checks.scheduler.first_run_in`)."""

Batch = tuple[list[Any], list[Any], list[Any]]
"""Check changes, states (check id, service, state) and heartbeat pings waiting to be written."""


def site_zone(cfg: SiteConfig) -> ZoneInfo:
    return ZoneInfo(cfg.site.timezone)


def window_interval(window: MaintenanceWindow, zone: ZoneInfo) -> Interval:
    """A window in UTC; times without a zone are the site's local time."""

    def aware(t: dt.datetime) -> dt.datetime:
        return (t if t.tzinfo else t.replace(tzinfo=zone)).astimezone(dt.UTC)

    return aware(window.starts_at), aware(window.ends_at)


def maintenance_by_service(cfg: SiteConfig) -> dict[str, list[Interval]]:
    zone = site_zone(cfg)
    out: dict[str, list[Interval]] = {}
    every = [s.id for s in cfg.services]
    for w in cfg.maintenance:
        for sid in w.services or every:
            out.setdefault(sid, []).append(window_interval(w, zone))
    return out


def checks_by_service(checks: Sequence[CheckBase]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for c in checks:
        out.setdefault(c.service, []).append(c.check_id)
    return out


class ChecksEngine:
    def __init__(
        self,
        cfg: SiteConfig,
        *,
        base_dir: Path,
        clock: Callable[[], dt.datetime] = utcnow,
        sink: AlertSink | None = None,
        active_alerts: Callable[[], Sequence[Alert]] | None = None,
        redirects: dict[str, tuple[str, int]] | None = None,
        probes: dict[str, Probe] | None = None,
        concurrency: int = 512,
        per_host: int = 16,
        flush_s: float = 2.0,
        daily_s: float = 300.0,
    ) -> None:
        self.cfg = cfg
        self.zone = site_zone(cfg)
        self.clock = clock
        self.checks = [c for c in cfg.checks if c.enabled]
        self.heartbeats = HeartbeatBook(listening_since=clock())
        for c in self.checks:
            if isinstance(c, HeartbeatCheck):
                self.heartbeats.known.add(c.ping_key)
        self.heartbeat_check = {
            c.ping_key: c.check_id for c in self.checks if isinstance(c, HeartbeatCheck)
        }
        self.monitor = Monitor(self.checks, cfg.services, self.zone, sink=sink, active_alerts=active_alerts)
        self.ctx = ProbeContext(heartbeats=self.heartbeats, clock=clock, base_dir=base_dir,
                                redirects=dict(redirects or {}))
        self.probes = {c.check_id: (probes or {}).get(c.check_id) or probe_for(c) for c in self.checks}
        self.concurrency = concurrency
        self.per_host = per_host
        self.flush_s = flush_s
        self.daily_s = daily_s
        self.scheduler: Scheduler | None = None
        self.checks_of = checks_by_service(self.checks)
        self.maintenance = maintenance_by_service(cfg)
        self.last_results: dict[str, CheckResult] = {}
        self.restored = False
        self.store_failing = False
        self._held: Batch = ([], [], [])
        # several processes (PostgreSQL): each runs the services of the slots it holds (siaga.cluster.shards)
        self.shard: Share | None = None
        self.tally_fence: Fence | None = None  # the daily tallies: one process (the "checks" role)
        self.take_up: Callable[[set[str]], object] | None = None  # the alert manager takes up a service's alerts
        self.slot_of = {svc: 0 for svc in self.checks_of}
        self._services_of_slot: dict[int, list[str]] = {0: list(self.checks_of)}
        self._live: tuple[object, dict[str, Status]] | None = None  # what live_status built last, and from what
        self.running: set[int] = set()  # the slots whose checks are on the scheduler here
        self.moves = 0  # slots taken up or given up (for /metrics)
        self.not_written = 0  # results of a slot another process took before they were written (it ran them again)
        self._rlog = RateLimitedLog(log)

    # --- what the web and the CLI use --------------------------------------------------------------

    def ping(self, key: str, *, failed: bool = False) -> bool:
        """A heartbeat arrived; look at it at once so a recovery shows without waiting."""
        if not self.heartbeats.ping(key, self.clock(), failed=failed):
            return False
        check_id = self.heartbeat_check.get(key)
        if check_id and self.scheduler is not None:
            self.scheduler.run_now(check_id)
        return True

    def on_result(self, result: CheckResult) -> float:
        if self.shard is not None:  # an attempt that ended after its slot left this process: not ours to fold
            check = self.monitor.by_id.get(result.check_id)
            if check is None or not self.shard.owns(check.service):
                return check.interval_s if check is not None else 60.0  # (off the scheduler soon, if it moved)
        self.last_results[result.check_id] = result
        return self.monitor.handle(result)

    def share(self, shard: Share, tally_fence: Fence, take_up: Callable[[set[str]], object] | None) -> None:
        """Run only this process's share of the checks (whole services, by slot) from now on."""
        from siaga.cluster.shards import slot_of

        self.shard, self.tally_fence, self.take_up = shard, tally_fence, take_up
        self.slot_of = {svc: slot_of(svc, shard.slots) for svc in self.checks_of}
        self._services_of_slot = {}
        for svc, slot in self.slot_of.items():
            self._services_of_slot.setdefault(slot, []).append(svc)
        self._live = None

    def live_status(self) -> dict[str, Status]:
        """The services' status as this process's checks see them: all of them, or its share. The status
        page asks every second: the same dict (do not change it) until a service's status or the share
        changes, so 20,000 services are not copied each second on the event loop."""
        running = self.running  # replaced, never changed in place: safe to read from the status page's thread
        key = (self.monitor.status_version, frozenset(running) if self.shard is not None else None)
        if self._live is not None and self._live[0] == key:
            return self._live[1]
        status = self.monitor.service_status
        if self.shard is None:
            live = dict(status)
        else:
            live = {svc: status[svc] for slot in running for svc in self._services_of_slot.get(slot, ())
                    if svc in status}
        self._live = (key, live)
        return live

    def schedule(self, check_ids: Iterable[str]) -> None:
        """Put checks on the scheduler, each at its phase (``siaga.checks.scheduler.first_run_in``) from its
        last run (here, before a restart, or in the process that held it); one in doubt at once (its retry)."""
        assert self.scheduler is not None
        now = self.clock()
        for cid in check_ids:
            state = self.monitor.states[cid]
            age = None if state.last_at is None else max(0.0, (now - state.last_at).total_seconds())
            self.scheduler.add(self.probes[cid], last_age_s=age, at_once=state.in_doubt)

    def services_in(self, slots: set[int]) -> set[str]:
        return {svc for slot in slots for svc in self._services_of_slot.get(slot, ())}

    async def run_once(self, check_id: str) -> CheckResult:
        """Run one check now, outside the schedule (``siaga checks run``)."""
        own = self.ctx.session is None
        if own:
            self.ctx.session = _session(self.concurrency)
        try:
            return await run_once(self.probes[check_id], self.ctx)
        finally:
            if own and self.ctx.session is not None:
                await self.ctx.session.close()
                self.ctx.session = None

    # --- persistence -------------------------------------------------------------------------------

    def restore(self, conn: Connection, services: set[str] | None = None) -> None:
        """Load the checks' last states and the heartbeats' last pings (of ``services`` only: a shard moved here)."""
        self.monitor.restore((cid, st) for cid, svc, st in records.load_states(conn)
                             if services is None or svc in services)
        self.refresh_pings(conn)

    def refresh_pings(self, conn: Connection) -> None:
        """Take the heartbeats' pings from the store when newer (another process of the cluster heard them)."""
        for key, at, failed, count in records.load_pings(conn):
            last = self.heartbeats.last(key)
            if last is None or at > last.at:
                self.heartbeats.restore(key, at, count, failed)

    def take_batch(self) -> Batch:
        """What waits to be written (first what the store refused before); taken on the event loop's thread."""
        changes = self.monitor.take_changes()
        states = [(cid, self.monitor.by_id[cid].service, st) for cid, st in self.monitor.take_dirty()]
        dirty_pings, self.heartbeats.dirty = self.heartbeats.dirty, set()
        pings = []
        for key in dirty_pings:
            p = self.heartbeats.last(key)
            if p is not None:
                pings.append((key, p.at, p.failed, p.count))
        held_changes, held_states, held_pings = self._held
        if held_changes or held_states or held_pings:
            self._held = ([], [], [])
            changes = held_changes + changes
            # one row per key (an upsert may not touch a row twice): the newer state wins
            states = list({s[0]: s for s in [*held_states, *states]}.values())
            pings = list({p[0]: p for p in [*held_pings, *pings]}.values())
        return changes, states, pings

    def hold(self, batch: Batch) -> None:
        """A batch the store refused: it goes first into the next one, nothing is dropped."""
        changes, states, pings = self.take_batch()
        self._held = (
            batch[0] + changes,
            list({s[0]: s for s in [*batch[1], *states]}.values()),
            list({p[0]: p for p in [*batch[2], *pings]}.values()),
        )

    def flush(self, conn: Connection, batch: Batch | None = None) -> int:
        """Write a batch (by default: take one now; only safe when no results arrive meanwhile).

        Sharing the checks, the changes and states of a service whose slot another process has taken since
        (this one's lease ran out before it wrote them: a slow round, a pause) are not written: that process
        started from what was written and runs the checks again, so each change is written once and a late
        write never puts an older state over the new holder's. The slots are checked at the end of the write
        (their leases locked until it commits, so a taker waits a moment, not the length of the write); when
        one was taken, the write is undone and made again without it. The pings are every process's."""
        changes, states, pings = batch if batch is not None else self.take_batch()
        states = sorted(states, key=lambda s: s[0])  # rows in one order in every process: no deadlock between two
        if self.shard is None or not (changes or states):
            records.write_batch(conn, changes, states, pings)
            return len(changes) + len(states)
        services = {c.service for c in changes} | {svc for _, svc, _ in states}
        attempt = conn.begin_nested()
        try:
            records.write_batch(conn, changes, states, pings)
            ours = self.shard.still_ours(conn, services)
        except BaseException:
            attempt.rollback()
            raise
        if ours == services:
            attempt.commit()
            return len(changes) + len(states)
        attempt.rollback()  # undone, with the leases' locks taken in it: lock first this time (rare), then write ours
        ours = self.shard.still_ours(conn, services)
        kept_changes = [c for c in changes if c.service in ours]
        kept_states = [s for s in states if s[1] in ours]
        dropped = len(changes) - len(kept_changes) + len(states) - len(kept_states)
        if dropped:
            self.not_written += dropped
            self._rlog.warning("checks: results not written", f"{dropped} results of checks whose slot another "
                               "process took before they were written (it runs them again)",
                               reason="checks.slot_taken")
        records.write_batch(conn, kept_changes, kept_states, pings)
        return len(kept_changes) + len(kept_states)

    def recompute_daily(self, conn: Connection, now: dt.datetime | None = None) -> int:
        now = now or self.clock()
        today = now.astimezone(self.zone).date()
        days = [today]
        local = now.astimezone(self.zone)
        if local.hour == 0 and local.minute < 15:
            days.insert(0, today - dt.timedelta(days=1))  # close yesterday properly
        return records.recompute_days(
            conn, days, self.zone, now, checks_of=self.checks_of, maintenance=self.maintenance
        )

    # --- running -----------------------------------------------------------------------------------

    async def follow(self, rt: RunsDb) -> None:
        """Sharing the checks: follow this process's share. A slot that left stops at once (its checks off
        the scheduler, its states written for the next holder); a slot that came takes up its checks' last
        states and its services' open alerts from the store before its first check, so a service that was
        already down continues its alert (no second page) and a recovery resolves it."""
        await _follow(self, rt)

    async def refresh(self, rt: RunsDb) -> None:
        """Sharing the checks: the pings other processes heard reach the heartbeats run here."""
        if not self.heartbeat_check:
            return
        try:
            await rt.run_db(self.refresh_pings)
        except Exception as exc:
            log.warning("checks: cannot read the heartbeats' pings; next round", extra={"error": first_error_line(exc)})

    async def write(self, rt: RunsDb) -> bool:
        """Write what waits; when the store fails, keep it for the next round (checks go on meanwhile)."""
        batch = self.take_batch()
        if not any(batch):
            return True
        try:
            await rt.run_db(lambda conn: self.flush(conn, batch))
        except Exception as exc:
            self.hold(batch)
            if not self.store_failing:
                log.warning("checks: cannot write results; kept for the next try",
                            extra={"error": first_error_line(exc), "changes": len(self._held[0])})
            self.store_failing = True
            return False
        if self.store_failing:
            log.info("checks: results written again")
        self.store_failing = False
        return True

    async def tally(self, rt: RunsDb) -> None:
        if self.tally_fence is not None and not self.tally_fence.held():
            return  # another process of the cluster holds the "checks" role: it tallies
        try:
            await rt.run_db(self.recompute_daily)
        except Exception as exc:
            log.warning("checks: cannot recompute today's uptime; next round", extra={"error": first_error_line(exc)})

    async def run(self, rt: RunsDb, stop: asyncio.Event) -> None:
        """Run the checks until ``stop``. A store that fails holds results back, it never ends the checks."""
        if not self.restored and self.shard is None:  # once: a restart keeps the states it has in memory
            await rt.run_db(self.restore)
            self.restored = True
        async with _session(self.concurrency) as session:
            self.ctx.session = session
            self.running = set()
            self.scheduler = Scheduler(
                (), self.ctx, self.on_result, concurrency=self.concurrency, per_host=self.per_host,
                catch_up_s=CATCH_UP_S,
            )
            if self.shard is None:
                self.schedule(self.probes)
            halt = asyncio.Event()  # the scheduler's own: ending the checks never sets siaga's stop
            sched = asyncio.create_task(self.scheduler.run(halt), name="checks:scheduler")
            try:
                last_daily = 0.0
                loop = asyncio.get_running_loop()
                last_write = loop.time()
                while not stop.is_set():
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.flush_s if self.shard is None else FOLLOW_S):
                            await stop.wait()
                    if sched.done():  # it raised, or ended by itself: the supervisor restarts us
                        sched.result()
                        raise RuntimeError("the checks scheduler ended by itself")
                    if self.shard is not None:
                        await self.follow(rt)
                        if loop.time() - last_write < self.flush_s:
                            continue
                        await self.refresh(rt)
                    last_write = loop.time()
                    await self.write(rt)
                    if loop.time() - last_daily >= self.daily_s:
                        last_daily = loop.time()
                        await self.tally(rt)
            finally:
                halt.set()
                await asyncio.gather(sched, return_exceptions=True)
                self.ctx.session = None
                if not await self.write(rt):
                    log.error("checks: results not written at stop", extra={"changes": len(self._held[0])})
                if stop.is_set():
                    await self.tally(rt)


async def _follow(engine: ChecksEngine, rt: RunsDb) -> None:
    """Put the checks of the slots this process now holds on the scheduler, take the others off (see
    :meth:`ChecksEngine.follow`)."""
    shard, scheduler = engine.shard, engine.scheduler
    if shard is None or scheduler is None:
        return
    held = shard.held_slots()
    if held == engine.running:
        return
    lost, gained = engine.running - held, held - engine.running
    engine.running = engine.running - lost
    for svc in engine.services_in(lost):
        for cid in engine.checks_of[svc]:
            scheduler.remove(cid)
    if lost:
        engine.moves += len(lost)
        await engine.write(rt)  # the states of what leaves, for the next holder
        shard.let_go(lost)
    if gained:
        services = engine.services_in(gained)
        await rt.run_db(lambda conn: engine.restore(conn, services))
        if engine.take_up is not None:
            await asyncio.to_thread(engine.take_up, services)
        held_now = shard.held_slots()
        gained &= held_now  # what was lost again meanwhile is not started
        engine.running = engine.running | gained  # a new set: the status page reads it from its thread
        engine.moves += len(gained)
        # each check at its phase, as the last holder ran it (no burst of a whole share at once); one never
        # run yet (or overdue) within CATCH_UP_S
        engine.schedule(cid for svc in engine.services_in(gained) for cid in engine.checks_of[svc])
        log.info("checks: share changed", extra={"slots": len(engine.running), "gained": len(gained),
                                                 "lost": len(lost)})


def _session(concurrency: int) -> aiohttp.ClientSession:
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0, ttl_dns_cache=300)
    return aiohttp.ClientSession(
        connector=connector,
        headers={"User-Agent": "siaga-checks/1 (+uptime monitor)"},
        cookie_jar=aiohttp.DummyCookieJar(),
    )
