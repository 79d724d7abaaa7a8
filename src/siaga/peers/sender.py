"""Delivery of the room's record: batches from ``peer_outbox`` to each peer that watches this siaga.

One :class:`OutboxSender` per peer: it reads the next batch after that peer's cursor (oldest first), posts
it signed (:mod:`siaga.peers.signing`) to ``<peer url>/api/v1/peer/records`` and moves the cursor to the
sequence the peer acknowledged. A batch the peer did not acknowledge (refused, link down, timeout) is
sent again, whole, after a pause doubling up to ``max_pause_s``: at-least-once, and the peer applies each
event once by its id. After an outage the backlog leaves in full batches, back to back, oldest first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from sqlalchemy import Engine

from siaga.peers import outbox
from siaga.peers.signing import sign

log = logging.getLogger(__name__)

RECORDS_PATH = "/api/v1/peer/records"
BATCH = 500


@dataclass
class OutboxSender:
    """Sends this site's record to one peer."""

    engine: Engine
    site_id: str
    peer_id: str
    url: str
    secret: bytes
    client: httpx.AsyncClient
    batch_size: int = BATCH
    idle_s: float = 0.5
    max_pause_s: float = 5.0
    clock: Callable[[], float] = time.time
    sent_events: int = 0
    sent_batches: int = 0
    failures: int = 0
    last_error: str | None = None
    last_ok_s: float | None = None
    _pause: float = field(default=0.0, repr=False)

    async def send_once(self) -> int:
        """Send the next batch; returns how many events the peer acknowledged (0: nothing waited)."""
        events = await asyncio.to_thread(self._next)
        if not events:
            return 0
        body = json.dumps({"site": self.site_id, "events": events}, separators=(",", ":")).encode()
        headers = sign(self.secret, method="POST", path=RECORDS_PATH, body=body, sender=self.site_id,
                       now=self.clock())
        headers["Content-Type"] = "application/json"
        response = await self.client.post(self.url + RECORDS_PATH, content=body, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"{self.peer_id} answered {response.status_code}: {response.text[:200]}")
        acked = int(response.json()["acked_seq"])
        await asyncio.to_thread(self._ack, acked)
        self.sent_events += len(events)
        self.sent_batches += 1
        self.last_ok_s = self.clock()
        return len(events)

    def _next(self) -> list[dict[str, Any]]:
        with self.engine.begin() as conn:
            return outbox.batch(conn, self.site_id, outbox.acked(conn, self.peer_id), self.batch_size)

    def _ack(self, seq: int) -> None:
        with self.engine.begin() as conn:
            outbox.set_acked(conn, self.peer_id, seq)

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop``; a failed batch is tried again after a growing pause."""
        while not stop.is_set():
            try:
                sent = await self.send_once()
                self._pause = 0.0
                self.last_error = None
            except Exception as exc:  # the link, the peer or the store: the batch waits for the next try
                self.failures += 1
                if self.last_error is None:
                    log.warning("peers: the record for %s waits: %s", self.peer_id, exc)
                self.last_error = str(exc)[:300] or type(exc).__name__
                self._pause = min(self.max_pause_s, max(0.25, self._pause * 2))
                sent = -1
            if sent == self.batch_size:
                continue  # a backlog: the next batch at once
            wait = self._pause if sent < 0 else self.idle_s
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)


def status(engine: Engine, peers: list[str], senders: dict[str, OutboxSender] | None = None,
           now_s: float | None = None) -> list[dict[str, Any]]:
    """Outbox depth and lag per peer (for ``siaga peers`` and /metrics): what waits, how old its oldest is,
    the acknowledged sequence, and the sender's counters when it runs in this process."""
    out: list[dict[str, Any]] = []
    with engine.connect() as conn:
        for peer in peers:
            d = outbox.depth(conn, peer, now_s)
            row: dict[str, Any] = {"peer": peer, "outbox_depth": d.depth, "outbox_lag_s": round(d.lag_s, 3),
                                   "acked_seq": d.acked_seq}
            sender = (senders or {}).get(peer)
            if sender is not None:
                row.update(sent_events=sender.sent_events, failures=sender.failures, last_error=sender.last_error)
            out.append(row)
    return out


__all__ = ["RECORDS_PATH", "OutboxSender", "status"]
