"""Real peers for the runbook tests (the sshd of the servers to stop is tests/conftest.py's): stand-in
processes listening on ports (the servers' services: the port closes when "off"), and BIND 9 as the
authoritative server taking TSIG-signed dynamic updates."""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest


def _port() -> int:
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _until_listening(port: int, proc: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if proc.poll() is not None:
                err = proc.stderr.read() if proc.stderr else b""
                raise RuntimeError(f"{what} died: {err!r}") from None
            time.sleep(0.05)
    raise RuntimeError(f"{what} does not listen on {port}")


# --- stand-ins: a server's service, listening until it is stopped -----------------------------------

STANDIN = """
import signal, socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
def stop(*_):
    time.sleep(float(sys.argv[2]))  # a server takes a moment to go down
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    c, _ = s.accept(); c.close()
"""


@dataclass
class StandIn:
    port: int
    proc: subprocess.Popen[bytes]

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None


@pytest.fixture
def standins() -> Iterator[Callable[[float], StandIn]]:
    started: list[StandIn] = []

    def start(stop_delay: float = 0.0) -> StandIn:
        port = _port()
        proc = subprocess.Popen([sys.executable, "-c", STANDIN, str(port), str(stop_delay)], stderr=subprocess.PIPE)
        _until_listening(port, proc, "stand-in")
        started.append(StandIn(port, proc))
        return started[-1]

    yield start
    for s in started:
        if s.running():
            s.proc.kill()
        s.proc.wait(5)


# --- BIND 9: the authoritative server of the portal's name ------------------------------------------

ZONE = "bontang.test."


@dataclass
class Bind:
    port: int
    zone: str
    key_name: str
    secret_file: str


@pytest.fixture
def bind(tmp_path: Path) -> Iterator[Bind]:
    named = shutil.which("named") or "/usr/sbin/named"
    if not os.path.exists(named):
        pytest.skip("needs BIND 9 (Debian bind9)")
    root = tmp_path / "bind"
    root.mkdir()
    secret = base64.b64encode(os.urandom(32)).decode()
    (root / "tsig.key").write_text(secret + "\n")
    port = _port()
    (root / "zone.db").write_text(
        f"$TTL 300\n@ IN SOA ns.{ZONE} admin.{ZONE} 1 3600 600 86400 60\n@ IN NS ns.{ZONE}\n"
        f"ns IN A 127.0.0.1\nportal 300 IN A 10.0.0.10\n"
    )
    (root / "named.conf").write_text(
        f'options {{ directory "{root}"; listen-on port {port} {{ 127.0.0.1; }}; listen-on-v6 {{ none; }};\n'
        f'  pid-file "{root}/named.pid"; recursion no; dnssec-validation no; }};\n'
        "controls { };\n"
        f'key "siaga-failover" {{ algorithm hmac-sha256; secret "{secret}"; }};\n'
        f'zone "{ZONE}" {{ type primary; file "{root}/zone.db"; allow-update {{ key "siaga-failover"; }}; }};\n'
    )
    proc = subprocess.Popen([named, "-g", "-4", "-c", str(root / "named.conf"), "-p", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _until_listening(port, proc, "named")
    try:
        yield Bind(port, ZONE, "siaga-failover", str(root / "tsig.key"))
    finally:
        proc.terminate()
        proc.wait(10)


# --- BMCs: sushy-tools' Redfish emulator and pyghmi's IPMI BMC simulator ------------------------------

SUSHY = """
import random, sys
from sushy_tools.emulator import main
from sushy_tools.emulator.resources.systems import fakedriver

class Quick(random.Random):
    def randint(self, a, b):  # the fake driver powers off 1-11 s after a reset: here within a second
        return a

fakedriver.random = Quick()
sys.argv = ["sushy-emulator", *sys.argv[1:]]
main.main()
"""


@dataclass
class RedfishBmc:
    url: str
    user: str
    password_file: str
    systems: dict[str, str]
    """name -> the system's id (a UUID) on the emulator."""
    log: Path
    proc: subprocess.Popen[bytes]
    password: str = "rahasia-bmc"

    def power(self, name: str) -> str:
        import httpx

        r = httpx.get(f"{self.url}/redfish/v1/Systems/{self.systems[name]}", auth=(self.user, self.password),
                      timeout=5)
        r.raise_for_status()
        return str(r.json()["PowerState"])

    def resets(self) -> list[str]:
        """The systems that received a ComputerSystem.Reset (the emulator's access log)."""
        found = []
        for line in self.log.read_text(errors="replace").splitlines():
            if "ComputerSystem.Reset" in line and "POST" in line:
                found.extend(name for name, ident in self.systems.items() if ident in line)
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)


POOL = 12
"""Systems of the module's shared emulator: each test takes fresh ones (all powered on)."""


def _start_emulator(root: Path, count: int) -> RedfishBmc:
    import bcrypt

    root.mkdir()
    password = "rahasia-bmc"
    (root / "htpasswd").write_text("siaga:" + bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode() + "\n")
    (root / "password").write_text(password + "\n")
    systems = {f"sys-{i}": str(uuid.uuid4()) for i in range(count)}
    fake = [{"uuid": ident, "name": name, "power_state": "On", "external_notifier": False, "nics": []}
            for name, ident in systems.items()]
    port = _port()
    (root / "emulator.conf").write_text(
        "SUSHY_EMULATOR_FAKE_DRIVER = True\n"
        f"SUSHY_EMULATOR_STATE_DIR = {str(root / 'state')!r}\n"
        f"SUSHY_EMULATOR_AUTH_FILE = {str(root / 'htpasswd')!r}\n"
        "SUSHY_EMULATOR_LISTEN_IP = '127.0.0.1'\n"
        f"SUSHY_EMULATOR_LISTEN_PORT = {port}\n"
        f"SUSHY_EMULATOR_FAKE_SYSTEMS = {fake!r}\n"
    )
    log = root / "emulator.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-c", SUSHY, "--config", str(root / "emulator.conf")],
                                stdout=out, stderr=subprocess.STDOUT)
    _until_listening(port, proc, "sushy-emulator")
    return RedfishBmc(f"http://127.0.0.1:{port}", "siaga", str(root / "password"), systems, log, proc)


