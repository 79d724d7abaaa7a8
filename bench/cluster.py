"""Takeover of a role on kill -9 of its holder, several ``siaga serve`` on one PostgreSQL.

Three real ``siaga serve`` (one config, one database on a throwaway PostgreSQL, lease ``--lease`` s), a
webhook receiver counting pages. Each trial: kill -9 the holder of ``notify``, push a leak to a survivor at
once, and time from the kill to that leak's page at the receiver (the first action of the new holder);
then start a replacement so three run again. At the end, every leak pushed must have paged exactly once:
``pages_lost``, ``pages_doubled``. Prints one JSON object.

    PYTHONPATH=src .venv/bin/python bench/cluster.py [--trials 20] [--lease 5] [--processes 3]

Target: p99 takeover <= lease + 1 s, nothing lost or doubled.

``--scaling``: checks/s with 1, 2 and 3 processes sharing ``--checks`` TCP checks (at 1 s, to one local
port that accepts and closes: more than the processes can run, so each runs as many as it can), counted
at the port over ``--window`` s after the shares settle, with each process's CPU seconds (from
/proc/<pid>/stat) over the same window: ``checks_per_cpu_s`` per process count is the figure to judge per
core (target: 3 processes >= 0.9 x the checks per CPU second of 1). ``--takeover 0`` skips the takeover
trials. (Ingest readings/s with 1-3 processes and the province-sized site are not measured here yet.)
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


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def scaling(url_of: object, checks: int, window: float, lease: float) -> dict[str, object]:
    """checks/s and CPU per process with 1, 2, 3 processes (each count on a fresh database)."""
    out: dict[str, object] = {}
    for n in (1, 2, 3):
        listener = harness.Listener()
        pages = harness.Pages()
        try:
            with tempfile.TemporaryDirectory() as d, harness.cluster(
                    Path(d), url_of(f"scaling{n}"), pages, n, lease_s=lease,  # type: ignore[operator]
                    extra=harness.tcp_checks(listener.port, checks, interval_s=1), up_timeout=600) as c:
                def settled(c: object = c, n: int = n) -> bool:
                    from siaga.cluster.status import cluster_status
                    from siaga.store.types import utcnow

                    with c.db.connect() as conn:  # type: ignore[attr-defined]
                        st = cluster_status(conn, utcnow(), lease_s=lease, shared=True)
                    by = st["shards"].get("checks", {}).get("by_session", {})
                    return len(by) == n and sum(by.values()) == 64

                harness.wait_for(settled, timeout=300)
                time.sleep(3)
                pids = [p.proc.pid for p in c.processes]
                cpu0 = [cpu_seconds(pid) for pid in pids]
                count0, t0 = listener.accepted, time.monotonic()
                time.sleep(window)
                count1, t1 = listener.accepted, time.monotonic()
                cpu = [cpu_seconds(pid) - c0 for pid, c0 in zip(pids, cpu0, strict=True)]
        finally:
            listener.close()
            pages.close()
        rate = (count1 - count0) / (t1 - t0)
        out[str(n)] = {"checks_per_s": round(rate, 1), "cpu_s_per_s": [round(x / (t1 - t0), 3) for x in cpu],
                       "checks_per_cpu_s": round((count1 - count0) / max(sum(cpu), 1e-9), 1)}
    one = out["1"]["checks_per_cpu_s"]  # type: ignore[index]
    three = out["3"]["checks_per_cpu_s"]  # type: ignore[index]
    out["per_core_ratio_3_to_1"] = round(three / one, 3) if one else None
    out["target_ratio"] = 0.9
    out["load_avg"] = os.getloadavg()[0]
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--lease", type=float, default=5.0)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--scaling", action="store_true", help="also measure checks/s with 1, 2, 3 processes")
    ap.add_argument("--checks", type=int, default=3000, help="checks for --scaling (each at 1 s)")
    ap.add_argument("--window", type=float, default=20.0, help="seconds measured for --scaling")
    ap.add_argument("--quick", action="store_true", help="3 takeover trials, 600 checks, 8 s windows")
    args = ap.parse_args()
    if args.quick:
        args.trials, args.checks, args.window = min(args.trials, 3), min(args.checks, 600), min(args.window, 8.0)
    bindir = pg_bindir()
    if bindir is None:
        sys.exit("no PostgreSQL binaries")
    server = PostgresServer(bindir).start()
    pages = harness.Pages()
    scaled: dict[str, object] | None = None
    takeovers: list[float] = []
    pushed: list[str] = []
    try:
        import psycopg

        with psycopg.connect(server.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
            conn.execute("CREATE DATABASE siaga_bench")
        url = server.url.rsplit("/", 1)[0] + "/siaga_bench"

        def url_of(name: str) -> str:
            with psycopg.connect(server.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            return server.url.rsplit("/", 1)[0] + "/" + name

        if args.scaling:
            scaled = scaling(url_of, args.checks, args.window, args.lease)
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            with harness.cluster(work, url, pages, args.processes, lease_s=args.lease, sensors=args.trials) as c:
                for trial in range(args.trials if args.trials > 0 else 0):
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
        "scaling": {"checks": scaled, "checks_at_1s": args.checks, "window_s": args.window,
                    "ingest": "not measured yet"} if scaled is not None else None,
        "province": None,
    }))


if __name__ == "__main__":
    main()
