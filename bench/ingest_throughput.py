"""Ingest throughput over MQTT, rules running, into SQLite and PostgreSQL, against the bare clients' ceiling.

Method (the same for every subscriber, so the figures compare): the subscriber's persistent session is
made, it goes away, a separate publisher process puts COUNT QoS 1 messages in its queue at mosquitto,
then the subscriber comes back and drains them. For siaga the clock stops when the last reading is
accepted by the ingest path (validated, rules run, buffered) and, separately, when the writer has stored
it. Figures:
- ``single``: one reading per message ({"value": v, "ts": t} on a topic per sensor), messages/s;
- ``batched``: 100 readings per message (a JSON array on a batch gateway), readings/s;
- ``bare_paho`` / ``bare_aiomqtt``: a subscriber that only counts messages (the ceiling).
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
import tempfile
import time
from pathlib import Path

from bench_mqtt import drain_aiomqtt, drain_paho, publish
from bench_site import BENCH_SENSORS, Site, make_site, running
from sensing_core import postgres

from siaga.sources.mqtt.testbroker import Mosquitto


async def drain_siaga(site: Site, port: int, mode: str, count: int, per_msg: int) -> dict[str, float]:
    # make the persistent session, go away, let the publisher fill the queue, come back and drain
    async with running(site, site.source()):
        pass
    publish(port, count, mode, sensors=",".join(BENCH_SENSORS), batch=per_msg, topic="bench/batch")
    base_accepted = site.ingest.counts["accepted"]
    base_stored = site.stored()
    n = count * per_msg
    t0 = time.perf_counter()
    async with running(site, site.source()) as src:
        while site.ingest.counts["accepted"] - base_accepted < n:
            await asyncio.sleep(0.005)
            if time.perf_counter() - t0 > 300:
                break
        t_ingested = time.perf_counter() - t0
        writing = os.environ.get("BENCH_NO_WRITER") != "1"
        while writing and site.stored() - base_stored < n and time.perf_counter() - t0 < 300:
            await site.writer.flush()
        t_stored = time.perf_counter() - t0
        problems = dict(src.stats.problems)
    accepted = site.ingest.counts["accepted"] - base_accepted
    unit = "msgs_per_s" if per_msg == 1 else "readings_per_s"
    return {
        f"ingested_{unit}": round(accepted / per_msg / t_ingested if per_msg == 1 else accepted / t_ingested, 1),
        f"stored_{unit}": round(accepted / per_msg / t_stored if per_msg == 1 else accepted / t_stored, 1),
        "readings": accepted,
        "rejected": sum(v for k, v in site.ingest.counts.items() if k != "accepted"),
        "problems": problems,  # type: ignore[dict-item]
    }


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--single", type=int, default=30_000, help="single-reading messages")
    ap.add_argument("--batches", type=int, default=2_000, help="messages of 100 readings")
    args = ap.parse_args()
    out: dict[str, object] = {"qos": 1, "single_messages": args.single, "batched_messages": args.batches,
                              "batch_size": 100}
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "broker") as broker:
        port = broker.port
        drain_paho(port, "bare-paho", 0, subscribe_only=True)
        publish(port, args.single, "single")
        out["bare_paho_msgs_per_s"] = drain_paho(port, "bare-paho", args.single)
        await asyncio.to_thread(drain_aiomqtt, port, "bare-aiomqtt", 0, subscribe_only=True)
        publish(port, args.single, "single")
        out["bare_aiomqtt_msgs_per_s"] = await asyncio.to_thread(drain_aiomqtt, port, "bare-aiomqtt", args.single)
        with postgres() as pg_url:
            for backend, url in (("sqlite", None), ("postgresql", pg_url)):
                if backend == "postgresql" and url is None:
                    out[backend] = "skipped: no PostgreSQL binaries and no SIAGA_BENCH_DATABASE_URL"
                    continue
                site = make_site(url, Path(tmp) / backend, port, f"siaga-{backend}")
                res: dict[str, object] = {}
                res["single"] = await drain_siaga(site, port, "single", args.single, 1)
                res["batched"] = await drain_siaga(site, port, "batch", args.batches, 100)
                site.engine.dispose()
                out[backend] = res
    bare = float(out["bare_paho_msgs_per_s"])  # type: ignore[arg-type]
    for backend in ("sqlite", "postgresql"):
        res = out.get(backend)
        if isinstance(res, dict):
            single = res["single"]["ingested_msgs_per_s"]
            res["single_vs_bare_paho"] = round(single / bare, 2) if bare else None
    out["target"] = {"single_vs_bare_paho": 0.7, "batched_readings_per_s": 100_000}
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
