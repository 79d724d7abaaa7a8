"""The colocation serves the room's public status page (``bench/peer_drills.py``'s two sites: the room on SQLite
and the colocation on PostgreSQL, each ``siaga serve`` in a network namespace of its own; the room's portal a
real nginx on the bridge; heartbeats every 1 s, silence window 3 s).

- while the room is heard: its page at ``/status/bontang`` and by its status host, the same states as the room's;
- the room's minute rollups reach the colocation, and its incident report there shows them;
- the room killed (-9): the page and the JSON say it is silent, since when, in Indonesian and English, never
  "all operational", the portal as the colocation's own probe sees it now; the colocation restarted
  meanwhile still says so (its peer state and the page reloaded), without paging the silence a second time.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

WINDOW = 3.0
HOST = "status.bontangkota.go.id"


def start_nginx(run: Path, addr: str, port: int) -> subprocess.Popen[bytes]:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    root = run / "www"
    root.mkdir(parents=True)
    (root / "index.html").write_text("portal ok\n")
    temps = "\n".join(f"  {k}_temp_path {run / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (run / "nginx.conf").write_text(
        f"user root;\nworker_processes 1;\npid {run / 'nginx.pid'};\nerror_log {run / 'error.log'};\n"
        f"events {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n{temps}\n"
        f"  server {{ listen {addr}:{port}; root {root}; location / {{ }} }}\n}}\n")
    return subprocess.Popen([nginx, "-c", str(run / "nginx.conf"), "-g", "daemon off;"])


@dataclass
class Sites:
    two: Any
    nginx: subprocess.Popen[bytes]

    def get(self, path: str, host: str | None = None) -> tuple[int, str]:
        assert self.two.colo is not None
        req = urllib.request.Request(self.two.colo.url + path, headers={"Host": host} if host else {})
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return int(r.status), r.read().decode()
        except urllib.error.HTTPError as exc:
            return int(exc.code), exc.read().decode()

    def status(self, lang: str = "id", host: str | None = None) -> dict[str, Any]:
        code, body = self.get(f"/api/v1/status/sites/bontang?lang={lang}" if host is None else
                              f"/api/v1/status?lang={lang}", host)
        assert code == 200, body
        return dict(json.loads(body))

    def wait(self, what: str, pred: Any, timeout: float) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < deadline:
            last = self.status()
            if pred(last):
                return last
            time.sleep(0.1)
        raise AssertionError(f"the colocation's page never showed {what}: {last}\n{self.two.colo.tail()}")


def configure(drills: ModuleType, two: Any, nginx_url: str) -> None:
    """The drill's two sites, the room with a public service (its portal on nginx) and a temperature sensor,
    the colocation naming the room's status host."""
    room_site = drills.ROOM_SITE.replace("sensors:\n", f"""readings: {{{{rollup_every: 0.3s}}}}
services: [{{{{id: portal, name: Portal Kota Bontang, group: Web, url: "{nginx_url}/"}}}}]
checks:
  - {{{{service: portal, type: http, url: "{nginx_url}/", keyword: portal, interval_s: 1}}}}
sensors:
  - {{{{id: suhu-r1, kind: temperature, rack: R1, source: {{{{type: http, gateway: gw}}}}}}}}
""")
    probes = f'[{{service: portal, type: http, url: "{nginx_url}/", keyword: portal, interval_s: 1}}]'
    two.room_site, two.colo_peers_extra = room_site, f", status_host: {HOST}, probes: {probes}"


