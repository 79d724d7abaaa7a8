"""``POST /api/v1/peer/records``: a watched room's record, applied once per event (at the colocation).

Public in the account sense: the request authenticates by its signature (:mod:`siaga.peers.signing`, the
secret shared with that room), not by an account. A request that is not signed by a room this siaga
watches, is stale, or replays a nonce is refused (401) and counted by reason (with the heartbeats' refusals:
the peer hub's verifier checks it when the hub runs). The body is
``{"events": [...]}`` as :func:`siaga.peers.outbox.batch` makes them; each is applied under the signing
room's site id (:func:`siaga.peers.record.apply`); the answer acknowledges the batch's last sequence.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from fastapi import APIRouter, Depends, Request

from siaga.config.peers import PeerRole
from siaga.peers import record
from siaga.peers.inbound import RoomRequests
from siaga.peers.sender import RECORDS_PATH
from siaga.runtime.context import RuntimeContext
from siaga.web.deps import get_ctx
from siaga.web.errors import ApiError

log = logging.getLogger(__name__)

def router(ctx: RuntimeContext) -> APIRouter | None:
    if not ctx.config.peers.by_role(PeerRole.watches):
        return None
    rooms = RoomRequests(ctx, RECORDS_PATH, "record")
    r = APIRouter(prefix="/api/v1/peer", tags=["peers"])

    @r.post("/records", include_in_schema=False)
    async def records(request: Request, ctx: RuntimeContext = Depends(get_ctx)) -> dict[str, Any]:
        site, body = await rooms.verified(request, ctx)
        try:
            events = json.loads(body)["events"]
            if not isinstance(events, list):
                raise TypeError("events is not a list")
            last = max((int(e["seq"]) for e in events), default=0)
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiError(400, "bad_records", f"not a batch of events: {exc}") from None
        now = time.time()
        try:
            applied = await ctx.run_db(lambda conn: record.apply(conn, site, events, now))
        except record.RecordError as exc:
            raise ApiError(400, "bad_records", str(exc)) from None
        return {"site": site, "received": len(events), "applied": applied, "acked_seq": last,
                "acked": events[-1]["event_id"] if events else None}

    return r
