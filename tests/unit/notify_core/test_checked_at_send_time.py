"""What may still leave as an alert stands now (pure): a storm may delay and merge, never resurrect."""

import dataclasses
import datetime as dt

from siaga.alerts.model import AlertState
from siaga.notify.model import Kind, Recipient, Sent
from siaga.notify.planner import paged_recipients, plan_followup, withheld_because

from .helpers import T0, alert, policy

ANDI, SARI = Recipient("person", "andi"), Recipient("person", "sari")


def test_pages_and_reminders_go_only_while_the_alert_fires_unsilenced() -> None:
    firing = alert()
    acked = dataclasses.replace(firing, state=AlertState.acknowledged, acknowledged_at=T0, acknowledged_by="andi")
    resolved = dataclasses.replace(firing, state=AlertState.resolved, resolved_at=T0)
    for kind in (Kind.page, Kind.repeat, Kind.followup):
        assert withheld_because(kind, firing) is None
        assert withheld_because(kind, acked) == "acknowledged"
        assert withheld_because(kind, resolved) == "resolved"
        assert withheld_because(kind, firing, silenced=True) == "silenced"
    assert withheld_because(Kind.repage, acked) is None
    assert withheld_because(Kind.repage, resolved) == "resolved"
    assert withheld_because(Kind.repage, acked, silenced=True) == "silenced"


def test_notices_always_go_they_are_true() -> None:
    resolved = dataclasses.replace(alert(), state=AlertState.resolved, resolved_at=T0)
    for kind in (Kind.acknowledged, Kind.resolved):
        assert withheld_because(kind, resolved, silenced=True) is None


def test_a_withheld_page_told_nobody_but_is_never_planned_again() -> None:
    history = [Sent(Kind.page, 0, 0, ANDI, T0), Sent(Kind.repeat, 0, 1, SARI, T0, told=False)]
    assert paged_recipients(history) == [ANDI]


def test_a_folded_outage_is_one_follow_up_per_person_paged_about_its_cause_and_no_page() -> None:
    outage = alert(rule="service.down", subject="portal")
    first = plan_followup(policy(), outage, [], [ANDI, SARI, ANDI], T0)
    assert [(p.kind, p.recipient) for p in first] == [(Kind.followup, ANDI), (Kind.followup, SARI)]
    history = [Sent(p.kind, p.step, p.round, p.recipient, T0) for p in first]
    assert plan_followup(policy(), outage, history, [ANDI, SARI], T0 + dt.timedelta(hours=1)) == []
    over = dataclasses.replace(outage, state=AlertState.resolved, resolved_at=T0)
    notices = plan_followup(policy(notify_resolved=True), over, history, [ANDI, SARI], T0)
    assert [(p.kind, p.recipient) for p in notices] == [(Kind.resolved, ANDI), (Kind.resolved, SARI)]
