"""The MQTT edge: topics and payload shapes to raw readings, problems counted per reason."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from siaga.config.loader import parse_config
from siaga.sources.mqtt.routes import TopicTable

BASE = """
site: {name: Test}
rooms: [{id: room, name: Room}]
racks: [{id: R1, room: room}]
"""


def table(sensors: str, mqtt: str = "mqtt: {}\n") -> TopicTable:
    cfg = parse_config(BASE + mqtt + "sensors:\n" + sensors)
    assert cfg.mqtt is not None
    return TopicTable.from_config(cfg.mqtt, cfg.sensors)


def one(tbl: TopicTable, topic: str, payload: str | bytes) -> tuple[list, list]:
    data = payload.encode() if isinstance(payload, str) else payload
    return tbl.decode(topic, data)


T1 = "  - {id: t1, kind: temperature, rack: R1, source: {type: mqtt, topic: room/t1}}\n"


def test_plain_number_is_the_value() -> None:
    readings, problems = one(table(T1), "room/t1", "24.3")
    assert problems == []
    assert [(r.sensor, r.value, r.ts, r.source) for r in readings] == [("t1", 24.3, None, "mqtt")]


def test_json_object_gives_value_and_timestamp() -> None:
    readings, problems = one(table(T1), "room/t1", json.dumps({"value": 24.3, "ts": 1752630000}))
    assert problems == []
    assert readings[0].value == 24.3
    assert readings[0].ts == dt.datetime(2025, 7, 16, 1, 40, tzinfo=dt.UTC)


def test_iso_timestamp_with_zone_and_milliseconds_epoch() -> None:
    tbl = table(T1)
    r1, _ = one(tbl, "room/t1", '{"value": 1, "ts": "2025-07-16T09:40:00+08:00"}')
    r2, _ = one(tbl, "room/t1", '{"value": 1, "ts": 1752630000000}')
    assert r1[0].ts == r2[0].ts == dt.datetime(2025, 7, 16, 1, 40, tzinfo=dt.UTC)


def test_naive_timestamp_means_time_of_receipt() -> None:
    readings, _ = one(table(T1), "room/t1", '{"value": 1, "ts": "2025-07-16T09:40:00"}')
    assert readings[0].ts is None


def test_bad_timestamp_is_a_problem_not_a_crash() -> None:
    readings, problems = one(table(T1), "room/t1", '{"value": 1, "ts": "yesterday"}')
    assert readings == []
    assert problems[0][0] == "bad_timestamp"


@pytest.mark.parametrize(
    ("payload", "reason"),
    [(b"\xff\xfe", "bad_payload"), ('{"value": ', "bad_json"), ("[1, 2", "bad_json"), ('{"temp": 3}', "no_field")],
)
def test_malformed_payloads_are_counted(payload: str | bytes, reason: str) -> None:
    readings, problems = one(table(T1), "room/t1", payload)
    assert readings == []
    assert problems[0][0] == reason


def test_text_that_is_no_number_goes_to_ingest_to_be_rejected() -> None:
    readings, problems = one(table(T1), "room/t1", "hot")
    assert problems == [] and readings[0].value == "hot"


def test_json_format_refuses_broken_json() -> None:
    src = "  - {id: t1, kind: temperature, rack: R1, source: {type: mqtt, topic: room/t1, format: json}}\n"
    readings, problems = one(table(src), "room/t1", '{"value": ')
    assert readings == [] and problems[0][0] == "bad_json"


def test_oversized_payload_is_refused() -> None:
    readings, problems = one(table(T1), "room/t1", b"1" * (300 * 1024))
    assert readings == [] and problems[0][0] == "payload_too_large"


def test_zigbee2mqtt_leak_and_door_fields() -> None:
    sensors = (
        "  - {id: leak1, kind: leak, rack: R1, source: {type: mqtt, topic: zigbee2mqtt/leak1, field: water_leak}}\n"
        "  - {id: door1, kind: door, rack: R1, source: {type: mqtt, topic: zigbee2mqtt/door1, format: zigbee2mqtt}}\n"
        "  - {id: th-t, kind: temperature, rack: R1,"
        " source: {type: mqtt, topic: zigbee2mqtt/th, format: zigbee2mqtt}}\n"
        "  - {id: th-h, kind: humidity, rack: R1, source: {type: mqtt, topic: zigbee2mqtt/th, format: zigbee2mqtt}}\n"
    )
    tbl = table(sensors)
    r, p = one(tbl, "zigbee2mqtt/leak1", '{"battery": 97, "water_leak": true, "linkquality": 120}')
    assert p == [] and r[0].value == 1.0
    r, p = one(tbl, "zigbee2mqtt/door1", '{"contact": true}')  # closed
    assert r[0].value == 0.0
    r, p = one(tbl, "zigbee2mqtt/door1", '{"contact": false}')  # open
    assert r[0].value == 1.0
    r, p = one(tbl, "zigbee2mqtt/th", '{"temperature": 26.5, "humidity": 61, "last_seen": "2025-07-16T01:40:00Z"}')
    assert sorted((x.sensor, x.value) for x in r) == [("th-h", 61.0), ("th-t", 26.5)]
    assert r[0].ts == dt.datetime(2025, 7, 16, 1, 40, tzinfo=dt.UTC)


def test_tasmota_sensor_json_in_fahrenheit_becomes_celsius() -> None:
    src = ("  - {id: t1, kind: temperature, rack: R1, source: {type: mqtt, topic: tele/r1/SENSOR, format: tasmota,"
           " field: AM2301.Temperature}}\n")
    payload = '{"Time": "2025-07-16T09:40:00", "AM2301": {"Temperature": 77.0, "Humidity": 50}, "TempUnit": "F"}'
    r, p = one(table(src), "tele/r1/SENSOR", payload)
    assert p == [] and r[0].value == pytest.approx(25.0) and r[0].ts is None


def test_esphome_state_topics_through_a_gateway() -> None:
    mqtt = "mqtt:\n  gateways: [{id: esp, topic: esp-r1/+/+/state, format: esphome}]\n"
    sensors = (
        "  - {id: t1, kind: temperature, rack: R1, source: {type: mqtt, gateway: esp, key: sensor/inlet_top}}\n"
        "  - {id: l1, kind: leak, rack: R1, source: {type: mqtt, gateway: esp, key: binary_sensor/leak}}\n"
    )
    tbl = table(sensors, mqtt)
    assert tbl.subscriptions() == ["esp-r1/+/+/state"]
    r, _ = one(tbl, "esp-r1/sensor/inlet_top/state", "23.8")
    assert (r[0].sensor, r[0].value) == ("t1", 23.8)
    r, _ = one(tbl, "esp-r1/binary_sensor/leak/state", "ON")
    assert (r[0].sensor, r[0].value) == ("l1", 1.0)
    r, p = one(tbl, "esp-r1/sensor/other/state", "1")
    assert r == [] and p[0][0] == "unmapped_key"


def test_tasmota_gateway_maps_fields_to_sensors() -> None:
    mqtt = "mqtt:\n  gateways: [{id: tas, topic: tele/r1/SENSOR, format: tasmota}]\n"
    sensors = (
        "  - {id: t1, kind: temperature, rack: R1, source: {type: mqtt, gateway: tas, key: SI7021.Temperature}}\n"
        "  - {id: h1, kind: humidity, rack: R1, source: {type: mqtt, gateway: tas, key: SI7021.Humidity}}\n"
    )
    r, p = one(table(sensors, mqtt), "tele/r1/SENSOR",
               '{"Time":"2025-07-16T09:40:00","SI7021":{"Temperature":24.1,"Humidity":58.2},"TempUnit":"C"}')
    assert p == [] and sorted((x.sensor, x.value) for x in r) == [("h1", 58.2), ("t1", 24.1)]


def test_batch_array_names_sensors_and_one_bad_item_spares_the_rest() -> None:
    mqtt = "mqtt:\n  gateways: [{id: gw, topic: site/gw1/readings, format: batch, sensors: [t1, t2]}]\n"
    sensors = (
        "  - {id: t1, kind: temperature, rack: R1, source: {type: mqtt, gateway: gw}}\n"
        "  - {id: t2, kind: temperature, rack: R1, source: {type: mqtt, gateway: gw, key: probe-2, scale: 0.1}}\n"
        "  - {id: t3, kind: temperature, rack: R1, source: {type: mqtt, topic: other}}\n"
    )
    payload = json.dumps([
        {"sensor": "t1", "value": 24.0, "ts": 1752630000},
        {"sensor": "probe-2", "value": 251},
        {"sensor": "t3", "value": 1},  # not this gateway's
        {"value": 3},
        "junk",
        {"sensor": "t1", "value": 25, "ts": "never"},
    ])
    r, p = one(table(sensors, mqtt), "site/gw1/readings", payload)
    assert [(x.sensor, x.value) for x in r] == [("t1", 24.0), ("t2", pytest.approx(25.1))]
    assert sorted(reason for reason, _ in p) == ["bad_batch_item", "bad_batch_item", "bad_timestamp", "not_allowed"]


def test_unknown_sensor_in_a_batch_goes_to_ingest_to_be_counted() -> None:
    mqtt = "mqtt:\n  gateways: [{id: gw, topic: site/batch}]\n"
    r, p = one(table(T1, mqtt), "site/batch", '[{"sensor": "nope", "value": 1}]')
    assert p == [] and r[0].sensor == "nope"


def test_topic_prefix_and_unknown_topic() -> None:
    tbl = table(T1, "mqtt: {topic_prefix: bontang/}\n")
    assert tbl.subscriptions() == ["bontang/room/t1"]
    r, _ = one(tbl, "bontang/room/t1", "1")
    assert r[0].sensor == "t1"
    assert one(tbl, "room/t1", "1")[1][0][0] == "unknown_topic"


def test_scale_offset_and_fahrenheit_transform() -> None:
    src = ("  - {id: t1, kind: temperature, rack: R1, source: {type: mqtt, topic: a, scale: 0.1, offset: 2,"
           " fahrenheit: true}}\n")
    r, _ = one(table(src), "a", "750")  # 75.0 + 2 = 77 °F
    assert r[0].value == pytest.approx(25.0)


def test_words_and_booleans_become_binary_values() -> None:
    tbl = table(T1)
    assert [one(tbl, "room/t1", w)[0][0].value for w in ("ON", "off", "true", "wet", "dry")] == [1, 0, 1, 1, 0]
