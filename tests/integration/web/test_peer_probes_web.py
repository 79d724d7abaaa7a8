"""Probes from both places on the dashboard's peers card: each probed check's verdict per place."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

from fastapi.testclient import TestClient
from web_helpers import NOW, Ctx

from siaga.checks.agreement import ColoPlan
from siaga.checks.base import CheckResult
from siaga.config.peers import Peers
from siaga.peers.hub import PeerHub
from siaga.peers.probes import ProbeDesk


def test_the_peers_card_shows_each_places_verdict_and_the_uplink(as_viewer: TestClient, site: Ctx) -> None:
    peers = Peers.model_validate({"site_id": "colo", "sites": [
        {"id": "bontang", "name": "Ruang Server Diskominfo", "role": "watches", "url": "http://room:8470",
         "secret_file": "s", "probes": [{"id": "portal-http", "service": "portal", "type": "http",
                                         "url": "https://bontangkota.go.id"}]}]})
    hub = PeerHub(peers, {"bontang": b"x"}, now=NOW - dt.timedelta(minutes=5))
    hub.probes = desk = ProbeDesk(SimpleNamespace(services=site.services, clock=site.clock), hub)
    desk.rooms["bontang"].on_result(CheckResult("portal-http", "portal", NOW, True, 5.0, ""))
    hub.heard("bontang", {"checks": {"portal-http": "down"}}, NOW - dt.timedelta(seconds=2))
    desk.rooms["bontang"].plan = ColoPlan(NOW, ("portal-http",), {})  # as colo_plan leaves it
    site.services.peers = hub
    page = as_viewer.get("/").text
    assert "portal-http" in page
    assert "ruang mati · kolokasi hidup" in page and "uplink ruang server putus" in page
