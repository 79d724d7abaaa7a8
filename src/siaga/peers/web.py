"""The peers' HTTP side: ``POST /api/v1/peers/heartbeat`` (signed by a peer) and ``GET /api/v1/peers`` (read scope).

:func:`signed_request` is the one check of a peer's request (the record endpoint uses it too): it returns
the peer's id and the body, or answers 401 (counted by reason in /metrics) for a request that is not
signed by a known peer, stale, or a replay.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import time
from typing import Any

from fastapi import APIRouter, Depends, Request, Response

from siaga.peers import ack_link
from siaga.peers.hub import PeerHub
from siaga.peers.signing import HEADER_NONCE, SignatureRefused
from siaga.runtime import RuntimeContext
from siaga.sources.ratelimit import RateLimitedLog
from siaga.web.auth.roles import Scope
from siaga.web.deps import get_ctx
from siaga.web.errors import ERROR_RESPONSES, ApiError
from siaga.web.security import scope_required

log = logging.getLogger("siaga.peers")
_refusals = RateLimitedLog(log)


def hub_of(ctx: RuntimeContext) -> PeerHub:
    hub = ctx.services.peers
    if hub is None:
        raise ApiError(404, "no_peers", "this siaga has no peers configured")
    return hub


async def signed_request(request: Request, ctx: RuntimeContext) -> tuple[str, bytes]:
    """The peer that signed this request and its body; 401 otherwise (counted, logged rate-limited)."""
    hub = hub_of(ctx)
    body = await request.body()
    try:
        peer = hub.verifier.verify(request.method, request.url.path, request.headers, body, time.time())
    except SignatureRefused as exc:
        _refusals.warning(exc.reason, f"peer request refused ({exc.peer or '?'}): {exc}", reason=exc.reason)
        raise ApiError(401, "peer_signature", f"peer request refused: {exc}") from None
    return peer, body


router = APIRouter(prefix="/api/v1/peers", tags=["peers"], responses=ERROR_RESPONSES)  # 404: no peers configured


@router.post("/heartbeat", include_in_schema=False)
async def heartbeat(request: Request, ctx: RuntimeContext = Depends(get_ctx)) -> Any:
    peer, body = await signed_request(request, ctx)
    try:
        data = json.loads(body)
        kind = data["kind"]
        summary = data.get("summary") or {}
        if kind not in ("heartbeat", "goodbye") or not isinstance(summary, dict):
            raise ValueError(kind)
    except (ValueError, KeyError, TypeError):
        raise ApiError(422, "bad_heartbeat", "a heartbeat is {kind: heartbeat|goodbye, summary: {...}}") from None
    sent = data.get("sent_at")
    if isinstance(sent, str):
        with contextlib.suppress(ValueError, TypeError):
            summary["lag_s"] = max(0.0, (ctx.clock() - dt.datetime.fromisoformat(sent)).total_seconds())
    hub = hub_of(ctx)
    hub.heard(peer, summary, ctx.clock(), goodbye=kind == "goodbye")
    if kind == "goodbye":
        log.info("peer said goodbye (a planned stop)", extra={"peer": peer})
    now = ctx.clock()
    try:  # acknowledgements of the sender's alerts made here ride on the answer (siaga.peers.acks)
        waiting = await ctx.run_db(lambda conn: ack_link.answer(conn, hub, peer, data, now))
    except Exception as exc:  # never fail a heartbeat for them: they wait for the next one
        log.warning("acknowledgements for the peer not read", extra={"peer": peer, "error": str(exc)})
        waiting = []
    if waiting:
        content, headers = ack_link.signed_answer(hub, peer, ack_link.ANSWERED_PATH, request.headers[HEADER_NONCE],
                                                  waiting)
        return Response(content, media_type="application/json", headers=headers)
    return {"ok": True, "site": hub.site_id}


@router.get("", dependencies=[Depends(scope_required(Scope.read))])
async def peers(ctx: RuntimeContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    """Each peer: status, last heartbeat, its age, lag, open alerts and services down it told, outbox depth."""
    return hub_of(ctx).status(ctx.clock())
