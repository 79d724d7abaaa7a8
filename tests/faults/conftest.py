"""Fault tests: a real ``siaga serve`` (a subprocess) while its world breaks under it.

The drills live in ``bench/faults.py`` (one function per scenario, also run by hand as a benchmark)
and the modules beside it; these tests run them and check what they report and what the store holds.

Peers are real: PostgreSQL (``own_postgres`` in tests/conftest.py, stopped and started by the test),
an HTTP server that is both the service a check watches (``GET /up``) and the webhook pages go to
(``POST /hook``), all on loopback.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    """``bench/<name>.py`` as a module (bench/ is not a package)."""
    if str(BENCH) not in sys.path:
        sys.path.insert(0, str(BENCH))
    spec = importlib.util.spec_from_file_location(f"siaga_bench_{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def ingest_drills() -> ModuleType:
    """``bench/ingest_faults.py``: the MQTT ingest drills (real mosquitto, real ``siaga serve``)."""
    if shutil.which("mosquitto") is None:
        pytest.skip("mosquitto is not installed (scripts/setup.sh installs it)")
    return bench_module("ingest_faults")


@dataclass
class Peer:
    """``GET /up`` answers 200 "portal ok"; ``POST /hook`` records the JSON body of a page."""

    pages: list[dict[str, Any]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    def __post_init__(self) -> None:
        self.cond = threading.Condition()

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Peer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, body: bytes) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                self._answer(b"portal ok")

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.cond:
                    owner.pages.append(json.loads(raw or b"{}"))
                    owner.cond.notify_all()
                self._answer(b'{"ok": true}')

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def wait_page(self, text: str, timeout: float = 30.0) -> dict[str, Any]:
        """The first page whose title or message holds ``text``."""
        end = time.monotonic() + timeout
        with self.cond:
            while True:
                for page in self.pages:
                    if text in f"{page.get('title', '')}\n{page.get('message', '')}":
                        return page
                if time.monotonic() > end:
                    raise AssertionError(f"no page with {text!r}: {self.pages}")
                self.cond.wait(0.1)


def paging(peer: Peer) -> str:
    """The YAML of one person paged on ``peer``'s webhook for every alert, with quick retries."""
    return f"""
people: [{{id: andi, name: Andi, contacts: {{hook: ""}}}}]
notification:
  channels: {{hook: {{type: webhook, url: "{peer.url}/hook"}}}}
  delivery: {{attempts: 3, backoff: 0.2s, backoff_max: 0.5s, timeout: 2s}}
escalation:
  - id: semua
    match: {{severity_at_least: info}}
    steps: [{{people: [andi], channels: [hook]}}]
"""


@pytest.fixture
def peer() -> Iterator[Peer]:
    p = Peer().start()
    try:
        yield p
    finally:
        p.stop()


@dataclass
class Siaga:
    """A ``siaga serve`` subprocess (its log in a file: a full pipe would block it) and its health endpoint."""

    proc: subprocess.Popen[str]
    port: int
    log: Path

    def log_text(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def health(self) -> httpx.Response | None:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=3)
        except httpx.TransportError:
            return None

    def alive(self) -> None:
        if self.proc.poll() is not None:
            pytest.fail(f"siaga exited with {self.proc.returncode}:\n{self.log_text()[-4000:]}")

    def wait_health(self, pred: Any, what: str, timeout: float = 60.0) -> dict[str, Any]:
        """Poll /healthz until ``pred(status_code, body)``; siaga must stay up meanwhile."""
        end = time.monotonic() + timeout
        last: dict[str, Any] = {}
        while time.monotonic() < end:
            self.alive()
            resp = self.health()
            if resp is not None:
                last = resp.json()
                if pred(resp.status_code, last):
                    return last
            time.sleep(0.2)
        pytest.fail(f"/healthz never showed {what}; last: {last}")

    def terminate(self, timeout: float = 30.0) -> tuple[int, str]:
        import signal

        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=timeout)
        return self.proc.returncode, self.log_text()


def siaga_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = f"{ROOT / 'src'}{os.pathsep}{env.get('PYTHONPATH', '')}"
    env.pop("SIAGA_CONFIG", None)
    env.pop("NOTIFY_SOCKET", None)
    return env


@contextlib.contextmanager
def running_siaga(argv: list[str], port: int, log: Path) -> Iterator[Siaga]:
    """Start ``argv`` (a siaga command line after the interpreter); kill it at the end if still running."""
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen([sys.executable, *argv], stdout=out, stderr=subprocess.STDOUT, text=True,
                                env=siaga_env())
    try:
        yield Siaga(proc, port, log)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def store_drills() -> ModuleType:
    """``bench/store_faults.py``: the store drills (a full tmpfs, a stopped PostgreSQL)."""
    return bench_module("store_faults")


@pytest.fixture(scope="session")
def peer_drills() -> ModuleType:
    """``bench/peer_drills.py``: a room siaga and a colocation siaga, each in a network namespace."""
    return bench_module("peer_drills")


@pytest.fixture
def work(tmp_path: Path) -> Path:
    """A folder the drill's processes (PostgreSQL as its own user) can enter."""
    tmp_path.chmod(0o755)
    for parent in tmp_path.parents:
        if parent == Path(parent.anchor):
            break
        parent.chmod(parent.stat().st_mode | 0o005)
    return tmp_path
