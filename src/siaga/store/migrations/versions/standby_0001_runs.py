"""Standby: standby_runs, the refreshes and recovery drills of warm standbys.

Revision ID: standby_0001
Revises: 0001_base
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from siaga.store.types import UTCDateTime

revision: str = "standby_0001"
down_revision: str | Sequence[str] | None = "0001_base"
branch_labels: str | Sequence[str] | None = ("standby",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "standby_runs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("finished_at", UTCDateTime(), nullable=True),
        sa.Column("ok", sa.Boolean(), nullable=True),
        sa.Column("files_snapshot", sa.String(64), nullable=True),
        sa.Column("database_snapshot", sa.String(64), nullable=True),
        sa.Column("data_at", UTCDateTime(), nullable=True),
        sa.Column("release", sa.Text(), nullable=True),
        sa.Column("took_s", sa.Float(), nullable=True),
        sa.Column("checks_ok", sa.Boolean(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_standby_runs")),
    )
    op.create_index("ix_standby_runs_service_started_at", "standby_runs", ["service", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_standby_runs_service_started_at", table_name="standby_runs")
    op.drop_table("standby_runs")
