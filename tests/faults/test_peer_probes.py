"""Probes from both places, for real: a room siaga and a colocation siaga (``siaga serve`` each, in network
namespaces the test makes, heartbeats every 0.5 s) check the same nginx on the test's bridge; both page the
same webhook receiver.

- nginx stopped: down from both places → exactly one service-down page (the room's);
- nginx unreachable from the room only (a route in the room's namespace: its uplink to it is gone) while the
  colocation's probes pass → one "uplink down" page (the colocation's), no service-down page.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import datetime as dt
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

pytestmark = [pytest.mark.integration]

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HEARTBEAT, WINDOW = 0.5, 5.0  # no test waits for a silence: a long window keeps a loaded machine from one
SERVICE = "Portal Uji"

CHECK = ("{{id: portal-http, service: portal, type: http, url: \"{url}\", interval_s: 1, retry_interval_s: 0.3, "
         "timeout_s: 1, confirm: {{failures: 2, successes: 1}}}}")

PAGING = """
people: [{{id: andi, name: Andi, contacts: {{hook: ""}}}}]
notification:
  channels: {{hook: {{type: webhook, url: "{hook}"}}}}
  storm: {{group_window: 0s, rate_per_minute: 600}}
  delivery: {{attempts: 3, backoff: 0.2s, backoff_max: 1s, timeout: 2s}}
escalation:
  - id: semua
    match: {{severity_at_least: info}}
    steps: [{{people: [andi], channels: [hook]}}]
"""

ROOM = """
site: {{name: Diskominfo Uji, timezone: Asia/Makassar, language: en}}
store: {{data_dir: data}}
services: [{{id: portal, name: "{service}", criticality: high}}]
checks: [{check}]
{paging}
{peers}"""

COLO = """
site: {{name: Kolokasi Uji, timezone: Asia/Makassar, language: en}}
store: {{data_dir: data}}
{paging}
peers:
  site_id: colo
  sites:
    - {{id: bontang, name: Ruang Uji, role: watches, url: "{room_url}", secret_file: peer.secret,
       heartbeat_interval: {interval}s, silence_window: {window}s, health_poll: 1s,
       probes: [{check}]}}
