"""``GET /healthz``: is siaga up, which version, can it reach its store, how are its components.

200 with ``status: ok`` when all is well; 503 with ``status: degraded`` and a list of ``reasons`` when
not: the store does not answer (``store.unreachable``), a component is restarting or could not start
(``component.restarting`` / ``component.failed``, with since, restarts and the last error). Each
reason is an object with a ``reason`` key; other parts of siaga may add their own kinds.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from siaga import __version__
from siaga.runtime.context import RuntimeContext
from siaga.web.app import get_ctx

router = APIRouter(tags=["health"])


def _db_ok(engine: Engine) -> bool:
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception:
        return False
    return True


def component_reasons(ctx: RuntimeContext) -> list[dict[str, Any]]:
    """One reason per degraded component: ``{"reason": "component.restarting", "component", "since", ...}``."""
    out: list[dict[str, Any]] = []
    for name, status in sorted(ctx.component_status.items()):
        if status.degraded:
            out.append({"reason": f"component.{status.state}", "component": name, **status.as_json()})
    return out


@router.get("/healthz")
async def healthz(ctx: RuntimeContext = Depends(get_ctx)) -> JSONResponse:
    """200 with ``status: ok`` when the store answers and every component runs; else 503 and the reasons."""
    db = await asyncio.to_thread(_db_ok, ctx.engine)
    reasons: list[dict[str, Any]] = [] if db else [{"reason": "store.unreachable"}]
    reasons += component_reasons(ctx)
    body: dict[str, Any] = {
        "status": "degraded" if reasons else "ok",
        "version": __version__,
        "site": ctx.config.site.name,
        "db": db,
        "session": ctx.session_id,
        "components": dict(ctx.component_states),
        "reasons": reasons,
    }
    return JSONResponse(body, status_code=503 if reasons else 200)
