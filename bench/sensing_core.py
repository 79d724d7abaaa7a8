"""Benchmark of the sensing core, in one process (no broker): what the ingest path and the store cost.

Prints one JSON object:
- ``ingest``: readings/s through validation + rules + buffering (batches of 100, the Bontang sensors,
  values that move but stay normal), no storage in the loop;
- ``leak_to_alert``: from ``ingest()`` of a wet reading to the Transition in a subscriber's queue,
  alert stored (SQLite), p50/p99 over 200 trials, idle and while 10,000 readings/s are ingested;
- ``store``: rows/s of one bulk write of 100,000 readings: SQLite executemany, PostgreSQL COPY and
  PostgreSQL executemany (a throwaway server started here when SIAGA_BENCH_DATABASE_URL is not set).

Run: .venv/bin/python bench/sensing_core.py
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import glob
import json
import os
import pwd
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from sqlalchemy import Engine, insert

from siaga.alerts.impact import impact_resolver
from siaga.alerts.manager import AlertManager
from siaga.config import load_config
from siaga.readings.tables import readings
from siaga.readings.writer import write_rows
from siaga.rules.engine import RulesEngine
from siaga.sources.ingest import Ingest, to_ms
from siaga.sources.reading import RawReading
from siaga.store import create_engine_for, sqlite_url, upgrade

EXAMPLE = Path(__file__).resolve().parents[1] / "src" / "siaga" / "examples" / "bontang.yaml"
NUMERIC = {"temperature": 23.0, "humidity": 50.0, "ups_battery_charge": 100.0, "ups_runtime": 3000.0,
           "ups_load": 40.0}


def _batches(cfg: object, n_batches: int, size: int = 100) -> list[list[RawReading]]:
    sensors = [s for s in cfg.sensors if s.kind in NUMERIC and not s.id.startswith("temp-r4")]  # type: ignore[attr-defined]
    out = []
    k = 0
    for _ in range(n_batches):
        batch = []
        for _ in range(size):
            s = sensors[k % len(sensors)]
            batch.append(RawReading(s.id, NUMERIC[s.kind] + (k % 7) * 0.1, source="bench"))
            k += 1
        out.append(batch)
    return out


def _sqlite_engine(folder: Path) -> Engine:
    engine = create_engine_for(sqlite_url(folder / "bench.db"))
    upgrade(engine)
    return engine


def bench_ingest(folder: Path) -> dict[str, float]:
    loaded = load_config(EXAMPLE)
    cfg = loaded.config
    engine = _sqlite_engine(folder)
    manager = AlertManager(engine, impact_of=impact_resolver(cfg))
    ingest = Ingest(cfg, rules=RulesEngine(cfg, now=dt.datetime.now(dt.UTC)), alerts=manager)
    batches = _batches(cfg, 3000)
    t0 = time.perf_counter()
    for b in batches:
        ingest.ingest(b)
    elapsed = time.perf_counter() - t0
    n = sum(len(b) for b in batches)
    return {"readings": n, "seconds": round(elapsed, 3), "readings_per_s": round(n / elapsed)}


async def _latency(ingest: Ingest, manager: AlertManager, trials: int, load: bool) -> list[float]:
    queue = manager.subscribe()
    stop = asyncio.Event()
    cfg = ingest.config

    async def background() -> None:  # 10,000 readings/s in batches of 100
        batches = _batches(cfg, 100)
        i = 0
        while not stop.is_set():
            t = time.perf_counter()
            for _ in range(10):
                ingest.ingest(batches[i % len(batches)])
                i += 1
            await asyncio.sleep(max(0.0, 0.1 - (time.perf_counter() - t)))

    task = asyncio.create_task(background()) if load else None
    out = []
    for i in range(trials):
        sensor = "leak-r1-ceiling" if i % 2 == 0 else "leak-r2-floor"
        await asyncio.sleep(0.005)
        t0 = time.perf_counter()
        ingest.ingest([RawReading(sensor, True, source="bench")])
        while True:
            t = await queue.get()
            if t.event == "firing" and t.alert.subject == sensor:
                break
        out.append((time.perf_counter() - t0) * 1000)
        ingest.ingest([RawReading(sensor, False, source="bench")])
        while not queue.empty():
            queue.get_nowait()
    stop.set()
    if task is not None:
        await task
    manager.unsubscribe(queue)
    return out


def bench_latency(folder: Path) -> dict[str, dict[str, float]]:
    cfg = load_config(EXAMPLE).config
    engine = _sqlite_engine(folder)
    # A flapping leak would be held firing: switch flapping off for repeated trials on two sensors.
    from siaga.config.loader import parse_config

    cfg = parse_config(EXAMPLE.read_text().replace("flapping: {changes: 6, window: 30m}", "flapping: {enabled: false}"))
    manager = AlertManager(engine, impact_of=impact_resolver(cfg))
    ingest = Ingest(cfg, rules=RulesEngine(cfg, now=dt.datetime.now(dt.UTC)), alerts=manager)

    def stats(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        return {"trials": len(xs), "p50_ms": round(statistics.median(xs), 2),
                "p99_ms": round(xs[int(len(xs) * 0.99) - 1], 2), "max_ms": round(xs[-1], 2)}

    idle = asyncio.run(_latency(ingest, manager, 200, False))
    loaded = asyncio.run(_latency(ingest, manager, 200, True))
    return {"idle": stats(idle), "loaded_10k_per_s": stats(loaded)}


def _rows(n: int) -> list[tuple[str, int, float]]:
    base = to_ms(dt.datetime.now(dt.UTC))
    return [(f"sensor-{i % 200}", base + i, 20.0 + (i % 50) / 10) for i in range(n)]


def _write_executemany(engine: Engine, rows: list[tuple[str, int, float]]) -> None:
    with engine.begin() as conn:
        conn.execute(insert(readings), [{"sensor": s, "ts": t, "value": v} for s, t, v in rows])


def bench_store(folder: Path, pg_url: str | None) -> dict[str, float | str]:
    rows = _rows(100_000)
    out: dict[str, float | str] = {}
    engine = _sqlite_engine(folder)
    t0 = time.perf_counter()
    write_rows(engine, rows)
    out["sqlite_executemany_rows_per_s"] = round(len(rows) / (time.perf_counter() - t0))
    if pg_url is None:
        out["postgresql"] = "skipped: no PostgreSQL binaries and no SIAGA_BENCH_DATABASE_URL"
        return out
    pg = create_engine_for(pg_url)
    upgrade(pg)
    t0 = time.perf_counter()
    write_rows(pg, rows)
    out["postgresql_copy_rows_per_s"] = round(len(rows) / (time.perf_counter() - t0))
    t0 = time.perf_counter()
    _write_executemany(pg, rows)
    out["postgresql_executemany_rows_per_s"] = round(len(rows) / (time.perf_counter() - t0))
    pg.dispose()
    return out


@contextlib.contextmanager
def postgres() -> Iterator[str | None]:
    given = os.environ.get("SIAGA_BENCH_DATABASE_URL")
    if given:
        yield given
        return
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    if not found:
        yield None
        return
    bindir = Path(found[-1]).parent
    root = Path(tempfile.mkdtemp(prefix="siaga-bench-pg-"))
    prefix: list[str] = []
    if os.geteuid() == 0:
        user = pwd.getpwnam("postgres")
        os.chown(root, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    data = root / "data"
    subprocess.run([*prefix, str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres",
                    "--no-sync"], check=True, capture_output=True)
    subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-o",
                    f"-p {port} -k {root} -c listen_addresses=127.0.0.1", "-l", str(root / "log"), "-w",
                    "start"], check=True, capture_output=True)
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        result: dict[str, object] = {"ingest": bench_ingest(folder / "a")}
        result["leak_to_alert"] = bench_latency(folder / "b")
        with postgres() as pg_url:
            result["store"] = bench_store(folder / "c", pg_url)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
