"""Which runbooks an alert transition triggers (pure)."""

from __future__ import annotations

import datetime as dt

import pytest

from siaga.alerts.model import Alert, AlertState, SubjectKind, Transition
from siaga.config.runbooks import Runbook
from siaga.i18n.messages import Message
from siaga.runbooks.trigger import triggered
from siaga.vocab import Impact, Severity

AT = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)


def book(ident: str, **trigger: str) -> Runbook:
    return Runbook.model_validate({"id": ident, "trigger": trigger,
                                   "steps": [{"kind": "wait", "address": "127.0.0.1", "port": 1}]})


def transition(rule: str, subject: str, *, severity: str = "critical", event: str = "firing",
               state: str = "firing", rack: str | None = "R1", room: str | None = "ruang-server") -> Transition:
    alert = Alert(1, rule, subject, SubjectKind.sensor, AlertState(state), Severity(severity),
                  Message("alert.generic", {}), AT, impact=Impact(room=room, rack=rack))
    return Transition(alert, AlertState.pending, AT, event=event)


BOOKS = [book("leak-r1", rule="leak", subject="R1", severity="critical"),
         book("ups-low", rule="ups.runtime_low"),
         book("room-silent", rule="peer.silent", subject="bontang")]

CASES = [
    (transition("leak", "leak-r1-floor"), ["leak-r1"]),
    (transition("leak.ceiling", "leak-r1-ceiling"), ["leak-r1"]),  # the rule's family
    (transition("leak", "leak-r2-floor", rack="R2"), []),  # another rack
    (transition("leak", "leak-r1-floor", severity="warning"), []),  # below the trigger's severity
    (transition("leak", "leak-r1-floor", event="acknowledged", state="acknowledged"), []),
    (transition("leak", "leak-r1-floor", event="pending", state="pending"), []),
    (transition("leakage", "x"), []),  # not the family
    (transition("ups.runtime_low", "ups-1", severity="warning", rack=None), ["ups-low"]),
    (transition("peer.silent", "bontang", rack=None, room=None), ["room-silent"]),
    (transition("leak", "leak-r1-floor", event="severity"), ["leak-r1"]),  # rose to critical while firing
]


@pytest.mark.parametrize(("change", "expected"), CASES)
def test_a_firing_alert_triggers_the_runbooks_it_matches(change, expected):
    assert [b.id for b in triggered(BOOKS, change)] == expected
