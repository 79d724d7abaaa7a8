"""The backup scheduler: which tasks exist, when they are due, and that a due task runs."""

from __future__ import annotations

import asyncio
import datetime as dt
from zoneinfo import ZoneInfo

import yaml

from siaga.backup.component import Task, next_due, schedule_loop, scheduled_tasks
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
