"""Two sites for real: a room siaga and a colocation siaga, each ``siaga serve`` in a network namespace of its
own, joined by veth pairs to a bridge in the test's namespace, where a real webhook receiver is the
colocation's channel. The room keeps SQLite; the colocation PostgreSQL (``siaga.store.testserver``, reached
through its Unix socket, which every namespace sees).

    test namespace: bridge 10.79.N.1 (the webhook)
      ├── veth ── room namespace   10.79.N.2  siaga serve (SQLite)      peer colo, role watched_by
      └── veth ── colo namespace   10.79.N.3  siaga serve (PostgreSQL)  peer bontang, role watches

Used by ``tests/faults/test_peer_silence.py`` and ``bench/peer_failover.py``. Needs root (``ip netns``);
:class:`Skip` says why when it cannot run.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import secrets
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from store_faults import TOKEN, Hook, Serve

ROOT = Path(__file__).resolve().parents[1]
SECRET = secrets.token_hex(32)


class Skip(Exception):
    """The drill cannot run here (not root, no ``ip netns``, no PostgreSQL): its reason."""


def ip(*args: str, ns: str | None = None) -> None:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {done.stderr.strip()}")


@dataclass
class Net:
    """Two namespaces on a bridge of the test's namespace; removed by :meth:`close`."""

    tag: str = field(default_factory=lambda: secrets.token_hex(3))
    subnet: int = field(default_factory=lambda: random.randint(10, 250))

    def __post_init__(self) -> None:
        self.bridge = f"sgb{self.tag}"
        self.room_ns, self.colo_ns = f"sg-room-{self.tag}", f"sg-colo-{self.tag}"
        self.room_link, self.colo_link = f"sgr{self.tag}", f"sgc{self.tag}"
        self.hub_ip, self.room_ip, self.colo_ip = (f"10.79.{self.subnet}.{i}" for i in (1, 2, 3))

    def open(self) -> Net:
        os.environ["SIAGA_LOOPBACK_ALSO"] = "10.79.0.0/16"  # loopback-only mode (tests) allows our own namespaces
        if os.geteuid() != 0:
            raise Skip("network namespaces need root (ip netns add)")
        if shutil.which("ip") is None:
            raise Skip("the ip command (iproute2) is not installed")
        try:
            ip("netns", "add", self.room_ns)
        except RuntimeError as exc:
            raise Skip(f"ip netns is not permitted here: {exc}") from None
        try:
            ip("netns", "add", self.colo_ns)
            ip("link", "add", self.bridge, "type", "bridge")
            ip("addr", "add", f"{self.hub_ip}/24", "dev", self.bridge)
            ip("link", "set", self.bridge, "up")
            for link, ns, addr in ((self.room_link, self.room_ns, self.room_ip),
                                   (self.colo_link, self.colo_ns, self.colo_ip)):
                ip("link", "add", link, "type", "veth", "peer", "name", "eth0", "netns", ns)
                ip("link", "set", link, "master", self.bridge)
                ip("link", "set", link, "up")
                ip("addr", "add", f"{addr}/24", "dev", "eth0", ns=ns)
                ip("link", "set", "eth0", "up", ns=ns)
                ip("link", "set", "lo", "up", ns=ns)
        except Exception:
            self.close()
            raise
        return self

    def cut_room(self) -> None:
        """The room's uplink goes down (its veth, on the bridge side)."""
        ip("link", "set", self.room_link, "down")

    def restore_room(self) -> None:
        ip("link", "set", self.room_link, "up")

    def close(self) -> None:
        os.environ.pop("SIAGA_LOOPBACK_ALSO", None)
        for args in (("link", "del", self.room_link), ("link", "del", self.colo_link), ("link", "del", self.bridge),
                     ("netns", "del", self.room_ns), ("netns", "del", self.colo_ns)):
            with contextlib.suppress(RuntimeError, subprocess.SubprocessError):
                ip(*args)


