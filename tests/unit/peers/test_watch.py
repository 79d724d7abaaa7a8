"""Silence is never "fine": when a peer's silence pages, when it does not (a goodbye), and what it tells."""

from __future__ import annotations

import datetime as dt

from siaga.config.peers import Peer, PeerRole
from siaga.peers.watch import SILENT_RULE, UNREACHABLE_RULE, PeerState, assess
from siaga.vocab import Severity

T0 = dt.datetime(2026, 12, 6, 2, 2, tzinfo=dt.UTC)
ROOM = Peer(id="bontang", name="Ruang Server Diskominfo", role=PeerRole.watches, url="http://room:8470",
            secret_file="s", heartbeat_interval=dt.timedelta(seconds=1), silence_window=dt.timedelta(seconds=3))
COLO = ROOM.model_copy(update={"id": "colo", "role": PeerRole.watched_by})
SUMMARY = {"alerts": [{"rule": "leak", "subject": "leak-r1", "severity": "critical"}],
           "services_down": ["portal", "absensi", "mail"]}


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_a_room_silent_longer_than_its_window_pages_critical_with_what_it_last_said() -> None:
    state = PeerState("bontang", started_at=T0).heard(at(1), SUMMARY)
    state, decision = assess(state, ROOM, at(3.9))
    assert decision is None
    state, decision = assess(state, ROOM, at(4.1))
    assert decision is not None and decision.active
    assert (decision.rule, decision.severity) == (SILENT_RULE, Severity.critical)
    assert decision.params["since"] == at(1).isoformat()
    assert decision.params["alerts"] == "leak leak-r1"
    assert (decision.params["alert_count"], decision.params["services_down"]) == (1, 3)
    assert assess(state, ROOM, at(9))[1] is None  # raised once
    state, back = assess(state.heard(at(10), {}), ROOM, at(10))
    assert back is not None and not back.active


def test_a_peer_never_heard_is_silent_once_the_window_has_passed_since_start() -> None:
    _state, decision = assess(PeerState("colo", started_at=T0), COLO, at(3.5))
    assert decision is not None and (decision.rule, decision.severity) == (UNREACHABLE_RULE, Severity.warning)


def test_a_goodbye_is_no_alarm_until_the_peer_is_heard_again() -> None:
    state = PeerState("bontang", started_at=T0).heard(at(1), SUMMARY, goodbye=True)
    assert assess(state, ROOM, at(60))[1] is None
    state = state.heard(at(61), SUMMARY)
    assert assess(state, ROOM, at(65))[1] is not None


def test_a_refused_connection_after_no_goodbye_is_silence_at_once() -> None:
    from dataclasses import replace

    state = PeerState("bontang", started_at=T0).heard(at(1), SUMMARY)
    state, decision = assess(replace(state, refused_at=at(1.5)), ROOM, at(1.6))
    assert decision is not None and decision.active and decision.params["refused"]
    stopped = PeerState("bontang", started_at=T0).heard(at(1), SUMMARY, goodbye=True)
    assert assess(replace(stopped, refused_at=at(1.5)), ROOM, at(1.6))[1] is None
