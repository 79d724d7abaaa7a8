"""Reading and writing the checks' tables (SQLAlchemy Core, one short transaction per batch).

Everything takes a :class:`~sqlalchemy.Connection`; callers in the event loop use
``RuntimeContext.run_db`` so the loop never blocks on the database.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from siaga.checks.confirm import CheckState, Status
from siaga.checks.monitor import RecordedChange
from siaga.checks.tables import (
    check_changes,
    check_states,
    heartbeat_pings,
    service_daily,
    status_incidents,
    status_updates,
)
from siaga.checks.uptime import Interval, Tally, day_bounds, service_timeline, session_intervals, tally
from siaga.store.schema import runtime_sessions


def _upsert(conn: Connection, table: Any, rows: list[dict[str, Any]], keys: Sequence[str]) -> None:
    if not rows:
        return
    dialect = conn.dialect.name
    maker = postgresql.insert if dialect == "postgresql" else sqlite.insert if dialect == "sqlite" else None
    if maker is None:  # pragma: no cover - only SQLite and PostgreSQL are supported
        raise RuntimeError(f"unsupported database {dialect}")
    stmt = maker(table)
    cols = [c for c in rows[0] if c not in keys]
    stmt = stmt.on_conflict_do_update(index_elements=list(keys), set_={c: stmt.excluded[c] for c in cols})
    conn.execute(stmt, rows)


def write_batch(
    conn: Connection,
    changes: Sequence[RecordedChange],
    states: Sequence[tuple[str, str, CheckState]],
    pings: Sequence[tuple[str, dt.datetime, bool, int]] = (),
) -> None:
    """Write confirmed changes, the latest states (check id, service, state) and heartbeat pings."""
    if changes:
        conn.execute(
            insert(check_changes),
            [
                {
                    "check_id": c.check_id, "service": c.service, "at": c.change.at,
                    "confirmed_at": c.change.confirmed_at, "previous": c.change.previous.value,
                    "status": c.change.status.value, "message": c.change.message[:2000],
                }
                for c in changes
            ],
        )
    _upsert(
        conn,
        check_states,
        [
            {
                "check_id": cid, "service": service, "status": st.status.value, "since": st.since,
                "fails": st.fails, "oks": st.oks, "streak_at": st.streak_at, "last_at": st.last_at,
                "message": st.message[:2000], "latency_ms": st.latency_ms,
            }
            for cid, service, st in states
        ],
        ["check_id"],
    )
    _upsert(
        conn,
        heartbeat_pings,
        [{"ping_id": k, "last_ping_at": at, "failed": failed, "count": n} for k, at, failed, n in pings],
        ["ping_id"],
    )


def load_states(conn: Connection) -> list[tuple[str, str, CheckState]]:
    """Every check's last known state: (check id, service, state)."""
    out = []
    for r in conn.execute(select(check_states)).mappings():
        out.append(
            (
                r["check_id"], r["service"],
                CheckState(
                    status=Status(r["status"]), since=r["since"], fails=r["fails"], oks=r["oks"],
                    streak_at=r["streak_at"], last_at=r["last_at"], message=r["message"] or "",
                    latency_ms=r["latency_ms"],
                ),
            )
        )
    return out


def load_pings(conn: Connection) -> list[tuple[str, dt.datetime, bool, int]]:
    return [
        (r["ping_id"], r["last_ping_at"], bool(r["failed"]), int(r["count"]))
        for r in conn.execute(select(heartbeat_pings)).mappings()
    ]


def changes_between(
    conn: Connection, start: dt.datetime, end: dt.datetime, services: Iterable[str] | None = None
) -> tuple[dict[str, Status], dict[str, list[tuple[dt.datetime, Status]]], dict[str, str]]:
    """For [start, end): each check's status just before start, its changes inside, and its service."""
    svc_filter = [] if services is None else [check_changes.c.service.in_(list(services))]
    last_before = (
        select(check_changes.c.check_id, func.max(check_changes.c.at).label("at"))
        .where(check_changes.c.at <= start, *svc_filter)
        .group_by(check_changes.c.check_id)
        .subquery()
    )
    initial: dict[str, Status] = {}
    service_of: dict[str, str] = {}
    q = select(check_changes.c.check_id, check_changes.c.service, check_changes.c.status, check_changes.c.id).join(
        last_before, and_(check_changes.c.check_id == last_before.c.check_id, check_changes.c.at == last_before.c.at)
    ).order_by(check_changes.c.id)
    for r in conn.execute(q):
        initial[r.check_id] = Status(r.status)
        service_of[r.check_id] = r.service
    inside: dict[str, list[tuple[dt.datetime, Status]]] = {}
    q2 = (
        select(check_changes.c.check_id, check_changes.c.service, check_changes.c.at, check_changes.c.status)
        .where(check_changes.c.at > start, check_changes.c.at < end, *svc_filter)
        .order_by(check_changes.c.at, check_changes.c.id)
    )
    for r in conn.execute(q2):
        inside.setdefault(r.check_id, []).append((r.at, Status(r.status)))
        service_of[r.check_id] = r.service
    return initial, inside, service_of


def running_between(conn: Connection, start: dt.datetime, end: dt.datetime, now: dt.datetime) -> list[Interval]:
    rows = conn.execute(
        select(runtime_sessions.c.started_at, runtime_sessions.c.last_seen_at, runtime_sessions.c.stopped_at)
        .where(runtime_sessions.c.started_at < end)
        .where(
            func.coalesce(runtime_sessions.c.stopped_at, runtime_sessions.c.last_seen_at)
            >= start - dt.timedelta(hours=1)
        )
    ).all()
    return session_intervals([(r[0], r[1], r[2]) for r in rows], now)


