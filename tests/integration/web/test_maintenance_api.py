"""/api/v1/maintenance: operators open and end windows; viewers only read (when notify is installed)."""

from __future__ import annotations

import importlib.util

import pytest
from fastapi.testclient import TestClient
from web_helpers import NOW, Ctx

from siaga.web.auth import accounts

pytestmark = pytest.mark.skipif(importlib.util.find_spec("siaga.notify.records") is None,
                                reason="the notification part is not installed")


def _h(site: Ctx, *scopes: str) -> dict[str, str]:
    with site.engine.begin() as conn:
        secret, _ = accounts.create_token(conn, "m", list(scopes), NOW, actor="test")
    return {"Authorization": f"Bearer {secret}"}


def test_an_operator_opens_and_ends_a_window(client: TestClient, site: Ctx) -> None:
    body = {"id": "atap-r1", "title": "Perbaikan atap di atas R1", "starts_at": "2026-07-16T09:00:00+08:00",
            "ends_at": "2026-07-16T12:00:00+08:00", "places": ["R1"]}
    assert client.post("/api/v1/maintenance", json=body, headers=_h(site, "read")).status_code == 403
    ops = _h(site, "read", "ack")
    made = client.post("/api/v1/maintenance", json=body, headers=ops)
    assert made.status_code == 201, made.text
    assert made.json()["created_by"] == "token:m"
    assert client.post("/api/v1/maintenance", json=body, headers=ops).status_code == 409
    listed = client.get("/api/v1/maintenance", headers=_h(site, "read")).json()
    assert any(w["id"] == "atap-r1" and w["source"] == "runtime" for w in listed)
    assert client.delete("/api/v1/maintenance/atap-r1", headers=ops).status_code == 200
    assert client.delete("/api/v1/maintenance/atap-r1", headers=ops).status_code == 404
    bad = dict(body, ends_at="2026-07-16T08:00:00+08:00")
    assert client.post("/api/v1/maintenance", json=bad, headers=ops).json()["error"]["code"] == "validation_failed"
