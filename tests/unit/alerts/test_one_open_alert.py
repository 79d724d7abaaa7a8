"""One open alert per (rule, subject) however many processes see the fault: two alert managers on one store
(two runtime sessions), the lifecycle's Leave and joined() alone."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, Table, func, select

from siaga.alerts import lifecycle, store
from siaga.alerts.lifecycle import Leave, UpdateAlert
from siaga.alerts.manager import PROCESS_RULES, STORE_RULE, AlertManager
from siaga.alerts.model import AlertState, Condition, Severity, SubjectKind
from siaga.alerts.tables import alert_witnesses, alerts
from siaga.i18n.messages import note_message
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.store.sessions import start_session, stop_session

T0 = dt.datetime(2026, 12, 6, 1, 0, tzinfo=dt.UTC)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    e = create_engine_for(sqlite_url(tmp_path / "siaga.db"))
    upgrade(e)
    try:
        yield e
    finally:
        e.dispose()


def manager(engine: Engine, name: str) -> AlertManager:
    with engine.begin() as conn:
        session = start_session(conn, T0, host="ruang", pid=len(name))
    return AlertManager(engine, clock=lambda: T0, session=lambda: session, witness_window_s=90, process=name)


def faulty(active: bool, at: dt.datetime = T0, sensor: str = "leak-r1") -> Condition:
    return Condition("sensor.faulty", sensor, SubjectKind.sensor, active, Severity.warning, at, fire_at_once=True)


def open_rows(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [a.id for a in store.active_alerts(conn)]


def count(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def notes(engine: Engine, alert_id: int) -> list[str]:
    with engine.connect() as conn:
        return [m.key for e in store.events_of(conn, [alert_id]) if (m := note_message(e.note)) is not None]


def test_a_second_process_that_sees_the_fault_joins_the_open_alert(engine: Engine) -> None:
    a, b = manager(engine, "a"), manager(engine, "b")
    a.submit(faulty(True))
    b.submit(faulty(True, T0 + dt.timedelta(seconds=1)))
    [alert_id] = open_rows(engine)
    assert (a.published, b.published) == (1, 0)  # raised once, told once
    assert b.book.get(("sensor.faulty", "leak-r1")).id == alert_id  # type: ignore[union-attr]
    assert notes(engine, alert_id) == ["note.witness_joined"]
    assert count(engine, alert_witnesses) == 2


def test_it_resolves_when_the_last_process_that_sees_it_stops_seeing_it(engine: Engine) -> None:
    a, b = manager(engine, "a"), manager(engine, "b")
    a.submit(faulty(True))
    b.submit(faulty(True))
    [alert_id] = open_rows(engine)
    a.submit(faulty(False, T0 + dt.timedelta(seconds=5)))  # the raiser's view clears: b still sees it
    assert open_rows(engine) == [alert_id] and a.book.get(("sensor.faulty", "leak-r1")) is None
    assert a.published == 1  # no "resolved" from a
    assert notes(engine, alert_id) == ["note.witness_joined", "note.still_seen"]
    b.submit(faulty(False, T0 + dt.timedelta(seconds=9)))
    assert open_rows(engine) == [] and b.published == 1  # b tells the resolution, once
    assert count(engine, alert_witnesses) == 0  # a resolved alert has none
    a.submit(faulty(True, T0 + dt.timedelta(seconds=20)))  # it comes back: a new episode, raised by a
    assert len(open_rows(engine)) == 1 and open_rows(engine) != [alert_id]


def test_a_witness_whose_process_ended_keeps_nothing_open(engine: Engine) -> None:
    a, b = manager(engine, "a"), manager(engine, "b")
    a.submit(faulty(True))
    b.submit(faulty(True))
    with engine.begin() as conn:
        stop_session(conn, a.session() or 0, T0 + dt.timedelta(seconds=2))  # a stops (its book goes with it)
    b.submit(faulty(False, T0 + dt.timedelta(seconds=5)))
    assert open_rows(engine) == []


def test_an_alert_only_ended_processes_saw_is_resolved_by_a_live_one(engine: Engine) -> None:
    a, b = manager(engine, "a"), manager(engine, "b")
    a.submit(faulty(True))
    a.system_alert("checks", True, rule="siaga.degraded")
    a.system_alert("backup", True, rule="backup.stale")  # not a process's own: left to its role's next holder
    later = T0 + dt.timedelta(seconds=91)  # a is not seen within the membership window: it has ended
    with engine.begin() as conn:
        from siaga.store.sessions import heartbeat

        heartbeat(conn, b.session() or 0, later)
    b.tick(later)
    with engine.connect() as conn:
        left = [(x.rule, x.subject) for x in store.active_alerts(conn)]
        timeline = [e.event for e in store.events_of(conn, [1])]
    assert left == [("backup.stale", "backup")]
    assert timeline[-1] == "resolved"


def test_an_alert_of_ended_processes_waits_the_grace_so_a_restarted_process_can_take_it_up(engine: Engine) -> None:
    from siaga.store.sessions import heartbeat

    a = manager(engine, "a")
    a.submit(faulty(True))
    with engine.begin() as conn:  # a stops (siaga restarted); b is the new run, up at once
        stop_session(conn, a.session() or 0, T0)
        session = start_session(conn, T0, host="ruang", pid=99)
    now = [T0]
    b = AlertManager(engine, clock=lambda: now[0], session=lambda: session, witness_window_s=90,
                     witness_grace_s=300, process="b")
    for seconds in (5, 120, 299):  # within the grace: still open (b may yet see the fault and join it)
        now[0] = T0 + dt.timedelta(seconds=seconds)
        with engine.begin() as conn:
            heartbeat(conn, session, now[0])
        b.tick(now[0])
        assert open_rows(engine) == [1], seconds
    now[0] = T0 + dt.timedelta(seconds=391)  # gone for the window and the grace, b up for the grace
    with engine.begin() as conn:
        heartbeat(conn, session, now[0])
    b.tick(now[0])
    assert open_rows(engine) == []


def test_a_shard_s_alert_is_resolved_by_its_holder_without_waiting_for_the_former_one(engine: Engine) -> None:
    """A rule shard or checks slot moved between live processes: the new holder decides alone."""
    a, b = manager(engine, "a"), manager(engine, "b")
    leak = Condition("leak", "leak-r1", SubjectKind.sensor, True, Severity.critical, T0, fire_at_once=True)
    a.submit(leak)
    b.submit(leak)  # the shard's new holder: the same alert, joined
    assert len(open_rows(engine)) == 1 and b.published == 0 and count(engine, alert_witnesses) == 0
    b.submit(Condition("leak", "leak-r1", SubjectKind.sensor, False, Severity.critical, T0 + dt.timedelta(seconds=3)))
    assert open_rows(engine) == [] and b.published == 1


def test_two_raising_at_once_in_one_store_make_one_row(engine: Engine) -> None:
    """The index holds even when the managers' books do not know of each other (claim_alert by hand)."""
    a = manager(engine, "a")
    a.submit(faulty(True))
    with engine.begin() as conn:
        existing = store.get_alert(conn, open_rows(engine)[0])
        assert existing is not None
        assert store.claim_alert(conn, existing, T0) is None
    assert count(engine, alerts) == 1


