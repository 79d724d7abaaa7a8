"""``GET /healthz``: is siaga up, which version, can it reach its store, how are its components."""

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


@router.get("/healthz")
async def healthz(ctx: RuntimeContext = Depends(get_ctx)) -> JSONResponse:
    """200 with ``status: ok`` when the store answers, 503 with ``status: degraded`` when not."""
    db = await asyncio.to_thread(_db_ok, ctx.engine)
    body: dict[str, Any] = {
        "status": "ok" if db else "degraded",
        "version": __version__,
        "site": ctx.config.site.name,
        "db": db,
        "session": ctx.session_id,
        "components": dict(ctx.component_states),
    }
    return JSONResponse(body, status_code=200 if db else 503)
