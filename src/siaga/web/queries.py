"""What the dashboard reads from the other parts' tables, each through one small function.

Each part's tables are imported from their owner (``siaga.alerts.tables``, ...); a table not migrated
yet gives ``None`` (the page says "not configured"); nothing here writes except through the owners' APIs.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, and_, func, or_, select
from sqlalchemy.exc import DBAPIError

from siaga.alerts import store as alert_store
from siaga.alerts.serialise import alert_fields, incident_fields
from siaga.alerts.tables import alert_events, alerts
from siaga.backup.tables import backup_runs
from siaga.checks.tables import check_states
from siaga.i18n.messages import MESSAGE_KIND_WORDS, OUTCOME_WORDS, note_text, word
from siaga.readings.query import unmapped_topics as query_unmapped_topics
from siaga.readings.tables import sensor_last
from siaga.web.views.roommap import Latest

UTC = dt.UTC


def ms_to_dt(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, UTC)


def dt_to_ms(when: dt.datetime) -> int:
    return int(when.timestamp() * 1000)


def unmapped_topics(conn: Connection, limit: int = 50) -> list[tuple[str, int, dt.datetime]] | None:
    """MQTT topics under the subscribed filters that no sensor maps: (topic, messages, last), most first."""
    return query_unmapped_topics(conn, limit)


def latest_readings(conn: Connection) -> dict[str, Latest]:
    """The latest reading of every sensor that has one."""
    t = sensor_last
    try:
        rows = conn.execute(select(t.c.sensor, t.c.ts, t.c.value)).all()
    except DBAPIError:
        return {}
    return {r.sensor: Latest(float(r.value), ms_to_dt(int(r.ts))) for r in rows}


# --- charts: the right resolution for the span ----------------------------------------------------------


@dataclass(frozen=True)
class Series:
    sensor: str
    resolution: str  # raw, 1m, 1h
    ts: list[int]  # ms
    avg: list[float]
    min: list[float]
    max: list[float]


def series(conn: Connection, sensor: str, start: dt.datetime, end: dt.datetime) -> Series | None:
    """One sensor's readings between ``start`` and ``end`` at the resolution the span calls for
    (``siaga.readings.query``: raw up to 6 h, 1-minute buckets up to 7 days, 1-hour buckets beyond)."""
    try:
        from siaga.readings.query import query
    except ImportError:
        return None
    found = query(conn, sensor, start, end)
    pts = found.points
    return Series(sensor, found.resolution, [dt_to_ms(p.ts) for p in pts], [p.avg for p in pts],
                  [p.min for p in pts], [p.max for p in pts])


# --- alerts and incidents ---------------------------------------------------------------------------------

ACTIVE_STATES = ("pending", "firing", "acknowledged")
SEVERITY_RANK = {"info": 0, "warning": 1, "critical": 2}


# The alerts part's own queries (siaga.alerts.store) and its one serialiser (siaga.alerts.serialise): the
# pages and the API get the same dictionaries as the CLI's --json, worded for the reader.


def list_alerts(conn: Connection, *, lang: str, zone: ZoneInfo, states: list[str] | None = None,
                severity: str | None = None, subject: str | None = None, incident: int | None = None,
                limit: int = 50, before_id: int | None = None) -> list[dict[str, Any]] | None:
    """Alerts, newest first; ``before_id`` is the pagination cursor. None while the alerts part is not migrated."""
    try:
        found = alert_store.list_alerts(conn, states=states, severities=[severity] if severity else None,
                                        subject=subject, incident_id=incident, limit=limit, before_id=before_id)
    except DBAPIError:
        return None
    return [alert_fields(a, lang, zone) for a in found]


def get_alert(conn: Connection, alert_id: int, *, lang: str, zone: ZoneInfo) -> dict[str, Any] | None:
    found = alert_store.get_alert(conn, alert_id)
    return alert_fields(found, lang, zone) if found is not None else None


def active_alerts(conn: Connection, *, lang: str, zone: ZoneInfo) -> list[dict[str, Any]]:
    found = list_alerts(conn, lang=lang, zone=zone, states=list(ACTIVE_STATES), limit=500) or []
    return sorted(found, key=lambda a: (-SEVERITY_RANK.get(a["severity"], 0), a["started_at"]))


def alerts_by_state_severity(conn: Connection) -> list[tuple[str, str, int]] | None:
    t = alerts
    try:
        rows = conn.execute(select(t.c.state, t.c.severity, func.count()).group_by(t.c.state, t.c.severity)).all()
    except DBAPIError:
        return None
    return [(str(r[0]), str(r[1]), int(r[2])) for r in rows]


def alerts_version(conn: Connection) -> tuple[Any, ...]:
    """Something that changes whenever an alert changes (for the live-update poller)."""
    t = alerts
    try:
        row = conn.execute(select(func.max(t.c.updated_at), func.count(), func.max(t.c.id))).first()
    except DBAPIError:
        return ()
    return tuple(row) if row else ()


def readings_version(conn: Connection) -> tuple[Any, ...]:
    t = sensor_last
    try:
        row = conn.execute(select(func.max(t.c.received_at), func.count())).first()
    except DBAPIError:
        return ()
    return tuple(row) if row else ()


def services_version(conn: Connection) -> tuple[Any, ...]:
    t = check_states
    try:
        row = conn.execute(select(func.max(t.c.since), func.count())).first()
    except DBAPIError:
        return ()
    return tuple(row) if row else ()


def backups_version(conn: Connection) -> tuple[Any, ...]:
    t = backup_runs
    try:
        row = conn.execute(select(func.max(t.c.id), func.max(t.c.finished_at))).first()
    except DBAPIError:
        return ()
    return tuple(row) if row else ()


# What the notification part also writes on alert_events (one line per attempt) for the reports.
NOTIFY_EVENTS = frozenset({"notified", "notify_failed", "notify_demo", "notify_possibly_sent"})


def timeline(conn: Connection, alert_id: int, *, lang: str, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Everything that happened to an alert, oldest first: its own events, notification attempts, notes
    (siaga's own notes worded for a reader of ``lang``, a person's as written)."""
    out: list[dict[str, Any]] = []
    attempts = notification_attempts(conn, alert_id, lang=lang, zone=zone)
    ev = alert_events
    for r in conn.execute(select(ev).where(ev.c.alert_id == alert_id).order_by(ev.c.at, ev.c.id)):
        m = r._mapping
        if attempts and m["event"] in NOTIFY_EVENTS:
            continue  # the notification part's own records say the same, with more detail
        out.append({"at": m["at"], "kind": m["event"], "by": m.get("by"), "via": m.get("via"),
                    "note": note_text(m.get("note"), lang, zone), "state": m.get("state"), "detail": None})
    out.extend(attempts)
    return sorted(out, key=lambda e: e["at"])


