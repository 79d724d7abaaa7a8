"""Probes from both places, for real: a room siaga and a colocation siaga (``siaga serve`` each, in network
namespaces of their own, ``bench/peer_drills.py``'s network, both on SQLite) check the same nginx on the test's
bridge; both page the same webhook receiver. Used by ``tests/faults/test_peer_probes.py``; run by hand for the
three drills and their figures:

- ``both``: nginx stopped → down from both places → pages that say "Service down" (target: exactly 1, the room's);
- ``uplink``: nginx unreachable from the room only (a route in the room's namespace) while the colocation
  reaches it → "Room uplink down" pages (target 1) and "Service down" pages (target 0);
- ``takeover``: the room frozen (SIGSTOP: silent, no goodbye), then nginx stopped → the colocation pages the
  outage itself ("Service down (seen from the colocation)", target 1); the room thawed while nginx is still
  down → the room's own "Service down" pages (target 0: the colocation already paged it).

    python bench/peer_probes.py [--window 2]

Prints JSON: ``{"both": {...}, "uplink": {...}, "takeover": {...}}`` with page counts and seconds to the page.
Needs root (``ip netns``) and nginx.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime as dt
import json
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_drills import SECRET, Net, Site, Skip, ip, peers_yaml
from store_faults import Hook

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
SERVICE = "Portal Uji"
ROOM_NAME = "Ruang Uji"

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
    - {{id: bontang, name: {room_name}, role: watches, url: "{room_url}", secret_file: peer.secret,
       heartbeat_interval: {interval}s, silence_window: {window}s, health_poll: 1s,
       probes: [{check}]}}
"""


