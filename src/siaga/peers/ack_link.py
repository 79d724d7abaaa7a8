"""The runtime side of acknowledgements between sites (``siaga.peers.acks`` holds the rules and the store).

:class:`AckLink` rides on this siaga's heartbeats (``siaga.peers.component``): it adds the confirmations of
acknowledgements applied here to the next heartbeat's body, and applies the acknowledgements a peer's signed
answer carries through the alert manager. :func:`answer` is the peer's side: the heartbeat endpoint
(``siaga.peers.web``) takes the confirmations and answers with what waits for the sender, signed over the
sender's request nonce.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import time
from typing import Any

import httpx
from sqlalchemy import Connection

from siaga.alerts.store import AlertError, get_alert
from siaga.config.peers import Peer
from siaga.peers import acks
from siaga.peers.hub import PeerHub
from siaga.peers.signing import SignatureRefused
from siaga.runtime import RuntimeContext

log = logging.getLogger("siaga.peers")
ANSWERED_PATH = "/api/v1/peers/heartbeat"
"""The path an answer is signed for: the heartbeat's, as the peer's router sees it (like the request's signature,
never the URL's own path, which a proxy in front of the peer may prefix)."""


class AckLink:
    """This siaga's part in the acknowledgements its peers make of its alerts."""

    def __init__(self, ctx: RuntimeContext, hub: PeerHub) -> None:
        self.ctx = ctx
        self.hub = hub
        self.confirming: dict[str, list[dict[str, str]]] = {p.id: [] for p in hub.config.sites}

    def extra(self, peer_id: str) -> dict[str, Any]:
        """What the next heartbeat to ``peer_id`` carries for the acknowledgements (confirmations)."""
        done = list(self.confirming.get(peer_id, []))
        return {"acks_applied": done} if done else {}

    async def answered(self, peer: Peer, request_nonce: str, response: httpx.Response, extra: dict[str, Any]) -> None:
        """The peer answered our heartbeat (200): drop what it has now been told; apply what it carries."""
        told = {c["event_id"] for c in extra.get("acks_applied", [])}
        if told:
            self.confirming[peer.id] = [c for c in self.confirming[peer.id] if c["event_id"] not in told]
        try:
            data = response.json()
        except ValueError:
            return
        if not isinstance(data, dict) or not data.get("acks"):
            return
        try:
            acks.verify_answer(self.hub.secrets[peer.id], peer=peer.id, path=ANSWERED_PATH,
                               request_nonce=request_nonce, headers=response.headers, body=response.content,
                               now=time.time(), window_s=self.hub.config.max_clock_skew.total_seconds())
            carried = acks.from_wire(data["acks"])
        except (SignatureRefused, ValueError) as exc:
            reason = exc.reason if isinstance(exc, SignatureRefused) else "malformed"
            self.hub.ack_counters.refused[(peer.id, reason)] += 1
            log.warning("acknowledgements from the peer refused", extra={"peer": peer.id, "reason": reason})
            return
        try:
            results = await asyncio.to_thread(self.apply, peer.id, carried)
        except Exception:  # the store: the peer sends them again with its next answer
            log.exception("acknowledgements from the peer not applied", extra={"peer": peer.id})
            return
        known = {c["event_id"] for c in self.confirming[peer.id]}
        self.confirming[peer.id] += [r for r in results if r["event_id"] not in known]

    def apply(self, peer_id: str, carried: list[acks.PeerAck]) -> list[dict[str, str]]:
        """Apply each acknowledgement once (blocking: the alert manager writes the store)."""
        engine = self.ctx.engine
        out = []
        for ack in carried:
            with engine.connect() as conn:
                prior = acks.outcome_of(conn, peer_id, ack.event_id)
            if prior is not None:  # sent again (our confirmation was lost): applied once already
                out.append({"event_id": ack.event_id, "outcome": prior})
                continue
            outcome = self._acknowledge(peer_id, ack)
            with engine.begin() as conn:
                acks.remember(conn, peer_id, ack, outcome, self.ctx.clock())
            self.hub.ack_counters.applied[(peer_id, outcome)] += 1
            log.info("alert acknowledged at the peer", extra={"peer": peer_id, "alert": ack.alert_id, "by": ack.by,
                                                               "outcome": outcome})
            out.append({"event_id": ack.event_id, "outcome": outcome})
        return out

    def _acknowledge(self, peer_id: str, ack: acks.PeerAck) -> str:
        now = self.ctx.clock()
        at = min(ack.at, now)  # when the person acknowledged there (a peer's clock ahead of ours: now)
        via = f"{acks.VIA_PREFIX}{peer_id}"
        manager = self.ctx.services.alerts
        try:
            if manager is not None:
                manager.ack(ack.alert_id, ack.by, via=via, note=ack.note, at=at)
            else:
                from siaga.alerts import store

                with self.ctx.engine.begin() as conn:
                    store.acknowledge(conn, ack.alert_id, ack.by, at, via=via, note=ack.note)
        except AlertError:
            with self.ctx.engine.connect() as conn:
                alert = get_alert(conn, ack.alert_id)
            return acks.state_outcome(alert.state if alert is not None else None)
        return "acknowledged"


def answer(conn: Connection, hub: PeerHub, peer: str, data: dict[str, Any], now: dt.datetime
           ) -> list[acks.PeerAck]:
    """At the peer that was sent a heartbeat: take its confirmations; what waits for it (to answer with)."""
    done = acks.confirm(conn, peer, data.get("acks_applied"), now)
    if done:
        hub.ack_counters.confirmed[peer] += done
    return acks.waiting(conn, peer)


def signed_answer(hub: PeerHub, peer: str, path: str, request_nonce: str, waiting: list[acks.PeerAck]
                  ) -> tuple[bytes, dict[str, str]]:
    """The heartbeat's answer carrying ``waiting``, and the headers that sign it over the request's nonce."""
    body = json.dumps({"ok": True, "site": hub.site_id, "acks": [a.wire() for a in waiting]},
                      separators=(",", ":")).encode()
    headers = acks.sign_answer(hub.secrets[peer], path=path, request_nonce=request_nonce, body=body,
                               sender=hub.site_id, now=time.time())
    return body, headers


__all__ = ["AckLink", "answer", "signed_answer"]
