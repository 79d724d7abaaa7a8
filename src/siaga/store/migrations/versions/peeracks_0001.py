"""peeracks: acknowledgements that cross between a room and its colocation (``peer_acks``).

Revision ID: peeracks_0001
Revises: 0001_base
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from siaga.store.types import UTCDateTime

revision: str = "peeracks_0001"
down_revision: str | Sequence[str] | None = "0001_base"
branch_labels: str | Sequence[str] | None = ("peeracks",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "peer_acks",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("direction", sa.String(3), nullable=False),
        sa.Column("event_id", sa.String(120), nullable=False),
        sa.Column("alert_id", sa.BigInteger(), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        sa.Column("via", sa.String(50), nullable=False),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.Column("made_at", UTCDateTime(), nullable=False),
        sa.Column("applied_at", UTCDateTime(), nullable=True),
        sa.Column("outcome", sa.String(20), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_acks")),
        sa.UniqueConstraint("site", "direction", "event_id", name=op.f("uq_peer_acks_site_direction_event_id")),
    )
    op.create_index("ix_peer_acks_site_direction_applied_at", "peer_acks", ["site", "direction", "applied_at"])


def downgrade() -> None:
    op.drop_index("ix_peer_acks_site_direction_applied_at", table_name="peer_acks")
    op.drop_table("peer_acks")
