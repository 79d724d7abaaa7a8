"""The FastAPI app of a running siaga; every feature's router is registered in :data:`ROUTERS`.

An entry is ``"module:attribute"`` naming an ``APIRouter`` or a factory ``(ctx) -> APIRouter | None``.
Handlers reach the runtime through the ``get_ctx`` dependency (``ctx: RuntimeContext = Depends(get_ctx)``).
Errors answer in one shape (``siaga.web.errors``): ``{"error": {"status": 404, "code": "not_found",
"message": "...", "details": ...}}``; raise ``siaga.web.errors.ApiError`` or ``fastapi.HTTPException`` and it
is shaped for you (a browser asking for a page gets a short HTML page instead).
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request

from siaga import __version__
from siaga.runtime.components import resolve
from siaga.runtime.context import RuntimeContext
from siaga.web.errors import install_error_handlers

# One line per feature.
ROUTERS: list[str] = [
    "siaga.web.health:router",
    "siaga.web.inventory_api:router",  # /api/v1/inventory, /api/v1/impact/{target}
    "siaga.web.dashboard:router",  # pages, /api/v1, /metrics
    "siaga.sources.http.push:router",  # POST /api/v1/readings
    "siaga.notify.web:router",  # /ack/{token}, /api/notify/...
    "siaga.checks.status.router:router",  # /status (public), /api/v1/status..., /ping/{id}
    "siaga.backup.api:router",  # /api/v1/backups, /api/v1/backups/metrics
    "siaga.web.moved:router",  # old paths redirected to their /api/v1 places for a release
]

# Functions ``(app, ctx) -> None`` that set up what is app-wide (error handlers, static files, the API's
# OpenAPI document); run after the routers are in. One line per feature.
APP_SETUP: list[str] = [
    "siaga.web.dashboard:setup",
]


def get_ctx(request: Request) -> RuntimeContext:
    """FastAPI dependency: the RuntimeContext of the app serving this request."""
    ctx = request.app.state.ctx
    assert isinstance(ctx, RuntimeContext)
    return ctx


def create_app(ctx: RuntimeContext, routers: list[str] | None = None) -> FastAPI:
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
        for entry in APP_SETUP:
            setup = resolve(entry)
            assert callable(setup), entry
            setup(app, ctx)
    return app
