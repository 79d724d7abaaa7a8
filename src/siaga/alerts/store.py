"""Reading and writing alerts, their timeline and incidents (SQLAlchemy Core, both backends).

The alert manager writes through these functions; so do the CLI commands (``siaga alerts ack``),
whose changes a running manager picks up within a few seconds.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Insert, Row, delete, exists, func, insert, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from siaga.alerts.model import Alert, AlertState, Severity, SubjectKind
from siaga.alerts.serialise import impact_fields, impact_from_fields
from siaga.alerts.tables import OPEN_ONLY, alert_events, alert_witnesses, alerts, incidents
from siaga.errors import SiagaError
from siaga.i18n.messages import Message, note_of, person_note
from siaga.store.schema import runtime_sessions

ACTIVE_STATES = (AlertState.pending.value, AlertState.firing.value, AlertState.acknowledged.value)


class AlertError(SiagaError):
    """An alert or incident operation a person asked for cannot be done; ``why`` says why as a message worded per
    reader (an ``alert.*`` key), ``str()`` is that line in English (logs)."""

    def __init__(self, message: Message | str) -> None:
        why = message if isinstance(message, Message) else Message(text=message)
        super().__init__(why.english())
        self.why = why


class NoSuchAlert(AlertError):
    """The alert or incident named does not exist (an API answers 404; any other AlertError is a 409)."""


@dataclass(frozen=True)
class AlertEvent:
    id: int
    alert_id: int
    at: dt.datetime
    event: str
    state: AlertState
    severity: Severity
    by: str | None = None
    via: str | None = None
    note: str | None = None
    value: float | None = None


@dataclass(frozen=True)
class Incident:
    id: int
    title: Message
    opened_at: dt.datetime
    closed_at: dt.datetime | None
    owner: str | None
    notes: str | None
    room: str | None
    rack: str | None
    last_alert_at: dt.datetime


def _json_safe(params: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, dt.datetime):
            out[k] = v.isoformat()
        elif isinstance(v, str | int | float | bool) or v is None:
            out[k] = v
        elif isinstance(v, list | tuple):
            out[k] = [x if isinstance(x, str | int | float | bool) or x is None else str(x) for x in v]
        elif isinstance(v, dict):
            out[k] = _json_safe(v)
        else:
            out[k] = str(v)
    return out


def alert_from_row(row: Row[Any]) -> Alert:
    params = dict(row.params or {})
    if row.flapping:
        params["flapping"] = True
    return Alert(
        id=int(row.id),
        rule=row.rule,
        subject=row.subject,
        subject_kind=SubjectKind(row.subject_kind),
        state=AlertState(row.state),
        severity=Severity(row.severity),
        summary=Message.stored(row.summary_key, row.summary_params, row.summary),
        started_at=row.started_at,
        fired_at=row.fired_at,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        resolved_at=row.resolved_at,
        incident_id=int(row.incident_id) if row.incident_id is not None else None,
        last_value=row.last_value,
        impact=impact_from_fields(row.impact),
        params=params,
    )


def _values(alert: Alert, now: dt.datetime) -> dict[str, Any]:
    return {
        "rule": alert.rule,
        "subject": alert.subject,
        "subject_kind": alert.subject_kind.value,
        "state": alert.state.value,
        "severity": alert.severity.value,
        "summary": alert.summary.text[:2000],
        "summary_key": alert.summary.key or None,
        "summary_params": _json_safe(dict(alert.summary.params)) if alert.summary.key else None,
        "started_at": alert.started_at,
        "fired_at": alert.fired_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "resolved_at": alert.resolved_at,
        "incident_id": alert.incident_id,
        "last_value": alert.last_value,
        "flapping": bool(alert.params.get("flapping")),
        "impact": impact_fields(alert.impact),
        "params": _json_safe(alert.params),
        "updated_at": now,
    }


def insert_alert(conn: Connection, alert: Alert, now: dt.datetime) -> int:
    result = conn.execute(insert(alerts).values(**_values(alert, now)).returning(alerts.c.id))
    return int(result.scalar_one())


def _insert_or_nothing(conn: Connection) -> Any:
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)


def claim_alert(conn: Connection, alert: Alert, now: dt.datetime) -> int | None:
    """Insert ``alert`` unless an open alert of its (rule, subject) exists (another process raised it first:
    the partial unique index ``ux_alerts_open_rule_subject`` says so, even when both insert at once).
    Returns the new row's id, or None when it was taken."""
    stmt: Insert = _insert_or_nothing(conn)(alerts).values(**_values(alert, now))
    stmt = stmt.on_conflict_do_nothing(  # type: ignore[attr-defined]
        index_elements=[alerts.c.rule, alerts.c.subject], index_where=text(OPEN_ONLY))  # (a literal: a bound
    # parameter would not match the index's predicate once the statement is prepared)
    found = conn.execute(stmt.returning(alerts.c.id)).scalar_one_or_none()
    return int(found) if found is not None else None


