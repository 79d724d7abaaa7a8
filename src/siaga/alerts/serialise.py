"""The one shape of an alert and an incident outside Python: API, CLI ``--json``, notify's snapshot, pages.

``alert_fields(alert, lang, zone)`` gives plain values (times as aware datetimes, for pages and pydantic);
``alert_to_json`` the same with ISO times (JSON); ``alert_from_json`` reads it back (notify keeps the
snapshot of each alert it follows and reads snapshots written before message keys existed). ``summary``
is the alert's message worded for a reader of ``lang`` with times in ``zone``; ``message`` is the key
and parameters it was worded from, for programs. The same for incidents: ``title`` and ``title_message``.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from siaga.alerts.model import Alert, AlertState, Impact, Severity, SubjectKind
from siaga.i18n.messages import Message, render, rule_title

if TYPE_CHECKING:
    from siaga.alerts.store import Incident

UTC_ZONE = ZoneInfo("UTC")
_TIMES = ("started_at", "fired_at", "acknowledged_at", "resolved_at")


def impact_fields(impact: Impact) -> dict[str, Any]:
    out = dataclasses.asdict(impact)
    out["devices"] = list(impact.devices)
    out["services"] = list(impact.services)
    return out


def impact_from_fields(data: dict[str, Any] | None) -> Impact:
    if not data:
        return Impact()
    return Impact(
        room=data.get("room"),
        rack=data.get("rack"),
        zone=data.get("zone"),
        devices=tuple(data.get("devices") or ()),
        services=tuple(data.get("services") or ()),
        value_at_risk=int(data.get("value_at_risk") or 0),
        worst_criticality=data.get("worst_criticality"),
    )


def _scalars(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if isinstance(v, str | int | float | bool | None)}


def alert_fields(alert: Alert, lang: str = "en", zone: ZoneInfo = UTC_ZONE) -> dict[str, Any]:
    """Every field of ``alert`` as plain values; ``summary`` and ``title`` worded for ``lang``."""
    return {
        "id": alert.id,
        "rule": alert.rule,
        "title": rule_title(alert.rule, lang),
        "subject": alert.subject,
        "subject_kind": alert.subject_kind.value,
        "state": alert.state.value,
        "severity": alert.severity.value,
        "summary": render(alert.summary, lang, zone),
        "message": alert.summary.to_json(),
        "started_at": alert.started_at,
        "fired_at": alert.fired_at,
        "acknowledged_at": alert.acknowledged_at,
        "acknowledged_by": alert.acknowledged_by,
        "resolved_at": alert.resolved_at,
        "incident_id": alert.incident_id,
        "last_value": alert.last_value,
        "flapping": bool(alert.params.get("flapping")),
        "params": _scalars(dict(alert.params)),
        "impact": impact_fields(alert.impact),
    }


def alert_to_json(alert: Alert, lang: str = "en", zone: ZoneInfo = UTC_ZONE) -> dict[str, Any]:
    """:func:`alert_fields` with ISO times: JSON for the API's clients, the CLI and notify's snapshot."""
    out = alert_fields(alert, lang, zone)
    for name in _TIMES:
        value = out[name]
        out[name] = value.isoformat() if value is not None else None
    return out


def _time(value: Any) -> dt.datetime | None:
    if value is None or value == "":
        return None
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(str(value))


def alert_from_json(data: dict[str, Any]) -> Alert:
    """The alert of :func:`alert_to_json` (or of a snapshot written before keys: ``summary`` was the sentence)."""
    started = _time(data["started_at"])
    if started is None:
        raise ValueError("an alert has a start time")
    message = Message.from_json(data.get("message")) if data.get("message") else Message(
        text=str(data.get("summary") or ""))
    return Alert(
        id=int(data["id"]),
        rule=str(data["rule"]),
        subject=str(data["subject"]),
        subject_kind=SubjectKind(data["subject_kind"]),
        state=AlertState(data["state"]),
        severity=Severity(data["severity"]),
        summary=message,
        started_at=started,
        fired_at=_time(data.get("fired_at")),
        acknowledged_at=_time(data.get("acknowledged_at")),
        acknowledged_by=data.get("acknowledged_by"),
        resolved_at=_time(data.get("resolved_at")),
        incident_id=data.get("incident_id"),
        last_value=data.get("last_value"),
        params=dict(data.get("params") or {}),
        impact=impact_from_fields(data.get("impact")),
    )


def incident_fields(incident: Incident, lang: str = "en", zone: ZoneInfo = UTC_ZONE) -> dict[str, Any]:
    """An incident as plain values; ``title`` worded for ``lang``, ``title_message`` its key and parameters."""
    return {
        "id": incident.id,
        "title": render(incident.title, lang, zone),
        "title_message": incident.title.to_json(),
        "opened_at": incident.opened_at,
        "closed_at": incident.closed_at,
        "owner": incident.owner,
        "notes": incident.notes,
        "room": incident.room,
        "rack": incident.rack,
        "last_alert_at": incident.last_alert_at,
    }
