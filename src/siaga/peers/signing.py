"""Signed, replay-proof requests between peers (pure: the clock is an argument, no I/O).

Every request one siaga sends another carries four headers:

    X-Siaga-Peer        the sender's id, as the receiver names it (``peers.site_id`` of the sender)
    X-Siaga-Timestamp   Unix seconds when it was signed
    X-Siaga-Nonce       32 random hex digits, never used twice
    X-Siaga-Signature   ``v1=`` + hex HMAC-SHA256, with the secret shared by the two, over
                        method, path, timestamp, nonce, sender and the SHA-256 of the body (one per line)

The receiver (:class:`Verifier`) refuses a request whose sender it does not know, whose signature does
not match, whose timestamp is further than the window from its clock, or whose nonce it has already
seen within the window (a replay); each refusal is counted by reason. A nonce is remembered only once
its signature checks out, so forged requests cannot fill the cache; it is kept for twice the window
(a request older than the window is refused for its timestamp anyway).

Used by the heartbeat endpoint (:mod:`siaga.peers.web`) and the record endpoint built on it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections import Counter, OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field

from siaga.errors import SiagaError

HEADER_PEER = "X-Siaga-Peer"
HEADER_TIMESTAMP = "X-Siaga-Timestamp"
HEADER_NONCE = "X-Siaga-Nonce"
HEADER_SIGNATURE = "X-Siaga-Signature"
SCHEME = "v1="

REASONS = ("missing", "unknown_peer", "bad_signature", "stale", "replay")
"""Why a request is refused: the label of the refused-requests counter."""


class SignatureRefused(SiagaError):
    """A peer request that is not signed by a known peer, or is stale, or a replay."""

    def __init__(self, reason: str, peer: str | None, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason
        self.peer = peer


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def canonical(method: str, path: str, timestamp: str, nonce: str, sender: str, body: bytes) -> bytes:
    """The text that is signed: one field a line."""
    return "\n".join((method.upper(), path, timestamp, nonce, sender, body_digest(body))).encode()


def signature(secret: bytes, method: str, path: str, timestamp: str, nonce: str, sender: str, body: bytes) -> str:
    mac = hmac.new(secret, canonical(method, path, timestamp, nonce, sender, body), hashlib.sha256)
    return SCHEME + mac.hexdigest()


def sign(
    secret: bytes, *, method: str, path: str, body: bytes, sender: str, now: float, nonce: str | None = None
) -> dict[str, str]:
    """The headers that sign one request (``now``: Unix seconds)."""
    ts = str(int(now))
    nonce = nonce or secrets.token_hex(16)
    return {
        HEADER_PEER: sender,
        HEADER_TIMESTAMP: ts,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature(secret, method, path, ts, nonce, sender, body),
    }


@dataclass
class Verifier:
    """Checks signed requests from the peers in ``secrets`` (peer id -> shared secret).

    ``window_s``: the largest difference between a request's timestamp and ``now`` that is accepted.
    ``refused`` counts refusals by (peer or "", reason); ``max_nonces`` bounds the memory of nonces."""

    secrets: Mapping[str, bytes]
    window_s: float = 30.0
    max_nonces: int = 100_000
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    accepted: Counter[str] = field(default_factory=Counter)
    _nonces: OrderedDict[tuple[str, str], float] = field(default_factory=OrderedDict)

    def verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes, now: float) -> str:
        """The id of the peer that signed this request; :class:`SignatureRefused` (counted) otherwise."""
        try:
            return self._verify(method, path, headers, body, now)
        except SignatureRefused as exc:
            self.refused[(exc.peer or "", exc.reason)] += 1
            raise

    def _verify(self, method: str, path: str, headers: Mapping[str, str], body: bytes, now: float) -> str:
        def get(name: str) -> str | None:
            value = headers.get(name)
            if value is None:
                value = headers.get(name.lower())
            return value

        sender, ts, nonce, sig = get(HEADER_PEER), get(HEADER_TIMESTAMP), get(HEADER_NONCE), get(HEADER_SIGNATURE)
        if not sender or not ts or not nonce or not sig:
            raise SignatureRefused("missing", None, "not a signed peer request (X-Siaga-* headers missing)")
        secret = self.secrets.get(sender)
        if not secret:  # an empty key would let anyone sign: a peer without its secret is refused
            raise SignatureRefused("unknown_peer", None, "unknown peer")
        expected = signature(secret, method, path, ts, nonce, sender, body)
        if not hmac.compare_digest(expected.encode(), sig.encode()):
            raise SignatureRefused("bad_signature", sender, "signature does not match")
        try:
            at = float(ts)
        except ValueError:
            raise SignatureRefused("stale", sender, "timestamp is not a number") from None
        if abs(now - at) > self.window_s:
            raise SignatureRefused("stale", sender, f"timestamp {abs(now - at):.0f} s away from this clock")
        self._forget(now)
        key = (sender, nonce)
        if key in self._nonces:
            raise SignatureRefused("replay", sender, "nonce already used (a replayed request)")
        self._nonces[key] = now + 2 * self.window_s
        while len(self._nonces) > self.max_nonces:
            self._nonces.popitem(last=False)
        self.accepted[sender] += 1
        return sender

    def _forget(self, now: float) -> None:
        while self._nonces:
            key, until = next(iter(self._nonces.items()))
            if until > now:
                break
            del self._nonces[key]

    def refused_total(self) -> int:
        return sum(self.refused.values())


__all__ = [
    "HEADER_NONCE",
    "HEADER_PEER",
    "HEADER_SIGNATURE",
    "HEADER_TIMESTAMP",
    "REASONS",
    "SignatureRefused",
    "Verifier",
    "body_digest",
    "canonical",
    "sign",
    "signature",
]
