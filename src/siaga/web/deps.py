"""FastAPI dependencies every router may use: ``get_ctx`` (the RuntimeContext of the app serving the
request). Apart from ``siaga.web.app`` so that the app can import the routers it lists and the routers
this, without a cycle."""

from __future__ import annotations

from fastapi import Request

from siaga.runtime.context import RuntimeContext


def get_ctx(request: Request) -> RuntimeContext:
    """FastAPI dependency: the RuntimeContext of the app serving this request."""
    ctx = request.app.state.ctx
    assert isinstance(ctx, RuntimeContext)
    return ctx
