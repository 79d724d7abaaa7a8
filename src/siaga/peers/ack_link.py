"""The runtime side of acknowledgements between sites (``siaga.peers.acks`` holds the rules and the store).

:class:`AckLink` rides on this siaga's heartbeats (``siaga.peers.component``): it adds the confirmations of
acknowledgements applied here to the next heartbeat's body, and applies the acknowledgements a peer's signed
answer carries through the alert manager. :func:`answer` is the peer's side: the heartbeat endpoint
(``siaga.peers.web``) takes the confirmations and answers with what waits for the sender, signed over the
sender's request nonce.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from sqlalchemy import Connection

from siaga.alerts.store import AlertError, get_alert
from siaga.config.peers import Peer
from siaga.peers import acks
from siaga.peers.hub import PeerHub
from siaga.peers.signing import HEADER_NONCE, SignatureRefused, sign
from siaga.runtime import RuntimeContext

log = logging.getLogger("siaga.peers")
ANSWERED_PATH = "/api/v1/peers/heartbeat"
WAIT_PATH = "/api/v1/peers/acks/wait"
WAIT_S = 2.5
"""How long the peer may hold a wait for acknowledgements before it answers with none (shorter than the web
server's graceful stop, 3 s, so a stopping peer answers every held wait rather than cutting it)."""
MAX_PAUSE_S = 5.0
HOLD_LOOK_S = 0.25
"""The path an answer is signed for: the heartbeat's, as the peer's router sees it (like the request's signature,
never the URL's own path, which a proxy in front of the peer may prefix)."""


class AckLink:
    """This siaga's part in the acknowledgements its peers make of its alerts."""

    def __init__(self, ctx: RuntimeContext, hub: PeerHub) -> None:
        self.ctx = ctx
        self.hub = hub
        self.confirming: dict[str, list[dict[str, str]]] = {p.id: [] for p in hub.config.sites}
        self._applying = threading.Lock()  # the wait's answer and a heartbeat's may carry the same one at once

    def extra(self, peer_id: str) -> dict[str, Any]:
        """What the next heartbeat to ``peer_id`` carries for the acknowledgements (confirmations)."""
        done = list(self.confirming.get(peer_id, []))
        return {"acks_applied": done} if done else {}

    async def answered(self, peer: Peer, request_nonce: str, response: httpx.Response, extra: dict[str, Any],
                       path: str | None = None) -> None:
        """The peer answered our heartbeat or our wait (200): drop what it has now been told; apply what it
        carries (``path``: the one the answer is signed for, the heartbeat's by default)."""
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
            acks.verify_answer(self.hub.secrets[peer.id], peer=peer.id, path=path or ANSWERED_PATH,
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

    async def wait_loop(self, peer: Peer, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        """Ask ``peer`` for acknowledgements of our alerts and let it hold the answer until it has one (up to
        :data:`WAIT_S`): a request this siaga makes (NAT-proof, like the heartbeat) that the peer answers at
        once when someone acknowledges there, so the acknowledgement arrives within a round trip, not a
        heartbeat interval. Failures fall back to the heartbeats' answers, which carry the same."""
        pause = 1.0
        while not stop.is_set():
            extra = self.extra(peer.id)
            body = json.dumps({"wait_s": WAIT_S, **extra}).encode()
            headers = sign(self.hub.secrets[peer.id], method="POST", path=WAIT_PATH, body=body,
                           sender=self.hub.site_id, now=time.time())
            headers["Content-Type"] = "application/json"
            try:
                r = await client.post(WAIT_PATH, content=body, headers=headers, timeout=WAIT_S + 10)
                ok = r.status_code == 200
            except httpx.HTTPError:
                ok = False
            if ok:
                pause = 1.0
                await self.answered(peer, headers[HEADER_NONCE], r, extra, path=WAIT_PATH)
                continue
            with contextlib.suppress(TimeoutError):  # the peer away, or too old to know the wait: heartbeats
                await asyncio.wait_for(stop.wait(), pause)
            pause = min(MAX_PAUSE_S, pause * 2)

    def apply(self, peer_id: str, carried: list[acks.PeerAck]) -> list[dict[str, str]]:
        """Apply each acknowledgement once (blocking: the alert manager writes the store)."""
        with self._applying:
            return self._apply(peer_id, carried)

    def _apply(self, peer_id: str, carried: list[acks.PeerAck]) -> list[dict[str, str]]:
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


async def held_answer(ctx: RuntimeContext, hub: PeerHub, peer: str, data: dict[str, Any], request_nonce: str,
                      stop_at: float, gone: Callable[[], Awaitable[bool]] | None = None
                      ) -> tuple[bytes, dict[str, str]]:
    """At the peer that was asked to wait: take the confirmations, then answer as soon as acknowledgements wait
    for ``peer`` (looked at every :data:`HOLD_LOOK_S`), or with none at ``stop_at`` (monotonic) or once the
    asker is ``gone``, signed."""
    now = ctx.clock()
    waiting = await ctx.run_db(lambda conn: answer(conn, hub, peer, data, now))
    while not waiting and time.monotonic() < stop_at and not (gone is not None and await gone()):
        await asyncio.sleep(HOLD_LOOK_S)
        waiting = await ctx.run_db(lambda conn: acks.waiting(conn, peer))
    return signed_answer(hub, peer, WAIT_PATH, request_nonce, waiting)


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


__all__ = ["ANSWERED_PATH", "WAIT_PATH", "AckLink", "answer", "held_answer", "signed_answer"]
