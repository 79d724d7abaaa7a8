"""A real ``siaga serve``: readings pushed over HTTP, pages to a webhook receiver, an acknowledgement
through the API while the storm window holds a page: that page never leaves after the acknowledgement."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from siaga.alerts.tables import alerts
from siaga.notify.tables import notify_items, notify_messages
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.web.auth.accounts import create_token

from .peers import Receiver, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]


def config(port: int, hook: str) -> str:
    return f"""
site: {{name: Diskominfo Uji, timezone: Asia/Makassar, language: id}}
store: {{data_dir: state}}
web: {{public_url: "http://127.0.0.1:{port}"}}
rooms: [{{id: ruang-server, name: Ruang Server}}]
racks: [{{id: R1, room: ruang-server}}]
people:
  - {{id: andi, name: Andi Pratama, contacts: {{hook: ""}}}}
sensors:
  - {{id: leak-r1-ceiling, kind: leak, rack: R1, zone: ceiling-above, source: {{type: http, gateway: gw}}}}
  - {{id: leak-r1-floor, kind: leak, rack: R1, zone: floor, source: {{type: http, gateway: gw}}}}
http_push: {{gateways: [{{id: gw, token_file: gw.token}}]}}
notification:
  channels: {{hook: {{type: webhook, url: "{hook}"}}}}
  storm: {{group_window: 20s, rate_per_minute: 30}}
escalation:
  - id: all
    match: {{severity_at_least: info}}
    steps: [{{people: [andi], channels: [hook]}}]
"""


def wait_for(what, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what.__doc__ or what}")


def test_a_page_held_by_the_window_never_leaves_after_an_acknowledgement(tmp_path: Path) -> None:
    receiver = Receiver().start()
    port = free_port()
    (tmp_path / "siaga.yaml").write_text(config(port, f"{receiver.url}/hook"))
    (tmp_path / "gw.token").write_text("rack-gateway-token\n")
    (tmp_path / "state").mkdir()
    db = create_engine_for(sqlite_url(tmp_path / "state" / "siaga.db"))
    upgrade(db)
    with db.begin() as conn:
        token, _ = create_token(conn, "piket", "read,ack", dt.datetime.now(dt.UTC), actor=None)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "siaga", "serve", "--config", str(tmp_path / "siaga.yaml"), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    base = f"http://127.0.0.1:{port}"
    push = {"Authorization": "Bearer rack-gateway-token"}

    def alert_id(subject: str) -> int | None:
        with db.connect() as conn:
            return conn.execute(select(alerts.c.id).where(alerts.c.subject == subject)).scalar()

    def item_of(alert: int, kind: str) -> str | None:
        """Where the item stands; once folded into a message, where that message stands."""
        with db.connect() as conn:
            row = conn.execute(select(notify_items.c.status, notify_messages.c.status.label("sending")).outerjoin(
                notify_messages, notify_messages.c.id == notify_items.c.message_id).where(
                notify_items.c.alert_id == alert, notify_items.c.kind == kind)).first()
        if row is None:
            return None
        return str(row.sending) if row.status == "batched" and row.sending != "pending" else str(row.status)

    try:
        def up() -> bool:
            assert proc.poll() is None, proc.communicate()[1]
            with contextlib.suppress(httpx.TransportError):
                return httpx.get(f"{base}/healthz", timeout=1).json()["components"].get("notify") == "running"
            return False

        wait_for(up)
        httpx.post(f"{base}/api/v1/readings", headers=push, json={"sensor": "leak-r1-ceiling", "value": 1},
                   timeout=5).raise_for_status()
        wait_for(lambda: receiver.requests)  # the first leak pages andi at once
        httpx.post(f"{base}/api/v1/readings", headers=push, json={"sensor": "leak-r1-floor", "value": 1},
                   timeout=5).raise_for_status()
        floor = wait_for(lambda: alert_id("leak-r1-floor"))
        wait_for(lambda: item_of(floor, "page") == "queued")  # same incident: the 20 s window holds its page
        r = httpx.post(f"{base}/api/v1/alerts/{floor}/ack", headers={"Authorization": f"Bearer {token}"},
                       json={"note": "sedang ke ruang server"}, timeout=5)
        assert r.status_code == 200, r.text
        wait_for(lambda: item_of(floor, "page") in ("withheld", "sent", "failed"))
        assert item_of(floor, "page") == "withheld"  # held, then withheld: it can never leave now
        notice = wait_for(lambda: [q for q in receiver.requests if q.body.get("siaga_kind") == "acknowledged"])
        pages_of_floor = [q for q in receiver.requests
                          if q.body.get("siaga_kind") == "page" and str(floor) in str(q.body.get("siaga_alerts"))]
        assert pages_of_floor == [], "a page about the acknowledged alert left after all"
        assert notice and "Diakui" in notice[0].body["title"]
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
        if proc.poll() is None:
            proc.kill()
        receiver.stop()
        db.dispose()
