"""The off-site record on a real store (both backends): the triggers fill the outbox in the writer's own
transaction, a batch read from it applies once at the other end, a second apply adds nothing."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.alerts.store import acknowledge
from siaga.i18n.messages import Message
from siaga.peers import outbox, record

T0 = dt.datetime(2026, 7, 16, 2, 0, tzinfo=dt.UTC)


def _leak(at: dt.datetime, active: bool = True) -> Condition:
    return Condition("leak", "R1", SubjectKind.sensor, active, Severity.critical, at,
                     summary=Message("system.down", {"component": "R1"}), fire_at_once=True)


def test_nothing_is_recorded_until_recording_is_on(db_engine: Engine) -> None:
    AlertManager(db_engine, clock=lambda: T0).submit(_leak(T0))
    with db_engine.connect() as conn:
        assert outbox.batch(conn, "room", 0) == []


def test_the_alert_keepers_writes_are_recorded_and_applied_once(db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        outbox.set_recording(conn, True)
    manager = AlertManager(db_engine, clock=lambda: T0)
    manager.submit(_leak(T0))
    alert = manager.get("leak", "R1")
    assert alert is not None and alert.id > 0
    with db_engine.begin() as conn:  # as `siaga alerts ack` does from another process
        acknowledge(conn, alert.id, "budi", T0 + dt.timedelta(minutes=3), via="cli")
    manager.tick(T0 + dt.timedelta(minutes=5))  # the keeper takes the acknowledgement up
    manager.submit(_leak(T0 + dt.timedelta(minutes=10), active=False))

    with db_engine.connect() as conn:
        events = outbox.batch(conn, "room", 0)
    tables = {e["tbl"] for e in events}
    assert {"alerts", "alert_events", "incidents"} <= tables
    assert [e["seq"] for e in events] == sorted(e["seq"] for e in events)
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(e["event_id"].startswith("room:") for e in events)

    with db_engine.begin() as conn:
        assert record.apply(conn, "room", events, 0.0) == len(events)
        assert record.apply(conn, "room", events, 1.0) == 0  # sent again: nothing twice
        assert record.event_ids(conn, "room") == [e["event_id"] for e in events]
        alerts = record.remote_alerts(conn, "room")
        incidents = record.remote_incidents(conn, "room")
    assert [(a.rule, a.subject, a.state.value, a.acknowledged_by) for a in alerts] == [
        ("leak", "R1", "resolved", "budi")]
    assert len(incidents) == 1 and alerts[0].incident_id == incidents[0].id
    found = record.remote_incident(db_engine, "room", incidents[0].id)
    assert found is not None
    _inc, inc_alerts, timeline = found
    assert [a.id for a in inc_alerts] == [alert.id]
    assert "acknowledged" in [e.event for e in timeline]


def test_the_cursor_moves_only_to_what_the_peer_acknowledged(db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        outbox.set_recording(conn, True)
    manager = AlertManager(db_engine, clock=lambda: T0)
    for i in range(5):
        manager.submit(Condition("leak", f"R{i}", SubjectKind.sensor, True, Severity.critical, T0,
                                 summary=Message("system.down", {"component": f"R{i}"}), fire_at_once=True))
    with db_engine.begin() as conn:
        first = outbox.batch(conn, "room", 0, limit=3)
        outbox.set_acked(conn, "colo", first[-1]["seq"])
        rest = outbox.batch(conn, "room", outbox.acked(conn, "colo"))
        d = outbox.depth(conn, "colo")
        assert d.depth == len(rest) > 0
        assert outbox.prune(conn, ["colo"]) == len(first)  # every acknowledged line (the newest stays)
        assert outbox.prune(conn, ["colo"]) == 0
    assert first[-1]["seq"] < rest[0]["seq"]
