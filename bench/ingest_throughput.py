"""Ingest throughput over MQTT, rules running, into SQLite and PostgreSQL, against the bare clients' ceiling.

Method (the same for every subscriber, so the figures compare): the subscriber's persistent session is
made, it goes away, a separate publisher process puts COUNT QoS 1 messages in its queue at mosquitto,
then the subscriber comes back and drains them. Like the bare subscribers (first message to last),
siaga is timed from the first reading accepted by the ingest path (validated, rules run, buffered) to the
last; apart, from before its subscriber starts (``*_with_start``: the subscriber process's start and the
connection added) to the last reading accepted and to the last stored. Each phase's figures go to
stderr as it ends. Figures:
- ``single``: one reading per message ({"value": v, "ts": t} on a topic per sensor), messages/s;
- ``batched``: 100 readings per message (a JSON array on a batch gateway), readings/s;
- ``bare_paho`` / ``bare_aiomqtt``: a subscriber that only counts messages (the ceiling).
Bare paho and siaga's single-reading runs alternate for ``--rounds`` rounds (medians and each
round's ratio reported), so a busy moment of the machine favours neither. ``BENCH_SUBSCRIBER=thread``
runs siaga's subscriber in its process (``mqtt.subscriber: thread``) instead of its own process.
Diagnostics: BENCH_NO_WRITER=1 runs without the readings writer and the rules' tick (what the MQTT
source and ingest alone reach), =2 without the tick. Prints one JSON object. Run by hand (a throwaway
PostgreSQL is started when SIAGA_BENCH_DATABASE_URL is not set):

    PYTHONPATH=src .venv/bin/python bench/ingest_throughput.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_mqtt import drain_aiomqtt, drain_paho, publish
from bench_site import BENCH_SENSORS, Site, make_site, running
from sensing_core import postgres

from siaga.sources.mqtt.testbroker import Mosquitto

_TS_BASE = float(int(time.time()) - 2 * 86400)  # made-up timestamps, 1 ms apart per sensor, from 2 days ago


async def drain_siaga(site: Site, port: int, mode: str, count: int, per_msg: int) -> dict[str, float]:
    # make the persistent session, go away, let the publisher fill the queue, come back and drain
    async with running(site, site.source()):
        seen = -1
        while seen != site.ingest.counts["accepted"]:  # what other runs left queued in the session
            seen = site.ingest.counts["accepted"]
            await asyncio.sleep(0.5)
    # each run's readings stamped after the previous run's (readings are one row per sensor and time,
    # and the rules skip a reading older than what they saw)
    global _TS_BASE
    span_s = count * per_msg / len(BENCH_SENSORS) / 1000
    publish(port, count, mode, sensors=",".join(BENCH_SENSORS), batch=per_msg, topic="bench/batch",
            ts_base=_TS_BASE)
    _TS_BASE += span_s + 1.0
    base_accepted = site.ingest.counts["accepted"]
    base_stored = site.stored()
    n = count * per_msg
    # timed like the bare subscribers: from the first reading accepted to the last (and, apart, from
    # before the subscriber starts, which adds its start and the connection)
    marks: dict[str, float] = {}
    got = [0, 0]  # accepted so far, in the first call

    def on_rows(rows: object) -> None:
        now = time.perf_counter()
        size = len(rows)  # type: ignore[arg-type]
        if not got[0]:
            marks["first"] = now
            got[1] = size
        got[0] += size
        if got[0] >= n and "last" not in marks:
            marks["last"] = now

    site.ingest.add_listener(on_rows)
    t0 = time.perf_counter()
    try:
        async with running(site, site.source()) as src:
            while site.ingest.counts["accepted"] - base_accepted < n:
                await asyncio.sleep(0.005)
                if time.perf_counter() - t0 > 300:
                    break
            t_ingested = marks.get("last", time.perf_counter()) - t0
            writing = os.environ.get("BENCH_NO_WRITER") != "1"
            while writing and site.stored() - base_stored < n and time.perf_counter() - t0 < 300:
                await site.writer.flush()
            t_stored = time.perf_counter() - t0
            problems = dict(src.stats.problems)
    finally:
        site.ingest.remove_listener(on_rows)
    accepted = site.ingest.counts["accepted"] - base_accepted
    span = marks["last"] - marks["first"] if "last" in marks else 0.0
    unit = "msgs_per_s" if per_msg == 1 else "readings_per_s"
    return {
        # per_msg is 1 (messages = readings) or the batch size (readings counted)
        f"ingested_{unit}": round((got[0] - got[1]) / span, 1) if span > 0 else 0.0,
        f"ingested_with_start_{unit}": round(accepted / t_ingested, 1),
        f"stored_with_start_{unit}": round(accepted / t_stored, 1),
        "readings": accepted,
        "rejected": sum(v for k, v in site.ingest.counts.items() if k != "accepted"),
        "problems": problems,  # type: ignore[dict-item]
    }


def _progress(phase: dict[str, object]) -> None:
    """Each phase's figures on stderr as it ends (the one JSON object on stdout comes at the end)."""
    print(json.dumps(phase), file=sys.stderr, flush=True)


