"""backup: a file manifest may be stored as its difference against the whole manifest of an earlier run.

Revision ID: backup_0002
Revises: backup_0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "backup_0002"
down_revision: str | Sequence[str] | None = "backup_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("backup_manifests") as batch:
        batch.add_column(sa.Column("base_run_tag", sa.String(64), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM backup_manifests WHERE base_run_tag IS NOT NULL")
    with op.batch_alter_table("backup_manifests") as batch:
        batch.drop_column("base_run_tag")
