"""``/api/v1/inventory`` and ``/api/v1/impact/{target}`` on the Bontang example (a token with the read scope)."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from siaga.config import load_config
from siaga.inventory import Inventory
from siaga.runtime import RuntimeContext
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.store.types import utcnow
from siaga.web.app import create_app
from siaga.web.auth import accounts
from siaga.web.dashboard import dashboard_of

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "bontang.yaml"


@pytest.fixture
def client(tmp_path: Path):
    ctx = RuntimeContext(loaded=load_config(EXAMPLE), engine=create_engine_for(sqlite_url(tmp_path / "t.db")))
    upgrade(ctx.engine)
    dashboard_of(ctx)  # accounts: the routes need the read scope
    with ctx.engine.begin() as conn:
        secret, _ = accounts.create_token(conn, "reader", ["read"], utcnow(), actor="test")
    app = create_app(ctx, routers=["siaga.web.inventory_api:router"])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://siaga.test",
                             headers={"Authorization": f"Bearer {secret}"})


async def test_impact_of_r1(client):
    async with client:
        r = await client.get("/api/v1/impact/R1")
    assert r.status_code == 200
    data = r.json()
    assert data["value_at_risk_text"] == "Rp5,54 miliar"
    assert any(s["id"] == "simpeg" and s["chain"][:2] == ["simpeg", "db-utama"] for s in data["services"])
    assert {"srv-web-1", "srv-db-2"} <= {d["id"] for d in data["devices"]}


async def test_impact_in_english(client):
    async with client:
        r = await client.get("/api/v1/impact/R1", params={"lang": "en"})
    assert r.json()["value_at_risk_text"] == "Rp5,535,000,000"


async def test_unknown_target_is_404_in_the_one_error_shape(client):
    async with client:
        r = await client.get("/api/v1/impact/R9", params={"lang": "en"})
    assert r.status_code == 404
    message = r.json()["error"]["message"]
    assert "'R9'" in message and "did you mean" in message


async def test_unknown_target_message_follows_the_site_language(client):
    async with client:
        r = await client.get("/api/v1/impact/R9")
    assert "mungkin maksud Anda" in r.json()["error"]["message"]


async def test_bad_language_is_422(client):
    async with client:
        r = await client.get("/api/v1/impact/R1", params={"lang": "fr"})
        assert r.status_code == 422 and r.json()["error"]["code"] == "validation_failed"
        assert (await client.get("/api/v1/impact/R1", params={"lang": "en_US"})).status_code == 200


async def test_inventory_tree(client):
    async with client:
        r = await client.get("/api/v1/inventory")
    data = r.json()
    assert data["site"] == "Diskominfo Kota Bontang"
    assert data["value"] == sum(d.value for d in Inventory.from_config(load_config(EXAMPLE).config).devices.values())
    assert data["value_text"] == "Rp9,18 miliar"
    assert [r["id"] for r in data["rooms"][0]["racks"]] == ["R1", "R2", "R3", "R4"]


async def test_values_and_models_need_credentials(client):
    async with client:
        del client.headers["Authorization"]
        assert (await client.get("/api/v1/inventory")).status_code == 401
        assert (await client.get("/api/v1/impact/R1")).status_code == 401
