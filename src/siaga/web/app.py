"""The FastAPI app of a running siaga; every feature's router is registered in :data:`ROUTERS`.

An entry is an ``APIRouter`` or a factory ``(ctx) -> APIRouter | None`` (imported above: a reader follows
it); ``create_app(ctx, routers=[...])`` also takes ``"module:attribute"`` strings (tests, plug-ins).
Handlers reach the runtime through the ``get_ctx`` dependency (``ctx: RuntimeContext = Depends(get_ctx)``).
Errors answer in one shape (``siaga.web.errors``): ``{"error": {"status": 404, "code": "not_found",
"message": "...", "details": ...}}``; raise ``siaga.web.errors.ApiError`` or ``fastapi.HTTPException`` and it
is shaped for you (a browser asking for a page gets a short HTML page instead).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter, FastAPI

from siaga import __version__
from siaga.backup import api as backup_api
from siaga.checks.status import router as status_page
from siaga.notify import web as notify_web
from siaga.peers import ack_web, record_web, status_web
from siaga.peers import web as peers_web
from siaga.runbooks import web as runbooks_web
from siaga.runtime.components import resolve
from siaga.runtime.context import RuntimeContext
from siaga.sources.http import push
from siaga.web import dashboard, health, inventory_api, moved
from siaga.web.deps import get_ctx
from siaga.web.errors import install_error_handlers

RouterEntry = APIRouter | Callable[[RuntimeContext], APIRouter | None]
"""A router, or a factory ``(ctx) -> APIRouter | None`` (None: that part has nothing to serve here)."""

# One line per feature.
ROUTERS: list[RouterEntry | str] = [
    health.router,
    inventory_api.router,  # /api/v1/inventory, /api/v1/impact/{target}
    dashboard.router,  # pages, /api/v1, /metrics
    push.router,  # POST /api/v1/readings
    notify_web.router,  # /ack/{token}
    status_page.router,  # /status (public), /api/v1/status..., /ping/{id}
    backup_api.router,  # /api/v1/backups, /api/v1/backups/metrics
    peers_web.router,  # POST /api/v1/peers/heartbeat (signed by a peer), GET /api/v1/peers
    record_web.router,  # POST /api/v1/peer/records (signed by a watched room)
    ack_web.router,  # POST /api/v1/peers/{site}/alerts/{alert_id}/ack: a room's alert acknowledged here
    status_web.router,  # /status/{room}, /api/v1/status/sites/{room}: the rooms' pages; POST /api/v1/peer/status
    runbooks_web.router,  # /runbooks/approve/{token}: one-tap approval of an approve runbook
    moved.router,  # old paths redirected to their /api/v1 places for a release
]

# Functions ``(app, ctx) -> None`` that set up what is app-wide (error handlers, static files, the API's
# OpenAPI document); run after the routers are in. One line per feature.
APP_SETUP: tuple[Callable[[FastAPI, RuntimeContext], None], ...] = (
    dashboard.setup,
    status_web.setup,  # a room's status_host answered with its page
)

__all__ = ["APP_SETUP", "ROUTERS", "RouterEntry", "create_app", "get_ctx"]


def create_app(ctx: RuntimeContext, routers: Sequence[RouterEntry | str] | None = None) -> FastAPI:
    """The app with every registered router; ``ctx`` is on ``app.state.ctx``."""
    # One API document: /api/v1/openapi.json (siaga.web.api_v1), browsable at /api/v1/docs; FastAPI's own
    # document and docs pages (which load their scripts from a CDN) are off.
    app = FastAPI(title="siaga", version=__version__, docs_url=None, redoc_url=None, openapi_url=None)
    app.state.ctx = ctx
    install_error_handlers(app)
    for entry in ROUTERS if routers is None else routers:
        target = resolve(entry)
        router = target if isinstance(target, APIRouter) else target(ctx) if callable(target) else None
        if router is not None:
            app.include_router(router)
    if routers is None:
        for setup in APP_SETUP:
            setup(app, ctx)
    return app
