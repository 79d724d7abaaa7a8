"""Rollups (1-minute and 1-hour min/max/sum/count) and retention of readings.

A rollup bucket is recomputed from its source (raw for minutes, minutes for hours) by deleting and
inserting it in one transaction: idempotent, so late readings are handled by recomputing the buckets
they fell into. ``RollupMaintainer`` is the runtime component that keeps them current.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Callable

from sqlalchemy import Connection, Engine, delete, text

from siaga.config.readings import ReadingsConfig
from siaga.readings.tables import readings, readings_1h, readings_1m
from siaga.sources.ingest import to_ms
from siaga.store.events import get_meta, set_meta
from siaga.store.types import utcnow

log = logging.getLogger(__name__)

MINUTE_MS = 60_000
HOUR_MS = 3_600_000
WATERMARK_KEY = "readings.rollup_through_ms"


def floor_to(ms: int, step: int) -> int:
    return ms - ms % step


def rollup_minutes(conn: Connection, start_ms: int, end_ms: int) -> None:
    """Recompute the 1-minute buckets in [start, end) (aligned to minutes) from raw readings."""
    s, e = floor_to(start_ms, MINUTE_MS), floor_to(end_ms + MINUTE_MS - 1, MINUTE_MS)
    conn.execute(delete(readings_1m).where(readings_1m.c.bucket >= s, readings_1m.c.bucket < e))
    conn.execute(
        text(
            "INSERT INTO readings_1m (sensor, bucket, min, max, sum, count) "
            "SELECT sensor, ts - (ts % 60000) AS b, MIN(value), MAX(value), SUM(value), COUNT(*) "
            "FROM readings WHERE ts >= :s AND ts < :e GROUP BY sensor, ts - (ts % 60000)"
        ),
        {"s": s, "e": e},
    )


def rollup_hours(conn: Connection, start_ms: int, end_ms: int) -> None:
    """Recompute the 1-hour buckets touching [start, end) from the 1-minute rollups."""
    s, e = floor_to(start_ms, HOUR_MS), floor_to(end_ms + HOUR_MS - 1, HOUR_MS)
    conn.execute(delete(readings_1h).where(readings_1h.c.bucket >= s, readings_1h.c.bucket < e))
    conn.execute(
        text(
            "INSERT INTO readings_1h (sensor, bucket, min, max, sum, count) "
            "SELECT sensor, bucket - (bucket % 3600000) AS b, MIN(min), MAX(max), SUM(sum), SUM(count) "
            "FROM readings_1m WHERE bucket >= :s AND bucket < :e GROUP BY sensor, bucket - (bucket % 3600000)"
        ),
        {"s": s, "e": e},
    )


def rollup_range(engine: Engine, start_ms: int, end_ms: int) -> None:
    """Both rollups for [start, end), in one transaction."""
    with engine.begin() as conn:
        rollup_minutes(conn, start_ms, end_ms)
        rollup_hours(conn, start_ms, end_ms)


def watermark(conn: Connection) -> int | None:
    value = get_meta(conn, WATERMARK_KEY)
    return int(value) if value else None


def apply_retention(engine: Engine, cfg: ReadingsConfig, now: dt.datetime) -> dict[str, int]:
    """Delete what is older than each table's retention; returns rows deleted per table."""
    out: dict[str, int] = {}
    now_ms = to_ms(now)
    with engine.begin() as conn:
        for table, keep, column in (
            (readings, cfg.raw_retention, readings.c.ts),
            (readings_1m, cfg.minute_retention, readings_1m.c.bucket),
            (readings_1h, cfg.hour_retention, readings_1h.c.bucket),
        ):
            if keep is None:
                continue
            result = conn.execute(delete(table).where(column < now_ms - int(keep * 1000)))
            out[table.name] = int(result.rowcount or 0)
    return out


class RollupMaintainer:
    """Keeps the rollups current (every ``interval`` s) and applies retention (every ``retention_every`` s)."""

    def __init__(
        self,
        engine: Engine,
        cfg: ReadingsConfig,
        *,
        interval: float = 30.0,
        retention_every: float = 3600.0,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.cfg = cfg
        self.interval = interval
        self.retention_every = dt.timedelta(seconds=retention_every)
        self.clock = clock
        self._dirty_from: int | None = None
        self._last_retention: dt.datetime | None = None
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.runs = 0

    def mark_dirty(self, oldest_ms: int) -> None:
        """The writer stored readings as old as ``oldest_ms``: their buckets need recomputing."""
        if self._dirty_from is None or oldest_ms < self._dirty_from:
            self._dirty_from = oldest_ms

    def run_once(self, now: dt.datetime | None = None) -> None:
        now = now or self.clock()
        now_ms = to_ms(now)
        with self.engine.connect() as conn:
            wm = watermark(conn)
        start = wm if wm is not None else now_ms - int(self.cfg.max_age * 1000)
        if self._dirty_from is not None and self._dirty_from < start:
            start = self._dirty_from
        self._dirty_from = None
        start = floor_to(start, MINUTE_MS)
        end = floor_to(now_ms, MINUTE_MS) + MINUTE_MS  # the current minute too: recomputed next time
        rollup_range(self.engine, start, end)
        with self.engine.begin() as conn:
            done = floor_to(now_ms, MINUTE_MS)
            set_meta(conn, WATERMARK_KEY, str(done), at=now)
            # the minutes now complete, into the off-site record when a peer watches this site
            from siaga.peers.rollups import record_minutes

            record_minutes(conn, start, done)
        if self._last_retention is None or now - self._last_retention >= self.retention_every:
            self._last_retention = now
            apply_retention(self.engine, self.cfg, now)
        self.runs += 1

    async def run(self) -> None:
        while not self._stopping.is_set():
            try:
                await asyncio.to_thread(self.run_once)
            except Exception:
                log.exception("readings: rollup failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self.interval)

    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self.run(), name="readings-rollup")
        return self._task

    async def stop(self) -> None:
        self._stopping.set()
        if self._task is not None:
            await self._task
            self._task = None
        with contextlib.suppress(Exception):
            await asyncio.to_thread(self.run_once)
