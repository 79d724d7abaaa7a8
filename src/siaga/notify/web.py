"""HTTP of notify: the one-tap acknowledgement pages.

Maintenance windows and an alert's notification attempts are served by the one API, ``/api/v1/maintenance``
and ``/api/v1/alerts/{id}/timeline`` (``siaga.web``); the old ``/api/notify/...`` paths redirect there
(``siaga.web.moved``).

``GET /ack/{token}`` only shows what the link would acknowledge and a button; ``POST`` acknowledges.
Link-preview bots (chat apps fetch links to show a preview) therefore never acknowledge anything.
"""

from __future__ import annotations

import functools
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

import jinja2
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select

from siaga.alerts.serialise import alert_from_json
from siaga.i18n.messages import Message, render
from siaga.notify.ack import TokenError
from siaga.notify.service import AckRefusal, NotifyService
from siaga.notify.tables import notify_alerts
from siaga.notify.texts import N_, gettext_for, ngettext_for
from siaga.runtime.context import RuntimeContext
from siaga.web.deps import get_ctx

router = APIRouter(tags=["notify"])

REFUSAL_STATUS: dict[AckRefusal | None, int] = {AckRefusal.used: 410, AckRefusal.not_running: 503}
"""The page's HTTP status when a link acknowledged nothing, by why; any other refusal is a 400."""


@functools.cache
def _env(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("siaga.notify", "templates"),
                             extensions=["jinja2.ext.i18n"], autoescape=True)
    env.install_gettext_callables(gettext_for(lang), ngettext_for(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


NOT_RUNNING = Message("ack_link.notify_not_running")


def _not_running(ctx: RuntimeContext) -> HTMLResponse:
    """No notify here (no channels configured): the link's page says so, in the site's language, as a 503."""
    lang = ctx.config.site.language.value
    reason = render(NOT_RUNNING, lang, ZoneInfo(ctx.config.site.timezone))
    return _page(lang, 503, error=gettext_for(lang)(N_("This link cannot be used: {reason}.")).format(reason=reason))


def _page(lang: str, status: int = 200, **ctx: Any) -> HTMLResponse:
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
    svc = ctx.services.notify
    if svc is None:
        return _not_running(ctx)
    lang = svc.notifier.config.site.language.value
    g = gettext_for(lang)
    try:
        claim = svc.check_token(token)
    except TokenError as exc:  # why, in the page's language
        reason = render(exc.why, lang, svc.notifier.renderer.zone)
        return _page(lang, 400, error=g(N_("This link cannot be used: {reason}.")).format(reason=reason))
    if await svc.token_spent(claim):
        return _page(lang, REFUSAL_STATUS[AckRefusal.used], error=g(N_("This link was used already.")))
    ids = list(claim.alert_ids)
    if claim.message_id is not None:
        row = await svc.message(claim.message_id)
        ids = [int(a) for a in row.alert_ids] if row is not None else []
    rows = await svc.db(lambda c: list(c.execute(select(notify_alerts.c.snapshot).where(
        notify_alerts.c.alert_id.in_(ids)))))
    views = [svc.notifier.renderer.view(alert_from_json(r.snapshot), lang) for r in rows]
    return _page(lang, alerts=views, who=_who(svc, claim.recipient.key))


@router.post("/ack/{token}", response_class=HTMLResponse, include_in_schema=False)
async def ack_confirm(token: str, request: Request, ctx: RuntimeContext = Depends(get_ctx)) -> HTMLResponse:
    svc = ctx.services.notify
    if svc is None:
        return _not_running(ctx)
    raw = (await request.body()).decode("utf-8", "replace")
    note = (parse_qs(raw).get("note") or [""])[0].strip()[:500] or None
    outcome = await svc.acknowledge_token(token, note)
    lang = svc.notifier.config.site.language.value
    g = gettext_for(lang)
    if outcome.refused is AckRefusal.used:
        return _page(lang, REFUSAL_STATUS[AckRefusal.used], error=g(N_("This link was used already.")))
    if not outcome.ok:
        # siaga's reason in the page's language
        reason = render(outcome.why, lang, svc.notifier.renderer.zone) if outcome.why else outcome.message
        return _page(lang, REFUSAL_STATUS.get(outcome.refused, 400),
                     error=g(N_("This link cannot be used: {reason}.")).format(reason=reason))
    return _page(lang, done=True, who=_who(svc, f"person:{outcome.by}" if outcome.by and ":" not in outcome.by
                                         else outcome.by or "?"))
