"""What the public status page shows, precomputed: groups, current states, 90 daily bars, incidents.

Built from ``service_daily`` (past days are frozen, so they are read and reduced once a day; only
today's tallies are read again) and the current states (the running engine's, or ``check_states``).
A snapshot is immutable; the router keeps the last one for a few seconds, so a page view costs a
dictionary lookup and a template render of what is on that page.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, Engine, func, select

from siaga.checks import records
from siaga.checks.confirm import Status, worst
from siaga.checks.engine import site_zone, window_interval
from siaga.checks.tables import check_changes, check_states, status_incidents, status_updates
from siaga.checks.uptime import Tally
from siaga.config.models import Service, SiteConfig

DAYS = 90
OTHER_GROUP = ""  # services without a group


def bar_class(t: Tally | None) -> str:
    """The colour of one day's bar."""
    if t is None:
        return "none"
    up = t.uptime
    if up is None:
        return "maint" if t.maintenance_s > 0 else "none"
    if up >= 0.9999:
        return "ok"
    if up >= 0.99:
        return "minor"
    if up >= 0.95:
        return "partial"
    return "major"


@dataclass(frozen=True)
class Bar:
    day: dt.date
    cls: str
    uptime: float | None
    down_s: float
    maintenance_s: float


@dataclass(frozen=True)
class ServiceRow:
    id: str
    name: str
    group: str
    status: Status
    since: dt.datetime | None
    bars: tuple[Bar, ...]
    uptime: float | None  # over the 90 days


@dataclass(frozen=True)
class GroupRow:
    name: str
    services: tuple[ServiceRow, ...]
    counts: dict[str, int]
    status: Status
    bars: tuple[Bar, ...]
    uptime: float | None


@dataclass(frozen=True)
class MaintenanceRow:
    id: str
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    services: tuple[str, ...]
    ongoing: bool
    description: str | None


@dataclass(frozen=True)
class Snapshot:
    built_at: dt.datetime
    zone: ZoneInfo
    days: tuple[dt.date, ...]
    status: Status
    counts: dict[str, int]
    groups: tuple[GroupRow, ...]
    by_id: dict[str, ServiceRow]
    down: tuple[ServiceRow, ...]
    incidents: tuple[dict[str, Any], ...]
    maintenance: tuple[MaintenanceRow, ...]
    build_ms: float = 0.0

    def group(self, name: str) -> GroupRow | None:
        return next((g for g in self.groups if g.name == name), None)

    @property
    def open_incidents(self) -> tuple[dict[str, Any], ...]:
        return tuple(i for i in self.incidents if i.get("resolved_at") is None)

    @property
    def summary(self) -> str:
        """The one word the banner says: ``outage`` (a service is down), ``no_data`` (nothing measured
        yet), ``partly_unknown`` (some services without data), ``incident`` (all up, an incident open),
        ``operational`` (every public service up, no incident open)."""
        if self.status == Status.down:
            return "outage"
        if self.status == Status.unknown:
            return "no_data" if self.counts.get("unknown", 0) >= len(self.by_id) else "partly_unknown"
        return "incident" if self.open_incidents else "operational"


@dataclass
class _Past:
    """Past days, reduced once per local day: per service the 89 bars and their sum."""

    today: dt.date
    bars: dict[str, tuple[Bar, ...]] = field(default_factory=dict)
    totals: dict[str, Tally] = field(default_factory=dict)
    group_days: dict[str, list[Tally]] = field(default_factory=dict)


def _bar(day: dt.date, t: Tally | None) -> Bar:
    return Bar(day, bar_class(t), t.uptime if t else None, t.down_s if t else 0.0, t.maintenance_s if t else 0.0)


