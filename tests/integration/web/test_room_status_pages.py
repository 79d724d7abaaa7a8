"""The colocation's pages of a watched room through the real app: a signed (gzipped) page taken, forged or
broken ones refused; the page by path and by the room's status host; the colocation's word on the room."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import sys
import time
from pathlib import Path

from fastapi.testclient import TestClient
from web_helpers import NOW, Ctx

from siaga.config import load_config
from siaga.peers.hub import PeerHub
from siaga.peers.signing import sign
from siaga.peers.status import document
from siaga.peers.status_feed import STATUS_PATH
from siaga.runtime import RuntimeContext
from siaga.web.app import create_app

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "unit" / "peers"))
from test_room_status import snap  # the same page the unit tests use

SECRET = "b" * 64
ROOM = """
peers:
  site_id: colo
  sites:
    - {id: bontang, name: Ruang Server Diskominfo, role: watches, url: "http://127.0.0.1:9", secret_file: peer.secret,
       heartbeat_interval: 1s, silence_window: 3s, status_host: status.bontangkota.go.id}
"""


def colocation(site: Ctx) -> tuple[TestClient, PeerHub]:
    base = site.loaded.base_dir
    (base / "peer.secret").write_text(SECRET + "\n", encoding="utf-8")
    (base / "colo.yaml").write_text((base / "siaga.yaml").read_text(encoding="utf-8") + ROOM, encoding="utf-8")
    loaded = load_config(base / "colo.yaml")
    ctx = RuntimeContext(loaded=loaded, engine=site.engine, clock=lambda: NOW)
    hub = PeerHub(loaded.config.peers, {"bontang": SECRET.encode()}, now=NOW - dt.timedelta(seconds=2))
    hub.heard("bontang", {}, NOW - dt.timedelta(seconds=1))
    ctx.services.peers = hub
    app = create_app(ctx, routers=["siaga.peers.status_web:router"])
    from siaga.peers.status_web import setup

    setup(app, ctx)
    return TestClient(app), hub


def post(c: TestClient, body: bytes, *, secret: str = SECRET, gz: bool = True) -> int:
    sent = gzip.compress(body) if gz else body
    headers = sign(secret.encode(), method="POST", path=STATUS_PATH, body=sent, sender="bontang", now=time.time())
    headers["Content-Type"] = "application/json"
    if gz:
        headers["Content-Encoding"] = "gzip"
    return c.post(STATUS_PATH, content=sent, headers=headers).status_code


def test_a_signed_page_is_served_by_path_and_host_and_says_when_the_room_is_silent(site: Ctx) -> None:
    c, hub = colocation(site)
    assert c.get("/api/v1/status/sites/bontang").json()["summary"] == "room_no_page"
    doc = json.dumps(document(snap(), site="bontang", name="Diskominfo", language="id")).encode()
    assert post(c, doc, secret="not-the-secret") == 401
    assert post(c, b'{"version": 1}') == 400
    assert post(c, doc) == 200
    live = c.get("/api/v1/status/sites/bontang?lang=en").json()
    assert (live["summary"], live["room"]["state"], live["counts"]["down"]) == ("outage", "live", 1)
    page = c.get("/status/bontang").text
    assert "Portal Kota" in page and "Ruang Server Diskominfo" in page and 'href="/status/bontang?lang=' in page
    by_host = c.get("/status", headers={"Host": "status.bontangkota.go.id"})
    assert by_host.status_code == 200 and by_host.text == page
    assert c.get("/", headers={"Host": "status.bontangkota.go.id"}).text == page
    assert c.get("/api/v1/status", headers={"Host": "STATUS.bontangkota.go.id:443"}).json()["site"]["id"] == "bontang"
    assert c.get("/status/other").status_code == 404
    hub.assess(NOW + dt.timedelta(seconds=5))  # nothing heard for longer than the window: silent
    silent = c.get("/api/v1/status/sites/bontang").json()
    assert (silent["status"], silent["summary"]) == ("unknown", "room_silent")
    assert "diam sejak 16-07-2026 08:59 WITA" in silent["room"]["notice"]
    now_page = c.get("/status/bontang?lang=en").text
    assert "has been silent since 16-07-2026 08:59 WITA" in now_page and now_page != page
