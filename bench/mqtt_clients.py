"""Bare MQTT subscriber ceilings: paho-mqtt against aiomqtt, QoS 1 (how siaga chose its client).

A subscriber with a persistent session subscribes and goes away; a separate publisher process puts
COUNT QoS 1 messages in its queue at the broker; the subscriber comes back and only counts messages.
Its drain rate is the ceiling of that client on this machine. Prints JSON. Run by hand:

    PYTHONPATH=src .venv/bin/python bench/mqtt_clients.py --count 100000
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from bench_mqtt import drain_aiomqtt, drain_paho, preload

from siaga.sources.mqtt.testbroker import Mosquitto


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--count", type=int, default=100_000)
    ap.add_argument("--rounds", type=int, default=2)
    args = ap.parse_args()
    out: dict[str, object] = {"count": args.count, "qos": 1}
    with tempfile.TemporaryDirectory() as tmp, Mosquitto(Path(tmp)) as broker:
        for name, drain in (("paho", drain_paho), ("aiomqtt", drain_aiomqtt)):
            rates = []
            for r in range(args.rounds):
                cid = f"bare-{name}-{r}"
                drain(broker.port, cid, 0, subscribe_only=True)
                preload(broker.port, args.count, "single")
                rates.append(drain(broker.port, cid, args.count))
            out[f"{name}_msgs_per_s"] = max(rates)
            out[f"{name}_rounds"] = rates
    print(json.dumps(out))


if __name__ == "__main__":
    main()