def open_alert(conn: Connection, rule: str, subject: str) -> Alert | None:
    """The open alert of (rule, subject), if there is one (there is at most one)."""
    row = conn.execute(select(alerts).where(alerts.c.rule == rule, alerts.c.subject == subject,
                                            alerts.c.state.in_(ACTIVE_STATES))).first()
    return alert_from_row(row) if row is not None else None


def witness(conn: Connection, alert_id: int, session_id: int, at: dt.datetime) -> None:
    """Record that the process of ``session_id`` sees the condition of open alert ``alert_id``."""
    stmt = _insert_or_nothing(conn)(alert_witnesses).values(alert_id=alert_id, session_id=session_id, since=at)
    conn.execute(stmt.on_conflict_do_nothing())


def _alive(now: dt.datetime, within: dt.timedelta) -> Any:
    """A witness whose runtime session runs: not stopped, seen within ``within``."""
    return exists().where(runtime_sessions.c.id == alert_witnesses.c.session_id,
                          runtime_sessions.c.stopped_at.is_(None),
                          runtime_sessions.c.last_seen_at >= now - within)


def leave(conn: Connection, alert_id: int, session_id: int | None, now: dt.datetime, within: dt.timedelta) -> int:
    """The process of ``session_id`` no longer sees the condition of ``alert_id``: its witness goes. Returns
    how many other live processes still see it (0: it resolves; the witnesses go too). The alert's row is
    locked first, so two processes leaving at once see each other's leave: exactly one of them resolves."""
    conn.execute(select(alerts.c.id).where(alerts.c.id == alert_id).with_for_update())
    if session_id is not None:
        conn.execute(delete(alert_witnesses).where(alert_witnesses.c.alert_id == alert_id,
                                                   alert_witnesses.c.session_id == session_id))
    others = conn.execute(select(func.count()).select_from(alert_witnesses)
                          .where(alert_witnesses.c.alert_id == alert_id, _alive(now, within))).scalar_one()
    if not others:
        forget_witnesses(conn, alert_id)
    return int(others)


def forget_witnesses(conn: Connection, alert_id: int) -> None:
    """A resolved alert has no witnesses (they count for open ones only)."""
    conn.execute(delete(alert_witnesses).where(alert_witnesses.c.alert_id == alert_id))


def resolve_unwitnessed(conn: Connection, rules: Iterable[str], now: dt.datetime, within: dt.timedelta) -> list[int]:
    """Resolve the open alerts of ``rules`` (those a process raises about what it alone sees) whose every
    witness's session has ended (stopped, or not seen within ``within``): nobody sees them any more.
    Returns their ids (each resolved once, however many processes sweep at once)."""
    watched = exists().where(alert_witnesses.c.alert_id == alerts.c.id)
    seen = exists().where(alert_witnesses.c.alert_id == alerts.c.id, _alive(now, within))
    ids = conn.execute(select(alerts.c.id).where(alerts.c.state.in_(ACTIVE_STATES), alerts.c.rule.in_(list(rules)),
                                                 watched, ~seen)).scalars().all()
    done: list[int] = []
    note = note_of(Message("note.witnesses_ended"))
    for alert_id in ids:
        row = conn.execute(
            update(alerts).where(alerts.c.id == alert_id, alerts.c.state.in_(ACTIVE_STATES))
            .values(state=AlertState.resolved.value, resolved_at=now, updated_at=now)
            .returning(alerts.c.id)).first()
        if row is None:  # resolved meanwhile (by a person, by another process's sweep)
            continue
        alert = get_alert(conn, alert_id)
        assert alert is not None
        add_event(conn, alert, "resolved", now, by="siaga", note=note)
        forget_witnesses(conn, alert_id)
        done.append(alert_id)
    return done


