"""The overview at a glance, the rack panel, and the sensor, service and backup lists the pages show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import DBAPIError

from siaga.backup import tables as backup_tables
from siaga.i18n.messages import Message, note_text
from siaga.inventory import Target, TargetKind
from siaga.kinds import SENSOR_KINDS
from siaga.web import queries
from siaga.web.errors import worded
from siaga.web.views.roommap import Latest, sensor_state

if TYPE_CHECKING:
    from siaga.peers.hub import PeerHub
    from siaga.web.dashboard import Dashboard


@dataclass
class Overview:
    worst: dict[str, Any] | None
    active: int
    critical: int
    sensors_total: int
    sensors_offline: list[dict[str, Any]]
    services_down: list[dict[str, Any]] | None  # None: no checks configured
    backups: list[dict[str, Any]] | None  # None: no backups configured
    value_total: int
    racks_alarm: list[str] = field(default_factory=list)
    peers: list[dict[str, Any]] | None = None  # None: no peers configured (siaga runs alone)
    cluster: dict[str, Any] | None = None  # None: one process (SQLite)


def sensor_rows(dash: Dashboard) -> list[dict[str, Any]]:
    with dash.engine.connect() as conn:
        latest = queries.latest_readings(conn)
    now = dash.now()
    rows = []
    for s in dash.cfg.sensors:
        kind = SENSOR_KINDS[s.kind]
        last = latest.get(s.id)
        rows.append({
            "id": s.id, "name": s.name or s.id, "kind": s.kind, "unit": kind.unit, "room": s.room, "rack": s.rack,
            "zone": s.zone, "value": last.value if last else None, "at": last.at if last else None,
            "state": sensor_state(s.kind, last, now, s.silent_after_s()), "binary": kind.value_type == "binary",
        })
    return rows


def build(dash: Dashboard, lang: str) -> Overview:
    """The overview for a reader of ``lang`` (the worst alert's summary is worded for them)."""
    with dash.engine.connect() as conn:
        active = queries.active_alerts(conn, lang=lang, zone=dash.zone)
    sensors = sensor_rows(dash)
    offline = [s for s in sensors if s["state"] in ("stale", "unknown")]
    services = service_rows(dash, lang)
    down = None if services is None else [s for s in services if s["state"] == "down"]
    return Overview(
        worst=active[0] if active else None,
        active=len(active),
        critical=sum(1 for a in active if a["severity"] == "critical"),
        sensors_total=len(sensors),
        sensors_offline=offline,
        services_down=down,
        backups=backup_rows(dash, lang),
        value_total=sum(d.value for d in dash.cfg.devices),
        peers=peer_rows(dash),
        cluster=cluster_card(dash),
    )


def cluster_card(dash: Dashboard) -> dict[str, Any] | None:
    """The processes on this PostgreSQL and who holds which role (``siaga.cluster.status``); None on SQLite."""
    from siaga.cluster.status import cluster_status

    cluster = dash.ctx.services.cluster
    if cluster is None or not cluster.shared:
        return None
    try:
        with dash.engine.connect() as conn:
            return cluster_status(conn, dash.now(), lease_s=cluster.lease_s, shared=True)
    except DBAPIError:
        return None


def peer_rows(dash: Dashboard) -> list[dict[str, Any]] | None:
    """Each peer as the running hub knows it (``siaga.peers.hub``); None when siaga runs alone."""
    hub: PeerHub | None = dash.ctx.services.peers
    if hub is None:
        return None
    rows = hub.status(dash.now())
    for row in rows:
        since = row["silent_since"]
        row["silent_at"] = dt.datetime.fromisoformat(since) if since else None
    return rows


def rack_detail(dash: Dashboard, rack_id: str) -> dict[str, Any]:
    cfg = dash.cfg
    rack = next((r for r in cfg.racks if r.id == rack_id), None)
    if rack is None:
        raise worded(404, "not_found", Message("web.no_rack", {"rack": rack_id}))
    devices = sorted((d for d in cfg.devices if d.rack == rack_id), key=lambda d: -(d.u or 0))
    at_stake = dash.inventory.impact(Target(TargetKind.rack, rack_id))  # the inventory's walk of depends_on
    hit = {s.id for s in at_stake.services}
    direct = {s.id for s in at_stake.services if s.direct}
    services = [s for s in cfg.services if s.id in hit]
    sensors = [s for s in sensor_rows(dash) if s["rack"] == rack_id]
    return {
        "id": rack.id, "name": rack.name or rack.id, "room": rack.room, "height_u": rack.height_u,
        "devices": devices, "services": services, "direct": direct, "sensors": sensors,
        "value": sum(d.value for d in devices),
    }


UPTIME_DAYS = 30


def service_rows(dash: Dashboard, lang: str = "en") -> list[dict[str, Any]] | None:
    """Services with their check state and daily uptime (the checks part); None when nothing is checked."""
    if not getattr(dash.cfg, "checks", None):
        return None
    try:
        from siaga.checks.records import load_states, read_daily
    except ImportError:
        return None
    now = dash.now()
    today = now.astimezone(dash.zone).date()
    first = today - dt.timedelta(days=UPTIME_DAYS - 1)
    try:
        with dash.engine.connect() as conn:
            states = load_states(conn)
            daily = read_daily(conn, first, today)
    except DBAPIError:
        return None
    worst: dict[str, Any] = {}
    for _check, service, state in states:
        held = worst.get(service)
        if held is None or state.status.rank > held.status.rank:
            worst[service] = state
    checked = {str(getattr(c, "service", "") or "") for c in dash.cfg.checks}
    out = []
    for s in dash.cfg.services:
        if s.id not in checked and s.id not in worst:
            continue
        st = worst.get(s.id)
        days: list[dict[str, Any]] = []
        up_total = down_total = 0.0
        for i in range(UPTIME_DAYS):
            day = first + dt.timedelta(days=i)
            tally = daily.get(s.id, {}).get(day)
            if tally is None or tally.up_s + tally.down_s <= 0:
                days.append({"day": day, "pct": None})
                continue
            up_total += tally.up_s
            down_total += tally.down_s
            days.append({"day": day, "pct": 100.0 * tally.up_s / (tally.up_s + tally.down_s)})
        uptime = 100.0 * up_total / (up_total + down_total) if up_total + down_total > 0 else None
        out.append({"id": s.id, "name": s.name, "criticality": s.criticality.value,
                    "state": st.status.value if st else "unknown", "since": st.since if st else None,
                    "message": (note_text(st.message, lang, dash.zone) or "") if st else "",
                    "latency_ms": st.latency_ms if st else None,
                    "url": s.url or s.host, "uptime": uptime, "days": days})
    return out


def backup_rows(dash: Dashboard, lang: str) -> list[dict[str, Any]] | None:
    """Backup jobs: last success, snapshot age against the RPO, the last drill and its measured RTO; why the last
    run failed worded for a reader of ``lang``."""
    if not getattr(dash.cfg, "backups", None):
        return None
    try:
        from siaga.backup.status import job_figures
    except ImportError:
        return None
    try:
        figures = job_figures(dash.cfg, dash.engine, dash.now())
    except DBAPIError:
        return None
    out = []
    for f in figures:
        age = f.snapshot_age_s
        fresh = None if age is None or f.rpo_s is None else age <= f.rpo_s
        out.append({"id": f.job, "target": f.target, "last_ok": f.last_success_at, "last_run_at": f.last_run_at,
                    "last_run_ok": f.last_run_ok, "age_s": age, "rpo_s": f.rpo_s,
                    "last_error": note_text(f.last_error, lang, dash.zone),
                    "fresh": fresh, "rto_s_target": f.rto_s_target, "drill_at": f.drill_at,
                    "drill_ok": f.drill_ok, "drill_rto_s": f.drill_rto_s, "bytes_added": f.bytes_added})
    return out


def service_incidents(dash: Dashboard, days: int = 30) -> list[dict[str, Any]]:
    """What staff told the public about outages (the checks part's status page), open or of the last days."""
    try:
        from siaga.checks.records import incidents
    except ImportError:
        return []
    try:
        with dash.engine.connect() as conn:
            return incidents(conn, since=dash.now() - dt.timedelta(days=days))
    except DBAPIError:
        return []


def backup_runs(dash: Dashboard, limit: int = 20) -> list[dict[str, Any]]:
    """The latest backup runs (every operation), newest first."""
    t = backup_tables.backup_runs
    try:
        with dash.engine.connect() as conn:
            rows = conn.execute(select(t).order_by(t.c.started_at.desc()).limit(limit)).mappings().all()
    except DBAPIError:
        return []
    return [dict(r) for r in rows]


def runbook_rows(dash: Dashboard, lang: str, limit: int = 30) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The runbooks with their plan (in ``lang``), and their latest records (triggers, approvals, steps, ends)."""
    from siaga.i18n import using_language
    from siaga.inventory import Inventory, TargetError
    from siaga.runbooks.messages import plan_lines
    from siaga.runbooks.plan import plan
    from siaga.store.schema import events

    inv = Inventory.from_config(dash.cfg)
    books: list[dict[str, Any]] = []
    with using_language(lang):
        for book in dash.cfg.runbooks.books:
            try:
                lines = plan_lines(plan(book, inv, dash.cfg.runbooks, dt.datetime.now(dt.UTC)))
            except TargetError as exc:
                lines = [str(exc)]
            trig = book.trigger
            books.append({"id": book.id, "name": book.name, "mode": book.mode.value, "approvals": book.approvals,
                          "trigger": f"{trig.rule} {trig.subject or '*'}" if trig else None, "plan": lines})
    from siaga.runbooks.drill import last_drills

    try:
        with dash.engine.connect() as conn:
            rows = conn.execute(select(events).where(events.c.kind.like("runbook.%"))
                                .order_by(events.c.at.desc(), events.c.id.desc()).limit(limit)).mappings().all()
            drills = last_drills(conn, [b["id"] for b in books])
    except DBAPIError:
        rows, drills = [], {}
    failover = {b.id for b in dash.cfg.runbooks.books if any(s.kind in ("standby", "dns") for s in b.steps)}
    for b in books:
        b["drill"] = drills.get(b["id"])
        b["failover"] = b["id"] in failover
    return books, [dict(r) for r in rows]


def latest_of(dash: Dashboard, sensor: str) -> Latest | None:
    with dash.engine.connect() as conn:
        return queries.latest_readings(conn).get(sensor)
