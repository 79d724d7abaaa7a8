"""HTTP of runbooks: the landing page of a one-tap approval link.

Each link is signed for the person it was sent to (:mod:`siaga.runbooks.approval`), so the page says who
approves and asks for no name. ``GET /runbooks/approve/{token}`` shows the runbook's plan, the approver and an
Approve button: it changes nothing, so link-preview bots approve nothing. ``POST`` approves as that person: the
link must be signed by this siaga and unexpired; each person's approval is spent once, whatever the way (a
replay, or the link after the Telegram button, does nothing); the run starts once ``approvals`` different
people approved, and only once. A group's link approves nobody here (its members use their own link or
Telegram). The page has no inline script or style (CSP-clean).
"""

from __future__ import annotations

import html
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends
from fastapi.responses import HTMLResponse

from siaga.config.runbooks import Runbook
from siaga.i18n import _, using_language
from siaga.i18n.messages import Message, render
from siaga.inventory import Inventory, TargetError
from siaga.notify.ack import TokenError
from siaga.notify.component import key_path
from siaga.notify.keyfile import load_or_create_key
from siaga.runbooks.approval import GROUP_LINK, NO_SUCH_PERSON, NO_SUCH_RUNBOOK, USED, ApprovalClaim, verify_approval
from siaga.runbooks.component import approve
from siaga.runbooks.messages import plan_lines
from siaga.runbooks.plan import plan
from siaga.runtime.context import RuntimeContext
from siaga.web.deps import get_ctx

router = APIRouter(tags=["runbooks"])


def _page(ctx: RuntimeContext, body: str, status: int = 200) -> HTMLResponse:
    lang = ctx.config.site.language.value
    text = (f'<!doctype html>\n<html lang="{lang}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">'
            f'<title>siaga</title><link rel="stylesheet" href="/static/siaga/ack.css"></head>'
            f"<body><h1>siaga</h1>{body}</body></html>\n")
    return HTMLResponse(text, status_code=status, headers={"Cache-Control": "no-store"})


def _error(ctx: RuntimeContext, reason: Message, status: int) -> HTMLResponse:
    lang = ctx.config.site.language.value  # the page's language, the reason's too
    with using_language(lang):
        line = _("This link cannot be used: {reason}.").format(
            reason=render(reason, lang, ZoneInfo(ctx.config.site.timezone)))
    return _page(ctx, f'<p class="error">{html.escape(line)}</p>', status)


def _claim(ctx: RuntimeContext, token: str) -> tuple[ApprovalClaim, Runbook, str] | Message:
    """The link's claim, its runbook and the name of the person it was signed for; else why it cannot be used."""
    try:
        claim = verify_approval(load_or_create_key(key_path(ctx)), token, ctx.clock())
    except TokenError as exc:
        return exc.why
    book = ctx.config.runbooks.book(claim.runbook)
    if book is None:
        return NO_SUCH_RUNBOOK
    if claim.person is None:
        return GROUP_LINK
    name = next((p.name for p in ctx.config.people if p.id == claim.person), None)
    if name is None:
        return NO_SUCH_PERSON
    return claim, book, name


@router.get("/runbooks/approve/{token}", response_class=HTMLResponse, include_in_schema=False)
async def approve_page(token: str, ctx: RuntimeContext = Depends(get_ctx)) -> HTMLResponse:
    found = _claim(ctx, token)
    if isinstance(found, Message):
        return _error(ctx, found, 400)
    _claimed, book, name = found
    with using_language(ctx.config.site.language.value):
        try:
            lines = plan_lines(plan(book, ctx.services.inventory or Inventory.from_config(ctx.config),
                                    ctx.config.runbooks, ctx.clock()))
        except TargetError as exc:
            lines = [str(exc)]
        ask = _("Approve runbook {id}? It runs once {count} people approved.").format(id=book.id,
                                                                                    count=book.approvals)
        you = _("You approve as {name}.").format(name=name)
        body = (f"<p>{html.escape(ask)}</p>"
                f"<pre>{html.escape(chr(10).join(lines))}</pre>"
                f'<form method="post"><p>{html.escape(you)}</p>'
                f'<button type="submit">{html.escape(_("Approve"))}</button></form>')
    return _page(ctx, body)


@router.post("/runbooks/approve/{token}", response_class=HTMLResponse, include_in_schema=False)
async def approve_post(token: str, ctx: RuntimeContext = Depends(get_ctx)) -> HTMLResponse:
    found = _claim(ctx, token)
    if isinstance(found, Message):
        return _error(ctx, found, 400)
    done = await approve(ctx, token, via="link")  # as the person the link was signed for; a form's fields count not
    if done.refused is not None:
        return _error(ctx, done.refused, 410 if done.refused == USED else 400)
    with using_language(ctx.config.site.language.value):
        line = (_("Approved by {name}: runbook {id} runs now.") if done.started
                else _("Approved by {name}: {count} of {needed} approvals.")).format(
                    name=done.name, id=done.runbook, count=done.count, needed=done.needed)
    return _page(ctx, f"<p>{html.escape(line)}</p>")


__all__ = ["router"]
