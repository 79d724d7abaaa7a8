"""The peers' service of a running siaga (``ctx.services.peers``): the verifier of signed requests, the last
state of every peer, and the figures ``siaga peers``, the dashboard and /metrics show.

The heartbeat endpoint (:mod:`siaga.peers.web`) hands what it verified to :meth:`PeerHub.heard`; the
component (:mod:`siaga.peers.component`) sends heartbeats, polls /healthz, and asks :meth:`PeerHub.assess`
which alerts to raise or clear. ``outbox_depth`` is the hook the off-site record fills in (events not
yet delivered to a peer).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from siaga.config.peers import Peer, Peers
from siaga.peers.acks import AckCounters
from siaga.peers.signing import Verifier
from siaga.peers.watch import Decision, PeerState, assess

META_PREFIX = "peer."
"""Each peer's last state is kept in the store's ``meta`` table under ``peer.<id>`` (JSON)."""


def peer_secret(peer: Peer, base_dir: Path | None) -> bytes:
    """The secret ``peer`` and this siaga share, as every signer and verifier uses it (spaces around it are not
    part of it). Raises :class:`siaga.config.secrets.SecretError` when it cannot be had."""
    secret = peer.read_secret("secret", base_dir)
    assert secret is not None  # required by the model
    return secret.strip().encode()


def read_secrets(peers: Peers, base_dir: Path | None) -> dict[str, bytes]:
    """Every peer's shared secret (raises :class:`siaga.config.secrets.SecretError` when one cannot be had)."""
    return {peer.id: peer_secret(peer, base_dir) for peer in peers.sites}


class PeerHub:
    """The peers of this siaga, as it knows them now (thread-safe)."""

    def __init__(self, peers: Peers, secrets: Mapping[str, bytes], *, now: dt.datetime) -> None:
        self.config = peers
        self.site_id = peers.site_id or ""
        self.secrets = dict(secrets)
        self.verifier = Verifier(self.secrets, window_s=peers.max_clock_skew.total_seconds())
        self.states: dict[str, PeerState] = {p.id: PeerState(p.id, started_at=now) for p in peers.sites}
        self.outbox_depth: Callable[[str], int | None] | None = None
        self.probes: Any = None  # siaga.peers.probes.ProbeDesk: probes from both places
        self.ack_counters = AckCounters()  # acknowledgements between the sites (siaga.peers.acks)
        self._lock = threading.Lock()

    def peer(self, peer_id: str) -> Peer | None:
        return self.config.peer(peer_id)

    def restore(self, stored: Mapping[str, str | None]) -> None:
        """Take back each peer's last state as a running siaga kept it in the store (``meta`` ``peer.<id>``):
        after a restart this siaga still knows what each peer last told, whether it had said goodbye and
        whether its silence alarm was on. Silence counts again from this start (no false alarm at boot)."""
        with self._lock:
            for peer in self.config.sites:
                raw = stored.get(peer.id)
                if raw:
                    self.states[peer.id] = state_from_stored(peer.id, raw, self.states[peer.id].started_at)

    def heard(self, peer_id: str, summary: dict[str, Any], at: dt.datetime, *, goodbye: bool = False) -> None:
        with self._lock:
            self.states[peer_id] = self.states[peer_id].heard(at, summary, goodbye=goodbye)

    def refused(self, peer_id: str, at: dt.datetime) -> None:
        """The peer's host refused the connection to its siaga."""
        with self._lock:
            state = self.states[peer_id]
            if state.refused_at is None:
                self.states[peer_id] = replace(state, refused_at=at)

    def sent(self, peer_id: str, at: dt.datetime) -> None:
        with self._lock:
            self.states[peer_id] = replace(self.states[peer_id], sent_ok_at=at)

    def assess(self, now: dt.datetime) -> list[tuple[Peer, Decision]]:
        out = []
        with self._lock:
            for peer in self.config.sites:
                state, decision = assess(self.states[peer.id], peer, now)
                self.states[peer.id] = state
                if decision is not None:
                    out.append((peer, decision))
        return out

    def status(self, now: dt.datetime) -> list[dict[str, Any]]:
        """One row per peer: what ``siaga peers``, ``GET /api/v1/peers`` and the dashboard show."""
        rows = []
        with self._lock:
            for peer in self.config.sites:
                row = status_row(peer, self.states[peer.id], now, self._depth(peer.id))
                row["probes"] = self.probes.status(peer.id) if self.probes is not None else []
                rows.append(row)
        return rows

    def _depth(self, peer_id: str) -> int | None:
        return None if self.outbox_depth is None else self.outbox_depth(peer_id)

    def stored(self, peer_id: str) -> str:
        """The JSON kept in the store for ``peer_id``."""
        with self._lock:
            s = self.states[peer_id]
        return json.dumps({
            "last_heartbeat_at": s.last_heartbeat_at.isoformat() if s.last_heartbeat_at else None,
            "goodbye_at": s.goodbye_at.isoformat() if s.goodbye_at else None,
            "alarm_since": s.alarm_since.isoformat() if s.alarm_since else None,
            "summary": s.summary,
            "probes": self.probes.status(peer_id) if self.probes is not None else [],
        }, sort_keys=True)


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value else None


