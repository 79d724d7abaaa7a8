"""Uptime over time: unknown when siaga did not run, maintenance excluded, SLA met or not."""

from __future__ import annotations

import datetime as dt
import itertools
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from siaga.checks.confirm import Status
from siaga.checks.uptime import (
    Segment,
    SlaVerdict,
    Tally,
    combine,
    daily,
    month_bounds,
    service_timeline,
    session_intervals,
    tally,
    timeline,
)

WITA = ZoneInfo("Asia/Makassar")
T0 = dt.datetime(2025, 7, 1, tzinfo=dt.UTC)
H = dt.timedelta(hours=1)


def test_uptime_counts_time_not_checks() -> None:
    changes = [(T0, Status.up), (T0 + 9 * H, Status.down), (T0 + 10 * H, Status.up)]
    t = tally(timeline(changes, T0, T0 + 100 * H))
    assert t.up_s == 99 * 3600 and t.down_s == 3600
    assert t.uptime == 0.99


def test_time_when_siaga_was_not_running_is_unknown_never_up() -> None:
    changes = [(T0, Status.up)]
    running = [(T0, T0 + 10 * H), (T0 + 20 * H, T0 + 30 * H)]
    t = tally(service_timeline([changes], T0, T0 + 30 * H, running=running))
    assert t.up_s == 20 * 3600
    assert t.unknown_s == 10 * 3600
    assert t.uptime == 1.0
    assert t.coverage is not None and abs(t.coverage - 2 / 3) < 1e-9


def test_maintenance_is_excluded_and_shown() -> None:
    changes = [(T0, Status.up), (T0 + 2 * H, Status.down), (T0 + 3 * H, Status.up)]
    segs = service_timeline([changes], T0, T0 + 10 * H, maintenance=[(T0 + 2 * H, T0 + 3 * H)])
    assert Segment(T0 + 2 * H, T0 + 3 * H, Status.maintenance) in segs
    t = tally(segs)
    assert t.down_s == 0 and t.maintenance_s == 3600 and t.uptime == 1.0


def test_a_session_that_crashed_counts_until_last_seen_plus_slack() -> None:
    now = T0 + 10 * H
    ivs = session_intervals(
        [(T0, T0 + H, None), (T0 + 2 * H, T0 + 3 * H, T0 + 3 * H), (T0 + 9 * H, now, None)],
        now,
        slack=dt.timedelta(minutes=2),
    )
    assert ivs == [(T0, T0 + H + dt.timedelta(minutes=2)), (T0 + 2 * H, T0 + 3 * H), (T0 + 9 * H, now)]


def test_a_service_is_down_when_any_check_is_down() -> None:
    a = timeline([(T0, Status.up)], T0, T0 + 4 * H)
    b = timeline([(T0, Status.up), (T0 + H, Status.down), (T0 + 2 * H, Status.up)], T0, T0 + 4 * H)
    segs = combine([a, b], T0, T0 + 4 * H)
    assert tally(segs).down_s == 3600


def test_daily_uptime_follows_the_site_day_in_wita() -> None:
    # 16:00 UTC is midnight WITA: a down hour 15:00-17:00 UTC splits over two local days
    changes = [(T0, Status.up), (T0 + 15 * H, Status.down), (T0 + 17 * H, Status.up)]
    days = daily(timeline(changes, T0 - 8 * H, T0 + 40 * H), WITA)
    assert days[dt.date(2025, 7, 1)].down_s == 3600
    assert days[dt.date(2025, 7, 2)].down_s == 3600


def test_month_bounds_are_local_midnights() -> None:
    start, end = month_bounds(2025, 7, WITA)
    assert start == dt.datetime(2025, 6, 30, 16, tzinfo=dt.UTC)
    assert end == dt.datetime(2025, 7, 31, 16, tzinfo=dt.UTC)