def update_alert(conn: Connection, alert: Alert, now: dt.datetime) -> None:
    conn.execute(update(alerts).where(alerts.c.id == alert.id).values(**_values(alert, now)))


def add_event(
    conn: Connection,
    alert: Alert,
    event: str,
    at: dt.datetime,
    *,
    by: str | None = None,
    via: str | None = None,
    note: str | None = None,
) -> None:
    conn.execute(
        insert(alert_events).values(
            alert_id=alert.id,
            at=at,
            event=event,
            state=alert.state.value,
            severity=alert.severity.value,
            by=by,
            via=via,
            note=note,
            value=alert.last_value,
        )
    )


def get_alert(conn: Connection, alert_id: int) -> Alert | None:
    row = conn.execute(select(alerts).where(alerts.c.id == alert_id)).one_or_none()
    return alert_from_row(row) if row is not None else None


def active_alerts(conn: Connection) -> list[Alert]:
    rows = conn.execute(select(alerts).where(alerts.c.state.in_(ACTIVE_STATES)).order_by(alerts.c.id))
    return [alert_from_row(r) for r in rows]


def list_alerts(
    conn: Connection,
    *,
    states: Iterable[str] | None = None,
    severities: Iterable[str] | None = None,
    incident_id: int | None = None,
    subject: str | None = None,
    before_id: int | None = None,
    started: tuple[dt.datetime, dt.datetime] | None = None,
    limit: int | None = 100,
) -> list[Alert]:
    """Alerts, newest first (by id: the order they opened in); ``before_id`` is a pagination cursor;
    ``started``: only those started in [start, end); ``limit=None``: all of them."""
    q = select(alerts).order_by(alerts.c.id.desc()).limit(limit)
    if started is not None:
        q = q.where(alerts.c.started_at >= started[0], alerts.c.started_at < started[1])
    if states:
        q = q.where(alerts.c.state.in_(list(states)))
    if severities:
        q = q.where(alerts.c.severity.in_(list(severities)))
    if incident_id is not None:
        q = q.where(alerts.c.incident_id == incident_id)
    if subject is not None:
        q = q.where(alerts.c.subject == subject)
    if before_id is not None:
        q = q.where(alerts.c.id < before_id)
    return [alert_from_row(r) for r in conn.execute(q)]


def events_of(conn: Connection, alert_ids: Iterable[int]) -> list[AlertEvent]:
    ids = list(alert_ids)
    if not ids:
        return []
    rows = conn.execute(
        select(alert_events).where(alert_events.c.alert_id.in_(ids)).order_by(alert_events.c.at, alert_events.c.id)
    )
    return [
        AlertEvent(int(r.id), int(r.alert_id), r.at, r.event, AlertState(r.state), Severity(r.severity), r.by, r.via,
                   r.note, r.value)
        for r in rows
    ]


def last_event(conn: Connection, alert_id: int, event: str) -> AlertEvent | None:
    row = conn.execute(
        select(alert_events)
        .where(alert_events.c.alert_id == alert_id, alert_events.c.event == event)
        .order_by(alert_events.c.id.desc())
        .limit(1)
    ).one_or_none()
    if row is None:
        return None
    return AlertEvent(int(row.id), int(row.alert_id), row.at, row.event, AlertState(row.state),
                      Severity(row.severity), row.by, row.via, row.note, row.value)


def acknowledge(
    conn: Connection, alert_id: int, by: str, at: dt.datetime, *, via: str = "cli", note: str | None = None
) -> Alert:
    """Mark an active alert acknowledged in the store (the running manager picks it up)."""
    alert = get_alert(conn, alert_id)
    if alert is None:
        raise NoSuchAlert(Message("alert.no_such", {"alert": alert_id}))
    if alert.state is AlertState.resolved:
        raise AlertError(Message("alert.resolved_already", {"alert": alert_id}))
    if alert.state is AlertState.acknowledged:
        raise AlertError(Message("alert.acknowledged_already", {"alert": alert_id, "by": alert.acknowledged_by}))
    alert = dataclasses.replace(alert, state=AlertState.acknowledged, acknowledged_at=at, acknowledged_by=by)
    update_alert(conn, alert, at)
    add_event(conn, alert, "acknowledged", at, by=by, via=via, note=person_note(note))
    return alert


