"""Two real ``siaga serve`` processes joined by a link that can be cut, for the tests and the bench.

:class:`PeerLink` makes two network namespaces (the room's, the colocation's) joined by one veth pair
(10.231.N.1 room, .2 colocation): the only way between them, which :meth:`cut` sets down for real and
:meth:`restore` sets up again. Each namespace also has a control link to this process's namespace (for
the test to push readings and read the APIs during the cut); nothing forwards between the two control
links (the namespaces have no routes but their own links). Root only (``ip netns``). :meth:`close`
stops the processes and removes the namespaces (the veths go with them).

The room runs on a SQLite store, the colocation on the given PostgreSQL URL (a unix socket reaches it
from inside a namespace: ``PostgresServer`` keeps its socket in its scratch folder).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from siaga.netguard import ALSO_ENV

PUSH_TOKEN = "rack-gateway-token"
SECRET = "a-secret-the-room-and-the-colocation-share-0123456789"
PORT = 8470


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True, timeout=10)


def room_config(colo_url: str, sensors: int) -> str:
    leaks = "\n".join(
        f"  - {{id: leak-{i}, kind: leak, rack: R{i}, zone: floor, source: {{type: http, gateway: gw}}}}"
        for i in range(sensors))
    racks = ", ".join(f"{{id: R{i}, room: ruang-server}}" for i in range(sensors))
    return f"""
site: {{name: Ruang Server Uji, timezone: Asia/Makassar, language: id}}
store: {{data_dir: state}}
rooms: [{{id: ruang-server, name: Ruang Server}}]
racks: [{racks}]
http_push: {{gateways: [{{id: gw, token_file: gw.token}}]}}
sensors:
{leaks}
peers:
  site_id: ruang
  sites: [{{id: colo, role: watched_by, url: "{colo_url}", secret_file: peer.secret}}]
"""


def colo_config(room_url: str, store_url: str) -> str:
    return f"""
site: {{name: Kolokasi Uji, timezone: Asia/Makassar, language: id}}
store: {{database_url: "{store_url}"}}
peers:
  site_id: colo
  sites: [{{id: ruang, role: watches, url: "{room_url}", secret_file: peer.secret}}]
