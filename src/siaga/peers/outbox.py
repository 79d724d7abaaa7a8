"""The room's side of the off-site record: what waits in ``peer_outbox`` and the batches sent from it.

The store's own triggers (migration ``peers_0001``) append a line to ``peer_outbox`` for every insert or
update of a recorded table (:data:`TAPS`) while recording is on (:func:`set_recording`): the alert keeper's
alerts, timeline lines and incidents, notify's sent/failed lines and acknowledgements on the alerts'
timeline, the checks' state changes. A line names the row; :func:`batch` reads each row as it is when the
batch is made (so a peer gets the newest state of a row, and every timeline line once).
Minute rollups of readings are recorded by the rollup maintainer itself (:mod:`siaga.peers.rollups`): one
line per complete minute.

Each event's id is ``<site id>:<store id>:<seq>``: the site that recorded it, this store (a random id made
once, so a store made anew never reuses an id) and the outbox sequence. Events leave in sequence order,
so those of one subject arrive in the order they were written. A peer's cursor (``meta``
``peers.outbox.acked.<peer>``) moves only to the sequence the peer acknowledged: at-least-once.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, delete, func, select

from siaga.peers import rollups
from siaga.peers.tables import peer_outbox
from siaga.store.events import get_meta, set_meta
from siaga.store.schema import metadata

RECORDING_KEY = "peers.outbox"
STORE_KEY = "peers.outbox.store"
ACKED_PREFIX = "peers.outbox.acked."
TAPS: dict[str, tuple[str, str]] = {
    "incidents": ("id", "'incident:' || NEW.id"),
    "alerts": ("id", "'alert:' || NEW.id"),
    "alert_events": ("id", "'alert:' || NEW.alert_id"),
    "check_changes": ("id", "'check:' || NEW.check_id"),
}
"""The recorded tables: their key column and the SQL of an event's subject (one subject's events keep
their order). Migration ``peers_0001`` drops the triggers of these tables on downgrade."""
GATE = f"EXISTS (SELECT 1 FROM meta WHERE key = '{RECORDING_KEY}' AND value = 'on')"


ORDER_LOCK = 7_314_020_601
"""PostgreSQL: the advisory lock a transaction takes to write its outbox lines, at its commit (held until the
commit ends). Several processes write the store at once; with the lock, a line's sequence is drawn and
committed in the same order as every other's, so a peer's cursor never passes a line that commits later
(a line numbered before another but committed after it would be skipped for good). SQLite has one writer."""
TRIGGERS_KEY = "peers.outbox.triggers"
TRIGGERS_VERSION = "2"
"""The triggers' version (meta ``peers.outbox.triggers``): a store recording with older ones gets them remade
(1: lines written at once, numbered out of commit order on PostgreSQL; 2: at commit, in order)."""


def order_lock(conn: Connection) -> None:
    """Before writing outbox lines outside the triggers, as the last statement before the commit: take
    :data:`ORDER_LOCK` (PostgreSQL; nothing on SQLite)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ORDER_LOCK})")


def _trigger_sql(dialect: str) -> list[str]:
    """The statements that (re)make the triggers filling ``peer_outbox`` (idempotent). On PostgreSQL they are
    constraint triggers deferred to the commit, where the line is numbered under :data:`ORDER_LOCK`: a
    transaction holding it only writes its lines and commits, so it never waits for another's locks."""
    if dialect == "postgresql":
        out = [
            "CREATE OR REPLACE FUNCTION peer_outbox_tap() RETURNS trigger LANGUAGE plpgsql AS $$\n"
            f"BEGIN\n  IF {GATE} THEN\n"
            f"    PERFORM pg_advisory_xact_lock({ORDER_LOCK});\n"
            "    INSERT INTO peer_outbox (tbl, row_key, subject, at_s) VALUES (TG_TABLE_NAME, NEW.id::text,\n"
            "      TG_ARGV[0] || (to_jsonb(NEW) ->> TG_ARGV[1]), extract(epoch from clock_timestamp()));\n"
            "  END IF;\n  RETURN NULL;\nEND $$"
        ]
        for table, (_key, subject) in TAPS.items():
            prefix, column = subject.split("'")[1], subject.rsplit(".", 1)[1]
            out.append(f"DROP TRIGGER IF EXISTS peer_outbox_{table} ON {table}")
            out.append(f"CREATE CONSTRAINT TRIGGER peer_outbox_{table} AFTER INSERT OR UPDATE ON {table} "
                       "DEFERRABLE INITIALLY DEFERRED "
                       f"FOR EACH ROW EXECUTE FUNCTION peer_outbox_tap('{prefix}', '{column}')")
        return out
    return [
        f"CREATE TRIGGER IF NOT EXISTS peer_outbox_{table}_{when.lower()} AFTER {when} ON {table} WHEN {GATE} "
        f"BEGIN INSERT INTO peer_outbox (tbl, row_key, subject, at_s) VALUES ('{table}', NEW.{key}, {subject}, "
        "(julianday('now') - 2440587.5) * 86400.0); END"
        for table, (key, subject) in TAPS.items() for when in ("INSERT", "UPDATE")
    ]


