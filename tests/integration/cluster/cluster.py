"""Several real ``siaga serve`` processes on one PostgreSQL database and one config, and a webhook receiver
that counts the pages (for the cluster tests and ``bench/cluster.py``)."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine, select

from siaga.cluster.tables import cluster_leases
from siaga.store import create_engine_for, upgrade

ROOT = Path(__file__).resolve().parents[3]
PUSH_TOKEN = "rack-gateway-token"
LEASE_S = 1.5
T = TypeVar("T")


def tcp_checks(port: int, n: int, down_port: int = 0, down: int = 0, interval_s: float = 10) -> str:
    """``n`` services with one TCP check each at ``port`` (and ``down`` more at ``down_port``, where nothing
    listens: each of them goes down at its first failure and pages)."""
    services = [f"  - {{id: s{i}, name: S{i}, criticality: high}}" for i in range(n + down)]
    checks = [f"  - {{service: s{i}, type: tcp, host: 127.0.0.1, port: {port if i < n else down_port}, "
              f"interval_s: {interval_s}, timeout_s: 2, confirm: {{failures: 1}}}}" for i in range(n + down)]
    return "services:\n" + "\n".join(services) + "\nchecks:\n" + "\n".join(checks) + "\n"


class Listener:
    """A TCP port that takes every connection and closes it (thousands of checks, one socket; no asyncio objects
    in the test's process)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((host, port))  # 0: a free port; a port given: one a Listener closed before, open again
        self.sock.listen(4096)
        self.port = int(self.sock.getsockname()[1])
        self.accepted = 0
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            conn.close()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(what: Callable[[], T], timeout: float = 60.0) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.02)
    raise AssertionError(f"not within {timeout} s: {what.__doc__ or what}")