def resolve(
    conn: Connection, alert_id: int, by: str | None, at: dt.datetime, *, via: str = "cli", note: str | None = None
) -> Alert:
    """Mark an active alert resolved by hand."""
    alert = get_alert(conn, alert_id)
    if alert is None:
        raise NoSuchAlert(Message("alert.no_such", {"alert": alert_id}))
    if alert.state is AlertState.resolved:
        raise AlertError(Message("alert.resolved_already", {"alert": alert_id}))
    alert = dataclasses.replace(alert, state=AlertState.resolved, resolved_at=at)
    update_alert(conn, alert, at)
    add_event(conn, alert, "resolved", at, by=by, via=via, note=person_note(note))
    forget_witnesses(conn, alert_id)
    return alert


def add_note(conn: Connection, alert_id: int, by: str | None, note: str, at: dt.datetime, *, via: str = "cli") -> Alert:
    alert = get_alert(conn, alert_id)
    if alert is None:
        raise NoSuchAlert(Message("alert.no_such", {"alert": alert_id}))
    add_event(conn, alert, "note", at, by=by, via=via, note=person_note(note))
    return alert


# Incidents ---------------------------------------------------------------------------------------------

def incident_from_row(row: Row[Any]) -> Incident:
    return Incident(int(row.id), Message.stored(row.title_key, row.title_params, row.title), row.opened_at,
                    row.closed_at, row.owner, row.notes, row.room, row.rack, row.last_alert_at)


def insert_incident(conn: Connection, title: Message, at: dt.datetime, room: str | None, rack: str | None) -> int:
    result = conn.execute(
        insert(incidents)
        .values(title=title.text[:300], title_key=title.key or None,
                title_params=_json_safe(dict(title.params)) if title.key else None,
                opened_at=at, room=room, rack=rack, last_alert_at=at)
        .returning(incidents.c.id)
    )
    return int(result.scalar_one())


def get_incident(conn: Connection, incident_id: int) -> Incident | None:
    row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).one_or_none()
    return incident_from_row(row) if row is not None else None


def list_incidents(conn: Connection, *, open_only: bool = False, limit: int | None = 50,
                   before_id: int | None = None, opened: tuple[dt.datetime, dt.datetime] | None = None
                   ) -> list[Incident]:
    """Incidents, newest first; ``before_id`` is a pagination cursor; ``opened``: only those opened in
    [start, end); ``limit=None``: all of them."""
    q = select(incidents).order_by(incidents.c.id.desc()).limit(limit)
    if opened is not None:
        q = q.where(incidents.c.opened_at >= opened[0], incidents.c.opened_at < opened[1])
    if open_only:
        q = q.where(incidents.c.closed_at.is_(None))
    if before_id is not None:
        q = q.where(incidents.c.id < before_id)
    return [incident_from_row(r) for r in conn.execute(q)]


def recent_incidents(conn: Connection, since: dt.datetime) -> list[Incident]:
    """Incidents still open, or with an alert since ``since`` (candidates for grouping)."""
    q = select(incidents).where((incidents.c.closed_at.is_(None)) | (incidents.c.last_alert_at >= since))
    return [incident_from_row(r) for r in conn.execute(q.order_by(incidents.c.opened_at))]


def set_incident(conn: Connection, incident_id: int, **values: Any) -> None:
    conn.execute(update(incidents).where(incidents.c.id == incident_id).values(**values))


def note_incident(conn: Connection, incident_id: int, by: str | None, note: str, at: dt.datetime,
                  tz: dt.tzinfo | None = None) -> Incident:
    inc = get_incident(conn, incident_id)
    if inc is None:
        raise NoSuchAlert(Message("alert.no_such_incident", {"incident": incident_id}))
    stamp = at.astimezone(tz or dt.UTC).strftime("%Y-%m-%d %H:%M")
    line = f"[{stamp}{' ' + by if by else ''}] {note}"
    notes = f"{inc.notes}\n{line}" if inc.notes else line
    set_incident(conn, incident_id, notes=notes)
    return dataclasses.replace(inc, notes=notes)
