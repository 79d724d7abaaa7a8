"""A real ``siaga serve`` in a child process for the notify tests: its own SQLite store (migrated first,
with an API token), a gateway token for HTTP push, a wait for its components."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import Engine

from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.web.auth.accounts import create_token

from .peers import free_port

ROOT = Path(__file__).resolve().parents[3]
PUSH_TOKEN = "rack-gateway-token"
T = TypeVar("T")


def site(port: int, hook: str, parts: str, storm: str = "{group_window: 30s, rate_per_minute: 20}") -> str:
    """A site with room ruang-server and rack R1, andi paged at once on a webhook, a push gateway ``gw``,
    and ``parts`` (sensors, devices, services, checks)."""
    return f"""
site: {{name: Diskominfo Uji, timezone: Asia/Makassar, language: id}}
store: {{data_dir: state}}
web: {{public_url: "http://127.0.0.1:{port}"}}
rooms: [{{id: ruang-server, name: Ruang Server}}]
racks: [{{id: R1, room: ruang-server}}]
people:
  - {{id: andi, name: Andi Pratama, contacts: {{hook: ""}}}}
http_push: {{gateways: [{{id: gw, token_file: gw.token}}]}}
notification:
  channels: {{hook: {{type: webhook, url: "{hook}"}}}}
  storm: {storm}
escalation:
  - id: all
    match: {{severity_at_least: info}}
    steps: [{{people: [andi], channels: [hook]}}]
{parts}"""


def wait_for(what: Callable[[], T], timeout: float = 60.0) -> T:
    """``what()`` once it is truthy (a busy machine may take a while to start siaga: a generous bound)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what.__doc__ or what}")


@dataclass
class Served:
    base: str
    db: Engine
    token: str  # an API token with the read and ack scopes
    config: Path

    def push(self, sensor: str, value: float) -> None:
        httpx.post(f"{self.base}/api/v1/readings", headers={"Authorization": f"Bearer {PUSH_TOKEN}"},
                   json={"sensor": sensor, "value": value}, timeout=5).raise_for_status()

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.base}{path}", headers={"Authorization": f"Bearer {self.token}"},
                             timeout=5, **kw)


@contextlib.contextmanager
def serve(tmp_path: Path, config: Callable[[int], str], *, running: str = "notify") -> Iterator[Served]:
    """Start ``siaga serve`` on ``config(port)`` and wait until its component ``running`` runs."""
    port = free_port()
    path = tmp_path / "siaga.yaml"
    path.write_text(config(port))
    (tmp_path / "gw.token").write_text(PUSH_TOKEN + "\n")
    (tmp_path / "state").mkdir(exist_ok=True)
    db = create_engine_for(sqlite_url(tmp_path / "state" / "siaga.db"))
    upgrade(db)
    with db.begin() as conn:
        token, _ = create_token(conn, "piket", "read,ack", dt.datetime.now(dt.UTC), actor=None)
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "siaga", "serve", "--config", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env,
    )
    base = f"http://127.0.0.1:{port}"

    def up() -> bool:
        assert proc.poll() is None, proc.communicate()[1]
        with contextlib.suppress(httpx.TransportError):
            return httpx.get(f"{base}/healthz", timeout=1).json()["components"].get(running) == "running"
        return False

    try:
        wait_for(up)
        yield Served(base, db, token, path)
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(15)
        if proc.poll() is None:
            proc.kill()
        db.dispose()
