"""``GET /api/v1/backups`` (per-job figures for the dashboard; why the last run failed worded in the reader's
language) and ``GET /api/v1/backups/metrics`` (Prometheus text); both need the ``read`` scope."""

from __future__ import annotations

import asyncio
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import PlainTextResponse

from siaga.backup.status import job_figures, prometheus_lines
from siaga.i18n import LANGUAGES
from siaga.i18n.messages import note_text
from siaga.runtime.context import RuntimeContext
from siaga.web.auth.roles import Scope
from siaga.web.deps import get_ctx
from siaga.web.errors import ERROR_RESPONSES
from siaga.web.i18n import accept_language
from siaga.web.security import scope_required

router = APIRouter(
    prefix="/api/v1", tags=["backups"], dependencies=[Depends(scope_required(Scope.read))], responses=ERROR_RESPONSES
)


@router.get(
    "/backups", summary="Every backup job: last success, duration, bytes added, snapshot age, last drill"
)
async def backups(request: Request, ctx: RuntimeContext = Depends(get_ctx)) -> dict[str, Any]:
    now = ctx.clock()
    figures = await asyncio.to_thread(job_figures, ctx.config, ctx.engine, now)
    lang, zone = reader_language(request, ctx), ZoneInfo(ctx.config.site.timezone)
    jobs = [{**f.as_dict(), "last_error": note_text(f.last_error, lang, zone)} for f in figures]
    return {"at": now.isoformat(), "jobs": jobs}


def reader_language(request: Request, ctx: RuntimeContext) -> str:
    """The account's language, else Accept-Language, else the site's."""
    chosen = getattr(getattr(request.state, "principal", None), "language", None)
    if chosen in LANGUAGES:
        return str(chosen)
    return accept_language(request.headers.get("accept-language")) or ctx.config.site.language.value


@router.get(
    "/backups/metrics", response_class=PlainTextResponse, summary="Backup figures in Prometheus text format"
)
async def backup_metrics(ctx: RuntimeContext = Depends(get_ctx)) -> str:
    figures = await asyncio.to_thread(job_figures, ctx.config, ctx.engine, ctx.clock())
    return "\n".join(prometheus_lines(figures)) + "\n"
