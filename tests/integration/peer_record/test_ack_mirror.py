"""One event, one acknowledgement: the colocation's alert that stands for a room's alert (the outage it paged for
a silent room) sends its acknowledgement to the room, and follows the room's; never an echo back."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from siaga.alerts.manager import AlertManager
from siaga.alerts.model import AlertState, Condition, Severity, SubjectKind, Transition
from siaga.alerts.store import acknowledge
from siaga.i18n.messages import Message
from siaga.peers import ack_mirror, acks, outbox, record
from siaga.store import create_engine_for, sqlite_url
from siaga.store.migrate import upgrade

T0 = dt.datetime(2026, 7, 16, 2, 0, tzinfo=dt.UTC)


def _down(service: str) -> Condition:
    return Condition("service.down", service, SubjectKind.service, True, Severity.critical, T0,
                     summary=Message("system.down", {"component": service}), fire_at_once=True)


def acknowledged_rows(conn: Connection, after: int | None) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    """The room alerts whose newest row is acknowledged, among those applied since ``after``."""
    newest, rows = ack_mirror._alert_rows(conn, ["bontang"], after)
    return newest, [(room, row) for room, row in rows if row.get("state") == "acknowledged"]


def recording_room(tmp_path: Path) -> Engine:
    """The room's store, recording its changes for the colocation."""
    room = create_engine_for(sqlite_url(tmp_path / "room.db"))
    upgrade(room)
    with room.begin() as conn:
        outbox.set_recording(conn, True)
    return room


def colo_seeing_down(colo: Engine, *services: str) -> AlertManager:
    """The colocation's alerts: each of the room's ``services`` seen down from outside (``peer.service.down``)."""
    at_colo = AlertManager(colo, clock=lambda: T0)
    for service in services:
        at_colo.system_alert(f"bontang/{service}", True, rule="peer.service.down", severity=Severity.critical,
                             peer="bontang", service=service)
    return at_colo


def portal_alert_arrives(room: Engine, colo: Engine, waiting: dict[int, Transition], after: int | None
                         ) -> tuple[int, list[tuple[dict[str, Any], Transition]]]:
    """The room's own alert on the portal fires there and its record reaches the colocation: the room's alert id,
    and each (row, acknowledgement waiting here) that :func:`ack_mirror.carried_late` finds for the rows applied
    since record id ``after``."""
    at_room = AlertManager(room, clock=lambda: T0)
    at_room.submit(_down("portal"))
    portal = at_room.get("service.down", "portal")
    assert portal is not None
    with room.connect() as conn:
        events = outbox.batch(conn, "bontang", 0)
    with colo.begin() as conn:
        record.apply(conn, "bontang", events, 0.0)
        _, rows = ack_mirror._alert_rows(conn, ["bontang"], after)
    return portal.id, [(row, t) for r, row in rows for t in ack_mirror.carried_late(waiting, r, row)]


def test_the_colocations_alert_and_the_rooms_acknowledge_each_other(db_engine: Engine, tmp_path: Path) -> None:
    room = recording_room(tmp_path)
    at_room = AlertManager(room, clock=lambda: T0)
    at_room.submit(_down("portal"))
    at_room.submit(_down("absensi"))
    portal, absensi = at_room.get("service.down", "portal"), at_room.get("service.down", "absensi")
    assert portal is not None and absensi is not None

    def deliver(after: int) -> int:
        with room.connect() as conn:
            events = outbox.batch(conn, "bontang", after)
        with db_engine.begin() as conn:
            record.apply(conn, "bontang", events, 0.0)
        return events[-1]["seq"] if events else after

    sent = deliver(0)
    at_colo = AlertManager(db_engine, clock=lambda: T0)
    for service in ("portal", "absensi"):  # the outages the colocation paged while the room was silent
        at_colo.system_alert(f"bontang/{service}", True, rule="peer.service.down", severity=Severity.critical,
                             peer="bontang", service=service)
    ours = {a.params["service"]: a for a in at_colo.active()}
    assert ack_mirror.counterpart(ours["portal"], "bontang") == ("service.down", "portal")

    # acknowledged at the colocation: queued for the room's alert it stands for
    acked = at_colo.ack(ours["portal"].id, "andi", via="link")
    tr = Transition(acked, AlertState.firing, T0, by="andi", via="link", event="acknowledged")
    with db_engine.begin() as conn:
        queued = ack_mirror.forward(conn, tr, ["bontang"], "colo")
        assert len(queued) == 1
        waiting = acks.waiting(conn, "bontang")
        assert [(w.alert_id, w.by, w.via) for w in waiting] == [(portal.id, "andi", "link")]
        # one that came from the room is never sent back
        echo = Transition(acked, AlertState.firing, T0, by="andi", via="peer:bontang", event="acknowledged")
        assert ack_mirror.forward(conn, echo, ["bontang"], "colo") == []

    # acknowledged at the room: the colocation's alert for the same outage follows
    with room.begin() as conn:
        acknowledge(conn, absensi.id, "budi", T0 + dt.timedelta(minutes=1), via="telegram")
    with db_engine.connect() as conn:
        cursor, _ = acknowledged_rows(conn, None)
    deliver(sent)
    with db_engine.connect() as conn:
        _cursor, rows = acknowledged_rows(conn, cursor)
        _, at_start = acknowledged_rows(conn, None)  # a restart sees it too
    assert [r["subject"] for _room, r in rows] == ["absensi"] == [r["subject"] for _room, r in at_start]
    followers = ack_mirror.mirrored(at_colo.active(), "bontang", rows[0][1])
    assert [a.params["service"] for a in followers] == ["absensi"]
    assert ack_mirror.mirrored(at_colo.active(), "other-room", rows[0][1]) == []
    room.dispose()


