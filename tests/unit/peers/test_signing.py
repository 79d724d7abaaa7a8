"""Signed peer requests: a good one passes once; forged, stale, unknown and replayed ones are refused
and counted by reason."""

from __future__ import annotations

import pytest

from siaga.peers.signing import HEADER_SIGNATURE, SignatureRefused, Verifier, sign

SECRET = b"shared-by-room-and-colo"
NOW = 1_800_000_000.0


def signed(body: bytes = b'{"kind": "heartbeat"}', *, secret: bytes = SECRET, sender: str = "bontang",
           now: float = NOW, path: str = "/api/v1/peers/heartbeat") -> dict[str, str]:
    return sign(secret, method="POST", path=path, body=body, sender=sender, now=now)


def verifier() -> Verifier:
    return Verifier({"bontang": SECRET}, window_s=30)


def refusal(v: Verifier, headers: dict[str, str], body: bytes = b'{"kind": "heartbeat"}',
            now: float = NOW, path: str = "/api/v1/peers/heartbeat") -> str:
    with pytest.raises(SignatureRefused) as err:
        v.verify("POST", path, headers, body, now)
    return err.value.reason


def test_a_signed_request_names_its_peer() -> None:
    v = verifier()
    assert v.verify("post", "/api/v1/peers/heartbeat", signed(), b'{"kind": "heartbeat"}', NOW + 5) == "bontang"
    assert v.accepted["bontang"] == 1
    assert v.refused_total() == 0


def test_a_replay_is_refused_and_counted() -> None:
    v = verifier()
    headers = signed()
    v.verify("POST", "/api/v1/peers/heartbeat", headers, b'{"kind": "heartbeat"}', NOW)
    assert refusal(v, headers, now=NOW + 1) == "replay"
    assert v.refused[("bontang", "replay")] == 1


def test_forged_requests_are_refused_by_reason() -> None:
    v = verifier()
    assert refusal(v, signed(secret=b"guessed")) == "bad_signature"
    assert refusal(v, signed(), body=b'{"kind": "goodbye"}') == "bad_signature"
    assert refusal(v, signed(), path="/api/v1/peers/record") == "bad_signature"
    assert refusal(v, signed(sender="stranger")) == "unknown_peer"
    assert refusal(v, {}) == "missing"
    tampered = signed()
    last = tampered[HEADER_SIGNATURE][-1]
    tampered[HEADER_SIGNATURE] = tampered[HEADER_SIGNATURE][:-1] + ("1" if last == "0" else "0")  # always changed
    assert refusal(v, tampered) in ("bad_signature", "replay")
    assert v.refused_total() == 6


def test_a_request_outside_the_window_is_refused_even_with_a_fresh_nonce() -> None:
    v = verifier()
    assert refusal(v, signed(now=NOW - 31)) == "stale"
    assert refusal(v, signed(now=NOW + 31)) == "stale"
    assert v.verify("POST", "/api/v1/peers/heartbeat", signed(now=NOW - 29), b'{"kind": "heartbeat"}', NOW)


def test_nonces_are_forgotten_after_twice_the_window_and_stay_bounded() -> None:
    v = Verifier({"bontang": SECRET}, window_s=30, max_nonces=10)
    for i in range(50):
        v.verify("POST", "/p", signed(path="/p", now=NOW + i), b'{"kind": "heartbeat"}', NOW + i)
    assert len(v._nonces) <= 10
    v.verify("POST", "/p", signed(path="/p", now=NOW + 200), b'{"kind": "heartbeat"}', NOW + 200)
    assert len(v._nonces) == 1


def test_a_peer_whose_secret_could_not_be_read_is_refused_not_let_in() -> None:
    # an empty key would make every request "signed": anyone could sign with it
    v = Verifier({"bontang": b""}, window_s=30)
    assert refusal(v, signed(secret=b"")) == "unknown_peer"
