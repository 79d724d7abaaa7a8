"""Leak latency: from the publish of a wet reading by a separate publisher process to the alert stored
and handed to the notifier (a subscriber of the alert manager's transitions).

The whole path is real: mosquitto on loopback, siaga's MQTT source (paho), the ingest path, the rules,
the alert manager writing to SQLite, the readings writer. A publisher process publishes the zigbee2mqtt
payload ``{"water_leak": true}`` for leak-r1-ceiling with QoS 1 and prints when it did; siaga's
subscriber notes when the "firing" transition arrives; then the sensor goes dry (the alert resolves)
before the next trial. Idle, and under a background load of 10,000 readings/s (batches of 100, QoS 1,
from another process). Prints one JSON object. Run by hand:

    PYTHONPATH=src .venv/bin/python bench/leak_latency.py --trials 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench_site import BENCH_SENSORS, make_site, running

from siaga.sources.mqtt.testbroker import Mosquitto

PUBLISHER = r"""
import json, sys, time, threading
import paho.mqtt.client as mqtt
port, trials, gap = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="leak-publisher")
c.connect("127.0.0.1", port); c.loop_start(); time.sleep(0.5)
for i in range(trials):
    t = time.time()
    c.publish("zigbee2mqtt/leak-r1-ceiling", json.dumps({"water_leak": True, "battery": 97}), qos=1)
    print(t, flush=True)
    time.sleep(gap)
    c.publish("zigbee2mqtt/leak-r1-ceiling", json.dumps({"water_leak": False, "battery": 97}), qos=1)
    time.sleep(gap)
c.loop_stop(); c.disconnect()
"""


def stats(xs: list[float]) -> dict[str, float]:
    xs = sorted(xs)
    q = statistics.quantiles(xs, n=100, method="inclusive")
    return {"n": len(xs), "p50_ms": round(q[49], 2), "p99_ms": round(q[98], 2), "max_ms": round(xs[-1], 2)}


async def trial_run(port: int, folder: Path, trials: int, gap: float, load: bool) -> dict[str, object]:
    site = make_site(None, folder, port, f"siaga-leak-{int(load)}")
    queue = site.manager.subscribe()
    arrivals: list[float] = []

    async def collect() -> None:
        while True:
            t = await queue.get()
            if t.alert.subject == "leak-r1-ceiling" and t.event == "firing":
                arrivals.append(time.time())

    background = None
    async with running(site, site.source()) as src:
        collector = asyncio.create_task(collect())
        if load:  # 10,000 readings/s: 100 batches of 100 a second, for as long as the trials take
            n_msgs = int((trials * 2 * gap + 10) * 100)
            background = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "siaga.sources.mqtt.loadgen", "--port", str(port), "--count", str(n_msgs),
                "--mode", "batch", "--batch", "100", "--rate", "100", "--topic", "bench/batch",
                "--sensors", ",".join(BENCH_SENSORS), stdout=asyncio.subprocess.DEVNULL,
            )
            await asyncio.sleep(3)  # let the load settle
            accepted0, t0 = site.ingest.counts["accepted"], time.monotonic()
        pub = await asyncio.create_subprocess_exec(
            sys.executable, "-c", PUBLISHER, str(port), str(trials), str(gap), stdout=asyncio.subprocess.PIPE
        )
        out, _ = await pub.communicate()
        await asyncio.sleep(1.0)
        collector.cancel()
        load_rate = None
        if background is not None:
            load_rate = round((site.ingest.counts["accepted"] - accepted0) / (time.monotonic() - t0))
            background.terminate()
            await background.wait()
        sent = [float(x) for x in out.decode().split()]
        problems = dict(src.stats.problems)
    lat = [(a - s) * 1000 for s, a in zip(sent, arrivals, strict=False)]
    result: dict[str, object] = stats(lat)
    result["fired"] = len(arrivals)
    result["published"] = len(sent)
    if load_rate is not None:
        result["background_readings_per_s"] = load_rate
    result["stored_readings"] = site.stored()
    result["problems"] = problems
    site.engine.dispose()
    return result


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--gap", type=float, default=0.1, help="seconds between wet and dry, and dry and the next wet")
    args = ap.parse_args()
    out: dict[str, object] = {"trials": args.trials, "store": "sqlite", "qos": 1}
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp) / "broker") as broker:
        out["idle"] = await trial_run(broker.port, Path(tmp) / "idle", args.trials, args.gap, load=False)
        out["loaded"] = await trial_run(broker.port, Path(tmp) / "loaded", args.trials, args.gap, load=True)
    out["target"] = {"idle_p99_ms": 50, "loaded_p99_ms": 250}
    print(json.dumps(out))


if __name__ == "__main__":
    asyncio.run(main())
