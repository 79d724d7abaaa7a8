"""The ``peers`` component of ``siaga serve``: heartbeats both ways, /healthz polls, silence alerts, goodbye.

- Every ``heartbeat_interval`` it POSTs a signed heartbeat to each peer, carrying a summary of this site
  (open alerts with rule, subject and severity; services down; newest reading time; version; site id).
- For each watched peer with ``health_poll`` it GETs the peer's /healthz: a refused connection (the host
  answers, siaga does not) after no goodbye is silence at once.
- Several times a second it asks the hub which peers turned silent or came back, and raises or clears
  their alert through this siaga's own alert manager (``peer.silent``: critical, for a watched room;
  ``peer.unreachable``: warning, for the watching colocation), with the last state the peer told.
- On a planned stop it sends a signed goodbye first: the peers do not page it.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import ssl
import time
from typing import Any

import httpx
from sqlalchemy import func, select

from siaga import __version__
from siaga.config.peers import Peer
from siaga.i18n.messages import Message
from siaga.peers.ack_link import AckLink
from siaga.peers.hub import META_PREFIX, PeerHub, read_secrets
from siaga.peers.signing import HEADER_NONCE, sign
from siaga.runtime import Component, RuntimeContext
from siaga.vocab import AlertState

log = logging.getLogger("siaga.peers")
HEARTBEAT_PATH = "/api/v1/peers/heartbeat"
ASSESS_EVERY = 0.2


def summary_of(ctx: RuntimeContext, newest_reading: dt.datetime | None) -> dict[str, Any]:
    """What this siaga tells its peers about its site."""
    alerts = ctx.services.alerts.active() if ctx.services.alerts is not None else []
    open_alerts = [
        {"rule": a.rule, "subject": a.subject, "severity": a.severity.value, "state": a.state.value,
         "since": (a.fired_at or a.started_at).isoformat()}
        for a in alerts if a.state is not AlertState.pending and not a.rule.startswith("peer.")
    ]
    down = sorted({a.subject for a in alerts if a.rule == "service.down" and a.state is not AlertState.pending})
    return {"site": ctx.config.peers.site_id, "version": __version__, "alerts": open_alerts,
            "services_down": down, "newest_reading_at": newest_reading.isoformat() if newest_reading else None}


def _newest_reading(conn: Any) -> dt.datetime | None:
    from siaga.readings.tables import sensor_last

    value = conn.execute(select(func.max(sensor_last.c.received_at))).scalar()
    return value if isinstance(value, dt.datetime) else None


def client_for(peer: Peer, base_dir: Any) -> httpx.AsyncClient:
    """An HTTP client towards ``peer`` (mutual TLS when configured)."""
    verify: ssl.SSLContext | bool = True
    if peer.tls is not None:
        from pathlib import Path

        def path(p: str) -> str:
            return str(p if Path(p).is_absolute() or base_dir is None else Path(base_dir) / p)

        context = ssl.create_default_context(cafile=path(peer.tls.ca_file))
        context.load_cert_chain(path(peer.tls.cert_file), path(peer.tls.key_file))
        verify = context
    timeout = min(5.0, max(0.5, peer.heartbeat_interval.total_seconds()))
    return httpx.AsyncClient(base_url=peer.url, verify=verify, timeout=timeout)


def is_refused(exc: BaseException) -> bool:
    """The peer's host answered but nothing listens on its port."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ConnectionRefusedError) or "refused" in str(seen).lower():
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class PeerLink:
    """This siaga's side of its peers: the senders, pollers and the silence watch."""

    def __init__(self, ctx: RuntimeContext, hub: PeerHub) -> None:
        self.ctx = ctx
        self.hub = hub
        self.clients = {p.id: client_for(p, ctx.loaded.base_dir) for p in hub.config.sites}
        self.newest_reading: dt.datetime | None = None
        self.acks = AckLink(ctx, hub)

    async def post(self, peer: Peer, kind: str) -> bool:
        extra = self.acks.extra(peer.id)  # confirmations of the peer's acknowledgements applied here
        summary = summary_of(self.ctx, self.newest_reading)
        if self.hub.probes is not None:  # probes from both places: the verdicts for this peer
            summary.update(self.hub.probes.summary_for(peer))
        body = json.dumps({"kind": kind, "site": self.hub.site_id, "sent_at": self.ctx.clock().isoformat(),
                           "summary": summary, **extra}).encode()
        headers = sign(self.hub.secrets[peer.id], method="POST", path=HEARTBEAT_PATH, body=body,
                       sender=self.hub.site_id, now=time.time())
        headers["Content-Type"] = "application/json"
        try:
            r = await self.clients[peer.id].post(HEARTBEAT_PATH, content=body, headers=headers)
        except httpx.HTTPError as exc:
            log.debug("heartbeat not delivered", extra={"peer": peer.id, "error": str(exc)})
            return False
        if r.status_code != 200:
            log.warning("heartbeat refused by the peer", extra={"peer": peer.id, "status": r.status_code})
            return False
        self.hub.sent(peer.id, self.ctx.clock())
        await self.acks.answered(peer, headers[HEADER_NONCE], r, extra)  # acknowledgements riding on the answer
        return True

    async def send_loop(self, peer: Peer, stop: asyncio.Event) -> None:
        interval = peer.heartbeat_interval.total_seconds()
        while not stop.is_set():
            await self.post(peer, "heartbeat")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def poll_loop(self, peer: Peer, stop: asyncio.Event) -> None:
        assert peer.health_poll is not None
        every = peer.health_poll.total_seconds()
        while not stop.is_set():
            try:
                await self.clients[peer.id].get("/healthz", timeout=min(every, 2.0))
            except httpx.HTTPError as exc:
                if is_refused(exc):
                    self.hub.refused(peer.id, self.ctx.clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), every)

    async def watch_loop(self, stop: asyncio.Event) -> None:
        stored: dict[str, str] = {}
        last_store = 0.0
        while not stop.is_set():
            decided = self.hub.assess(self.ctx.clock())
            for peer, d in decided:
                await self.tell(peer, d.active, d.rule, d.severity, d.params)
            if self.hub.probes is not None:
                await self.hub.probes.assess(self.ctx.clock())
            if decided or time.monotonic() - last_store >= 1.0:  # an alarm raised or cleared is kept at once
                # (a restart right after it must not forget it)
                last_store = time.monotonic()
                await self.keep(stored)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), ASSESS_EVERY)

    async def tell(self, peer: Peer, active: bool, rule: str, severity: Any, params: dict[str, Any]) -> None:
        alerts = self.ctx.services.alerts
        level = log.error if active else log.info
        level("peer silent" if active else "peer heard again", extra={"peer": peer.id, "rule": rule})
        if alerts is None:
            return
        key = rule if active else f"{rule}.back"
        summary = Message(key, {k: v for k, v in params.items() if k != "refused"})
        try:  # the manager writes the store: off the event loop
            await asyncio.to_thread(alerts.system_alert, peer.id, active, rule=rule, severity=severity,
                                    summary=summary, **params)
        except Exception:
            log.exception("peer alert not raised", extra={"peer": peer.id})

    async def keep(self, stored: dict[str, str]) -> None:
        """The peers' last states into the store (what changed), and the newest reading for the summary."""
        from siaga.store.events import set_meta

        changed = {p.id: self.hub.stored(p.id) for p in self.hub.config.sites}
        changed = {k: v for k, v in changed.items() if stored.get(k) != v}

        def work(conn: Any) -> dt.datetime | None:
            for peer_id, value in changed.items():
                set_meta(conn, META_PREFIX + peer_id, value)
            try:
                return _newest_reading(conn)
            except Exception:  # readings not migrated: no newest reading to tell
                return None

        try:
            self.newest_reading = await self.ctx.run_db(work)
            stored.update(changed)
        except Exception as exc:
            log.warning("peer states not stored", extra={"error": str(exc)})

    async def goodbye(self) -> None:
        await asyncio.gather(*(self.post(p, "goodbye") for p in self.hub.config.sites), return_exceptions=True)

    async def close(self) -> None:
        for client in self.clients.values():
            await client.aclose()


