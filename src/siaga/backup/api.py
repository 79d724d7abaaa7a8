"""``GET /api/v1/backups`` (per-job figures for the dashboard) and ``GET /api/v1/backups/metrics`` (Prometheus
text); both need the ``read`` scope."""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import PlainTextResponse

from siaga.backup.status import job_figures, prometheus_lines
from siaga.runtime.context import RuntimeContext
from siaga.web.auth.roles import Scope
from siaga.web.deps import get_ctx
from siaga.web.errors import ERROR_RESPONSES
from siaga.web.security import scope_required

router = APIRouter(
    prefix="/api/v1", tags=["backups"], dependencies=[Depends(scope_required(Scope.read))], responses=ERROR_RESPONSES
)


@router.get(
    "/backups", summary="Every backup job: last success, duration, bytes added, snapshot age, last drill"
)
async def backups(ctx: RuntimeContext = Depends(get_ctx)) -> dict[str, Any]:
    now = ctx.clock()
    figures = await asyncio.to_thread(job_figures, ctx.config, ctx.engine, now)
    return {"at": now.isoformat(), "jobs": [f.as_dict() for f in figures]}


@router.get(
    "/backups/metrics", response_class=PlainTextResponse, summary="Backup figures in Prometheus text format"
)
async def backup_metrics(ctx: RuntimeContext = Depends(get_ctx)) -> str:
    figures = await asyncio.to_thread(job_figures, ctx.config, ctx.engine, ctx.clock())
    return "\n".join(prometheus_lines(figures)) + "\n"
