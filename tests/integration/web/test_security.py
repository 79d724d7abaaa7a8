"""Security: roles, CSRF, slowed-down guessing, token scopes, and no secret ever shown."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from pathlib import Path
from typing import Literal

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import NOW, PASSWORD, Ctx, csrf_of, login
from web_standins import fire_alert

from siaga.config import load_config
from siaga.web.auth import accounts, passwords


def test_a_viewer_cannot_acknowledge(as_viewer: TestClient, site: Ctx) -> None:
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    token = csrf_of(as_viewer, f"/alerts/{alert_id}")
    assert 'data-action="ack"' not in as_viewer.get(f"/alerts/{alert_id}").text
    resp = as_viewer.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token})
    assert resp.status_code == 403
    page = as_viewer.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert "peran viewer tidak boleh melakukan ini (perlu cakupan ack)" in page.text, page.text  # in her language
    page = as_viewer.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token},
                          headers={"HX-Request": "true", "Accept-Language": "en"})
    assert "role viewer may not do this (needs ack)" in page.text, page.text
    resp = as_viewer.post(f"/api/v1/alerts/{alert_id}/ack", headers={"X-CSRF-Token": token, "Accept-Language": "id"})
    assert resp.status_code == 403 and resp.json()["error"]["code"] == "forbidden"
    assert resp.json()["error"]["message"] == "role viewer may not do this (needs ack)"  # the API speaks English


def test_a_form_without_the_csrf_token_is_refused(as_operator: TestClient, site: Ctx) -> None:
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    assert as_operator.post(f"/alerts/{alert_id}/ack", data={"note": "x"}).status_code == 403
    assert as_operator.post(f"/alerts/{alert_id}/ack", data={"csrf_token": "forged"}).status_code == 403
    page = as_operator.post(f"/alerts/{alert_id}/ack", data={"csrf_token": "forged"}, headers={"Accept-Language": "id"})
    assert "formulir ini tidak membawa token CSRF-nya atau sudah usang: muat ulang halaman" in page.text, page.text
    page = as_operator.post(f"/alerts/{alert_id}/ack", data={"csrf_token": "forged"},
                            headers={"Accept-Language": "en"})
    assert "the form is missing its CSRF token or it is stale: reload the page" in page.text, page.text
    with site.engine.connect() as conn:
        from web_standins import tables

        state = conn.execute(tables()[0].select().where(tables()[0].c.id == alert_id)).first()
    assert state is not None and state.state == "firing"


def test_login_form_without_its_csrf_cookie_is_refused(client: TestClient) -> None:
    resp = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": "x"})
    assert resp.status_code == 403
    for language, said in (("id", "formulir masuk sudah usang atau tidak dikirim oleh situs ini: muat ulang"),
                           ("en", "the login form is stale or was not sent by this site: reload it")):
        page = client.post("/login", data={"username": "admin", "password": PASSWORD, "csrf_token": "x"},
                           headers={"Accept-Language": language})
        assert page.status_code == 403 and said in page.text, page.text


def test_repeated_wrong_passwords_are_slowed(client: TestClient, site: Ctx) -> None:
    for _ in range(3):
        assert login(client, "admin", "wrong-password!").status_code == 401
    resp = login(client, "admin", PASSWORD)  # three failures earned a wait: even the right password waits
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) >= 1
    site.now = NOW + dt.timedelta(seconds=2)
    assert login(client, "admin", "wrong-password!").status_code == 401  # a 4th failure doubles the wait
    site.now = NOW + dt.timedelta(seconds=3)
    assert login(client, "admin", PASSWORD).status_code == 429
    site.now = NOW + dt.timedelta(seconds=5)
    assert login(client, "admin", PASSWORD).status_code == 303


def test_guessing_from_one_address_slows_other_accounts_too(client: TestClient, site: Ctx) -> None:
    for name in ("admin", "opera", "viewer", "nobody"):
        login(client, name, "wrong-password!")
    assert login(client, "viewer", PASSWORD).status_code == 429


def test_a_disabled_person_cannot_log_in(client: TestClient, site: Ctx) -> None:
    with site.engine.begin() as conn:
        accounts.set_disabled(conn, "viewer", True, NOW, actor="test")
    assert login(client, "viewer").status_code == 401


def test_no_secret_from_the_config_appears_anywhere(client: TestClient, site: Ctx, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    secret_file = tmp_path / "bot-token"
    secret_file.write_text("S3CRET-FROM-FILE-123\n")
    monkeypatch.setenv("SIAGA_NTFY_TOKEN", "S3CRET-FROM-ENV-456")
    monkeypatch.setenv("SIAGA_NAS_RESTIC_PASSWORD", "S3CRET-FROM-ENV-789")
    text = site.loaded.path.read_text()
    assert "/etc/siaga/secrets/telegram-bot-token" in text and "${SIAGA_NTFY_TOKEN}" in text
    site.loaded.path.write_text(text.replace("/etc/siaga/secrets/telegram-bot-token", str(secret_file)))
    site.loaded = load_config(site.loaded.path)
    assert login(client, "admin").status_code == 303
    with site.engine.begin() as conn:
        secret, _ = accounts.create_token(conn, "all", ["read", "ack", "admin"], NOW, actor="test")
    config_page = client.get("/config").text
    assert "${SIAGA_NTFY_TOKEN}" in config_page  # the reference is shown...
    assert str(secret_file) in config_page  # ...and the path, never what they hold
    pages = ["/", "/room", "/alerts", "/sensors", "/services", "/backups", "/runbooks", "/config", "/admin/users",
             "/admin/audit", "/fragments/rack/R1", "/incidents"]
    bodies = [client.get(p).text for p in pages]
    h = {"Authorization": f"Bearer {secret}"}
    apis = ["/api/v1/config", "/api/v1/site", "/api/v1/overview", "/api/v1/users", "/api/v1/tokens",
            "/api/v1/audit", "/api/v1/sensors", "/api/v1/racks/R1", "/metrics", "/api/v1/openapi.json"]
    bodies += [client.get(p, headers=h).text for p in apis]
    everything = "\n".join(bodies)
    for needle in ("S3CRET-FROM-FILE-123", "S3CRET-FROM-ENV-456", "S3CRET-FROM-ENV-789", secret, PASSWORD):
        assert needle not in everything, needle
    assert "$argon2id$" not in everything


def test_other_routers_can_require_a_scope(site: Ctx) -> None:
    from fastapi import APIRouter, Depends, FastAPI
    from fastapi.testclient import TestClient

    from siaga.web.auth.roles import Scope
    from siaga.web.dashboard import install
    from siaga.web.security import scope_required

    other = APIRouter()

    @other.post("/api/other/silence", dependencies=[Depends(scope_required(Scope.ack))])
    def silence() -> dict[str, str]:
        return {"done": "yes"}

    app = FastAPI()
    app.state.ctx = site
    install(app, site)
    app.include_router(other)
    with site.engine.begin() as conn:
        reader, _ = accounts.create_token(conn, "r", ["read"], NOW, actor="t")
        acker, _ = accounts.create_token(conn, "a", ["read", "ack"], NOW, actor="t")
    with TestClient(app) as c:
        assert c.post("/api/other/silence").status_code == 401
        assert c.post("/api/other/silence", headers={"Authorization": f"Bearer {reader}"}).status_code == 403
        assert c.post("/api/other/silence", headers={"Authorization": f"Bearer {acker}"}).json() == {"done": "yes"}


def test_nobody_silences_paging_without_the_ack_scope(site: Ctx) -> None:
    from fastapi.testclient import TestClient

    from siaga.runtime.context import RuntimeContext
    from siaga.web.app import create_app

    ctx = RuntimeContext(loaded=site.loaded, engine=site.engine, clock=site.clock)
    with site.engine.begin() as conn:
        reader, _ = accounts.create_token(conn, "r", ["read"], NOW, actor="t")
    window = {"id": "w1", "title": "x", "starts_at": "2026-07-16T09:00:00+08:00",
              "ends_at": "2026-07-16T10:00:00+08:00"}
    with TestClient(create_app(ctx)) as c:
        assert c.post("/api/v1/maintenance", json=window).status_code == 401
        assert c.delete("/api/v1/maintenance/w1").status_code == 401
        assert c.post("/api/v1/maintenance", json=window,
                      headers={"Authorization": f"Bearer {reader}"}).status_code == 403
        assert c.get("/api/v1/alerts/1/timeline").status_code == 401
        # The old paths of notify lead there, method and body kept (308).
        moved = c.post("/api/notify/maintenance", json=window, follow_redirects=False)
        assert moved.status_code == 308 and moved.headers["location"] == "/api/v1/maintenance"
        assert c.post("/api/notify/maintenance", json=window,
                      headers={"Authorization": f"Bearer {reader}"}).status_code == 403
        assert c.delete("/api/notify/maintenance/w1", follow_redirects=False).headers["location"] == (
            "/api/v1/maintenance/w1")


class _CountingHasher(PasswordHasher):
    """argon2 at its lowest cost, counting the passwords it verifies."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=64, parallelism=1)
        self.verified = 0

    def verify(self, hash: str | bytes, password: str | bytes) -> Literal[True]:
        self.verified += 1
        return super().verify(hash, password)


