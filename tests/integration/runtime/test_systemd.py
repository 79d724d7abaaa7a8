"""The shipped systemd unit (deploy/systemd/siaga.service) and ``siaga serve`` under a notify socket."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main

from siaga.cli.main import app

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
UNIT = ROOT / "deploy" / "systemd" / "siaga.service"
SYSUSERS = ROOT / "deploy" / "systemd" / "siaga.sysusers"


def _settings(text: str) -> dict[str, list[str]]:
    """``key -> values`` of a unit file (keys may repeat; comments and sections dropped)."""
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        out.setdefault(key.strip(), []).append(value.strip())
    return out


def test_the_unit_restarts_always_notifies_has_a_watchdog_and_is_hardened() -> None:
    s = _settings(UNIT.read_text(encoding="utf-8"))
    assert s["Type"] == ["notify"] and s["Restart"] == ["always"] and s["StartLimitIntervalSec"] == ["0"]
    assert s["WatchdogSec"] == ["30s"]
    assert s["User"] == ["siaga"] and s["Group"] == ["siaga"]
    assert "u siaga " in SYSUSERS.read_text(encoding="utf-8")
    for key, value in {"ProtectSystem": "strict", "NoNewPrivileges": "yes", "PrivateTmp": "yes",
                       "PrivateDevices": "yes", "RestrictSUIDSGID": "yes", "CapabilityBoundingSet": ""}.items():
        assert s[key] == [value], key
    assert s["ReadWritePaths"] == ["/var/lib/siaga"] and s["StateDirectory"] == ["siaga"]
    assert s["ExecReload"] == ["/bin/kill -HUP $MAINPID"]


def test_the_units_command_line_is_one_siaga_serve_accepts() -> None:
    [exec_start] = _settings(UNIT.read_text(encoding="utf-8"))["ExecStart"]
    argv = exec_start.split()
    assert argv[0].endswith("/siaga") and argv[1] == "serve"
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    known = {o for p in serve.params for o in getattr(p, "opts", [])}
    assert {a for a in argv[2:] if a.startswith("--")} <= known


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt: systemd)")
def test_systemd_analyze_verifies_the_unit(tmp_path: Path) -> None:
    # verify wants the binary to exist: point ExecStart at this checkout's siaga for the check
    siaga = Path(sys.executable).parent / "siaga"
    text = UNIT.read_text(encoding="utf-8").replace("/opt/siaga/venv/bin/siaga", str(siaga))
    unit = tmp_path / "siaga.service"
    unit.write_text(text, encoding="utf-8")
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    problems = [ln for ln in done.stderr.splitlines() if "siaga.service" in ln]
    assert problems == []  # unknown keys and bad values are only warnings: hold them to nothing too


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    with tempfile.TemporaryDirectory(prefix="sd", dir="/tmp") as d:
        path = os.path.join(d, "notify")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        sock.settimeout(0.2)
        try:
            yield sock, path
        finally:
            sock.close()


def _messages_until(sock: socket.socket, want: str, proc: subprocess.Popen[str], seen: list[str]) -> None:
    """Receive into ``seen`` until a datagram holds the line ``want`` (30 s at most)."""
    deadline = time.monotonic() + 30
    while not any(want in m.splitlines() for m in seen):
        try:
            seen.append(sock.recv(4096).decode())
            continue
        except TimeoutError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:  # nothing queued any more
            pytest.fail(f"no {want} from siaga (exit code {proc.poll()}): {seen}")


def test_serve_tells_systemd_ready_watchdog_and_stopping(
    tmp_path: Path, free_port: int, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    site = tmp_path / "siaga.yaml"
    site.write_text("site: {name: Test site, language: en}\nstore: {data_dir: state}\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}  # a ping every 0.2 s
    env.pop("WATCHDOG_PID", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "siaga", "serve", "--config", str(site), "--port", str(free_port)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    seen: list[str] = []
    try:
        _messages_until(sock, "READY=1", proc, seen)
        [ready] = [m for m in seen if "READY=1" in m.splitlines()]
        assert f"MAINPID={proc.pid}" in ready.splitlines()
        assert any(line.startswith("STATUS=watching: ") for line in ready.splitlines())
        after_ready: list[str] = []
        _messages_until(sock, "WATCHDOG=1", proc, after_ready)  # the loop feeds the watchdog while serving
        proc.send_signal(signal.SIGTERM)
        _messages_until(sock, "STOPPING=1", proc, seen)
        _out, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
