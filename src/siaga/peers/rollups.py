"""Minute rollups of readings in the off-site record: min, average and max of every sensor, minute by minute.

At the room, the rollup maintainer (:mod:`siaga.readings.rollup`) calls :func:`record_minutes` in the
transaction that moves its watermark: one ``peer_outbox`` line per complete minute that has readings
(``tbl`` ``readings_1m``, key: the minute's start in ms, subject ``readings``), while recording is on. A
minute recomputed for late readings is recorded again (its newest event is its state at the colocation).
The sender reads the minute's rollups as they are then (:func:`minute_rows`) into the event's ``data``:
``{"bucket": ms, "sensors": {sensor: {"min", "avg", "max", "count"}}}``.

At the colocation, each event is applied once by its id like every other (:mod:`siaga.peers.record`);
:func:`remote_minutes` reads a room's minutes back for a time range (the incident report's readings).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select

from siaga.peers.tables import peer_outbox, peer_records
from siaga.readings.tables import readings_1m
from siaga.store.events import get_meta

TABLE = "readings_1m"
SUBJECT = "readings"
RECORDING_KEY = "peers.outbox"  # the gate of the store's triggers (siaga.peers.outbox.RECORDING_KEY)


def record_minutes(conn: Connection, start_ms: int, end_ms: int) -> int:
    """One outbox line per minute in [start, end) that has rollups, while this store records for a peer;
    returns how many (call it in the transaction that marks those minutes done)."""
    if get_meta(conn, RECORDING_KEY) != "on":
        return 0
    buckets = conn.execute(
        select(readings_1m.c.bucket).where(readings_1m.c.bucket >= start_ms, readings_1m.c.bucket < end_ms)
        .distinct().order_by(readings_1m.c.bucket)
    ).scalars().all()
    if not buckets:
        return 0
    now_s = time.time()
    from siaga.peers.outbox import order_lock  # (outbox imports this module)

    order_lock(conn)  # numbered in commit order, like the triggers' lines
    conn.execute(insert(peer_outbox), [
        {"tbl": TABLE, "row_key": str(int(b)), "subject": SUBJECT, "at_s": now_s} for b in buckets
    ])
    return len(buckets)


def minute_rows(conn: Connection, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The event data of each minute ``keys`` names (its start in ms): every sensor's min, avg, max, count."""
    wanted = sorted({int(k) for k in keys})
    out: dict[str, dict[str, Any]] = {str(b): {"bucket": b, "sensors": {}} for b in wanted}
    if not wanted:
        return out
    for r in conn.execute(select(readings_1m).where(readings_1m.c.bucket.in_(wanted))).mappings():
        count = int(r["count"])
        out[str(int(r["bucket"]))]["sensors"][str(r["sensor"])] = {
            "min": float(r["min"]), "max": float(r["max"]), "avg": float(r["sum"]) / count if count else None,
            "count": count}
    return out


@dataclass(frozen=True)
class Minute:
    """One sensor's readings over one minute, as the room sent them."""

    sensor: str
    at: dt.datetime  # the minute's start
    min: float
    avg: float | None
    max: float
    count: int


def remote_minutes(conn: Connection, site: str, start: dt.datetime, end: dt.datetime,
                   sensors: Iterable[str] | None = None) -> list[Minute]:
    """The minutes of ``site`` that start in [start, end) (each as its newest event carried it), in order."""
    s_ms, e_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    # keys are the minute's start in ms: 13 digits from 2001 to 2286, so they compare as strings do
    q = (select(peer_records.c.row_key, peer_records.c.data)
         .where(peer_records.c.site == site, peer_records.c.tbl == TABLE,
                peer_records.c.row_key >= str(s_ms), peer_records.c.row_key < str(e_ms))
         .order_by(peer_records.c.id))
    newest: dict[int, dict[str, Any]] = {}
    for key, data in conn.execute(q):
        if isinstance(data, dict) and str(key).isdigit() and s_ms <= int(key) < e_ms:
            newest[int(key)] = data
    wanted = None if sensors is None else set(sensors)
    out = []
    for bucket in sorted(newest):
        at = dt.datetime.fromtimestamp(bucket / 1000, dt.UTC)
        for sensor, v in sorted((newest[bucket].get("sensors") or {}).items()):
            if (wanted is None or sensor in wanted) and isinstance(v, dict):
                try:
                    avg = None if v.get("avg") is None else float(v["avg"])
                    out.append(Minute(sensor, at, float(v["min"]), avg, float(v["max"]), int(v["count"])))
                except (KeyError, TypeError, ValueError):
                    continue  # a malformed minute: the others are still shown
    return out


def local_minutes(conn: Connection, start: dt.datetime, end: dt.datetime,
                  sensors: Iterable[str] | None = None) -> list[Minute]:
    """The same from this store's own minute rollups (the room's report)."""
    s_ms, e_ms = int(start.timestamp() * 1000), int(end.timestamp() * 1000)
    q = select(readings_1m).where(readings_1m.c.bucket >= s_ms, readings_1m.c.bucket < e_ms)
    wanted = None if sensors is None else list(sensors)
    if wanted is not None:
        q = q.where(readings_1m.c.sensor.in_(wanted))
    return [Minute(str(r["sensor"]), dt.datetime.fromtimestamp(int(r["bucket"]) / 1000, dt.UTC), float(r["min"]),
                   float(r["sum"]) / int(r["count"]) if r["count"] else None, float(r["max"]), int(r["count"]))
            for r in conn.execute(q.order_by(readings_1m.c.bucket, readings_1m.c.sensor)).mappings()]


__all__ = ["SUBJECT", "TABLE", "Minute", "local_minutes", "minute_rows", "record_minutes", "remote_minutes"]
