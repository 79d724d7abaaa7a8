"""The pure alert lifecycle over random sequences of conditions, people and time (hypothesis, no database).

A small dict store in this file applies the lifecycle's writes the way the keeper applies them to
SQL (numbering new alerts and incidents in order), so the properties say what the real store ends with.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field

from hypothesis import given, settings
from hypothesis import strategies as st

from siaga.alerts import lifecycle
from siaga.alerts.lifecycle import (
    AddEvent,
    Book,
    CloseIncident,
    InsertAlert,
    OpenIncident,
    Outcome,
    TouchIncident,
    UpdateAlert,
    Write,
)
from siaga.alerts.model import Alert, AlertState, Condition, Impact, Severity, SubjectKind, Transition

T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)
ALLOWED = {
    None: {AlertState.pending, AlertState.firing},
    AlertState.pending: {AlertState.pending, AlertState.firing, AlertState.acknowledged, AlertState.resolved},
    AlertState.firing: {AlertState.firing, AlertState.acknowledged, AlertState.resolved},
    AlertState.acknowledged: {AlertState.acknowledged, AlertState.resolved},
}
IMPACTS = {
    "leak-r1": Impact(room="ruang", rack="R1", devices=("srv-web-1",)),
    "temp-r1": Impact(room="ruang", rack="R1", devices=("srv-web-1", "srv-db-1")),
    "temp-r2": Impact(room="ruang", rack="R2", devices=("core-switch",)),
    "portal": Impact(devices=("srv-web-1",), services=("portal",)),
    "nas": Impact(room="gudang", rack="G1", devices=("nas-9",)),
}
SETTINGS = lifecycle.Settings(dt.timedelta(minutes=30), lambda _k, s: IMPACTS.get(s, Impact()))


@dataclass
class DictStore:
    """What the keeper's SQL does with the writes, in dicts."""

    alerts: dict[int, Alert] = field(default_factory=dict)
    incidents: dict[int, dict[str, object]] = field(default_factory=dict)
    lines: list[tuple[int, str]] = field(default_factory=list)

    def apply(self, writes: Sequence[Write]) -> tuple[dict[int, int], dict[int, int]]:
        aids: dict[int, int] = {}
        iids: dict[int, int] = {}
        for w in writes:
            w = lifecycle.rename_write(w, aids, iids)
            if isinstance(w, InsertAlert):
                assert w.alert.id < 0, "only new alerts are inserted"
                new = len(self.alerts) + 1
                aids[w.alert.id] = new
                self.alerts[new] = dataclasses.replace(w.alert, id=new)
            elif isinstance(w, UpdateAlert):
                assert w.alert.id in self.alerts, "an update names a stored alert"
                self.alerts[w.alert.id] = w.alert
            elif isinstance(w, AddEvent):
                alert = lifecycle.rename_alert(w.alert, aids, iids)
                assert alert.id in self.alerts
                if w.own_line:
                    self.lines.append((alert.id, w.event))
            elif isinstance(w, OpenIncident):
                new = len(self.incidents) + 1
                iids[w.id] = new
                self.incidents[new] = {"closed": False, "last": w.at}
            elif isinstance(w, TouchIncident):
                self.incidents[w.id].update(last=w.at, **({"closed": False} if w.reopen else {}))
            elif isinstance(w, CloseIncident):
                self.incidents[w.id]["closed"] = True
        return aids, iids


def cond(subject: str, active: bool, severity: Severity, at: dt.datetime, *, at_once: bool, hold: int,
         flapping: bool = False) -> Condition:
    params: dict[str, object] = {"for_s": hold}
    if flapping:
        params["flapping"] = True
    return Condition("rule", subject, SubjectKind.sensor, active, severity, at, value=1.0, fire_at_once=at_once,
                     params=params)


subjects = st.sampled_from(sorted(IMPACTS))
event = st.one_of(
    st.tuples(st.just("cond"), subjects, st.booleans(), st.sampled_from(list(Severity)), st.booleans(),
              st.sampled_from([0, 30, 120]), st.booleans()),
    st.tuples(st.just("ack"), subjects),
    st.tuples(st.just("resolve"), subjects),
    st.tuples(st.just("note"), subjects),
    st.tuples(st.just("tick"),),
)
events = st.lists(st.tuples(st.integers(1, 900), event), min_size=1, max_size=30)


def play(evs: list[tuple[int, tuple]], down: set[int] = frozenset()) -> tuple[Book, DictStore, list[Transition]]:  # type: ignore[type-arg,assignment]
    """Run the events; while the index is in ``down`` the store refuses writes (they wait, as the keeper's)."""
    book, db, told, waiting = Book(), DictStore(), [], []
    now = T0
    for i, (gap, ev) in enumerate(evs):
        now += dt.timedelta(seconds=gap)
        out = decide(book, ev, now)
        if out is None:
            continue
        book, transitions, writes = out
        if i in down:
            waiting += writes
            told += transitions
            continue
        aids, iids = db.apply(waiting + writes)
        waiting = []
        book = lifecycle.renamed(book, aids, iids)
        told += [dataclasses.replace(t, alert=lifecycle.rename_alert(t.alert, aids, iids)) for t in transitions]
    aids, iids = db.apply(waiting)
    return lifecycle.renamed(book, aids, iids), db, told


