"""Two real ``siaga serve`` processes joined by a link that can be cut, for the tests and the bench.

:class:`PeerLink` makes two network namespaces (the room's, the colocation's) joined by one veth pair
(10.231.N.1 room, .2 colocation): the only way between them, which :meth:`cut` sets down for real and
:meth:`restore` sets up again. Each namespace also has a control link to this process's namespace (for
the test to push readings and read the APIs during the cut); nothing forwards between the two control
links (the namespaces have no routes but their own links). Root only (``ip netns``). :meth:`close`
stops the processes and removes the namespaces (the veths go with them).

With ``middle=True`` the link goes through a third namespace (``siaga-mid-N``): room ``sgl<N>``
(10.231.N.1/25) ↔ ``sga<N>`` (.126) [middle] ``sgb<N>`` (.129) ↔ ``sgm<N>`` (10.231.N.130/25) colocation, each
outer end routing the other's half through the middle, whose kernel forwards (``ip_forward=1``). :meth:`cut`
and :meth:`restore` still set the outer ends down and up. While :meth:`slow` is open, a relay process of the
test's own (:mod:`siaga.peers.testrelay`, in the middle) takes the frames instead of the kernel and passes
each one on after a delay or drops it (this kernel has no netem, no nftables/iptables); when it closes the
kernel forwards again.

The room runs on a SQLite store, the colocation on the given PostgreSQL URL (a unix socket reaches it
from inside a namespace: ``PostgresServer`` keeps its socket in its scratch folder).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import Engine, func, select

from siaga.netguard import ALSO_ENV
from siaga.peers import outbox, record
from siaga.peers.tables import peer_outbox

PUSH_TOKEN = "rack-gateway-token"
SECRET = "a-secret-the-room-and-the-colocation-share-0123456789"
PORT = 8470


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True, timeout=10)


def end(proc: subprocess.Popen[str], grace: float) -> None:
    """Stop ``proc`` (SIGTERM, then SIGKILL after ``grace`` seconds)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def room_ids(room: Engine) -> list[str]:
    """The event ids the room's outbox holds (SQLite store), in order."""
    with room.connect() as conn:
        newest = conn.execute(select(func.max(peer_outbox.c.seq))).scalar_one() or 0
        store = outbox.store_id(conn) if newest else ""
    return [f"ruang:{store}:{seq}" for seq in range(1, int(newest) + 1)]


def colo_ids(colo: Engine) -> list[str]:
    """The room's event ids the colocation's record holds, in the order applied."""
    with colo.connect() as conn:
        return record.event_ids(conn, "ruang")


def timing(heartbeat: float | None, window: float | None) -> str:
    """The peer entry's heartbeat interval and silence window (the defaults when None)."""
    return "".join(f", {key}: {value}s" for key, value in (("heartbeat_interval", heartbeat),
                                                           ("silence_window", window)) if value is not None)


def room_config(colo_url: str, sensors: int, heartbeat: float | None = None, window: float | None = None,
                rules: str = "") -> str:
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
  sites: [{{id: colo, role: watched_by, url: "{colo_url}", secret_file: peer.secret{timing(heartbeat, window)}}}]
{f"rules: {rules}" if rules else ""}
"""


def colo_config(room_url: str, store_url: str, heartbeat: float | None = None, window: float | None = None) -> str:
    return f"""
