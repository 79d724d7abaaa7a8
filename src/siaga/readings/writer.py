"""Writing accepted readings in batches: executemany on SQLite, COPY on PostgreSQL.

``write_rows`` is the synchronous bulk write (one transaction: raw rows, the latest reading per
sensor, the ingest counters). ``ReadingWriter`` is the runtime component that drains the ingest
buffer at least every ``flush_interval`` seconds (in a worker thread, so the event loop never waits
on the disk) and flushes everything that is left when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import Connection, Engine, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from siaga.readings.tables import ingest_counters, readings, sensor_last
from siaga.sources.ingest import Ingest, Row
from siaga.store.types import utcnow

log = logging.getLogger(__name__)


def _insert_raw(conn: Connection, rows: Sequence[Row]) -> None:
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        if raw is not None and hasattr(raw, "cursor"):
            with raw.cursor() as cur, cur.copy("COPY readings (sensor, ts, value) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("INSERT INTO readings (sensor, ts, value) VALUES (?, ?, ?)", list(rows))
        return
    conn.execute(insert(readings), [{"sensor": s, "ts": t, "value": v} for s, t, v in rows])


def _latest(rows: Sequence[Row]) -> dict[str, tuple[int, float]]:
    out: dict[str, tuple[int, float]] = {}
    for s, t, v in rows:
        cur = out.get(s)
        if cur is None or t >= cur[0]:
            out[s] = (t, v)
    return out


def _upsert_last(conn: Connection, latest: Mapping[str, tuple[int, float]], now: dt.datetime) -> None:
    if not latest:
        return
    values = [{"sensor": s, "ts": t, "value": v, "received_at": now} for s, (t, v) in latest.items()]
    ins = pg_insert(sensor_last) if conn.dialect.name == "postgresql" else sqlite_insert(sensor_last)
    stmt = ins.on_conflict_do_update(
        index_elements=[sensor_last.c.sensor],
        set_={"ts": ins.excluded.ts, "value": ins.excluded.value, "received_at": ins.excluded.received_at},
        where=sensor_last.c.ts <= ins.excluded.ts,
    )
    conn.execute(stmt, values)


def _add_counters(conn: Connection, deltas: Mapping[str, int], now: dt.datetime) -> None:
    for reason, n in deltas.items():
        if n <= 0:
            continue
        done = conn.execute(
            update(ingest_counters)
            .where(ingest_counters.c.reason == reason)
            .values(count=ingest_counters.c.count + n, updated_at=now)
        )
        if done.rowcount == 0:
            conn.execute(insert(ingest_counters).values(reason=reason, count=n, updated_at=now))


def write_rows(
    engine: Engine, rows: Sequence[Row], counters: Mapping[str, int] | None = None, now: dt.datetime | None = None
) -> None:
    """Store ``rows`` (sensor, ts ms, value) and add ``counters`` to the totals, in one transaction."""
    now = now or utcnow()
    with engine.begin() as conn:
        if rows:
            _insert_raw(conn, rows)
            _upsert_last(conn, _latest(rows), now)
        if counters:
            _add_counters(conn, counters, now)


class ReadingWriter:
    """Drains an :class:`Ingest` buffer into the store, at least every ``flush_interval`` seconds."""

    def __init__(
        self,
        ingest: Ingest,
        engine: Engine,
        *,
        flush_interval: float = 1.0,
        on_flushed: Callable[[int], None] | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.ingest = ingest
        self.engine = engine
        self.flush_interval = flush_interval
        self.on_flushed = on_flushed  # called with the oldest ts (ms) of each flushed batch (rollups)
        self.clock = clock
        self.written = 0
        self.flushes = 0
        self.failures = 0
        self.last_flush_s = 0.0
        self._counted: dict[str, int] = {}
        self._pending: list[Row] = []  # drained but not yet written (a failed flush is retried)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()

    def _counter_deltas(self) -> dict[str, int]:
        now = self.ingest.counters()
        deltas = {k: v - self._counted.get(k, 0) for k, v in now.items()}
        return {k: v for k, v in deltas.items() if v}

    def flush_sync(self) -> int:
        """Write everything buffered now (blocking); returns how many readings were written."""
        rows = self._pending + self.ingest.drain()
        self._pending = []
        deltas = self._counter_deltas()
        if not rows and not deltas:
            return 0
        t0 = time.perf_counter()
        try:
            write_rows(self.engine, rows, deltas, self.clock())
        except Exception:
            limit = self.ingest.max_buffer
            if len(rows) > limit:  # the store is away for long: keep the newest, count what is dropped
                self.ingest.dropped += len(rows) - limit
                rows = rows[-limit:]
            self._pending = rows
            self.failures += 1
            raise
        self.last_flush_s = time.perf_counter() - t0
        for k, v in deltas.items():
            self._counted[k] = self._counted.get(k, 0) + v
        self.written += len(rows)
        self.flushes += 1
        if rows and self.on_flushed is not None:
            self.on_flushed(min(r[1] for r in rows))
        return len(rows)

    async def flush(self) -> int:
        async with self._lock:
            return await asyncio.to_thread(self.flush_sync)

    async def run(self) -> None:
        """Flush every ``flush_interval`` seconds until :meth:`stop`; then flush what is left."""
        while not self._stopping.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.flush_interval)
            try:
                await self.flush()
            except Exception:
                log.exception("readings: flush failed; %d readings kept for the next try", len(self._pending))
        await self.flush()

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name="readings-writer")
        return self._task

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        else:
            await self.flush()