def _bare_paho(port: int, count: int) -> float:
    drain_paho(port, "bare-paho", 0, subscribe_only=True)  # the session, emptied
    publish(port, count, "single")
    return drain_paho(port, "bare-paho", count)


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--single", type=int, default=30_000, help="single-reading messages")
    ap.add_argument("--batches", type=int, default=2_000, help="messages of 100 readings")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of bare paho / siaga single (medians reported)")
    args = ap.parse_args()
    out: dict[str, object] = {"qos": 1, "single_messages": args.single, "batched_messages": args.batches,
                              "batch_size": 100, "rounds": args.rounds}
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "broker") as broker:
        port = broker.port
        await asyncio.to_thread(drain_aiomqtt, port, "bare-aiomqtt", 0, subscribe_only=True)
        publish(port, args.single, "single")
        out["bare_aiomqtt_msgs_per_s"] = await asyncio.to_thread(drain_aiomqtt, port, "bare-aiomqtt", args.single)
        bare: list[float] = []
        with postgres() as pg_url:
            sites = {"sqlite": make_site(None, Path(tmp) / "sqlite", port, "siaga-sqlite")}
            if pg_url is None:
                out["postgresql"] = "skipped: no PostgreSQL binaries and no SIAGA_BENCH_DATABASE_URL"
            else:
                sites["postgresql"] = make_site(pg_url, Path(tmp) / "postgresql", port, "siaga-postgresql")
            singles: dict[str, list[dict[str, float]]] = {name: [] for name in sites}
            # bare and siaga alternate, so a busy moment of the machine does not favour either
            for _ in range(args.rounds):
                bare.append(_bare_paho(port, args.single))
                for name, site in sites.items():
                    singles[name].append(await drain_siaga(site, port, "single", args.single, 1))
                    _progress({"round": len(bare), "store": name, "bare_paho_msgs_per_s": bare[-1],
                               "single": singles[name][-1]})
            for name, site in sites.items():
                runs = singles[name]
                rates = [float(r["ingested_msgs_per_s"]) for r in runs]
                ratios = [rate / b for rate, b in zip(rates, bare, strict=True) if b]
                res: dict[str, object] = {
                    "single": {
                        "ingested_msgs_per_s": round(statistics.median(rates), 1),
                        "runs_msgs_per_s": rates,
                        "ingested_with_start_msgs_per_s": round(statistics.median(
                            float(r["ingested_with_start_msgs_per_s"]) for r in runs
                        ), 1),
                        "stored_with_start_msgs_per_s": round(statistics.median(
                            float(r["stored_with_start_msgs_per_s"]) for r in runs
                        ), 1),
                        "readings": sum(int(r["readings"]) for r in runs),
                        "rejected": sum(int(r["rejected"]) for r in runs),
                    },
                    "single_vs_bare_paho": round(statistics.median(ratios), 2) if ratios else None,
                    "single_vs_bare_paho_runs": [round(x, 2) for x in ratios],
                }
                res["batched"] = await drain_siaga(site, port, "batch", args.batches, 100)
                _progress({"store": name, "batched": res["batched"]})
                site.engine.dispose()
                out[name] = res
    out["bare_paho_msgs_per_s"] = round(statistics.median(bare), 1)
    out["bare_paho_runs_msgs_per_s"] = bare
    out["subscriber"] = sites["sqlite"].cfg.mqtt.subscriber if sites["sqlite"].cfg.mqtt else None
    out["target"] = {"single_vs_bare_paho": 0.7, "batched_readings_per_s": 100_000}
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
