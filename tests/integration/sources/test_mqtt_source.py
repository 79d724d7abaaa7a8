"""The MQTT source against a real mosquitto, fed by Debian's mosquitto_pub and by a paho publisher."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from siaga.alerts.model import Condition, Severity
from siaga.config.loader import parse_config
from siaga.rules.engine import RulesEngine
from siaga.sources.ingest import Ingest
from siaga.sources.memory import MemorySink
from siaga.sources.mqtt.client import MqttSource
from siaga.sources.mqtt.routes import TopicTable
from siaga.sources.mqtt.testbroker import Mosquitto, free_port
from siaga.sources.reading import IngestResult, RawReading

pytestmark = pytest.mark.integration

CONFIG = """
site: {name: Test}
rooms: [{id: room, name: Room}]
racks: [{id: R1, room: room}]
mqtt: {host: 127.0.0.1, port: %(port)d, client_id: %(cid)s, reconnect_min_s: 0.1, reconnect_max_s: 0.5,
       unreachable_alert_s: %(alert)s, subscriber: %(subscriber)s}
sensors:
  - {id: leak-r1-ceiling, kind: leak, rack: R1, zone: ceiling-above,
     source: {type: mqtt, topic: zigbee2mqtt/leak-r1-ceiling, field: water_leak}}
  - {id: seq, kind: temperature, rack: R1, source: {type: mqtt, topic: test/seq}}
"""


def make_source(port: int, sink: MemorySink, *, cid: str = "siaga-test", alert: float = 60.0,
                alerts: object = None, subscriber: str = "process") -> MqttSource:
    cfg = parse_config(CONFIG % {"port": port, "cid": cid, "alert": alert, "subscriber": subscriber})
    assert cfg.mqtt is not None
    return MqttSource(cfg.mqtt, TopicTable.from_config(cfg.mqtt, cfg.sensors), sink, alerts=alerts)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def running(src: MqttSource, *, wait_connected: bool = True) -> AsyncIterator[MqttSource]:
    stop = asyncio.Event()
    task = asyncio.create_task(src.run(stop))
    try:
        if wait_connected:
            assert await asyncio.to_thread(src.connected_event.wait, 10), "never connected"
            await asyncio.sleep(0.1)  # the SUBACK
        yield src
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)


async def until(cond: Callable[[], bool], limit: float = 15.0, what: Callable[[], object] | None = None) -> None:
    deadline = time.monotonic() + limit
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met in time ({what() if what else ''})")
        await asyncio.sleep(0.02)


def mosquitto_pub(port: int, topic: str, *messages: str, qos: int = 1) -> None:
    exe = shutil.which("mosquitto_pub")
    if exe is None:
        pytest.skip("mosquitto_pub is not installed (mosquitto-clients)")
    subprocess.run(
        [exe, "-h", "127.0.0.1", "-p", str(port), "-q", str(qos), "-t", topic, "-l"],
        input="\n".join(messages) + "\n", text=True, check=True, timeout=60,
    )


def seq_values(sink: MemorySink) -> set[int]:
    return {int(v) for v in sink.values("seq")}  # type: ignore[call-overload]


async def test_a_wet_zigbee2mqtt_reading_from_mosquitto_pub_reaches_ingest(mosquitto: Mosquitto) -> None:
    sink = MemorySink()
    async with running(make_source(mosquitto.port, sink)):
        await asyncio.to_thread(
            mosquitto_pub, mosquitto.port, "zigbee2mqtt/leak-r1-ceiling",
            json.dumps({"battery": 97, "water_leak": True, "linkquality": 90}),
        )
        await until(lambda: bool(sink.readings))
    assert sink.values("leak-r1-ceiling") == [1.0]
    assert sink.readings[0].source == "mqtt"


async def test_malformed_payloads_are_counted_and_the_stream_goes_on(mosquitto: Mosquitto) -> None:
    sink = MemorySink()
    async with running(make_source(mosquitto.port, sink)) as src:
        await asyncio.to_thread(
            mosquitto_pub, mosquitto.port, "zigbee2mqtt/leak-r1-ceiling",
            '{"water_leak": tru', '{"battery": 3}', '{"water_leak": false}',
        )
        await until(lambda: bool(sink.readings) and sum(sink.rejects.values()) >= 2)
    assert sink.rejects == {"bad_json": 1, "no_field": 1}
    assert sink.values("leak-r1-ceiling") == [0.0]
    assert src.stats.messages == 3


@pytest.mark.parametrize("subscriber", ["process", "thread"])
async def test_readings_published_while_siaga_is_away_arrive_when_it_returns(
    mosquitto: Mosquitto, subscriber: str
) -> None:
    sink = MemorySink()
    async with running(make_source(mosquitto.port, sink, subscriber=subscriber)):
        await asyncio.to_thread(mosquitto_pub, mosquitto.port, "test/seq", "0")
        await until(lambda: seq_values(sink) == {0})
    # siaga is stopped; the broker keeps its persistent session and queues QoS 1 messages
    await asyncio.to_thread(mosquitto_pub, mosquitto.port, "test/seq", *[str(i) for i in range(1, 501)])
    async with running(make_source(mosquitto.port, sink, subscriber=subscriber)):
        await until(lambda: len(seq_values(sink)) == 501)
    assert seq_values(sink) == set(range(501))


class _Publisher(threading.Thread):
    """A QoS 1 publisher with its own persistent session, publishing 0..n-1 at a steady rate."""

    def __init__(self, port: int, n: int, rate: float) -> None:
        super().__init__(daemon=True)
        self.port, self.n, self.rate = port, n, rate
        self.acked = 0
        self.done = threading.Event()

    def run(self) -> None:
        client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="test-pub", clean_session=False)
        client.max_queued_messages_set(0)
        client.reconnect_delay_set(min_delay=0.1, max_delay=0.5)  # type: ignore[arg-type]

        def on_publish(*_a: object) -> None:
            self.acked += 1
            if self.acked >= self.n:
                self.done.set()

        client.on_publish = on_publish
        client.connect("127.0.0.1", self.port)
        client.loop_start()
        t0 = time.monotonic()
        for i in range(self.n):
            client.publish("test/seq", str(i), qos=1)
            delay = t0 + (i + 1) / self.rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        self.done.wait(30)
        client.disconnect()
        client.loop_stop()


@pytest.mark.parametrize("subscriber", ["process", "thread"])
async def test_broker_restart_mid_stream_loses_no_qos1_reading(mosquitto: Mosquitto, subscriber: str) -> None:
    sink = MemorySink()
    n = 3000
    async with running(make_source(mosquitto.port, sink, subscriber=subscriber)) as src:
        pub = _Publisher(mosquitto.port, n, rate=1500.0)
        pub.start()
        await until(lambda: len(seq_values(sink)) > 300)
        await asyncio.to_thread(mosquitto.restart, 0.5)  # down for half a second, mid-stream
        await asyncio.to_thread(pub.join, 60)
        assert pub.done.is_set(), f"publisher got {pub.acked}/{n} acknowledgements"
        await until(lambda: len(seq_values(sink)) == n, limit=30, what=lambda: (len(seq_values(sink)), pub.acked))
        assert src.stats.connects >= 2  # it did reconnect
    assert seq_values(sink) == set(range(n))


class SlowSink(MemorySink):
    """An ingest path that takes its time (a busy siaga): batches wait in the subscriber and the pipe."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def ingest(self, readings: Sequence[RawReading], *, received_at: dt.datetime | None = None) -> IngestResult:
        time.sleep(self.delay)
        return super().ingest(readings, received_at=received_at)