def set_recording(conn: Connection, on: bool) -> None:
    """Record (or stop recording) every change of the recorded tables from now on (turned on, and whenever
    they are of an older :data:`TRIGGERS_VERSION`, the store's triggers are made or remade: processes
    starting together do it one after the other)."""
    if on and get_meta(conn, TRIGGERS_KEY) != TRIGGERS_VERSION:
        if conn.dialect.name == "postgresql":  # one process remakes them, the next finds them made; not the
            # order lock: a writer holding a table the remaking waits for may be committing under that one
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({ORDER_LOCK + 1})")
        if get_meta(conn, TRIGGERS_KEY) != TRIGGERS_VERSION:
            store_id(conn)
            for statement in _trigger_sql(conn.dialect.name):
                conn.exec_driver_sql(statement)
            set_meta(conn, TRIGGERS_KEY, TRIGGERS_VERSION)
    if (get_meta(conn, RECORDING_KEY) == "on") != on:
        set_meta(conn, RECORDING_KEY, "on" if on else "off")


def store_id(conn: Connection) -> str:
    """This store's id in event ids (made once, by :func:`set_recording`: call it in a transaction that
    commits, or the id made here is not kept)."""
    value = get_meta(conn, STORE_KEY)
    if value is None:
        value = uuid.uuid4().hex[:12]
        set_meta(conn, STORE_KEY, value)
    return value


def acked(conn: Connection, peer: str) -> int:
    """The sequence ``peer`` has acknowledged (0: nothing yet)."""
    return int(get_meta(conn, ACKED_PREFIX + peer) or 0)


def set_acked(conn: Connection, peer: str, seq: int) -> None:
    if seq > acked(conn, peer):
        set_meta(conn, ACKED_PREFIX + peer, str(seq))


def _json(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


def _table(name: str) -> Table:
    return metadata.tables[name]


def batch(conn: Connection, site: str, after: int, limit: int = 500) -> list[dict[str, Any]]:
    """The next events after sequence ``after``, oldest first, each with its row as it is now."""
    lines = conn.execute(
        select(peer_outbox).where(peer_outbox.c.seq > after).order_by(peer_outbox.c.seq).limit(limit)
    ).all()
    if not lines:
        return []
    keys: dict[str, set[str]] = defaultdict(set)
    for line in lines:
        keys[line.tbl].add(line.row_key)
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for tbl, wanted in keys.items():
        if tbl == rollups.TABLE:  # a minute of readings: every sensor's min, avg, max of that minute
            rows.update({(tbl, k): v for k, v in rollups.minute_rows(conn, wanted).items()})
            continue
        table = _table(tbl)
        key = table.c[TAPS[tbl][0]]
        for row in conn.execute(select(table).where(key.in_([int(k) for k in wanted]))).mappings():
            rows[(tbl, str(row[key.name]))] = {k: _json(v) for k, v in row.items()}
    store = store_id(conn)
    return [
        {"event_id": f"{site}:{store}:{line.seq}", "seq": int(line.seq), "tbl": line.tbl, "row_key": line.row_key,
         "subject": line.subject, "at_s": float(line.at_s), "data": rows.get((line.tbl, line.row_key))}
        for line in lines
    ]


@dataclass(frozen=True)
class Depth:
    """What waits for one peer: ``depth`` events, the oldest written ``lag_s`` seconds ago (0 when none)."""

    peer: str
    depth: int
    lag_s: float
    acked_seq: int


def depth(conn: Connection, peer: str, now_s: float | None = None) -> Depth:
    """How far ``peer`` is behind (for ``siaga peers`` and /metrics)."""
    seq = acked(conn, peer)
    count, oldest = conn.execute(
        select(func.count(), func.min(peer_outbox.c.at_s)).where(peer_outbox.c.seq > seq)
    ).one()
    now_s = time.time() if now_s is None else now_s
    return Depth(peer, int(count), max(0.0, now_s - float(oldest)) if oldest is not None else 0.0, seq)


def prune(conn: Connection, peers: list[str]) -> int:
    """Forget the lines every peer has acknowledged but the newest (SQLite numbers a new line after the
    newest one left: an empty table would start again at 1 and reuse event ids); returns how many."""
    if not peers:
        return 0
    upto = min(acked(conn, p) for p in peers)
    newest = conn.execute(select(func.max(peer_outbox.c.seq))).scalar_one_or_none() or 0
    upto = min(upto, int(newest) - 1)
    return int(conn.execute(delete(peer_outbox).where(peer_outbox.c.seq <= upto)).rowcount or 0)


__all__ = ["TAPS", "Depth", "acked", "batch", "depth", "prune", "set_acked", "set_recording", "store_id"]
