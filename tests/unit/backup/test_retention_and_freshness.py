"""Retention plans and backup freshness decisions: pure, with the clock as an argument."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from hypothesis import given
from hypothesis import strategies as st

from siaga.backup.freshness import DrillFact, JobFacts, RunFact, assess
from siaga.backup.retention import SnapshotInfo, check_subset, plan_forget
from siaga.config.backup import Retention

WITA = ZoneInfo("Asia/Makassar")
T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

snapshot_sets = st.lists(st.integers(min_value=0, max_value=400 * 24 * 60), min_size=1, max_size=40, unique=True).map(
    lambda minutes: [SnapshotInfo(f"s{m:08d}", T0 + dt.timedelta(minutes=m)) for m in minutes]
)
policies = st.builds(
    Retention,
    keep_last=st.none() | st.integers(1, 5),
    keep_hourly=st.none() | st.integers(1, 5),
    keep_daily=st.none() | st.integers(1, 7),
    keep_weekly=st.none() | st.integers(1, 4),
    keep_monthly=st.none() | st.integers(1, 3),
    keep_yearly=st.none() | st.integers(1, 2),
)


@given(snapshot_sets, policies, st.data())
def test_retention_never_forgets_the_newest_verified_or_the_newest(snaps, policy, data) -> None:  # type: ignore[no-untyped-def]
    verified = data.draw(st.sampled_from(snaps))
    plan = plan_forget(snaps, policy, tz=WITA, protect=[verified.id])
    kept = {s.id for s in plan.keep}
    assert verified.id in kept
    assert max(snaps, key=lambda s: s.time).id in kept
    assert kept.isdisjoint({s.id for s in plan.forget})
    assert len(plan.keep) + len(plan.forget) == len(snaps)


@given(snapshot_sets, st.integers(1, 10))
def test_keep_last_keeps_exactly_the_newest_n(snaps, n) -> None:  # type: ignore[no-untyped-def]
    plan = plan_forget(snaps, Retention(keep_last=n), tz=WITA)
    newest = sorted(snaps, key=lambda s: s.time, reverse=True)[:n]
    assert {s.id for s in plan.keep} == {s.id for s in newest}


def test_daily_buckets_are_site_days() -> None:
    # 23:30 and 00:30 WITA are different days in Bontang, the same day in UTC.
    a = SnapshotInfo("a", dt.datetime(2026, 3, 1, 15, 30, tzinfo=dt.UTC))
    b = SnapshotInfo("b", dt.datetime(2026, 3, 1, 16, 30, tzinfo=dt.UTC))
    plan = plan_forget([a, b], Retention(keep_daily=2), tz=WITA)
    assert {s.id for s in plan.keep} == {"a", "b"}
    plan_utc = plan_forget([a, b], Retention(keep_daily=2), tz=ZoneInfo("UTC"))
    assert {s.id for s in plan_utc.keep} == {"b"}


def test_empty_policy_keeps_everything() -> None:
    snaps = [SnapshotInfo(str(i), T0 + dt.timedelta(hours=i)) for i in range(5)]
    assert len(plan_forget(snaps, Retention(), tz=WITA).forget) == 0


@given(st.dates(), st.integers(1, 60))
def test_rolling_check_reads_every_part_within_n_days(day, n) -> None:  # type: ignore[no-untyped-def]
    parts = {check_subset(day + dt.timedelta(days=i), n) for i in range(n)}
    assert parts == {f"{k}/{n}" for k in range(1, n + 1)}


def _facts(**kw: object) -> JobFacts:
    base: dict[str, object] = dict(
        job="db-utama",
        rpo=dt.timedelta(hours=5),
        rto=dt.timedelta(hours=1),
        schedule="0 */4 * * *",
        tz=WITA,
        newest_good=None,
        last_run=None,
        last_drill=None,
        watched_since=T0,
    )
    base.update(kw)
    return JobFacts(**base)  # type: ignore[arg-type]


def _active(facts: JobFacts, now: dt.datetime) -> set[str]:
    return {c.rule for c in assess(facts, now) if c.active}


def test_a_fresh_good_backup_raises_nothing() -> None:
    now = T0 + dt.timedelta(hours=9, minutes=10)
    slot = T0 + dt.timedelta(hours=8)
    facts = _facts(newest_good=slot, last_run=RunFact(slot, True))
    assert _active(facts, now) == set()


def test_failed_and_missed_are_different_alerts() -> None:
    now = T0 + dt.timedelta(hours=9)
    failed = _facts(newest_good=T0, last_run=RunFact(T0 + dt.timedelta(hours=8), False, "wrong password"))
    assert _active(failed, now) == {"backup.failed", "backup.rpo"}
    rpo = next(c for c in assess(failed, now) if c.rule == "backup.rpo")
    assert rpo.params["cause"] == "failed" and rpo.severity.value == "critical"
    missed = _facts(newest_good=T0, last_run=RunFact(T0, True))
    assert _active(missed, now) == {"backup.missed", "backup.rpo"}
    rpo = next(c for c in assess(missed, now) if c.rule == "backup.rpo")
    assert rpo.params["cause"] == "missed"


def test_a_slow_drill_breaks_the_rto_and_a_failed_one_is_critical() -> None:
    now = T0 + dt.timedelta(hours=1)
    slow = _facts(
        newest_good=now, last_run=RunFact(T0 + dt.timedelta(minutes=59), True), last_drill=DrillFact(now, True, 7200.0)
    )
    assert _active(slow, now) == {"backup.rto"}
    bad = _facts(
        newest_good=now,
        last_run=RunFact(T0 + dt.timedelta(minutes=59), True),
        last_drill=DrillFact(now, False, None, "content differs: /x"),
    )
    assert _active(bad, now) == {"backup.drill"}


@given(st.integers(min_value=0, max_value=30 * 24 * 60))
def test_rpo_fires_exactly_when_the_newest_good_snapshot_is_older_than_the_rpo(minutes: int) -> None:
    now = T0 + dt.timedelta(days=40)
    newest = now - dt.timedelta(minutes=minutes)
    facts = _facts(newest_good=newest, last_run=RunFact(newest, True), schedule=None)
    assert ("backup.rpo" in _active(facts, now)) == (minutes > 5 * 60)
