"""Shared pieces of the MQTT benchmarks: preload a subscriber's queue, bare counting subscribers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

HERE = Path(__file__).resolve().parent


def publish(port: int, count: int, mode: str, *, sensors: str = "s0", batch: int = 100,
            rate: float = 0.0, topic: str = "bench/batch", ts_base: float | None = None) -> dict[str, object]:
    """Run the separate publisher process to the end; its JSON summary (``ts_base``: loadgen --ts-base)."""
    extra = ["--ts-base", repr(ts_base)] if ts_base is not None else []
    out = subprocess.run(
        [sys.executable, "-m", "siaga.sources.mqtt.loadgen", "--port", str(port), "--count", str(count),
         "--mode", mode, "--sensors", sensors, "--batch", str(batch), "--rate", str(rate), "--topic", topic,
         *extra],
        check=True, capture_output=True, text=True,
    )
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def preload(port: int, count: int, mode: str, **kw: object) -> dict[str, object]:
    return publish(port, count, mode, **kw)  # type: ignore[arg-type]


def _connect_props() -> Properties:
    props = Properties(PacketTypes.CONNECT)
    props.SessionExpiryInterval = 3600
    props.ReceiveMaximum = 1000
    return props


def drain_paho(port: int, client_id: str, count: int, *, subscribe_only: bool = False,
               topic: str = "bench/#") -> float:
    """Connect with the persistent session, count ``count`` messages; messages per second."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    n = 0
    first = 0.0
    last = 0.0
    done = threading.Event()
    subscribed = threading.Event()

    def on_message(_c: object, _u: object, _m: object) -> None:
        nonlocal n, first, last
        if n == 0:
            first = time.perf_counter()
        n += 1
        if n >= count:
            last = time.perf_counter()
            done.set()

    client.on_message = on_message
    client.on_subscribe = lambda *a: subscribed.set()
    client.connect("127.0.0.1", port, clean_start=False, properties=_connect_props())
    client.subscribe(topic, qos=1)
    client.loop_start()
    subscribed.wait(10)
    if subscribe_only:  # make the session and take what an earlier run left queued in it
        seen = -1
        while seen != n:
            seen = n
            time.sleep(0.3)
        client.disconnect()
        client.loop_stop()
        return 0.0
    done.wait(300)
    client.disconnect()
    client.loop_stop()
    return round((count - 1) / (last - first), 1) if last > first else 0.0


def drain_aiomqtt(port: int, client_id: str, count: int, *, subscribe_only: bool = False,
                  topic: str = "bench/#") -> float:
    import aiomqtt

    async def run() -> float:
        async with aiomqtt.Client(
            "127.0.0.1", port, identifier=client_id, protocol=aiomqtt.ProtocolVersion.V5,
            clean_start=False, properties=_connect_props(),
        ) as client:
            await client.subscribe(topic, qos=1)
            if subscribe_only:
                return 0.0
            n = 0
            first = 0.0
            async for _msg in client.messages:
                if n == 0:
                    first = time.perf_counter()
                n += 1
                if n >= count:
                    break
            last = time.perf_counter()
            return round((count - 1) / (last - first), 1) if last > first else 0.0

    return asyncio.run(run())
