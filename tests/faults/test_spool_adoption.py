"""Spools of processes gone, taken up by another: alert writes of two dead processes (their provisional ids
alike; one in the single ``alerts.jsonl`` of an older siaga) are stored once each at the next start, each
file skipped by its own mark; pages a dead process sent from memory are recorded once by the one that
sends now, never sent again. (A process "dies" here by letting its spool's lock go.)"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import sqlite3
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import Engine, event, select, text

from siaga.alerts import store
from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind, Transition
from siaga.config import parse_config
from siaga.notify.engine import Notifier
from siaga.notify.service import NotifyService
from siaga.notify.tables import notify_messages
from siaga.notify.transports import Transports
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.store.events import get_meta
from siaga.store.spool import Spool

from .test_notify_spool import LEAK, T0

pytestmark = pytest.mark.integration


def leak(subject: str, s: float, active: bool = True) -> Condition:
    return Condition("leak", subject, SubjectKind.sensor, active, Severity.critical,
                     T0 + dt.timedelta(seconds=s), fire_at_once=True)


def died(spool: Spool) -> None:
    spool._file.release()  # type: ignore[union-attr]  # killed: its lock goes, its file stays


def test_alert_writes_of_two_processes_gone_are_adopted_at_a_start_and_stored_once(
        db_engine: Engine, tmp_path: Path) -> None:
    folder = tmp_path / "spool"
    gone = [Spool(folder, "alerts", instance=i) for i in ("a", "b")]
    managers = [AlertManager(db_engine, clock=lambda: T0, spool=spool) for spool in gone]
    for m in managers:
        m.load(T0)
    with db_engine.begin() as conn:
        conn.execute(text("ALTER TABLE alerts RENAME TO alerts_away"))
    try:
        for m, subject in zip(managers, ("leak-r1", "leak-r2"), strict=True):
            m.submit(leak(subject, 0))
            m.submit(leak(subject, 5, active=False))  # both count their provisional ids from -1
    finally:
        with db_engine.begin() as conn:
            conn.execute(text("ALTER TABLE alerts_away RENAME TO alerts"))
    for spool in gone:
        assert len(spool) >= 4
        died(spool)
    gone[1].path.rename(folder / "alerts.jsonl")  # the single file of an older siaga
    Spool(folder, "alerts", instance="b").append([{"_id": "x"}])  # a live process's file is not touched
    live = folder / "alerts.b.jsonl"

    AlertManager(db_engine, clock=lambda: T0, spool=Spool(folder, "alerts", instance="c")).load(T0)
    with db_engine.connect() as conn:
        got = sorted((a.subject, a.state.value, len(store.events_of(conn, [a.id]))) for a in store.list_alerts(conn))
        marks = get_meta(conn, "spool.alerts.a"), get_meta(conn, "spool.alerts")
    assert got == [("leak-r1", "resolved", 2), ("leak-r2", "resolved", 2)]
    assert all(marks)
    assert sorted(p.name for p in folder.iterdir()) == [live.name]


def _service(tmp_path: Path, store_drills: ModuleType, hook: Any, engine: Engine, instance: str) -> NotifyService:
    cfg = parse_config(store_drills.site_yaml(hook.url, "{data_dir: data}"), "siaga.yaml")
    notifier = Notifier(cfg, key=b"k" * 64, public_url="http://siaga.test")
    return NotifyService(engine, notifier, Transports(cfg, tmp_path), clock=lambda: T0,
                         spool=Spool(tmp_path / "spool", "notify", instance=instance))


async def test_pages_a_process_gone_sent_from_memory_are_recorded_once_by_the_sender_and_not_sent_again(
        tmp_path: Path, store_drills: ModuleType) -> None:
    hook = store_drills.Hook()
    engine = create_engine_for(sqlite_url(tmp_path / "siaga.db"))
    upgrade(engine)

    @event.listens_for(engine, "connect")
    def short_wait(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout = 100")

    engine.dispose()
    other = sqlite3.connect(tmp_path / "siaga.db", isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # the store cannot write: the first process pages from memory
        first = _service(tmp_path, store_drills, hook, engine, "gone")
        first.publish(Transition(LEAK, None, T0, event="firing"))
        with pytest.raises(Exception):  # noqa: B017 - the store's own error
            await first.step()
        await first.settle()
        assert len(await asyncio.to_thread(hook.wait, store_drills.LEAK, 1)) == 1
        await first.transports.aclose()
        assert first.spool is not None and len(first.spool) == 1
        died(first.spool)
        second = _service(tmp_path, store_drills, hook, engine, "now")
        second.publish(Transition(LEAK, None, T0, event="firing"))  # it hears of the alert too
        with pytest.raises(Exception):  # noqa: B017 - the store still refuses: the page is known here now
            await second.step()
        await second.settle()
        assert second.memory.unrecorded == 1 and len(hook.pages(store_drills.LEAK)) == 1
    finally:
        other.execute("ROLLBACK")
        other.close()
    second.publish(Transition(LEAK, None, T0, event="firing"))
    await second.step()  # recorded as sent; the outbox's planner sees it
    await second.settle()
    await second.step()
    await second.settle()
    await asyncio.sleep(0.3)
    with engine.connect() as conn:
        rows = [(r.status, list(r.alert_ids)) for r in conn.execute(select(notify_messages))]
    assert rows == [("sent", [7])] and len(hook.pages(store_drills.LEAK)) == 1
    assert not list((tmp_path / "spool").glob("notify.gone.jsonl")) and second.problems() == []
    await second.transports.aclose()
    hook.close()
    engine.dispose()


class _NotHeld:
    """The ``notify`` role's fence of a process that does not hold it (any more)."""

    def held(self) -> bool:
        return False


async def test_a_process_that_loses_the_notify_role_lets_the_adopted_pages_go(
        tmp_path: Path, store_drills: ModuleType) -> None:
    hook = store_drills.Hook()
    engine = create_engine_for(sqlite_url(tmp_path / "siaga.db"))
    upgrade(engine)
    unnumbered = dataclasses.replace(LEAK, id=-3)  # not in the store yet: its page cannot be recorded
    first = _service(tmp_path, store_drills, hook, engine, "gone")
    first._page_from_memory([Transition(unnumbered, None, T0, event="firing")], T0)
    await first.settle()
    await first.transports.aclose()
    assert first.spool is not None and len(first.spool) == 1
    died(first.spool)
    second = _service(tmp_path, store_drills, hook, engine, "now")
    await second.step()
    assert second.memory.unrecorded == 1  # adopted, waiting for its alert
    assert Spool(tmp_path / "spool", "notify", instance="x").adopt() == []
    second.fence = _NotHeld()  # type: ignore[assignment]
    await second.step()  # another process sends now: it takes them up
    assert second.memory.unrecorded == 0
    (free,) = Spool(tmp_path / "spool", "notify", instance="x").adopt()
    assert free.path.name == "notify.gone.jsonl" and len(free.read()) == 1
    free.release()
    await second.transports.aclose()
    hook.close()
    engine.dispose()
