"""The contract every part of siaga shares about alerts (pure data, no I/O).

- Observers (sensor rules, service checks, backup freshness, the system itself) say what they see as
  :class:`Condition` values and hand them to an :class:`AlertSink`.
- The alert manager (``siaga.alerts.manager``) turns conditions into alert episodes
  (pending -> firing -> acknowledged -> resolved), persists them with their timeline, groups them into
  incidents, and publishes every :class:`Transition` to subscribers (the notifier, the web's live updates).
- Nothing here blocks on delivery: subscribers get transitions through a queue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol


class Severity(StrEnum):
    info = "info"
    warning = "warning"
    critical = "critical"

    @property
    def rank(self) -> int:
        return {"info": 0, "warning": 1, "critical": 2}[self.value]


class AlertState(StrEnum):
    pending = "pending"  # the condition holds but its hold time has not passed
    firing = "firing"
    acknowledged = "acknowledged"  # someone took responsibility; still active
    resolved = "resolved"


class SubjectKind(StrEnum):
    sensor = "sensor"
    service = "service"
    backup = "backup"
    system = "system"  # siaga itself: a broker unreachable, a source down


@dataclass(frozen=True)
class Condition:
    """What one observer says about one subject at one moment: active or not, and how bad."""

    rule: str  # e.g. "leak", "temperature.high", "sensor.stale", "service.down", "backup.rpo"
    subject: str  # the config id: a sensor id, service id, backup job id, or a system component
    subject_kind: SubjectKind
    active: bool
    severity: Severity
    at: dt.datetime  # aware UTC
    value: float | None = None
    summary: str = ""  # one line in English; notify renders localised text from rule + params
    params: dict[str, Any] = field(default_factory=dict)  # what templates need (threshold, unit, ...)
    fire_at_once: bool = False  # hold time already applied by the observer (or none wanted)

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.subject)


@dataclass(frozen=True)
class Impact:
    """What an alert puts at stake, from the inventory."""

    room: str | None = None
    rack: str | None = None
    zone: str | None = None
    devices: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # hit directly or through depends_on
    value_at_risk: int = 0  # rupiah
    worst_criticality: str | None = None


@dataclass(frozen=True)
class Alert:
    """One episode of one rule on one subject, as it stands."""

    id: int
    rule: str
    subject: str
    subject_kind: SubjectKind
    state: AlertState
    severity: Severity
    summary: str
    started_at: dt.datetime
    fired_at: dt.datetime | None = None
    acknowledged_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    resolved_at: dt.datetime | None = None
    incident_id: int | None = None
    last_value: float | None = None
    impact: Impact = field(default_factory=Impact)
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.subject)

    @property
    def active(self) -> bool:
        return self.state is not AlertState.resolved


@dataclass(frozen=True)
class Transition:
    """An alert moved from one state to another (or changed severity)."""

    alert: Alert
    previous: AlertState | None  # None when the alert is new
    at: dt.datetime
    by: str | None = None  # who, for acknowledgements and manual resolves
    via: str | None = None  # channel or interface: "cli", "api", "telegram", "link"
    note: str | None = None
    event: str = ""  # what happened: "pending", "firing", "acknowledged", "resolved", "severity", "flapping", ...


class AlertSink(Protocol):
    """Where observers hand their conditions; implemented by the alert manager."""

    def submit(self, condition: Condition) -> None: ...
