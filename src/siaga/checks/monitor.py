"""The monitor: results in, confirmed changes and alert conditions out. No I/O of its own.

It keeps every check's :class:`CheckState`, folds a result through the confirmation state machine,
and when a service's status changes (a service is as bad as its worst check) it hands a
:class:`Condition` (rule ``service.down``) to the alert sink, with the probable cause from the room
when there is one. What must be written (changes, latest states) waits in ``pending_*`` for the
writer, which flushes in batches.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from siaga.alerts.model import Alert, AlertSink, Condition, Severity, SubjectKind
from siaga.checks.base import CheckResult, stored_reason
from siaga.checks.confirm import Change, CheckState, Policy, Status, next_delay, step, worst
from siaga.checks.correlate import probable_cause, quiet
from siaga.config.checks import CheckBase
from siaga.config.models import Criticality, Service
from siaga.i18n.messages import Message, note_message

ActiveAlerts = Callable[[], Sequence[Alert]]


def severity_for(criticality: Criticality) -> Severity:
    """A vital or high service down is critical; others are warnings."""
    return Severity.critical if criticality in (Criticality.vital, Criticality.high) else Severity.warning


@dataclass(frozen=True)
class RecordedChange:
    check_id: str
    service: str
    change: Change


@dataclass
class Monitor:
    checks: Sequence[CheckBase]
    services: Sequence[Service]
    zone: ZoneInfo
    sink: AlertSink | None = None
    active_alerts: ActiveAlerts | None = None
    states: dict[str, CheckState] = field(default_factory=dict)
    pending_changes: list[RecordedChange] = field(default_factory=list)
    dirty: set[str] = field(default_factory=set)
    warnings: dict[str, str] = field(default_factory=dict)  # check id -> warning text
    status_version: int = 0  # counts the changes of ``service_status`` (its readers keep what they built from it)

    def __post_init__(self) -> None:
        self.by_id = {c.check_id: c for c in self.checks}
        self.policies = {c.check_id: Policy(c.confirm.failures, c.confirm.successes) for c in self.checks}
        self.service_by_id = {s.id: s for s in self.services}
        self.checks_of: dict[str, list[str]] = {}
        for c in self.checks:
            self.checks_of.setdefault(c.service, []).append(c.check_id)
            self.states.setdefault(c.check_id, CheckState())
        self.service_status: dict[str, Status] = {
            sid: self._service_status(sid) for sid in self.checks_of
        }

    def restore(self, states: Iterable[tuple[str, CheckState]]) -> None:
        """Load the states the store remembered (after a restart), before the first result."""
        for check_id, state in states:
            if check_id in self.by_id:
                self.states[check_id] = state
        self.service_status = {sid: self._service_status(sid) for sid in self.checks_of}
        self.status_version += 1

    def _service_status(self, service: str) -> Status:
        return worst([self.states[c].status for c in self.checks_of.get(service, [])])

    def handle(self, result: CheckResult) -> float:
        """Fold one result in; return the seconds until the check's next attempt."""
        check = self.by_id.get(result.check_id)
        if check is None:
            return 60.0
        state, change = step(
            self.states[result.check_id],
            ok=result.ok,
            at=result.at,
            policy=self.policies[result.check_id],
            retryable=result.retryable,
            message=stored_reason(result),
            latency_ms=result.latency_ms,
        )
        self.states[result.check_id] = state
        self.dirty.add(result.check_id)
        self._warning(check, result)
        if change is not None:
            self.pending_changes.append(RecordedChange(result.check_id, check.service, change))
            self._service_changed(check.service, change)
        return next_delay(state, check.interval_s, check.retry_interval_s)

    def _warning(self, check: CheckBase, result: CheckResult) -> None:
        """TLS certificates running out: a warning or critical condition of their own (rule tls.expiry)."""
        if check.type_name != "tls" or self.sink is None:
            return
        before = self.warnings.get(check.check_id)
        level = result.details.get("level") if result.ok else None
        if result.warning and level:
            self.warnings[check.check_id] = result.warning
            self.sink.submit(
                Condition(
                    rule="tls.expiry", subject=check.service, subject_kind=SubjectKind.service, active=True,
                    severity=Severity.critical if level == "critical" else Severity.warning, at=result.at,
                    value=result.details.get("days_left"),
                    summary=Message("tls.expiry", {"check": check.check_id,
                                                   "days_left": result.details.get("days_left")}),
                    params={"check": check.check_id, **result.details}, fire_at_once=True,
                )
            )
        elif before is not None:
            del self.warnings[check.check_id]
            self.sink.submit(
                Condition(
                    rule="tls.expiry", subject=check.service, subject_kind=SubjectKind.service, active=False,
                    severity=Severity.warning, at=result.at, summary=Message("tls.renewed", {"check": check.check_id}),
                    params={"check": check.check_id}, fire_at_once=True,
                )
            )

    def _service_changed(self, service_id: str, change: Change) -> None:
        before = self.service_status.get(service_id, Status.unknown)
        now = self._service_status(service_id)
        if now != before:
            self.service_status[service_id] = now
            self.status_version += 1
        if self.sink is None or (before == Status.down) == (now == Status.down):
            return
        svc = self.service_by_id.get(service_id)
        criticality = svc.criticality if svc else Criticality.medium
        name = svc.name if svc else service_id
        failing = [c for c in self.checks_of[service_id] if self.states[c].status == Status.down]
        params: dict[str, object] = {
            "service": service_id,
            "name": name,
            "criticality": criticality.value,
            "checks": failing,
            "message": change.message,
            "since": change.at.isoformat(),
        }
        reason = note_message(change.message)  # a check.* key: English in "message", the key in "reason"
        if reason is not None:
            params["message"], params["reason"] = reason.english(), reason.to_json()
        summary = (Message("service.down", {"name": name, "detail": change.message}) if now == Status.down
                   else Message("service.up", {"name": name}))
        if now == Status.down and self.active_alerts is not None:
            cause = probable_cause(service_id, self.active_alerts())
            if cause is not None:
                params["probable_cause"] = cause.to_params()
                params["join_incident"] = cause.incident_id
                params["cause_alert_id"] = cause.alert_id  # scalars survive every snapshot of the alert
                params["quiet"] = quiet(cause)
                summary = Message("service.down.cause", {**summary.params, "cause_rule": cause.rule,
                                                         "cause_place": cause.place,
                                                         "cause_since": cause.since.isoformat()})
        self.sink.submit(
            Condition(
                rule="service.down",
                subject=service_id,
                subject_kind=SubjectKind.service,
                active=now == Status.down,
                severity=severity_for(criticality),
                at=change.at if now == Status.down else change.confirmed_at,
                summary=summary,
                params=params,
                fire_at_once=True,  # confirmation already held it back
            )
        )

    def take_changes(self) -> list[RecordedChange]:
        out, self.pending_changes = self.pending_changes, []
        return out

    def take_dirty(self) -> list[tuple[str, CheckState]]:
        out = [(cid, self.states[cid]) for cid in self.dirty]
        self.dirty = set()
        return out

    def summary(self, now: dt.datetime) -> dict[str, int]:
        counts = {s.value: 0 for s in (Status.up, Status.down, Status.unknown)}
        for st in self.service_status.values():
            counts[st.value] = counts.get(st.value, 0) + 1
        return counts