async def test_a_parallel_burst_of_wrong_passwords_is_checked_at_most_the_free_number(app: FastAPI) -> None:
    hasher = _CountingHasher()
    previous = passwords.set_hasher(hasher)
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as c:
            page = await c.get("/login")
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
            assert token is not None
            form = {"username": "admin", "password": "wrong-password!", "csrf_token": token.group(1), "next": "/"}
            answers = await asyncio.gather(*(c.post("/login", data=form) for _ in range(40)))
            statuses = [r.status_code for r in answers]
            assert statuses.count(401) == 3 and statuses.count(429) == 37, statuses
            assert hasher.verified == 3
            # Per account: from another address the account still waits, and nothing more is checked.
            other = httpx.ASGITransport(app=app, client=("10.9.9.9", 5000))
            async with httpx.AsyncClient(transport=other, base_url="http://testserver", cookies=c.cookies) as c2:
                assert (await c2.post("/login", data=form)).status_code == 429
            assert hasher.verified == 3
    finally:
        passwords.set_hasher(previous)


def test_every_answer_carries_the_strict_content_security_policy(whole_app: FastAPI) -> None:
    from siaga.web.dashboard import SECURITY_HEADERS

    policy = SECURITY_HEADERS["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy and "script-src 'self'" in policy
    with TestClient(whole_app) as c:
        for path in ("/login", "/status", "/api/v1/status", "/api/v1/alerts", "/nowhere", "/static/siaga/siaga.css"):
            resp = c.get(path, follow_redirects=False)
            for name, value in SECURITY_HEADERS.items():
                assert resp.headers.get(name) == value, (path, name)
            assert "strict-transport-security" not in resp.headers  # plain HTTP: no HSTS
        over_tls = c.get("/login", headers={"X-Forwarded-Proto": "https"})
        assert over_tls.headers["strict-transport-security"].startswith("max-age=")


def test_pages_have_no_inline_script_style_or_handler() -> None:
    """What the policy would block, found in the templates before a browser does."""
    src = Path(__file__).resolve().parents[3] / "src" / "siaga"
    pattern = re.compile(r"<script(?![^>]*\bsrc=)|<style|\sstyle=|\son[a-z]+=|hx-on|javascript:", re.IGNORECASE)
    served = [*src.glob("web/templates/*.html"), *src.glob("checks/templates/status/*.html"),
              src / "notify" / "templates" / "ack.html"]
    found = [f"{p.relative_to(src)}:{m.group(0)}" for p in served for m in pattern.finditer(p.read_text())]
    assert found == []
