"""Server time of the public status page and the services list with 10,000 services and 90 days of history.

Builds a SQLite store with 10,000 services (50 groups of 200) and 90 days of per-service daily
tallies (900,000 rows, some outages), puts the real app (``create_app`` with every router) in front
of it, and requests the pages in-process through ASGI (server time, no network) for ``--seconds``:
``/status`` (id, en), ``/status/services`` pages, ``/api/v1/status`` and ``/api/v1/status/services``.
The snapshot is rebuilt in the background every 10 s as in production, so its cost shows in the figures.

Prints one JSON object. Target (issue 5): p95 < 200 ms.
Usage: .venv/bin/python bench/status_page.py [--services 10000] [--seconds 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from sqlalchemy import insert

from siaga.checks.tables import check_states, service_daily
from siaga.config import LoadedConfig, parse_config
from siaga.runtime.context import RuntimeContext
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.web.app import create_app


def site(n: int) -> str:
    lines = ["site: {name: Bench, timezone: Asia/Makassar}", "services:"]
    lines += [f"  - {{id: s{i}, name: Layanan {i}, group: Kelompok {i % 50}}}" for i in range(n)]
    return "\n".join(lines) + "\n"


def seed(engine: object, n: int, today: dt.date) -> float:
    rng = random.Random(5)
    started = time.perf_counter()
    rows = []
    for i in range(n):
        for d in range(90):
            day = today - dt.timedelta(days=89 - d)
            down = rng.choice([0.0] * 40 + [60.0, 600.0, 7200.0])
            rows.append({"service": f"s{i}", "day": day, "up_s": 86400 - down, "down_s": down,
                         "unknown_s": 0.0, "maintenance_s": 0.0})
    with engine.begin() as conn:  # type: ignore[attr-defined]
        for k in range(0, len(rows), 50_000):
            conn.execute(insert(service_daily), rows[k:k + 50_000])
        conn.execute(insert(check_states), [
            {"check_id": f"s{i}-http", "service": f"s{i}", "status": "down" if i % 997 == 0 else "up",
             "since": dt.datetime.now(dt.UTC), "fails": 0, "oks": 1, "streak_at": None, "last_at": None,
             "message": "", "latency_ms": 3.0}
            for i in range(n)
        ])
    return time.perf_counter() - started


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10_000)
    ap.add_argument("--seconds", type=float, default=20.0)
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="siaga-bench-status-"))
    try:
        db = create_engine_for(sqlite_url(root / "siaga.db"))
        upgrade(db)
        today = dt.datetime.now(dt.UTC).astimezone(__import__("zoneinfo").ZoneInfo("Asia/Makassar")).date()
        seed_s = seed(db, args.services, today)
        cfg = parse_config(site(args.services), "bench.yaml")
        ctx = RuntimeContext(loaded=LoadedConfig(cfg, root / "bench.yaml"), engine=db)
        app = create_app(ctx)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            t0 = time.perf_counter()
            first = await client.get("/status")
            cold_ms = (time.perf_counter() - t0) * 1000
            assert first.status_code == 200, first.text[:200]
            size_kb = len(first.content) / 1024
            urls = {
                "/status": lambda: "/status",
                "/status?lang=en": lambda: "/status?lang=en",
                "/status/services": lambda: f"/status/services?page={random.randint(1, args.services // 100)}",
                "/status/services?group": lambda: f"/status/services?group=Kelompok%20{random.randint(0, 49)}&page=2",
                "/api/v1/status": lambda: "/api/v1/status",
                "/api/v1/status/services": lambda: f"/api/v1/status/services?page={random.randint(1, 100)}",
            }
            times: dict[str, list[float]] = {k: [] for k in urls}
            end = time.perf_counter() + args.seconds
            while time.perf_counter() < end:
                for name, make in urls.items():
                    t = time.perf_counter()
                    r = await client.get(make())
                    times[name].append((time.perf_counter() - t) * 1000)
                    assert r.status_code == 200, (name, r.status_code)
                await asyncio.sleep(0)
        snap = ctx.services.status_cache.snapshot  # type: ignore[union-attr]
        all_times = [x for v in times.values() for x in v]
        print(json.dumps({
            "bench": "status_page",
            "services": args.services,
            "daily_rows": args.services * 90,
            "seed_s": round(seed_s, 1),
            "first_request_ms_cold_snapshot": round(cold_ms, 1),
            "snapshot_build_ms": snap.build_ms if snap else None,
            "status_page_kb": round(size_kb, 1),
            "requests": len(all_times),
            "p95_ms": {k: pct(v, 0.95) for k, v in times.items()},
            "p50_ms": {k: round(statistics.median(v), 2) for k, v in times.items()},
            "p95_ms_all": pct(all_times, 0.95),
            "target_p95_ms": 200,
            "met": pct(all_times, 0.95) < 200,
        }, indent=2))
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    asyncio.run(main())
