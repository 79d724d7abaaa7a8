"""Messages on topics under the subscribed filters that no sensor maps: counted per topic, in the store,
and shown by `siaga status`, the dashboard's sensors page and /metrics (real mosquitto)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest
from typer.testing import CliRunner

from siaga.cli.main import app
from siaga.config.loader import parse_config
from siaga.readings.query import unmapped_topics
from siaga.readings.writer import ReadingWriter
from siaga.sources.ingest import Ingest
from siaga.sources.mqtt.client import MqttSource
from siaga.sources.mqtt.routes import TopicTable
from siaga.sources.mqtt.testbroker import Mosquitto
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.web.metrics import readings_metrics

pytestmark = pytest.mark.integration

CONFIG = """
site: {name: Test}
store: {data_dir: data}
rooms: [{id: room, name: Room}]
racks: [{id: R1, room: room}]
mqtt:
  host: 127.0.0.1
  port: %(port)d
  client_id: siaga-unmapped-test
  gateways: [{id: z2m, topic: "zigbee2mqtt/+", format: zigbee2mqtt}]
sensors:
  - {id: leak-r1, kind: leak, rack: R1, zone: floor, source: {type: mqtt, gateway: z2m, key: leak-r1/water_leak}}
"""


def publish(port: int, messages: list[tuple[str, str]]) -> None:
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="unmapped-pub")  # type: ignore[attr-defined]
    client.connect("127.0.0.1", port)
    client.loop_start()
    for topic, payload in messages:
        client.publish(topic, payload, qos=1).wait_for_publish(10)
    client.loop_stop()
    client.disconnect()


async def test_unmapped_topics_are_counted_per_topic_and_shown(tmp_path: Path, mosquitto: Mosquitto) -> None:
    cfg_file = tmp_path / "siaga.yaml"
    cfg_file.write_text(CONFIG % {"port": mosquitto.port})
    cfg = parse_config(cfg_file.read_text())
    assert cfg.mqtt is not None
    (tmp_path / "data").mkdir()
    engine = create_engine_for(sqlite_url(tmp_path / "data" / "siaga.db"))
    upgrade(engine)
    ingest = Ingest(cfg)
    writer = ReadingWriter(ingest, engine)
    source = MqttSource(cfg.mqtt, TopicTable.from_config(cfg.mqtt, cfg.sensors), ingest,
                        durable=writer.when_durable)
    stop = asyncio.Event()
    flushing = asyncio.create_task(writer.serve(stop))
    task = asyncio.create_task(source.run(stop))
    try:
        assert await asyncio.to_thread(source.connected_event.wait, 10)
        await asyncio.sleep(0.2)
        wet = json.dumps({"water_leak": True})
        await asyncio.to_thread(publish, mosquitto.port, [
            ("zigbee2mqtt/leak-r1", wet), ("zigbee2mqtt/0x00158d0001a2b3c4", wet),
            ("zigbee2mqtt/0x00158d0001a2b3c4", wet), ("zigbee2mqtt/bridge", '{"state": "online"}'),
            ("zigbee2mqtt/leak-r1", '{"battery": 97}'),  # a mapped device without its field: not unmapped
        ])
        deadline = time.monotonic() + 15
        while sum(ingest.unmapped.values()) < 3 or not ingest.counts["accepted"]:
            assert time.monotonic() < deadline, (ingest.unmapped, ingest.counts)
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.wait_for(task, 15)
        await flushing
    writer.flush_sync()
    with engine.connect() as conn:
        assert [(t, n) for t, n, _ in unmapped_topics(conn)] == [
            ("zigbee2mqtt/0x00158d0001a2b3c4", 2), ("zigbee2mqtt/bridge", 1)
        ]
        metrics = {m.name: m for m in readings_metrics(conn, dt.datetime.now(dt.UTC), cfg)}
    samples = {s.labels.get("topic"): s.value for s in metrics["siaga_mqtt_unmapped_messages"].samples}
    assert samples == {"zigbee2mqtt/0x00158d0001a2b3c4": 2.0, "zigbee2mqtt/bridge": 1.0}
    engine.dispose()
    out = CliRunner().invoke(app, ["--lang", "en", "status", "--config", str(cfg_file)])
    assert out.exit_code == 0, out.output
    assert "MQTT topics that no sensor maps" in out.output and "zigbee2mqtt/0x00158d0001a2b3c4: 2" in out.output
