"""What siaga remembers about standbys: each refresh and each recovery drill, with what it restored."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, String, Table, Text

from siaga.store.schema import BigId, metadata
from siaga.store.types import UTCDateTime

standby_runs = Table(
    "standby_runs",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("service", String(64), nullable=False),
    Column("kind", String(16), nullable=False),  # refresh, drill
    Column("started_at", UTCDateTime(), nullable=False),
    Column("finished_at", UTCDateTime(), nullable=True),
    Column("ok", Boolean(), nullable=True),
    Column("files_snapshot", String(64), nullable=True),
    Column("database_snapshot", String(64), nullable=True),
    Column("data_at", UTCDateTime(), nullable=True),  # when the oldest restored snapshot was taken
    Column("release", Text(), nullable=True),  # the restored folder web_root points to
    Column("took_s", Float(), nullable=True),  # refresh: restore to checked; drill: trigger to answering
    Column("checks_ok", Boolean(), nullable=True),
    Column("error", Text(), nullable=True),
    Index("ix_standby_runs_service_started_at", "service", "started_at"),
)
