"""Paths that moved under ``/api/v1`` (release 0.x): answered with a permanent redirect (308) for one release.

The redirect says only where the route now lives; the new route asks for credentials as every ``/api/v1``
route does. Drop an entry one release after its move (see CHANGELOG).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

# old path -> (new path, methods); FastAPI path templates, parameters keep their names. 308 keeps the
# method and the body, so a POST or DELETE lands on the new route as it was sent.
MOVED: dict[str, tuple[str, tuple[str, ...]]] = {
    "/api/inventory": ("/api/v1/inventory", ("GET",)),
    "/api/impact/{target}": ("/api/v1/impact/{target}", ("GET",)),
    "/api/backups": ("/api/v1/backups", ("GET",)),
    "/api/backups/metrics": ("/api/v1/backups/metrics", ("GET",)),
    "/api/openapi.json": ("/api/v1/openapi.json", ("GET",)),
    "/api/docs": ("/api/v1/docs", ("GET",)),
    "/api/notify/maintenance": ("/api/v1/maintenance", ("GET", "POST")),
    "/api/notify/maintenance/{window_id}": ("/api/v1/maintenance/{window_id}", ("DELETE",)),
    "/api/notify/alerts/{alert_id}/timeline": ("/api/v1/alerts/{alert_id}/timeline", ("GET",)),
}

router = APIRouter(include_in_schema=False)


def _redirect_to(new: str) -> Callable[[Request], Awaitable[RedirectResponse]]:
    async def redirect(request: Request) -> RedirectResponse:
        path = new.format(**{k: quote(str(v), safe="") for k, v in request.path_params.items()})
        query = f"?{request.url.query}" if request.url.query else ""
        return RedirectResponse(path + query, status_code=308)

    return redirect


for _old, (_new, _methods) in MOVED.items():
    for _method in _methods:
        router.add_api_route(_old, _redirect_to(_new), methods=[_method], name=f"moved:{_method}:{_old}")
