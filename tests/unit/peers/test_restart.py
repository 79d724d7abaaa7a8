"""A colocation that restarts takes back what it knew of each room (the ``meta`` ``peer.<id>`` JSON): the
room's last summary, its goodbye, its silence alarm; and it raises no false alarm at boot."""

from __future__ import annotations

import datetime as dt

from siaga.config.peers import Peers
from siaga.peers.hub import PeerHub
from siaga.peers.watch import PeerState, assess

from .test_watch import ROOM, SUMMARY, at


def hub_at(seconds: float, stored: dict[str, str | None]) -> PeerHub:
    peers = Peers(site_id="colo", sites=[ROOM])
    hub = PeerHub(peers, {"bontang": b"s"}, now=at(seconds))
    hub.restore(stored)
    return hub


def kept(state: PeerState) -> str:
    hub = PeerHub(Peers(site_id="colo", sites=[ROOM]), {"bontang": b"s"}, now=state.started_at)
    hub.states["bontang"] = state
    return hub.stored("bontang")


def test_a_restart_keeps_the_rooms_last_summary_and_gives_it_a_full_window() -> None:
    before = PeerState("bontang", started_at=at(0)).heard(at(1), SUMMARY)
    hub = hub_at(60, {"bontang": kept(before)})  # the colocation was down 59 s, the room was fine
    [row] = hub.status(at(60))
    assert row["open_alerts"] == 1 and row["services_down"] == 3 and row["last_heartbeat_at"] == at(1).isoformat()
    assert hub.assess(at(62.9)) == []  # no false alarm at boot: the window counts from the start
    [(_peer, decision)] = hub.assess(at(63.1))  # still not heard: silent, since its last heartbeat
    assert decision.active and decision.params["since"] == at(1).isoformat()
    assert decision.params["alerts"] == "leak leak-r1"


def test_a_silence_alarm_on_before_the_restart_stays_on_until_the_room_is_heard() -> None:
    before, decision = assess(PeerState("bontang", started_at=at(0)).heard(at(1), SUMMARY), ROOM, at(5))
    assert decision is not None and decision.active
    hub = hub_at(60, {"bontang": kept(before)})
    assert hub.assess(at(60)) == [] and hub.assess(at(70)) == []  # not raised again, not cleared
    assert hub.status(at(60))[0]["status"] == "silent"
    hub.heard("bontang", {}, at(71))
    [(_peer, back)] = hub.assess(at(71))
    assert not back.active


def test_a_goodbye_before_the_restart_is_still_no_alarm() -> None:
    before = PeerState("bontang", started_at=at(0)).heard(at(1), SUMMARY, goodbye=True)
    hub = hub_at(60, {"bontang": kept(before)})
    assert hub.assess(at(600)) == [] and hub.status(at(600))[0]["status"] == "stopped"


def test_an_unreadable_stored_state_is_nothing_known() -> None:
    hub = hub_at(60, {"bontang": "{not json"})
    assert hub.status(at(60))[0]["status"] == "waiting"
    assert hub.assess(at(63.1))[0][1].active


def test_the_clock_never_restarts_silence_before_the_start() -> None:
    state = PeerState("bontang", started_at=at(10), last_heartbeat_at=at(0))
    assert assess(state, ROOM, at(12))[1] is None
    assert dt.timedelta(seconds=3) == ROOM.silence_window
