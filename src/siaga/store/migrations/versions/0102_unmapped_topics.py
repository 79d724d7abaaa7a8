"""readings: messages on MQTT topics that no sensor maps, counted per topic.

Revision ID: 0102_unmapped_topics
Revises: sensing_0002
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from siaga.store.types import UTCDateTime

revision: str = "0102_unmapped_topics"
down_revision: str | Sequence[str] | None = "sensing_0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "unmapped_topics",
        sa.Column("topic", sa.String(255), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
        sa.Column("last_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("topic", name=op.f("pk_unmapped_topics")),
    )


def downgrade() -> None:
    op.drop_table("unmapped_topics")
