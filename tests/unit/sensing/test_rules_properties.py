"""Properties of the rules engine over random reading sequences (hypothesis, fake clock)."""

from __future__ import annotations

import datetime as dt
import itertools
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from siaga.alerts.model import Condition
from siaga.config.loader import parse_config
from siaga.rules.engine import RulesEngine

EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
CFG = parse_config(EXAMPLE.read_text())
T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)

leak_steps = st.lists(st.tuples(st.integers(1, 120), st.booleans()), min_size=1, max_size=80)


@settings(max_examples=100, deadline=None)
@given(steps=leak_steps)
def test_the_first_wet_reading_always_raises_a_critical_leak_condition(steps: list[tuple[int, bool]]) -> None:
    eng = RulesEngine(CFG, now=T0)
    now = T0
    active = False
    for gap, wet in steps:
        now += dt.timedelta(seconds=gap)
        for c in eng.observe("leak-r1-ceiling", 1.0 if wet else 0.0, now, now):
            if c.rule == "leak":
                active = c.active
        if wet:
            assert active, "a wet reading must leave the leak condition active"


@settings(max_examples=100, deadline=None)
@given(steps=leak_steps)
def test_conditions_of_one_rule_alternate_and_never_repeat(steps: list[tuple[int, bool]]) -> None:
    eng = RulesEngine(CFG, now=T0)
    now = T0
    seen: list[Condition] = []
    for gap, wet in steps:
        now += dt.timedelta(seconds=gap)
        seen += [c for c in eng.observe("leak-r1-ceiling", float(wet), now, now) if c.rule == "leak"]
        seen += [c for c in eng.tick(now) if c.rule == "leak"]
    states = [(c.active, bool(c.params.get("flapping"))) for c in seen]
    assert all(a != b for a, b in itertools.pairwise(states)), states


@settings(max_examples=100, deadline=None)
@given(
    temps=st.lists(st.floats(min_value=18.5, max_value=26.5, allow_nan=False), min_size=1, max_size=100),
    gaps=st.integers(1, 600),
)
def test_temperatures_inside_the_recommended_envelope_never_alert(temps: list[float], gaps: int) -> None:
    eng = RulesEngine(CFG, now=T0)
    now = T0
    for v in temps:
        now += dt.timedelta(seconds=gaps)
        out = eng.observe("temp-r1-top", v, now, now) + eng.tick(now)
        assert not [c for c in out if c.active and c.rule.startswith("temperature.") and c.rule != "temperature.rate"]
