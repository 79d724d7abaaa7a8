"""Writing accepted readings in batches, each reading once, and saying when they are safe.

``write_rows`` is the synchronous bulk write (one transaction: raw rows, the latest reading per
sensor, the ingest counters). Readings are unique on (sensor, ts): a row already stored (a QoS 1
redelivery, a replayed spool) is skipped (``ON CONFLICT DO NOTHING``; on PostgreSQL one
``INSERT ... SELECT FROM unnest(...)`` per batch).

``ReadingWriter`` drains the ingest buffer at least every ``flush_interval`` seconds, and at once when
someone waits for readings to be safe (:meth:`ReadingWriter.when_durable`: the MQTT source acknowledges
a QoS 1 message only then). Safe means committed, or, when the store cannot take them, appended to the
fsync'd spool (:mod:`siaga.readings.spool`) that the next successful flush writes back. Flushes run in a
worker thread, so the event loop never waits on the disk; everything still waiting there when the
flush is over joins the next one (group commit).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import Connection, Engine, insert, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from siaga.errors import SiagaError
from siaga.readings.columns import latest_of, pg_arrays
from siaga.readings.pg_flush import OneStatementFlush
from siaga.readings.spool import ReadingSpool
from siaga.readings.tables import ingest_counters, readings, sensor_last, unmapped_topics
from siaga.sources.ingest import Ingest, Row
from siaga.sources.ratelimit import RateLimitedLog
from siaga.store.engine import libpq_dsn
from siaga.store.types import UTCDateTime, utcnow
from siaga.waits import until_either

log = logging.getLogger(__name__)

_PG_INSERT = (
    "INSERT INTO readings (sensor, ts, value)"
    " SELECT * FROM unnest(%s::varchar[], %s::bigint[], %s::float8[])"
    " ON CONFLICT (sensor, ts) DO NOTHING"
)
_PG_UPSERT_LAST = (
    "INSERT INTO sensor_last (sensor, ts, value, received_at)"
    " SELECT s, t, v, %s FROM unnest(%s::varchar[], %s::bigint[], %s::float8[]) AS u(s, t, v)"
    " ON CONFLICT (sensor) DO UPDATE SET ts = excluded.ts, value = excluded.value, received_at = excluded.received_at"
    " WHERE sensor_last.ts <= excluded.ts"
)
_SQLITE_INSERT = "INSERT INTO readings (sensor, ts, value) VALUES (?, ?, ?) ON CONFLICT (sensor, ts) DO NOTHING"


def _insert_raw(conn: Connection, rows: Sequence[Row]) -> None:
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        if raw is not None and hasattr(raw, "cursor"):
            sensors, stamps, values = zip(*rows, strict=True)
            with raw.cursor() as cur:
                cur.execute(_PG_INSERT, pg_arrays(sensors, stamps, values)
                            or (list(sensors), list(stamps), list(values)))
            return
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql(_SQLITE_INSERT, list(rows))
        return
    conn.execute(insert(readings), [{"sensor": s, "ts": t, "value": v} for s, t, v in rows])


def _upsert_last(conn: Connection, latest: Mapping[str, tuple[int, float]], now: dt.datetime) -> None:
    if not latest:
        return
    # in the sensors' order: several processes upserting the same sensors take the row locks in one order
    # (any other order can deadlock two writers, and PostgreSQL then aborts one of them)
    if conn.dialect.name == "postgresql":
        raw = conn.connection.driver_connection
        if raw is not None and hasattr(raw, "cursor"):
            # one statement over arrays, as the readings themselves: a row per sensor through SQLAlchemy cost
            # each flush about as much CPU as its readings (and every process flushes every sensor it heard)
            ordered = sorted(latest.items())
            at = UTCDateTime().process_bind_param(now, conn.dialect)  # aware UTC, or raises
            columns = ([s for s, _ in ordered], [t for _, (t, _v) in ordered], [v for _, (_t, v) in ordered])
            with raw.cursor() as cur:
                cur.execute(_PG_UPSERT_LAST, (at, *(pg_arrays(*columns) or columns)))
            return
    values = [{"sensor": s, "ts": t, "value": v, "received_at": now} for s, (t, v) in sorted(latest.items())]
    ins = pg_insert(sensor_last) if conn.dialect.name == "postgresql" else sqlite_insert(sensor_last)
    stmt = ins.on_conflict_do_update(
        index_elements=[sensor_last.c.sensor],
        set_={"ts": ins.excluded.ts, "value": ins.excluded.value, "received_at": ins.excluded.received_at},
        where=sensor_last.c.ts <= ins.excluded.ts,
    )
    conn.execute(stmt, values)


def _add_counters(conn: Connection, deltas: Mapping[str, int], now: dt.datetime) -> None:
    for reason, n in sorted(deltas.items()):
        if n <= 0:
            continue
        done = conn.execute(
            update(ingest_counters)
            .where(ingest_counters.c.reason == reason)
            .values(count=ingest_counters.c.count + n, updated_at=now)
        )
        if done.rowcount == 0:
            conn.execute(insert(ingest_counters).values(reason=reason, count=n, updated_at=now))


def _add_topics(conn: Connection, deltas: Mapping[str, int], now: dt.datetime) -> None:
    for topic, n in sorted(deltas.items()):
        done = conn.execute(
            update(unmapped_topics)
            .where(unmapped_topics.c.topic == topic)
            .values(count=unmapped_topics.c.count + n, last_at=now)
        )
        if done.rowcount == 0:
            conn.execute(insert(unmapped_topics).values(topic=topic, count=n, last_at=now))


def write_rows(
    engine: Engine,
    rows: Sequence[Row],
    counters: Mapping[str, int] | None = None,
    now: dt.datetime | None = None,
    topics: Mapping[str, int] | None = None,
) -> None:
    """Store ``rows`` (sensor, ts ms, value), add ``counters`` to the totals and ``topics`` to the
    unmapped topics' counts, in one transaction."""
    now = now or utcnow()
    with engine.begin() as conn:
        if rows:
            _insert_raw(conn, rows)
            _upsert_last(conn, latest_of(rows), now)
        if counters:
            _add_counters(conn, counters, now)
        if topics:
            _add_topics(conn, topics, now)


