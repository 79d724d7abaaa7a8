"""Takeover of a role on kill -9 of its holder, several ``siaga serve`` on one PostgreSQL.

Three real ``siaga serve`` (one config, one database on a throwaway PostgreSQL, lease ``--lease`` s), a
webhook receiver counting pages. Each trial: kill -9 the holder of ``notify``, push a leak to a survivor at
once, and time from the kill to that leak's page at the receiver (the first action of the new holder);
then start a replacement so three run again. At the end, every leak pushed must have paged exactly once:
``pages_lost``, ``pages_doubled``. Prints one JSON object.

    PYTHONPATH=src .venv/bin/python bench/cluster.py [--trials 20] [--lease 5] [--processes 3]

Target: p99 takeover <= lease + 1 s, nothing lost or doubled. (The issue's scaling and province figures
are not measured here.)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from siaga.store.testserver import PostgresServer, pg_bindir

_spec = importlib.util.spec_from_file_location(
    "cluster_harness", Path(__file__).resolve().parents[1] / "tests" / "integration" / "cluster" / "cluster.py")
assert _spec is not None and _spec.loader is not None
harness = importlib.util.module_from_spec(_spec)
sys.modules["cluster_harness"] = harness
_spec.loader.exec_module(harness)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--lease", type=float, default=5.0)
    ap.add_argument("--processes", type=int, default=3)
    args = ap.parse_args()
    bindir = pg_bindir()
    if bindir is None:
        sys.exit("no PostgreSQL binaries")
    server = PostgresServer(bindir).start()
    pages = harness.Pages()
    takeovers: list[float] = []
    pushed: list[str] = []
    try:
        import psycopg

        with psycopg.connect(server.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE siaga_bench")
        url = server.url.rsplit("/", 1)[0] + "/siaga_bench"
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            with harness.cluster(work, url, pages, args.processes, lease_s=args.lease, sensors=args.trials) as c:
                for trial in range(args.trials):
                    pid, _token = harness.wait_for(c.holder)
                    survivor = c.others(pid)[0]
                    before = len(pages.got)
                    killed_at = time.monotonic()
                    os.kill(pid, signal.SIGKILL)
                    c.process_of(pid).proc.wait()
                    sensor = f"leak-{trial}"
                    survivor.push(sensor, 1)
                    pushed.append(sensor)
                    harness.wait_for(lambda b=before: len(pages.got) > b, timeout=120)
                    takeovers.append(pages.got[before][0] - killed_at)
                    replacement = c.start()
                    harness.wait_for(replacement.up, timeout=180)
                time.sleep(3 * args.lease)
    finally:
        pages.close()
        server.remove()
    counts = Counter(body.get("siaga_alerts") for _, _, body in pages.got)
    print(json.dumps({
        "takeover": {"lease_s": args.lease, "trials": len(takeovers), "processes": args.processes,
                     "p50_s": round(statistics.median(takeovers), 3) if takeovers else None,
                     "p99_s": round(percentile(takeovers, 0.99), 3) if takeovers else None,
                     "max_s": round(max(takeovers), 3) if takeovers else None,
                     "target_s": args.lease + 1},
        "pages_sent": len(pages.got),
        "pages_lost": max(0, len(pushed) - len(counts)),
        "pages_doubled": sum(n - 1 for n in counts.values() if n > 1),
    }))


if __name__ == "__main__":
    main()