site: {{name: Kolokasi Uji, timezone: Asia/Makassar, language: id}}
store: {{database_url: "{store_url}"}}
peers:
  site_id: colo
  sites: [{{id: ruang, role: watches, url: "{room_url}", secret_file: peer.secret{timing(heartbeat, window)}}}]
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
    """Two siaga processes in namespaces of their own, joined by a link that can be cut (and slowed)."""

    root: Path
    colo_store_url: str
    sensors: int = 20
    middle: bool = False  # through a third namespace (needed by :meth:`slow`)
    heartbeat: float | None = None  # seconds; None: the config's default
    window: float | None = None
    rules: str = ""  # the room's ``rules:`` (flow YAML), e.g. "{flapping: {enabled: false}}"
    tag: str = field(default_factory=lambda: str(os.getpid() % 200 + 20))
    room: Site = field(init=False)
    colo: Site = field(init=False)

    def __post_init__(self) -> None:
        n = self.tag
        self.room = Site("room", f"siaga-room-{n}", self.root / "room", f"10.232.{n}.2")
        self.colo = Site("colo", f"siaga-colo-{n}", self.root / "colo", f"10.233.{n}.2")
        self.link_room, self.link_colo = f"10.231.{n}.1", f"10.231.{n}.{130 if self.middle else 2}"
        self.veth = f"sgl{n}"  # the room's end of the link (its peer: sgm<n> in the colocation)
        self.mid_ns = f"siaga-mid-{n}"
        self.mid_room, self.mid_colo = f"10.231.{n}.126", f"10.231.{n}.129"  # the middle's two addresses
        self.relay: subprocess.Popen[str] | None = None

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
        if self.middle:
            self._make_middle()
            return self
        ip("-n", self.room.ns, "link", "add", self.veth, "type", "veth", "peer", "name", f"sgm{n}",
           "netns", self.colo.ns)
        ip("-n", self.room.ns, "addr", "add", f"{self.link_room}/24", "dev", self.veth)
        ip("-n", self.colo.ns, "addr", "add", f"{self.link_colo}/24", "dev", f"sgm{n}")
        ip("-n", self.room.ns, "link", "set", self.veth, "up")
        ip("-n", self.colo.ns, "link", "set", f"sgm{n}", "up")
        return self

    def _make_middle(self) -> None:
        n, mid = self.tag, self.mid_ns
        ip("netns", "add", mid)
        ip("-n", mid, "link", "set", "lo", "up")
        ip("-n", self.room.ns, "link", "add", self.veth, "type", "veth", "peer", "name", f"sga{n}", "netns", mid)
        ip("-n", self.colo.ns, "link", "add", f"sgm{n}", "type", "veth", "peer", "name", f"sgb{n}", "netns", mid)
        for ns, dev, addr in ((self.room.ns, self.veth, self.link_room), (mid, f"sga{n}", self.mid_room),
                              (mid, f"sgb{n}", self.mid_colo), (self.colo.ns, f"sgm{n}", self.link_colo)):
            ip("-n", ns, "addr", "add", f"{addr}/25", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
        self._routes()
        self._forward(True)
        # full checksums from the outer ends: the relay writes frames out as they came (see testrelay)
        for ns, dev in ((self.room.ns, self.veth), (self.colo.ns, f"sgm{n}")):
            subprocess.run(["ip", "netns", "exec", ns, sys.executable, "-m", "siaga.peers.testrelay",
                            "checksums-off", dev], check=True, capture_output=True, timeout=30, env=self._env())

    def _routes(self) -> None:
        """Each outer end reaches the other's half through the middle (a link set down drops them)."""
        n = self.tag
        ip("-n", self.room.ns, "route", "replace", f"10.231.{n}.128/25", "via", self.mid_room)
        ip("-n", self.colo.ns, "route", "replace", f"10.231.{n}.0/25", "via", self.mid_colo)

    def _forward(self, on: bool) -> None:
        subprocess.run(["ip", "netns", "exec", self.mid_ns, "sysctl", "-q", "-w",
                        f"net.ipv4.ip_forward={int(on)}"], check=True, capture_output=True, timeout=10)

    def _env(self) -> dict[str, str]:
        src = Path(__file__).resolve().parents[2]
        return {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}

    def _mac(self, ns: str, dev: str) -> str:
        out = subprocess.run(["ip", "-n", ns, "-j", "link", "show", "dev", dev], check=True, capture_output=True,
                             text=True, timeout=10).stdout
        return str(json.loads(out)[0]["address"])

    @contextlib.contextmanager
    def slow(self, delay: float = 0.2, jitter: float = 0.05, loss: float = 0.1,
             seed: int | None = None) -> Iterator[None]:
        """While open, every frame between the sites waits ``delay`` ± ``jitter`` s, or is lost (``loss``)."""
        if not self.middle:
            raise ValueError("a slow link needs PeerLink(middle=True)")
        n = self.tag
        cmd = ["ip", "netns", "exec", self.mid_ns, sys.executable, "-m", "siaga.peers.testrelay",
               f"sga{n}", self._mac(self.room.ns, self.veth), f"sgb{n}", self._mac(self.colo.ns, f"sgm{n}"),
               "--delay", str(delay), "--jitter", str(jitter), "--loss", str(loss),
               "--own", self.mid_room, "--own", self.mid_colo]
        if seed is not None:
            cmd += ["--seed", str(seed)]
        self.relay = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(self.root / "relay.log", "w"),  # noqa: SIM115
                                      text=True, env=self._env())
        try:
            assert self.relay.stdout is not None
            if self.relay.stdout.readline().strip() != "ready":
                raise AssertionError(f"the relay did not start: {(self.root / 'relay.log').read_text()[-2000:]}")
            yield
        finally:
            self.fast()

    def fast(self) -> None:
        """The relay stops: the middle's kernel forwards again, at once and losing nothing."""
        if self.relay is not None:
            end(self.relay, 10)
            self.relay = None
            self._forward(True)

    def cut(self) -> None:
        """The link between the sites goes down (both ends, as a cable pulled)."""
        ip("-n", self.room.ns, "link", "set", self.veth, "down")
        ip("-n", self.colo.ns, "link", "set", f"sgm{self.tag}", "down")

    def restore(self) -> None:
        ip("-n", self.room.ns, "link", "set", self.veth, "up")
        ip("-n", self.colo.ns, "link", "set", f"sgm{self.tag}", "up")
        if self.middle:
            self._routes()

    def close_network(self) -> None:
        if self.relay is not None and self.relay.poll() is None:
            self.relay.kill()
            self.relay.wait(5)
        self.relay = None
        for ns in (self.room.ns, self.colo.ns, self.mid_ns):
            ip("netns", "del", ns, check=False)
        for net in ("2", "3"):
            ip("link", "del", f"sgh{net}{self.tag}", check=False)

    # The two siaga processes ----------------------------------------------------------------------------

    def start(self, timeout: float = 60.0) -> None:
        hb, window = self.heartbeat, self.window
        for site, text in ((self.room, room_config(f"http://{self.link_colo}:{PORT}", self.sensors, hb, window,
                                                   self.rules)),
                           (self.colo, colo_config(f"http://{self.link_room}:{PORT}", self.colo_store_url, hb,
                                                   window))):
            site.folder.mkdir(parents=True, exist_ok=True)
            (site.folder / "state").mkdir(exist_ok=True)
            (site.folder / "siaga.yaml").write_text(text)
            (site.folder / "peer.secret").write_text(SECRET + "\n")
            (site.folder / "gw.token").write_text(PUSH_TOKEN + "\n")
            env = self._env()
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
            if site.proc is not None:
                end(site.proc, 15)

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


__all__ = ["PeerLink", "colo_config", "colo_ids", "room_config", "room_ids"]
