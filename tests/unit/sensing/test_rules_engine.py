"""The rules engine on the Bontang site: ASHRAE defaults, leak, dew point, rate, stale, flapping, overrides."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from siaga.alerts.model import Condition, Severity
from siaga.config.loader import parse_config
from siaga.config.models import SiteConfig
from siaga.rules.dewpoint import dew_point
from siaga.rules.engine import RulesEngine

EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)


def site(**changes: object) -> SiteConfig:
    data = yaml.safe_load(EXAMPLE.read_text())
    data.update(changes)
    return parse_config(yaml.safe_dump(data))


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def active(conds: list[Condition], rule: str) -> list[Condition]:
    return [c for c in conds if c.rule == rule and c.active]


def test_leak_is_critical_on_the_first_wet_reading() -> None:
    eng = RulesEngine(site(), now=T0)
    out = eng.observe("leak-r1-ceiling", 1.0, at(1), at(1))
    leak = active(out, "leak")
    assert len(leak) == 1
    assert leak[0].severity is Severity.critical and leak[0].fire_at_once
    assert leak[0].subject == "leak-r1-ceiling"
    dry = eng.observe("leak-r1-ceiling", 0.0, at(2), at(2))
    assert [c.active for c in dry if c.rule == "leak"] == [False]


def test_rack_inlet_temperature_follows_ashrae_a1() -> None:
    eng = RulesEngine(site(), now=T0)
    eng.observe("temp-r1-top", 24.0, at(0))
    out = eng.observe("temp-r1-top", 28.0, at(10))
    high = active(out, "temperature.high")
    assert high and high[0].severity is Severity.warning and not high[0].fire_at_once  # pending: hold 2 min
    assert not active(eng.tick(at(100)), "temperature.high")
    fired = active(eng.tick(at(131)), "temperature.high")
    assert fired and fired[0].fire_at_once and fired[0].params["threshold"] == 27.0
    out = eng.observe("temp-r1-top", 33.0, at(140))
    assert not active(out, "temperature.high")  # still a firing warning: critical is pending (1 min)
    crit = active(eng.tick(at(201)), "temperature.high")
    assert crit and crit[0].severity is Severity.critical
    low = eng.observe("temp-r2-top", 14.0, at(10))
    assert active(low, "temperature.low")


def test_exhaust_temperatures_are_not_held_to_inlet_limits() -> None:
    data = yaml.safe_load(EXAMPLE.read_text())
    data["sensors"].append({"id": "temp-r1-exhaust", "kind": "temperature", "rack": "R1", "zone": "exhaust"})
    eng = RulesEngine(parse_config(yaml.safe_dump(data)), now=T0)
    assert not active(eng.observe("temp-r1-exhaust", 40.0, at(1)), "temperature.high")


def test_dew_point_from_temperature_and_humidity_in_the_same_zone() -> None:
    assert dew_point(25.0, 60.0) == pytest.approx(16.7, abs=0.1)
    eng = RulesEngine(site(), now=T0)
    eng.observe("temp-r1-top", 26.0, at(0))
    out = eng.observe("humidity-r1-top", 75.0, at(1))  # dew point 21.2 °C
    dp = active(out, "dew_point.high")
    assert dp and dp[0].subject == "humidity-r1-top"
    assert dp[0].params["temperature_sensor"] == "temp-r1-top"
    assert dp[0].value == pytest.approx(21.2, abs=0.1)


def test_rate_of_change_is_20_per_hour_and_5_with_tape() -> None:
    eng = RulesEngine(site(), now=T0)
    out: list[Condition] = []
    for i in range(0, 16):  # +1 °C a minute: 60 °C/h
        out += eng.observe("temp-r1-bottom", 20.0 + i * 0.5, at(i * 60))
    assert active(out, "temperature.rate")
    data = yaml.safe_load(EXAMPLE.read_text())
    data["rooms"][0]["tape"] = True
    eng = RulesEngine(parse_config(yaml.safe_dump(data)), now=T0)
    out = []
    for i in range(0, 16):  # 0.15 °C a minute: 9 °C/h, above 5
        out += eng.observe("temp-r1-bottom", 20.0 + i * 0.15, at(i * 60))
    assert active(out, "temperature.rate")


def test_stale_sensors_after_three_intervals_critical_for_leak() -> None:
    eng = RulesEngine(site(), now=T0)
    eng.observe("leak-r1-floor", 0.0, at(0), at(0))
    eng.observe("temp-r1-top", 24.0, at(0), at(0))
    assert not active(eng.tick(at(179)), "sensor.stale")
    stale = {c.subject: c for c in active(eng.tick(at(181)), "sensor.stale")}
    assert stale["leak-r1-floor"].severity is Severity.critical
    assert stale["temp-r1-top"].severity is Severity.warning
    back = eng.observe("leak-r1-floor", 0.0, at(200), at(200))
    assert [c.active for c in back if c.rule == "sensor.stale"] == [False]


def test_a_flapping_leak_is_held_firing_and_marked() -> None:
    eng = RulesEngine(site(), now=T0)
    emitted: list[Condition] = []
    for i in range(12):
        emitted += [c for c in eng.observe("leak-r2-floor", float(i % 2 == 0), at(i * 10)) if c.rule == "leak"]
    flips = [c.active for c in emitted]
    assert flips[:6] == [True, False, True, False, True, False]
    assert emitted[6].active and emitted[6].params["flapping"] is True
    assert len(emitted) == 7  # then held: no more pages
    calm = [c for c in eng.tick(at(110 + 1801)) if c.rule == "leak"]
    assert calm and calm[0].params["flapping"] is False and calm[0].active is False


def test_overrides_merge_room_rack_and_sensor() -> None:
    rules = {
        "temperature": {"warning": {"for": "0s"}},
        "overrides": [
            {"rack": "R4", "temperature": {"warning": {"above": 30}}},
            {"sensor": "temp-r4-bottom", "temperature": {"enabled": False}},
        ],
    }
    eng = RulesEngine(site(rules=rules), now=T0)
    assert not active(eng.observe("temp-r4-top", 29.0, at(1)), "temperature.high")
    assert active(eng.observe("temp-r4-top", 31.0, at(2)), "temperature.high")[0].fire_at_once
    assert not active(eng.observe("temp-r4-bottom", 31.0, at(2)), "temperature.high")
    assert active(eng.observe("temp-r1-top", 28.0, at(2)), "temperature.high")[0].fire_at_once


def test_an_override_naming_an_unknown_rack_is_a_config_error() -> None:
    from siaga.config.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown rack 'R9'"):
        site(rules={"overrides": [{"rack": "R9", "temperature": {"enabled": False}}]})


def test_older_readings_do_not_move_the_rules_back() -> None:
    eng = RulesEngine(site(), now=T0)
    assert active(eng.observe("leak-r1-floor", 1.0, at(10)), "leak")
    assert eng.observe("leak-r1-floor", 0.0, at(5)) == []
