"""The crash-only runtime against a real ``siaga serve`` (a scenario of ``bench/faults.py``).

- ``crash_loop``: serve (SQLite, paging to a real webhook receiver) with one more component that raises
  at every start (``bench/crashing_serve.py``), under a real sd_notify socket with a watchdog. Figures:
  ``crash_loop_ready_s`` (start -> READY=1, the web server serving), ``crash_loop_survived`` (still
  serving after the crash loop), ``crash_loop_restarts`` and ``crash_loop_pauses_s`` (the backoff),
  ``crash_loop_degraded_page_s`` (first failure -> "siaga terganggu" at the webhook, with
  ``runtime.degraded_page_after: 0s``), ``crash_loop_resolved_page_s`` (the trouble over -> the
  resolution at the webhook), ``crash_loop_watchdog_pings`` (WATCHDOG=1 received while it ran),
  ``crash_loop_exit_s`` (SIGTERM -> exit) and ``crash_loop_exit_code``.

    PYTHONPATH=src .venv/bin/python bench/faults.py crash_loop
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from store_faults import Hook, free_port

ROOT = Path(__file__).resolve().parents[1]
RUNNER = Path(__file__).resolve().parent / "crashing_serve.py"
DEGRADED = "siaga terganggu"  # the degraded page's words (the site speaks Bahasa Indonesia)


def _health(port: int) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
            return int(r.status), json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), json.loads(exc.read() or b"{}")


def _datagrams(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode())
        except BlockingIOError:
            return out


def crash_loop(work: Path, crash_for_s: float = 6.0) -> dict[str, object]:
    """The drill; ``crash_for_s``: how long the component keeps crashing after its first page."""
    hook = Hook()
    (work / "crash").write_text("sensor bus driver crashed\n")
    config = work / "siaga.yaml"
    config.write_text(f"""
site: {{name: Uji Gangguan, timezone: Asia/Makassar, language: id}}
store: {{data_dir: data}}
runtime: {{degraded_page_after: 0s, healthy_after: 1s, restart_max_pause: 4s}}
people: [{{id: andi, name: Andi, contacts: {{hook: ""}}}}]
notification:
  channels: {{hook: {{type: webhook, url: "{hook.url}"}}}}
  delivery: {{attempts: 3, backoff: 0.2s, backoff_max: 1s, timeout: 2s}}
escalation:
  - id: semua
    match: {{severity_at_least: info}}
    steps: [{{people: [andi], channels: [hook]}}]
""")
    notify_path = f"/tmp/siaga-sd-{os.getpid()}-{time.monotonic_ns()}"  # sun_path holds 108 bytes: not in work
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(notify_path)
    sock.setblocking(False)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
           "NOTIFY_SOCKET": notify_path, "WATCHDOG_USEC": "2000000"}
    env.pop("WATCHDOG_PID", None)
    log = work / "serve.log"
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, str(RUNNER), "serve", "--config", str(config), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, text=True, env=env)
    messages: list[tuple[float, str]] = []

    def receive() -> None:
        messages.extend((time.monotonic(), m) for m in _datagrams(sock))

    def first(line: str) -> float | None:
        return next((t for t, m in messages if line in m.splitlines()), None)

    try:
        deadline = started + 60
        while first("READY=1") is None and time.monotonic() < deadline and proc.poll() is None:
            receive()
            time.sleep(0.01)
        ready_at = first("READY=1")
        pages = hook.wait(DEGRADED, 1, timeout=30)
        paged_wall = time.time() - (time.monotonic() - pages[0][0]) if pages else None
        time.sleep(crash_for_s)  # more restarts: pauses of 1, 2, 4, 4 s
        code, body = _health(port)
        reason = next((r for r in body.get("reasons", []) if r.get("component") == "faults.crashing"), {})
        (work / "crash").unlink()
        over = time.monotonic()
        resolved_at = None
        while resolved_at is None and time.monotonic() < over + 30:
            with hook.cond:
                resolved_at = next((t for t, b in hook.got if b.get("siaga_kind") == "resolved"), None)
                if resolved_at is None:
                    hook.cond.wait(0.05)
        survived = proc.poll() is None and _health(port)[0] == 200
        receive()
        asked = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        exit_code = proc.wait(30)
        exited = time.monotonic()
        receive()
        failures = [json.loads(line) for line in log.read_text().splitlines()
                    if line.startswith("{") and '"component failed; restarting"' in line]
        failed_wall = dt.datetime.fromisoformat(failures[0]["ts"]).timestamp() if failures else None
        return {
            "crash_loop_ready_s": round(ready_at - started, 3) if ready_at else None,
            "crash_loop_survived": survived,
            "crash_loop_health_while_crashing": code,
            "crash_loop_restarts": reason.get("restarts"),
            "crash_loop_health_reason": reason,
            "crash_loop_page": f"{pages[0][1].get('title')}\n{pages[0][1].get('message')}" if pages else None,
            "crash_loop_pauses_s": [f["pause_s"] for f in failures],
            "crash_loop_degraded_page_s": round(paged_wall - failed_wall, 3) if paged_wall and failed_wall else None,
            "crash_loop_resolved_page_s": round(resolved_at - over, 3) if resolved_at else None,
            "crash_loop_watchdog_pings": sum("WATCHDOG=1" in m.splitlines() for _t, m in messages),
            "crash_loop_stopping_sent": first("STOPPING=1") is not None,
            "crash_loop_exit_s": round(exited - asked, 3),
            "crash_loop_exit_code": exit_code,
        }
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        hook.close()
        sock.close()
        os.unlink(notify_path)
