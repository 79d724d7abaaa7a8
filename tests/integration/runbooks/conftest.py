"""Real peers for the runbook tests (the sshd of the servers to stop is tests/conftest.py's): stand-in
processes listening on ports (the servers' services: the port closes when "off"), and BIND 9 as the
authoritative server taking TSIG-signed dynamic updates."""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

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
