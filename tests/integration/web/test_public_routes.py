"""Every route of the whole app asks for credentials, except the public ones docs/api.md lists on purpose.

Each route is asked once without credentials (path parameters filled in, no body); a 401 means it asks for
credentials, anything else that it answers the public. That set must equal the table "Public routes".
"""

from __future__ import annotations

import fnmatch
import re
from pathlib import Path

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from starlette.routing import Mount

API_DOC = Path(__file__).resolve().parents[3] / "docs" / "api.md"


def documented_public_routes() -> set[tuple[str, str]]:
    text = API_DOC.read_text(encoding="utf-8")
    section = text.split("\n## Public routes\n", 1)[1].split("\n## ", 1)[0]
    found = set()
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 3 or not re.fullmatch(r"[A-Z, ]+", cells[0]):
            continue
        for method in cells[0].split(","):
            for path in re.findall(r"`([^`]+)`", cells[1]):
                found.add((method.strip(), path))
    return found


def _filled(path: str) -> str:
    return re.sub(r"\{([^}:]+)(:[^}]*)?\}", lambda m: "1" if m.group(1).endswith("_id") else "x", path)


def test_only_the_documented_routes_answer_without_credentials(whole_app: FastAPI) -> None:
    documented = documented_public_routes()
    assert ("GET", "/healthz") in documented and ("POST", "/login") in documented
    public: set[tuple[str, str]] = set()
    asked = 0
    with TestClient(whole_app, headers={"Accept": "application/json"}) as c:
        for route in iter_route_contexts(whole_app.routes):
            if isinstance(route.original_route, Mount):  # static files
                pattern = next((p for m, p in documented if m == "GET" and fnmatch.fnmatch(route.path + "/x", p)),
                               None)
                public.add(("GET", pattern or route.path))
                continue
            for method in sorted(route.methods or ()):
                resp = c.request(method, _filled(route.path), follow_redirects=False)
                asked += 1
                assert resp.status_code != 500, (method, route.path, resp.text)
                if resp.status_code != 401:
                    public.add((method, route.path))
    assert asked > 80
    assert public == documented, (
        f"answer without credentials but are not listed in docs/api.md: {sorted(public - documented)}; "
        f"listed but ask for credentials or do not exist: {sorted(documented - public)}")


def test_moved_paths_redirect_to_their_api_v1_places(whole_app: FastAPI) -> None:
    with TestClient(whole_app) as c:
        resp = c.get("/api/impact/R1?lang=en", follow_redirects=False)
        assert resp.status_code == 308 and resp.headers["location"] == "/api/v1/impact/R1?lang=en"
        assert c.get("/api/inventory", follow_redirects=True).status_code == 401
        assert c.get("/api/backups/metrics", follow_redirects=False).headers["location"] == "/api/v1/backups/metrics"
