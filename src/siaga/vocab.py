"""The words every part of siaga shares: severities, alert states, subjects, conditions, impact.

The ground floor (see docs/architecture.md, "Floors"): pure data, no I/O, and no import from any
other part of siaga, so config, the inventory, the rules, the sources and everything above them may
use it. The sensor kinds (``siaga.kinds``), the SNMP profile tables (``siaga.snmp_profiles``),
money (``siaga.money``) and the error tree (``siaga.errors``) stand on the same floor.

- Observers (sensor rules, service checks, backup freshness, the system itself) say what they see as
  :class:`Condition` values and hand them to an :class:`AlertSink` (the alert manager).
- An alert carries the :class:`Impact` of its subject; the inventory computes it
  (``siaga.inventory.impact_for_alert``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from siaga.i18n.messages import Message


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
    summary: Message = field(default_factory=Message)  # a message key and parameters (siaga.i18n.messages)
    params: dict[str, Any] = field(default_factory=dict)  # what templates need (threshold, unit, ...)
    fire_at_once: bool = False  # hold time already applied by the observer (or none wanted)

    @property
    def key(self) -> tuple[str, str]:
        return (self.rule, self.subject)


@dataclass(frozen=True)
class Impact:
    """What an alert puts at stake: the summary of the inventory's ``ImpactReport``."""

    room: str | None = None
    rack: str | None = None
    zone: str | None = None
    devices: tuple[str, ...] = ()
    services: tuple[str, ...] = ()  # hit directly or through depends_on
    value_at_risk: int = 0  # rupiah
    worst_criticality: str | None = None


class AlertSink(Protocol):
    """Where observers hand their conditions; implemented by the alert manager."""

    def submit(self, condition: Condition) -> None: ...