def service_tallies(
    conn: Connection,
    start: dt.datetime,
    end: dt.datetime,
    now: dt.datetime,
    *,
    checks_of: dict[str, list[str]],
    maintenance: dict[str, list[Interval]],
    services: Iterable[str] | None = None,
) -> dict[str, Tally]:
    """Seconds per status of each service over [start, end) (clipped to now), from the stored history."""
    end = min(end, now)
    wanted = list(checks_of) if services is None else list(services)
    if end <= start:
        return {s: Tally() for s in wanted}
    initial, inside, _ = changes_between(conn, start, end, None if services is None else wanted)
    running = running_between(conn, start, end, now)
    out: dict[str, Tally] = {}
    for sid in wanted:
        ids = checks_of.get(sid, [])
        segs = service_timeline(
            [inside.get(c, []) for c in ids], start, end,
            initial=[initial.get(c, Status.unknown) for c in ids],
            running=running, maintenance=maintenance.get(sid, []),
        )
        out[sid] = tally(segs)
    return out


def recompute_days(
    conn: Connection,
    days: Iterable[dt.date],
    zone: ZoneInfo,
    now: dt.datetime,
    *,
    checks_of: dict[str, list[str]],
    maintenance: dict[str, list[Interval]],
) -> int:
    """Recompute and store ``service_daily`` for the given local days; return the rows written."""
    n = 0
    for day in days:
        start, end = day_bounds(day, zone)
        tallies = service_tallies(conn, start, end, now, checks_of=checks_of, maintenance=maintenance)
        rows = [
            {"service": sid, "day": day, "up_s": t.up_s, "down_s": t.down_s, "unknown_s": t.unknown_s,
             "maintenance_s": t.maintenance_s}
            for sid, t in tallies.items()
        ]
        _upsert(conn, service_daily, rows, ["service", "day"])
        n += len(rows)
    return n


def read_daily(
    conn: Connection, first: dt.date, last: dt.date, services: Iterable[str] | None = None
) -> dict[str, dict[dt.date, Tally]]:
    q = select(service_daily).where(service_daily.c.day >= first, service_daily.c.day <= last)
    if services is not None:
        q = q.where(service_daily.c.service.in_(list(services)))
    out: dict[str, dict[dt.date, Tally]] = {}
    for r in conn.execute(q):
        out.setdefault(r.service, {})[r.day] = Tally(r.up_s, r.down_s, r.unknown_s, r.maintenance_s)
    return out


# --- public status incidents -----------------------------------------------------------------------

INCIDENT_STATES = ("investigating", "identified", "monitoring", "resolved")
IMPACTS = ("none", "minor", "major", "critical")


def create_incident(
    conn: Connection, *, title: str, status: str, impact: str, services: list[str], message: str,
    author: str | None, at: dt.datetime, alert_incident_id: int | None = None,
) -> int:
    iid = int(
        conn.execute(
            insert(status_incidents)
            .values(
                title=title, status=status, impact=impact, services=services, created_at=at, updated_at=at,
                resolved_at=at if status == "resolved" else None, alert_incident_id=alert_incident_id,
            )
            .returning(status_incidents.c.id)
        ).scalar_one()
    )
    conn.execute(insert(status_updates).values(incident_id=iid, at=at, status=status, message=message, author=author))
    return iid


def add_update(
    conn: Connection, incident_id: int, *, status: str, message: str, author: str | None, at: dt.datetime
) -> bool:
    """Post an update; False when there is no such incident."""
    found = conn.execute(select(status_incidents.c.id).where(status_incidents.c.id == incident_id)).first()
    if found is None:
        return False
    conn.execute(
        insert(status_updates).values(incident_id=incident_id, at=at, status=status, message=message, author=author)
    )
    values: dict[str, Any] = {"status": status, "updated_at": at}
    values["resolved_at"] = at if status == "resolved" else None
    conn.execute(update(status_incidents).where(status_incidents.c.id == incident_id).values(**values))
    return True


def delete_incident(conn: Connection, incident_id: int) -> bool:
    conn.execute(delete(status_updates).where(status_updates.c.incident_id == incident_id))
    return conn.execute(delete(status_incidents).where(status_incidents.c.id == incident_id)).rowcount > 0


def incidents(conn: Connection, *, since: dt.datetime | None = None, active_only: bool = False) -> list[dict[str, Any]]:
    """Incidents (newest first) with their updates (newest first)."""
    q = select(status_incidents).order_by(status_incidents.c.created_at.desc())
    if active_only:
        q = q.where(status_incidents.c.resolved_at.is_(None))
    if since is not None:
        q = q.where((status_incidents.c.resolved_at.is_(None)) | (status_incidents.c.resolved_at >= since))
    rows = [dict(r) for r in conn.execute(q).mappings()]
    if not rows:
        return []
    ids = [r["id"] for r in rows]
    ups: dict[int, list[dict[str, Any]]] = {}
    for u in conn.execute(
        select(status_updates).where(status_updates.c.incident_id.in_(ids)).order_by(status_updates.c.at.desc())
    ).mappings():
        ups.setdefault(u["incident_id"], []).append(dict(u))
    for r in rows:
        r["updates"] = ups.get(r["id"], [])
    return rows
