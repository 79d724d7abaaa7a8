"""Correlation with the room: a service down while a leak fires on its rack names the leak."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from siaga.alerts.model import Alert, AlertState, Condition, Impact, Severity, SubjectKind
from siaga.checks.base import CheckResult
from siaga.checks.correlate import probable_cause, quiet
from siaga.checks.monitor import Monitor, severity_for
from siaga.config.checks import HttpCheck
from siaga.config.models import Criticality, Service
from siaga.i18n.messages import Message, render

WITA = ZoneInfo("Asia/Makassar")
LEAK_AT = dt.datetime(2025, 7, 16, 2, 2, tzinfo=dt.UTC)  # 10:02 WITA


def leak(state: AlertState = AlertState.firing, services: tuple[str, ...] = ("portal", "berita")) -> Alert:
    return Alert(
        id=7, rule="leak", subject="leak-r1-ceiling", subject_kind=SubjectKind.sensor, state=state,
        severity=Severity.critical, summary=Message("sensor.leak.on", {"sensor": "leak-r1-ceiling", "rack": "R1"}),
        started_at=LEAK_AT, fired_at=LEAK_AT,
        incident_id=3, impact=Impact(room="ruang-server", rack="R1", services=services),
    )


def test_the_leak_on_the_rack_is_the_probable_cause() -> None:
    cause = probable_cause("portal", [leak()])
    assert cause is not None and cause.incident_id == 3
    assert (cause.rule, cause.place, cause.since) == ("leak", "R1", LEAK_AT)  # worded by service.down.cause
    assert quiet(cause)


def test_no_cause_for_a_service_elsewhere_or_a_resolved_alert() -> None:
    assert probable_cause("mail", [leak()]) is None
    assert probable_cause("portal", [leak(AlertState.resolved)]) is None


def test_a_critical_cause_wins_over_an_earlier_warning() -> None:
    warm = Alert(
        id=5, rule="temperature.high", subject="temp-r1-top", subject_kind=SubjectKind.sensor,
        state=AlertState.firing, severity=Severity.warning, summary=Message(),
        started_at=LEAK_AT - dt.timedelta(hours=1),
        impact=Impact(rack="R1", services=("portal",)),
    )
    cause = probable_cause("portal", [warm, leak()])
    assert cause is not None and cause.rule == "leak"
    only_warm = probable_cause("portal", [warm])
    assert only_warm is not None and not quiet(only_warm)


class Sink:
    def __init__(self) -> None:
        self.got: list[Condition] = []

    def submit(self, condition: Condition) -> None:
        self.got.append(condition)


def test_an_outage_joins_the_leak_incident_quietly() -> None:
    sink = Sink()
    checks = [HttpCheck(service="portal", type="http", url="https://bontangkota.go.id")]
    services = [Service(id="portal", name="Portal", criticality=Criticality.vital)]
    mon = Monitor(checks, services, WITA, sink=sink, active_alerts=lambda: [leak()])
    t = LEAK_AT + dt.timedelta(minutes=5)
    for i in range(3):
        mon.handle(CheckResult("portal-http", "portal", t + dt.timedelta(seconds=10 * i), False, None, "HTTP 503"))
    assert len(sink.got) == 1
    cond = sink.got[0]
    assert cond.rule == "service.down" and cond.active and cond.severity == Severity.critical
    assert cond.at == t and cond.fire_at_once
    assert cond.params["join_incident"] == 3 and cond.params["quiet"] is True
    assert cond.summary.key == "service.down.cause"
    assert render(cond.summary, "en", WITA) == (
        "Portal is down: HTTP 503 (probable cause: Water leak at R1 since 16 Jul 2025 10:02 WITA)")
    shown = render(cond.summary, "id", WITA)
    assert "(penyebab yang mungkin: Kebocoran air di R1 sejak 16 Jul 2025 10:02 WITA)" in shown
    for i in range(2):
        mon.handle(CheckResult("portal-http", "portal", t + dt.timedelta(minutes=5 + i), True, 3.0, "HTTP 200"))
    assert [c.active for c in sink.got] == [True, False]


def test_severity_follows_criticality() -> None:
    assert severity_for(Criticality.vital) == Severity.critical
    assert severity_for(Criticality.high) == Severity.critical
    assert severity_for(Criticality.medium) == Severity.warning
    assert severity_for(Criticality.low) == Severity.warning
