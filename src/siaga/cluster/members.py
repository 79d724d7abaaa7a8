"""Membership: which ``siaga serve`` processes are alive on this store (their runtime sessions).

What a shard map or an MQTT shared subscription splits work across. On PostgreSQL each process's lease
keeper (:mod:`siaga.cluster.component`) beats its session every third of the lease, so a process that died
drops out after :func:`membership_window`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, select

from siaga.store.schema import runtime_sessions

SQLITE_WINDOW = dt.timedelta(seconds=90)
"""On SQLite the session is beaten every 30 s: alive when seen within three beats."""


def membership_window(lease_s: float, shared: bool) -> dt.timedelta:
    """How recently a process must have been seen to count as alive."""
    return dt.timedelta(seconds=3 * lease_s) if shared else SQLITE_WINDOW


@dataclass(frozen=True)
class Member:
    """A live ``siaga serve`` process: its runtime session, seen within the membership window."""

    session_id: int
    host: str
    pid: int
    started_at: dt.datetime
    last_seen_at: dt.datetime


def members(conn: Connection, now: dt.datetime, within: dt.timedelta) -> list[Member]:
    """The processes alive now (a session not stopped, seen within ``within``), oldest first: what a shard
    map or an MQTT shared subscription splits work across."""
    rows = conn.execute(
        select(runtime_sessions).where(runtime_sessions.c.stopped_at.is_(None),
                                       runtime_sessions.c.last_seen_at >= now - within)
        .order_by(runtime_sessions.c.started_at, runtime_sessions.c.id))
    return [Member(r.id, r.host, r.pid, r.started_at, r.last_seen_at) for r in rows]
