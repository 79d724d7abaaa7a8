"""The heartbeat's answer carrying acknowledgements, at the room: applied through the alert manager once, the
timeline saying who and via which peer; a replayed answer refused and counted; sent again, applied nothing
twice and confirmed again (the path a room behind NAT depends on, with no server in between)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
from sqlalchemy import select

from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.alerts.tables import alert_events
from siaga.config.peers import Peers
from siaga.i18n.messages import Message
from siaga.peers import acks
from siaga.peers.ack_link import ANSWERED_PATH, AckLink, signed_answer
from siaga.peers.hub import PeerHub
from siaga.store import create_engine_for, sqlite_url
from siaga.store.migrate import upgrade

T0 = dt.datetime(2026, 7, 16, 2, 0, tzinfo=dt.UTC)
SECRET = b"shared-secret"


def hub(site: str, peer: str, role: str) -> PeerHub:
    peers = Peers.model_validate({"site_id": site, "sites": [
        {"id": peer, "role": role, "url": "http://peer.example", "secret_file": "peer.secret"}]})
    return PeerHub(peers, {peer: SECRET}, now=T0)


async def test_an_answer_carrying_an_acknowledgement_stops_the_rooms_alert_once(tmp_path: Path) -> None:
    engine = create_engine_for(sqlite_url(tmp_path / "room.db"))
    upgrade(engine)
    manager = AlertManager(engine, clock=lambda: T0 + dt.timedelta(minutes=1))
    manager.submit(Condition("leak", "leak-r1", SubjectKind.sensor, True, Severity.critical, T0,
                             summary=Message("system.down", {"component": "leak-r1"}), fire_at_once=True))
    alert = manager.get("leak", "leak-r1")
    assert alert is not None
    room, colo = hub("bontang", "colo", "watched_by"), hub("colo", "bontang", "watches")
    ctx: Any = SimpleNamespace(engine=engine, clock=lambda: T0 + dt.timedelta(minutes=1),
                               services=SimpleNamespace(alerts=manager))
    link = AckLink(ctx, room)
    peer = room.config.sites[0]
    made = acks.PeerAck("colo:ack:1", alert.id, "andi", "link", T0 + dt.timedelta(seconds=30), "menuju")

    def response(nonce: str) -> httpx.Response:
        body, headers = signed_answer(colo, "bontang", ANSWERED_PATH, nonce, [made])
        return httpx.Response(200, content=body, headers=headers)

    await link.answered(peer, "n1", response("n1"), {})
    now_alert = manager.get("leak", "leak-r1")
    assert now_alert is not None and now_alert.state.value == "acknowledged" and now_alert.acknowledged_by == "andi"
    with engine.connect() as conn:
        lines = [(e.by, e.via, e.note, e.at) for e in conn.execute(
            select(alert_events).where(alert_events.c.event == "acknowledged"))]
    assert lines == [("andi", "peer:colo", "menuju", T0 + dt.timedelta(seconds=30))]
    assert link.extra("colo") == {"acks_applied": [{"event_id": "colo:ack:1", "outcome": "acknowledged"}]}
    assert room.ack_counters.applied[("colo", "acknowledged")] == 1

    await link.answered(peer, "n2", response("n1"), link.extra("colo"))  # an answer to another request: replayed
    assert room.ack_counters.refused[("colo", "replay")] == 1
    assert link.extra("colo") == {}  # the confirmation went with that request

    await link.answered(peer, "n3", response("n3"), {})  # sent again (our confirmation lost): nothing twice
    assert link.extra("colo") == {"acks_applied": [{"event_id": "colo:ack:1", "outcome": "acknowledged"}]}
    assert room.ack_counters.applied[("colo", "acknowledged")] == 1
    with engine.connect() as conn:
        assert len(list(conn.execute(select(alert_events).where(alert_events.c.event == "acknowledged")))) == 1
    engine.dispose()
