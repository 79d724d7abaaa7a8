"""The readings writer's own PostgreSQL connection ended by the server between two flushes
(``pg_terminate_backend``, what an administrator, a pooler or a failover does): the next flush fails and
its readings go to the spool, the one after opens a connection again, writes its readings and the spooled
ones back; every reading is stored once, and the counters count each once."""

from __future__ import annotations

import datetime as dt
import time
from pathlib import Path

import psycopg
import pytest
import yaml
from sqlalchemy import Engine, func, select

from siaga.config.loader import parse_config
from siaga.readings.pg_flush import APPLICATION_NAME
from siaga.readings.spool import ReadingSpool
from siaga.readings.tables import ingest_counters, readings
from siaga.readings.writer import STORE_RETRY_S, ReadingWriter
from siaga.sources.ingest import Ingest
from siaga.sources.reading import RawReading
from siaga.store import create_engine_for, upgrade
from siaga.store.engine import libpq_dsn

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

EXAMPLE = Path(__file__).resolve().parents[2] / "src" / "siaga" / "examples" / "bontang.yaml"
T0 = dt.datetime(2026, 12, 7, 1, 0, tzinfo=dt.UTC)


def terminate_writer(engine: Engine) -> int:
    with psycopg.connect(libpq_dsn(engine), autocommit=True) as conn:
        row = conn.execute("SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                           " WHERE application_name = %s AND datname = current_database()",
                           (APPLICATION_NAME,)).fetchone()
    return int(row[0]) if row else 0


def test_a_writer_connection_ended_by_the_server_loses_no_reading(postgres_url: str, tmp_path: Path) -> None:
    engine = create_engine_for(postgres_url)
    upgrade(engine)
    cfg = parse_config(yaml.safe_dump(yaml.safe_load(EXAMPLE.read_text())))
    temp = next(s.id for s in cfg.sensors if s.kind == "temperature")
    ingest = Ingest(cfg, clock=lambda: T0)
    spool = ReadingSpool(tmp_path / "spool" / "readings.spool")
    writer = ReadingWriter(ingest, engine, clock=lambda: T0, spool=spool)
    sent = 0
    try:
        def batch() -> None:
            nonlocal sent
            ingest.ingest([RawReading(temp, 21.0, T0 - dt.timedelta(seconds=100 - sent - i)) for i in range(5)])
            sent += 5

        batch()
        assert writer.flush_sync() == 5
        assert terminate_writer(engine) == 1  # the writer's own connection, named in pg_stat_activity
        batch()
        with pytest.raises(psycopg.Error):
            writer.flush_sync()  # the server ended the connection: this flush's readings are spooled
        assert writer.spooled == 5 and writer.failures == 1
        time.sleep(STORE_RETRY_S)  # after a failure the writer spools without trying the store for a second
        batch()
        assert writer.flush_sync() == 5  # a new connection: this flush's readings, then the spooled ones
        with engine.connect() as conn:
            stored = conn.execute(select(func.count()).select_from(readings)).scalar_one()
            accepted = conn.execute(select(ingest_counters.c.count)
                                    .where(ingest_counters.c.reason == "accepted")).scalar_one()
        assert (stored, accepted) == (15, 15)
        assert not spool.pending and writer.unsafe_acks == 0
    finally:
        writer.close()
        engine.dispose()
