"""Web: web_login_attempts, the login throttle's counters shared by every process on the store.

Revision ID: web_0002_login_attempts
Revises: web_0001_accounts
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "web_0002_login_attempts"
down_revision: str | Sequence[str] | None = "web_0001_accounts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "web_login_attempts",
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_s", sa.Float(), nullable=False),
        sa.Column("allowed_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_web_login_attempts")),
    )


def downgrade() -> None:
    op.drop_table("web_login_attempts")
