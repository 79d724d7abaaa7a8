"""Base of the store: events (the timeline), meta (key/value), runtime_sessions (when siaga ran).

Every feature's first migration has ``down_revision = "0001_base"`` and its own ``branch_labels``.

Revision ID: 0001_base
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from siaga.store.types import UTCDateTime

revision: str = "0001_base"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "events",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(200), nullable=True),
        sa.Column("actor", sa.String(200), nullable=True),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index("ix_events_at", "events", ["at"])
    op.create_index("ix_events_subject_at", "events", ["subject", "at"])
    op.create_table(
        "meta",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("value", sa.Text(), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_meta")),
    )
    op.create_table(
        "runtime_sessions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("last_seen_at", UTCDateTime(), nullable=False),
        sa.Column("stopped_at", UTCDateTime(), nullable=True),
        sa.Column("host", sa.String(255), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runtime_sessions")),
    )
    op.create_index("ix_runtime_sessions_started_at", "runtime_sessions", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_runtime_sessions_started_at", table_name="runtime_sessions")
    op.drop_table("runtime_sessions")
    op.drop_table("meta")
    op.drop_index("ix_events_subject_at", table_name="events")
    op.drop_index("ix_events_at", table_name="events")
    op.drop_table("events")