def decide(book: Book, ev: tuple, now: dt.datetime) -> Outcome | None:  # type: ignore[type-arg]
    kind = ev[0]
    if kind == "cond":
        _, subject, active, severity, at_once, hold, flapping = ev
        return lifecycle.step(book, cond(subject, active, severity, now, at_once=at_once, hold=hold,
                                         flapping=flapping), SETTINGS)
    if kind == "tick":
        return lifecycle.tick(book, now, SETTINGS)
    alert = book.get(("rule", ev[1]))
    if alert is None:
        return None
    if kind == "ack":
        if alert.state is AlertState.acknowledged:
            return None
        return lifecycle.ack(book, alert.id, "andi", now, via="cli")
    if kind == "resolve":
        return lifecycle.resolve(book, alert.id, "andi", now)
    return lifecycle.note(book, alert.id, "andi", "looking", now)


@settings(max_examples=300, deadline=None)
@given(evs=events)
def test_transitions_follow_the_state_machine(evs: list[tuple[int, tuple]]) -> None:  # type: ignore[type-arg]
    _, _, told = play(evs)
    last: dict[int, AlertState | None] = {}
    for t in told:
        if t.event == "note":
            continue
        prev = last.get(t.alert.id)
        assert t.alert.id not in last or prev is not AlertState.resolved, "a resolved alert never changes again"
        assert t.alert.state in ALLOWED[prev], (prev, t.alert.state, t.event)
        assert (t.previous is None) == (t.alert.id not in last)
        last[t.alert.id] = t.alert.state


@settings(max_examples=300, deadline=None)
@given(evs=events)
def test_the_store_says_what_subscribers_heard(evs: list[tuple[int, tuple]]) -> None:  # type: ignore[type-arg]
    book, db, told = play(evs)
    final = {t.alert.id: t.alert for t in told}
    for alert_id, alert in final.items():
        stored = db.alerts[alert_id]
        assert (stored.state, stored.severity, stored.incident_id) == (alert.state, alert.severity, alert.incident_id)
    assert set(db.alerts) == set(final), "every stored alert was told, every told alert stored"
    for alert in book.active():  # the book and the store agree on every open alert
        assert db.alerts[alert.id] == alert or db.alerts[alert.id].last_value == alert.last_value
        assert db.alerts[alert.id].state is alert.state
    assert {a.id for a in db.alerts.values() if a.state is not AlertState.resolved} == {a.id for a in book.active()}


@settings(max_examples=300, deadline=None)
@given(evs=events)
def test_one_open_episode_per_subject_and_firing_alerts_belong_to_an_incident(evs: list[tuple[int, tuple]]) -> None:  # type: ignore[type-arg]
    book, db, _ = play(evs)
    open_keys = [a.key for a in db.alerts.values() if a.state is not AlertState.resolved]
    assert len(open_keys) == len(set(open_keys))
    for alert in db.alerts.values():
        assert (alert.fired_at is not None) == (alert.incident_id is not None)
        if alert.state is AlertState.pending:
            assert alert.incident_id is None
    for inc_id, inc in db.incidents.items():  # an incident is open exactly while one of its alerts is
        members = [a for a in db.alerts.values() if a.incident_id == inc_id]
        assert members
        assert inc["closed"] is not any(a.state is not AlertState.resolved for a in members)
    assert set(book.by_id) == {a.id for a in book.open.values()}


@settings(max_examples=300, deadline=None)
@given(evs=events, down=st.sets(st.integers(0, 29)))
def test_writes_kept_while_the_store_is_down_end_in_the_same_store(evs: list[tuple[int, tuple]],  # type: ignore[type-arg]
                                                                   down: set[int]) -> None:
    _, always_up, _ = play(evs)
    _, with_outage, told = play(evs, down)
    assert with_outage.alerts == always_up.alerts  # nothing lost, nothing written twice
    assert with_outage.incidents == always_up.incidents
    assert with_outage.lines == always_up.lines
    assert len({t.alert.id for t in told if t.previous is None}) == len(with_outage.alerts)


def test_same_book_and_condition_give_the_same_outcome() -> None:
    c = cond("leak-r1", True, Severity.critical, T0, at_once=True, hold=0)
    assert lifecycle.step(Book(), c, SETTINGS) == lifecycle.step(Book(), c, SETTINGS)


def test_a_held_condition_fires_on_the_tick_after_its_hold() -> None:
    book, ts, writes = lifecycle.step(Book(), cond("portal", True, Severity.warning, T0, at_once=False, hold=60),
                                      SETTINGS)
    assert [t.event for t in ts] == ["pending"] and not any(isinstance(w, OpenIncident) for w in writes)
    book, ts, _ = lifecycle.tick(book, T0 + dt.timedelta(seconds=59), SETTINGS)
    assert ts == []
    book, ts, writes = lifecycle.tick(book, T0 + dt.timedelta(seconds=60), SETTINGS)
    assert [t.event for t in ts] == ["firing"] and any(isinstance(w, OpenIncident) for w in writes)


def test_the_leak_and_its_consequences_form_one_incident_another_room_its_own() -> None:
    book = Book()
    for s, subject in enumerate(["leak-r1", "temp-r1", "temp-r2", "portal", "nas"]):
        book, _, _ = lifecycle.step(book, cond(subject, True, Severity.critical, T0 + dt.timedelta(minutes=s),
                                               at_once=True, hold=0), SETTINGS)
    incident = {a.subject: a.incident_id for a in book.active()}
    assert incident["leak-r1"] == incident["temp-r1"] == incident["temp-r2"] == incident["portal"]
    assert incident["nas"] != incident["leak-r1"]


def test_flapping_is_marked_once_and_steady_when_it_ends() -> None:
    book = Book()
    seen = []
    for s, flapping in enumerate([False, True, True, False]):
        book, ts, _ = lifecycle.step(book, cond("portal", True, Severity.warning, T0 + dt.timedelta(seconds=s),
                                                at_once=True, hold=0, flapping=flapping), SETTINGS)
        seen += [t.event for t in ts]
    assert seen == ["firing", "flapping", "steady"]
