"""The alert manager's spool: writes the store refused survive a restart and are stored once."""

from __future__ import annotations

import datetime as dt
import sqlite3
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, event, text

from siaga.alerts import store
from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.i18n.messages import note_text
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.store.spool import Spool

UTC = ZoneInfo("UTC")

pytestmark = pytest.mark.integration

T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)


def leak(s: float, active: bool = True) -> Condition:
    return Condition("leak", "leak-r1", SubjectKind.sensor, active, Severity.critical,
                     T0 + dt.timedelta(seconds=s), fire_at_once=True)


def _alerts_table(engine: Engine, away: bool) -> None:
    src, dst = ("alerts", "alerts_away") if away else ("alerts_away", "alerts")
    with engine.begin() as conn:
        conn.execute(text(f"ALTER TABLE {src} RENAME TO {dst}"))


def test_spooled_writes_of_a_run_that_died_are_stored_once_by_the_next(db_engine: Engine, tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", "alerts")
    first = AlertManager(db_engine, clock=lambda: T0, spool=spool)
    first.load(T0)
    _alerts_table(db_engine, away=True)
    try:
        first.submit(leak(0))
        first.submit(leak(5, active=False))  # resolved while the store is away: both wait, in order
        assert first.waiting >= 4 and first.problems()
        assert first.get("leak", "leak-r1") is None
    finally:
        _alerts_table(db_engine, away=False)
    assert len(spool) >= 4  # on disk before the process "dies" here (first is dropped, never flushed)
    records = spool.read()

    second = AlertManager(db_engine, clock=lambda: T0, spool=spool)
    second.load(T0 + dt.timedelta(seconds=30))
    with db_engine.connect() as conn:
        (alert,) = store.list_alerts(conn)
        events = [(e.event, note_text(e.note, "en", UTC)) for e in store.events_of(conn, [alert.id])]
    assert alert.state.value == "resolved" and alert.resolved_at == T0 + dt.timedelta(seconds=5)
    assert events == [("firing", "stored late"), ("resolved", None)]  # siaga's own note, worded per reader
    assert len(spool) == 0 and second.problems() == []

    # a crash between the commit and the clearing of the spool: the next start skips what was stored
    spool.append(records)
    third = AlertManager(db_engine, clock=lambda: T0, spool=spool)
    third.load(T0 + dt.timedelta(seconds=60))
    with db_engine.connect() as conn:
        assert len(store.list_alerts(conn)) == 1
    assert len(spool) == 0


def test_the_store_alert_fires_after_its_window_and_resolves_when_writes_go_in(db_engine: Engine,
                                                                               tmp_path: Path) -> None:
    m = AlertManager(db_engine, clock=lambda: T0, spool=Spool(tmp_path, "alerts"), unavailable_after_s=30)
    m.load(T0)
    _alerts_table(db_engine, away=True)
    try:
        m.submit(leak(0))
        m.tick(T0 + dt.timedelta(seconds=29))
        assert m.get("store.unavailable", "store") is None
        m.tick(T0 + dt.timedelta(seconds=31))
        store_alert = m.get("store.unavailable", "store")
        assert store_alert is not None and store_alert.id < 0 and store_alert.severity is Severity.critical
    finally:
        _alerts_table(db_engine, away=False)
    m.tick(T0 + dt.timedelta(seconds=40))
    assert m.get("store.unavailable", "store") is None and m.problems() == []
    with db_engine.connect() as conn:
        rules = sorted((a.rule, a.state.value) for a in store.list_alerts(conn))
    assert rules == [("leak", "firing"), ("store.unavailable", "resolved")]



def test_a_start_while_the_store_still_refuses_keeps_the_spooled_writes_waiting(tmp_path: Path) -> None:
    db = tmp_path / "siaga.db"
    engine = create_engine_for(sqlite_url(db))
    upgrade(engine)

    @event.listens_for(engine, "connect")
    def short_wait(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout = 50")

    engine.dispose()
    spool = Spool(tmp_path / "spool", "alerts")
    first = AlertManager(engine, clock=lambda: T0, spool=spool)
    first.load(T0)
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another writer holds the store: reads go on, writes fail
        first.submit(leak(0))
        second = AlertManager(engine, clock=lambda: T0, spool=spool)  # restarted, the store still refuses
        second.load(T0 + dt.timedelta(seconds=10))
        assert second.waiting >= 2 and second.problems()[0]["reason"] == "store.cannot_write"
    finally:
        other.execute("ROLLBACK")
        other.close()
    second.tick(T0 + dt.timedelta(seconds=20))
    with engine.connect() as conn:
        (alert,) = store.list_alerts(conn)
    assert alert.rule == "leak" and second.waiting == 0 and len(spool) == 0
    engine.dispose()
