"""Acknowledgements between sites: the signed answer that carries them, their wire form, their bookkeeping."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import create_engine

from siaga.alerts.model import AlertState
from siaga.peers import acks
from siaga.peers.ack_tables import peer_acks
from siaga.peers.signing import SignatureRefused

SECRET = b"shared"
NOW = 1_800_000_000.0
AT = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)


def answer(nonce: str = "n1", secret: bytes = SECRET, now: float = NOW) -> tuple[bytes, dict[str, str]]:
    body = b'{"acks":[]}'
    return body, acks.sign_answer(secret, path="/api/v1/peers/heartbeat", request_nonce=nonce, body=body,
                                  sender="colo", now=now)


def verify(body: bytes, headers: dict[str, str], nonce: str = "n1", peer: str = "colo") -> None:
    acks.verify_answer(SECRET, peer=peer, path="/api/v1/peers/heartbeat", request_nonce=nonce, headers=headers,
                       body=body, now=NOW, window_s=30)


def test_a_signed_answer_to_our_request_is_taken() -> None:
    verify(*answer())


@pytest.mark.parametrize(("made", "nonce", "peer", "reason"), [
    ({"nonce": "n0"}, "n1", "colo", "replay"),  # an answer to another request, replayed
    ({"secret": b"forged"}, "n1", "colo", "bad_signature"),
    ({"now": NOW - 120}, "n1", "colo", "stale"),
    ({}, "n1", "other", "unknown_peer"),
])
def test_an_answer_replayed_forged_stale_or_from_another_peer_is_refused(
        made: dict[str, object], nonce: str, peer: str, reason: str) -> None:
    body, headers = answer(**made)  # type: ignore[arg-type]
    with pytest.raises(SignatureRefused) as refused:
        verify(body, headers, nonce, peer)
    assert refused.value.reason == reason


def test_a_tampered_body_or_an_unsigned_answer_is_refused() -> None:
    body, headers = answer()
    with pytest.raises(SignatureRefused, match="does not match"):
        verify(body.replace(b"[]", b"[1]"), headers)
    with pytest.raises(SignatureRefused) as refused:
        verify(body, {})
    assert refused.value.reason == "missing"


def test_the_wire_form_round_trips_and_refuses_what_is_malformed() -> None:
    ack = acks.PeerAck("colo:ack:1", 7, "andi", "cli", AT, "on my way")
    assert acks.from_wire([ack.wire()]) == [ack]
    for bad in ("x", [1], [{"event_id": "e"}], [{**ack.wire(), "alert_id": "seven"}]):
        with pytest.raises(ValueError):
            acks.from_wire(bad)


def test_an_ack_waits_until_confirmed_and_is_applied_once() -> None:
    engine = create_engine("sqlite://")
    peer_acks.create(engine)
    with engine.begin() as conn:
        first = acks.queue(conn, "bontang", 7, "andi", AT, via="cli", origin="colo")
        assert acks.queue(conn, "bontang", 7, "budi", AT, via="api", origin="colo") == first  # one while it waits
        assert [a.event_id for a in acks.waiting(conn, "bontang")] == [first]
        assert acks.waiting(conn, "other") == []
        assert acks.confirm(conn, "bontang", [{"event_id": first, "outcome": "acknowledged"}, "junk"], AT) == 1
        assert acks.confirm(conn, "bontang", [{"event_id": first}], AT) == 0  # confirmed twice: once
        assert acks.waiting(conn, "bontang") == []
        assert acks.sent_to(conn, "bontang")[0]["outcome"] == "acknowledged"
        # the room's side: what came of it, remembered by event id
        assert acks.outcome_of(conn, "colo", first) is None
        acks.remember(conn, "colo", acks.PeerAck(first, 7, "andi", "cli", AT), "already", AT)
        assert acks.outcome_of(conn, "colo", first) == "already"


def test_what_a_heard_room_has_open_it_pages_itself() -> None:
    from dataclasses import replace

    from siaga.alerts.model import Alert, Severity, SubjectKind
    from siaga.i18n.messages import Message
    from siaga.peers.ack_mirror import room_pages
    from siaga.peers.watch import PeerState

    def alert(rule: str, subject: str) -> Alert:
        return Alert(1, rule, subject, SubjectKind.service, AlertState.firing, Severity.critical, Message("x"), AT)

    told = {"alerts": [{"rule": "service.down", "subject": "portal", "severity": "critical"}]}
    heard = PeerState("bontang", started_at=AT, last_heartbeat_at=AT, summary=told)
    assert room_pages(alert("service.down", "portal"), [heard]) == "peer:bontang"
    assert room_pages(alert("service.down", "absensi"), [heard]) is None  # the room does not have it
    assert room_pages(alert("peer.service.down", "portal"), [heard]) is None  # the colocation's own
    for quiet in ({"alarm_since": AT}, {"goodbye_at": AT}, {"last_heartbeat_at": None}):
        assert room_pages(alert("service.down", "portal"), [replace(heard, **quiet)]) is None  # type: ignore[arg-type]
