"""Takeover of a role on kill -9 of its holder, several ``siaga serve`` on one PostgreSQL.

Three real ``siaga serve`` (one config, one database on a throwaway PostgreSQL, lease ``--lease`` s), a
webhook receiver counting pages. Each trial: kill -9 the holder of ``notify``, push a leak to a survivor at
once, and time from the kill to that leak's page at the receiver (the first action of the new holder);
then start a replacement so three run again. At the end, every leak pushed must have paged exactly once:
``pages_lost``, ``pages_doubled``. Prints one JSON object.

    PYTHONPATH=src .venv/bin/python bench/cluster.py [--trials 20] [--lease 5] [--processes 3]

Target: p99 takeover <= lease + 1 s, nothing lost or doubled.

``--scaling``: checks/s with 1, 2 and 3 processes sharing ``--checks`` TCP checks (at 1 s, to one local
port that accepts and closes; the default 9,000 a second is more than 3 processes run on this 2-core
machine, so each count runs as many as its processes can: ``saturated`` says it was so, ``pages`` that no
check failed under the load), counted at the port over ``--window`` s after the shares settle, with each
process's CPU seconds (from /proc/<pid>/stat) over the same window: ``checks_per_cpu_s`` per process count
is the figure to judge per core (target: 3 processes >= 0.9 x the checks per CPU second of 1). Each count
is measured ``--repeat`` times (default 3) in turn (1, 3, 2, then 2, 3, 1, ...); the ratio is of the
medians, each repetition's own ratio and the pooled ratio (all windows' work over all their CPU seconds)
beside it (one run's figure moves by 10-20 % on this machine). Measured at a load below what one process
can run (``--checks 3000``), three processes cost more per check than one: each wakes as often for a third
of the work. ``--takeover 0`` skips the takeover trials.

``--scaling`` also measures ingest (``--scaling ingest`` or ``--scaling checks`` runs one of the two): a
mosquitto started here, 1, 2 and 3 processes sharing its messages through an MQTT 5 shared subscription
(``mqtt.shared: auto``, on with PostgreSQL), the load generator (``python -m siaga.sources.mqtt.loadgen``,
QoS 1, as fast as siaga acknowledges: at most ``INGEST_IN_FLIGHT`` messages unacknowledged) publishing
``--ingest-batch`` readings per message (default 100, through a batch gateway; at 1 a message the load
generator's own ~1,000 messages/s bound the rate, not siaga) for ``--ingest-sensors`` temperature sensors;
over ``--window`` s once every process has its share: readings stored per second (rows in PostgreSQL), each
process's messages and CPU seconds (its subscriber process counted); ``readings_per_cpu_s`` counts the whole
run from idle to idle (every row it stored, every CPU second of the processes from before the load started
to the last row stored after it stopped: a window's own rows fall short of its CPU when the store lags in
it, ``readings_per_cpu_s_in_window`` beside it) and the per-core ratio of the medians (target >= 0.9, as for
checks), each repetition's own ratio and the pooled one beside it (``in_window``: the same of the windows'
own figures). The three
sites (1, 2, 3 processes, each with its own database and broker) run at once and the load generator feeds
one at a time, a window each in turn, ``--repeat`` times: a process's CPU per reading moves by up to half
from one minute to the next on the 2-core VMs, so the counts compared are measured seconds apart (before,
each count started its own site minutes after the other's, and one code's ratio ranged 0.55-1.29).

``--province``: a province-sized site on ``--processes`` processes: ``--rooms`` rooms x ``--room-sensors``
temperature sensors at one reading each 10 s over MQTT (300 readings/s at 10 x 300; the load generator
starts before the processes, so no sensor is ever silent), ``--endpoints`` TCP checks at 1/min (to one
local port that accepts and closes; measured once a minute of them has run), and, over
``--province-window`` s, a leak published every ``--leak-every`` s (a new leak sensor each time, spread
over the rooms): leak->page p50/p99 from the publish to the page at the webhook receiver (target p99 <
250 ms), the leaks' pages lost and doubled, other pages, readings stored per second, checks per second,
each process's CPU. The top-level ``pages_lost``/``pages_doubled`` count the takeover's leaks and the
province's. Each part runs alone:

    PYTHONPATH=src .venv/bin/python bench/cluster.py --takeover 0 --scaling ingest --quick
    PYTHONPATH=src .venv/bin/python bench/cluster.py --takeover 0 --province

The full run (``--scaling --province``, takeover 20 trials): about 20-30 min on the 2-core machine (an
estimate: the province part alone, with its minute of checks before the 120 s window, about 6-8 min).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib.util
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

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
    """User + system CPU seconds so far of a process and its live children (Linux /proc): ``siaga serve``
    with MQTT runs its subscriber in a process of its own (``mqtt.subscriber: process``)."""
    ticks: dict[int, int] = {}
    parent: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        p = int(stat.parent.name)
        parent[p], ticks[p] = int(fields[1]), int(fields[11]) + int(fields[12])
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += ticks.get(p, 0)
        todo += [child for child, ppid in parent.items() if ppid == p]
    return total / os.sysconf("SC_CLK_TCK")


def checks_run(url_of: Callable[[str], str], n: int, checks: int, window: float, lease: float) -> dict[str, Any]:
    """One count of checks/s and CPU with ``n`` processes (a fresh database)."""
    listener = harness.Listener()
    pages = harness.Pages()
    try:
        with tempfile.TemporaryDirectory() as d, harness.cluster(
                Path(d), url_of(f"scaling{n}_{time.time_ns()}"), pages, n, lease_s=lease,
                extra=harness.tcp_checks(listener.port, checks, interval_s=1), up_timeout=600) as c:
            harness.wait_for(lambda: checks_settled(c, n, lease), timeout=300)
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
    return {"checks_per_s": round(rate, 1), "cpu_s_per_s": [round(x / (t1 - t0), 3) for x in cpu],
            "checks_per_cpu_s": round((count1 - count0) / max(sum(cpu), 1e-9), 1),
            "done": count1 - count0, "cpu_s": round(sum(cpu), 3),
            "pages": len(pages.got)}  # a check that failed under the load pages: must stay 0


def per_core(runs: dict[int, list[dict[str, Any]]], key: str, target: float = 0.9) -> dict[str, Any]:
    """Each process count's runs, the median of ``key`` (per CPU second) per count, and the per-core ratio of
    three processes to one from those medians; beside it each repetition's own ratio (its 1- and 3-process
    windows measured one after the other) and their median, ``per_core_ratio_paired``; and
    ``per_core_ratio_pooled``, the ratio of all windows' work over all their CPU seconds, per count (each
    run's ``done`` and ``cpu_s``): the windows run in an order that alternates (1, 3, 2, then 2, 3, 1), so
    a machine slowing down or speeding up over the run weighs on both counts alike."""
    out: dict[str, Any] = {}
    for n, got in runs.items():
        out[str(n)] = {"median_" + key: statistics.median(r[key] for r in got), "runs": got}
    one, three = out.get("1"), out.get("3")
    if one and three and one["median_" + key]:
        out["per_core_ratio_3_to_1"] = round(three["median_" + key] / one["median_" + key], 3)
        out["ratio_each_repetition"] = [round(b[key] / a[key], 3) if a[key] else None
                                        for a, b in zip(runs[1], runs[3], strict=False)]
        paired = [r for r in out["ratio_each_repetition"] if r is not None]
        out["per_core_ratio_paired"] = round(statistics.median(paired), 3) if paired else None
        if all("done" in r and "cpu_s" in r for r in runs[1] + runs[3]):
            def pooled(got: list[dict[str, Any]]) -> float:
                return float(sum(r["done"] for r in got) / max(sum(r["cpu_s"] for r in got), 1e-9))
            out["per_core_ratio_pooled"] = round(pooled(runs[3]) / pooled(runs[1]), 3)
    out["target_ratio"] = target
    out["load_avg"] = os.getloadavg()[0]
    return out


def in_turn(rep: int) -> list[int]:
    """The process counts' order in repetition ``rep``: 1, 3, 2, then 2, 3, 1 (the 1- and 3-process windows
    next to each other, and first one then the other first: a drift of the machine's speed over a run
    weighs on both alike)."""
    return [1, 3, 2] if rep % 2 == 0 else [2, 3, 1]


def scaling(url_of: Callable[[str], str], checks: int, window: float, lease: float, repeat: int) -> dict[str, Any]:
    """checks/s and CPU per process with 1, 2, 3 processes, ``repeat`` times in turn (1, 3, 2, then 2, 3, 1,
    ...: a slow minute of the machine falls on every count alike)."""
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: [], 3: []}
    for rep in range(repeat):
        for n in in_turn(rep):
            runs[n].append(checks_run(url_of, n, checks, window, lease))
    out = per_core(runs, "checks_per_cpu_s")
    out["offered_per_s"] = checks
    # saturated: every count ran fewer than offered, so each measured what its processes can do
    out["saturated"] = all(r["checks_per_s"] < 0.95 * checks for got in runs.values() for r in got)
    out["pages"] = sum(r["pages"] for got in runs.values() for r in got)
    return out


def site_config(db_url: str, hook: str, mqtt_port: int, sensors: list[tuple[str, str, str, float]],
                rooms: int, extra: str = "", lease_s: float = 5.0) -> str:
    """A site of ``rooms`` rooms whose sensors (id, kind, room, interval s) publish on ``prov/<id>`` (or
    in batches on ``prov/batch``, a gateway) to the broker at ``mqtt_port``, paging the webhook ``hook``
    (``extra``: services and checks)."""
    room_list = ", ".join(f"{{id: r{k:02d}, name: Ruang {k:02d}}}" for k in range(rooms))
    lines = "\n".join(f"  - {{id: {sid}, kind: {kind}, room: {room}, interval_s: {interval:g}, "
                      f"source: {{type: mqtt, topic: prov/{sid}}}}}" for sid, kind, room, interval in sensors)
    return f"""
