"""Dashboard server time on the Bontang site with 30 days of readings every 10 s for 50 sensors (SQLite).

Prints JSON: p50/p95 of the overview page, the room map page and fragment, and 30 days of one sensor's
chart data (the API call and the query alone). Targets: pages p95 < 100 ms, chart data < 50 ms.

    PYTHONPATH=src .venv/bin/python bench/dashboard.py [--days 30] [--sensors 50] [--runs 40] [--db PATH]

The readings are written straight into the readings tables (raw, 1-minute and 1-hour rollups, the
rollup watermark) as the readings writer and rollup maintainer leave them; building them takes minutes.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import random
import shutil
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from fastapi import FastAPI  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402

from siaga.config import load_config  # noqa: E402
from siaga.store import create_engine_for, sqlite_url, upgrade  # noqa: E402
from siaga.web.auth import accounts, passwords  # noqa: E402
from siaga.web.dashboard import Dashboard, install  # noqa: E402

EXAMPLE = ROOT / "src" / "siaga" / "examples" / "bontang.yaml"
STEP_MS = 10_000
NOW = dt.datetime(2026, 7, 16, 0, 0, tzinfo=dt.UTC)


class Ctx:
    def __init__(self, loaded: object, engine: object) -> None:
        self.loaded = loaded
        self.engine = engine
        self.services: dict[str, object] = {}

    def clock(self) -> dt.datetime:
        return NOW


def site_config(folder: Path, sensors: int) -> Path:
    """The Bontang example with extra rack temperature probes up to ``sensors`` sensors."""
    text = EXAMPLE.read_text(encoding="utf-8")
    cfg = load_config(EXAMPLE).config
    extra = max(0, sensors - len(cfg.sensors))
    racks = [r.id for r in cfg.racks]
    lines = [f"  - {{id: temp-extra-{i:02d}, kind: temperature, rack: {racks[i % len(racks)]}, zone: exhaust}}"
             for i in range(extra)]
    text = text.replace("\nsensors:\n", "\nsensors:\n" + "\n".join(lines) + "\n", 1)
    out = folder / "siaga.yaml"
    out.write_text(text, encoding="utf-8")
    return out


def fill(db: Path, sensor_ids: list[str], days: int) -> dict[str, float]:
    """Raw readings every 10 s, the rollups and the watermark, straight into SQLite."""
    con = sqlite3.connect(db)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    end = int(NOW.timestamp() * 1000)
    start = end - days * 86_400_000
    t0 = time.perf_counter()
    rng = random.Random(7)
    con.execute("DROP INDEX IF EXISTS ix_readings_sensor_ts")
    con.execute("DROP INDEX IF EXISTS ix_readings_ts")
    for sensor in sensor_ids:
        base = 22.0 + rng.random() * 4
        leak = sensor.startswith(("leak", "smoke", "door", "ups1-on"))
        rows = ((sensor, ts, 0.0 if leak else round(base + 2 * math.sin(ts / 3_600_000), 2))
                for ts in range(start, end, STEP_MS))
        con.executemany("INSERT INTO readings (sensor, ts, value) VALUES (?, ?, ?)", rows)
        con.execute("INSERT OR REPLACE INTO sensor_last (sensor, ts, value, received_at) VALUES (?, ?, ?, ?)",
                    (sensor, end - STEP_MS, 0.0 if leak else base, NOW.replace(tzinfo=None).isoformat(" ")))
    con.commit()
    t_raw = time.perf_counter() - t0
    con.execute("CREATE INDEX ix_readings_sensor_ts ON readings (sensor, ts)")
    con.execute("CREATE INDEX ix_readings_ts ON readings (ts)")
    t_index = time.perf_counter() - t0 - t_raw
    for table, step in (("readings_1m", 60_000), ("readings_1h", 3_600_000)):
        con.execute(f"INSERT INTO {table} (sensor, bucket, min, max, sum, count) "
                    f"SELECT sensor, ts - (ts % {step}), MIN(value), MAX(value), SUM(value), COUNT(*) "
                    f"FROM readings GROUP BY sensor, ts - (ts % {step})")
    con.execute("INSERT OR REPLACE INTO meta (key, value, updated_at) VALUES (?, ?, ?)",
                ("readings.rollup_through_ms", str(end), NOW.replace(tzinfo=None).isoformat(" ")))
    con.commit()
    rows = con.execute("SELECT COUNT(*) FROM readings").fetchone()[0]
    con.close()
    return {"raw_rows": rows, "raw_insert_s": round(t_raw, 1), "index_s": round(t_index, 1),
            "rollups_s": round(time.perf_counter() - t0 - t_raw - t_index, 1)}


def timed(client: TestClient, path: str, runs: int, headers: dict[str, str] | None = None) -> dict[str, float]:
    for _ in range(3):  # warm up
        assert client.get(path, headers=headers).status_code == 200, path
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        r = client.get(path, headers=headers)
        samples.append((time.perf_counter() - t) * 1000)
        assert r.status_code == 200, (path, r.status_code)
    samples.sort()
    return {"p50_ms": round(statistics.median(samples), 1),
            "p95_ms": round(samples[min(len(samples) - 1, math.ceil(0.95 * len(samples)) - 1)], 1),
            "max_ms": round(samples[-1], 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--sensors", type=int, default=50)
    ap.add_argument("--runs", type=int, default=40)
    ap.add_argument("--db", type=Path, default=None, help="Keep (or reuse) the filled database here.")
    args = ap.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="siaga-bench-web-"))
    cfg_path = site_config(folder, args.sensors)
    loaded = load_config(cfg_path)
    sensor_ids = [s.id for s in loaded.config.sensors][: args.sensors]
    db = args.db or folder / "siaga.db"
    info: dict[str, float] = {}
    engine = create_engine_for(sqlite_url(db))
    if not (args.db and args.db.exists() and args.db.stat().st_size > 1_000_000):
        upgrade(engine)
        info = fill(db, sensor_ids, args.days)
    else:
        upgrade(engine)
    passwords.set_hasher(passwords.PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    with engine.begin() as conn:
        if accounts.get_user(conn, "bench") is None:
            accounts.add_user(conn, "bench", "bench-password-1", "viewer", NOW)
        secret, _ = accounts.create_token(conn, "bench", ["read"], NOW, actor="bench")
    ctx = Ctx(loaded, engine)
    dash = Dashboard(ctx)
    ctx.services.dashboard = dash
    app = install(FastAPI(), ctx)
    h = {"Authorization": f"Bearer {secret}"}
    with TestClient(app) as client:
        result = {
            "sensors": len(sensor_ids),
            "days": args.days,
            **info,
            "overview": timed(client, "/", args.runs, h),
            "room_map_page": timed(client, "/room", args.runs, h),
            "room_map_fragment": timed(client, "/fragments/room/ruang-server", args.runs, h),
            "chart_30d_api": timed(client, "/api/v1/sensors/temp-r1-top/readings?since=30d", args.runs, h),
            "chart_7d_api": timed(client, "/api/v1/sensors/temp-r1-top/readings?since=7d", args.runs, h),
            "chart_1h_api": timed(client, "/api/v1/sensors/temp-r1-top/readings?since=1h", args.runs, h),
        }
    from siaga.web import queries

    samples = []
    with engine.connect() as conn:
        for _ in range(args.runs):
            t = time.perf_counter()
            s = queries.series(conn, "temp-r1-top", NOW - dt.timedelta(days=30), NOW)
            samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    result["chart_30d_query"] = {"p50_ms": round(statistics.median(samples), 1),
                                 "p95_ms": round(samples[math.ceil(0.95 * len(samples)) - 1], 1),
                                 "points": len(s.ts) if s else 0, "resolution": s.resolution if s else None}
    result["targets"] = {"pages_p95_under_100ms": max(result["overview"]["p95_ms"],
                                                        result["room_map_page"]["p95_ms"]) < 100,
                         "chart_30d_under_50ms": result["chart_30d_api"]["p95_ms"] < 50}
    print(json.dumps(result, indent=2))
    engine.dispose()
    if args.db is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
