"""Reading series for a time span at a resolution picked from the span (raw, 1-minute or 1-hour)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, select, text

from siaga.readings.rollup import HOUR_MS, MINUTE_MS, floor_to, watermark
from siaga.readings.tables import readings, readings_1h, readings_1m, sensor_last
from siaga.readings.tables import unmapped_topics as unmapped_topics_table
from siaga.sources.ingest import from_ms, to_ms

Resolution = Literal["raw", "1m", "1h"]
RAW_MAX_SPAN = dt.timedelta(hours=6)
MINUTE_MAX_SPAN = dt.timedelta(days=7)


@dataclass(frozen=True)
class Point:
    ts: dt.datetime  # the reading's time, or the start of its bucket
    min: float
    max: float
    avg: float
    count: int


@dataclass(frozen=True)
class Series:
    sensor: str
    resolution: Resolution
    points: tuple[Point, ...]


def pick_resolution(since: dt.datetime, until: dt.datetime) -> Resolution:
    """Raw up to 6 hours, 1-minute buckets up to 7 days, 1-hour buckets beyond."""
    span = until - since
    if span <= RAW_MAX_SPAN:
        return "raw"
    if span <= MINUTE_MAX_SPAN:
        return "1m"
    return "1h"


def _from_raw(conn: Connection, sensor: str, s: int, e: int, step: int) -> list[Point]:
    rows = conn.execute(
        text(
            "SELECT ts - (ts % :step) AS b, MIN(value), MAX(value), SUM(value), COUNT(*) FROM readings "
            "WHERE sensor = :sensor AND ts >= :s AND ts < :e GROUP BY ts - (ts % :step) ORDER BY b"
        ),
        {"sensor": sensor, "s": s, "e": e, "step": step},
    )
    return [
        Point(from_ms(int(r[0])), float(r[1]), float(r[2]), float(r[3]) / int(r[4]), int(r[4])) for r in rows
    ]


def query(
    conn: Connection,
    sensor: str,
    since: dt.datetime,
    until: dt.datetime,
    resolution: Resolution | None = None,
    limit: int = 100_000,
) -> Series:
    """The readings of ``sensor`` in [since, until), at ``resolution`` (default: picked from the span)."""
    res = resolution or pick_resolution(since, until)
    s, e = to_ms(since), to_ms(until)
    if res == "raw":
        rows = conn.execute(
            select(readings.c.ts, readings.c.value)
            .where(readings.c.sensor == sensor, readings.c.ts >= s, readings.c.ts < e)
            .order_by(readings.c.ts)
            .limit(limit)
        )
        return Series(sensor, res, tuple(Point(from_ms(int(t)), v, v, v, 1) for t, v in rows))
    step = MINUTE_MS if res == "1m" else HOUR_MS
    table = readings_1m if res == "1m" else readings_1h
    wm = watermark(conn)
    # Buckets the rollup has finished come from the rollup table; the rest from raw, on the fly.
    done_until = floor_to(wm, step) if wm is not None else s
    done_until = max(s, min(done_until, e))
    points: list[Point] = []
    if done_until > s:
        brows = conn.execute(
            select(table.c.bucket, table.c.min, table.c.max, table.c.sum, table.c.count)
            .where(table.c.sensor == sensor, table.c.bucket >= floor_to(s, step), table.c.bucket < done_until)
            .order_by(table.c.bucket)
            .limit(limit)
        )
        points = [Point(from_ms(int(b)), lo, hi, sm / n, int(n)) for b, lo, hi, sm, n in brows if n]
    if done_until < e:
        points += _from_raw(conn, sensor, done_until, e, step)
    return Series(sensor, res, tuple(points))


@dataclass(frozen=True)
class LastReading:
    sensor: str
    ts: dt.datetime
    value: float
    received_at: dt.datetime


def last_readings(conn: Connection) -> dict[str, LastReading]:
    """The latest stored reading of every sensor."""
    rows = conn.execute(select(sensor_last))
    return {r.sensor: LastReading(r.sensor, from_ms(int(r.ts)), r.value, r.received_at) for r in rows}


def unmapped_topics(conn: Connection, limit: int = 50) -> list[tuple[str, int, dt.datetime]]:
    """MQTT topics under the subscribed filters that no sensor maps: (topic, messages, last), most first."""
    t = unmapped_topics_table
    rows = conn.execute(select(t.c.topic, t.c.count, t.c.last_at).order_by(t.c.count.desc(), t.c.topic).limit(limit))
    return [(str(topic), int(n), last) for topic, n, last in rows]
