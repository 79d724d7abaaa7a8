"""The shared MetaData and the base tables every siaga process has: events, meta, runtime sessions.

Every feature defines its tables on :data:`metadata` (so names follow one convention and Alembic's
env sees them) in its own module, and lists that module in :data:`TABLE_MODULES`.
"""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Column, Index, Integer, MetaData, String, Table, Text

from siaga.store.types import UTCDateTime

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)

# Modules that define tables on `metadata`; imported by the migration env (autogenerate) and by
# `siaga.store.load_all_tables()`. Each feature adds its module here (one line).
TABLE_MODULES: list[str] = [
    "siaga.store.schema",
    "siaga.readings.tables",
    "siaga.alerts.tables",
    "siaga.checks.tables",
    "siaga.backup.tables",
    "siaga.web.auth.tables",
    "siaga.notify.tables",
    "siaga.standby.tables",
    "siaga.cluster.tables",
    "siaga.peers.tables",
    "siaga.peers.ack_tables",
]

# An id column that is BIGINT on PostgreSQL and INTEGER (rowid alias, autoincrement) on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")

events = Table(
    "events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("at", UTCDateTime(), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("subject", String(200), nullable=True),
    Column("actor", String(200), nullable=True),
    Column("data", JSON(), nullable=True),
    Index("ix_events_at", "at"),
    Index("ix_events_subject_at", "subject", "at"),
)
"""The timeline: one row per thing that happened (alert fired, person told, backup ran, siaga started)."""

meta = Table(
    "meta",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("value", Text(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
)
"""Small key/value facts about this store (schema notes, last run markers)."""

runtime_sessions = Table(
    "runtime_sessions",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("stopped_at", UTCDateTime(), nullable=True),
    Column("host", String(255), nullable=False),
    Column("pid", Integer(), nullable=False),
    Index("ix_runtime_sessions_started_at", "started_at"),
)
"""One row per run of ``siaga serve``: when it ran (heartbeats) and whether it stopped cleanly."""


def load_all_tables() -> None:
    """Import every module of :data:`TABLE_MODULES` so that :data:`metadata` holds all tables."""
    import importlib

    for name in TABLE_MODULES:
        importlib.import_module(name)