def status_row(peer: Peer, s: PeerState, now: dt.datetime, outbox_depth: int | None) -> dict[str, Any]:
    if s.goodbye_at is not None:
        status = "stopped"
    elif s.alarm_since is not None:
        status = "silent"
    elif s.last_heartbeat_at is None:
        status = "waiting"
    else:
        status = "up"
    age = s.age(now)
    summary = s.summary
    return {
        "peer": peer.id, "name": peer.name or peer.id, "role": peer.role.value, "url": peer.url,
        "status": status, "last_heartbeat_at": _iso(s.last_heartbeat_at), "age_s": age,
        "lag_s": summary.get("lag_s"), "version": summary.get("version"),
        "open_alerts": len(summary.get("alerts", []) or []),
        "services_down": len(summary.get("services_down", []) or []),
        "silent_since": _iso(s.alarm_since), "goodbye_at": _iso(s.goodbye_at), "last_sent_ok_at": _iso(s.sent_ok_at),
        "outbox_depth": outbox_depth,
    }


def state_from_stored(peer_id: str, raw: str | None, started_at: dt.datetime) -> PeerState:
    """A peer's state from the JSON :meth:`PeerHub.stored` made (an unreadable value: nothing known)."""
    try:
        data = json.loads(raw) if raw else {}
        if not isinstance(data, dict):
            data = {}

        def at(key: str) -> dt.datetime | None:
            value = data.get(key)
            return dt.datetime.fromisoformat(value) if isinstance(value, str) and value else None

        summary = data.get("summary")
        return PeerState(peer_id, started_at=started_at, last_heartbeat_at=at("last_heartbeat_at"),
                         summary=summary if isinstance(summary, dict) else {}, goodbye_at=at("goodbye_at"),
                         alarm_since=at("alarm_since"))
    except ValueError:
        return PeerState(peer_id, started_at=started_at)


def _stored_probes(raw: str | None) -> list[Any]:
    try:
        data = json.loads(raw) if raw else {}
    except ValueError:
        return []
    probes = data.get("probes") if isinstance(data, dict) else None
    return probes if isinstance(probes, list) else []


def stored_status(peers: Peers, stored: Mapping[str, str | None], now: dt.datetime) -> list[dict[str, Any]]:
    """The rows of :func:`status_row` from what a running siaga kept in the store (``siaga peers``)."""
    rows = []
    for peer in peers.sites:
        state = state_from_stored(peer.id, stored.get(peer.id), now)
        age = state.age(now)
        if state.alarm_since is None and state.goodbye_at is None and state.last_heartbeat_at is not None and (
                age is not None and age > peer.silence_window.total_seconds()):
            state = replace(state, alarm_since=state.last_heartbeat_at)  # no running siaga told the store since
        row = status_row(peer, state, now, None)
        row["probes"] = _stored_probes(stored.get(peer.id))
        rows.append(row)
    return rows


__all__ = ["META_PREFIX", "PeerHub", "read_secrets", "state_from_stored", "status_row", "stored_status"]
