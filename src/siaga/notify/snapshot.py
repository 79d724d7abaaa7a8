"""Alerts to and from JSON (the snapshot notify keeps of each alert it follows)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from siaga.alerts.model import Alert, AlertState, Impact, Severity, SubjectKind


def _t(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _p(value: Any) -> dt.datetime | None:
    return dt.datetime.fromisoformat(value) if value else None


def alert_to_json(alert: Alert) -> dict[str, Any]:
    imp = alert.impact
    return {
        "id": alert.id,
        "rule": alert.rule,
        "subject": alert.subject,
        "subject_kind": alert.subject_kind.value,
        "state": alert.state.value,
        "severity": alert.severity.value,
        "summary": alert.summary,
        "started_at": _t(alert.started_at),
        "fired_at": _t(alert.fired_at),
        "acknowledged_at": _t(alert.acknowledged_at),
        "acknowledged_by": alert.acknowledged_by,
        "resolved_at": _t(alert.resolved_at),
        "incident_id": alert.incident_id,
        "last_value": alert.last_value,
        "params": {k: v for k, v in alert.params.items() if isinstance(v, str | int | float | bool | None)},
        "impact": {
            "room": imp.room,
            "rack": imp.rack,
            "zone": imp.zone,
            "devices": list(imp.devices),
            "services": list(imp.services),
            "value_at_risk": imp.value_at_risk,
            "worst_criticality": imp.worst_criticality,
        },
    }


def alert_from_json(data: dict[str, Any]) -> Alert:
    imp = data.get("impact") or {}
    started = _p(data["started_at"])
    assert started is not None
    return Alert(
        id=int(data["id"]),
        rule=str(data["rule"]),
        subject=str(data["subject"]),
        subject_kind=SubjectKind(data["subject_kind"]),
        state=AlertState(data["state"]),
        severity=Severity(data["severity"]),
        summary=str(data.get("summary") or ""),
        started_at=started,
        fired_at=_p(data.get("fired_at")),
        acknowledged_at=_p(data.get("acknowledged_at")),
        acknowledged_by=data.get("acknowledged_by"),
        resolved_at=_p(data.get("resolved_at")),
        incident_id=data.get("incident_id"),
        last_value=data.get("last_value"),
        params=dict(data.get("params") or {}),
        impact=Impact(
            room=imp.get("room"),
            rack=imp.get("rack"),
            zone=imp.get("zone"),
            devices=tuple(imp.get("devices") or ()),
            services=tuple(imp.get("services") or ()),
            value_at_risk=int(imp.get("value_at_risk") or 0),
            worst_criticality=imp.get("worst_criticality"),
        ),
    )