@pytest.fixture(scope="module")
def sites(peer_drills: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    drills = peer_drills
    work = tmp_path_factory.mktemp("peerstatus")
    work.chmod(0o755)
    two = drills.TwoSites(work, interval=1.0, window=WINDOW, poll=1.0)
    nginx: subprocess.Popen[bytes] | None = None
    try:
        two.net.open()
    except drills.Skip as exc:
        pytest.skip(str(exc))
    try:
        from siaga.store.testserver import PostgresServer, pg_bindir

        with socket.socket() as probe:
            probe.bind((two.net.hub_ip, 0))
            port = int(probe.getsockname()[1])
        nginx = start_nginx(work / "nginx", two.net.hub_ip, port)
        bindir = pg_bindir()
        if bindir is None:
            pytest.skip("no PostgreSQL binaries")
        two.pg = PostgresServer(bindir).start()
        two.hook = drills.Hook(host=two.net.hub_ip)
        room_dir, colo_dir = work / "room", work / "colo"
        for d in (room_dir, colo_dir):
            d.mkdir(parents=True, exist_ok=True)
            (d / "peer.secret").write_text(drills.SECRET + "\n")
        (room_dir / "leak.token").write_text(drills.TOKEN + "\n")
        two.room = drills.Site(room_dir / "siaga.yaml", ns=two.net.room_ns, addr=two.net.room_ip)
        two.colo = drills.Site(colo_dir / "siaga.yaml", ns=two.net.colo_ns, addr=two.net.colo_ip)
        db = f"postgresql+psycopg://postgres@/postgres?host={two.pg.root}&port={two.pg.port}"
        nginx_url = f"http://{two.net.hub_ip}:{port}"
        configure(drills, two, nginx_url)
        (room_dir / "siaga.yaml").write_text(two.room_site.format(peers=drills.peers_yaml(
            "bontang", "colo", "watched_by", two.colo.url, name="Kolokasi Kaltim", interval=1.0, window=WINDOW,
            poll=None)))
        colo_peers = drills.peers_yaml("colo", "bontang", "watches", two.room.url, name="Ruang Server Diskominfo",
                                       interval=1.0, window=WINDOW, poll=1.0)
        colo_peers = colo_peers.replace("health_poll: 1.0s}", f"health_poll: 1.0s{two.colo_peers_extra}}}")
        (colo_dir / "siaga.yaml").write_text(drills.COLO_SITE.format(db=db, hook=two.hook.url, peers=colo_peers))
        two.room.start()
        two.colo.start()
        two.wait_heard()
        yield Sites(two, nginx)
    finally:
        two.close()
        if nginx is not None:
            nginx.terminate()
            nginx.wait(10)


def test_the_colocation_serves_the_rooms_page_by_path_and_by_its_status_host(sites: Sites) -> None:
    got = sites.wait("the portal up", lambda s: s["room"]["state"] == "live" and s["counts"]["up"] == 1, 10)
    assert (got["status"], got["summary"], got["site"]["id"]) == ("up", "operational", "bontang")
    assert got["groups"][0]["name"] == "Web" and got["room"]["notice"] is None
    code, html = sites.get("/status/bontang?lang=id")
    assert code == 200 and "Portal Kota Bontang" in html and "Ruang Server Diskominfo" in html
    assert "Semua layanan beroperasi" in html
    code, by_host = sites.get("/status?lang=id", host=HOST)
    assert code == 200 and "Portal Kota Bontang" in by_host
    assert sites.status(host=HOST)["site"]["id"] == "bontang"
    assert sites.get("/status/elsewhere")[0] == 404
    code, services = sites.get("/api/v1/status/sites/bontang/services")
    assert code == 200 and json.loads(services)["services"][0]["id"] == "portal"
    assert len(json.loads(services)["services"][0]["days"]) == 90


def test_the_rooms_minute_rollups_reach_the_colocation_and_its_incident_report(
        sites: Sites, peer_drills: ModuleType) -> None:
    from sqlalchemy import create_engine

    from siaga.peers.record import remote_incidents
    from siaga.peers.rollups import remote_minutes

    two = sites.two
    minute = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)).replace(second=0, microsecond=0)
    at = [(minute + dt.timedelta(seconds=10 * i)).isoformat() for i in range(4)]
    readings = [{"sensor": "suhu-r1", "value": v, "ts": t} for t, v in zip(at, (21.0, 23.0, 25.0), strict=False)]
    readings += [{"sensor": "leak-r1", "value": v, "ts": t} for t, v in zip(at, (0, 0, 0, 1), strict=True)]
    req = urllib.request.Request(f"{two.room.url}/api/v1/readings", method="POST",
                                 data=json.dumps({"readings": readings}).encode(),
                                 headers={"Authorization": f"Bearer {peer_drills.TOKEN}",
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200
    engine = create_engine(f"postgresql+psycopg://postgres@/postgres?host={two.pg.root}&port={two.pg.port}")
    try:
        deadline = time.monotonic() + 8
        got: list[Any] = []
        incidents: list[Any] = []
        while time.monotonic() < deadline and not (got and incidents):
            with engine.connect() as conn:
                got = remote_minutes(conn, "bontang", minute, minute + dt.timedelta(minutes=1))
                incidents = remote_incidents(conn, "bontang")
            time.sleep(0.2)
    finally:
        engine.dispose()
    assert got and incidents, two.room.tail()
    by = {m.sensor: (m.min, m.avg, m.max, m.count) for m in got}
    assert by == {"suhu-r1": (21.0, 23.0, 25.0, 3), "leak-r1": (0.0, 0.25, 1.0, 4)}  # water at the end
    report = two.siaga(two.colo, "report", "incident", "--site", "bontang", str(incidents[0].id), "--lang", "en")
    assert "Readings" in report and "leak-r1, minute by minute" in report  # the sensor of the incident's alert
    assert "0.25" in report


def test_the_room_killed_is_said_silent_on_its_page_in_both_languages_even_after_a_colocation_restart(
        sites: Sites) -> None:
    two = sites.two
    sites.wait("the portal up", lambda s: s["room"]["state"] == "live" and s["counts"]["up"] == 1, 10)
    t0 = time.monotonic()
    two.room.kill()
    got = sites.wait("the room silent", lambda s: s["summary"] == "room_silent", WINDOW + 3)
    assert time.monotonic() - t0 <= WINDOW + 1
    assert got["status"] == "unknown" and got["room"]["state"] == "silent" and got["room"]["since"]
    assert "diam sejak" in got["room"]["notice"] and "WITA" in got["room"]["notice"]
    assert "silent since" in sites.status("en")["room"]["notice"]
    assert sites.status(host=HOST)["summary"] == "room_silent"
    assert got["room"]["outside"] == {"portal": "up"}  # the colocation's own probe of the portal, now
    assert "Diperiksa dari luar barusan: Portal Kota Bontang." in got["room"]["notice"]
    for lang, says, never in (("id", "diam sejak", "Semua layanan beroperasi"),
                              ("en", "silent since", "All services are operational")):
        code, html = sites.get(f"/status/bontang?lang={lang}")
        assert code == 200 and says in html and never not in html and "Portal Kota Bontang" in html
    pages = len(two.hook.wait("Ruang Server Diskominfo", 1, timeout=5))
    assert pages >= 1  # (a delivery retried under load may arrive twice)
    deadline = time.monotonic() + 5  # the colocation keeps the alarm in its store at once
    while two.peer_row(two.colo, "bontang").get("status") != "silent" and time.monotonic() < deadline:
        time.sleep(0.1)
    # the colocation restarts while the room is dark: it still knows the room's page, state and alarm
    two.colo.kill()
    booted = time.monotonic()
    two.colo.start()
    again = sites.status()
    assert again["summary"] == "room_silent" and again["counts"]["up"] == 1, again
    time.sleep(max(0.0, booted + WINDOW + 1 - time.monotonic()))  # past the window a fresh start would page at
    assert sites.status()["summary"] == "room_silent"
    assert len(two.hook.pages("Ruang Server Diskominfo")) == pages  # not paged a second time
