"""Tables of sensor readings: raw, 1-minute and 1-hour rollups, the latest per sensor, ingest counters.

Timestamps of readings are integer milliseconds since the Unix epoch (UTC): compact, exact, equally
fast on SQLite and PostgreSQL, and easy to bucket (``ts - ts % 60000``).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Index, Integer, PrimaryKeyConstraint, String, Table

from siaga.store.schema import metadata
from siaga.store.types import UTCDateTime

readings = Table(
    "readings",
    metadata,
    Column("sensor", String(64), nullable=False),
    Column("ts", BigInteger(), nullable=False),
    Column("value", Float(), nullable=False),
    Index("ux_readings_sensor_ts", "sensor", "ts", unique=True),
    Index("ix_readings_ts", "ts"),
)
"""Raw readings as accepted (kept 30 days by default): one row per (sensor, ts), so a reading delivered
again (QoS 1 redelivery, a replayed spool, a device's retry) is stored once."""


def _rollup(name: str) -> Table:
    return Table(
        name,
        metadata,
        Column("sensor", String(64), nullable=False),
        Column("bucket", BigInteger(), nullable=False),
        Column("min", Float(), nullable=False),
        Column("max", Float(), nullable=False),
        Column("sum", Float(), nullable=False),
        Column("count", Integer(), nullable=False),
        PrimaryKeyConstraint("sensor", "bucket"),
        Index(f"ix_{name}_bucket", "bucket"),
    )


readings_1m = _rollup("readings_1m")
"""1-minute rollups (min, max, sum, count; avg = sum / count), kept 1 year by default."""
readings_1h = _rollup("readings_1h")
"""1-hour rollups, kept forever by default."""

sensor_last = Table(
    "sensor_last",
    metadata,
    Column("sensor", String(64), primary_key=True),
    Column("ts", BigInteger(), nullable=False),
    Column("value", Float(), nullable=False),
    Column("received_at", UTCDateTime(), nullable=False),
)
"""The latest accepted reading of each sensor (for `siaga status` and stale detection after a restart)."""

ingest_counters = Table(
    "ingest_counters",
    metadata,
    Column("reason", String(64), primary_key=True),
    Column("count", BigInteger(), nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)
"""Readings accepted (reason ``accepted``) and refused per reason, since the store was created."""

unmapped_topics = Table(
    "unmapped_topics",
    metadata,
    Column("topic", String(255), primary_key=True),
    Column("count", BigInteger(), nullable=False),
    Column("last_at", UTCDateTime(), nullable=False),
)
"""MQTT messages on topics under the subscribed filters that no sensor maps (a device not in siaga.yaml, a
typo in a topic), counted per topic since the store was created; ``siaga status``, the dashboard and
/metrics show them."""
