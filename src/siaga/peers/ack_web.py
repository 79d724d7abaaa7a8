"""``POST /api/v1/peers/{site}/alerts/{alert_id}/ack`` (ack scope): at the colocation, acknowledge an alert of
a watched room, as its record shows it; the acknowledgement reaches the room with the answer to its next
heartbeat and stops the room's escalation (``siaga.peers.acks``)."""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import Any

from fastapi import APIRouter, Body, Depends, Request, Response

from siaga.alerts.model import Alert
from siaga.alerts.store import AlertError
from siaga.peers import ack_link, acks
from siaga.peers.signing import HEADER_NONCE
from siaga.peers.web import hub_of, signed_request
from siaga.runtime.context import RuntimeContext
from siaga.web.actions import refusal
from siaga.web.auth.roles import Scope
from siaga.web.deps import get_ctx
from siaga.web.errors import ERROR_RESPONSES, ApiError
from siaga.web.params import RowId
from siaga.web.security import scope_required


def router(ctx: RuntimeContext) -> APIRouter | None:
    peers = ctx.config.peers
    if not peers.sites:
        return None
    r = APIRouter(prefix="/api/v1/peers", tags=["peers"], responses=ERROR_RESPONSES)

    @r.post("/acks/wait", include_in_schema=False)
    async def wait(request: Request, ctx: RuntimeContext = Depends(get_ctx)) -> Response:
        """Signed by a peer: held until an acknowledgement of its alerts is made here (or ``wait_s``, at most
        :data:`~siaga.peers.ack_link.WAIT_S`), answered signed over its request nonce (siaga.peers.ack_link)."""
        peer, body = await signed_request(request, ctx)
        try:
            data = json.loads(body)
            wait_s = min(ack_link.WAIT_S, max(0.0, float(data.get("wait_s", 0))))
        except (ValueError, TypeError, AttributeError):
            raise ApiError(422, "bad_wait", "a wait is {wait_s: seconds, acks_applied: [...]}") from None
        content, headers = await ack_link.held_answer(ctx, hub_of(ctx), peer, data, request.headers[HEADER_NONCE],
                                                      time.monotonic() + wait_s, request.is_disconnected)
        return Response(content, media_type="application/json", headers=headers)

    @r.post("/{site}/alerts/{alert_id}/ack")
    async def acknowledge(site: str, alert_id: RowId, note: str | None = Body(None, embed=True, max_length=1000),
                          me: Any = Depends(scope_required(Scope.ack)),
                          ctx: RuntimeContext = Depends(get_ctx)) -> dict[str, Any]:
        """Acknowledge alert ``alert_id`` of the peer ``site`` (from the record it sent here): queued for the
        site, it stops the site's escalation when it arrives. Needs the ack scope."""
        if peers.peer(site) is None:
            raise ApiError(404, "not_found", f"{site} is not a peer of this siaga")
        event_id, alert = await acknowledge_remote(ctx, site, alert_id, str(me.name), ctx.clock(), via="api",
                                                   origin=peers.site_id or "", note=note)
        return {"site": site, "alert": alert.id, "by": str(me.name), "event_id": event_id, "queued": True}

    return r


async def acknowledge_remote(ctx: RuntimeContext, site: str, alert_id: int, by: str, now: dt.datetime, *,
                             via: str, origin: str, note: str | None) -> tuple[str, Alert]:
    """:func:`acks.ack_remote` in the store's thread (the API's and the dashboard's way): its refusal as the
    API's error by its type: 404 for :class:`NoSuchAlert` (the site's record holds no such alert), 409 for any
    other :class:`AlertError` (resolved, acknowledged, or on its way already)."""
    try:
        return await ctx.run_db(lambda conn: acks.ack_remote(conn, site, alert_id, by, now, via=via, origin=origin,
                                                             note=note))
    except AlertError as exc:
        raise refusal(exc) from None