def peers_yaml(site_id: str, peer_id: str, role: str, url: str, *, name: str, interval: float, window: float,
               poll: float | None) -> str:
    poll_text = "null" if poll is None else f"{poll}s"
    return f"""
peers:
  site_id: {site_id}
  sites:
    - {{id: {peer_id}, name: "{name}", role: {role}, url: "{url}", secret_file: peer.secret,
       heartbeat_interval: {interval}s, silence_window: {window}s, health_poll: {poll_text}}}
"""


ROOM_SITE = """
site: {{name: Diskominfo Kota Bontang, timezone: Asia/Makassar, language: id}}
store: {{data_dir: data}}
rooms: [{{id: ruang, name: Ruang Server}}]
racks: [{{id: R1, room: ruang, name: Rak 1}}]
sensors:
  - {{id: leak-r1, kind: leak, rack: R1, zone: floor, source: {{type: http, gateway: gw}}}}
http_push:
  gateways: [{{id: gw, token_file: leak.token}}]
{peers}"""

COLO_SITE = """
site: {{name: Kolokasi Kaltim, timezone: Asia/Makassar, language: id}}
store: {{data_dir: data, database_url: "{db}"}}
people:
  - {{id: andi, name: Andi, contacts: {{hook: ""}}}}
notification:
  channels:
    hook: {{type: webhook, url: "{hook}"}}
  storm: {{group_window: 0s, rate_per_minute: 600}}  # trials in quick succession: not the storm limit's 6/min
  delivery: {{attempts: 3, backoff: 0.2s, backoff_max: 1s, timeout: 2s}}
escalation:
  - id: bontang
    match: {{severity_at_least: info, subjects: [bontang]}}
    steps:
      - {{people: [andi], channels: [hook]}}
{peers}"""