class SnapshotBuilder:
    """Builds snapshots for one site; thread-safe (the router builds in a worker thread)."""

    def __init__(
        self,
        cfg: SiteConfig,
        engine: Engine,
        *,
        clock: Callable[[], dt.datetime],
        live_status: Callable[[], dict[str, Status] | None] | None = None,
        live_since: Callable[[str], dt.datetime | None] | None = None,
    ) -> None:
        self.cfg = cfg
        self.engine = engine
        self.clock = clock
        self.zone = site_zone(cfg)
        self.live_status = live_status
        self.live_since = live_since
        self.services: list[Service] = [s for s in cfg.services if s.public]
        self._checked = {c.service for c in cfg.checks if c.enabled}
        self.group_order: list[str] = []
        for s in self.services:
            g = s.group or OTHER_GROUP
            if g not in self.group_order:
                self.group_order.append(g)
        self._past: _Past | None = None
        self._lock = threading.Lock()

    def _load_past(self, conn: Connection, today: dt.date) -> _Past:
        """The past days' bars: one Bar object per (day, tally) shared by the services that have it (most
        days of most services are alike: a full day up, or no data), and the work in proportion to the rows
        stored, not to services x 89 days (20,000 services: 1.8 million bars, seconds of CPU in the thread
        that shares the interpreter with the event loop carrying the pages)."""
        first = today - dt.timedelta(days=DAYS - 1)
        daily = records.read_daily(conn, first, today - dt.timedelta(days=1))
        past = _Past(today)
        days = [first + dt.timedelta(days=i) for i in range(DAYS - 1)]
        index = {d: i for i, d in enumerate(days)}
        no_data = tuple(_bar(d, None) for d in days)
        shared: dict[tuple[dt.date, Tally], Bar] = {}
        sums = {g: [[0.0, 0.0, 0.0, 0.0] for _ in days] for g in self.group_order}  # per group and day
        for s in self.services:
            mine = daily.get(s.id)
            if not mine:
                past.bars[s.id] = no_data
                past.totals[s.id] = Tally()
                continue
            bars = list(no_data)
            gd = sums[s.group or OTHER_GROUP]
            total = [0.0, 0.0, 0.0, 0.0]
            for d, t in mine.items():
                i = index.get(d)
                if i is None:
                    continue
                bar = shared.get((d, t))
                if bar is None:
                    bar = shared[(d, t)] = _bar(d, t)
                bars[i] = bar
                for acc in (gd[i], total):
                    acc[0] += t.up_s
                    acc[1] += t.down_s
                    acc[2] += t.unknown_s
                    acc[3] += t.maintenance_s
            past.bars[s.id] = tuple(bars)
            past.totals[s.id] = Tally(*total)
        past.group_days = {g: [Tally(*day) for day in per_day] for g, per_day in sums.items()}
        return past

    def _current(self, conn: Connection) -> tuple[dict[str, Status], dict[str, dt.datetime | None]]:
        since: dict[str, dt.datetime | None] = {}
        status_now = self.live_status() if self.live_status is not None else None
        if status_now is not None:
            for sid, st in status_now.items():
                if st == Status.down:
                    since[sid] = self.live_since(sid) if self.live_since else None
            if all(s.id in status_now for s in self.cfg.services if s.id in self._checked):
                return status_now, since
        per: dict[str, list[Status]] = {}  # the store's (the share of the other processes of a cluster)
        for r in conn.execute(select(check_states.c.service, check_states.c.status, check_states.c.since)):
            st = Status(r.status)
            per.setdefault(r.service, []).append(st)
            if st == Status.down and (since.get(r.service) is None or (r.since and r.since < since[r.service])):
                since[r.service] = r.since
        stored = {sid: worst(sts) for sid, sts in per.items()}
        if status_now is not None:
            stored.update(status_now)
        return stored, since

    def version(self) -> tuple[object, ...]:
        """What the page shows that another process or a person may have changed since: the last confirmed change
        of a check's state, the last incident touched and the last update posted (index lookups, cheap)."""
        with self.engine.connect() as conn:
            return (
                conn.execute(select(func.max(check_changes.c.id))).scalar(),
                conn.execute(select(func.max(status_incidents.c.updated_at))).scalar(),
                conn.execute(select(func.max(status_updates.c.id))).scalar(),
            )

    def build(self) -> Snapshot:
        started = time.perf_counter()
        now = self.clock()
        today = now.astimezone(self.zone).date()
        with self.engine.connect() as conn:
            with self._lock:
                if self._past is None or self._past.today != today:
                    self._past = self._load_past(conn, today)
                past = self._past
            today_rows = records.read_daily(conn, today, today)
            current, since = self._current(conn)
            incidents = tuple(records.incidents(conn, since=now - dt.timedelta(days=7)))
        days = tuple(today - dt.timedelta(days=DAYS - 1 - i) for i in range(DAYS))
        rows: dict[str, ServiceRow] = {}
        groups_rows: dict[str, list[ServiceRow]] = {g: [] for g in self.group_order}
        group_today: dict[str, Tally] = {g: Tally() for g in self.group_order}
        group_total: dict[str, Tally] = {g: Tally() for g in self.group_order}
        for s in self.services:
            g = s.group or OTHER_GROUP
            t_today = today_rows.get(s.id, {}).get(today)
            bars = (*past.bars[s.id], _bar(today, t_today))
            total = past.totals[s.id] + t_today if t_today else past.totals[s.id]
            row = ServiceRow(
                s.id, s.name, g, current.get(s.id, Status.unknown), since.get(s.id), bars, total.uptime
            )
            rows[s.id] = row
            groups_rows[g].append(row)
            if t_today:
                group_today[g] = group_today[g] + t_today
            group_total[g] = group_total[g] + total
        zone_now = now
        maint = tuple(
            MaintenanceRow(w.id, w.title, *window_interval(w, self.zone), tuple(w.services),
                           window_interval(w, self.zone)[0] <= zone_now < window_interval(w, self.zone)[1],
                           w.description)
            for w in self.cfg.maintenance
            if window_interval(w, self.zone)[1] > now
        )
        groups: list[GroupRow] = []
        all_counts = {"up": 0, "down": 0, "unknown": 0, "maintenance": 0}
        for g in self.group_order:
            members = groups_rows[g]
            counts = {"up": 0, "down": 0, "unknown": 0, "maintenance": 0}
            for r in members:
                counts[r.status.value] += 1
                all_counts[r.status.value] += 1
            gbars = (
                *(_bar(d, t if t.total_s else None) for d, t in zip(days[:-1], past.group_days[g], strict=True)),
                _bar(today, group_today[g] if group_today[g].total_s else None),
            )
            status = Status.down if counts["down"] else Status.unknown if counts["unknown"] else Status.up
            groups.append(GroupRow(g, tuple(members), counts, status, gbars, group_total[g].uptime))
        down = tuple(r for r in rows.values() if r.status == Status.down)
        # "up" only when every public service is known to be up: a service without data is never summed up
        # as operational (the page says how many have none)
        overall = Status.down if down else Status.unknown if all_counts["unknown"] else Status.up
        return Snapshot(
            built_at=now, zone=self.zone, days=days, status=overall, counts=all_counts, groups=tuple(groups),
            by_id=rows, down=down, incidents=incidents, maintenance=maint,
            build_ms=round((time.perf_counter() - started) * 1000, 1),
        )


def services_page(
    snap: Snapshot, *, group: str | None, query: str | None, page: int, per_page: int
) -> tuple[Sequence[ServiceRow], int]:
    """One page of the services list (filtered by group and a text query) and the number of pages."""
    if group is not None:
        g = snap.group(group)
        rows: Sequence[ServiceRow] = g.services if g else ()
    else:
        rows = tuple(snap.by_id.values())
    if query:
        q = query.lower()
        rows = [r for r in rows if q in r.id.lower() or q in r.name.lower()]
    pages = max(1, -(-len(rows) // per_page))
    page = min(max(1, page), pages)
    return rows[(page - 1) * per_page: page * per_page], pages
