"""A backup occurrence missed while siaga was down runs once at start, recorded as late (real store)."""

from __future__ import annotations

import asyncio
import datetime as dt

import yaml
from sqlalchemy import Engine

from siaga.backup import records
from siaga.backup.component import Task, schedule_loop
from siaga.backup.manager import BackupManager
from siaga.config import parse_config
from siaga.store.events import recent_events
from siaga.store.sessions import start_session

NOW = dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC)  # 14:00 WITA; the 02:00 WITA backup was due 12 h ago


def _config():  # type: ignore[no-untyped-def]
    doc = {
        "site": {"name": "t", "timezone": "Asia/Makassar"},
        "targets": [{"id": "colo", "type": "local", "path": "/r", "password_file": "/p", "check": None}],
        "backups": [{"id": "web", "target": "colo", "paths": ["/srv"], "schedule": "0 2 * * *"}],
    }
    return parse_config(yaml.safe_dump(doc))


async def _start(db_engine: Engine) -> list[str]:
    mgr = BackupManager(_config(), engine=db_engine, clock=lambda: NOW)
    ran: list[str] = []
    stop = asyncio.Event()

    async def runner(mgr: object, task: Task) -> None:
        ran.append(task.name)

    async def stop_soon() -> None:
        await asyncio.sleep(0.5)
        stop.set()

    await asyncio.gather(schedule_loop(mgr, stop, clock=lambda: NOW, runner=runner), stop_soon())
    return ran


async def test_a_missed_backup_runs_once_at_start_and_is_recorded_late(db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        start_session(conn, NOW - dt.timedelta(days=3))  # siaga watched this site before
    run_id = records.start_run(
        db_engine, job="web", target="colo", operation="backup", at=NOW - dt.timedelta(days=2), run_tag="x"
    )
    records.finish_run(db_engine, run_id, at=NOW - dt.timedelta(days=2), ok=True)

    assert await _start(db_engine) == ["backup web"]
    with db_engine.connect() as conn:
        late = recent_events(conn, kind="backup.late")
    assert [(e.subject, e.data["late_s"]) for e in late] == [("backup web", 12 * 3600.0)]


async def test_a_backup_that_already_ran_is_not_run_again(db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        start_session(conn, NOW - dt.timedelta(days=3))
    run_id = records.start_run(
        db_engine, job="web", target="colo", operation="backup", at=NOW - dt.timedelta(hours=11), run_tag="x"
    )
    records.finish_run(db_engine, run_id, at=NOW - dt.timedelta(hours=11), ok=False)
    assert await _start(db_engine) == []
