"""What ``siaga cluster status``, the dashboard and ``/metrics`` say about the cluster: the live processes
(from their runtime sessions), who holds each role, since when, with which token, and the shard map (how
many slots of each shared duty each process holds; slots held by nobody are moving)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import DBAPIError

from siaga.cluster.leases import all_leases
from siaga.cluster.members import members, membership_window
from siaga.store.schema import meta

RULES_ROLE_PREFIX = "rules/"
"""A rule shard's lease role is ``rules/<n>``: a slot of the duty ``rules`` in the shard map
(:mod:`siaga.cluster.rule_shards`, :mod:`siaga.cluster.rule_keeper`)."""
SHARE_PREFIX = "cluster.share."
"""The ``meta`` key under which each process writes its share of the work: ``cluster.share.<session id>``."""


def shares(conn: Connection) -> dict[int, dict[str, Any]]:
    """Each process's share of the work, as it last wrote it (session id -> counts since its start)."""
    out: dict[int, dict[str, Any]] = {}
    for key, value in conn.execute(select(meta.c.key, meta.c.value).where(meta.c.key.like(f"{SHARE_PREFIX}%"))):
        try:
            out[int(key[len(SHARE_PREFIX):])] = json.loads(value or "{}")
        except ValueError:
            continue
    return out


def cluster_status(conn: Connection, now: dt.datetime, *, lease_s: float, shared: bool) -> dict[str, Any]:
    """Processes and roles as plain data (JSON-ready: times as ISO strings, ages in seconds)."""
    live = members(conn, now, membership_window(lease_s, shared))
    try:
        rows = all_leases(conn)
    except DBAPIError:  # the table is not there yet (a store migrated by an older siaga)
        rows = []
    slots = [lease for lease in rows if "/" in lease.role]
    rows = [lease for lease in rows if "/" not in lease.role]
    shard_map: dict[str, dict[str, Any]] = {}
    for lease in slots:
        duty = lease.role.split("/", 1)[0]
        entry = shard_map.setdefault(duty, {"slots": 0, "unheld": 0, "by_session": {}})
        entry["slots"] += 1
        if lease.expires_at > now:
            key = str(lease.session_id)
            entry["by_session"][key] = entry["by_session"].get(key, 0) + 1
        else:
            entry["unheld"] += 1
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
    share = shares(conn)
    rule_shards = sorted(
        ({"shard": int(lease.role[len(RULES_ROLE_PREFIX):]), "session": lease.session_id if lease.expires_at > now
          else None, "holder": lease.holder if lease.expires_at > now else None}
         for lease in slots if lease.role.startswith(RULES_ROLE_PREFIX)),
        key=lambda r: int(r["shard"] or 0))
    return {
        "backend": "postgresql" if shared else "sqlite",
        "lease_s": lease_s,
        "processes": [{
            "session": m.session_id, "host": m.host, "pid": m.pid, "started_at": m.started_at.isoformat(),
            "last_seen_age_s": round((now - m.last_seen_at).total_seconds(), 3),
            "roles": sorted(by_session.get(m.session_id, [])),
            "ingest": share.get(m.session_id, {}),
            "shards": {duty: e["by_session"].get(str(m.session_id), 0) for duty, e in shard_map.items()},
        } for m in live],
        "rule_shards": rule_shards,
        "roles": roles,
        "shards": shard_map,
    }
