"""The alert manager's state machine, incidents, subscribers and restarts, on both backends."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import threading
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from siaga.alerts import store
from siaga.alerts.manager import AlertManager
from siaga.alerts.model import AlertState, Condition, Impact, Severity, SubjectKind, Transition
from siaga.i18n.messages import Message, note_text

pytestmark = pytest.mark.integration

T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)


def at(s: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=s)


def cond(rule: str = "service.down", subject: str = "portal", *, active: bool = True, s: float = 0,
         severity: Severity = Severity.warning, kind: SubjectKind = SubjectKind.service, **kw: object) -> Condition:
    return Condition(rule, subject, kind, active, severity, at(s), **kw)  # type: ignore[arg-type]


IMPACTS = {
    "leak-r1": Impact(room="ruang", rack="R1", devices=("srv-web-1", "srv-db-1"), value_at_risk=2_050_000_000),
    "temp-r1": Impact(room="ruang", rack="R1", devices=("srv-web-1", "srv-db-1")),
    "temp-r2": Impact(room="ruang", rack="R2", devices=("core-switch",)),
    "portal": Impact(devices=("srv-web-1",), services=("portal",)),
    "other-room": Impact(room="gudang", rack="G1", devices=("nas-9",)),
}


def manager(engine: Engine, **kw: object) -> AlertManager:
    m = AlertManager(engine, impact_of=lambda _k, s: IMPACTS.get(s, Impact()), clock=lambda: T0, **kw)  # type: ignore[arg-type]
    m.load(T0)
    return m


def drain(q: asyncio.Queue[Transition]) -> list[Transition]:
    out = []
    while not q.empty():
        out.append(q.get_nowait())
    return out


async def test_a_held_condition_is_pending_then_fires_on_tick(db_engine: Engine) -> None:
    m = manager(db_engine)
    q = m.subscribe()
    m.submit(cond(params={"for_s": 60}))
    m.tick(at(59))
    m.tick(at(60))
    events = [(t.event, t.alert.state) for t in drain(q)]
    assert events == [("pending", AlertState.pending), ("firing", AlertState.firing)]
    alert = m.get("service.down", "portal")
    assert alert is not None and alert.fired_at == at(60) and alert.incident_id is not None


async def test_a_condition_that_clears_while_pending_resolves_without_firing(db_engine: Engine) -> None:
    m = manager(db_engine)
    q = m.subscribe()
    m.submit(cond(params={"for_s": 60}))
    m.submit(cond(active=False, s=30))
    m.tick(at(120))
    assert [t.event for t in drain(q)] == ["pending", "resolved"]
    with db_engine.connect() as conn:
        (alert,) = store.list_alerts(conn)
        assert alert.fired_at is None and alert.incident_id is None
        assert store.list_incidents(conn) == []


async def test_severity_changes_keep_the_episode(db_engine: Engine) -> None:
    m = manager(db_engine)
    q = m.subscribe()
    m.submit(cond(fire_at_once=True))
    m.submit(cond(s=5, severity=Severity.critical, fire_at_once=True))
    m.submit(cond(s=6, severity=Severity.critical, fire_at_once=True, value=3.0))  # a new value only: no event
    ts = drain(q)
    assert [t.event for t in ts] == ["firing", "severity"]
    assert ts[0].alert.id == ts[1].alert.id and ts[1].alert.severity is Severity.critical


async def test_flapping_is_marked_once(db_engine: Engine) -> None:
    m = manager(db_engine)
    q = m.subscribe()
    m.submit(cond(fire_at_once=True))
    m.submit(cond(s=1, fire_at_once=True, params={"flapping": True}))
    m.submit(cond(s=2, fire_at_once=True, params={"flapping": True}))
    ts = drain(q)
    assert [t.event for t in ts] == ["firing", "flapping"]
    assert ts[1].alert.params["flapping"] is True


async def test_an_ack_written_by_another_process_is_taken_up_and_published(db_engine: Engine) -> None:
    m = manager(db_engine, sync_interval_s=0)
    q = m.subscribe()
    m.submit(cond(fire_at_once=True))
    alert = m.get("service.down", "portal")
    assert alert is not None
    with db_engine.begin() as conn:  # what `siaga alerts ack` does
        store.acknowledge(conn, alert.id, "andi", at(10), via="cli", note="on it")
    m.tick(at(11))
    ts = drain(q)
    assert [t.event for t in ts] == ["firing", "acknowledged"]
    assert ts[1].by == "andi" and ts[1].via == "cli" and ts[1].note == "on it"
    assert m.get("service.down", "portal").state is AlertState.acknowledged  # type: ignore[union-attr]
    with pytest.raises(store.AlertError, match="already acknowledged by andi"):
        m.ack(alert.id, "sari")


async def test_a_restart_resumes_open_alerts_and_resolves_them_later(db_engine: Engine) -> None:
    first = manager(db_engine)
    first.submit(cond(fire_at_once=True))
    alert = first.get("service.down", "portal")
    second = manager(db_engine)
    assert second.get("service.down", "portal") == dataclasses.replace(alert, params=alert.params)  # type: ignore[arg-type]
    q = second.subscribe()
    second.submit(cond(s=5, fire_at_once=True))  # the same episode goes on: nothing new
    second.submit(cond(active=False, s=100))
    ts = drain(q)
    assert [t.event for t in ts] == ["resolved"] and ts[0].alert.id == alert.id  # type: ignore[union-attr]
    with db_engine.connect() as conn:
        assert len(store.list_alerts(conn)) == 1
        inc = store.get_incident(conn, ts[0].alert.incident_id or 0)
        assert inc is not None and inc.closed_at == at(100)


async def test_the_leak_then_its_consequences_form_one_incident(db_engine: Engine) -> None:
    m = manager(db_engine)
    s = SubjectKind.sensor
    m.submit(cond("leak", "leak-r1", kind=s, severity=Severity.critical, fire_at_once=True))
    m.submit(cond("humidity.high", "temp-r1", kind=s, s=120, fire_at_once=True))
    m.submit(cond("temperature.high", "temp-r2", kind=s, s=300, fire_at_once=True))  # next rack, same room
    m.submit(cond("service.down", "portal", s=400, fire_at_once=True))  # on a device already hit
    m.submit(cond("leak", "other-room", kind=s, s=500, fire_at_once=True))  # another room: its own
    m.submit(cond("temperature.high", "temp-r2", kind=s, s=600, active=False))
    incidents = {a.subject: a.incident_id for a in m.active()}
    assert incidents["leak-r1"] == incidents["temp-r1"] == incidents["portal"]
    assert incidents["other-room"] != incidents["leak-r1"]
    with db_engine.connect() as conn:
        (r2,) = store.list_alerts(conn, states=["resolved"])
        assert r2.incident_id == incidents["leak-r1"]
        assert len(store.list_incidents(conn)) == 2


async def test_a_related_alert_soon_after_reopens_the_incident(db_engine: Engine) -> None:
    m = manager(db_engine)
    s = SubjectKind.sensor
    m.submit(cond("leak", "leak-r1", kind=s, fire_at_once=True))
    m.submit(cond("leak", "leak-r1", kind=s, s=60, active=False))
    first = m.get("leak", "leak-r1")
    assert first is None
    m.submit(cond("temperature.high", "temp-r1", kind=s, s=600, fire_at_once=True))
    m.submit(cond("temperature.high", "temp-r2", kind=s, s=600 + 31 * 60, fire_at_once=True))
    a1, a2 = m.get("temperature.high", "temp-r1"), m.get("temperature.high", "temp-r2")
    assert a1 is not None and a2 is not None
    with db_engine.connect() as conn:
        (leak,) = store.list_alerts(conn, states=["resolved"])
        inc = store.get_incident(conn, leak.incident_id or 0)
    assert inc is not None and inc.closed_at is None and a1.incident_id == inc.id
    assert a2.incident_id == inc.id  # within 30 min of the last alert of the incident, which is open


async def test_a_slow_subscriber_loses_its_oldest_items_and_blocks_nothing(db_engine: Engine) -> None:
    m = manager(db_engine)
    slow = m.subscribe(maxsize=2)
    fast = m.subscribe()
    for i in range(5):
        m.submit(cond(subject=f"svc-{i}", fire_at_once=True))
    assert [t.alert.subject for t in drain(slow)] == ["svc-3", "svc-4"]
    assert len(drain(fast)) == 5
    assert m.dropped == 3


async def test_conditions_from_another_thread_reach_the_loop(db_engine: Engine) -> None:
    m = manager(db_engine)
    q = m.subscribe()
    worker = threading.Thread(target=m.submit, args=(cond(fire_at_once=True),))
    worker.start()
    worker.join()
    t = await asyncio.wait_for(q.get(), 2)
    assert t.event == "firing"


async def test_system_alerts_fire_at_once_and_resolve(db_engine: Engine) -> None:
    m = manager(db_engine)
    q = m.subscribe()
    m.system_alert("mqtt", True, summary=Message("mqtt.unreachable", {"host": "127.0.0.1", "port": 1883}), at=at(0))
    m.system_alert("mqtt", False, at=at(30))
    ts = drain(q)
    assert [(t.event, t.alert.subject_kind) for t in ts] == [("firing", SubjectKind.system),
                                                            ("resolved", SubjectKind.system)]


async def test_manual_resolve_and_notes_are_in_the_timeline(db_engine: Engine) -> None:
    m = manager(db_engine)
    m.submit(cond(fire_at_once=True))
    alert = m.get("service.down", "portal")
    assert alert is not None
    m.note(alert.id, "andi", "restarting nginx", at=at(10))
    m.resolve(alert.id, "andi", via="api", note="fixed", at=at(20))
    with db_engine.connect() as conn:
        events = [(e.event, e.by, e.note) for e in store.events_of(conn, [alert.id])]
    assert events == [("firing", None, None), ("note", "andi", "restarting nginx"), ("resolved", "andi", "fixed")]
    with pytest.raises(store.AlertError, match="already resolved") as refused, db_engine.begin() as conn:
        store.resolve(conn, alert.id, "x", at(30))
    assert not isinstance(refused.value, store.NoSuchAlert)  # a refusal (409), not a missing alert (404)
    missing = alert.id + 1000
    for act in (lambda: m.ack(missing, "andi"), lambda: m.resolve(missing, "andi"),
                lambda: m.note(missing, "andi", "x")):
        with pytest.raises(store.NoSuchAlert, match=f"no alert #{missing}"):  # through the manager, as it is
            act()
    with pytest.raises(store.NoSuchAlert, match="no incident #"), db_engine.begin() as conn:
        store.note_incident(conn, missing, "andi", "x", at(40))


def _move_alerts_table(engine: Engine, away: bool) -> None:
    from sqlalchemy import text

    src, dst = ("alerts", "alerts_away") if away else ("alerts_away", "alerts")
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {src} RENAME TO {dst}"))


async def test_a_leak_is_told_even_when_the_store_fails_and_stored_when_it_is_back(db_engine: Engine) -> None:
    m = manager(db_engine)
    q = m.subscribe()
    _move_alerts_table(db_engine, away=True)
    try:
        m.submit(cond("leak", "leak-r1", kind=SubjectKind.sensor, severity=Severity.critical, fire_at_once=True))
        m.tick(at(1))  # still failing: kept for later
    finally:
        _move_alerts_table(db_engine, away=False)
    (told,) = drain(q)
    assert told.event == "firing" and told.alert.id < 0 and m.errors >= 1
    m.tick(at(2))
    stored = m.get("leak", "leak-r1")
    assert stored is not None and stored.id > 0
    with db_engine.connect() as conn:
        (row,) = store.list_alerts(conn)
        assert row.id == stored.id and row.state is AlertState.firing
        notes = [e.note for e in store.events_of(conn, [row.id])]
        assert [note_text(n, "en", ZoneInfo("UTC")) for n in notes] == ["stored late"]
        assert [note_text(n, "id", ZoneInfo("Asia/Makassar")) for n in notes] == ["disimpan terlambat"]
    m.submit(cond("leak", "leak-r1", kind=SubjectKind.sensor, active=False, s=10))
    assert [t.event for t in drain(q)] == ["resolved"]
