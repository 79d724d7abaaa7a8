"""The colocation's page of each room it watches (``/peers/{site}``): the room's alerts as its record shows
them (open first, then the latest resolved), each open one acknowledged here with one press, and the
acknowledgements made here that the room has not confirmed yet.

An acknowledgement made here (:func:`siaga.peers.acks.ack_remote`, ``via: web``) is queued for the room; the
room takes it with the answer to its next heartbeat, stops its escalation, withholds the reminders already
queued, and its timeline says who and ``via peer:<colocation>``. The same as the CLI's ``siaga peer-records
ROOM --ack N`` and ``POST /api/v1/peers/{site}/alerts/{id}/ack``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from siaga.alerts.serialise import alert_fields
from siaga.config.peers import PeerRole
from siaga.i18n.messages import Message
from siaga.peers import acks
from siaga.peers.ack_web import acknowledge_remote
from siaga.peers.record import remote_alerts
from siaga.vocab import AlertState
from siaga.web.auth.roles import Scope
from siaga.web.dashboard import Dashboard
from siaga.web.errors import worded
from siaga.web.params import RowId
from siaga.web.security import Principal

RESOLVED_SHOWN = 20
"""Resolved alerts of the room shown under its open ones (the latest)."""


def router(dash: Dashboard) -> APIRouter | None:
    peers = dash.cfg.peers
    if not peers.by_role(PeerRole.watches):
        return None  # this siaga watches no room
    r = APIRouter(include_in_schema=False)
    viewer = Depends(dash.need(Scope.read))
    operator = Depends(dash.need(Scope.ack))

    def watched(site: str) -> Any:
        peer = peers.peer(site)
        if peer is None or peer.role is not PeerRole.watches:
            raise worded(404, "not_found", Message("web.not_watched", {"site": site}))
        return peer

    @r.get("/peers/{site}", response_class=HTMLResponse)
    def site_page(request: Request, site: str, me: Principal = viewer) -> Response:
        peer = watched(site)
        lang = dash.language(me, request)
        with dash.engine.connect() as conn:
            found = remote_alerts(conn, site)
            on_the_way = {a.alert_id: a for a in acks.waiting(conn, site)}
        open_ = [a for a in found if a.state is not AlertState.resolved]
        resolved = [a for a in found if a.state is AlertState.resolved][:RESOLVED_SHOWN]
        return dash.render(request, "peer_site.html", me, peer=peer,
                           open_alerts=[alert_fields(a, lang, dash.zone) for a in open_],
                           resolved_alerts=[alert_fields(a, lang, dash.zone) for a in resolved],
                           on_the_way=on_the_way)

    @r.post("/peers/{site}/alerts/{alert_id}/ack", response_class=HTMLResponse)
    async def acknowledge(request: Request, site: str, alert_id: RowId, note: str = Form(""),
                          me: Principal = operator) -> Response:
        watched(site)
        now = dash.now()
        text = note.strip()[:1000] or None
        await acknowledge_remote(dash.ctx, site, alert_id, me.name, now, via="web", origin=peers.site_id or "",
                                 note=text)
        return RedirectResponse(f"/peers/{site}", status_code=303)

    return r