site: {{name: Provinsi Uji, timezone: Asia/Makassar, language: id}}
store: {{data_dir: state, database_url: "{db_url}"}}
runtime: {{lease: {lease_s:g}}}
mqtt: {{host: 127.0.0.1, port: {mqtt_port}, client_id: siaga-prov,
        gateways: [{{id: prov, topic: prov/batch, format: batch}}]}}
rooms: [{room_list}]
people:
  - {{id: andi, name: Andi Pratama, contacts: {{hook: ""}}}}
notification:
  channels: {{hook: {{type: webhook, url: "{hook}"}}}}
  storm: {{group_window: 0s, rate_per_minute: 100}}
escalation:
  - id: all
    match: {{severity_at_least: info}}
    steps: [{{people: [andi], channels: [hook]}}]
sensors:
{lines}
{extra}"""


class Drained(harness.Cluster):  # type: ignore[misc,name-defined]
    """The harness's cluster (each process's stderr goes to a file of its own: thousands of checks and
    sensors can say more than a pipe holds, and a process blocked on its stderr stops)."""

    def said(self) -> str:
        return "; ".join(f"{p.proc.pid}: {tail}" for p in self.processes if (tail := p.log_tail(1500)))


@contextlib.contextmanager
def started(work: Path, config: str, n: int, up_timeout: float) -> Iterator[Any]:
    """``n`` ``siaga serve`` on ``config`` (the harness's processes), each up with notify running."""
    from siaga.store import create_engine_for, upgrade

    path = work / "siaga.yaml"
    path.write_text(config)
    (work / "state").mkdir(exist_ok=True)
    db = create_engine_for(config.split('database_url: "', 1)[1].split('"', 1)[0])
    upgrade(db)
    env = {**os.environ, "PYTHONPATH": f"{harness.ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    c = Drained(db, path, [], env)
    try:
        for _ in range(n):
            c.start()
        try:
            for p in c.processes:
                harness.wait_for(lambda p=p: p.proc.poll() is not None or p.up(), timeout=up_timeout)
                if p.proc.poll() is not None:
                    raise AssertionError("siaga serve ended")
            harness.wait_for(lambda: c.holder(), timeout=up_timeout)
        except AssertionError as exc:
            raise AssertionError(f"{exc}: {c.said()}") from None
        yield c
    finally:
        c.stop_all()
        db.dispose()


def loadgen(port: int, sensors: list[str], count: int, rate: float, batch: int = 1,
            in_flight: int = 0) -> subprocess.Popen[str]:
    """The MQTT load generator, its own process: ``count`` QoS 1 messages, round robin over ``sensors``
    (``rate`` per second, 0: as fast as it can): one reading each on ``prov/<sensor>``, or ``batch``
    readings each on ``prov/batch`` (stamped from an hour ago, each sensor's 1 ms apart, steady values)."""
    mode = ["--mode", "single"] if batch == 1 else [
        "--mode", "batch", "--batch", str(batch), "--topic", "prov/batch", "--ts-base", str(int(time.time()) - 3600)]
    return subprocess.Popen(
        [sys.executable, "-m", "siaga.sources.mqtt.loadgen", "--port", str(port), "--count", str(count),
         "--sensors", ",".join(sensors), "--prefix", "prov/", "--rate", str(rate), "--in-flight", str(in_flight),
         *mode],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def stored(c: Any) -> int:
    from sqlalchemy import func, select

    from siaga.readings.tables import readings

    with c.db.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(readings)).scalar_one())


def shares_of(c: Any) -> dict[int, dict[str, Any]]:
    from siaga.cluster.status import shares

    with c.db.connect() as conn:
        return shares(conn)


def checks_settled(c: Any, n: int, lease: float) -> bool:
    """Every slot of the checks' shard map held, by ``n`` sessions."""
    from siaga.cluster.status import cluster_status
    from siaga.store.types import utcnow

    with c.db.connect() as conn:
        st = cluster_status(conn, utcnow(), lease_s=lease, shared=True)
    by = st["shards"].get("checks", {}).get("by_session", {})
    return len(by) == n and sum(by.values()) == 64


def mqtt_shared(c: Any, n: int) -> bool:
    """Every one of the ``n`` processes connected to the broker and given a share of the messages."""
    s = shares_of(c)
    return len(s) == n and all(v.get("mqtt_connected") and v.get("mqtt_messages", 0) > 0 for v in s.values())


class Window:
    """CPU seconds of the processes, readings stored, checks accepted (and the most in one second: checks at
    one interval started together run together) and messages per process over a window."""

    def __init__(self, c: Any, listener: Any | None = None) -> None:
        self.c, self.listener = c, listener
        self.pids = [p.proc.pid for p in c.processes]
        self.cpu0 = [cpu_seconds(pid) for pid in self.pids]
        self.stored0 = stored(c)
        self.checks0 = listener.accepted if listener is not None else 0
        shares = shares_of(c)
        self.msgs0 = {k: v.get("mqtt_messages", 0) for k, v in shares.items()}
        self.batches0 = {k: v.get("mqtt_batches", 0) for k, v in shares.items()}
        self.stalls0 = {k: v.get("stalls") or {} for k, v in shares.items()}
        self.t0 = time.monotonic()
        self.peak = 0
        self.done = threading.Event()
        if listener is not None:
            threading.Thread(target=self._sample, daemon=True).start()

    def _sample(self) -> None:
        assert self.listener is not None
        last = self.checks0
        while not self.done.wait(1.0):
            now = self.listener.accepted
            self.peak, last = max(self.peak, now - last), now

    def totals(self) -> dict[str, Any]:
        """Seconds, rows stored and CPU seconds of the processes since the window began (not ending it)."""
        return {"seconds": time.monotonic() - self.t0, "rows": stored(self.c) - self.stored0,
                "cpu_s": sum(cpu_seconds(pid) - c0 for pid, c0 in zip(self.pids, self.cpu0, strict=True))}

    def end(self) -> dict[str, Any]:
        self.done.set()
        dt_s = time.monotonic() - self.t0
        cpu = [cpu_seconds(pid) - c0 for pid, c0 in zip(self.pids, self.cpu0, strict=True)]
        rows = stored(self.c) - self.stored0
        checks = (self.listener.accepted - self.checks0) if self.listener is not None else 0
        shares = shares_of(self.c)
        msgs = {k: v.get("mqtt_messages", 0) - self.msgs0.get(k, 0) for k, v in shares.items()}
        batches = sum(v.get("mqtt_batches", 0) - self.batches0.get(k, 0) for k, v in shares.items())
        return {"seconds": round(dt_s, 2), "rows": rows, "checks": checks, "cpu_s": sum(cpu),
                "readings_per_s": round(rows / dt_s, 1), "checks_per_s": round(checks / dt_s, 1),
                "checks_most_in_1s": self.peak,
                "messages_by_process": sorted(msgs.values(), reverse=True),
                "messages_per_batch": round(sum(msgs.values()) / batches, 2) if batches > 0 else None,
                "cpu_s_per_s": [round(x / dt_s, 3) for x in cpu],
                "stalls_by_process": [stalls_in(self.stalls0.get(k) or {}, v.get("stalls") or {})
                                      for k, v in sorted(shares.items())]}


def stalls_in(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    """A process's event-loop lags and collector pauses over a window (its share's counts then and now; the
    largest are since it started)."""
    def since(k: str, v: Any) -> Any:
        if isinstance(v, list):
            return [x - y for x, y in zip(v, before.get(k) or [0] * len(v), strict=False)]
        return round(v - before.get(k, 0), 3) if "over" in k or k.startswith("gc_full") else v

    return {k: since(k, v) for k, v in after.items()}


INGEST_IN_FLIGHT = 500
"""The load generator's unacknowledged messages at most: as fast as siaga takes them, and no faster (a
generator that queues what the broker has not taken spends the CPU the processes measured need)."""


def settled(c: Any, w: Window, timeout: float = 900.0, still_s: float = 3.0) -> dict[str, Any]:
    """After the load stopped: wait until the processes take no more messages and store no more rows (the
    same for ``still_s``), and return ``w``'s totals at the first look that saw them final (so the idle
    seconds of the wait are not counted). One process takes 100-150 s on the 2-core machine: the broker queues
    what the load generator outruns it by."""
    key: tuple[int, int] | None = None
    mark, since, deadline = w.totals(), time.monotonic(), time.monotonic() + timeout
    while time.monotonic() < deadline:
        now = (sum(v.get("mqtt_messages", 0) for v in shares_of(c).values()), stored(c))
        if now != key:
            key, mark, since = now, w.totals(), time.monotonic()
        elif time.monotonic() - since >= still_s:
            break
        time.sleep(0.25)
    return mark


def ingest_scaling(url_of: Callable[[str], str], sensors: int, batch: int, window: float,
                   lease: float, repeat: int) -> dict[str, Any]:
    """Readings stored per second and CPU per process with 1, 2, 3 processes sharing the MQTT messages (the
    load generator as fast as siaga takes them, ``batch`` readings a message).

    The three sites run at once, each with its own database, broker and processes, and the load generator
    feeds one of them at a time, a window each in turn (1, 3, 2, then 2, 3, 1, ... ``repeat`` times): what a
    process costs a reading moves by up to half from one minute to the next on the 2-core VMs (their
    speed, not siaga), so the counts compared are measured seconds apart, not minutes. The sensors report
    every hour by their config, so a site without load raises no stale sensor meanwhile."""
    from siaga.sources.mqtt.testbroker import Mosquitto

    ids = [f"t{i:04d}" for i in range(sensors)]
    runs: dict[int, list[dict[str, Any]]] = {1: [], 2: [], 3: []}
    pages = harness.Pages()
    try:
        with contextlib.ExitStack() as stack:
            d = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            sites: dict[int, tuple[Any, int]] = {}
            for n in runs:
                broker = stack.enter_context(Mosquitto(d / f"broker{n}"))
                config = site_config(url_of(f"ingest{n}_{time.time_ns()}"), pages.url, broker.port,
                                     [(sid, "temperature", "r00", 3600) for sid in ids], 1, lease_s=lease)
                work = d / f"site{n}"
                work.mkdir()
                sites[n] = (stack.enter_context(started(work, config, n, up_timeout=300)), broker.port)
            for rep in range(repeat):
                for n in in_turn(rep):
                    c, port = sites[n]
                    before = sum(v.get("mqtt_messages", 0) for v in shares_of(c).values())
                    whole = Window(c)  # from idle to idle: every reading of this run, every CPU second it cost
                    gen = loadgen(port, ids, 50_000_000, 0, batch, in_flight=INGEST_IN_FLIGHT)
                    try:
                        harness.wait_for(lambda c=c, n=n: mqtt_shared(c, n), timeout=120)
                        harness.wait_for(lambda c=c, b=before: sum(
                            v.get("mqtt_messages", 0) for v in shares_of(c).values()) > b, timeout=60)
                        time.sleep(3)
                        w = Window(c)
                        time.sleep(window)
                        got = w.end()
                    finally:
                        stop(gen)
                    # what the broker still holds for this site is taken, and what was taken is stored, before
                    # the next one's window
                    total = settled(c, whole)
                    received = sum(got["messages_by_process"]) * batch
                    runs[n].append({
                        "readings_per_s": got["readings_per_s"], "messages_by_process": got["messages_by_process"],
                        "messages_per_batch": got["messages_per_batch"],
                        "cpu_s_per_s": got["cpu_s_per_s"],
                        # every reading of the run stored, over every CPU second of the processes from before the
                        # load started (idle) to the last row stored (the figure compared: the idle seconds at
                        # either end are counted against it, as many times as there are processes)
                        "readings_per_cpu_s": round(total["rows"] / max(total["cpu_s"], 1e-9), 1),
                        "done": total["rows"], "cpu_s": round(total["cpu_s"], 3),
                        "seconds_idle_to_idle": round(total["seconds"], 2),
                        # what the window alone stored over its CPU: short of the above when the store lagged in
                        # the window (the CPU of readings taken counted, their rows stored after it not)
                        "readings_per_cpu_s_in_window": round(got["rows"] / max(got["cpu_s"], 1e-9), 1),
                        "done_in_window": got["rows"], "cpu_s_in_window": round(got["cpu_s"], 3),
                        # rows stored in the window against the readings of the messages the processes counted
                        # (their shares, written every second): far below 1, the store lagged in the window
                        "stored_of_received": round(got["rows"] / received, 3) if received else None})
    finally:
        pages.close()
    out = per_core(runs, "readings_per_cpu_s")
    in_window = per_core({n: [{"readings_per_cpu_s": r["readings_per_cpu_s_in_window"], "done": r["done_in_window"],
                               "cpu_s": r["cpu_s_in_window"]} for r in got] for n, got in runs.items()},
                         "readings_per_cpu_s")
    out["in_window"] = {k: in_window.get(k) for k in ("per_core_ratio_3_to_1", "ratio_each_repetition",
                                                      "per_core_ratio_paired", "per_core_ratio_pooled")}
    out["sensors"] = sensors
    out["readings_per_message"] = batch
    out["pages"] = len(pages.got)  # none: no sensor goes stale, no reading is out of its limits
    return out


class Leaks:
    """A room gateway publishing leaks (QoS 1, MQTT 5) on ``prov/<leak sensor>``, each timed at its publish."""

    def __init__(self, port: int) -> None:
        import paho.mqtt.client as paho

        self.client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="leak-gateway",  # type: ignore[attr-defined]
                                  protocol=paho.MQTTv5)
        self.client.connect("127.0.0.1", port)
        self.client.loop_start()

    def send(self, sensor: str, value: int) -> float:
        """Publish, and return the monotonic time just before it."""
        at = time.monotonic()
        ts = dt.datetime.now(dt.UTC).isoformat()
        self.client.publish(f"prov/{sensor}", json.dumps({"value": value, "ts": ts}), qos=1).wait_for_publish(10)
        return at

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def subjects(c: Any) -> dict[str, str]:
    """Alert id -> its subject (a page names its alerts' ids, not the sensor)."""
    from sqlalchemy import select

    from siaga.alerts.tables import alerts

    with c.db.connect() as conn:
        return {str(i): str(subj) for i, subj in conn.execute(select(alerts.c.id, alerts.c.subject))}


def legs(c: Any, pushed: dict[str, float], first: dict[str, float], wall_minus_mono: float) -> dict[str, Any]:
    """Where a leak's time to its page goes, from the store's own times (one machine, one clock): publish ->
    the alert's ``fired_at`` (the reading as the rules saw it) -> the first notification planned
    (``notify_items.created_at``, by the notify holder) -> its message sent (``notify_messages.sent_at``) ->
    the page at the receiver. p50/p99/max of each leg, in seconds."""
    from sqlalchemy import func, select

    from siaga.alerts.tables import alerts
    from siaga.notify.tables import notify_items, notify_messages

    out: dict[str, list[float]] = {"to_fired": [], "fired_to_planned": [], "planned_to_sent": [], "sent_to_page": []}
    with c.db.connect() as conn:
        for sid, at in pushed.items():
            row = conn.execute(select(alerts.c.id, alerts.c.fired_at).where(alerts.c.subject == sid)
                               .order_by(alerts.c.id).limit(1)).first()
            if row is None or row.fired_at is None or sid not in first:
                continue
            planned = conn.execute(select(func.min(notify_items.c.created_at))
                                   .where(notify_items.c.alert_id == row.id)).scalar_one()
            sent = conn.execute(select(func.min(notify_messages.c.sent_at)).join(
                notify_items, notify_items.c.message_id == notify_messages.c.id)
                .where(notify_items.c.alert_id == row.id)).scalar_one()
            if planned is None or sent is None:
                continue
            wall = at + wall_minus_mono
            out["to_fired"].append(row.fired_at.timestamp() - wall)
            out["fired_to_planned"].append(planned.timestamp() - row.fired_at.timestamp())
            out["planned_to_sent"].append(sent.timestamp() - planned.timestamp())
            out["sent_to_page"].append(first[sid] + wall_minus_mono - sent.timestamp())
    return {k: {"p50_s": round(statistics.median(v), 3), "p99_s": round(percentile(v, 0.99), 3),
                "max_s": round(max(v), 3)} for k, v in out.items() if v}


def alert_ids(body: dict[str, Any]) -> list[str]:
    return str(body.get("siaga_alerts", "")).split(",")


def province(url: str, processes: int, rooms: int, room_sensors: int, endpoints: int, window: float,
             leak_every: float, lease: float) -> dict[str, Any]:
    """The province-sized site under its load, with leak->page latency measured while it runs."""
    from siaga.sources.mqtt.testbroker import Mosquitto

    temps = [(f"t-r{k:02d}-{j:03d}", "temperature", f"r{k:02d}", 10.0)
             for j in range(room_sensors) for k in range(rooms)]
    n_leaks = max(1, int(window / leak_every))
    leaks = [(f"leak-{i:03d}", "leak", f"r{i % rooms:02d}", 3600.0) for i in range(n_leaks)]
    rate = len(temps) / 10.0  # each sensor one reading per 10 s
    listener = harness.Listener()
    pages = harness.Pages()
    latencies: list[float] = []
    breakdown: dict[str, Any] = {}
    gen: subprocess.Popen[str] | None = None
    started_at = time.monotonic()
    try:
        with tempfile.TemporaryDirectory() as d, Mosquitto(Path(d) / "broker") as broker:
            config = site_config(url, pages.url, broker.port, temps + leaks, rooms, lease_s=lease,
                                 extra=harness.tcp_checks(listener.port, endpoints, interval_s=60))
            work = Path(d) / "site"
            work.mkdir()
            # the room gateways publish from before the processes start: no sensor is ever silent
            gen = loadgen(broker.port, [t[0] for t in temps], int(rate * 7200), rate)
            leak_gw = Leaks(broker.port)
            try:
                with started(work, config, processes, up_timeout=1200) as c:
                    up_s = time.monotonic() - started_at
                    harness.wait_for(lambda: checks_settled(c, processes, lease), timeout=600)
                    harness.wait_for(lambda: mqtt_shared(c, processes), timeout=120)
                    # every check has run once (its first run comes within 10 s, spread by its phase)
                    harness.wait_for(lambda: listener.accepted >= endpoints, timeout=600)
                    time.sleep(5)
                    load_at_start = os.getloadavg()[0]
                    w = Window(c, listener)
                    pushed: dict[str, float] = {}
                    t_next = time.monotonic()
                    for sid, _kind, _room, _i in leaks:
                        time.sleep(max(0.0, t_next - time.monotonic()))
                        pushed[sid] = leak_gw.send(sid, 1)
                        t_next += leak_every
                    time.sleep(max(0.0, t_next - time.monotonic()))
                    load = w.end()
                    # the last leaks' pages, and any second page of a leak
                    deadline = time.monotonic() + 15
                    while time.monotonic() < deadline:
                        names = subjects(c)
                        paged = {names.get(a) for _, _, b in pages.got for a in alert_ids(b)}
                        if all(sid in paged for sid in pushed):
                            break
                        time.sleep(0.2)
                    time.sleep(3 * lease)
                    names = subjects(c)
                    first: dict[str, float] = {}
                    per_leak: Counter[str] = Counter()
                    other = 0
                    for at, _key, body in pages.got:
                        subj = {names.get(a) for a in alert_ids(body)}
                        hit = [s for s in subj if s in pushed]
                        if not hit:
                            other += 1
                        for sid in hit:
                            per_leak[sid] += 1
                            first.setdefault(sid, at)
                    latencies = [first[sid] - pushed[sid] for sid in pushed if sid in first]
                    breakdown = legs(c, pushed, first, time.time() - time.monotonic())
                    alive = sum(p.proc.poll() is None for p in c.processes)
            finally:
                leak_gw.close()
                stop(gen)
    finally:
        listener.close()
        pages.close()
    return {
        "processes": processes, "alive_at_end": alive, "rooms": rooms, "sensors": len(temps),
        "readings_per_s_published": rate, "endpoints": endpoints, "check_interval_s": 60,
        "up_s": round(up_s, 1), "window_s": load["seconds"],
        "readings_per_s_stored": load["readings_per_s"], "messages_by_process": load["messages_by_process"],
        "checks_per_s": load["checks_per_s"], "checks_per_s_expected": round(endpoints / 60, 1),
        "checks_most_in_1s": load["checks_most_in_1s"],
        "cpu_s_per_s": load["cpu_s_per_s"],
        "stalls_by_process": load["stalls_by_process"],
        "leaks": len(pushed), "leak_every_s": leak_every,
        "leak_to_page_p50_s": round(statistics.median(latencies), 3) if latencies else None,
        "leak_to_page_p99_s": round(percentile(latencies, 0.99), 3) if latencies else None,
        "leak_to_page_max_s": round(max(latencies), 3) if latencies else None,
        "leak_to_page_legs": breakdown,
        "target_p99_s": 0.25,
        "pages_lost": sum(1 for sid in pushed if per_leak[sid] == 0),
        "pages_doubled": sum(n - 1 for n in per_leak.values() if n > 1),
        "other_pages": other,
        "load_avg_at_start": load_at_start,
        "load_avg": os.getloadavg()[0],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", "--takeover", dest="trials", type=int, default=20,
                    help="takeover trials (0: no takeover part)")
    ap.add_argument("--lease", type=float, default=5.0)
    ap.add_argument("--processes", type=int, default=3)
    ap.add_argument("--scaling", nargs="?", const="checks,ingest", default="",
                    help="also measure checks/s and ingest readings/s with 1, 2, 3 processes "
                    "(--scaling checks or --scaling ingest: one of them)")
    ap.add_argument("--checks", type=int, default=9000,
                    help="checks for --scaling, each at 1 s: more than 3 processes can run on 2 cores")
    ap.add_argument("--ingest-sensors", type=int, default=100, help="sensors for --scaling ingest")
    ap.add_argument("--ingest-batch", type=int, default=100,
                    help="readings per message for --scaling ingest (1: one a message, the load generator's "
                    "~1,000 messages/s then bound the rate, not siaga)")
    ap.add_argument("--window", type=float, default=20.0, help="seconds measured for --scaling")
    ap.add_argument("--repeat", type=int, default=3,
                    help="--scaling: each process count measured this many times, in turn; medians compared")
    ap.add_argument("--province", action="store_true", help="also run the province-sized site")
    ap.add_argument("--rooms", type=int, default=10)
    ap.add_argument("--room-sensors", type=int, default=300, help="sensors per room, one reading each 10 s")
    ap.add_argument("--endpoints", type=int, default=20_000, help="TCP checks at 1/min")
    ap.add_argument("--province-window", type=float, default=120.0, help="seconds of leaks under the load")
    ap.add_argument("--leak-every", type=float, default=2.0, help="seconds between two leaks")
    ap.add_argument("--quick", action="store_true",
                    help="3 takeover trials, 600 checks, 8 s windows; province: 2 rooms x 50 sensors, "
                    "2,000 endpoints, 60 s of leaks")
    args = ap.parse_args()
    if args.quick:
        args.trials, args.checks, args.window = min(args.trials, 3), min(args.checks, 600), min(args.window, 8.0)
        args.repeat = 1
        args.rooms, args.room_sensors = min(args.rooms, 2), min(args.room_sensors, 50)
        args.endpoints, args.province_window = min(args.endpoints, 2000), min(args.province_window, 60.0)
    parts = {x.strip() for x in args.scaling.split(",") if x.strip()}
    if parts - {"checks", "ingest"}:
        sys.exit(f"--scaling: checks, ingest or both, not {args.scaling!r}")
    if ("ingest" in parts or args.province) and shutil.which("mosquitto") is None:
        sys.exit("no mosquitto (scripts/setup.sh installs it)")
    bindir = pg_bindir()
    if bindir is None:
        sys.exit("no PostgreSQL binaries")
    server = PostgresServer(bindir).start()
    pages = harness.Pages()
    scaled: dict[str, object] = {}
    prov: dict[str, Any] | None = None
    takeovers: list[float] = []
    pushed: list[str] = []
    try:
        import psycopg

        def url_of(name: str) -> str:
            with psycopg.connect(server.url.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
                conn.execute(f"CREATE DATABASE {name}")
            return server.url.rsplit("/", 1)[0] + "/" + name

        if "checks" in parts:
            scaled["checks"] = scaling(url_of, args.checks, args.window, args.lease, args.repeat)
            print(json.dumps({"scaling_checks": scaled["checks"]}), file=sys.stderr, flush=True)
        if "ingest" in parts:
            scaled["ingest"] = ingest_scaling(url_of, args.ingest_sensors, args.ingest_batch, args.window,
                                              args.lease, args.repeat)
            print(json.dumps({"scaling_ingest": scaled["ingest"]}), file=sys.stderr, flush=True)
        if args.province:
            prov = province(url_of("province"), args.processes, args.rooms, args.room_sensors, args.endpoints,
                            args.province_window, args.leak_every, args.lease)
            print(json.dumps({"province": prov}), file=sys.stderr, flush=True)
        if args.trials > 0:
            url = url_of("siaga_bench")
            with tempfile.TemporaryDirectory() as d:
                work = Path(d)
                with harness.cluster(work, url, pages, args.processes, lease_s=args.lease,
                                     sensors=args.trials) as c:
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
    lost = max(0, len(pushed) - len(counts))
    doubled = sum(n - 1 for n in counts.values() if n > 1)
    print(json.dumps({
        "takeover": {"lease_s": args.lease, "trials": len(takeovers), "processes": args.processes,
                     "p50_s": round(statistics.median(takeovers), 3) if takeovers else None,
                     "p99_s": round(percentile(takeovers, 0.99), 3) if takeovers else None,
                     "max_s": round(max(takeovers), 3) if takeovers else None,
                     "target_s": args.lease + 1, "pages_sent": len(pages.got),
                     "pages_lost": lost, "pages_doubled": doubled} if takeovers else None,
        # every leak pushed, in the takeover trials and the province: paged once
        "pages_lost": lost + (prov["pages_lost"] if prov else 0),
        "pages_doubled": doubled + (prov["pages_doubled"] if prov else 0),
        "scaling": {**scaled, "checks_at_1s": args.checks, "window_s": args.window} if scaled else None,
        "province": prov,
        "load_avg_at_end": os.getloadavg(),
    }))


if __name__ == "__main__":
    main()
