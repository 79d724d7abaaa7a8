"""Reading and writing what people manage at run time: maintenance windows; and an alert's notify timeline."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, and_, delete, insert, select

from siaga.alerts.tables import alert_events
from siaga.errors import SiagaError
from siaga.notify.tables import notify_attempts, notify_items, notify_maintenance, notify_messages


class RecordError(SiagaError):
    """A request about records that cannot be done (an unknown or duplicate id)."""


def add_maintenance(
    conn: Connection,
    *,
    id: str,
    title: str,
    starts_at: dt.datetime,
    ends_at: dt.datetime,
    services: list[str],
    places: list[str],
    rules: list[str],
    created_by: str | None,
    now: dt.datetime,
) -> None:
    if ends_at <= starts_at:
        raise RecordError("the end must come after the start")
    if conn.execute(select(notify_maintenance.c.id).where(notify_maintenance.c.id == id)).first():
        raise RecordError(f"a maintenance window {id!r} exists already")
    conn.execute(insert(notify_maintenance).values(
        id=id, title=title, starts_at=starts_at, ends_at=ends_at, services=services, places=places, rules=rules,
        created_by=created_by, created_at=now,
    ))


def list_maintenance(conn: Connection) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in conn.execute(select(notify_maintenance).order_by(notify_maintenance.c.starts_at))]


def end_maintenance(conn: Connection, id: str) -> None:
    if conn.execute(delete(notify_maintenance).where(notify_maintenance.c.id == id)).rowcount == 0:
        raise RecordError(f"no maintenance window {id!r} made at run time (config windows are ended in siaga.yaml)")


DECISIONS = frozenset({"notify_folded", "notify_silenced", "notify_resumed"})
"""What notify writes on an alert's own timeline (``alert_events``) when it decides not to page it, or to again."""


@dataclass(frozen=True)
class TimelineEntry:
    at: dt.datetime
    what: str  # planned | skipped | withheld | attempt | decision
    recipient: str
    channel: str
    kind: str
    outcome: str | None = None
    latency_ms: int | None = None
    error: str | None = None
    message_id: int | None = None


def timeline(conn: Connection, alert_id: int) -> list[TimelineEntry]:
    """Who was to be told what about the alert, every delivery attempt, and notify's decisions (folded
    into its cause's incident, silenced by a maintenance window, paging again), in time order."""
    out: list[TimelineEntry] = []
    items = list(conn.execute(select(notify_items).where(notify_items.c.alert_id == alert_id)))
    for it in items:
        what = it.status if it.status in ("skipped", "withheld") else "planned"
        out.append(TimelineEntry(it.created_at, what, it.recipient, it.channel, it.kind, error=it.note,
                                 message_id=it.message_id))
    ids = sorted({it.message_id for it in items if it.message_id is not None})
    if ids:
        msgs = {m.id: m for m in conn.execute(select(notify_messages).where(notify_messages.c.id.in_(ids)))}
        for a in conn.execute(select(notify_attempts).where(notify_attempts.c.message_id.in_(ids))):
            m = msgs[a.message_id]
            out.append(TimelineEntry(a.at, "attempt", m.recipient, a.channel, m.kind, a.outcome, a.latency_ms,
                                     a.error, a.message_id))
    for e in conn.execute(select(alert_events).where(and_(
            alert_events.c.alert_id == alert_id, alert_events.c.event.in_(sorted(DECISIONS))))):
        out.append(TimelineEntry(e.at, "decision", "", "", e.event, error=e.note))
    out.sort(key=lambda e: (e.at, e.what not in ("decision", "planned")))
    return out
