"""The simulator: a scenario replays the same readings every time, at any speed."""

from __future__ import annotations

import asyncio

import pytest

from siaga.config.loader import load_config
from siaga.sources.memory import MemorySink
from siaga.sources.simulator import Event, Scenario, ScenarioError, Simulator, load_scenario, timeline

SC = Scenario.model_validate({
    "name": "t",
    "every": 10,
    "tail": 0,
    "baseline": {"a": 1.0, "b": 20.0},
    "steps": [
        {"at": 5, "sensor": "a", "value": 0},
        {"at": 10, "sensor": "b", "ramp": {"to": 30, "over": 20}},
    ],
})


def test_timeline_reports_every_sensor_each_tick_and_steps_at_once() -> None:
    assert list(timeline(SC)) == [
        Event(0, "a", 1.0), Event(0, "b", 20.0),
        Event(5, "a", 0.0),
        Event(10, "a", 0.0), Event(10, "b", 20.0),
        Event(20, "a", 0.0), Event(20, "b", 25.0),
        Event(30, "a", 0.0), Event(30, "b", 30.0),
    ]


def test_timeline_is_deterministic() -> None:
    sc = load_scenario()
    assert list(timeline(sc)) == list(timeline(sc))


def test_a_step_sets_value_or_ramp_not_both() -> None:
    with pytest.raises(ValueError, match="either value or ramp"):
        Scenario.model_validate(
            {"name": "x", "steps": [{"at": 1, "sensor": "a", "value": 1, "ramp": {"to": 2, "over": 1}}]}
        )


def test_bad_scenario_file_names_the_file(tmp_path: object) -> None:
    from pathlib import Path

    p = Path(str(tmp_path)) / "s.yaml"
    p.write_text("name: x\nsteps: [{at: -1, sensor: a, value: 1}]\n")
    with pytest.raises(ScenarioError, match=r"s\.yaml: steps\.0\.at"):
        load_scenario(p)


def test_bontang_scenario_covers_every_bontang_sensor_and_wets_the_ceiling_above_r1_first() -> None:
    sc = load_scenario()
    cfg = load_config("src/siaga/examples/bontang.yaml").config
    assert set(sc.sensors) == {s.id for s in cfg.sensors}
    first_wet = next(e for e in timeline(sc) if e.sensor.startswith("leak") and e.value == 1)
    assert first_wet.sensor == "leak-r1-ceiling" and first_wet.at < 60


async def test_replay_at_high_speed_sends_the_timeline_then_holds() -> None:
    sink = MemorySink()
    sim = Simulator(SC, sink, speed=200.0, known_sensors={"a"})  # b unknown: skipped
    stop = asyncio.Event()
    task = asyncio.create_task(sim.run(stop))
    await asyncio.sleep(0.3)  # 30 s of scenario = 0.15 s, then holding
    stop.set()
    await asyncio.wait_for(task, 2)
    assert sink.values("a")[:5] == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert sink.values("b") == []
    assert len(sink.values("a")) > 5  # kept reporting while holding
    assert all(r.source == "simulator" for r in sink.readings)