@dataclass
class Site(Serve):
    """One ``siaga serve`` in a namespace (``config``: its siaga.yaml); ``stop`` (SIGTERM) and ``push`` are
    ``Serve``'s."""

    ns: str = ""
    addr: str = ""
    token: str | None = None

    @property
    def work(self) -> Path:
        return self.config.parent

    def command(self) -> list[str]:
        return ["ip", "netns", "exec", self.ns, sys.executable, "-m", "siaga", "serve", "--config", str(self.config),
                "--host", "0.0.0.0", "--port", str(self.port), "--log-format", "text"]

    def ready(self, code: int, body: dict[str, Any]) -> bool:
        return bool(body.get("components", {}).get("peers") == "running")

    @property
    def url(self) -> str:
        return f"http://{self.addr}:{self.port}"

    def kill(self) -> None:
        """kill -9: no goodbye."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)


@dataclass
class TwoSites:
    """The room, the colocation, the network between them and the colocation's webhook."""

    work: Path
    interval: float = 1.0
    window: float = 3.0
    poll: float | None = 1.0
    net: Net = field(default_factory=Net)
    pg: Any = None
    hook: Hook | None = None
    room: Site | None = None
    colo: Site | None = None

    def open(self) -> TwoSites:
        from siaga.store.testserver import PostgresServer, pg_bindir

        bindir = pg_bindir()
        if bindir is None:
            raise Skip("no PostgreSQL binaries (apt-get install postgresql)")
        self.net.open()
        try:
            self.pg = PostgresServer(bindir).start()
            self.hook = Hook(host=self.net.hub_ip)
            room_dir, colo_dir = self.work / "room", self.work / "colo"
            for d in (room_dir, colo_dir):
                d.mkdir(parents=True, exist_ok=True)
                (d / "peer.secret").write_text(SECRET + "\n")
            (room_dir / "leak.token").write_text(TOKEN + "\n")
            self.room = Site(room_dir / "siaga.yaml", ns=self.net.room_ns, addr=self.net.room_ip)
            self.colo = Site(colo_dir / "siaga.yaml", ns=self.net.colo_ns, addr=self.net.colo_ip)
            db = f"postgresql+psycopg://postgres@/postgres?host={self.pg.root}&port={self.pg.port}"
            (room_dir / "siaga.yaml").write_text(ROOM_SITE.format(peers=peers_yaml(
                "bontang", "colo", "watched_by", self.colo.url, name="Kolokasi Kaltim", interval=self.interval,
                window=self.window, poll=None)))
            (colo_dir / "siaga.yaml").write_text(COLO_SITE.format(db=db, hook=self.hook.url, peers=peers_yaml(
                "colo", "bontang", "watches", self.room.url, name="Ruang Server Diskominfo", interval=self.interval,
                window=self.window, poll=self.poll)))
            self.room.start()  # the room first: the colocation's window starts with it
            self.colo.start()
        except Exception:
            self.close()
            raise
        return self

    def wait_heard(self, timeout: float = 15) -> None:
        """Until the colocation has heard the room (and the room the colocation)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.peer_row(self.colo, "bontang").get("status") == "up" and \
                    self.peer_row(self.room, "colo").get("status") == "up":
                return
            time.sleep(0.1)
        raise AssertionError(f"the sites never heard each other: {self.colo.tail() if self.colo else ''}")

    def peer_row(self, site: Site | None, peer: str) -> dict[str, Any]:
        """The peer's row as ``siaga peers --json`` shows it, read straight from ``site``'s store."""
        from siaga.config import load_config
        from siaga.peers.hub import META_PREFIX, stored_status
        from siaga.store import create_engine_for, database_url

        assert site is not None
        loaded = load_config(site.work / "siaga.yaml")
        engine = create_engine_for(database_url(loaded))
        try:
            with engine.connect() as conn:
                raw = conn.exec_driver_sql("SELECT value FROM meta WHERE key = '" + META_PREFIX + peer + "'").scalar()
        except Exception:
            raw = None
        finally:
            engine.dispose()
        rows = stored_status(loaded.config.peers, {peer: raw}, dt.datetime.now(dt.UTC))
        return next((r for r in rows if r["peer"] == peer), {})

    def siaga(self, site: Site | None, *args: str) -> str:
        """``siaga <args> --config <site's config>`` from the test's namespace; its output."""
        assert site is not None
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        done = subprocess.run([sys.executable, "-m", "siaga", *args, "--config", str(site.work / "siaga.yaml")],
                              capture_output=True, text=True, env=env, timeout=30, check=True)
        return done.stdout

    def metrics(self, site: Site | None) -> str:
        """``/metrics`` of ``site`` (a read token made for it once)."""
        import urllib.request

        assert site is not None
        if site.token is None:
            site.token = self.siaga(site, "token", "create", "drill").strip().splitlines()[-1]
        req = urllib.request.Request(f"{site.url}/metrics", headers={"Authorization": f"Bearer {site.token}"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return str(r.read().decode())

    def restart_room(self) -> None:
        assert self.room is not None
        if self.room.proc is not None and self.room.proc.poll() is None:
            self.room.stop()
        self.room.start()
        self.wait_heard()

    def room_alerts(self, rule: str) -> list[tuple[str, str]]:
        """(state, severity) of the room's alerts of ``rule``, read from its SQLite store."""
        assert self.room is not None
        with contextlib.closing(sqlite3.connect(self.room.work / "data" / "siaga.db")) as db:
            return [(str(s), str(v)) for s, v in db.execute(
                "SELECT state, severity FROM alerts WHERE rule = ?", (rule,))]

    def close(self) -> None:
        for site in (self.room, self.colo):
            if site is not None:
                with contextlib.suppress(Exception):
                    site.stop()
        if self.hook is not None:
            with contextlib.suppress(Exception):
                self.hook.close()
        if self.pg is not None:
            self.pg.remove()
        self.net.close()


@contextlib.contextmanager
def two_sites(work: Path, **kw: Any) -> Iterator[TwoSites]:
    sites = TwoSites(work, **kw)
    sites.open()
    try:
        yield sites
    finally:
        sites.close()