async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
    hub = ctx.services.peers
    assert hub is not None
    link = PeerLink(ctx, hub)
    tasks = [asyncio.create_task(link.send_loop(p, stop)) for p in hub.config.sites]
    tasks += [asyncio.create_task(link.acks.wait_loop(p, link.clients[p.id], stop))  # acknowledgements made there
              for p in hub.config.sites if p.role.value == "watched_by"]
    tasks += [asyncio.create_task(link.poll_loop(p, stop)) for p in hub.config.sites
              if p.health_poll is not None and p.role.value == "watches"]
    tasks.append(asyncio.create_task(link.watch_loop(stop)))
    if hub.probes is not None:
        tasks.append(asyncio.create_task(hub.probes.run(stop), name="peers:probes"))
    try:
        await stop.wait()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(link.goodbye(), 3.0)
        log.info("goodbye sent to the peers (planned stop)")
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await link.close()


def component(ctx: RuntimeContext) -> Component | None:
    peers = ctx.config.peers
    if not peers.sites:
        return None  # siaga runs alone
    ctx.services.peers = hub = PeerHub(peers, read_secrets(peers, ctx.loaded.base_dir), now=ctx.clock())
    hub.restore(stored_states(ctx, hub))
    from siaga.peers.probes import ProbeDesk

    hub.probes = ProbeDesk(ctx, hub)
    return Component("peers", run)


def stored_states(ctx: RuntimeContext, hub: PeerHub) -> dict[str, str | None]:
    """What a running siaga kept in the store of each peer (nothing when the store cannot be read)."""
    from siaga.store.events import get_meta

    try:
        with ctx.engine.connect() as conn:
            return {p.id: get_meta(conn, META_PREFIX + p.id) for p in hub.config.sites}
    except Exception as exc:  # a store not migrated yet, or down: start knowing nothing, as before
        log.warning("peer states not reloaded from the store", extra={"error": str(exc)})
        return {}
