"""Sensor presence judged the way the device reports: on change with a check-in, or periodic."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
import yaml

from siaga.alerts.model import Condition, Severity
from siaga.config import ConfigError
from siaga.config.loader import parse_config
from siaga.config.models import SiteConfig
from siaga.rules.engine import RulesEngine
from siaga.web.views.roommap import Latest, sensor_state

EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)


def site_with(sensor_id: str, **fields: Any) -> SiteConfig:
    data = yaml.safe_load(EXAMPLE.read_text())
    for s in data["sensors"]:
        if s["id"] == sensor_id:
            s.update(fields)
    return parse_config(yaml.safe_dump(data))


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def stale(conds: list[Condition], subject: str) -> list[Condition]:
    return [c for c in conds if c.rule == "sensor.stale" and c.subject == subject and c.active]


def test_an_on_change_leak_sensor_checking_in_hourly_is_not_stale_at_three_minutes() -> None:
    eng = RulesEngine(site_with("leak-r1-floor", reports="on_change", check_in="1h"), now=T0)
    eng.observe("leak-r1-floor", 0.0, at(0), at(0))
    assert not stale(eng.tick(at(181)), "leak-r1-floor")
    assert not stale(eng.tick(at(3600 + 1800)), "leak-r1-floor")  # a late check-in is not yet silence
    gone = stale(eng.tick(at(2 * 3600 + 1)), "leak-r1-floor")  # truly gone: still a critical alarm
    assert gone and gone[0].severity is Severity.critical and gone[0].params["after_s"] == 7200.0
    # a periodic leak sensor of the same site is still judged by 3 of its kind's 60 s intervals
    eng2 = RulesEngine(site_with("leak-r1-floor", reports="on_change", check_in="1h"), now=T0)
    eng2.observe("leak-r2-floor", 0.0, at(0), at(0))
    assert stale(eng2.tick(at(181)), "leak-r2-floor")


def test_on_change_without_a_check_in_assumes_an_hourly_one() -> None:
    cfg = site_with("leak-r1-floor", reports="on_change")
    sensor = next(s for s in cfg.sensors if s.id == "leak-r1-floor")
    assert sensor.silent_after_s() == 7200.0
    periodic = next(s for s in cfg.sensors if s.id == "leak-r2-floor")
    assert periodic.silent_after_s() == 180.0


def test_the_dashboard_state_follows_the_check_in_too() -> None:
    cfg = site_with("leak-r1-floor", reports="on_change", check_in="30m")
    sensor = next(s for s in cfg.sensors if s.id == "leak-r1-floor")
    seen = Latest(0.0, T0)
    assert sensor_state("leak", seen, at(181), sensor.silent_after_s()) == "ok"
    assert sensor_state("leak", seen, at(3601), sensor.silent_after_s()) == "stale"
    assert sensor_state("leak", seen, at(181)) == "stale"  # periodic default


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"reports": "on_change", "check_in": "30s"}, "shorter than its reporting interval"),
        ({"check_in": "1h"}, "reports: on_change"),
        ({"reports": "sometimes"}, "reports"),
    ],
)
def test_config_check_names_a_check_in_that_makes_no_sense(fields: dict[str, str], words: str) -> None:
    with pytest.raises(ConfigError) as info:
        site_with("leak-r1-floor", **fields)
    assert words in str(info.value)


def test_a_low_battery_is_a_warning_with_its_own_message() -> None:
    from zoneinfo import ZoneInfo

    from siaga.i18n.messages import render

    data = yaml.safe_load(EXAMPLE.read_text())
    data["sensors"].append({"id": "leak-r1-floor-battery", "kind": "battery", "rack": "R1", "reports": "on_change",
                            "source": {"type": "mqtt", "topic": "zigbee2mqtt/leak-r1-floor", "field": "battery"}})
    eng = RulesEngine(parse_config(yaml.safe_dump(data)), now=T0)
    assert not [c for c in eng.observe("leak-r1-floor-battery", 97.0, at(0), at(0)) if c.active]
    low = [c for c in eng.observe("leak-r1-floor-battery", 10.0, at(60), at(60)) if c.active]
    assert [(c.rule, c.severity) for c in low] == [("battery.low", Severity.warning)]
    assert low[0].summary.key == "sensor.battery_low"
    wita = ZoneInfo("Asia/Makassar")
    assert render(low[0].summary, "en", wita).startswith("battery low on leak-r1-floor-battery")
    assert render(low[0].summary, "id", wita).startswith("baterai lemah pada leak-r1-floor-battery")
