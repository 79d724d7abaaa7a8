"""The threshold level machine: hold times and hysteresis, with a fake clock (hypothesis)."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from siaga.rules.threshold import LevelMachine, LevelSpec, LevelState

T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)
values = st.floats(min_value=0, max_value=60, allow_nan=False)
steps = st.lists(st.tuples(st.integers(min_value=1, max_value=120), values), min_size=1, max_size=60)


@settings(max_examples=100, deadline=None)
@given(steps=steps, for_s=st.integers(min_value=1, max_value=900))
def test_a_threshold_never_fires_before_its_hold_time(steps: list[tuple[int, float]], for_s: int) -> None:
    m = LevelMachine(LevelSpec(fire=27.0, clear=26.0, high=True, for_s=for_s))
    now = T0
    breach_since: dt.datetime | None = None
    for gap, value in steps:
        now += dt.timedelta(seconds=gap)
        before = m.state
        state = m.observe(value, now) if gap % 3 else m.advance(now)
        if gap % 3 == 0:
            value = m.last_value if m.last_value is not None else value
        if value > 27.0:
            breach_since = breach_since or now
        elif before is not LevelState.firing:
            breach_since = None
        if state is LevelState.firing and before in (LevelState.ok, LevelState.pending):
            assert breach_since is not None
            assert (now - breach_since).total_seconds() >= for_s


@settings(max_examples=100, deadline=None)
@given(
    start_firing=st.booleans(),
    inside=st.lists(
        st.floats(min_value=25.0, max_value=27.0, exclude_min=True, allow_nan=False), min_size=1, max_size=100
    ),
)
def test_values_between_clear_and_fire_levels_never_change_the_state(start_firing: bool, inside: list[float]) -> None:
    m = LevelMachine(LevelSpec(fire=27.0, clear=25.0, high=True))
    now = T0
    if start_firing:
        m.observe(30.0, now)
        assert m.state is LevelState.firing
    first = m.state
    for v in inside:
        now += dt.timedelta(seconds=10)
        assert m.observe(v, now) is first


@settings(max_examples=100, deadline=None)
@given(clear_for=st.integers(min_value=1, max_value=600), gaps=st.lists(st.integers(1, 60), min_size=1, max_size=40))
def test_a_firing_level_clears_only_after_clear_for(clear_for: int, gaps: list[int]) -> None:
    m = LevelMachine(LevelSpec(fire=15.0, clear=16.0, high=False, clear_for_s=clear_for))
    now = T0
    m.observe(10.0, now)
    assert m.state is LevelState.firing
    first_clear = None
    for gap in gaps:
        now += dt.timedelta(seconds=gap)
        state = m.observe(20.0, now)
        first_clear = first_clear or now
        if state is LevelState.ok:
            assert (now - first_clear).total_seconds() >= clear_for
            break
        assert state is LevelState.clearing


def test_pending_goes_back_to_ok_when_the_value_returns() -> None:
    m = LevelMachine(LevelSpec(fire=27.0, clear=26.0, for_s=60))
    assert m.observe(28.0, T0) is LevelState.pending
    assert m.observe(26.5, T0 + dt.timedelta(seconds=30)) is LevelState.ok
    assert m.observe(28.0, T0 + dt.timedelta(seconds=40)) is LevelState.pending
    assert m.advance(T0 + dt.timedelta(seconds=99)) is LevelState.pending
    assert m.advance(T0 + dt.timedelta(seconds=100)) is LevelState.firing
