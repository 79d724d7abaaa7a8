"""The store and the runtime: event write rates (siaga's layer against raw sqlite3), concurrent writers
on SQLite WAL, and how long `siaga serve` takes to answer /healthz and to stop. Prints JSON.

    PYTHONPATH=src python bench/store_runtime.py [--events 5000] [--threads 4] [--postgres URL]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from siaga.store import create_engine_for, events, record_event, sqlite_url, upgrade


def _rate(n: int, seconds: float) -> float:
    return round(n / seconds, 1) if seconds > 0 else float("inf")


def siaga_single(url: str, n: int) -> float:
    engine = create_engine_for(url)
    upgrade(engine)
    t0 = time.perf_counter()
    for i in range(n):
        with engine.begin() as conn:
            record_event(conn, "bench.single", subject=f"s{i % 50}", data={"i": i})
    took = time.perf_counter() - t0
    engine.dispose()
    return _rate(n, took)


def siaga_batch(url: str, n: int) -> float:
    engine = create_engine_for(url)
    upgrade(engine)
    now = dt.datetime.now(dt.UTC)
    rows = [{"at": now, "kind": "bench.batch", "subject": f"s{i % 50}", "data": {"i": i}} for i in range(n)]
    t0 = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(events), rows)
    took = time.perf_counter() - t0
    engine.dispose()
    return _rate(n, took)


def raw_sqlite_single(path: Path, n: int) -> float:
    """The anchor: stdlib sqlite3, same pragmas, same table shape, one transaction per row."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE ev (id INTEGER PRIMARY KEY, at TEXT, kind TEXT, subject TEXT, actor TEXT, data TEXT)")
    t0 = time.perf_counter()
    for i in range(n):
        conn.execute("BEGIN")
        conn.execute(
            "INSERT INTO ev (at, kind, subject, data) VALUES (?, ?, ?, ?)",
            (dt.datetime.now(dt.UTC).isoformat(), "bench.single", f"s{i % 50}", json.dumps({"i": i})),
        )
        conn.execute("COMMIT")
    took = time.perf_counter() - t0
    conn.close()
    return _rate(n, took)


def concurrent_writers(url: str, threads: int, per_thread: int) -> dict[str, Any]:
    engine = create_engine_for(url, pool_size=threads)
    upgrade(engine)
    errors: list[str] = []

    def work(k: int) -> None:
        for i in range(per_thread):
            try:
                with engine.begin() as conn:
                    record_event(conn, "bench.concurrent", subject=f"t{k}", data={"i": i})
            except Exception as exc:  # counted, not raised: the figure is how many fail
                errors.append(type(exc).__name__)

    t0 = time.perf_counter()
    pool = [threading.Thread(target=work, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    took = time.perf_counter() - t0
    engine.dispose()
    return {"threads": threads, "events": threads * per_thread, "per_s": _rate(threads * per_thread, took),
            "errors": len(errors)}


def serve_timings(tmp: Path) -> dict[str, float]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp / "serve" / "siaga.yaml"
    cfg.parent.mkdir()
    cfg.write_text("site: {name: Bench}\n", encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = str(Path(__file__).resolve().parents[1] / "src")
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "siaga", "serve", "--config", str(cfg), "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    while True:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as resp:
                if resp.status == 200:
                    break
        except OSError:
            time.sleep(0.02)
    ready = time.perf_counter() - t0
    t1 = time.perf_counter()
    proc.send_signal(signal.SIGTERM)
    code = proc.wait(30)
    stopped = time.perf_counter() - t1
    return {"start_to_healthy_s": round(ready, 3), "sigterm_to_exit_s": round(stopped, 3), "exit_code": code}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=5000)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--postgres", help="a PostgreSQL URL to measure too (an empty database)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        out: dict[str, Any] = {
            "events": args.events,
            "sqlite": {
                "siaga_one_tx_per_event_per_s": siaga_single(sqlite_url(tmp / "a.db"), args.events),
                "raw_sqlite3_one_tx_per_event_per_s": raw_sqlite_single(tmp / "raw.db", args.events),
                "siaga_batch_insert_per_s": siaga_batch(sqlite_url(tmp / "b.db"), args.events * 10),
                "concurrent": concurrent_writers(sqlite_url(tmp / "c.db"), args.threads, args.events // args.threads),
            },
            "serve": serve_timings(tmp),
        }
        if args.postgres:
            out["postgresql"] = {
                "siaga_one_tx_per_event_per_s": siaga_single(args.postgres, args.events),
                "siaga_batch_insert_per_s": siaga_batch(args.postgres, args.events * 10),
            }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