async def test_a_killed_subscriber_process_is_started_again_and_loses_no_qos1_reading(mosquitto: Mosquitto) -> None:
    """The subscriber acknowledges a message only once siaga's ingest has it: kill it mid-stream, with
    readings on their way to a slow ingest path, and the broker delivers again all it had not acknowledged."""
    sink = SlowSink(0.02)
    n = 3000
    async with running(make_source(mosquitto.port, sink)) as src:
        first = src.subscriber_pid
        assert first is not None
        pub = _Publisher(mosquitto.port, n, rate=1500.0)
        pub.start()
        await until(lambda: len(seq_values(sink)) > 300)
        os.kill(first, signal.SIGKILL)
        await until(lambda: src.subscriber_pid not in (None, first), limit=10)
        await asyncio.to_thread(pub.join, 60)
        assert pub.done.is_set(), f"publisher got {pub.acked}/{n} acknowledgements"
        await until(lambda: len(seq_values(sink)) == n, limit=30, what=lambda: (len(seq_values(sink)), pub.acked))
        assert src.stats.restarts == 1
        assert src.stats.connected
    assert seq_values(sink) == set(range(n))


async def test_a_message_after_stop_waits_at_the_broker_for_the_next_start(mosquitto: Mosquitto) -> None:
    """What siaga stops in the middle of is never half-taken: each message is ingested once, or kept by
    the broker for the next start; a normal stop does not make the broker deliver anything twice."""
    sink = SlowSink(0.001)
    n = 4000
    pub = _Publisher(mosquitto.port, n, rate=2000.0)
    async with running(make_source(mosquitto.port, sink)):
        pub.start()
        await until(lambda: len(seq_values(sink)) > 200)
    got_first = len(sink.readings)
    await asyncio.to_thread(pub.join, 60)
    async with running(make_source(mosquitto.port, sink)):
        await until(lambda: len(seq_values(sink)) == n, limit=30, what=lambda: len(seq_values(sink)))
    assert 200 < got_first < n
    assert seq_values(sink) == set(range(n))
    values = [int(v) for v in sink.values("seq")]  # type: ignore[call-overload]
    twice = sorted({v for v in values if values.count(v) > 1})
    assert not twice, f"delivered twice: {twice[:20]} (first run took {got_first})"


