"""A flush of the readings writer on PostgreSQL in one statement, on a connection of the writer's own.

Through the engine, a flush took six round trips (the pool's ping, ``BEGIN``, the readings, the sensors'
latest values, the ``accepted`` counter, ``COMMIT``) and SQLAlchemy's transaction around them: 1-2 ms of
the process's CPU on the bench machines whatever the flush held. Under MQTT load each process flushes as often as
its commits return (its QoS 1 acknowledgements wait for them), some thirty times a second, so with several
processes that fixed cost grew with their number. Here the three writes are one statement, data-modifying
``WITH`` parts, sent through libpq itself on an autocommit connection: the statement is its own
transaction (all or nothing, as before), one round trip.

The parts are written as before: the readings, the sensors' latest values in the sensors' order, the
counters in their names' order; every process sends the same statement, so several processes take the
row locks in one order (two orders can deadlock, and PostgreSQL then aborts one of them). A flush
whose sensor ids would need escaping in an array literal, or that carries unmapped topics, takes the
engine's way (:func:`siaga.readings.writer.write_rows`). A failed statement raises, and the connection is
opened again at the next flush.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg
from psycopg import pq

from siaga.readings.columns import latest_of, pg_arrays, plain_array
from siaga.sources.ingest import Row

SQL = (
    b"WITH new AS ("
    b" INSERT INTO readings (sensor, ts, value)"
    b" SELECT * FROM unnest($1::varchar[], $2::bigint[], $3::float8[])"
    b" ON CONFLICT (sensor, ts) DO NOTHING),"
    b" latest AS ("
    b" INSERT INTO sensor_last (sensor, ts, value, received_at)"
    b" SELECT s, t, v, $4::timestamptz FROM unnest($5::varchar[], $6::bigint[], $7::float8[]) AS u(s, t, v)"
    b" ON CONFLICT (sensor) DO UPDATE SET ts = excluded.ts, value = excluded.value,"
    b" received_at = excluded.received_at WHERE sensor_last.ts <= excluded.ts),"
    b" counted AS ("
    b" INSERT INTO ingest_counters (reason, count, updated_at)"
    b" SELECT r, n, $4::timestamptz FROM unnest($8::varchar[], $9::bigint[]) AS c(r, n)"
    b" ON CONFLICT (reason) DO UPDATE SET count = ingest_counters.count + excluded.count,"
    b" updated_at = excluded.updated_at)"
    b" SELECT 1"
)

CONNECT_TIMEOUT_S = 5  # as the engine's (siaga.store.engine)
APPLICATION_NAME = "siaga readings writer"  # pg_stat_activity's name for it, unless PGAPPNAME or the URL gives one


class OneStatementFlush:
    """Writes a flush (readings, latest values, counters) in one statement; not thread-safe (the writer's
    flushes take turns)."""

    def __init__(self, conninfo: str) -> None:
        self.conninfo = conninfo
        self._conn: psycopg.Connection[Any] | None = None

    def write(self, rows: Sequence[Row], counters: Mapping[str, int], now: dt.datetime) -> bool:
        """Store ``rows``, each sensor's latest of them, and add ``counters``; ``False`` (nothing written) when
        an id needs the engine's way. Raises when the store refuses (the caller spools)."""
        if now.tzinfo is None:
            raise ValueError("a naive time: siaga never guesses a zone")
        params = self._params(rows, counters, now)
        if params is None:
            return False
        conn = self._conn
        if conn is None or conn.closed:
            conn = self._conn = psycopg.connect(self.conninfo, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                                                fallback_application_name=APPLICATION_NAME)
        try:
            res = conn.pgconn.exec_params(SQL, params)
            if res.status != pq.ExecStatus.TUPLES_OK:
                raise psycopg.DatabaseError(res.get_error_message() or conn.pgconn.get_error_message())
        except BaseException:
            if conn.pgconn.status != pq.ConnStatus.OK:
                self.close()
            raise
        return True

    @staticmethod
    def _params(rows: Sequence[Row], counters: Mapping[str, int], now: dt.datetime) -> list[bytes] | None:
        if rows:
            sensors, stamps, values = zip(*rows, strict=True)
            raw = pg_arrays(sensors, stamps, values)
            ordered = sorted(latest_of(rows).items())
            last = pg_arrays([s for s, _ in ordered], [t for _, (t, _v) in ordered], [v for _, (_t, v) in ordered])
            if raw is None or last is None:
                return None
        else:
            raw = last = ("{}", "{}", "{}")
        counted = sorted((k, n) for k, n in counters.items() if n > 0)
        reasons = plain_array([k for k, _ in counted])
        if reasons is None:
            return None
        at = now.astimezone(dt.UTC).isoformat()
        texts = [*raw, at, *last, reasons, "{" + ",".join(str(n) for _, n in counted) + "}"]
        return [x.encode() for x in texts]

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
