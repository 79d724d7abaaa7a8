"""Readings in the store: bulk writes, rollups (late readings too), retention, queries by resolution."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest
from sqlalchemy import Engine, func, select

from siaga.config.readings import ReadingsConfig
from siaga.readings.pg_flush import OneStatementFlush
from siaga.readings.query import last_readings, pick_resolution, query
from siaga.readings.rollup import RollupMaintainer, apply_retention, rollup_range
from siaga.readings.tables import ingest_counters, readings, readings_1h, readings_1m, sensor_last
from siaga.readings.writer import write_rows
from siaga.sources.ingest import Row, to_ms
from siaga.store.engine import libpq_dsn

pytestmark = pytest.mark.integration

T0 = dt.datetime(2025, 7, 16, 1, 0, tzinfo=dt.UTC)


def ms(seconds: float) -> int:
    return to_ms(T0) + int(seconds * 1000)


Write = Callable[[Sequence[Row], Mapping[str, int] | None, dt.datetime], None]


@pytest.fixture(params=["engine", "one statement"])
def write(request: pytest.FixtureRequest, db_engine: Engine) -> Iterator[Write]:
    """A flush's write: through the engine (both backends), or in one statement on a connection of its own
    (PostgreSQL: what the readings writer uses there; a flush it cannot take goes the engine's way)."""
    if request.param == "engine":
        yield lambda rows, counters, now: write_rows(db_engine, rows, counters, now)
        return
    if db_engine.dialect.name != "postgresql":
        pytest.skip("one statement: PostgreSQL only")
    direct = OneStatementFlush(libpq_dsn(db_engine))

    def one(rows: Sequence[Row], counters: Mapping[str, int] | None, now: dt.datetime) -> None:
        if not direct.write(rows, counters or {}, now):
            write_rows(db_engine, rows, counters, now)

    try:
        yield one
    finally:
        direct.close()


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_rollups_hold_min_max_avg_and_count(db_engine: Engine) -> None:
    rows = [("t1", ms(i * 10), 20.0 + i) for i in range(12)]  # two minutes, six readings each
    rows += [("t2", ms(5), 1.0)]
    write_rows(db_engine, rows, {"accepted": 13}, T0)
    rollup_range(db_engine, ms(0), ms(3600))
    with db_engine.connect() as conn:
        series = query(conn, "t1", T0, T0 + dt.timedelta(minutes=2), "1m")
        hours = query(conn, "t1", T0, T0 + dt.timedelta(hours=1), "1h")
    assert [(p.min, p.max, p.avg, p.count) for p in series.points] == [(20, 25, 22.5, 6), (26, 31, 28.5, 6)]
    assert [(p.min, p.max, p.avg, p.count) for p in hours.points] == [(20, 31, 25.5, 12)]


def test_a_late_reading_is_rolled_up_into_its_old_bucket(db_engine: Engine) -> None:
    cfg = ReadingsConfig()
    now = T0 + dt.timedelta(hours=2)
    maint = RollupMaintainer(db_engine, cfg, clock=lambda: now)
    write_rows(db_engine, [("t1", ms(30), 10.0)], None, T0)
    maint.run_once(now)
    write_rows(db_engine, [("t1", ms(40), 30.0)], None, now)  # arrives after its minute was rolled up
    maint.mark_dirty(ms(40))
    maint.run_once(now + dt.timedelta(seconds=30))
    with db_engine.connect() as conn:
        (p,) = query(conn, "t1", T0, T0 + dt.timedelta(minutes=1), "1m").points
        (h,) = query(conn, "t1", T0, T0 + dt.timedelta(hours=1), "1h").points
    assert (p.min, p.max, p.count) == (10.0, 30.0, 2)
    assert h.count == 2


def test_queries_finish_the_buckets_the_rollup_has_not_reached_from_raw(db_engine: Engine) -> None:
    write_rows(db_engine, [("t1", ms(i * 60), float(i)) for i in range(10)], None, T0)
    rollup_range(db_engine, ms(0), ms(300))  # only the first five minutes rolled up, no watermark yet
    with db_engine.connect() as conn:
        series = query(conn, "t1", T0, T0 + dt.timedelta(minutes=10), "1m")
    assert [p.avg for p in series.points] == [float(i) for i in range(10)]


def test_retention_drops_old_raw_readings_and_keeps_rollups(db_engine: Engine) -> None:
    old = T0 - dt.timedelta(days=40)
    write_rows(db_engine, [("t1", to_ms(old), 1.0), ("t1", ms(0), 2.0)], None, T0)
    rollup_range(db_engine, to_ms(old), ms(60))
    deleted = apply_retention(db_engine, ReadingsConfig(), T0)
    assert deleted["readings"] == 1 and deleted["readings_1m"] == 0
    assert count(db_engine, readings) == 1
    assert count(db_engine, readings_1m) == 2 and count(db_engine, readings_1h) == 2
    deleted = apply_retention(db_engine, ReadingsConfig(minute_retention=86400), T0)
    assert deleted["readings_1m"] == 1 and "readings_1h" not in deleted  # hours are kept forever


def test_the_latest_reading_per_sensor_never_goes_back_in_time(db_engine: Engine, write: Write) -> None:
    write([("t1", ms(100), 5.0), ("t1", ms(50), 4.0), ("t2", ms(1), 1.0)], None, T0)
    write([("t1", ms(90), 3.0)], None, T0 + dt.timedelta(seconds=200))
    with db_engine.connect() as conn:
        last = last_readings(conn)
    assert last["t1"].value == 5.0 and last["t1"].ts == T0 + dt.timedelta(seconds=100)
    assert last["t2"].value == 1.0



@pytest.mark.parametrize("ids", [["NULL", "null", "r1.rak-2_suhu", "A9"], ['odd "id"', "with space", "b\\s", "{x,y}"]])
def test_ids_values_and_times_come_back_exactly_as_written(db_engine: Engine, write: Write, ids: list[str]) -> None:
    """Slugs go to PostgreSQL as array literals built by hand ("NULL" is an id there, not a null); any other id
    the way psycopg adapts it; every float comes back exactly, and each sensor's latest is its newest."""
    values = [0.1 + 0.2, 5e-324, 1.7976931348623157e308, -1e-9, 123456.78901234567, -40.25]
    rows = [(sid, ms(k) + 9_000_000_000_000, v) for sid in ids for k, v in enumerate(values)]
    write(rows, None, T0)
    with db_engine.connect() as conn:
        got = sorted((r.sensor, r.ts, r.value) for r in conn.execute(select(readings)))
        last = last_readings(conn)
    assert got == sorted(rows)
    assert {sid: last[sid].value for sid in ids} == dict.fromkeys(ids, -40.25)
    assert all(last[sid].received_at == T0 for sid in ids)

def test_counters_add_up_and_the_latest_values_follow_flush_after_flush(db_engine: Engine, write: Write) -> None:
    write([("t1", ms(1), 1.0), ("t2", ms(1), 2.0)], {"accepted": 2, "out_of_range": 1}, T0)
    write([], {"out_of_range": 2, "not_a_number": 1}, T0 + dt.timedelta(seconds=1))  # refusals only
    write([("t1", ms(3), 3.0)], {"accepted": 1, "unknown_sensor": 0}, T0 + dt.timedelta(seconds=2))
    with db_engine.connect() as conn:
        counted = {r.reason: (r.count, r.updated_at) for r in conn.execute(select(ingest_counters))}
        last = {r.sensor: (r.ts, r.value, r.received_at) for r in conn.execute(select(sensor_last))}
    assert counted == {"accepted": (3, T0 + dt.timedelta(seconds=2)),
                       "out_of_range": (3, T0 + dt.timedelta(seconds=1)),
                       "not_a_number": (1, T0 + dt.timedelta(seconds=1))}
    assert last == {"t1": (ms(3), 3.0, T0 + dt.timedelta(seconds=2)), "t2": (ms(1), 2.0, T0)}
    assert count(db_engine, readings) == 3


def test_a_large_batch_is_written_in_one_go(db_engine: Engine, write: Write) -> None:
    rows = [(f"s{i % 50}", ms(i / 100), float(i % 97)) for i in range(20_000)]
    write(rows, {"accepted": 20_000}, T0)
    assert count(db_engine, readings) == 20_000


def test_resolution_follows_the_span() -> None:
    assert pick_resolution(T0, T0 + dt.timedelta(hours=1)) == "raw"
    assert pick_resolution(T0, T0 + dt.timedelta(days=2)) == "1m"
    assert pick_resolution(T0, T0 + dt.timedelta(days=30)) == "1h"


def test_readings_wait_in_memory_while_the_store_is_away(tmp_path: object) -> None:
    import sqlite3
    from pathlib import Path

    from siaga.config.loader import parse_config
    from siaga.readings.writer import ReadingWriter
    from siaga.sources.ingest import Ingest
    from siaga.sources.reading import RawReading
    from siaga.store import create_engine_for, sqlite_url, upgrade

    example = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
    db = Path(str(tmp_path)) / "s.db"
    engine = create_engine_for(sqlite_url(db))
    upgrade(engine)
    ingest = Ingest(parse_config(example.read_text()), max_buffer=100)
    writer = ReadingWriter(ingest, engine)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    at = [t0 + dt.timedelta(seconds=i) for i in range(130)]  # readings are one row per (sensor, ts)
    ingest.ingest([RawReading("temp-r1-top", 20.0 + i / 100, at[i]) for i in range(80)])
    with sqlite3.connect(db) as raw:
        raw.execute("ALTER TABLE readings RENAME TO readings_away")
    with pytest.raises(Exception):  # noqa: B017 - the store's own error
        writer.flush_sync()
    ingest.ingest([RawReading("temp-r1-top", 21.0, at[80 + i]) for i in range(50)])
    with pytest.raises(Exception):  # noqa: B017
        writer.flush_sync()
    assert ingest.dropped == 30
    with sqlite3.connect(db) as raw:
        raw.execute("ALTER TABLE readings_away RENAME TO readings")
    assert writer.flush_sync() == 100
    assert count(engine, readings) == 100


def test_a_reading_stored_again_is_one_row(db_engine: Engine, write: Write) -> None:
    write([("t1", ms(1), 1.0), ("t1", ms(2), 2.0), ("t1", ms(1), 1.0)], None, T0)
    write([("t1", ms(2), 2.0), ("t1", ms(3), 3.0)], None, T0)  # a redelivery, and one new
    assert count(db_engine, readings) == 3


def test_readings_go_to_the_spool_while_the_store_is_away_and_back_once(tmp_path: object) -> None:
    import sqlite3
    from pathlib import Path

    from siaga.config.loader import parse_config
    from siaga.readings.spool import ReadingSpool
    from siaga.readings.writer import ReadingWriter
    from siaga.sources.ingest import Ingest
    from siaga.sources.reading import RawReading
    from siaga.store import create_engine_for, sqlite_url, upgrade

    example = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
    folder = Path(str(tmp_path))
    engine = create_engine_for(sqlite_url(folder / "s.db"))
    upgrade(engine)
    spool = ReadingSpool(folder / "spool" / "readings.spool")
    ingest = Ingest(parse_config(example.read_text()))
    writer = ReadingWriter(ingest, engine, spool=spool)
    t0 = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    safe: list[int] = []
    first = ingest.ingest([RawReading("temp-r1-top", 20.0 + i, t0 + dt.timedelta(seconds=i)) for i in range(10)])
    writer.when_durable(first.mark, lambda: safe.append(1))
    assert not safe  # not committed yet: not acknowledged
    with sqlite3.connect(folder / "s.db") as raw:
        raw.execute("ALTER TABLE readings RENAME TO readings_away")
    with pytest.raises(Exception):  # noqa: B017 - the store's own error
        writer.flush_sync()
    assert safe == [1] and spool.pending and writer.spooled == 10  # spooled and fsync'd: safe to acknowledge
    with sqlite3.connect(folder / "s.db") as raw:
        raw.execute("ALTER TABLE readings_away RENAME TO readings")
    # a redelivery of five of them meanwhile, and the store back
    again = ingest.ingest([RawReading("temp-r1-top", 20.0 + i, t0 + dt.timedelta(seconds=i)) for i in range(5)])
    writer._store_back_at = 0.0  # the second of rest after a failure has passed
    writer.when_durable(again.mark, lambda: safe.append(2))
    assert writer.flush_sync() == 5
    assert safe == [1, 2] and not spool.pending and spool.replayed == 10
    assert count(engine, readings) == 10
