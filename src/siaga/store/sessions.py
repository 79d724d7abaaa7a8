"""Runtime sessions: when ``siaga serve`` started, was last seen alive, and stopped.

The uptime arithmetic reads them to tell "the service was down" from "siaga was not running".
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from siaga.store.schema import runtime_sessions


@dataclass(frozen=True)
class RuntimeSession:
    id: int
    started_at: dt.datetime
    last_seen_at: dt.datetime
    stopped_at: dt.datetime | None
    host: str
    pid: int

    @property
    def ended_at(self) -> dt.datetime:
        """When it stopped, or (after a crash or while running) when it was last seen."""
        return self.stopped_at or self.last_seen_at


def start_session(
    conn: Connection, now: dt.datetime, *, host: str | None = None, pid: int | None = None
) -> int:
    """Record that siaga starts running; return the session id."""
    result = conn.execute(
        insert(runtime_sessions)
        .values(
            started_at=now,
            last_seen_at=now,
            host=host or socket.gethostname(),
            pid=os.getpid() if pid is None else pid,
        )
        .returning(runtime_sessions.c.id)
    )
    return int(result.scalar_one())


def heartbeat(conn: Connection, session_id: int, now: dt.datetime) -> None:
    """Record that the session is still alive at ``now``."""
    conn.execute(update(runtime_sessions).where(runtime_sessions.c.id == session_id).values(last_seen_at=now))


def stop_session(conn: Connection, session_id: int, now: dt.datetime) -> None:
    """Record a clean stop."""
    conn.execute(
        update(runtime_sessions)
        .where(runtime_sessions.c.id == session_id)
        .values(last_seen_at=now, stopped_at=now)
    )


def sessions_between(conn: Connection, start: dt.datetime, end: dt.datetime) -> list[RuntimeSession]:
    """Sessions that overlap [start, end), oldest first."""
    rows = conn.execute(
        select(runtime_sessions)
        .where(runtime_sessions.c.started_at < end, runtime_sessions.c.last_seen_at >= start)
        .order_by(runtime_sessions.c.started_at)
    )
    return [RuntimeSession(r.id, r.started_at, r.last_seen_at, r.stopped_at, r.host, r.pid) for r in rows]


def not_running_periods(
    sessions: list[RuntimeSession], start: dt.datetime, end: dt.datetime
) -> list[tuple[dt.datetime, dt.datetime]]:
    """Pure: the periods within [start, end) that no session covers (siaga was not running)."""
    gaps: list[tuple[dt.datetime, dt.datetime]] = []
    cursor = start
    for s in sorted(sessions, key=lambda s: s.started_at):
        if s.started_at > cursor:
            gaps.append((cursor, min(s.started_at, end)))
        cursor = max(cursor, s.ended_at)
        if cursor >= end:
            break
    if cursor < end:
        gaps.append((cursor, end))
    return [(a, b) for a, b in gaps if b > a]


def last_session(conn: Connection) -> RuntimeSession | None:
    """The most recent session, if any."""
    r = conn.execute(select(runtime_sessions).order_by(runtime_sessions.c.id.desc()).limit(1)).first()
    return None if r is None else RuntimeSession(r.id, r.started_at, r.last_seen_at, r.stopped_at, r.host, r.pid)
