"""What the colocation's routes for its rooms share: a room's signed request, checked in one place.

A request to ``POST /api/v1/peer/records`` or ``POST /api/v1/peer/status`` is a room's only if it is signed with
the secret that room and this siaga share (:mod:`siaga.peers.signing`), fresh, not a replay, and the signer is
a room this siaga watches. The peer hub's verifier checks it when the hub runs (one memory of nonces, one
count of refusals with the heartbeats'); a verifier of the rooms' secrets otherwise.
"""

from __future__ import annotations

import logging
import time

from fastapi import Request

from siaga.config.peers import Peer, PeerRole
from siaga.config.secrets import SecretError
from siaga.peers.hub import peer_secret
from siaga.peers.signing import SignatureRefused, Verifier
from siaga.runtime.context import RuntimeContext
from siaga.web.errors import ApiError

log = logging.getLogger(__name__)


class RoomRequests:
    """Checks the signed requests of the rooms ``ctx``'s config watches on ``path`` (``what``: for the log)."""

    def __init__(self, ctx: RuntimeContext, path: str, what: str) -> None:
        peers = ctx.config.peers
        self.path, self.what = path, what
        self.rooms: dict[str, Peer] = {p.id: p for p in peers.by_role(PeerRole.watches)}
        secrets: dict[str, bytes] = {}
        for room in self.rooms.values():
            try:
                secrets[room.id] = peer_secret(room, ctx.loaded.base_dir)
            except SecretError as exc:  # config check names it; here the room is refused, never let in
                log.error("peers: no secret for %s: %s", room.id, exc)
        self.fallback = Verifier(secrets, window_s=peers.max_clock_skew.total_seconds())

    async def verified(self, request: Request, ctx: RuntimeContext) -> tuple[str, bytes]:
        """(the room's id, the body) of a request a watched room signed; 401 otherwise (counted, logged)."""
        body = await request.body()
        hub = ctx.services.peers
        check = hub.verifier if hub is not None else self.fallback
        try:
            site = check.verify("POST", self.path, request.headers, body, time.time())
            if site not in self.rooms:
                check.refused[(site, "unknown_peer")] += 1
                raise SignatureRefused("unknown_peer", site, "not a room this siaga watches")
        except SignatureRefused as exc:
            log.warning("peers: %s refused (%s) from %s", self.what, exc.reason, exc.peer or request.client)
            raise ApiError(401, "peer_refused", str(exc), details={"reason": exc.reason}) from None
        return site, body


__all__ = ["RoomRequests"]