def _deltas(now: Mapping[str, int], counted: Mapping[str, int]) -> dict[str, int]:
    deltas = {k: v - counted.get(k, 0) for k, v in now.items()}
    return {k: v for k, v in deltas.items() if v}


Waiter = Callable[[], None]
STORE_RETRY_S = 1.0  # after a failed write, the store is tried again after this (the spool takes readings meanwhile)


class StoreAway(SiagaError, RuntimeError):
    """The store failed moments ago: this flush went to the spool without trying it (a later flush tries)."""

    retryable = True


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
        spool: ReadingSpool | None = None,
    ) -> None:
        self.ingest = ingest
        self.engine = engine
        self.flush_interval = flush_interval
        self.on_flushed = on_flushed  # called with the oldest ts (ms) of each flushed batch (rollups)
        self.clock = clock
        self.spool = spool
        self.written = 0
        self.flushes = 0
        self.failures = 0
        self.spooled = 0  # readings that went to the spool because the store refused them
        self.unsafe_acks = 0  # readings released to their waiters while neither store nor spool took them
        self.last_flush_s = 0.0
        self.durable_mark = 0  # every reading ingest buffered up to this mark is committed or spooled
        self._counted: dict[str, int] = {}
        self._topics_counted: dict[str, int] = {}
        self._pending: list[Row] = []  # drained but not yet written (a failed flush is retried)
        self._task: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self._lock = asyncio.Lock()
        self._waiters: list[tuple[int, int, Waiter]] = []  # heap of (mark, order, callback)
        self._order = itertools.count()
        self._waiters_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake: asyncio.Event | None = None
        self._wake_asked = False
        self._rlog = RateLimitedLog(log)
        self._store_back_at = 0.0  # while the store fails, readings go straight to the spool until then
        # PostgreSQL: a flush in one statement on a connection of the writer's own (siaga.readings.pg_flush)
        self._direct = OneStatementFlush(libpq_dsn(engine)) if engine.dialect.name == "postgresql" else None

    # --- durability ---------------------------------------------------------------------------------

    def when_durable(self, mark: int, callback: Waiter) -> None:
        """Call ``callback()`` once every reading ingest buffered up to ``mark`` is committed or spooled.

        At once (in the caller's thread) when they already are; else from the thread of the flush that
        makes them so, which this call asks for now. Thread-safe. ``mark`` is ``IngestResult.mark``.
        """
        with self._waiters_lock:
            if mark > self.durable_mark:
                heapq.heappush(self._waiters, (mark, next(self._order), callback))
                ask = not self._wake_asked
                self._wake_asked = True
            else:
                ask = None
        if ask is None:
            callback()
        elif ask:
            self._ask_flush()

    def _ask_flush(self) -> None:
        loop, wake = self._loop, self._wake
        if loop is None or wake is None:
            return  # not running: the next flush (the caller's, or the periodic one) releases it
        with contextlib.suppress(RuntimeError):  # the loop is closed: siaga is stopping
            loop.call_soon_threadsafe(wake.set)

    def _release(self, mark: int) -> None:
        due: list[Waiter] = []
        with self._waiters_lock:
            if mark > self.durable_mark:
                self.durable_mark = mark
            while self._waiters and self._waiters[0][0] <= self.durable_mark:
                due.append(heapq.heappop(self._waiters)[2])
        for callback in due:
            try:
                callback()
            except Exception:
                log.exception("readings: a durability waiter failed")

    @property
    def waiting(self) -> int:
        """Callbacks waiting for their readings to be safe."""
        return len(self._waiters)

    # --- flushing -----------------------------------------------------------------------------------

    def _counter_deltas(self) -> dict[str, int]:
        return _deltas(self.ingest.counters(), self._counted)

    def _topic_deltas(self) -> dict[str, int]:
        return _deltas(self.ingest.unmapped_counts(), self._topics_counted)

    def flush_sync(self) -> int:
        """Write everything buffered now (blocking); returns how many readings were written.

        When the store refuses, the rows go to the spool (if there is one) and the error is raised
        all the same; without a spool (or when it refuses too) they wait in memory for the next try.
        """
        with self._waiters_lock:
            self._wake_asked = False
        drained, mark = self.ingest.drain_marked()
        rows = self._pending + drained
        self._pending = []
        deltas = self._counter_deltas()
        topics = self._topic_deltas()
        if not rows and not deltas and not topics and not (self.spool is not None and self.spool.pending):
            self._release(mark)
            return 0
        t0 = time.perf_counter()
        try:
            if self.spool is not None and rows and time.monotonic() < self._store_back_at:
                raise StoreAway("the store failed less than a second ago; readings spooled")
            self._write(rows, deltas, self.clock(), topics)
        except Exception as exc:
            if not isinstance(exc, StoreAway):
                self.failures += 1
                self._store_back_at = time.monotonic() + STORE_RETRY_S
            self._keep(rows, mark)
            raise
        self.last_flush_s = time.perf_counter() - t0
        for k, v in deltas.items():
            self._counted[k] = self._counted.get(k, 0) + v
        for k, v in topics.items():
            self._topics_counted[k] = self._topics_counted.get(k, 0) + v
        self.written += len(rows)
        self.flushes += 1
        self._release(mark)
        if rows and self.on_flushed is not None:
            self.on_flushed(min(r[1] for r in rows))
        if self.spool is not None and self.spool.pending:
            self._replay_spool()
        return len(rows)

    def _write(self, rows: list[Row], deltas: dict[str, int], now: dt.datetime, topics: dict[str, int]) -> None:
        if self._direct is not None and not topics and self._direct.write(rows, deltas, now):
            return
        write_rows(self.engine, rows, deltas, now, topics)

    def _keep(self, rows: list[Row], mark: int) -> None:
        """The store refused ``rows``: spool them (then they are safe), else keep them for the next try."""
        if not rows:
            self._release(mark)
            return
        if self.spool is not None:
            try:
                self.spool.append(rows)
            except OSError as exc:
                log.error("readings: neither the store nor the spool %s takes readings: %s", self.spool.path, exc)
            else:
                self.spooled += len(rows)
                self._release(mark)
                return
        limit = self.ingest.max_buffer
        if len(rows) > limit:  # the store is away for long: keep the newest, count what is dropped
            self.ingest.dropped += len(rows) - limit
            rows = rows[-limit:]
        self._pending = rows
        if self.spool is not None:
            # Nowhere safe to put them: acknowledging anyway keeps siaga hearing its sensors (a leak
            # must still page); holding the acknowledgements would stop every reading at the broker.
            self.unsafe_acks += len(rows)
            self._release(mark)

    def _replay_spool(self) -> None:
        """Write the spooled rows back: orphans adopted from processes gone, then this process's own file;
        each file is emptied (own) or removed (adopted) once all its rows are in."""
        assert self.spool is not None
        n = 0
        for part in self.spool.parts():
            try:
                for chunk in part.chunks():
                    write_rows(self.engine, chunk, None, self.clock())
                    n += len(chunk)
                    if self.on_flushed is not None:
                        self.on_flushed(min(r[1] for r in chunk))
                part.done()
            except Exception:
                part.release()
                log.exception("readings: writing the spool %s back failed; tried again at the next flush", part.path)
                break
        if n:
            self.spool.replayed += n
            log.info("readings: %d spooled readings written back to the store", n)

    async def flush(self) -> int:
        async with self._lock:
            return await asyncio.to_thread(self.flush_sync)

    async def serve(self, stop: asyncio.Event) -> None:
        """Flush every ``flush_interval`` seconds, and at once when a waiter asks, until ``stop`` is set."""
        self._loop = asyncio.get_running_loop()
        wake = self._wake = asyncio.Event()
        with self._waiters_lock:
            if self._waiters:  # asked for while nothing served: flush at once
                wake.set()
        try:
            while not stop.is_set():
                await until_either(stop, wake, self.flush_interval)
                wake.clear()
                try:
                    await self.flush()
                except StoreAway:
                    pass
                except Exception as exc:
                    where = "spooled" if self.spool is not None else "kept in memory"
                    self._rlog.warning("store_write_failed", f"readings {where} until the store takes them: {exc!r}")
        finally:
            self._wake = None
            self._loop = None

    async def run(self) -> None:
        """Flush until :meth:`stop`; then flush what is left."""
        try:
            await self.serve(self._stopping)
            await self.flush()
        finally:
            self.close()

    def close(self) -> None:
        """Close the writer's own connection (a later flush opens it again)."""
        if self._direct is not None:
            self._direct.close()

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name="readings-writer")
        return self._task

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        else:
            try:
                await self.flush()
            finally:
                self.close()
