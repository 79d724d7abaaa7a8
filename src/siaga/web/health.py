"""``GET /healthz``: is siaga up, which version, can it reach its store, how are its components.

200 with ``status: ok`` when all is well; 503 with ``status: degraded`` and a list of ``reasons`` when
not: the store does not answer (``store.unreachable``), a component is restarting or could not start
(``component.restarting`` / ``component.failed``, with since, restarts and the last error), the store
refuses writes (``store.cannot_write``: since, error, writes waiting, the spool), pages were sent from
memory and are not recorded yet (``notify.pages_unrecorded``) or a page could not be sent
(``notify.send_failed``). Each reason is an object with a ``reason`` key and a ``message`` line where
it helps; the alerts hub and notify add theirs through ``problems()``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse
from sqlalchemy import Engine, text

from siaga import __version__
from siaga.runtime.context import RuntimeContext
from siaga.web.deps import get_ctx

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


def service_reasons(ctx: RuntimeContext) -> list[dict[str, Any]]:
    """The ``problems()`` of the alerts hub and notify: an alert or a page that could not be stored (kept in
    memory and the spool meanwhile) or a page that could not be sent."""
    out: list[dict[str, Any]] = []
    for service in (ctx.services.alerts, ctx.services.notify):
        if service is not None:
            out += [dict(p) for p in service.problems()]
    return out


@router.get("/healthz")
async def healthz(ctx: RuntimeContext = Depends(get_ctx)) -> JSONResponse:
    """200 with ``status: ok`` when the store answers and every component runs; else 503 and the reasons."""
    db = await asyncio.to_thread(_db_ok, ctx.engine)
    reasons: list[dict[str, Any]] = [] if db else [{"reason": "store.unreachable"}]
    reasons += component_reasons(ctx)
    reasons += service_reasons(ctx)
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
