"""The cluster's table on the shared MetaData: one row per role (a singleton duty) and its lease."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, String, Table

from siaga.store import UTCDateTime, metadata

cluster_leases = Table(
    "cluster_leases",
    metadata,
    Column("role", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),  # host:pid/session of the process holding it
    Column("session_id", Integer(), nullable=True),  # its runtime_sessions row
    Column("token", BigInteger(), nullable=False),  # the fencing token: +1 at every change of holder
    Column("acquired_at", UTCDateTime(), nullable=False),
    Column("renewed_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
)
"""Who holds each role until when; the row is locked (``FOR UPDATE SKIP LOCKED``) to take or renew it."""