def test_sla_is_met_only_when_unknown_time_cannot_change_the_answer() -> None:
    assert Tally(up_s=999, down_s=1).sla(0.99) == SlaVerdict.met
    assert Tally(up_s=900, down_s=100).sla(0.99) == SlaVerdict.missed
    assert Tally(up_s=985, down_s=0, unknown_s=15).sla(0.99) == SlaVerdict.undetermined
    assert Tally().sla(0.99) == SlaVerdict.undetermined


def test_five_days_down_breaks_a_99_9_percent_sla() -> None:
    # bontangkota.go.id, July 2025: down 16 to 21 July
    start, end = month_bounds(2025, 7, WITA)
    down_at = dt.datetime(2025, 7, 16, 2, tzinfo=dt.UTC)
    changes = [(start, Status.up), (down_at, Status.down), (down_at + 5 * 24 * H, Status.up)]
    t = tally(service_timeline([changes], start, end, running=[(start, end)]))
    assert t.down_s == 5 * 86400
    assert t.sla(0.999) == SlaVerdict.missed
    assert t.uptime is not None and abs(t.uptime - 26 / 31) < 1e-9


# --- properties --------------------------------------------------------------------------------

statuses = st.sampled_from([Status.up, Status.down, Status.unknown])
offsets = st.integers(min_value=0, max_value=1000)


@st.composite
def changes_st(draw: st.DrawFn) -> list[tuple[dt.datetime, Status]]:
    n = draw(st.integers(0, 12))
    return [(T0 + dt.timedelta(minutes=draw(offsets)), draw(statuses)) for _ in range(n)]


@st.composite
def intervals_st(draw: st.DrawFn) -> list[tuple[dt.datetime, dt.datetime]]:
    out = []
    for _ in range(draw(st.integers(0, 5))):
        a = draw(offsets)
        b = draw(st.integers(a, 1000))
        out.append((T0 + dt.timedelta(minutes=a), T0 + dt.timedelta(minutes=b)))
    return out


END = T0 + dt.timedelta(minutes=1000)


@settings(max_examples=200)
@given(checks=st.lists(changes_st(), min_size=1, max_size=3), running=intervals_st(), maint=intervals_st())
def test_every_second_is_counted_once(checks, running, maint) -> None:
    segs = service_timeline(checks, T0, END, running=running, maintenance=maint)
    t = tally(segs)
    assert abs(t.total_s - (END - T0).total_seconds()) < 1e-6
    # segments tile the period without gaps or overlaps
    assert segs[0].start == T0 and segs[-1].end == END
    for a, b in itertools.pairwise(segs):
        assert a.end == b.start
    if t.uptime is not None:
        assert 0.0 <= t.uptime <= 1.0


@settings(max_examples=200)
@given(checks=st.lists(changes_st(), min_size=1, max_size=3), running=intervals_st())
def test_time_outside_runtime_sessions_is_never_up(checks, running) -> None:
    segs = service_timeline(checks, T0, END, running=running)
    covered = sum((min(e, END) - max(s, T0)).total_seconds() for s, e in _union(running))
    assert tally(segs).up_s <= covered + 1e-6


@settings(max_examples=200)
@given(checks=st.lists(changes_st(), min_size=1, max_size=3), maint=intervals_st())
def test_maintenance_never_lowers_uptime_of_the_rest(checks, maint) -> None:
    plain = tally(service_timeline(checks, T0, END))
    with_m = tally(service_timeline(checks, T0, END, maintenance=maint))
    assert with_m.up_s <= plain.up_s + 1e-6 and with_m.down_s <= plain.down_s + 1e-6
    assert with_m.maintenance_s == sum(
        (e - s).total_seconds() for s, e in _union(maint)
    )


@settings(max_examples=200)
@given(checks=st.lists(changes_st(), min_size=1, max_size=3))
def test_daily_tallies_add_up_to_the_period(checks) -> None:
    segs = service_timeline(checks, T0, END)
    total = sum(daily(segs, WITA).values(), Tally())
    whole = tally(segs)
    assert abs(total.up_s - whole.up_s) < 1e-6 and abs(total.down_s - whole.down_s) < 1e-6


def _union(ivs):
    from siaga.checks.uptime import union

    return union(ivs)
