"""HTTP of notify: the one-tap acknowledgement pages and the maintenance and timeline API.

``GET /ack/{token}`` only shows what the link would acknowledge and a button; ``POST`` acknowledges.
Link-preview bots (chat apps fetch links to show a preview) therefore never acknowledge anything.
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any
from urllib.parse import parse_qs

import jinja2
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field
from sqlalchemy import select

from siaga.notify.ack import TokenError
from siaga.notify.records import RecordError, add_maintenance, end_maintenance, list_maintenance, timeline
from siaga.notify.service import NotifyService
from siaga.notify.snapshot import alert_from_json
from siaga.notify.tables import notify_alerts
from siaga.notify.texts import N_, gettext_for, ngettext_for
from siaga.runtime.context import RuntimeContext
from siaga.web.auth.roles import Scope
from siaga.web.deps import get_ctx
from siaga.web.params import RowId
from siaga.web.security import scope_required  # who may silence paging or read who was told

router = APIRouter(tags=["notify"])


@functools.cache
def _env(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("siaga.notify", "templates"),
                             extensions=["jinja2.ext.i18n"], autoescape=True)
    env.install_gettext_callables(gettext_for(lang), ngettext_for(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


def _service(ctx: RuntimeContext) -> NotifyService:
    svc = ctx.services.notify
    if svc is None:
        raise HTTPException(503, "notify is not running (no channels configured)")
    return svc


def _page(svc: NotifyService, status: int = 200, **ctx: Any) -> HTMLResponse:
    lang = svc.notifier.config.site.language.value
    html = _env(lang).get_template("ack.html").render(lang=lang, **ctx)
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def _who(svc: NotifyService, recipient_key: str) -> str:
    kind, _, ident = recipient_key.partition(":")
    if kind == "person" and ident in svc.notifier.people:
        return svc.notifier.people[ident].name
    if kind == "group" and ident in svc.notifier.groups:
        return svc.notifier.groups[ident].name
    return ident


@router.get("/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
async def ack_page(token: str, ctx: RuntimeContext = Depends(get_ctx)) -> HTMLResponse:
    svc = _service(ctx)
    g = gettext_for(svc.notifier.config.site.language.value)
    try:
        claim = svc.check_token(token)
    except TokenError as exc:
        return _page(svc, 400, error=g(N_("This link cannot be used: {reason}.")).format(reason=exc))
    if await svc.token_spent(claim):
        return _page(svc, 410, error=g(N_("This link was used already.")))
    ids = list(claim.alert_ids)
    if claim.message_id is not None:
        row = await svc.message(claim.message_id)
        ids = [int(a) for a in row.alert_ids] if row is not None else []
    rows = await svc.db(lambda c: list(c.execute(select(notify_alerts.c.snapshot).where(
        notify_alerts.c.alert_id.in_(ids)))))
    lang = svc.notifier.config.site.language.value
    views = [svc.notifier.renderer.view(alert_from_json(r.snapshot), lang) for r in rows]
    return _page(svc, alerts=views, who=_who(svc, claim.recipient.key))


@router.post("/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
async def ack_confirm(token: str, request: Request, ctx: RuntimeContext = Depends(get_ctx)) -> HTMLResponse:
    svc = _service(ctx)
    raw = (await request.body()).decode("utf-8", "replace")
    note = (parse_qs(raw).get("note") or [""])[0].strip()[:500] or None
    outcome = await svc.acknowledge_token(token, note)
    g = gettext_for(svc.notifier.config.site.language.value)
    if not outcome.ok:
        status = 410 if "used" in outcome.message else 503 if "not running" in outcome.message else 400
        return _page(svc, status, error=g(N_("This link cannot be used: {reason}.")).format(reason=outcome.message))
    return _page(svc, done=True, who=_who(svc, f"person:{outcome.by}" if outcome.by and ":" not in outcome.by
                                         else outcome.by or "?"))


class MaintenanceIn(BaseModel):
    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
    title: str
    starts_at: dt.datetime
    ends_at: dt.datetime
    services: list[str] = []
    places: list[str] = []
    rules: list[str] = []
    created_by: str | None = None


def _aware(t: dt.datetime, svc: NotifyService) -> dt.datetime:
    return (t.replace(tzinfo=svc.notifier.zone) if t.tzinfo is None else t).astimezone(dt.UTC)


@router.get("/api/notify/maintenance", dependencies=[Depends(scope_required(Scope.read))])
async def maintenance_list(ctx: RuntimeContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    """Maintenance windows: those of siaga.yaml and those made at run time."""
    svc = _service(ctx)
    runtime = await svc.db(list_maintenance)
    config = [{"id": w.id, "title": w.reason, "starts_at": w.start, "ends_at": w.end, "services": list(w.services),
               "places": list(w.places), "rules": list(w.rules), "source": "config"}
              for w in svc.notifier.config_windows]
    return config + [{**r, "source": "runtime"} for r in runtime]


@router.post("/api/notify/maintenance", status_code=201, dependencies=[Depends(scope_required(Scope.ack))])
async def maintenance_add(body: MaintenanceIn, ctx: RuntimeContext = Depends(get_ctx)) -> dict[str, str]:
    """Open a maintenance window: matching alerts are recorded, nobody is paged."""
    svc = _service(ctx)
    now = svc.clock()
    try:
        await svc.db(lambda c: add_maintenance(
            c, id=body.id, title=body.title, starts_at=_aware(body.starts_at, svc), ends_at=_aware(body.ends_at, svc),
            services=body.services, places=body.places, rules=body.rules, created_by=body.created_by, now=now))
    except RecordError as exc:
        raise HTTPException(409, str(exc)) from None
    svc.kick.set()
    return {"id": body.id}


@router.delete("/api/notify/maintenance/{window_id}", dependencies=[Depends(scope_required(Scope.ack))])
async def maintenance_end(window_id: str, ctx: RuntimeContext = Depends(get_ctx)) -> dict[str, str]:
    svc = _service(ctx)
    try:
        await svc.db(lambda c: end_maintenance(c, window_id))
    except RecordError as exc:
        raise HTTPException(404, str(exc)) from None
    return {"id": window_id, "ended": "yes"}


@router.get("/api/notify/alerts/{alert_id}/timeline", dependencies=[Depends(scope_required(Scope.read))])
async def alert_timeline(alert_id: RowId, ctx: RuntimeContext = Depends(get_ctx)) -> list[dict[str, Any]]:
    """Who was to be told about the alert, and every delivery attempt (channel, outcome, latency, error)."""
    svc = _service(ctx)
    entries = await svc.db(lambda c: timeline(c, alert_id))
    return [e.__dict__ for e in entries]



