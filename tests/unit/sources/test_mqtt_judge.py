"""Several processes: the one judging the broker's reachability (the notify holder) resolves an
``mqtt.unreachable`` alert the judge before it raised, even when that alert reached the store only after the
new judge first looked (a slow start raised it, the role moved at once): none is left open while the broker
answers."""

from __future__ import annotations

from typing import Any

from siaga.config.loader import parse_config
from siaga.sources.memory import MemorySink
from siaga.sources.mqtt.client import READOPT_S, UNREACHABLE_RULE, MqttSource, SharedJudge
from siaga.sources.mqtt.routes import TopicTable

CONFIG = """
site: {name: Test}
rooms: [{id: room, name: Room}]
mqtt: {host: 127.0.0.1, port: 1883, client_id: siaga-test, unreachable_alert_s: 1}
sensors:
  - {id: t1, kind: temperature, room: room, source: {type: mqtt, topic: room/t1}}
"""


class Alerts:
    """The alert manager and its store: the open alert is gone once resolved."""

    def __init__(self) -> None:
        self.got: list[Any] = []
        self.open = False

    def submit(self, condition: Any) -> None:
        self.got.append(condition)
        self.open = condition.active


def test_an_alert_the_previous_judge_raised_late_is_taken_up_and_resolved() -> None:
    cfg = parse_config(CONFIG)
    assert cfg.mqtt is not None
    now = [100.0]
    alerts = Alerts()
    src = MqttSource(cfg.mqtt, TopicTable.from_config(cfg.mqtt, cfg.sensors), MemorySink(),
                     alerts=alerts, monotonic=lambda: now[0])  # type: ignore[arg-type]
    looks = [0]

    def adopt() -> bool:
        looks[0] += 1
        return alerts.open

    judge = SharedJudge(judges=lambda: True, others_connected=lambda: True, adopt=adopt)
    src.stats.disconnected_since = None  # this process hears the broker
    src._check_shared(judge)
    assert looks[0] == 1 and alerts.got == []
    alerts.open = True  # the old judge's alert reaches the store
    now[0] += READOPT_S / 2
    src._check_shared(judge)
    assert looks[0] == 1  # not a query every check
    now[0] += READOPT_S / 2
    src._check_shared(judge)
    assert looks[0] == 2
    [resolved] = alerts.got
    assert resolved.rule == UNREACHABLE_RULE and resolved.active is False
    now[0] += 3 * READOPT_S
    src._check_shared(judge)
    assert len(alerts.got) == 1 and looks[0] == 3  # resolved once; still looking now and then
