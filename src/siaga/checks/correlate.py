"""Correlation with the room: why a service probably went down. Pure: alerts and the clock come in.

A service that goes down while an environmental alert (a sensor's: leak, heat, smoke, power) is
active on the devices it runs on, their rack or room, or on a service it depends on, gets that
alert as its *probable cause*: it joins the alert's incident, and when the cause is critical (the
room is already known to be in trouble and people were already paged for it) it is not paged on
its own. The inventory already resolved each alert's impact (``Alert.impact.services`` holds the
services hit directly and through ``depends_on``), so this module only matches and words it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from siaga.alerts.model import Alert, AlertState, Severity, SubjectKind

ACTIVE = (AlertState.firing, AlertState.acknowledged)


@dataclass(frozen=True)
class ProbableCause:
    alert_id: int
    incident_id: int | None
    rule: str  # "leak", "temperature.high"...
    sensor: str
    place: str  # the rack, else the room, else the sensor
    since: dt.datetime
    severity: Severity

    def to_params(self) -> dict[str, Any]:
        return {
            "alert_id": self.alert_id,
            "incident_id": self.incident_id,
            "rule": self.rule,
            "sensor": self.sensor,
            "place": self.place,
            "since": self.since.isoformat(),
            "severity": self.severity.value,
        }


def probable_cause(service: str, alerts: Iterable[Alert]) -> ProbableCause | None:
    """The active environmental alert that most probably took ``service`` down, or None.

    Among the alerts whose impact covers the service, the most severe wins, then the earliest.
    """
    best: Alert | None = None
    for alert in alerts:
        if alert.subject_kind != SubjectKind.sensor or alert.state not in ACTIVE:
            continue
        if service not in alert.impact.services:
            continue
        if best is None or (-alert.severity.rank, alert.started_at) < (-best.severity.rank, best.started_at):
            best = alert
    if best is None:
        return None
    place = best.impact.rack or best.impact.room or best.subject
    return ProbableCause(
        alert_id=best.id,
        incident_id=best.incident_id,
        rule=best.rule,
        sensor=best.subject,
        place=place,
        since=best.fired_at or best.started_at,
        severity=best.severity,
    )


def quiet(cause: ProbableCause | None) -> bool:
    """Whether the outage should join its cause's incident without paging anyone again."""
    return cause is not None and cause.severity == Severity.critical
