"""Fault drills of the MQTT ingest path against a real ``siaga serve`` and a real mosquitto.

Used by ``bench/faults.py`` (the table of scenarios, run by hand, printing JSON) and by
``tests/faults/test_ingest_faults.py`` (which checks the figures):

- ``kill9``: a QoS 1 stream (a separate publisher process, one millisecond between the made-up
  timestamps, so every published (sensor, ts) is known) into ``siaga serve`` on SQLite; SIGKILL of
  serve in the middle, serve started again on the same store and persistent session. Figures:
  ``kill9_lost`` (published readings not in the store), ``kill9_doubled`` (rows beyond one per
  (sensor, ts)), ``kill9_published``, ``kill9_stored``.
- ``redelivery``: serve paused (SIGSTOP) while messages reach its subscriber, the broker restarted
  (the PUBACKs that siaga sends after it resumes go to a connection that is gone), serve resumed: the
  broker delivers the same messages again. Figures: ``redelivery_doubled``, ``redelivery_lost``,
  ``redelivery_redelivered`` (readings ingest accepted beyond the published ones: > 0 shows the
  drill really made the broker deliver again).

    PYTHONPATH=src .venv/bin/python bench/faults.py kill9 redelivery
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

from siaga.sources.ingest import to_ms
from siaga.sources.mqtt.testbroker import Mosquitto, free_port
from siaga.sources.payloads import parse_ts

ROOT = Path(__file__).resolve().parents[1]
SENSORS = [f"t{i}" for i in range(10)]


def site_yaml(broker_port: int) -> str:
    sensors = "\n".join(
        f"  - {{id: {s}, kind: temperature, room: ruang, source: {{type: mqtt, topic: load/{s}}}}}"
        for s in [*SENSORS, "warmup"]
    )
    return f"""
site: {{name: Uji Gangguan, timezone: Asia/Makassar, language: id}}
store: {{data_dir: data}}
rooms: [{{id: ruang, name: Ruang Server}}]
mqtt: {{host: 127.0.0.1, port: {broker_port}, client_id: siaga-fault-drill, reconnect_min_s: 0.2}}
sensors:
{sensors}
"""


def _env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


class Serve:
    """``siaga serve`` as its own process, its log in a file."""

    def __init__(self, config: Path) -> None:
        self.config = config
        self.port = free_port()
        self.log = config.parent / "serve.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Serve:
        with self.log.open("a") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "siaga", "serve", "--config", str(self.config), "--port", str(self.port),
                 "--log-format", "text"], stdout=out, stderr=subprocess.STDOUT, env=_env(),
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"siaga serve ended with {self.proc.returncode}: {self.tail()}")
            with (
                contextlib.suppress(OSError, ValueError),
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=2) as r,
            ):
                if json.loads(r.read()).get("components", {}).get("sources.mqtt") == "running":
                    return self
            time.sleep(0.1)
        raise RuntimeError(f"siaga serve did not come up: {self.tail()}")

    def tail(self, n: int = 30) -> str:
        return "\n".join(self.log.read_text().splitlines()[-n:]) if self.log.exists() else ""

    def signal(self, sig: int) -> None:
        assert self.proc is not None
        self.proc.send_signal(sig)

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode


class Store:
    """The drill's SQLite store, read while siaga writes it (WAL)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def one(self, sql: str) -> int:
        if not self.path.exists():
            return 0
        with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db:
            try:
                return int(db.execute(sql).fetchone()[0] or 0)
            except (sqlite3.OperationalError, TypeError):
                return 0  # not migrated yet, no counter yet

    def rows(self) -> int:
        return self.one("SELECT count(*) FROM readings WHERE sensor != 'warmup'")

    def accepted(self) -> int:
        return self.one("SELECT count FROM ingest_counters WHERE reason = 'accepted'")

    def keys(self) -> list[tuple[str, int]]:
        with contextlib.closing(sqlite3.connect(self.path, timeout=10)) as db:
            return [(s, int(t)) for s, t in db.execute("SELECT sensor, ts FROM readings WHERE sensor != 'warmup'")]


