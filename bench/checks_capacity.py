"""How many HTTP checks a second siaga keeps up with, and how late they start, against a local nginx.

Starts Debian's nginx (generated config, free loopback port, one worker) — or, without nginx, a small
aiohttp server in another process — configures 10,000 HTTP checks (one path each, keyword asserted),
and runs the real checks engine (scheduler, confirmation, batched writes to a SQLite store) in this
process for two phases:

1. capacity: all endpoints at a short interval so demand exceeds supply; completed checks per second.
2. schedule: all endpoints at the issue's 60 s interval; how long the first round (every check at once at
   start) takes; then schedule lag (start - due) of the spread later rounds p50/p99 and CPU.

Prints one JSON object. Usage: .venv/bin/python bench/checks_capacity.py [--endpoints 10000]
[--capacity-s 20] [--schedule-s 90] [--concurrency 512] [--per-host 64]
Targets (issue 5): >= 1,000 checks/s on 2 cores; lag p99 < 2 s at 10,000 endpoints/min.
Anchors: Uptime Kuma ~500-1,000 monitors; blackbox_exporter ~1,000 checks per core per second.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

from siaga.checks.engine import ChecksEngine
from siaga.config import LoadedConfig, parse_config
from siaga.runtime.context import RuntimeContext
from siaga.store import create_engine_for, sqlite_url, upgrade

NGINX_CONF = """
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log crit;
daemon off;
events {{ worker_connections 8192; }}
http {{
  access_log off;
  client_body_temp_path {root}/body; proxy_temp_path {root}/proxy; fastcgi_temp_path {root}/fcgi;
  uwsgi_temp_path {root}/uwsgi; scgi_temp_path {root}/scgi;
  keepalive_requests 1000000; keepalive_timeout 120s;
  server {{
    listen 127.0.0.1:{port} backlog=4096;
    default_type text/html;
    location / {{ return 200 "<html><body>Portal Kota Bontang ok</body></html>"; }}
  }}
}}
"""

FALLBACK_SERVER = """
import sys
from aiohttp import web
async def ok(_r): return web.Response(text="<html><body>Portal Kota Bontang ok</body></html>")
app = web.Application(); app.router.add_get("/{tail:.*}", ok)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(root: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    port = free_port()
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx:
        conf = root / "nginx.conf"
        conf.write_text(NGINX_CONF.format(root=root, port=port))
        proc = subprocess.Popen([nginx, "-c", str(conf), "-p", str(root)], stderr=subprocess.DEVNULL)
        kind = "nginx"
    else:
        script = root / "server.py"
        script.write_text(FALLBACK_SERVER)
        proc = subprocess.Popen([sys.executable, str(script), str(port)])
        kind = "aiohttp (nginx not installed)"
    for _ in range(100):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return proc, port, kind
        except OSError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit(f"the local web server did not start on port {port}")


def site(port: int, n: int, interval: float) -> str:
    lines = ["site: {name: Bench, timezone: Asia/Makassar}", "services:"]
    lines += [f"  - {{id: s{i}, name: Service {i}, group: G{i % 50}}}" for i in range(n)]
    lines.append("checks:")
    lines += [
        f"  - {{service: s{i}, type: http, url: 'http://127.0.0.1:{port}/site/{i}', keyword: Bontang, "
        f"interval_s: {interval}, timeout_s: 10}}"
        for i in range(n)
    ]
    return "\n".join(lines) + "\n"


async def phase(
    cfg_text: str, root: Path, seconds: float, warmup: float, concurrency: int, per_host: int
) -> dict[str, float | int | None]:
    cfg = parse_config(cfg_text, "bench.yaml")
    loaded = LoadedConfig(cfg, root / "bench.yaml")
    db = create_engine_for(sqlite_url(root / f"bench-{time.monotonic_ns()}.db"))
    upgrade(db)
    rt = RuntimeContext(loaded=loaded, engine=db)
    engine = ChecksEngine(cfg, base_dir=root, concurrency=concurrency, per_host=per_host, flush_s=2.0,
                          daily_s=1e9)
    stop = asyncio.Event()
    task = asyncio.create_task(engine.run(rt, stop))
    proc = psutil.Process()
    started = time.perf_counter()
    await asyncio.sleep(warmup)
    assert engine.scheduler is not None
    sched = engine.scheduler
    # every check runs once at start (the status page knows each service at once): the first round is
    # timed on its own, lag is sampled from the later, spread rounds
    while sched.completed < len(engine.checks):  # noqa: ASYNC110 -- a bench polling a counter, no event to wait on
        await asyncio.sleep(0.1)
    first_round = time.perf_counter() - started
    sched.lags.clear()
    done0, cpu0, t0 = sched.completed, proc.cpu_times(), time.perf_counter()
    rss_max = proc.memory_info().rss
    while time.perf_counter() - t0 < seconds:
        await asyncio.sleep(1.0)
        rss_max = max(rss_max, proc.memory_info().rss)
    done1, cpu1, t1 = sched.completed, proc.cpu_times(), time.perf_counter()
    failures = sum(1 for r in engine.last_results.values() if not r.ok)
    stop.set()
    await task
    db.dispose()
    wall = t1 - t0
    cpu = (cpu1.user - cpu0.user) + (cpu1.system - cpu0.system)
    return {
        "first_round_s": round(first_round, 2),
        "checks": done1 - done0,
        "seconds": round(wall, 2),
        "checks_per_s": round((done1 - done0) / wall, 1),
        "cpu_percent_of_one_core": round(100 * cpu / wall, 1),
        "checks_per_cpu_s": round((done1 - done0) / cpu, 1) if cpu else None,
        "rss_mb": round(rss_max / 2**20, 1),
        "lag_p50_s": _round(sched.lag_percentile(0.5)),
        "lag_p99_s": _round(sched.lag_percentile(0.99)),
        "lag_max_s": _round(max(sched.lags) if sched.lags else None),
        "failed_checks_at_end": failures,
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 3)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--endpoints", type=int, default=10_000)
    ap.add_argument("--capacity-s", type=float, default=20.0)
    ap.add_argument("--schedule-s", type=float, default=90.0)
    ap.add_argument("--concurrency", type=int, default=512)
    ap.add_argument("--per-host", type=int, default=64)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="siaga-bench-checks-"))
    server, port, kind = start_server(root)
    try:
        capacity = await phase(site(port, args.endpoints, 2.0), root, args.capacity_s, 12.0,
                               args.concurrency, args.per_host)
        schedule = await phase(site(port, args.endpoints, 60.0), root, args.schedule_s, 5.0,
                               args.concurrency, args.per_host)
    finally:
        server.terminate()
        server.wait(10)
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps({
        "bench": "checks_capacity",
        "server": kind,
        "endpoints": args.endpoints,
        "cores": os.cpu_count(),
        "concurrency": args.concurrency,
        "per_host": args.per_host,
        "capacity_interval_2s": capacity,
        "schedule_interval_60s": schedule,
        "targets": {"checks_per_s": 1000, "lag_p99_s": 2.0},
        "met": {
            "checks_per_s": bool(capacity["checks_per_s"] and capacity["checks_per_s"] >= 1000),
            "lag_p99_s": bool(schedule["lag_p99_s"] is not None and schedule["lag_p99_s"] < 2.0),
        },
    }, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
