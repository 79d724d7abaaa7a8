"""notify: tracked alerts, outbox items and messages, attempts, ack nonces, Telegram links, maintenance.

Revision ID: notify_0001
Revises: 0001_base
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from siaga.store.types import UTCDateTime

revision: str = "notify_0001"
down_revision: str | Sequence[str] | None = "0001_base"
branch_labels: str | Sequence[str] | None = ("notify",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "notify_alerts",
        sa.Column("alert_id", BigId, autoincrement=False, nullable=False),
        sa.Column("state", sa.String(20), nullable=False),
        sa.Column("snapshot", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("suppressed_by", sa.String(100), nullable=True),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("alert_id", name=op.f("pk_notify_alerts")),
    )
    op.create_index("ix_notify_alerts_active", "notify_alerts", ["active"])
    op.create_table(
        "notify_items",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("alert_id", BigId, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(120), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("group_key", sa.String(120), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("fallback", sa.JSON(), nullable=False),
        sa.Column("message_id", BigId, nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_items")),
        sa.UniqueConstraint(
            "alert_id", "kind", "step", "round", "recipient", "channel",
            name=op.f("uq_notify_items_alert_id_kind_step_round_recipient_channel"),
        ),
    )
    op.create_index("ix_notify_items_status", "notify_items", ["status"])
    op.create_index("ix_notify_items_alert_id", "notify_items", ["alert_id"])
    op.create_index("ix_notify_items_message_id", "notify_items", ["message_id"])
    op.create_table(
        "notify_messages",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("recipient", sa.String(120), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("address", sa.String(300), nullable=False),
        sa.Column("group_key", sa.String(120), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("alert_ids", sa.JSON(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("body_full", sa.Text(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("sent_at", UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("fallback", sa.JSON(), nullable=False),
        sa.Column("external_ref", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_messages")),
    )
    op.create_index("ix_notify_messages_status_next", "notify_messages", ["status", "next_attempt_at"])
    op.create_table(
        "notify_attempts",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("message_id", BigId, nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_attempts")),
    )
    op.create_index("ix_notify_attempts_message_id", "notify_attempts", ["message_id"])
    op.create_table(
        "notify_ack_nonces",
        sa.Column("nonce", sa.String(64), nullable=False),
        sa.Column("recipient", sa.String(120), nullable=False),
        sa.Column("alert_ids", sa.JSON(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_notify_ack_nonces")),
    )
    op.create_table(
        "notify_telegram_links",
        sa.Column("person", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(32), nullable=True),
        sa.Column("chat_id", sa.String(32), nullable=True),
        sa.Column("code", sa.String(32), nullable=True),
        sa.Column("code_expires_at", UTCDateTime(), nullable=True),
        sa.Column("linked_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("person", name=op.f("pk_notify_telegram_links")),
    )
    op.create_index("ix_notify_telegram_links_user_id", "notify_telegram_links", ["user_id"])
    op.create_table(
        "notify_maintenance",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("starts_at", UTCDateTime(), nullable=False),
        sa.Column("ends_at", UTCDateTime(), nullable=False),
        sa.Column("services", sa.JSON(), nullable=False),
        sa.Column("places", sa.JSON(), nullable=False),
        sa.Column("rules", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(120), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notify_maintenance")),
    )


def downgrade() -> None:
    for table in (
        "notify_maintenance", "notify_telegram_links", "notify_ack_nonces", "notify_attempts",
        "notify_messages", "notify_items", "notify_alerts",
    ):
        op.drop_table(table)
