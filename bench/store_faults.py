"""Store faults against a real ``siaga serve`` (scenarios of ``bench/faults.py``): does siaga keep paging
when its store cannot write?

- ``disk_full``: the SQLite data dir on a 2 MB tmpfs (needs root for ``mount``), filled to the last
  byte; a wet leak reading pushed over HTTP must reach a real webhook receiver from memory, /healthz is
  503 naming why, and after space returns the spooled alert and page are in the store, once each.
  Figures: ``disk_full_page_latency_s`` (push -> webhook received; a dry reading pushed first warms the
  push endpoint, whose very first request costs ~0.25 s whatever the store), ``disk_full_*`` counts.
- ``pg_restart``: the store on a PostgreSQL server this script starts (``initdb`` + ``pg_ctl``), an HTTP
  check and an HTTP-pushed leak sensor; ``pg_ctl stop -m fast`` while siaga runs, a leak during the
  outage, the server started again. Figures: ``pg_restart_survived`` (siaga still serving, paged the
  leak once, the alert stored once), ``pg_restart_page_latency_s``.

    PYTHONPATH=src .venv/bin/python bench/faults.py disk_full pg_restart
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "leak-sensor-token"
LEAK = "Kebocoran air"  # what a leak page says (the site speaks Bahasa Indonesia)
STORE = "tidak dapat menulis ke penyimpanannya"  # what the store.unavailable page says (id)


class Skip(Exception):
    """The scenario cannot run on this machine (not root, no PostgreSQL): its reason. (``bench/faults.py``
    reports it as ``<scenario>_skipped``.)"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# A webhook receiver --------------------------------------------------------------------------------------

@dataclass
class Hook:
    """A real HTTP receiver on loopback that records every JSON body with the time it arrived."""

    port: int = field(default_factory=free_port)
    got: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    host: str = "127.0.0.1"

    def __post_init__(self) -> None:
        self.cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with owner.cond:
                    with contextlib.suppress(ValueError):
                        owner.got.append((time.monotonic(), json.loads(raw or b"{}")))
                    owner.cond.notify_all()
                self.send_response(200)
                self.end_headers()
                self.wfile.write(b"{}")

        self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hook"

    def pages(self, text: str) -> list[tuple[float, dict[str, Any]]]:
        """Pages (not notices) whose message says ``text``, in order."""
        with self.cond:
            return [(t, b) for t, b in self.got if b.get("siaga_kind") == "page" and text in str(b.get("message"))]

    def wait(self, text: str, n: int = 1, timeout: float = 15) -> list[tuple[float, dict[str, Any]]]:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.pages(text)) < n and time.monotonic() < deadline:
                self.cond.wait(0.05)
        return self.pages(text)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# siaga serve ----------------------------------------------------------------------------------------------

def site_yaml(hook_url: str, store: str, extra: str = "") -> str:
    """One room, two leak sensors pushed over HTTP, one person paged on a webhook. The delivery timeout is
    long: on a loaded machine a slow answer that times out counts as failed and is sent again (at least
    once), which would read as a page doubled by the fault."""
    return f"""
site: {{name: Uji Gangguan, timezone: Asia/Makassar, language: id}}
store: {store}
web: {{public_url: "http://siaga.test"}}
rooms: [{{id: ruang, name: Ruang Server}}]
racks: [{{id: R1, room: ruang, name: Rak 1}}]
sensors:
  - {{id: leak-r1, kind: leak, rack: R1, zone: floor, source: {{type: http, gateway: gw}}}}
  - {{id: leak-r1-ceiling, kind: leak, rack: R1, zone: ceiling-above, source: {{type: http, gateway: gw}}}}
http_push:
  gateways: [{{id: gw, token_file: leak.token}}]
people:
  - {{id: andi, name: Andi, contacts: {{hook: ""}}}}
notification:
  channels:
    hook: {{type: webhook, url: "{hook_url}"}}
  storm: {{group_window: 0s}}
  delivery: {{attempts: 3, backoff: 0.2s, backoff_max: 1s, timeout: 10s}}
escalation:
  - id: semua
    match: {{severity_at_least: info}}
    steps:
      - {{people: [andi], channels: [hook]}}
{extra}"""