@dataclass
class Pages:
    """A webhook receiver: every POST is a page (its JSON body, its Idempotency-Key header)."""

    port: int = field(default_factory=free_port)
    got: list[tuple[float, str | None, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                owner.got.append((time.monotonic(), self.headers.get("Idempotency-Key"), json.loads(raw or b"{}")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def site(db_url: str, hook: str, sensors: int = 3, lease_s: float = LEASE_S, mqtt_port: int | None = None,
         rule_shards: int = 4, extra: str = "", witness_grace: float = 0) -> str:
    """The cluster's config: leak sensors pushed over HTTP, or published on ``room/leak-<n>`` to a broker
    (``extra``: more of the config, such as services and checks)."""
    source = "{type: http, gateway: gw}" if mqtt_port is None else "{type: mqtt, topic: room/leak-%d}"
    lines = "\n".join(
        f"  - {{id: leak-{i}, kind: leak, rack: R1, zone: floor, source: {source.replace('%d', str(i))}}}"
        for i in range(sensors))
    mqtt = "" if mqtt_port is None else (f"mqtt: {{host: 127.0.0.1, port: {mqtt_port}, client_id: siaga-uji, "
                                         "unreachable_alert_s: 1s}\n")
    return f"""
site: {{name: Diskominfo Uji, timezone: Asia/Makassar, language: id}}
store: {{data_dir: state, database_url: "{db_url}"}}
runtime: {{lease: {lease_s}, rule_shards: {rule_shards}, witness_grace: {witness_grace}}}
{mqtt}
rooms: [{{id: ruang-server, name: Ruang Server}}]
racks: [{{id: R1, room: ruang-server}}]
people:
  - {{id: andi, name: Andi Pratama, contacts: {{hook: ""}}}}
http_push: {{gateways: [{{id: gw, token_file: gw.token}}]}}
notification:
  channels: {{hook: {{type: webhook, url: "{hook}"}}}}
  storm: {{group_window: 0s, rate_per_minute: 100}}
escalation:
  - id: all
    match: {{severity_at_least: info}}
    steps: [{{people: [andi], channels: [hook]}}]
sensors:
{lines}
{extra}"""



class Clock:
    """A keeper's wall clock and monotonic clock in the test's hand (``s`` seconds after ``t0``)."""

    def __init__(self, t0: dt.datetime = dt.datetime(2026, 12, 6, 6, 0, tzinfo=dt.UTC)) -> None:
        self.t0 = t0
        self.s = 0.0

    def now(self) -> dt.datetime:
        return self.t0 + dt.timedelta(seconds=self.s)

    def mono(self) -> float:
        return self.s

@dataclass
class Process:
    port: int
    proc: subprocess.Popen[str]
    log: Path  # its stderr (a file: a pipe nobody reads fills up and stops the process)

    def log_tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def push(self, sensor: str, value: float, timeout: float = 10) -> None:
        httpx.post(f"{self.base}/api/v1/readings", headers={"Authorization": f"Bearer {PUSH_TOKEN}"},
                   json={"sensor": sensor, "value": value}, timeout=timeout).raise_for_status()

    def up(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"siaga serve ended: {self.log_tail()}")
        with contextlib.suppress(httpx.TransportError, ValueError):
            return httpx.get(f"{self.base}/healthz", timeout=1).json()["components"].get("notify") == "running"
        return False


@dataclass
class Cluster:
    db: Engine
    config: Path
    processes: list[Process]
    env: dict[str, str]

    def start(self) -> Process:
        port = free_port()
        log = self.config.parent / f"serve-{len(self.processes)}.log"
        with log.open("a") as err:
            proc = subprocess.Popen(
                [sys.executable, "-m", "siaga", "serve", "--config", str(self.config), "--port", str(port),
                 "--log-format", "text", "--log-level", "warning"],
                stdout=subprocess.DEVNULL, stderr=err, text=True, env=self.env,
            )
        p = Process(port, proc, log)
        self.processes.append(p)
        return p

    def holder(self, role: str = "notify") -> tuple[int, int] | None:
        """(pid, token) of the role's holder while its lease runs, else None."""
        with self.db.connect() as conn:
            row = conn.execute(select(cluster_leases).where(cluster_leases.c.role == role)).first()
        if row is None:
            return None
        from siaga.store.types import utcnow

        if row.expires_at <= utcnow():
            return None
        return int(row.holder.split(":")[1]), int(row.token)

    def process_of(self, pid: int) -> Process:
        return next(p for p in self.processes if p.proc.pid == pid)

    def others(self, pid: int) -> list[Process]:
        return [p for p in self.processes if p.proc.pid != pid and p.proc.poll() is None]

    def stop_all(self) -> None:
        for p in self.processes:
            if p.proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    p.proc.send_signal(signal.SIGCONT)
                p.proc.terminate()
        for p in self.processes:
            try:
                p.proc.wait(15)
            except subprocess.TimeoutExpired:
                p.proc.kill()
                p.proc.wait()


@contextlib.contextmanager
def cluster(tmp_path: Path, db_url: str, pages: Pages, n: int, lease_s: float = LEASE_S,
            sensors: int = 3, mqtt_port: int | None = None, rule_shards: int = 4, extra: str = "",
            up_timeout: float = 60.0) -> Iterator[Cluster]:
    """``n`` ``siaga serve`` on one config and one PostgreSQL database, each up with the notify role taken
    (``extra``: more of the config, such as services and checks)."""
    path = tmp_path / "siaga.yaml"
    path.write_text(site(db_url, pages.url, sensors=sensors, lease_s=lease_s, mqtt_port=mqtt_port,
                         rule_shards=rule_shards, extra=extra))
    (tmp_path / "gw.token").write_text(PUSH_TOKEN + "\n")
    (tmp_path / "state").mkdir(exist_ok=True)
    db = create_engine_for(db_url)
    upgrade(db)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    c = Cluster(db, path, [], env)
    try:
        for _ in range(n):
            c.start()
        for p in c.processes:
            wait_for(p.up, timeout=up_timeout)
        wait_for(lambda: c.holder())
        yield c
    finally:
        c.stop_all()
        db.dispose()
