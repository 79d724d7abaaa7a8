"""What ``siaga cluster status``, the dashboard and ``/metrics`` say about the cluster: the live processes
(from their runtime sessions) and who holds each role, since when, with which token."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Connection
from sqlalchemy.exc import DBAPIError

from siaga.cluster.leases import all_leases
from siaga.cluster.members import members, membership_window


def cluster_status(conn: Connection, now: dt.datetime, *, lease_s: float, shared: bool) -> dict[str, Any]:
    """Processes and roles as plain data (JSON-ready: times as ISO strings, ages in seconds)."""
    live = members(conn, now, membership_window(lease_s, shared))
    try:
        rows = all_leases(conn)
    except DBAPIError:  # the table is not there yet (a store migrated by an older siaga)
        rows = []
    roles = []
    for lease in rows:
        held = lease.expires_at > now
        roles.append({
            "role": lease.role, "holder": lease.holder if held else None, "last_holder": lease.holder,
            "session": lease.session_id, "token": lease.token, "held": held,
            "held_for_s": round((now - lease.acquired_at).total_seconds(), 3) if held else None,
            "renewed_age_s": round((now - lease.renewed_at).total_seconds(), 3),
            "expires_in_s": round((lease.expires_at - now).total_seconds(), 3),
        })
    by_session: dict[int | None, list[str]] = {}
    for lease in rows:
        if lease.expires_at > now:
            by_session.setdefault(lease.session_id, []).append(lease.role)
    return {
        "backend": "postgresql" if shared else "sqlite",
        "lease_s": lease_s,
        "processes": [{
            "session": m.session_id, "host": m.host, "pid": m.pid, "started_at": m.started_at.isoformat(),
            "last_seen_age_s": round((now - m.last_seen_at).total_seconds(), 3),
            "roles": sorted(by_session.get(m.session_id, [])),
        } for m in live],
        "roles": roles,
    }
