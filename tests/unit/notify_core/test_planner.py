"""Escalation with a fake clock: who is due what, and never twice."""

import dataclasses
import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from siaga.alerts.model import AlertState, Impact, Severity
from siaga.config.notify import TimeWindow
from siaga.notify.model import Kind, Page, Recipient, Sent
from siaga.notify.planner import Calendar, next_due, plan

from .helpers import T0, alert, policy

MIN = dt.timedelta(minutes=1)
ANDI, SARI, KADIS = Recipient("person", "andi"), Recipient("person", "sari"), Recipient("person", "kadis")


def run(pol, a, minutes, history=None, calendar=None):
    """Call the planner every 10 s up to ``minutes``; return (history, pages with the minute they came)."""
    history = list(history or [])
    seen: list[tuple[float, Page]] = []
    t = T0
    while t <= T0 + minutes * MIN:
        for p in plan(pol, a, history, t, calendar):
            history.append(Sent(p.kind, p.step, p.round, p.recipient, t))
            seen.append(((t - T0) / MIN, p))
        t += dt.timedelta(seconds=10)
    return history, seen


def test_steps_come_at_their_delays_while_unacknowledged() -> None:
    low = alert(impact=Impact(room="ruang-server", value_at_risk=0))
    _, seen = run(policy(), low, 20)
    assert [(m, p.recipient.id, p.step) for m, p in seen] == [(0, "andi", 0), (5, "sari", 1), (15, "kadis", 2)]
    assert seen[0][1].channels == ("telegram", "whatsapp") and seen[0][1].fallback == ("email",)


def test_high_stake_alert_reaches_leadership_at_once() -> None:
    pol = policy(stake={"value_at_least": 1_000_000_000})
    _, seen = run(pol, alert(), 1)
    assert {p.recipient.id for m, p in seen if m == 0} == {"andi", "kadis"}


def test_vital_service_makes_an_alert_high_stake() -> None:
    pol = policy(stake={"criticality_at_least": "vital"})
    a = alert(impact=Impact(services=("dns",), worst_criticality="vital"))
    _, seen = run(pol, a, 0)
    assert KADIS in {p.recipient for _, p in seen}


def test_acknowledgement_stops_escalation_and_tells_those_paged() -> None:
    history, _ = run(policy(), alert(impact=Impact()), 6)  # andi and sari paged
    acked = alert(state=AlertState.acknowledged, acknowledged_at=T0 + 6 * MIN, acknowledged_by="andi",
                  impact=Impact())
    pages = plan(policy(), acked, history, T0 + 30 * MIN)
    assert [(p.kind, p.recipient) for p in pages] == [(Kind.acknowledged, SARI)]


def test_resolved_notice_goes_to_everyone_paged_once() -> None:
    history, _ = run(policy(), alert(impact=Impact()), 6)
    done = alert(state=AlertState.resolved, resolved_at=T0 + 7 * MIN, impact=Impact())
    first = plan(policy(), done, history, T0 + 7 * MIN)
    assert [(p.kind, p.recipient) for p in first] == [(Kind.resolved, ANDI), (Kind.resolved, SARI)]
    history += [Sent(p.kind, p.step, p.round, p.recipient, T0) for p in first]
    assert plan(policy(), done, history, T0 + 8 * MIN) == []


def test_repeat_pages_the_last_step_reached_up_to_the_limit() -> None:
    pol = policy(steps=[{"people": ["andi"]}], repeat_every="10m", repeat_limit=2)
    _, seen = run(pol, alert(), 60)
    assert [(m, p.kind, p.round) for m, p in seen] == [(0, Kind.page, 0), (10, Kind.repeat, 1), (20, Kind.repeat, 2)]


def test_repage_when_acknowledged_but_still_firing() -> None:
    pol = policy(steps=[{"people": ["andi"]}, {"after": "5m", "groups": ["tim-infra"]}],
                 repage_acknowledged_after="1h")
    history, _ = run(pol, alert(), 1)
    acked = alert(state=AlertState.acknowledged, acknowledged_at=T0 + 2 * MIN, acknowledged_by="sari")
    assert [p.kind for p in plan(pol, acked, history, T0 + 61 * MIN)] == [Kind.acknowledged]
    pages = plan(pol, acked, history, T0 + 62 * MIN)
    repages = [p for p in pages if p.kind is Kind.repage]
    assert [p.recipient for p in repages] == [Recipient("person", "sari"), ANDI]


