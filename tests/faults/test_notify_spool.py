"""Pages sent from memory while the store is locked survive a restart of notify and are recorded once."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import sqlite3
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.exc import OperationalError

from siaga.alerts.model import Alert, AlertState, Impact, Severity, SubjectKind, Transition
from siaga.config import parse_config
from siaga.i18n.messages import Message
from siaga.notify.engine import Notifier
from siaga.notify.service import NotifyService
from siaga.notify.tables import notify_messages
from siaga.notify.transports import Transports
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.store.spool import Spool

pytestmark = pytest.mark.integration

T0 = dt.datetime(2026, 7, 16, 6, 0, tzinfo=dt.UTC)
LEAK = Alert(7, "leak", "leak-r1", SubjectKind.sensor, AlertState.firing, Severity.critical,
             Message("sensor.leak.on", {"sensor": "leak-r1"}), T0,
             fired_at=T0, last_value=1.0, impact=Impact(room="ruang", rack="R1", zone="floor"))


def a_store(tmp_path: Path, store_drills: ModuleType) -> tuple[Any, Engine, Spool, Callable[[], NotifyService]]:
    """A webhook, a migrated SQLite store that gives up on a lock after 0.1 s, a spool, a notify maker."""
    hook = store_drills.Hook()
    cfg = parse_config(store_drills.site_yaml(hook.url, "{data_dir: data}"), "siaga.yaml")
    engine = create_engine_for(sqlite_url(tmp_path / "siaga.db"))
    upgrade(engine)

    @event.listens_for(engine, "connect")
    def short_wait(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout = 100")

    engine.dispose()
    spool = Spool(tmp_path / "spool", "notify")

    def service() -> NotifyService:
        notifier = Notifier(cfg, key=b"k" * 64, public_url="http://siaga.test")
        return NotifyService(engine, notifier, Transports(cfg, tmp_path), clock=lambda: T0, spool=spool)

    return hook, engine, spool, service


async def test_pages_sent_from_memory_survive_a_restart_and_are_recorded_once(
        tmp_path: Path, store_drills: ModuleType) -> None:
    hook, engine, spool, service = a_store(tmp_path, store_drills)
    other = sqlite3.connect(tmp_path / "siaga.db", isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # the store cannot write
        first = service()
        first.publish(Transition(LEAK, None, T0, event="firing"))
        with pytest.raises(OperationalError):
            await first.step()
        await first.settle()
        assert len(await asyncio.to_thread(hook.wait, store_drills.LEAK, 1)) == 1  # paged from memory
        assert [p["reason"] for p in first.problems()] == ["notify.pages_unrecorded"]
        await first.transports.aclose()
        second = service()  # siaga restarted, the store still locked: the page is known, not sent again
        assert second.memory.unrecorded == 1
        with pytest.raises(OperationalError):
            await second.step()
    finally:
        other.execute("ROLLBACK")
        other.close()
    second.publish(Transition(LEAK, None, T0, event="firing"))
    await second.step()  # the store is back: the page goes into the outbox as sent, the planner sees it
    await second.settle()
    second.publish(Transition(LEAK, AlertState.firing, T0, event="severity"))
    await second.step()
    await second.settle()
    await asyncio.sleep(0.3)
    with engine.connect() as conn:
        rows = [(r.kind, r.status, list(r.alert_ids)) for r in conn.execute(select(notify_messages))]
    assert rows == [("page", "sent", [7])]
    assert len(hook.pages(store_drills.LEAK)) == 1  # nobody paged twice
    assert spool.read() == [] and second.problems() == []
    await second.transports.aclose()
    hook.close()
    engine.dispose()


async def test_a_page_from_memory_waiting_for_a_sender_is_not_sent_once_the_alert_is_acknowledged(
        tmp_path: Path, store_drills: ModuleType) -> None:
    hook, engine, spool, service = a_store(tmp_path, store_drills)
    svc = service()
    limit = svc.notifier.config.notification.delivery.concurrency
    other = sqlite3.connect(tmp_path / "siaga.db", isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # the store cannot write: pages go from memory
        for _ in range(limit):  # every sender busy: the page waits at the door
            await svc._sem.acquire()
        svc.publish(Transition(LEAK, None, T0, event="firing"))
        with pytest.raises(OperationalError):
            await svc.step()
        acked = dataclasses.replace(LEAK, state=AlertState.acknowledged, acknowledged_at=T0, acknowledged_by="andi")
        svc.publish(Transition(acked, AlertState.firing, T0, by="andi", via="telegram", event="acknowledged"))
        for _ in range(limit):
            svc._sem.release()
        await svc.settle()
        assert hook.pages(store_drills.LEAK) == [] and svc.memory.unrecorded == 0 and spool.read() == []
    finally:
        other.execute("ROLLBACK")
        other.close()
        await svc.transports.aclose()
        hook.close()
        engine.dispose()


async def test_a_page_that_cannot_be_sent_is_a_health_reason_until_one_goes_through(
        tmp_path: Path, store_drills: ModuleType) -> None:
    hook = store_drills.Hook()
    hook.server.shutdown()  # the receiver is away: the channel refuses
    hook.server.server_close()
    cfg = parse_config(store_drills.site_yaml(hook.url, "{data_dir: data}"), "siaga.yaml")
    engine = create_engine_for(sqlite_url(tmp_path / "siaga.db"))
    upgrade(engine)
    notifier = Notifier(cfg, key=b"k" * 64, public_url="http://siaga.test")
    svc = NotifyService(engine, notifier, Transports(cfg, tmp_path), clock=lambda: T0)
    svc.publish(Transition(LEAK, None, T0, event="firing"))
    await svc.step()
    await svc.settle()
    (reason,) = svc.problems()
    assert reason["reason"] == "notify.send_failed" and reason["channel"] == "hook", reason
    back = store_drills.Hook(port=hook.port)  # the receiver is back on the same address
    svc.clock = lambda: T0 + dt.timedelta(seconds=5)  # past the retry's backoff
    await svc.step()
    await svc.settle()
    assert len(back.pages(store_drills.LEAK)) == 1 and svc.problems() == []
    await svc.transports.aclose()
    back.close()
    engine.dispose()


async def test_an_alert_stored_before_its_provisional_id_is_known_is_not_paged_again(
        tmp_path: Path, store_drills: ModuleType) -> None:
    """The alert manager writes the alert a moment after notify's round looked up its id: the page sent
    from memory is recorded against the stored alert (found by rule, subject and start), and the still
    provisional transition held for the next round does not page it from memory a second time."""
    from siaga.alerts import store as alert_store

    hook, engine, _spool, service = a_store(tmp_path, store_drills)
    svc = service()  # its stored_id knows no provisional id: the alert manager has not written it yet
    provisional = dataclasses.replace(LEAK, id=-1)
    svc.publish(Transition(provisional, None, T0, event="firing"))
    await svc.step()  # the store works, the alert is not in it: paged from memory
    await svc.settle()
    assert len(await asyncio.to_thread(hook.wait, store_drills.LEAK, 1)) == 1
    with engine.begin() as conn:  # the alert manager's late write
        alert_store.insert_alert(conn, dataclasses.replace(LEAK, id=0), T0)
    for _ in range(3):
        await svc.step()
        await svc.settle()
    await asyncio.sleep(0.3)
    assert len(hook.pages(store_drills.LEAK)) == 1  # recorded against the stored alert, not paged again
    with engine.connect() as conn:
        assert [(r.kind, r.status) for r in conn.execute(select(notify_messages))] == [("page", "sent")]
    await svc.transports.aclose()
    hook.close()
    engine.dispose()
