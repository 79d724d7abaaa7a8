"""The store on both backends: migrations, timestamps, SQLite tuning."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, insert, inspect, select
from sqlalchemy.exc import StatementError

from siaga.store import (
    create_engine_for,
    current,
    events,
    get_meta,
    load_all_tables,
    metadata,
    pending,
    recent_events,
    record_event,
    runtime_sessions,
    script_heads,
    set_meta,
    sqlite_url,
    upgrade,
)
from siaga.store.sessions import heartbeat, sessions_between, start_session, stop_session

pytestmark = pytest.mark.integration


def test_migrations_apply_from_empty_database(database_url: str) -> None:
    engine = create_engine_for(database_url)
    try:
        assert current(engine) == set()
        assert pending(engine) == script_heads()
        at = upgrade(engine)
        assert at == script_heads()
        tables = set(inspect(engine).get_table_names())
        assert {"events", "meta", "runtime_sessions", "alembic_version"} <= tables
        assert pending(engine) == set()
    finally:
        engine.dispose()


def test_migrations_match_the_table_definitions(db_engine: Engine) -> None:
    load_all_tables()
    with db_engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)
    assert diff == []


def test_upgrading_twice_changes_nothing(db_engine: Engine) -> None:
    before = current(db_engine)
    with db_engine.begin() as conn:
        record_event(conn, "test.kept", subject="R1")
    assert upgrade(db_engine) == before
    with db_engine.connect() as conn:
        assert [e.kind for e in recent_events(conn)] == ["test.kept"]


def test_timestamps_round_trip_as_aware_utc(db_engine: Engine) -> None:
    wita = ZoneInfo("Asia/Makassar")
    written = dt.datetime(2025, 7, 16, 9, 30, 15, 123456, tzinfo=wita)
    with db_engine.begin() as conn:
        event_id = record_event(conn, "leak.detected", subject="R1", actor="sensor:leak-r1", at=written,
                                data={"zone": "ceiling-above"})
    with db_engine.connect() as conn:
        row = conn.execute(select(events).where(events.c.id == event_id)).one()
    assert row.at == written
    assert row.at.utcoffset() == dt.timedelta(0)
    assert row.at.hour == 1  # 09:30 WITA is 01:30 UTC
    assert row.data == {"zone": "ceiling-above"}


def test_naive_timestamps_are_refused(db_engine: Engine) -> None:
    with pytest.raises(StatementError, match="naive datetime"), db_engine.begin() as conn:
        conn.execute(insert(events).values(at=dt.datetime(2025, 7, 16, 9, 30), kind="x"))


def test_events_order_by_time_across_zones(db_engine: Engine) -> None:
    utc = dt.UTC
    with db_engine.begin() as conn:
        record_event(conn, "b", at=dt.datetime(2025, 7, 16, 2, 0, tzinfo=utc))
        wita_9 = dt.datetime(2025, 7, 16, 9, 0, tzinfo=ZoneInfo("Asia/Makassar"))  # 01:00 UTC
        record_event(conn, "a", at=wita_9)
        record_event(conn, "c", at=dt.datetime(2025, 7, 16, 3, 0, tzinfo=utc))
    with db_engine.connect() as conn:
        assert [e.kind for e in recent_events(conn)] == ["c", "b", "a"]


def test_meta_is_insert_or_replace(db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        assert get_meta(conn, "k") is None
        set_meta(conn, "k", "one")
        set_meta(conn, "k", "two")
    with db_engine.connect() as conn:
        assert get_meta(conn, "k") == "two"


def test_runtime_session_records_start_heartbeat_and_stop(db_engine: Engine) -> None:
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with db_engine.begin() as conn:
        sid = start_session(conn, t0, host="h", pid=42)
        heartbeat(conn, sid, t0 + dt.timedelta(seconds=30))
    with db_engine.connect() as conn:
        [s] = sessions_between(conn, t0, t0 + dt.timedelta(hours=1))
        assert s.stopped_at is None and s.ended_at == t0 + dt.timedelta(seconds=30)
    with db_engine.begin() as conn:
        stop_session(conn, sid, t0 + dt.timedelta(seconds=45))
        row = conn.execute(select(runtime_sessions)).one()
    assert row.stopped_at == t0 + dt.timedelta(seconds=45)
    assert (row.host, row.pid) == ("h", 42)


def test_sqlite_runs_in_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = create_engine_for(sqlite_url(tmp_path / "deep" / "folder" / "siaga.db"))
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 5000
    finally:
        engine.dispose()