@dataclass
class Nginx:
    """Debian's nginx serving one page on ``addr:port`` (in the test's namespace)."""

    run: Path
    addr: str
    port: int
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{self.addr}:{self.port}/"

    def write(self) -> Nginx:
        (self.run / "www").mkdir(parents=True)
        (self.run / "www" / "index.html").write_text("portal ok\n")
        temps = "\n".join(f"  {k}_temp_path {self.run / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi",
                                                                        "scgi"))
        (self.run / "nginx.conf").write_text(
            f"user root;\nworker_processes 1;\npid {self.run / 'nginx.pid'};\nerror_log {self.run / 'error.log'};\n"
            f"events {{ worker_connections 64; }}\nhttp {{\n  access_log off;\n{temps}\n"
            f"  server {{ listen {self.addr}:{self.port}; root {self.run / 'www'}; location / {{ }} }}\n}}\n")
        return self

    def start(self) -> None:
        self.proc = subprocess.Popen([NGINX, "-c", str(self.run / "nginx.conf"), "-g", "daemon off;"],
                                     stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(self.url, timeout=1)
                return
            except urllib.error.HTTPError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise RuntimeError("nginx did not start") from None
                time.sleep(0.05)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ProbeSites:
    """The room, the colocation, nginx between them and the webhook both page."""

    work: Path
    heartbeat: float = 0.5
    window: float = 5.0
    net: Net = field(default_factory=Net)
    hook: Hook | None = None
    room: Site | None = None
    colo: Site | None = None
    nginx: Nginx | None = None

    @property
    def addr(self) -> str:
        return f"10.79.{self.net.subnet}.9"  # the service's address, on the test's bridge: both sites reach it

    def open(self) -> ProbeSites:
        if not Path(NGINX).exists():
            raise Skip("nginx is not installed (apt-get install nginx)")
        self.net.open()
        try:
            ip("addr", "add", f"{self.addr}/24", "dev", self.net.bridge)
            self.nginx = Nginx(self.work / "nginx", self.addr, free_port()).write()
            self.nginx.start()
            self.hook = Hook(host=self.net.hub_ip)
            room_dir, colo_dir = self.work / "room", self.work / "colo"
            for d in (room_dir, colo_dir):
                d.mkdir(parents=True)
                (d / "peer.secret").write_text(SECRET + "\n")
            self.room = Site(room_dir / "siaga.yaml", ns=self.net.room_ns, addr=self.net.room_ip)
            self.colo = Site(colo_dir / "siaga.yaml", ns=self.net.colo_ns, addr=self.net.colo_ip)
            check = CHECK.format(url=self.nginx.url)
            paging = PAGING.format(hook=self.hook.url)
            peers = peers_yaml("bontang", "colo", "watched_by", self.colo.url, name="Kolokasi Uji",
                               interval=self.heartbeat, window=self.window, poll=None)
            (room_dir / "siaga.yaml").write_text(ROOM.format(service=SERVICE, check=check, paging=paging, peers=peers))
            (colo_dir / "siaga.yaml").write_text(COLO.format(check=check, paging=paging, room_url=self.room.url,
                                                             room_name=ROOM_NAME, interval=self.heartbeat,
                                                             window=self.window))
            with concurrent.futures.ThreadPoolExecutor(2) as pool:
                list(pool.map(lambda s: s.start(), (self.room, self.colo)))
            self.until_up(15)
        except Exception:
            self.close()
            raise
        return self

    def close(self) -> None:
        for site in (self.room, self.colo):
            if site is not None and site.proc is not None:
                with contextlib.suppress(Exception):
                    site.proc.send_signal(signal.SIGCONT)  # a frozen room must hear its SIGTERM
                    site.stop()
        if self.nginx is not None:
            self.nginx.stop()
        if self.hook is not None:
            with contextlib.suppress(Exception):
                self.hook.close()
        self.net.close()

    # what the sites did -----------------------------------------------------------------------------------

    def pages(self, t0: float, title: str = "") -> list[dict[str, Any]]:
        """Pages (not notices) since ``t0`` whose title says ``title``."""
        assert self.hook is not None
        return [b for t, b in self.hook.pages("") if t > t0 and title in str(b.get("title"))]

    def wait(self, t0: float, title: str, timeout: float) -> tuple[float, list[dict[str, Any]]]:
        """Seconds from ``t0`` to the first page whose title says ``title``, and those pages."""
        assert self.hook is not None and self.room is not None and self.colo is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = [(t, b) for t, b in self.hook.pages("") if t > t0 and title in str(b.get("title"))]
            if got:
                return got[0][0] - t0, [b for _t, b in got]
            time.sleep(0.05)
        raise AssertionError(f"no page with {title!r}: {self.pages(t0)}\nroom: {self.room.tail()}\ncolo: "
                             f"{self.colo.tail()}")

    def peers(self, site: Site | None) -> list[dict[str, Any]]:
        """The peer rows as ``siaga peers --json`` shows them, read from ``site``'s store (kept every second)."""
        from siaga.config import load_config
        from siaga.peers.hub import META_PREFIX, stored_status
        from siaga.store import create_engine_for, database_url

        assert site is not None
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
        """Until both places see the portal up."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):
                rows = self.peers(self.colo)[0]["probes"]
                if rows and rows[0]["room"] == "up" and rows[0]["colocation"] == "up":
                    return
            time.sleep(0.1)
        raise AssertionError(f"the portal never came up at both places: {self.peers(self.colo)}")

    # what the drills do to them ---------------------------------------------------------------------------

    def block_room(self, blocked: bool) -> None:
        """The room's route to the service: unreachable (its uplink to it is gone), or back."""
        ip("route", "add" if blocked else "del", "unreachable", f"{self.addr}/32", ns=self.net.room_ns)

    def freeze_room(self, frozen: bool) -> None:
        """SIGSTOP / SIGCONT the room's siaga: silent without a goodbye, then back as it was."""
        assert self.room is not None and self.room.proc is not None
        self.room.proc.send_signal(signal.SIGSTOP if frozen else signal.SIGCONT)


def both(sites: ProbeSites, settle: float = 1.5) -> dict[str, Any]:
    """nginx stopped: one service-down page (the room's), then nginx back."""
    assert sites.nginx is not None
    t0 = time.monotonic()
    sites.nginx.stop()
    try:
        seconds, _ = sites.wait(t0, f"Service down — {SERVICE}", 20)
        time.sleep(settle)  # the colocation hears the room and its own probes agree: no second page
        out = {"page_s": round(seconds, 2), "service_down_pages": len(sites.pages(t0, "Service down")),
               "uplink_pages": len(sites.pages(t0, "uplink")), "probes_colo": sites.peers(sites.colo)[0]["probes"],
               "probes_room": sites.peers(sites.room)[0]["probes"]}
    finally:
        sites.nginx.start()
    sites.until_up()
    return out


def uplink(sites: ProbeSites, settle: float = 1.5, *, wait_up: bool = True) -> dict[str, Any]:
    """nginx unreachable from the room only: one "uplink down" page, no service-down page."""
    t0 = time.monotonic()
    sites.block_room(True)
    try:
        seconds, _ = sites.wait(t0, "Room uplink down", 20)
        time.sleep(settle)
        out = {"page_s": round(seconds, 2), "uplink_pages": len(sites.pages(t0, "Room uplink down")),
               "service_down_pages": len(sites.pages(t0, "Service down")),
               "probes_colo": sites.peers(sites.colo)[0]["probes"], "probes_room": sites.peers(sites.room)[0]["probes"]}
    finally:
        sites.block_room(False)
    if wait_up:
        sites.until_up()
    return out


def takeover(sites: ProbeSites, settle: float = 3.0) -> dict[str, Any]:
    """The room frozen, nginx stopped: the colocation pages the outage; the room thawed while it lasts pages none."""
    assert sites.nginx is not None
    t0 = time.monotonic()
    sites.freeze_room(True)
    sites.nginx.stop()
    try:
        seconds, _ = sites.wait(t0, "Service down (seen from the colocation)", sites.window + 20)
    finally:
        sites.freeze_room(False)
    t1 = time.monotonic()
    time.sleep(settle)  # the room hears the colocation again and confirms the outage itself: taken, not paged
    out = {"colo_page_s": round(seconds, 2),
           "colo_pages": len(sites.pages(t0, "Service down (seen from the colocation)")),
           "room_pages_after_thaw": len(sites.pages(t1, f"Service down — {SERVICE}")),
           "probes_room": sites.peers(sites.room)[0]["probes"]}
    sites.nginx.start()
    sites.until_up(20)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--window", type=float, default=2.0, help="silence window, s (the takeover waits for it)")
    ap.add_argument("--heartbeat", type=float, default=0.5, help="heartbeat interval, s")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="siaga-probes-") as tmp:
        sites = ProbeSites(Path(tmp), heartbeat=args.heartbeat, window=args.window)
        try:
            sites.open()
        except Skip as exc:
            raise SystemExit(f"peer_probes: {exc}") from None
        try:
            out = {"window_s": args.window, "heartbeat_s": args.heartbeat, "both": both(sites),
                   "uplink": uplink(sites), "takeover": takeover(sites)}
        finally:
            sites.close()
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