"""


@dataclass
class Nginx:
    conf: Path
    proc: subprocess.Popen[bytes] | None = None

    def start(self, url: str) -> None:
        self.proc = subprocess.Popen([NGINX, "-c", str(self.conf), "-g", "daemon off;"], stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("nginx did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


@dataclass
class World:
    drills: ModuleType
    net: Any
    hook: Any
    room: Any
    colo: Any
    nginx: Nginx
    url: str
    addr: str

    def pages(self, t0: float, title: str = "") -> list[dict[str, Any]]:
        """Pages (not notices) since ``t0`` whose title says ``title``."""
        return [b for t, b in self.hook.pages("") if t > t0 and title in str(b.get("title"))]

    def wait(self, t0: float, text: str, timeout: float) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [b for b in self.pages(t0) if text in f"{b.get('title')}\n{b.get('message')}"]
            if got:
                return got
            time.sleep(0.05)
        raise AssertionError(f"no page with {text!r}: {self.pages(t0)}\nroom: {self.room.tail()}\ncolo: "
                             f"{self.colo.tail()}")

    def peers(self, site: Any) -> list[dict[str, Any]]:
        """The peer rows as ``siaga peers --json`` shows them, read from ``site``'s store (kept every second)."""
        from siaga.config import load_config
        from siaga.peers.hub import META_PREFIX, stored_status
        from siaga.store import create_engine_for, database_url

        loaded = load_config(site.config)
        engine = create_engine_for(database_url(loaded))
        try:
            with engine.connect() as conn:
                stored = {p.id: conn.exec_driver_sql("SELECT value FROM meta WHERE key = ?", (META_PREFIX + p.id,)
                                                     ).scalar() for p in loaded.config.peers.sites}
        finally:
            engine.dispose()
        return stored_status(loaded.config.peers, stored, dt.datetime.now(dt.UTC))

    def until_up(self, timeout: float = 10) -> None:
        """Until both places see the portal up again."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            rows = self.peers(self.colo)[0]["probes"]
            if rows and rows[0]["room"] == "up" and rows[0]["colocation"] == "up":
                return
            time.sleep(0.1)
        raise AssertionError(f"the portal never came up at both places: {self.peers(self.colo)}")


@pytest.fixture(scope="module")
def world(peer_drills: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    drills = peer_drills
    if not Path(NGINX).exists():
        pytest.skip("nginx is not installed (apt-get install nginx)")
    work = tmp_path_factory.mktemp("probes")
    net = drills.Net()
    try:
        net.open()
    except drills.Skip as exc:
        pytest.skip(str(exc))
    hook = room = colo = nginx = None
    try:
        addr = f"10.79.{net.subnet}.9"  # the service's address, on the test's bridge: both sites reach it
        drills.ip("addr", "add", f"{addr}/24", "dev", net.bridge)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        url = f"http://{addr}:{port}/"
        run = work / "nginx"
        (run / "www").mkdir(parents=True)
        (run / "www" / "index.html").write_text("portal ok\n")
        temps = "\n".join(f"  {k}_temp_path {run / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        (run / "nginx.conf").write_text(
            f"user root;\nworker_processes 1;\npid {run / 'nginx.pid'};\nerror_log {run / 'error.log'};\n"
            f"events {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n{temps}\n"
            f"  server {{ listen {addr}:{port}; root {run / 'www'}; location / {{ }} }}\n}}\n")
        nginx = Nginx(run / "nginx.conf")
        nginx.start(url)
        hook = drills.Hook(host=net.hub_ip)
        room_dir, colo_dir = work / "room", work / "colo"
        for d in (room_dir, colo_dir):
            d.mkdir()
            (d / "peer.secret").write_text(drills.SECRET + "\n")
        room = drills.Site(room_dir / "siaga.yaml", ns=net.room_ns, addr=net.room_ip)
        colo = drills.Site(colo_dir / "siaga.yaml", ns=net.colo_ns, addr=net.colo_ip)
        check = CHECK.format(url=url)
        paging = PAGING.format(hook=hook.url)
        peers = drills.peers_yaml("bontang", "colo", "watched_by", colo.url, name="Kolokasi Uji", interval=HEARTBEAT,
                                  window=WINDOW, poll=None)
        (room_dir / "siaga.yaml").write_text(ROOM.format(service=SERVICE, check=check, paging=paging, peers=peers))
        (colo_dir / "siaga.yaml").write_text(COLO.format(check=check, paging=paging, room_url=room.url,
                                                         interval=HEARTBEAT, window=WINDOW))
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda s: s.start(), (room, colo)))
        w = World(drills, net, hook, room, colo, nginx, url, addr)
        w.until_up(15)
        yield w
    finally:
        for site in (room, colo):
            if site is not None:
                with contextlib.suppress(Exception):
                    site.stop()
        if nginx is not None:
            nginx.stop()
        if hook is not None:
            hook.close()
        net.close()


def test_a_service_down_from_both_places_is_paged_once(world: World) -> None:
    t0 = time.monotonic()
    world.nginx.stop()
    try:
        got = world.wait(t0, f"Service down — {SERVICE}", 20)
        time.sleep(2 * HEARTBEAT + 0.5)  # the colocation hears the room and its own probes agree: no second page
        pages = world.pages(t0, "Service down")  # the room's, or the colocation's "(seen from the colocation)"
        assert pages == got, world.pages(t0)
        assert not world.pages(t0, "uplink"), world.pages(t0)
        [row] = world.peers(world.colo)
        assert [(p["check"], p["room"], p["colocation"]) for p in row["probes"]] == [("portal-http", "down", "down")]
        [row] = world.peers(world.room)
        assert [(p["room"], p["colocation"], p["call"]) for p in row["probes"]] == [("down", "down", "down")]
    finally:
        world.nginx.start(world.url)
    world.until_up()


def test_down_only_from_the_room_while_the_colocation_reaches_it_is_the_uplink_not_an_outage(world: World) -> None:
    t0 = time.monotonic()
    world.drills.ip("route", "add", "unreachable", f"{world.addr}/32", ns=world.net.room_ns)
    try:
        got = world.wait(t0, "Room uplink down", 20)
        time.sleep(2 * HEARTBEAT + 0.5)
        assert world.pages(t0, "Room uplink down") == got and not world.pages(t0, "Service down"), world.pages(t0)
        [row] = world.peers(world.colo)
        assert [(p["room"], p["colocation"], p["uplink"]) for p in row["probes"]] == [("down", "up", True)]
        [row] = world.peers(world.room)
        assert [(p["room"], p["colocation"], p["call"]) for p in row["probes"]] == [("down", "up", "disputed")]
    finally:
        world.drills.ip("route", "del", "unreachable", f"{world.addr}/32", ns=world.net.room_ns)