def notification_attempts(conn: Connection, alert_id: int, *, lang: str, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Who was to be told about the alert, and every delivery attempt (the notification part, when installed)."""
    try:
        from siaga.notify.records import timeline as notify_timeline
    except ImportError:
        return []
    try:
        entries = notify_timeline(conn, alert_id)
    except DBAPIError:
        return []
    out = []
    for e in entries:
        if e.what == "decision":
            continue  # notify wrote it on alert_events: the alert's own timeline has it
        if e.what == "attempt":
            timed = e.latency_ms is not None and e.outcome != "possibly_sent"  # no answer was ever timed
            latency = f"{e.latency_ms} ms" if timed else None
            kind, outcome = word(MESSAGE_KIND_WORDS, e.kind, lang), word(OUTCOME_WORDS, e.outcome, lang)
            detail = " · ".join(x for x in (kind, outcome, latency, note_text(e.error, lang, zone)) if x)
            out.append({"at": e.at, "kind": "notification", "by": e.recipient, "via": e.channel, "note": None,
                        "state": e.outcome, "detail": detail})
        else:  # planned, skipped (no address) or withheld (the alert changed before it left)
            kind = word(MESSAGE_KIND_WORDS, e.kind, lang)
            detail = " · ".join(x for x in (kind, note_text(e.error, lang, zone)) if x)
            out.append({"at": e.at, "kind": f"notification.{e.what}", "by": e.recipient, "via": e.channel,
                        "note": None, "state": e.what, "detail": detail})
    return out


def list_incidents(conn: Connection, *, lang: str, zone: ZoneInfo, open_only: bool = False, limit: int = 50,
                   before_id: int | None = None) -> list[dict[str, Any]] | None:
    try:
        found = alert_store.list_incidents(conn, open_only=open_only, limit=limit, before_id=before_id)
    except DBAPIError:
        return None
    return [incident_fields(i, lang, zone) for i in found]


def get_incident(conn: Connection, incident_id: int, *, lang: str, zone: ZoneInfo) -> dict[str, Any] | None:
    found = alert_store.get_incident(conn, incident_id)
    return incident_fields(found, lang, zone) if found is not None else None


def audit_events(conn: Connection, subject: str | None = None, limit: int = 100) -> list[dict[str, Any]]:
    from siaga.store.schema import events

    q = select(events).where(events.c.kind.like("audit.%")).order_by(events.c.id.desc()).limit(limit)
    if subject is not None:
        q = q.where(events.c.subject == subject)
    return [dict(r._mapping) for r in conn.execute(q)]


def notes_for(conn: Connection, alert_id: int) -> list[dict[str, Any]]:
    """Notes written through the dashboard (audit log) when the alert part keeps none of its own."""
    from siaga.store.schema import events

    q = select(events).where(and_(events.c.subject == f"alert:{alert_id}",
                                  or_(events.c.kind == "audit.alert.note", events.c.kind == "audit.alert.ack",
                                      events.c.kind == "audit.alert.resolve"))).order_by(events.c.at)
    return [dict(r._mapping) for r in conn.execute(q)]
