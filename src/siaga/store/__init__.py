"""The store: SQLAlchemy 2 on SQLite (WAL, the embedded default) or PostgreSQL, Alembic migrations.

Features define their tables on :data:`metadata` in their own module (listed in ``TABLE_MODULES``)
and ship an Alembic migration whose ``down_revision`` is :data:`BASE_REVISION`.
"""

from siaga.store.engine import (
    StoreError,
    check_connection,
    create_engine_for,
    database_url,
    describe_url,
    sqlite_url,
)
from siaga.store.events import Event, get_meta, recent_events, record_event, set_meta
from siaga.store.migrate import BASE_REVISION, current, pending, script_heads, upgrade
from siaga.store.schema import (
    NAMING_CONVENTION,
    TABLE_MODULES,
    BigId,
    events,
    load_all_tables,
    meta,
    metadata,
    runtime_sessions,
)
from siaga.store.types import UTCDateTime, utcnow

__all__ = [
    "BASE_REVISION",
    "NAMING_CONVENTION",
    "TABLE_MODULES",
    "BigId",
    "Event",
    "StoreError",
    "UTCDateTime",
    "check_connection",
    "create_engine_for",
    "current",
    "database_url",
    "describe_url",
    "events",
    "get_meta",
    "load_all_tables",
    "meta",
    "metadata",
    "pending",
    "recent_events",
    "record_event",
    "runtime_sessions",
    "script_heads",
    "set_meta",
    "sqlite_url",
    "upgrade",
    "utcnow",
]
