"""The ``peers.status`` component (at a room): its public status page sent to each colocation that watches it.

Every heartbeat interval it takes the room's status snapshot (the one ``/status`` shows) and, when a state
on it changed (:func:`siaga.peers.status.digest`) or :data:`~siaga.peers.status.REFRESH_S` passed since the
last delivery, POSTs it signed (and gzipped) to the colocation's ``/api/v1/peer/status``. A delivery that fails is tried
again at the next interval. Runs only on a room with public services and a ``watched_by`` peer.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import logging
import time
from typing import Any

import httpx

from siaga.checks.status.router import StatusCache
from siaga.checks.status.snapshot import SnapshotBuilder
from siaga.config.peers import Peer, PeerRole
from siaga.peers.component import client_for
from siaga.peers.hub import peer_secret
from siaga.peers.signing import sign
from siaga.peers.status import REFRESH_S, digest, document
from siaga.runtime.components import Component
from siaga.runtime.context import RuntimeContext

log = logging.getLogger("siaga.peers")
STATUS_PATH = "/api/v1/peer/status"


class StatusFeed:
    """Sends this room's status page to one watching peer."""

    def __init__(self, ctx: RuntimeContext, peer: Peer, secret: bytes, client: httpx.AsyncClient) -> None:
        self.ctx = ctx
        self.peer = peer
        self.secret = secret
        self.client = client
        self.sent_digest: str | None = None
        self.sent_at = 0.0
        self.delivered = 0

    def cache(self) -> StatusCache:
        cache = self.ctx.services.status_cache
        if cache is None:  # no web app in this process: a snapshot of its own (states from the store)
            cache = StatusCache(SnapshotBuilder(self.ctx.config, self.ctx.engine, clock=self.ctx.clock))
            self.ctx.services.status_cache = cache
        return cache

    async def once(self) -> bool:
        """Send the page if it changed or is due; True when the peer took it (or nothing was due)."""
        cfg = self.ctx.config
        snap = await self.cache().get()
        doc = document(snap, site=cfg.peers.site_id or "", name=cfg.site.name, language=cfg.site.language.value)
        d = digest(doc)
        if d == self.sent_digest and time.monotonic() - self.sent_at < REFRESH_S:
            return True
        # gzip: a page of thousands of services with 90 bars each is tens of MB of JSON, and repeats itself
        body = gzip.compress(json.dumps(doc, separators=(",", ":")).encode(), compresslevel=6)
        headers = sign(self.secret, method="POST", path=STATUS_PATH, body=body, sender=cfg.peers.site_id or "",
                       now=time.time())
        headers["Content-Type"] = "application/json"
        headers["Content-Encoding"] = "gzip"
        try:
            r = await self.client.post(STATUS_PATH, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.debug("status page not delivered", extra={"peer": self.peer.id, "error": str(exc)})
            return False
        if r.status_code != 200:
            log.warning("status page refused by the peer", extra={"peer": self.peer.id, "status": r.status_code})
            return False
        self.sent_digest, self.sent_at = d, time.monotonic()
        self.delivered += 1
        return True

    async def run(self, stop: asyncio.Event) -> None:
        interval = self.peer.heartbeat_interval.total_seconds()
        while not stop.is_set():
            try:
                await self.once()
            except Exception:  # a store hiccup: the next round tries again
                log.exception("status page not made", extra={"peer": self.peer.id})
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)


def component(ctx: RuntimeContext) -> Component | None:
    peers = ctx.config.peers
    targets = peers.by_role(PeerRole.watched_by)
    if not targets or peers.site_id is None or not any(s.public for s in ctx.config.services):
        return None

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        feeds: list[Any] = []
        for p in targets:
            secret = peer_secret(p, ctx.loaded.base_dir)
            feeds.append(StatusFeed(ctx, p, secret, client_for(p, ctx.loaded.base_dir)))
        try:
            await asyncio.gather(*(f.run(stop) for f in feeds))
        finally:
            for f in feeds:
                await f.client.aclose()

    return Component("peers.status", run)
