"""Writing and reading the timeline (``events``) and the small key/value facts (``meta``)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, insert, select, update

from siaga.store.schema import events, meta
from siaga.store.types import utcnow

_INSERT_EVENT = insert(events).returning(events.c.id)  # built once: values come as parameters


@dataclass(frozen=True)
class Event:
    id: int
    at: dt.datetime
    kind: str
    subject: str | None
    actor: str | None
    data: dict[str, Any] | None


def record_event(
    conn: Connection,
    kind: str,
    *,
    subject: str | None = None,
    actor: str | None = None,
    data: Mapping[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> int:
    """Append one event to the timeline; return its id. ``at`` defaults to now (aware UTC)."""
    params = {"at": at or utcnow(), "kind": kind, "subject": subject, "actor": actor,
              "data": dict(data) if data else None}
    return int(conn.execute(_INSERT_EVENT, params).scalar_one())


def recent_events(
    conn: Connection, *, limit: int = 100, subject: str | None = None, kind: str | None = None
) -> list[Event]:
    """The latest events, newest first, optionally of one subject or kind."""
    q = select(events).order_by(events.c.at.desc(), events.c.id.desc()).limit(limit)
    if subject is not None:
        q = q.where(events.c.subject == subject)
    if kind is not None:
        q = q.where(events.c.kind == kind)
    return [Event(r.id, r.at, r.kind, r.subject, r.actor, r.data) for r in conn.execute(q)]


def get_meta(conn: Connection, key: str) -> str | None:
    """The value stored under ``key``, or None."""
    return conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()


def set_meta(conn: Connection, key: str, value: str | None, *, at: dt.datetime | None = None) -> None:
    """Store ``value`` under ``key`` (insert or replace)."""
    now = at or utcnow()
    done = conn.execute(update(meta).where(meta.c.key == key).values(value=value, updated_at=now))
    if done.rowcount == 0:
        conn.execute(insert(meta).values(key=key, value=value, updated_at=now))
