"""A real ``siaga serve`` (sensing, checks, notify, web): a leak on R1 pages, then the portal that runs on
R1 stops answering. The portal is told once as a follow-up naming its cause, never paged on its own, and
the decision is on its timeline (API and ``siaga notify timeline``)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from siaga.alerts.tables import alerts

from .peers import Receiver, free_port
from .served import ROOT, serve, site, wait_for

pytestmark = pytest.mark.integration


class Portal:
    """The portal's web server; ``stop()`` is nginx stopping."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                body = b"<h1>Portal Kota Bontang</h1>"
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def config(port: int, hook: str, portal: int) -> str:
    return site(port, hook, f"""
devices:
  - {{id: srv-web-1, kind: server, rack: R1, value: 900000000}}
  - {{id: srv-web-2, kind: server, rack: R1, value: 1000000000}}
services:
  - {{id: portal, name: Portal bontangkota.go.id, criticality: vital, runs_on: [srv-web-1, srv-web-2]}}
checks:
  - {{service: portal, type: http, url: "http://127.0.0.1:{portal}/", interval_s: 1, retry_interval_s: 0.2,
     timeout_s: 1}}
sensors:
  - {{id: leak-r1-ceiling, kind: leak, rack: R1, zone: ceiling-above, source: {{type: http, gateway: gw}}}}
""")


def test_a_service_down_under_a_paging_leak_is_one_follow_up_naming_it_and_its_cause(tmp_path: Path) -> None:
    receiver, portal = Receiver().start(), Portal()
    try:
        with serve(tmp_path, lambda port: config(port, f"{receiver.url}/hook", portal.port), running="checks") as siaga:
            wait_for(lambda: siaga.api("GET", "/api/v1/status").json()["summary"] == "operational")
            siaga.push("leak-r1-ceiling", 1)
            wait_for(lambda: receiver.requests)  # the leak pages andi
            portal.stop()  # nginx stops
            followups = wait_for(lambda: [q.body for q in receiver.requests if q.body.get("siaga_kind") == "followup"])
            title = followups[0]["title"]
            assert "Portal bontangkota.go.id kini mati juga — penyebab yang mungkin: kebocoran air di Rak R1" in title
            with siaga.db.connect() as conn:
                row = conn.execute(select(alerts.c.id, alerts.c.impact).where(alerts.c.subject == "portal")).one()
            assert row.impact["devices"] == ["srv-web-1", "srv-web-2"] and row.impact["value_at_risk"] == 1_900_000_000
            events = siaga.api("GET", f"/api/v1/alerts/{row.id}/timeline").json()
            assert [e["kind"] for e in events].count("notify_folded") == 1, events
            env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
            cli = subprocess.run([sys.executable, "-m", "siaga", "notify", "timeline", str(row.id), "--config",
                                  str(siaga.config)], capture_output=True, text=True, env=env, timeout=60)
            assert cli.returncode == 0, cli.stderr
            # the decision and the follow-up, worded in the site's language (Bahasa Indonesia)
            assert "digabung ke insiden penyebabnya" in cli.stdout and "pesan lanjutan" in cli.stdout, cli.stdout
            assert "folded into" not in cli.stdout and "notify_folded" not in cli.stdout, cli.stdout
            kinds = [q.body.get("siaga_kind") for q in receiver.requests]
            portal_pages = [q for q in receiver.requests if q.body.get("siaga_kind") == "page"
                            and str(row.id) in str(q.body.get("siaga_alerts"))]
            assert kinds.count("followup") == 1 and portal_pages == [], kinds
    finally:
        receiver.stop()