"""


@dataclass
class Site:
    name: str
    ns: str
    folder: Path
    control: str  # this process reaches the site's siaga here
    proc: subprocess.Popen[str] | None = None

    @property
    def base(self) -> str:
        return f"http://{self.control}:{PORT}"


@dataclass
class PeerLink:
    """Two siaga processes in namespaces of their own, joined by a link that can be cut."""

    root: Path
    colo_store_url: str
    sensors: int = 20
    tag: str = field(default_factory=lambda: str(os.getpid() % 200 + 20))
    room: Site = field(init=False)
    colo: Site = field(init=False)

    def __post_init__(self) -> None:
        n = self.tag
        self.room = Site("room", f"siaga-room-{n}", self.root / "room", f"10.232.{n}.2")
        self.colo = Site("colo", f"siaga-colo-{n}", self.root / "colo", f"10.233.{n}.2")
        self.link_room, self.link_colo = f"10.231.{n}.1", f"10.231.{n}.2"
        self.veth = f"sgl{n}"  # the room's end of the link (its peer: sgm<n> in the colocation)

    # The network --------------------------------------------------------------------------------------

    def make(self) -> PeerLink:
        n = self.tag
        # the namespaces' links are on this machine: loopback-only mode (the test suite's) lets them be
        allowed = os.environ.get(ALSO_ENV, "")
        if "10.231.0.0/16" not in allowed:
            os.environ[ALSO_ENV] = ",".join(p for p in (allowed, "10.231.0.0/16,10.232.0.0/16,10.233.0.0/16") if p)
        self.close_network()
        for site, net in ((self.room, "232"), (self.colo, "233")):
            ip("netns", "add", site.ns)
            ip("-n", site.ns, "link", "set", "lo", "up")
            host, inside = f"sgh{net[-1]}{n}", f"sgi{net[-1]}{n}"
            ip("link", "add", host, "type", "veth", "peer", "name", inside, "netns", site.ns)
            ip("addr", "add", f"10.{net}.{n}.1/24", "dev", host)
            ip("link", "set", host, "up")
            ip("-n", site.ns, "addr", "add", f"10.{net}.{n}.2/24", "dev", inside)
            ip("-n", site.ns, "link", "set", inside, "up")
        ip("-n", self.room.ns, "link", "add", self.veth, "type", "veth", "peer", "name", f"sgm{n}",
           "netns", self.colo.ns)
        ip("-n", self.room.ns, "addr", "add", f"{self.link_room}/24", "dev", self.veth)
        ip("-n", self.colo.ns, "addr", "add", f"{self.link_colo}/24", "dev", f"sgm{n}")
        ip("-n", self.room.ns, "link", "set", self.veth, "up")
        ip("-n", self.colo.ns, "link", "set", f"sgm{n}", "up")
        return self

    def cut(self) -> None:
        """The link between the sites goes down (both ends, as a cable pulled)."""
        ip("-n", self.room.ns, "link", "set", self.veth, "down")
        ip("-n", self.colo.ns, "link", "set", f"sgm{self.tag}", "down")

    def restore(self) -> None:
        ip("-n", self.room.ns, "link", "set", self.veth, "up")
        ip("-n", self.colo.ns, "link", "set", f"sgm{self.tag}", "up")

    def close_network(self) -> None:
        for site in (self.room, self.colo):
            ip("netns", "del", site.ns, check=False)
        for net in ("2", "3"):
            ip("link", "del", f"sgh{net}{self.tag}", check=False)

    # The two siaga processes ----------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        for site, text in ((self.room, room_config(f"http://{self.link_colo}:{PORT}", self.sensors)),
                           (self.colo, colo_config(f"http://{self.link_room}:{PORT}", self.colo_store_url))):
            site.folder.mkdir(parents=True, exist_ok=True)
            (site.folder / "state").mkdir(exist_ok=True)
            (site.folder / "siaga.yaml").write_text(text)
            (site.folder / "peer.secret").write_text(SECRET + "\n")
            (site.folder / "gw.token").write_text(PUSH_TOKEN + "\n")
            src = Path(__file__).resolve().parents[2]
            env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
            site.proc = subprocess.Popen(
                ["ip", "netns", "exec", site.ns, sys.executable, "-m", "siaga", "serve", "--config",
                 str(site.folder / "siaga.yaml"), "--host", "0.0.0.0", "--port", str(PORT),
                 "--log-level", "warning"],
                stdout=subprocess.DEVNULL, stderr=open(site.folder / "stderr.log", "w"),  # noqa: SIM115
                text=True, env=env, cwd=site.folder,
            )
        deadline = time.monotonic() + timeout
        for site in (self.room, self.colo):
            while True:
                assert site.proc is not None
                if site.proc.poll() is not None:
                    raise AssertionError(f"{site.name} siaga ended: {(site.folder / 'stderr.log').read_text()[-2000:]}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{site.base}/healthz", timeout=1).status_code in (200, 503):
                        break
                if time.monotonic() > deadline:
                    raise AssertionError(f"{site.name} siaga did not answer within {timeout} s")
                time.sleep(0.1)

    def stop(self) -> None:
        for site in (self.room, self.colo):
            if site.proc is not None and site.proc.poll() is None:
                site.proc.terminate()
                try:
                    site.proc.wait(15)
                except subprocess.TimeoutExpired:
                    site.proc.kill()
                    site.proc.wait(5)

    def close(self) -> None:
        try:
            self.stop()
        finally:
            self.close_network()

    # Driving the room -----------------------------------------------------------------------------------

    def push(self, client: httpx.Client, readings: list[tuple[str, float]]) -> None:
        """Readings into the room over HTTP push (its control link: it works while the peer link is cut)."""
        client.post(f"{self.room.base}/api/v1/readings", headers={"Authorization": f"Bearer {PUSH_TOKEN}"},
                    json={"readings": [{"sensor": s, "value": v} for s, v in readings]}, timeout=10,
                    ).raise_for_status()


__all__ = ["PeerLink", "colo_config", "room_config"]
