"""Paths that moved under ``/api/v1`` (release 0.x): answered with a permanent redirect (308) for one release.

The redirect says only where the route now lives; the new route asks for credentials as every ``/api/v1``
route does. Drop an entry one release after its move (see CHANGELOG).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

# old path -> new path (FastAPI path templates; parameters keep their names)
MOVED: dict[str, str] = {
    "/api/inventory": "/api/v1/inventory",
    "/api/impact/{target}": "/api/v1/impact/{target}",
    "/api/backups": "/api/v1/backups",
    "/api/backups/metrics": "/api/v1/backups/metrics",
    "/api/openapi.json": "/api/v1/openapi.json",
    "/api/docs": "/api/v1/docs",
}

router = APIRouter(include_in_schema=False)


def _redirect_to(new: str) -> Callable[[Request], Awaitable[RedirectResponse]]:
    async def redirect(request: Request) -> RedirectResponse:
        path = new.format(**{k: quote(str(v), safe="") for k, v in request.path_params.items()})
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(path + query, status_code=308)

    return redirect


for _old, _new in MOVED.items():
    router.add_api_route(_old, _redirect_to(_new), methods=["GET"], name=f"moved:{_old}")
