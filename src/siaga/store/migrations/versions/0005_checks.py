"""Checks: current states, confirmed changes, per-day tallies, heartbeat pings, public status incidents.

Revision ID: 0005_checks
Revises: 0001_base
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from siaga.store.types import UTCDateTime

revision: str = "0005_checks"
down_revision: str | Sequence[str] | None = "0001_base"
branch_labels: str | Sequence[str] | None = ("checks",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "check_states",
        sa.Column("check_id", sa.String(64), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=True),
        sa.Column("fails", sa.Integer(), nullable=False),
        sa.Column("oks", sa.Integer(), nullable=False),
        sa.Column("streak_at", UTCDateTime(), nullable=True),
        sa.Column("last_at", UTCDateTime(), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("latency_ms", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("check_id", name="pk_check_states"),
    )
    op.create_table(
        "check_changes",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("check_id", sa.String(64), nullable=False),
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=False),
        sa.Column("previous", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_check_changes"),
    )
    op.create_index("ix_check_changes_check_id_at", "check_changes", ["check_id", "at"])
    op.create_index("ix_check_changes_service_at", "check_changes", ["service", "at"])
    op.create_table(
        "service_daily",
        sa.Column("service", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("up_s", sa.Float(), nullable=False),
        sa.Column("down_s", sa.Float(), nullable=False),
        sa.Column("unknown_s", sa.Float(), nullable=False),
        sa.Column("maintenance_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("service", "day", name="pk_service_daily"),
    )
    op.create_index("ix_service_daily_day", "service_daily", ["day"])
    op.create_table(
        "heartbeat_pings",
        sa.Column("ping_id", sa.String(64), nullable=False),
        sa.Column("last_ping_at", UTCDateTime(), nullable=False),
        sa.Column("failed", sa.Boolean(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("ping_id", name="pk_heartbeat_pings"),
    )
    op.create_table(
        "status_incidents",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("impact", sa.String(16), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("resolved_at", UTCDateTime(), nullable=True),
        sa.Column("alert_incident_id", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_status_incidents"),
    )
    op.create_index("ix_status_incidents_created_at", "status_incidents", ["created_at"])
    op.create_table(
        "status_updates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("incident_id", BigId, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("author", sa.String(200), nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["status_incidents.id"], name="fk_status_updates_incident_id_status_incidents",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_status_updates"),
    )
    op.create_index("ix_status_updates_incident_id_at", "status_updates", ["incident_id", "at"])


def downgrade() -> None:
    op.drop_table("status_updates")
    op.drop_table("status_incidents")
    op.drop_table("heartbeat_pings")
    op.drop_table("service_daily")
    op.drop_table("check_changes")
    op.drop_table("check_states")
