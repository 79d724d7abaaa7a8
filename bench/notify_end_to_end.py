"""End to end: a wet leak reading published over MQTT -> JSON webhook received, p50/p99 over >= 200 trials.

What runs: a real mosquitto on loopback; ``siaga serve`` as its own process (MQTT subscriber, ingest,
rules, alert manager, notify outbox and worker, apprise JSON webhook); this process publishes the wet
readings (paho) and runs the webhook receiver, so both ends read one clock. Each trial wets a different
leak sensor of rack R1 (a new alert each time); storm grouping is set to 0 s here so every alert
leaves at once (grouping delays the followers of an incident on purpose; bench/alert_storm.py covers it).

    .venv/bin/python bench/notify_end_to_end.py [--trials 200]

Prints one JSON object. Anchor (issue 4): Prometheus + Alertmanager, median 70-95 s with defaults,
about 1 s tuned, on a 2-core machine like ours.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import paho.mqtt.client as mqtt

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config(tmp: Path, mqtt_port: int, hook_port: int, web_port: int, sensors: int) -> Path:
    lines = [
        "site: {name: Bench Bontang, timezone: Asia/Makassar, language: id}",
        f"store: {{data_dir: {tmp}/data}}",
        f"web: {{host: 127.0.0.1, port: {web_port}, public_url: 'http://127.0.0.1:{web_port}'}}",
        "rooms: [{id: ruang-server, name: Ruang Server}]",
        "racks: [{id: R1, room: ruang-server, name: Rak server aplikasi}]",
        "devices: [{id: srv-web-1, kind: server, rack: R1, u: 10, value: 950000000}]",
        "services: [{id: portal, name: Portal, criticality: vital, runs_on: [srv-web-1]}]",
        f"mqtt: {{host: 127.0.0.1, port: {mqtt_port}, client_id: siaga-bench, qos: 1}}",
        "sensors:",
    ]
    for i in range(sensors):
        lines.append(f"  - {{id: leak-{i:03d}, kind: leak, rack: R1, zone: floor, interval_s: 86400,"
                     f" source: {{type: mqtt, topic: bench/leak/{i:03d}}}}}")
    lines += [
        "people: [{id: andi, name: Andi Pratama, contacts: {noc: ''}}]",
        "notification:",
        "  channels:",
        f"    noc: {{type: webhook, url: 'http://127.0.0.1:{hook_port}/hook'}}",
        "  storm: {group_window: 0s, rate_per_minute: 100000}",
        "  delivery: {attempts: 3, backoff: 1s, timeout: 5s}",
        "escalation:",
        "  - id: kritis",
        "    match: {severity_at_least: critical}",
        "    steps: [{people: [andi], channels: [noc]}]",
    ]
    path = tmp / "siaga.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


class Hook:
    """The webhook receiver: when each page arrived, by alert id."""

    def __init__(self, port: int) -> None:
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a: object) -> None:
                pass

            def do_POST(self) -> None:
                at = time.monotonic()
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                self.send_response(200)
                self.end_headers()
                if body.get("siaga_kind") == "page":
                    with owner.cond:
                        for a in str(body.get("siaga_alerts", "")).split(","):
                            owner.arrived.setdefault(a, at)
                        owner.last_title = str(body.get("title", ""))
                        owner.cond.notify_all()

        self.last_title = ""
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_count(self, n: int, timeout: float) -> float | None:
        end = time.monotonic() + timeout
        with self.cond:
            while len(self.arrived) < n and time.monotonic() < end:
                self.cond.wait(0.005)
            return max(self.arrived.values()) if len(self.arrived) >= n else None


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=200)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="siaga-bench-notify-"))
    mqtt_port, hook_port, web_port = free_port(), free_port(), free_port()
    (tmp / "mosquitto.conf").write_text(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = subprocess.Popen([shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(tmp / "mosquitto.conf")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    hook = Hook(hook_port)
    cfg = config(tmp, mqtt_port, hook_port, web_port, args.trials)
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    serve = subprocess.Popen([sys.executable, "-m", "siaga", "--lang", "en", "serve", "-c", str(cfg)], env=env,
                             stdout=subprocess.DEVNULL, stderr=open(tmp / "serve.log", "w"))  # noqa: SIM115
    try:
        end = time.monotonic() + 60
        while time.monotonic() < end:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{web_port}/healthz", timeout=1) as r:
                    if json.load(r).get("status") == "ok":
                        break
            except OSError:
                time.sleep(0.2)
        time.sleep(2.0)  # let the MQTT subscription settle
        client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="bench-pub", protocol=mqtt.MQTTv5)
        client.connect("127.0.0.1", mqtt_port)
        client.loop_start()
        latencies: list[float] = []
        lost = 0
        for i in range(args.trials):
            t0 = time.monotonic()
            client.publish(f"bench/leak/{i:03d}", "1", qos=1)
            at = hook.wait_count(i + 1 - lost, timeout=10)
            if at is None:
                lost += 1
                continue
            latencies.append((at - t0) * 1000)
            time.sleep(0.05)
        client.loop_stop()
        client.disconnect()
        latencies.sort()

        def pct(p: float) -> float:
            return round(latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))], 2) if latencies else -1

        print(json.dumps({
            "bench": "notify_end_to_end",
            "path": "mosquitto -> siaga serve (MQTT subscriber, ingest, rules, alert manager, notify outbox, "
                    "apprise JSON webhook) -> receiver in the bench process",
            "trials": args.trials,
            "received": len(latencies),
            "lost": lost,
            "p50_ms": pct(50),
            "p90_ms": pct(90),
            "p99_ms": pct(99),
            "max_ms": round(max(latencies), 2) if latencies else -1,
            "mean_ms": round(statistics.fmean(latencies), 2) if latencies else -1,
            "target_p99_ms": 100,
            "anchor": "Prometheus + Alertmanager: median 70-95 s default, ~1 s tuned (issue 4)",
            "cpu_count": os.cpu_count(),
        }))
    finally:
        serve.terminate()
        try:
            serve.wait(15)
        except subprocess.TimeoutExpired:
            serve.kill()
        broker.terminate()
        broker.wait(5)
        hook.server.shutdown()
        if os.environ.get("SIAGA_BENCH_KEEP"):
            print(f"kept {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