def test_maintenance_suppresses_every_page() -> None:
    assert plan(policy(), alert(), [], T0 + 20 * MIN, suppressed=True) == []


def test_pending_alert_pages_nobody() -> None:
    assert plan(policy(), alert(state=AlertState.pending, fired_at=None), [], T0 + 20 * MIN) == []


def test_step_outside_its_window_waits_for_the_window() -> None:
    # office hours 07:30-16:00 WITA; the alert fires at 14:00 WITA on a Thursday
    cal = Calendar(windows={"office": TimeWindow(start="07:30", end="16:00")})
    pol = policy(steps=[{"people": ["andi"]}, {"after": "5m", "people": ["sari"], "unless": ["office"]}])
    _, seen = run(pol, alert(), 150, calendar=cal)
    assert [(m, p.recipient.id) for m, p in seen] == [(0, "andi"), (120, "sari")]  # 16:00 WITA


def test_next_due_names_the_next_step() -> None:
    assert next_due(policy(), alert(impact=Impact()), T0 + MIN) == T0 + 5 * MIN


@settings(max_examples=60, deadline=None)
@given(
    ticks=st.lists(st.integers(min_value=0, max_value=3600), min_size=1, max_size=40),
    severity=st.sampled_from(list(Severity)),
)
def test_any_polling_pattern_pages_each_step_exactly_once(ticks: list[int], severity: Severity) -> None:
    """However irregular the planner is called (restarts, slow loops), no page is lost or doubled."""
    pol = policy(repeat_every="10m", repeat_limit=2)
    a = alert(severity=severity, impact=Impact())
    history: list[Sent] = []
    for sec in sorted(ticks):
        now = T0 + dt.timedelta(seconds=sec)
        for p in plan(pol, a, history, now):
            history.append(Sent(p.kind, p.step, p.round, p.recipient, now))
    keys = [(s.kind, s.step, s.round, s.recipient) for s in history]
    assert len(keys) == len(set(keys))
    last = T0 + dt.timedelta(seconds=max(ticks))
    due_steps = {i for i, after in enumerate((0, 5, 15)) if T0 + after * MIN <= last}
    assert {s.step for s in history if s.kind is Kind.page} == due_steps
    # a final call at the last moment plans nothing new: everything due was planned
    assert plan(pol, a, history, last) == []


@settings(max_examples=40, deadline=None)
@given(delay=st.integers(min_value=0, max_value=7200))
def test_a_restart_catches_up_with_what_fell_due(delay: int) -> None:
    """Nothing planned while siaga was down: the first call after it plans every step already due."""
    a = dataclasses.replace(alert(), impact=Impact())
    now = T0 + dt.timedelta(seconds=delay)
    steps = {p.step for p in plan(policy(), a, [], now) if p.kind is Kind.page}
    assert steps == {i for i, after in enumerate((0, 300, 900)) if after <= delay}


def test_a_warning_that_turns_critical_starts_the_critical_policy_afresh() -> None:
    warn = policy(id="warn", steps=[{"people": ["andi"]}])
    crit = policy(id="crit", steps=[{"people": ["andi"]}, {"people": ["kadis"]}])
    history = [Sent(p.kind, p.step, p.round, p.recipient, T0, "warn")
               for p in plan(warn, alert(severity=Severity.warning), [], T0)]
    pages = plan(crit, alert(), history, T0 + MIN)
    assert {(p.step, p.recipient.id) for p in pages} == {(0, "andi"), (1, "kadis")}
    done = alert(state=AlertState.resolved)
    history += [Sent(p.kind, p.step, p.round, p.recipient, T0 + MIN, "crit") for p in pages]
    assert [p.recipient.id for p in plan(crit, done, history, T0 + 2 * MIN)] == ["andi", "kadis"]