def _needs_sushy_tools() -> None:
    try:
        import bcrypt  # noqa: F401
        import sushy_tools  # noqa: F401
    except ImportError:
        pytest.skip("needs sushy-tools and bcrypt: scripts/setup.sh test (pip install -e '.[dev]')")


@pytest.fixture(scope="module")
def _shared_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedfishBmc]:
    _needs_sushy_tools()
    bmc = _start_emulator(tmp_path_factory.mktemp("redfish") / "shared", POOL)
    yield bmc
    bmc.stop()


@pytest.fixture
def redfish_bmc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., RedfishBmc]]:
    """sushy-tools' emulator (fake driver: no libvirt) on a free loopback port, behind HTTP basic auth, with one
    powered-on system per name: fresh systems of the module's shared emulator, or (``own=True``, for a test
    that stops it) an emulator of its own."""
    _needs_sushy_tools()
    started: list[RedfishBmc] = []

    def start(*names: str, own: bool = False) -> RedfishBmc:
        if own:
            bmc = _start_emulator(tmp_path / f"redfish-{len(started)}", len(names))
            started.append(bmc)
            return dataclasses.replace(bmc, systems=dict(zip(names, bmc.systems.values(), strict=True)))
        shared: RedfishBmc = request.getfixturevalue("_shared_emulator")
        free = [ident for ident in shared.systems.values() if ident not in _taken]
        assert len(free) >= len(names), "raise POOL"
        _taken.update(free[:len(names)])
        return dataclasses.replace(shared, systems=dict(zip(names, free, strict=False)))

    yield start
    for bmc in started:
        bmc.stop()


_taken: set[str] = set()
"""Systems of the shared emulator a test already took (their power state is the test's)."""


IPMI_SIM = """
import json, sys, threading, time, urllib.request, base64
import pyghmi.ipmi.bmc as bmc

port, password, state_file, delay = int(sys.argv[1]), sys.argv[2], sys.argv[3], float(sys.argv[4])
check = json.loads(sys.argv[5]) if len(sys.argv) > 5 else None  # another server that must be off already

def other_power():
    req = urllib.request.Request(check["url"])
    req.add_header("Authorization", "Basic " + base64.b64encode(check["auth"].encode()).decode())
    return json.load(urllib.request.urlopen(req, timeout=5))["PowerState"]

class Server(bmc.Bmc):
    def __init__(self):
        super().__init__({"siaga": password}, port, address="127.0.0.1")
        self.state = "on"
        self.write("on", "started")

    def write(self, state, event):
        self.state = state
        with open(state_file, "a") as f:
            f.write(json.dumps({"state": state, "event": event, "at": time.time()}) + "\\n")

    def get_power_state(self):
        return self.state

    def is_active(self):
        return self.state == "on"

    def power_shutdown(self):  # soft off: the operating system takes a moment to go down
        event = "soft-off"
        if check is not None:
            event += " (other server " + other_power() + ")"
        self.write(self.state, event)
        threading.Timer(delay, self.write, ("off", "off")).start()

    def power_off(self):
        self.write("off", "hard-off")

Server().listen()
"""


@dataclass
class IpmiBmc:
    port: int
    user: str
    password_file: str
    state_file: Path
    proc: subprocess.Popen[bytes]

    def events(self) -> list[dict[str, Any]]:
        import json

        return [json.loads(line) for line in self.state_file.read_text().splitlines()]

    def power(self) -> str:
        return str(self.events()[-1]["state"])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)


def _free_udp_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_DGRAM)) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def ipmi_bmc(tmp_path: Path) -> Iterator[Callable[..., IpmiBmc]]:
    """Start a BMC built on pyghmi's simulator (``pyghmi.ipmi.bmc.Bmc``) on a free loopback UDP port: the
    chassis is on; a soft power off turns it off after ``delay`` seconds; every event lands in a file."""
    try:
        import pyghmi  # noqa: F401
    except ImportError:
        pytest.skip("needs pyghmi: scripts/setup.sh test (pip install -e '.[dev]')")
    if shutil.which("ipmitool") is None:
        pytest.skip("needs ipmitool: scripts/setup.sh test (Debian: apt-get install ipmitool)")
    started: list[IpmiBmc] = []

    def start(delay: float = 0.5, check: dict[str, str] | None = None) -> IpmiBmc:
        import json

        root = tmp_path / f"ipmi-{len(started)}"
        root.mkdir()
        password = "rahasia-ipmi"
        (root / "password").write_text(password + "\n")
        state = root / "power.jsonl"
        port = _free_udp_port()
        args = [sys.executable, "-c", IPMI_SIM, str(port), password, str(state), str(delay)]
        if check is not None:
            args.append(json.dumps(check))
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 10
        while not state.exists():
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"IPMI simulator did not start: {proc.stderr.read() if proc.stderr else b''!r}")
            time.sleep(0.05)
        started.append(IpmiBmc(port, "siaga", str(root / "password"), state, proc))
        return started[-1]

    yield start
    for bmc in started:
        bmc.stop()
