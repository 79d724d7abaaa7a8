"""The contract every part of siaga shares about alerts (pure data, no I/O).

- The shared words (Condition, Severity, SubjectKind, Impact, ...) live in ``siaga.vocab``; re-exported here.
- The alert manager (``siaga.alerts.manager``) turns conditions into alert episodes
  (pending -> firing -> acknowledged -> resolved), persists them with their timeline, groups them into
  incidents, and publishes every :class:`Transition` to subscribers (the notifier, the web's live updates).
- Nothing here blocks on delivery: subscribers get transitions through a queue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from siaga.i18n.messages import Message

# The shared vocabulary lives on the ground floor (siaga.vocab); re-exported here for the parts
# that speak of alerts.
from siaga.vocab import AlertSink, AlertState, Condition, Impact, Severity, SubjectKind

__all__ = ["Alert", "AlertSink", "AlertState", "Condition", "Impact", "Severity", "SubjectKind", "Transition"]


@dataclass(frozen=True)
class Alert:
    """One episode of one rule on one subject, as it stands."""

    id: int
    rule: str
    subject: str
    subject_kind: SubjectKind
    state: AlertState
    severity: Severity
    summary: Message  # a key and parameters, worded per reader by siaga.i18n.messages.render
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