RATED_MSGS_PER_S = 2000


def paced_mosquitto_pub(port: int, topic: str, n: int, rate: float) -> float:
    """Feed 0..n-1 to Debian's mosquitto_pub (-l: one message per line) at ``rate`` lines per second."""
    exe = shutil.which("mosquitto_pub")
    if exe is None:
        pytest.skip("mosquitto_pub is not installed (mosquitto-clients)")
    proc = subprocess.Popen(
        [exe, "-h", "127.0.0.1", "-p", str(port), "-q", "1", "-t", topic, "-l"],
        stdin=subprocess.PIPE, text=True,
    )
    assert proc.stdin is not None
    chunk = max(1, int(rate / 100))  # every 10 ms
    t0 = time.monotonic()
    for start in range(0, n, chunk):
        proc.stdin.write("".join(f"{i}\n" for i in range(start, min(n, start + chunk))))
        proc.stdin.flush()
        delay = t0 + (start + chunk) / rate - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    return n / (time.monotonic() - t0)


async def test_keeps_up_at_rated_load_with_the_default_broker_queue(tmp_path: Path) -> None:
    """2,000 QoS 1 msg/s from mosquitto_pub, broker at its default queue and inflight: nothing lost.

    mosquitto drops messages for a subscriber whose queue (1,000 by default) overflows: this passes
    only if siaga drains as fast as the sensors publish.
    """
    broker = Mosquitto(tmp_path / "defaults", settings={})  # mosquitto's own defaults
    broker.start()
    try:
        sink = MemorySink()
        n = 3 * RATED_MSGS_PER_S
        async with running(make_source(broker.port, sink)):
            rate = await asyncio.to_thread(paced_mosquitto_pub, broker.port, "test/seq", n, RATED_MSGS_PER_S)
            assert rate > 0.8 * RATED_MSGS_PER_S, f"the publisher only reached {rate:.0f} msg/s"
            await until(lambda: len(seq_values(sink)) == n, limit=10, what=lambda: len(seq_values(sink)))
        assert seq_values(sink) == set(range(n))
    finally:
        broker.stop()


async def test_an_unreachable_broker_raises_a_system_alert_and_clears_it(tmp_path: Path) -> None:
    conditions: list[Condition] = []

    class Alerts:
        def submit(self, condition: Condition) -> None:
            conditions.append(condition)

    port = free_port()
    sink = MemorySink()
    src = make_source(port, sink, alert=0.5, alerts=Alerts())
    async with running(src, wait_connected=False):
        await until(lambda: len(conditions) == 1, limit=5)
        assert conditions[0].rule == "mqtt.unreachable" and conditions[0].active
        assert conditions[0].severity.value == "critical" and conditions[0].subject_kind.value == "system"
        broker = Mosquitto(tmp_path / "late", port=port)
        broker.start()
        try:
            await until(lambda: len(conditions) == 2, limit=10)
            assert not conditions[1].active
        finally:
            await asyncio.sleep(0)
    broker.stop()


