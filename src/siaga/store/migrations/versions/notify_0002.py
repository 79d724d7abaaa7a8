"""notify: the escalation policy each outbox item was planned under.

Revision ID: notify_0002
Revises: notify_0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "notify_0002"
down_revision: str | Sequence[str] | None = "notify_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notify_items") as batch:
        batch.add_column(sa.Column("policy", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("notify_items") as batch:
        batch.drop_column("policy")