def published_keys(count: int, ts_base: float) -> set[tuple[str, int]]:
    """The (sensor, ts ms) of each message the publisher sends, read the way siaga reads them."""
    out = set()
    for i in range(count):  # as loadgen --ts-base stamps them: each sensor's readings 1 ms apart
        ts = parse_ts(json.loads(json.dumps(ts_base + (i // len(SENSORS)) / 1000)))
        assert ts is not None
        out.add((SENSORS[i % len(SENSORS)], to_ms(ts)))
    return out


def publisher(port: int, count: int, rate: float, ts_base: float) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "siaga.sources.mqtt.loadgen", "--port", str(port), "--count", str(count),
         "--rate", str(rate), "--sensors", ",".join(SENSORS), "--prefix", "load/", "--ts-base", str(ts_base),
         "--client-id", f"drill-pub-{time.time_ns()}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(),
    )


def publish_one(port: int, topic: str, payload: str) -> None:
    import paho.mqtt.client as mqtt

    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2,  # type: ignore[attr-defined]
                         client_id=f"drill-one-{time.time_ns()}")
    client.connect("127.0.0.1", port)
    client.loop_start()
    client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


def wait_for(pred: Callable[[], bool], timeout: float, what: str, serve: Serve | None = None) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            tail = f"\n{serve.tail()}" if serve is not None else ""
            raise AssertionError(f"{what} did not happen within {timeout:.0f} s{tail}")
        time.sleep(0.1)


@contextlib.contextmanager
def drill_site(work: Path) -> Iterator[tuple[Mosquitto, Serve, Store]]:
    """mosquitto and a subscribed ``siaga serve`` (a first reading stored proves the subscription)."""
    broker = Mosquitto(work / "broker")
    broker.start()
    cfg = work / "siaga.yaml"
    cfg.write_text(site_yaml(broker.port), encoding="utf-8")
    serve = Serve(cfg)
    store = Store(work / "data" / "siaga.db")
    try:
        serve.start()

        def warmed() -> bool:  # until siaga has subscribed, nothing keeps a message for it: send again
            if store.one("SELECT count(*) FROM readings WHERE sensor = 'warmup'") > 0:
                return True
            publish_one(broker.port, "load/warmup", json.dumps({"value": 22.0}))
            time.sleep(0.4)
            return False

        wait_for(warmed, 30, "the first reading stored", serve)
        yield broker, serve, store
    finally:
        serve.stop()
        broker.stop()


def settle(store: Store, expected: int, timeout: float, quiet_s: float = 5.0) -> None:
    """Until the store holds ``expected`` rows and nothing more arrives for a second, or nothing arrives
    for ``quiet_s`` (readings lost: the figures say how many), or ``timeout``."""
    deadline = time.monotonic() + timeout
    last, changed = store.rows(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = store.rows()
        if now != last:
            last, changed = now, time.monotonic()
        elif time.monotonic() - changed >= (1.0 if now >= expected else quiet_s):
            return


def kill9(work: Path, count: int = 3000, rate: float = 1000.0, kill_after_s: float = 1.5) -> dict[str, object]:
    """SIGKILL of ``siaga serve`` during a QoS 1 stream, then serve again: every reading stored once?"""
    ts_base = float(int(time.time()) - 120)
    with drill_site(work) as (broker, serve, store):
        pub = publisher(broker.port, count, rate, ts_base)
        time.sleep(kill_after_s)
        in_store_at_kill = store.rows()
        serve.kill9()
        serve.start()
        out, err = pub.communicate(timeout=120)
        if pub.returncode != 0:
            raise RuntimeError(f"the publisher failed: {err.decode()}")
        expected = published_keys(count, ts_base)
        settle(store, len(expected), 60)
        keys = store.keys()
    stored = set(keys)
    return {
        "kill9_published": count,
        "kill9_stored_at_kill": in_store_at_kill,
        "kill9_stored": len(keys),
        "kill9_lost": len(expected - stored),
        "kill9_doubled": len(keys) - len(stored),
        "kill9_publisher": json.loads(out.decode().strip().splitlines()[-1]),
    }


def redelivery(work: Path, count: int = 150) -> dict[str, object]:
    """siaga paused, the broker restarted, siaga resumed: the same messages again, stored once?"""
    ts_base = float(int(time.time()) - 120)
    with drill_site(work) as (broker, serve, store):
        before = store.accepted()
        serve.signal(signal.SIGSTOP)  # siaga paused: its subscriber takes the messages, nobody acknowledges
        try:
            pub = publisher(broker.port, count, 0.0, ts_base)
            pub.communicate(timeout=60)
            time.sleep(1.0)  # the messages reach the subscriber process and wait in its pipe to siaga
            broker.restart()  # the broker goes with the messages unacknowledged (saved in its persistence)
        finally:
            serve.signal(signal.SIGCONT)  # siaga acknowledges on a connection that is gone; the broker sends again
        expected = published_keys(count, ts_base)
        settle(store, len(expected), 60)
        with contextlib.suppress(AssertionError):  # the figure says whether it did
            wait_for(lambda: store.accepted() - before >= 2 * count, 15, "the broker delivering again")
        time.sleep(1.0)
        keys = store.keys()
        accepted = store.accepted() - before
    stored = set(keys)
    return {
        "redelivery_published": count,
        "redelivery_redelivered": accepted - count,
        "redelivery_stored": len(keys),
        "redelivery_lost": len(expected - stored),
        "redelivery_doubled": len(keys) - len(stored),
    }


WORDS = ["wet", "ON", "true", '{"value": true}', '{"value": "dry"}', "on"]


def words(work: Path) -> dict[str, object]:
    """Words and booleans sent for a temperature: refused and counted, no temperature alert, a faulty sensor."""
    with drill_site(work) as (broker, _serve, store):
        for payload in WORDS:
            publish_one(broker.port, "load/t0", payload)
        with contextlib.suppress(AssertionError):  # the figures say what happened
            wait_for(lambda: store.one("SELECT count FROM ingest_counters WHERE reason = 'not_a_number'")
                     >= len(WORDS), 15, "the refusals counted")
        time.sleep(1.5)  # a tick of the rules, which would hold a temperature.low as pending
        with contextlib.closing(sqlite3.connect(store.path, timeout=10)) as db:
            rules = sorted(r for (r,) in db.execute("SELECT rule FROM alerts WHERE subject = 't0'"))
        return {
            "words_sent": len(WORDS),
            "words_refused": store.one("SELECT count FROM ingest_counters WHERE reason = 'not_a_number'"),
            "words_stored": store.one("SELECT count(*) FROM readings WHERE sensor = 't0'"),
            "words_alerts": rules,
        }
