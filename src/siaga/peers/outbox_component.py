"""The component that sends this site's record to the peers that watch it (``siaga.peers.sender``).

With a ``watched_by`` peer in ``peers.sites``, recording is switched on (the store's triggers fill
``peer_outbox``) and one sender per such peer runs; without one, recording is off and nothing runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl

import httpx

from siaga.config.peers import Peer, PeerRole
from siaga.peers import outbox
from siaga.peers.hub import peer_secret
from siaga.peers.sender import OutboxSender
from siaga.runtime.components import Component
from siaga.runtime.context import RuntimeContext

PRUNE_EVERY_S = 60.0


def _client(ctx: RuntimeContext, peer: Peer) -> httpx.AsyncClient:
    verify: ssl.SSLContext | bool = True
    cert: tuple[str, str] | None = None
    if peer.tls is not None:
        base = ctx.loaded.base_dir
        verify = ssl.create_default_context(cafile=str(base / peer.tls.ca_file))
        cert = (str(base / peer.tls.cert_file), str(base / peer.tls.key_file))
        verify.load_cert_chain(*cert)
    return httpx.AsyncClient(timeout=httpx.Timeout(10.0, connect=3.0), verify=verify)


def component(ctx: RuntimeContext) -> Component | None:
    peers = ctx.config.peers
    targets = peers.by_role(PeerRole.watched_by)
    with ctx.engine.begin() as conn:
        outbox.set_recording(conn, bool(targets))
    if not targets or peers.site_id is None:
        return None
    site_id = peers.site_id
    hub = ctx.services.peers
    if hub is not None:  # `siaga peers` and /api/v1/peers show what waits for each watching peer
        watching = {p.id for p in targets}

        def depth(peer_id: str) -> int | None:
            if peer_id not in watching:
                return None
            with ctx.engine.connect() as conn:
                return outbox.depth(conn, peer_id).depth

        hub.outbox_depth = depth

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        clients = [_client(ctx, p) for p in targets]
        senders = [
            OutboxSender(ctx.engine, site_id, p.id, p.url,
                         peer_secret(p, ctx.loaded.base_dir), client)
            for p, client in zip(targets, clients, strict=True)
        ]
        try:
            tasks = [asyncio.create_task(s.run(stop)) for s in senders]
            while not stop.is_set():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=PRUNE_EVERY_S)
                await ctx.run_db(lambda conn: outbox.prune(conn, [p.id for p in targets]))
            await asyncio.gather(*tasks)
        finally:
            for client in clients:
                await client.aclose()

    return Component("peers.outbox", run)
