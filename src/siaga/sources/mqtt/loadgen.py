"""A load generator for the MQTT tests and benchmarks, run as its own process
(``python -m siaga.sources.mqtt.loadgen``): publishes COUNT messages with QoS 1 as fast as the broker
takes them (or at --rate per second; with ``--in-flight N`` never more than N unacknowledged, so a
generator as fast as it can spends its CPU only on what the broker takes), then prints one JSON line with
what it did.

Payloads: `single` is {"value": v, "ts": t} on one topic per sensor (round robin over --sensors);
`batch` is a JSON array of --batch items {"sensor", "value", "ts"} on --topic. ``t`` is the time of
publishing, or with ``--ts-base B`` a made-up time: reading ``k`` (message ``i`` in `single`, item
``i * batch + j`` in `batch`) of sensor ``k % len(sensors)`` is stamped ``B + (k // len(sensors)) / 1000``,
one millisecond after that sensor's previous one. Readings are unique on (sensor, ts): so every one of
them is stored, and the fault drills know each (sensor, ts) that was published.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time

import paho.mqtt.client as mqtt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--count", type=int, required=True, help="messages to publish")
    ap.add_argument("--mode", choices=["single", "batch"], default="single")
    ap.add_argument("--topic", default="bench/readings")
    ap.add_argument("--sensors", default="s0", help="comma-separated sensor ids (single: topic bench/<id>)")
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--rate", type=float, default=0.0, help="messages per second (0: as fast as possible)")
    ap.add_argument("--qos", type=int, default=1)
    ap.add_argument("--client-id", default="")
    ap.add_argument("--seq", action="store_true", help="single: the payload is the message's number")
    ap.add_argument("--prefix", default="bench/", help="single: topic is PREFIX + sensor id")
    ap.add_argument("--ts-base", type=float, default=None,
                    help="made-up timestamps from BASE (epoch s), each sensor's 1 ms apart")
    ap.add_argument("--in-flight", type=int, default=0,
                    help="QoS 1: wait before publishing while this many messages are not acknowledged "
                    "(0: never wait, unacknowledged messages queue here)")
    args = ap.parse_args()

    sensors = args.sensors.split(",")
    client = mqtt.Client(
        mqtt.CallbackAPIVersion.VERSION2,  # type: ignore[attr-defined]
        client_id=args.client_id or f"bench-pub-{time.time_ns()}",
    )
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    acked = 0
    done = threading.Event()
    window = threading.BoundedSemaphore(args.in_flight) if args.in_flight > 0 and args.qos > 0 else None

    def on_publish(_c: object, _u: object, _mid: int, _rc: object, _p: object) -> None:
        nonlocal acked
        acked += 1
        if window is not None:
            window.release()
        if acked >= args.count:
            done.set()

    client.on_publish = on_publish
    client.connect("127.0.0.1", args.port, keepalive=60)
    client.loop_start()
    t0 = time.perf_counter()
    for i in range(args.count):
        now = time.time()
        n = len(sensors)
        if args.mode == "single":
            sid = sensors[i % n]
            topic = f"{args.prefix}{sid}"
            ts = now if args.ts_base is None else args.ts_base + (i // n) / 1000
            payload = str(i) if args.seq else json.dumps({"value": 20.0 + (i % 50) / 10, "ts": ts})
        else:
            topic = args.topic
            base = i * args.batch
            if args.ts_base is None:
                items = [{"sensor": sensors[(base + j) % n], "value": 20.0 + j / 10, "ts": now}
                         for j in range(args.batch)]
            else:  # a steady value per sensor: readings 1 ms apart that jumped would be a rate-of-change storm
                items = [{"sensor": sensors[(base + j) % n], "value": 20.0 + ((base + j) % n % 50) / 10,
                          "ts": args.ts_base + ((base + j) // n) / 1000} for j in range(args.batch)]
            payload = json.dumps(items)
        if window is not None:
            window.acquire()
        info = client.publish(topic, payload, qos=args.qos)
        if info.rc != mqtt.MQTT_ERR_SUCCESS and info.rc != mqtt.MQTT_ERR_QUEUE_SIZE:
            print(json.dumps({"error": f"publish rc {info.rc}"}), file=sys.stderr)
        if args.rate:
            target = t0 + (i + 1) / args.rate
            delay = target - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
    if args.qos == 0:
        done.set()
    done.wait(timeout=300)
    elapsed = time.perf_counter() - t0
    client.loop_stop()
    client.disconnect()
    print(json.dumps({"published": args.count, "acked": acked, "seconds": round(elapsed, 3),
                      "msgs_per_s": round(args.count / elapsed, 1)}))


if __name__ == "__main__":
    main()