def test_the_lifecycle_leaves_before_it_resolves_a_cleared_condition_only() -> None:
    settings = lifecycle.Settings()
    book, _, _ = lifecycle.step(lifecycle.Book(), faulty(True), settings)
    book = lifecycle.renamed(book, {-1: 7}, {-2: 3})
    cleared = lifecycle.step(book, faulty(False, T0 + dt.timedelta(seconds=1)), settings)
    assert isinstance(cleared.writes[0], Leave) and isinstance(cleared.writes[1], UpdateAlert)
    by_hand = lifecycle.resolve(book, 7, "andi", T0 + dt.timedelta(seconds=1))
    assert not any(isinstance(w, Leave) for w in by_hand.writes)  # a person resolves it for everyone


def test_joined_puts_the_stored_alert_in_place_of_the_provisional_one() -> None:
    settings = lifecycle.Settings()
    book, _, _ = lifecycle.step(lifecycle.Book(), faulty(True), settings)
    mine = book.get(("sensor.faulty", "leak-r1"))
    assert mine is not None and mine.id < 0
    stored = mine.__class__(**{**mine.__dict__, "id": 42, "incident_id": None, "state": AlertState.firing})
    after = lifecycle.joined(book, mine.id, stored)
    assert after.get(("sensor.faulty", "leak-r1")) == stored and after.by_alert_id(42) == stored
    assert mine.id not in after.by_id
    assert all(mine.id not in s.open_alerts for s in after.incidents.values())


def test_the_process_rules_are_the_ones_raised_per_process() -> None:
    from siaga.peers import probes, watch
    from siaga.rules.faulty import FAULTY_RULE
    from siaga.runtime.degraded import RULE as DEGRADED_RULE
    from siaga.sources.mqtt.client import UNREACHABLE_RULE

    peers = {watch.SILENT_RULE, watch.UNREACHABLE_RULE, probes.UPLINK_RULE, probes.TAKEOVER_RULE}
    assert {FAULTY_RULE, STORE_RULE, DEGRADED_RULE, UNREACHABLE_RULE} | peers == PROCESS_RULES
