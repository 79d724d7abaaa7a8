"""The sources' config: the `source:` union, mqtt:, snmp:, http_push: and their cross checks."""

from __future__ import annotations

import pytest

from siaga.config.errors import ConfigError
from siaga.config.loader import parse_config
from siaga.config.sources import HttpSensorSource, MqttSensorSource, SnmpSensorSource

BASE = """
site: {name: Test}
rooms: [{id: room, name: Room}]
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + text, "s.yaml")
    return [f"{p.field}: {p.message}" for p in err.value.problems]


def test_source_union_is_told_apart_by_type() -> None:
    cfg = parse_config(BASE + """
mqtt: {}
snmp: {devices: [{id: ups, host: 127.0.0.1, profile: ups-mib}]}
sensors:
  - {id: a, kind: temperature, room: room, source: {type: mqtt, topic: x/a}}
  - {id: b, kind: temperature, room: room, source: {type: http, token_sha256: %s}}
  - {id: c, kind: ups_load, room: room, source: {type: snmp, device: ups, metric: load}}
""" % ("ab" * 32))
    assert isinstance(cfg.sensors[0].source, MqttSensorSource)
    assert isinstance(cfg.sensors[1].source, HttpSensorSource)
    assert isinstance(cfg.sensors[2].source, SnmpSensorSource)


def test_unknown_source_type_suggests_the_close_one() -> None:
    out = problems("sensors:\n  - {id: a, kind: temperature, room: room, source: {type: mqt, topic: x}}\n")
    assert out == ["sensors[0].source: unknown source type 'mqt'; did you mean 'mqtt'?"]


def test_unknown_key_in_a_source_is_named_with_its_path() -> None:
    out = problems("mqtt: {}\nsensors:\n  - {id: a, kind: temperature, room: room, source: {type: mqtt, topc: x}}\n")
    assert out[0] == "sensors[0].source.topc: unknown key 'topc'; did you mean 'topic'?"


def test_mqtt_sensor_needs_topic_or_gateway_and_a_broker() -> None:
    assert "topic, or gateway" in problems(
        "mqtt: {}\nsensors:\n  - {id: a, kind: temperature, room: room, source: {type: mqtt}}\n"
    )[0]
    assert "needs an `mqtt:` section" in problems(
        "sensors:\n  - {id: a, kind: temperature, room: room, source: {type: mqtt, topic: a}}\n"
    )[0]


def test_wildcards_only_on_gateways() -> None:
    assert "wildcards" in problems(
        "mqtt: {}\nsensors:\n  - {id: a, kind: temperature, room: room, source: {type: mqtt, topic: a/+}}\n"
    )[0]
    assert "'#' must be" in problems("mqtt: {gateways: [{id: g, topic: 'a/#/b'}]}\n")[0]


def test_snmp_device_and_metric_must_exist() -> None:
    out = problems("""
snmp: {devices: [{id: ups, host: 127.0.0.1, profile: ups-mib}]}
sensors:
  - {id: a, kind: ups_load, room: room, source: {type: snmp, device: upz, metric: load}}
  - {id: b, kind: ups_load, room: room, source: {type: snmp, device: ups, metric: lod}}
""")
    assert out[0] == "sensors[0].source.device: unknown snmp device 'upz' (see snmp.devices)"
    assert out[1].startswith("sensors[1].source.metric: profile ups-mib has no metric 'lod'")


def test_snmp_v3_needs_its_user_and_paired_secrets() -> None:
    assert "needs a v3: block" in problems("snmp: {devices: [{id: u, host: h, version: v3}]}\n")[0]
    out = problems("snmp: {devices: [{id: u, host: h, version: v3, v3: {user: x, auth_protocol: sha}}]}\n")
    assert "auth_protocol and auth_password_file go together" in out[0]


def test_http_sensor_needs_a_credential_and_known_gateway() -> None:
    assert "needs token_file, token_sha256 or gateway" in problems(
        "sensors:\n  - {id: a, kind: temperature, room: room, source: {type: http}}\n"
    )[0]
    assert "unknown http_push gateway 'gw'" in problems(
        "sensors:\n  - {id: a, kind: temperature, room: room, source: {type: http, gateway: gw}}\n"
    )[0]


def test_inline_mqtt_password_is_refused() -> None:
    out = problems("mqtt: {username: siaga, password: hunter2}\n")
    assert any("inline secret" in p for p in out)


def test_bontang_example_is_valid() -> None:
    from siaga.config.loader import load_config

    cfg = load_config("src/siaga/examples/bontang.yaml").config
    assert cfg.mqtt is not None and cfg.snmp is not None
    assert {d.id for d in cfg.snmp.devices} == {"ups-1"}
