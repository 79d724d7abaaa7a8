"""The peers on the dashboard's overview and in ``GET /api/v1/peers``, from the running hub."""

from __future__ import annotations

import datetime as dt

from fastapi.testclient import TestClient
from web_helpers import NOW, Ctx

from siaga.config.peers import Peers
from siaga.peers.hub import PeerHub


def hub(site: Ctx) -> PeerHub:
    peers = Peers.model_validate({"site_id": "colo", "sites": [
        {"id": "bontang", "name": "Ruang Server Diskominfo", "role": "watches", "url": "http://room:8470",
         "secret_file": "s"},
        {"id": "samarinda", "name": "Ruang Server Samarinda", "role": "watches", "url": "http://sm:8470",
         "secret_file": "s"}]})
    h = PeerHub(peers, {"bontang": b"x", "samarinda": b"y"}, now=NOW - dt.timedelta(minutes=5))
    h.heard("bontang", {"alerts": [{"rule": "leak", "subject": "leak-r1"}], "services_down": []},
            NOW - dt.timedelta(seconds=4))
    h.assess(site.clock())
    site.services.peers = h
    return h


def test_the_overview_shows_each_watched_room_heard_or_silent(as_viewer: TestClient, site: Ctx) -> None:
    hub(site)
    page = as_viewer.get("/").text
    assert 'id="peers"' in page
    assert "Ruang Server Diskominfo" in page and "terdengar" in page
    assert "Ruang Server Samarinda" in page and "DIAM" in page  # never heard for 5 minutes: silent


def test_the_api_lists_the_peers_for_a_reader_and_refuses_an_unsigned_heartbeat(site: Ctx) -> None:
    from siaga.runtime import RuntimeContext
    from siaga.web.app import create_app
    from siaga.web.auth import accounts
    from siaga.web.dashboard import Dashboard

    ctx = RuntimeContext(loaded=site.loaded, engine=site.engine, clock=site.clock)
    ctx.services.peers = hub(site)
    with site.engine.begin() as conn:
        token, _record = accounts.create_token(conn, "t", ["read"], NOW, actor="test")
    ctx.services.dashboard = Dashboard(ctx)
    app = create_app(ctx, routers=["siaga.peers.web:router", "siaga.web.dashboard:router"])
    with TestClient(app) as client:
        got = client.get("/api/v1/peers", headers={"Authorization": f"Bearer {token}"})
        assert got.status_code == 200, got.text
        rows = {r["peer"]: r for r in got.json()}
        assert client.get("/api/v1/peers").status_code == 401
        refused = client.post("/api/v1/peers/heartbeat", json={"kind": "heartbeat", "summary": {}})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "peer_signature"
    assert rows["bontang"]["status"] == "up" and rows["bontang"]["open_alerts"] == 1
    assert rows["samarinda"]["status"] == "silent"
    assert site.services.peers is not None and site.services.peers.verifier.refused[("", "missing")] == 1


def test_a_siaga_without_peers_shows_no_card(as_viewer: TestClient, site: Ctx) -> None:
    assert 'id="peers"' not in as_viewer.get("/").text
