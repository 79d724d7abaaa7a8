"""The checks' tables: compacted history (state changes, per-day tallies), not one row per attempt.

- ``check_states``: where every check stands now (upserted in batches by the writer).
- ``check_changes``: one row per confirmed change of a check's status; uptime is computed from them.
- ``service_daily``: seconds up/down/unknown/maintenance per service and local day (the status
  page's 90 bars, the monthly report); recomputed for the current day, frozen afterwards.
- ``heartbeat_pings``: the last ping of every heartbeat.
- ``status_incidents`` / ``status_updates``: what staff tell the public on the status page.
"""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
)

from siaga.store.schema import BigId, metadata
from siaga.store.types import UTCDateTime

check_states = Table(
    "check_states",
    metadata,
    Column("check_id", String(64), primary_key=True),
    Column("service", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("since", UTCDateTime(), nullable=True),
    Column("fails", Integer(), nullable=False),
    Column("oks", Integer(), nullable=False),
    Column("streak_at", UTCDateTime(), nullable=True),
    Column("last_at", UTCDateTime(), nullable=True),
    Column("message", Text(), nullable=True),
    Column("latency_ms", Float(), nullable=True),
)

check_changes = Table(
    "check_changes",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("check_id", String(64), nullable=False),
    Column("service", String(64), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("confirmed_at", UTCDateTime(), nullable=False),
    Column("previous", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("message", Text(), nullable=True),
    Index("ix_check_changes_check_id_at", "check_id", "at"),
    Index("ix_check_changes_service_at", "service", "at"),
)

service_daily = Table(
    "service_daily",
    metadata,
    Column("service", String(64), primary_key=True),
    Column("day", Date(), primary_key=True),
    Column("up_s", Float(), nullable=False),
    Column("down_s", Float(), nullable=False),
    Column("unknown_s", Float(), nullable=False),
    Column("maintenance_s", Float(), nullable=False),
    Index("ix_service_daily_day", "day"),
)

heartbeat_pings = Table(
    "heartbeat_pings",
    metadata,
    Column("ping_id", String(64), primary_key=True),
    Column("last_ping_at", UTCDateTime(), nullable=False),
    Column("failed", Boolean(), nullable=False),
    Column("count", Integer(), nullable=False),
)

status_incidents = Table(
    "status_incidents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("title", String(200), nullable=False),
    Column("status", String(16), nullable=False),
    Column("impact", String(16), nullable=False),
    Column("services", JSON(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("alert_incident_id", BigInteger(), nullable=True),
    Index("ix_status_incidents_created_at", "created_at"),
)

status_updates = Table(
    "status_updates",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column(
        "incident_id", BigId, ForeignKey("status_incidents.id", ondelete="CASCADE"), nullable=False
    ),
    Column("at", UTCDateTime(), nullable=False),
    Column("status", String(16), nullable=False),
    Column("message", Text(), nullable=False),
    Column("author", String(200), nullable=True),
    Index("ix_status_updates_incident_id_at", "incident_id", "at"),
)
