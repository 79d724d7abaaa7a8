"""Kinds typed at the edge: words and booleans are on/off values, never temperatures; refusals are
counted, logged once a minute per reason and sensor, and a sensor refused again and again is faulty."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pytest

from siaga.alerts.model import Condition, Severity
from siaga.config.loader import parse_config
from siaga.i18n.messages import Message
from siaga.rules.engine import RulesEngine
from siaga.rules.faulty import FAULTY_RULE, FaultWatch
from siaga.sources.http.push import parse_items
from siaga.sources.http.tokens import Principal
from siaga.sources.ingest import Ingest
from siaga.sources.mqtt.routes import TopicTable
from siaga.sources.payloads import Transform, coerce_value
from siaga.sources.reading import RawReading

EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)

SITE = """
site: {name: Test}
rooms: [{id: room, name: Room}]
racks: [{id: R1, room: room}]
mqtt: {}
sensors:
  - {id: t1, kind: temperature, rack: R1, zone: inlet-top, source: {type: mqtt, topic: room/t1}}
  - {id: leak1, kind: leak, rack: R1, zone: floor, source: {type: mqtt, topic: room/leak1}}
  - {id: z-leak, kind: leak, rack: R1, zone: floor, source: {type: mqtt, topic: z2m/leak, format: zigbee2mqtt}}
  - {id: z-door, kind: door, room: room, source: {type: mqtt, topic: z2m/door, format: zigbee2mqtt}}