@pytest.mark.parametrize("subscriber", ["process", "thread"])
async def test_messages_are_acknowledged_once_their_readings_are_committed(
    mosquitto: Mosquitto, subscriber: str, tmp_path: Path
) -> None:
    """With the readings writer's durability hook: nothing is acknowledged before its commit (the writer
    is held), everything is once committed (a fresh session then gets nothing again), in both modes."""
    from siaga.readings.writer import ReadingWriter
    from siaga.sources.ingest import Ingest
    from siaga.store import create_engine_for, sqlite_url, upgrade

    cfg = parse_config(CONFIG % {"port": mosquitto.port, "cid": "siaga-durable", "alert": 60.0,
                                 "subscriber": subscriber})
    assert cfg.mqtt is not None
    engine = create_engine_for(sqlite_url(tmp_path / "s.db"))
    upgrade(engine)
    ingest = Ingest(cfg)
    writer = ReadingWriter(ingest, engine, flush_interval=60.0)
    table = TopicTable.from_config(cfg.mqtt, cfg.sensors)
    base = int(time.time()) - 60
    messages = [json.dumps({"value": 20 + i / 100, "ts": base + i}) for i in range(50)]
    src = MqttSource(cfg.mqtt, table, ingest, durable=writer.when_durable)
    async with running(src):
        await asyncio.to_thread(mosquitto_pub, mosquitto.port, "test/seq", *messages)
        await until(lambda: ingest.counts["accepted"] == 50)
        assert writer.waiting > 0  # the writer is not serving: the acknowledgements wait for the commit
    # stopped without a commit: nothing was acknowledged, the broker delivers all 50 again
    again = MemorySink()
    async with running(make_source(mosquitto.port, again, cid="siaga-durable", subscriber=subscriber)):
        await until(lambda: len(again.readings) == 50)
    # now with the writer serving: committed, then acknowledged; a fresh start gets nothing
    stop = asyncio.Event()
    serving = asyncio.create_task(writer.serve(stop))
    src = MqttSource(cfg.mqtt, table, ingest, durable=writer.when_durable)
    async with running(src):
        await asyncio.to_thread(mosquitto_pub, mosquitto.port, "test/seq", *messages)
        await until(lambda: ingest.counts["accepted"] == 100 and not writer.waiting)
    stop.set()
    await serving
    late = MemorySink()
    async with running(make_source(mosquitto.port, late, cid="siaga-durable", subscriber=subscriber)):
        await asyncio.sleep(1.0)
    assert late.readings == []
    with engine.connect() as conn:
        from sqlalchemy import func, select

        from siaga.readings.tables import readings

        assert conn.execute(select(func.count()).select_from(readings)).scalar_one() == 50  # once each
    engine.dispose()


# --- presence: an on-change zigbee2mqtt leak sensor with an hourly check-in, and its availability topic ---

PRESENCE_CONFIG = """
site: {name: Test}
rooms: [{id: room, name: Room}]
racks: [{id: R1, room: room}]
mqtt: {host: 127.0.0.1, port: %(port)d, client_id: siaga-presence, reconnect_min_s: 0.1, reconnect_max_s: 0.5}
sensors:
  - {id: leak-r1-floor, kind: leak, rack: R1, zone: floor, reports: on_change, check_in: 1h,
     source: {type: mqtt, topic: zigbee2mqtt/leak-r1-floor, field: water_leak}}
  - {id: leak-r1-floor-battery, kind: battery, rack: R1, reports: on_change,
     source: {type: mqtt, topic: zigbee2mqtt/leak-r1-floor, format: zigbee2mqtt}}
"""


class PresenceAlerts:
    def __init__(self) -> None:
        self.got: list[Condition] = []

    def submit(self, condition: Condition) -> None:
        self.got.append(condition)

    def stale(self) -> list[Condition]:
        return [c for c in self.got if c.rule == "sensor.stale" and c.active]


async def test_an_hourly_leak_sensor_is_not_stale_at_three_minutes_offline_is_critical_battery_low_warns(
    mosquitto: Mosquitto,
) -> None:
    cfg = parse_config(PRESENCE_CONFIG % {"port": mosquitto.port})
    assert cfg.mqtt is not None
    t0 = dt.datetime.now(dt.UTC)
    clock = [t0]
    alerts = PresenceAlerts()
    ingest = Ingest(cfg, rules=RulesEngine(cfg, now=t0), alerts=alerts, clock=lambda: clock[0])
    src = MqttSource(cfg.mqtt, TopicTable.from_config(cfg.mqtt, cfg.sensors), ingest)
    async with running(src):
        await asyncio.to_thread(
            mosquitto_pub, mosquitto.port, "zigbee2mqtt/leak-r1-floor",
            '{"water_leak": false, "battery": 10, "linkquality": 120}',
        )
        await until(lambda: "leak-r1-floor" in ingest.last)
        low = [c for c in alerts.got if c.rule == "battery.low" and c.active]
        assert low and low[0].severity is Severity.warning and low[0].subject == "leak-r1-floor-battery"
        received = ingest.last["leak-r1-floor"][2]  # the source hands ingest its own receive time
        clock[0] = received + dt.timedelta(minutes=3, seconds=1)
        ingest.tick()
        assert not alerts.stale()  # one reading, then quiet: an hourly check-in is not silence
        await asyncio.to_thread(
            mosquitto_pub, mosquitto.port, "zigbee2mqtt/leak-r1-floor/availability", '{"state": "offline"}'
        )
        await until(lambda: bool(alerts.stale()), what=lambda: alerts.got)
        gone = alerts.stale()[0]
        assert gone.subject == "leak-r1-floor" and gone.severity is Severity.critical
        assert ingest.counts.get("accepted") == 2  # the water and the battery; presence is not a reading
