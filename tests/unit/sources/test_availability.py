"""zigbee2mqtt's availability topic: decoded at the MQTT edge, judged by the rules (pure parts)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from siaga.alerts.model import Severity
from siaga.config.loader import parse_config
from siaga.rules.engine import RulesEngine
from siaga.sources.mqtt.routes import TopicTable, availability_state
from siaga.sources.payloads import PayloadError
from siaga.sources.reading import Presence

EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("payload", "state"),
    [(b"online", Presence.online), (b"offline", Presence.offline), (b'{"state": "offline"}', Presence.offline),
     (b'{"state":"online"}', Presence.online), (b" OFFLINE\n", Presence.offline)],
)
def test_availability_payloads(payload: bytes, state: Presence) -> None:
    assert availability_state(payload) is state


@pytest.mark.parametrize("payload", [b"maybe", b'{"state": 1}', b"{", b"\xff", b"[]"])
def test_nonsense_availability_is_a_problem_not_a_state(payload: bytes) -> None:
    with pytest.raises(PayloadError):
        availability_state(payload)


def test_the_table_listens_to_the_availability_of_zigbee2mqtt_sensors() -> None:
    cfg = parse_config(EXAMPLE.read_text())
    assert cfg.mqtt is not None
    table = TopicTable.from_config(cfg.mqtt, cfg.sensors)
    topic = cfg.mqtt.topic_prefix + "zigbee2mqtt/leak-r1-floor/availability"
    assert topic in table.subscriptions()
    readings, problems = table.decode(topic, b'{"state": "offline"}')
    assert [(r.sensor, r.value) for r in readings] == [("leak-r1-floor", Presence.offline)] and not problems
    readings, problems = table.decode(topic, b"gone fishing")
    assert not readings and problems[0][0] == "bad_availability"
    assert not any(t.endswith("R1/inlet-top/availability") for t in table.subscriptions())


def test_offline_is_stale_at_once_and_online_is_presence() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    for s in data["sensors"]:
        if s["id"] == "leak-r1-floor":
            s.update(reports="on_change", check_in="1h")
    eng = RulesEngine(parse_config(yaml.safe_dump(data)), now=T0)
    eng.observe("leak-r1-floor", 0.0, T0, T0)
    gone = eng.presence("leak-r1-floor", False, T0 + dt.timedelta(seconds=5))
    assert [(c.rule, c.active, c.severity) for c in gone] == [("sensor.stale", True, Severity.critical)]
    assert eng.presence("leak-r1-floor", False, T0 + dt.timedelta(seconds=6)) == []  # once
    back = eng.presence("leak-r1-floor", True, T0 + dt.timedelta(seconds=7))
    assert [(c.rule, c.active) for c in back] == [("sensor.stale", False)]
    assert not [c for c in eng.tick(T0 + dt.timedelta(minutes=30)) if c.active and c.subject == "leak-r1-floor"]
