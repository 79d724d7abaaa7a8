"""The colocation's side of the off-site record: apply a room's events once, read them back.

:func:`apply` inserts each event under (site, event id) and does nothing for one already applied
(``ON CONFLICT DO NOTHING``): a batch sent twice, or replayed, applies nothing twice. The rows the events
carry are read back per site: the newest event of a row is its state (:func:`latest_rows`), so the alerts,
incidents and timelines of a room can be listed, and its incident report made, when the room is gone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Connection, Engine, Table, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from siaga.alerts.model import Alert, AlertState, Severity
from siaga.alerts.store import AlertEvent, Incident, alert_from_row, incident_from_row
from siaga.errors import SiagaError
from siaga.peers.tables import peer_records
from siaga.store.schema import metadata
from siaga.store.types import UTCDateTime

FIELDS = ("event_id", "tbl", "row_key", "subject", "at_s")


class RecordError(SiagaError):
    """A batch of events that cannot be applied (a malformed event: one line saying which)."""


def _valid(event: Any) -> dict[str, Any]:
    if not isinstance(event, Mapping):
        raise RecordError("an event is not an object")
    for name in FIELDS:
        if name not in event:
            raise RecordError(f"an event has no {name}")
    if event["tbl"] not in metadata.tables:
        raise RecordError(f"event {event['event_id']}: unknown table {event['tbl']!r}")
    return {"event_id": str(event["event_id"])[:120], "tbl": str(event["tbl"]), "row_key": str(event["row_key"]),
            "subject": str(event["subject"])[:200], "at_s": float(event["at_s"]),
            "data": event.get("data") if isinstance(event.get("data"), Mapping) else None}


def apply(conn: Connection, site: str, events: Iterable[Any], now_s: float) -> int:
    """Apply ``events`` of ``site`` in order, each once; returns how many were new."""
    rows = [{**_valid(e), "site": site, "received_s": now_s} for e in events]
    if not rows:
        return 0
    dialect_insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
    applied = 0
    for row in rows:  # one at a time: the order of the batch is the order of the record
        stmt = dialect_insert(peer_records).values(**row).on_conflict_do_nothing().returning(peer_records.c.id)
        applied += len(conn.execute(stmt).all())
    return applied


def event_ids(conn: Connection, site: str) -> list[str]:
    """Every event id applied for ``site``, in the order applied."""
    q = select(peer_records.c.event_id).where(peer_records.c.site == site).order_by(peer_records.c.id)
    return [str(v) for v in conn.execute(q).scalars()]


def sites(conn: Connection) -> list[str]:
    return sorted(str(s) for s in conn.execute(select(peer_records.c.site).distinct()).scalars())


def _row(table: Table, data: Mapping[str, Any]) -> SimpleNamespace:
    """A row of ``table`` from its JSON (times parsed back to aware UTC)."""
    values: dict[str, Any] = {}
    for col in table.columns:
        value = data.get(col.name)
        if value is not None and isinstance(col.type, UTCDateTime):
            value = dt.datetime.fromisoformat(str(value))
            value = value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)
        values[col.name] = value
    return SimpleNamespace(**values)


def latest_rows(conn: Connection, site: str, tbl: str) -> list[SimpleNamespace]:
    """The rows of ``tbl`` at ``site``, each as its newest event carried it, by key."""
    q = (select(peer_records.c.row_key, peer_records.c.data)
         .where(peer_records.c.site == site, peer_records.c.tbl == tbl).order_by(peer_records.c.id))
    newest: dict[str, Mapping[str, Any]] = {}
    for key, data in conn.execute(q):
        if data is not None:
            newest[str(key)] = data
    table = metadata.tables[tbl]
    return [_row(table, d) for d in newest.values()]


def remote_alerts(conn: Connection, site: str) -> list[Alert]:
    """The room's alerts, newest first."""
    return sorted((alert_from_row(r) for r in latest_rows(conn, site, "alerts")),  # type: ignore[arg-type]
                  key=lambda a: -a.id)


def remote_incidents(conn: Connection, site: str) -> list[Incident]:
    """The room's incidents, newest first."""
    return sorted((incident_from_row(r) for r in latest_rows(conn, site, "incidents")),  # type: ignore[arg-type]
                  key=lambda i: -i.id)


def remote_events(conn: Connection, site: str, alert_ids: Iterable[int]) -> list[AlertEvent]:
    """The timeline lines of the room's alerts ``alert_ids``."""
    wanted = set(alert_ids)
    out = [AlertEvent(int(r.id), int(r.alert_id), r.at, r.event, AlertState(r.state), Severity(r.severity), r.by,
                      r.via, r.note, r.value)
           for r in latest_rows(conn, site, "alert_events") if int(r.alert_id) in wanted]
    return sorted(out, key=lambda e: (e.at, e.id))


def remote_incident(engine: Engine, site: str, incident_id: int
                    ) -> tuple[Incident, list[Alert], list[AlertEvent]] | None:
    """Incident ``incident_id`` of ``site`` with its alerts and their timeline, as the room sent them."""
    with engine.connect() as conn:
        incident = next((i for i in remote_incidents(conn, site) if i.id == incident_id), None)
        if incident is None:
            return None
        alerts = [a for a in remote_alerts(conn, site) if a.incident_id == incident_id]
        return incident, alerts, remote_events(conn, site, [a.id for a in alerts])


__all__ = ["RecordError", "apply", "event_ids", "latest_rows", "remote_alerts", "remote_events", "remote_incident",
           "remote_incidents", "sites"]