"""


class Sink:
    def __init__(self) -> None:
        self.conditions: list[Condition] = []

    def submit(self, condition: Condition) -> None:
        self.conditions.append(condition)


def build(faulty_after: int = 5) -> tuple[Ingest, TopicTable, Sink]:
    cfg = parse_config(SITE + f"readings: {{faulty_after: {faulty_after}}}\n")
    assert cfg.mqtt is not None
    sink = Sink()
    ingest = Ingest(cfg, rules=RulesEngine(cfg, now=NOW), alerts=sink, clock=lambda: NOW)
    return ingest, TopicTable.from_config(cfg.mqtt, cfg.sensors), sink


def decoded(table: TopicTable, topic: str, payload: str) -> list[RawReading]:
    readings, problems = table.decode(topic, payload.encode())
    assert problems == []
    return readings


@pytest.mark.parametrize("payload", ["wet", "ON", "true", '{"value": true}', '{"value": "dry"}', "on"])
def test_words_and_booleans_on_a_temperature_sensor_are_refused(payload: str) -> None:
    ingest, table, sink = build()
    result = ingest.ingest(decoded(table, "room/t1", payload))
    assert result.accepted == 0 and [r.reason for r in result.rejected] == ["not_a_number"]
    assert ingest.counters() == {"not_a_number": 1}
    ingest.tick(NOW + dt.timedelta(seconds=120))
    assert not [c for c in sink.conditions if c.rule.startswith("temperature")]


@pytest.mark.parametrize(
    ("payload", "wet"),
    [("wet", 1.0), ("DRY", 0.0), ("ON", 1.0), ("off", 0.0), ("1", 1.0), ("0", 0.0), ("true", 1.0),
     ('{"value": false}', 0.0), ('{"value": "detected"}', 1.0), ('{"value": "normal"}', 0.0)],
)
def test_a_leak_sensor_takes_the_on_off_words_devices_send(payload: str, wet: float) -> None:
    ingest, table, _ = build()
    assert ingest.ingest(decoded(table, "room/leak1", payload)).accepted == 1
    assert ingest.last["leak1"][1] == wet


def test_zigbee2mqtt_water_leak_and_inverted_contact() -> None:
    ingest, table, _ = build()
    ingest.ingest(decoded(table, "z2m/leak", '{"water_leak": true, "battery": 97}'))
    ingest.ingest(decoded(table, "z2m/door", '{"contact": true}'))  # contact: the door is closed
    assert ingest.last["z-leak"][1] == 1.0 and ingest.last["z-door"][1] == 0.0
    assert Transform(invert=True).apply(False) is True


def test_a_leak_sensor_refuses_a_word_it_does_not_know_and_a_two() -> None:
    ingest, table, _ = build()
    result = ingest.ingest(decoded(table, "room/leak1", "maybe") + decoded(table, "room/leak1", "2"))
    assert [r.reason for r in result.rejected] == ["not_binary", "not_binary"]


def test_numbers_in_text_stay_numbers_and_words_become_booleans() -> None:
    assert coerce_value(" 24.5 ") == 24.5
    assert coerce_value("Wet") is True and coerce_value(False) is False
    assert coerce_value("lembap") == "lembap"


def test_http_push_true_for_a_temperature_is_refused_by_ingest() -> None:
    cfg = parse_config(EXAMPLE.read_text())
    ingest = Ingest(cfg, clock=lambda: NOW)
    readings, refused = parse_items([{"sensor": "temp-r1-top", "value": True}],
                                    Principal("gw", b"", frozenset({"temp-r1-top"})), {})
    assert not refused
    result = ingest.ingest([r for _, r in readings])
    assert result.accepted == 0 and result.rejected[0].reason == "not_a_number"


def test_refusals_are_logged_once_a_minute_per_reason_and_sensor(caplog: pytest.LogCaptureFixture) -> None:
    ingest, table, _ = build()
    with caplog.at_level(logging.WARNING, logger="siaga.sources.ingest"):
        for _ in range(10):
            ingest.ingest(decoded(table, "room/t1", "900") + decoded(table, "room/leak1", "maybe"))
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2, lines
    assert any("t1" in line and "out_of_range" in line and "mqtt" in line for line in lines)
    assert any("leak1" in line and "not_binary" in line for line in lines)


def test_a_probe_sending_900_degrees_is_faulty_after_n_and_resolved_after_n_good() -> None:
    ingest, table, sink = build(faulty_after=3)
    for _ in range(2):
        ingest.ingest(decoded(table, "room/t1", "900"))
    assert not sink.conditions
    ingest.ingest(decoded(table, "room/t1", "900"))
    [fault] = sink.conditions
    assert (fault.rule, fault.subject, fault.active, fault.severity) == (FAULTY_RULE, "t1", True, Severity.warning)
    assert fault.params["reason"] == "out_of_range" and "900" in fault.params["detail"]
    ingest.ingest(decoded(table, "room/t1", "900"))  # still faulty: not raised again
    for _ in range(2):
        ingest.ingest(decoded(table, "room/t1", "24.0"))
    ingest.ingest(decoded(table, "room/t1", "900"))  # a bad one among the good: the good streak starts again
    assert len([c for c in sink.conditions if c.rule == FAULTY_RULE]) == 1
    for _ in range(3):
        ingest.ingest(decoded(table, "room/t1", "24.0"))
    faults = [c for c in sink.conditions if c.rule == FAULTY_RULE]
    assert [c.active for c in faults] == [True, False]


def test_a_refusal_now_and_then_is_not_a_fault() -> None:
    watch = FaultWatch(after=3)
    for _ in range(10):
        assert watch.refused("t1", "out_of_range", "900", NOW) is None
        assert watch.refused("t1", "out_of_range", "900", NOW) is None
        assert watch.accepted("t1", NOW) is None
    assert not watch.watching
    assert all(watch.refused("t1", "too_old", "", NOW) is None for _ in range(10))  # a backlog, not a fault


def test_the_faulty_sensor_message_names_the_reason_in_both_languages() -> None:
    from siaga.alerts.model import Alert, AlertState, SubjectKind
    from siaga.notify.render import Renderer

    cfg = parse_config(EXAMPLE.read_text())
    alert = Alert(1, FAULTY_RULE, "temp-r1-top", SubjectKind.sensor, AlertState.firing, Severity.warning,
                  Message("sensor.faulty.on", {"sensor": "temp-r1-top", "count": 5, "reason": "out_of_range",
                                               "detail": "900.0 outside -40..125"}), NOW,
                  params={"reason": "out_of_range", "detail": "900.0 outside -40..125", "count": 5})
    renderer = Renderer(cfg)
    assert renderer.view(alert, "id").what == (
        "Sensor rusak: 5 bacaan berturut-turut ditolak, di luar rentang yang mungkin secara fisik"
    )
    assert "outside the physically possible range" in renderer.view(alert, "en").what
