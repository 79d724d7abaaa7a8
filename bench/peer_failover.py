"""Time from the room siaga's death to the colocation's page at a webhook (``bench/peer_drills.py``: two
``siaga serve`` in network namespaces of their own, the colocation on PostgreSQL paging a real receiver).

Per silence window (30 s at the top level, 10 s under ``window_10``), N trials of each:

- ``runs``: ``kill -9`` of the room siaga. Its host still answers, so the colocation's /healthz poll (every
  ``--poll`` s, default 3) meets a refused connection: silent at once, no need to wait for the window.
- ``link_cut``: the room's link goes down (``ip link set down``): nothing answers, the silence window decides.

    python bench/peer_failover.py [--trials 20] [--windows 30,10] [--interval 10] [--poll 3]

Prints JSON: ``{"window_s": 30, "p50_s", "p99_s", "runs": [...], "link_cut": {...}, "window_10": {...}}``;
target p99 ≤ window + 1 s. Needs root (``ip netns``) and PostgreSQL binaries.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from peer_drills import Skip, TwoSites

ROOM_NAME = "Ruang Server Diskominfo"


def quantile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def figures(runs: list[float | None]) -> dict[str, Any]:
    got = [r for r in runs if r is not None]
    return {"p50_s": round(statistics.median(got), 3) if got else None,
            "p99_s": round(quantile(got, 0.99) or 0, 3) if got else None,
            "max_s": round(max(got), 3) if got else None, "missed": len(runs) - len(got),
            "runs": [None if r is None else round(r, 3) for r in runs]}


def wait_page(sites: TwoSites, t0: float, timeout: float) -> float | None:
    assert sites.hook is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = [t for t, _b in sites.hook.pages(ROOM_NAME) if t > t0]
        if got:
            return got[0] - t0
        time.sleep(0.02)
    return None


def trial_kill(sites: TwoSites, window: float) -> float | None:
    assert sites.room is not None
    t0 = time.monotonic()
    sites.room.kill()
    latency = wait_page(sites, t0, window + 15)
    sites.room.start()
    sites.wait_heard(timeout=window + 30)
    return latency


def trial_cut(sites: TwoSites, window: float) -> float | None:
    t0 = time.monotonic()
    sites.net.cut_room()
    try:
        latency = wait_page(sites, t0, window + 15)
    finally:
        sites.net.restore_room()
    sites.wait_heard(timeout=window + 30)
    return latency


def run_window(window: float, trials: int, interval: float, poll: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="siaga-peer-bench-") as work:
        sites = TwoSites(Path(work), interval=interval, window=window, poll=poll)
        sites.open()
        try:
            sites.wait_heard(timeout=window + 30)
            time.sleep(interval)  # both sides settled
            kills = [trial_kill(sites, window) for _ in range(trials)]
            cuts = [trial_cut(sites, window) for _ in range(trials)]
        finally:
            sites.close()
    return {"window_s": window, "interval_s": interval, "poll_s": poll, "trials": trials, **figures(kills),
            "target_p99_s": window + 1, "link_cut": figures(cuts)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=20)
    ap.add_argument("--windows", default="30,10", help="silence windows in seconds, the first at the top level")
    ap.add_argument("--interval", type=float, default=10.0, help="heartbeat interval (s)")
    ap.add_argument("--poll", type=float, default=3.0, help="the colocation's /healthz poll (s)")
    args = ap.parse_args()
    windows = [float(w) for w in args.windows.split(",") if w.strip()]
    try:
        out: dict[str, Any] = {}
        for i, window in enumerate(windows):
            interval = min(args.interval, window / 3)
            result = run_window(window, args.trials, interval, args.poll)
            if i == 0:
                out.update(result)
            else:
                out[f"window_{window:g}"] = result
    except Skip as exc:
        out = {"skipped": str(exc)}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