@dataclass
class Serve:
    """``siaga serve`` as its own process."""

    config: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[str] | None = None
    log: Path | None = None

    def command(self) -> list[str]:
        return [sys.executable, "-m", "siaga", "serve", "--config", str(self.config), "--port", str(self.port),
                "--log-format", "text"]

    def ready(self, code: int, body: dict[str, Any]) -> bool:
        return code == 200 and body.get("components", {}).get("notify") == "running"

    def start(self) -> Serve:
        env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
        self.log = self.config.parent / "serve.log"
        out = self.log.open("a")
        self.proc = subprocess.Popen(self.command(), stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"siaga serve ended with {self.proc.returncode}: {self.tail()}")
            with contextlib.suppress(OSError, ValueError):
                if self.ready(*self.health()):
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"siaga serve did not come up: {self.tail()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text().splitlines()[-n:]) if self.log and self.log.exists() else ""

    def health(self) -> tuple[int, dict[str, Any]]:
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"{}")

    def wait_health(self, code: int, timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                got, body = self.health()
                if got == code:
                    return body
            time.sleep(0.2)
        raise AssertionError(f"/healthz never answered {code}: {body}")

    def push(self, sensor: str, value: object) -> int:
        import urllib.error
        import urllib.request

        data = json.dumps({"readings": [{"sensor": sensor, "value": value}]}).encode()
        req = urllib.request.Request(f"{self.url}/api/v1/readings", data=data, method="POST",
                                     headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return int(r.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


def write_site(work: Path, hook: Hook, store: str, extra: str = "") -> Path:
    (work / "leak.token").write_text(TOKEN + "\n")
    cfg = work / "siaga.yaml"
    cfg.write_text(site_yaml(hook.url, store, extra))
    return cfg


def count_in_store(url: str, subject: str) -> dict[str, Any]:
    """What the store holds of the alert on ``subject``: its rows (by id) and the pages about it."""
    from sqlalchemy import select

    from siaga.alerts.tables import alerts
    from siaga.notify.tables import notify_messages
    from siaga.store import create_engine_for

    engine = create_engine_for(url)
    try:
        with engine.connect() as conn:
            ids = [int(r.id) for r in conn.execute(select(alerts.c.id).where(alerts.c.subject == subject))]
            pages = [r for r in conn.execute(select(notify_messages).where(notify_messages.c.kind == "page"))
                     if set(ids) & {int(a) for a in r.alert_ids}]
    finally:
        engine.dispose()
    return {"alert_ids": ids, "page_ids": [int(p.id) for p in pages],
            "page_status": sorted(p.status for p in pages)}


# disk full ------------------------------------------------------------------------------------------------

@contextlib.contextmanager
def tmpfs(path: Path, size: str = "2m") -> Iterator[Path]:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        raise Skip("mounting a tmpfs needs root")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise Skip(f"cannot mount a tmpfs: {done.stderr.strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def fill(path: Path) -> Path:
    """Write zeros into ``path/filler`` until the file system is full (to the last block)."""
    filler = path / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        for size in (65536, 4096, 512, 1):
            with contextlib.suppress(OSError):
                while True:
                    os.write(fd, b"\0" * size)
    finally:
        os.close(fd)
    return filler


def disk_full(work: Path) -> dict[str, object]:
    hook = Hook()
    serve: Serve | None = None
    try:
        with tmpfs(work / "data") as data:
            cfg = write_site(work, hook, '{data_dir: data, spool_dir: spool, unavailable_after: 2s}')
            serve = Serve(cfg).start()
            serve.push("leak-r1-ceiling", False)  # a first request warms the push endpoint (not the store)
            filler = fill(data)
            t0 = time.monotonic()
            pushed = serve.push("leak-r1", True)
            push_s = time.monotonic() - t0
            pages = hook.wait(LEAK, 1, timeout=15)
            latency = pages[0][0] - t0 if pages else None
            paged_while_full = bool(pages)
            code, health = serve.health()
            store_alert = hook.wait(STORE, 1, timeout=15)
            spooled = sum(f.read_text().count("\n") for f in (work / "spool").glob("alerts.*.jsonl"))  # one per process
            filler.unlink()
            serve.wait_health(200, timeout=30)
            time.sleep(3)  # a page sent twice would come now
            counts = count_in_store(f"sqlite:///{data / 'siaga.db'}", "leak-r1")
            running = serve.running
            exit_code = serve.stop()
            return {
                "disk_full_push_status": pushed,
                "disk_full_page_latency_s": round(latency, 3) if latency is not None else None,
                "disk_full_paged_while_full": paged_while_full,
                "disk_full_push_answer_s": round(push_s, 3),
                "disk_full_health_status": code,
                "disk_full_health_reasons": [r.get("message", r.get("reason")) for r in health.get("reasons", [])],
                "disk_full_store_alert_paged": bool(store_alert),
                "disk_full_spooled_writes": spooled,
                "disk_full_pages_received": len(hook.pages(LEAK)),
                "disk_full_received": [f"{b.get('siaga_kind')} message {b.get('siaga_message')} alerts "
                                       f"{b.get('siaga_alerts')} at {t - t0:.2f}s" for t, b in hook.got],
                "disk_full_alert_rows": len(counts["alert_ids"]),
                "disk_full_page_rows": len(counts["page_ids"]),
                "disk_full_page_status": counts["page_status"],
                "disk_full_survived": running,
                "disk_full_exit_code": exit_code,
            }
    finally:
        if serve is not None:
            serve.stop()
        hook.close()


# PostgreSQL stopped and started again --------------------------------------------------------------------

def pg_restart(work: Path) -> dict[str, object]:
    from siaga.store.testserver import PostgresServer, pg_bindir

    bindir = pg_bindir()
    if bindir is None:
        raise Skip("PostgreSQL is not installed")
    pg = PostgresServer(bindir).start()
    hook = Hook()
    site = Hook()  # the watched web site: answers 200 all along
    serve: Serve | None = None
    try:
        checks = f"""services: [{{id: portal, name: Portal}}]
checks:
  - {{service: portal, type: http, url: "http://127.0.0.1:{site.port}/", method: POST, interval_s: 1,
     timeout_s: 1}}
"""
        cfg = write_site(work, hook, f'{{database_url: "{pg.url}", spool_dir: spool, unavailable_after: 2s}}', checks)
        serve = Serve(cfg).start()
        serve.push("leak-r1-ceiling", False)  # a first request warms the push endpoint (not the store)
        pg.stop()
        time.sleep(3)  # checks and sensing run into the stopped store
        t0 = time.monotonic()
        pushed = serve.push("leak-r1", True)
        during = hook.wait(LEAK, 1, timeout=15)
        down_code, down_health = serve.health()
        pg.start()
        serve.wait_health(200, timeout=60)
        time.sleep(3)
        counts = count_in_store(pg.url, "leak-r1")
        pages = hook.pages(LEAK)
        running = serve.running
        survived = (running and len(pages) == 1 and len(counts["alert_ids"]) == 1
                    and len(counts["page_ids"]) == 1)
        exit_code = serve.stop()
        return {
            "pg_restart_survived": survived,
            "pg_restart_push_status": pushed,
            "pg_restart_page_latency_s": round(during[0][0] - t0, 3) if during else None,
            "pg_restart_health_while_down": down_code,
            "pg_restart_health_reasons": [r.get("message", r.get("reason")) for r in down_health.get("reasons", [])],
            "pg_restart_pages_received": len(pages),
            "pg_restart_alert_rows": len(counts["alert_ids"]),
            "pg_restart_page_rows": len(counts["page_ids"]),
            "pg_restart_page_status": counts["page_status"],
            "pg_restart_exit_code": exit_code,
        }
    finally:
        if serve is not None:
            serve.stop()
        hook.close()
        site.close()
        pg.remove()
