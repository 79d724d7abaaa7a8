"""The backup scheduler: which tasks exist, when they are due, and that a due task runs."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import yaml

from siaga.backup.component import Task, missed_occurrence, next_due, schedule_loop, scheduled_tasks
from siaga.config import parse_config

WITA = ZoneInfo("Asia/Makassar")


def _config():  # type: ignore[no-untyped-def]
    doc = {
        "site": {"name": "t"},
        "targets": [
            {
                "id": "colo",
                "type": "local",
                "path": "/r",
                "password_file": "/p",
                "retention": {"keep_daily": 7, "schedule": "30 3 * * 0"},
            }
        ],
        "backups": [
            {
                "id": "web",
                "target": "colo",
                "paths": ["/srv"],
                "schedule": "15 * * * *",
                "drill": {"schedule": "0 2 * * 6"},
            }
        ],
    }
    return parse_config(yaml.safe_dump(doc))


def test_every_schedule_becomes_a_task() -> None:
    names = {t.name for t in scheduled_tasks(_config())}
    assert names == {"backup web", "drill web", "retention colo", "check colo"}


def test_cron_is_read_in_the_site_time_zone() -> None:
    task = Task("drill web", "0 2 * * 6", "drill", "web")
    after = dt.datetime(2026, 11, 20, 0, 0, tzinfo=dt.UTC)  # a Friday
    assert next_due(task, WITA, after) == dt.datetime(2026, 11, 20, 18, 0, tzinfo=dt.UTC)  # Sat 02:00 WITA


async def test_a_due_task_runs_and_stop_ends_the_loop() -> None:
    cfg = _config()
    ran: list[str] = []

    class FakeManager:
        config = cfg
        tz = WITA
        sink = None

        def publish(self) -> list[object]:
            return []

    times = iter(
        [dt.datetime(2026, 11, 20, 0, 14, 59, tzinfo=dt.UTC)]
        + [dt.datetime(2026, 11, 20, 0, 15, 1, tzinfo=dt.UTC)] * 1000
    )
    stop = asyncio.Event()

    async def runner(mgr: object, task: Task) -> None:
        ran.append(task.name)
        stop.set()

    await asyncio.wait_for(
        schedule_loop(FakeManager(), stop, clock=lambda: next(times), runner=runner),  # type: ignore[arg-type]
        10,
    )
    assert ran == ["backup web"]


# --- catching up what was missed while siaga was down ------------------------------------------------

DAILY_2AM = Task("backup web", "0 2 * * *", "backup", "web", dt.timedelta(days=8))
NOW = dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC)  # 14:00 WITA; today's 02:00 WITA was 2026-11-19 18:00 UTC
DUE = dt.datetime(2026, 11, 19, 18, 0, tzinfo=dt.UTC)
LONG_AGO = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_an_occurrence_missed_since_the_last_run_is_caught_up() -> None:
    last = DUE - dt.timedelta(days=1)
    assert missed_occurrence(DAILY_2AM, WITA, now=NOW, last_ran=last, watched_since=LONG_AGO) == DUE


def test_nothing_is_missed_when_the_task_ran_after_its_last_occurrence() -> None:
    assert missed_occurrence(DAILY_2AM, WITA, now=NOW, last_ran=DUE, watched_since=LONG_AGO) is None


def test_only_the_newest_of_many_missed_occurrences_runs() -> None:
    last = DUE - dt.timedelta(days=5)
    assert missed_occurrence(DAILY_2AM, WITA, now=NOW, last_ran=last, watched_since=LONG_AGO) == DUE


def test_an_occurrence_later_than_the_grace_is_left_to_the_schedule() -> None:
    weekly = Task("drill web", "0 2 * * 6", "drill", "web", dt.timedelta(days=1))
    now = dt.datetime(2026, 11, 25, 6, 0, tzinfo=dt.UTC)  # Wednesday: Saturday's drill is 4 days late
    assert missed_occurrence(weekly, WITA, now=now, last_ran=None, watched_since=LONG_AGO) is None
    generous = Task("drill web", "0 2 * * 6", "drill", "web", dt.timedelta(days=8))
    assert missed_occurrence(generous, WITA, now=now, last_ran=None, watched_since=LONG_AGO) is not None


def test_a_new_install_has_missed_nothing() -> None:
    assert missed_occurrence(DAILY_2AM, WITA, now=NOW, last_ran=None, watched_since=NOW - dt.timedelta(hours=1)) is None


def test_catch_up_zero_never_catches_up() -> None:
    off = Task("backup web", "0 2 * * *", "backup", "web", dt.timedelta(0))
    assert missed_occurrence(off, WITA, now=NOW, last_ran=None, watched_since=LONG_AGO) is None