def test_an_acknowledgement_made_before_the_rooms_alert_reached_the_record_is_carried_when_it_arrives(
        db_engine: Engine, tmp_path: Path) -> None:
    room = recording_room(tmp_path)
    at_colo = colo_seeing_down(db_engine, "portal")
    acked = at_colo.ack(at_colo.active()[0].id, "andi", via="link")  # seen from outside first, acknowledged here
    tr = Transition(acked, AlertState.firing, T0, by="andi", via="link", event="acknowledged")
    unmatched = ack_mirror.Unmatched()
    with db_engine.begin() as conn:
        sent = ack_mirror.forward(conn, tr, ["bontang"], "colo")
        cursor, _ = ack_mirror._alert_rows(conn, ["bontang"], None)
    assert sent == []  # the room's record holds no such alert yet: nothing to queue now
    unmatched.forwarded(tr, sent)

    # the room's own alert for the outage fires there a moment later, and its record arrives
    portal_id, late = portal_alert_arrives(room, db_engine, unmatched.waiting, cursor)
    assert [t for _, t in late] == [tr]
    with db_engine.begin() as conn:
        ack_mirror.carry(conn, [tr], "bontang", late[0][0], "colo")
        waiting = acks.waiting(conn, "bontang")
    assert [(w.alert_id, w.by, w.via) for w in waiting] == [(portal_id, "andi", "link")]
    # another room's alert of that name is not its counterpart; an alert resolved here has nothing left to carry
    assert ack_mirror.carried_late(unmatched.waiting, "other-room", late[0][0]) == []
    unmatched.keep_only(set())
    assert unmatched.waiting == {}
    # the store did not take it: forwarded again later
    unmatched.forwarded(tr, None)
    assert list(unmatched.again) == [acked.id]
    room.dispose()


def test_a_colocation_restarted_before_the_rooms_alert_arrived_still_carries_its_acknowledgement(
        db_engine: Engine, tmp_path: Path) -> None:
    room = recording_room(tmp_path)
    at_colo = colo_seeing_down(db_engine, "portal", "absensi")
    ours = {a.params["service"]: a for a in at_colo.active()}
    at_colo.ack(ours["portal"].id, "andi", via="link", note="sudah dicek")  # made here, before the room's alert
    at_colo.ack(ours["absensi"].id, "budi", via="peer:bontang")  # came from the room: never sent back

    # the colocation restarts: a new manager, an empty book, made again from the timeline
    again = AlertManager(db_engine, clock=lambda: T0 + dt.timedelta(minutes=5))
    again.load()
    with db_engine.connect() as conn:
        made = ack_mirror.acknowledged_here(conn, again.active())
    assert [(t.alert.id, t.by, t.via, t.note) for t in made] == [(ours["portal"].id, "andi", "link", "sudah dicek")]
    unmatched = ack_mirror.Unmatched()
    for t in made:
        unmatched.waiting.setdefault(t.alert.id, t)

    # the room's alert arrives after the restart: the acknowledgement made before it is carried
    portal_id, late = portal_alert_arrives(room, db_engine, unmatched.waiting, None)
    assert [t.alert.id for _, t in late] == [ours["portal"].id]
    with db_engine.begin() as conn:
        ack_mirror.carry(conn, [late[0][1]], "bontang", late[0][0], "colo")
        waiting = acks.waiting(conn, "bontang")
    assert [(w.alert_id, w.by, w.via) for w in waiting] == [(portal_id, "andi", "link")]
    room.dispose()
