"""Alerts and incidents say what happened as a message key and parameters, worded per reader.

Rows written before keep their English sentence in ``summary`` / ``title`` (shown as it is); new rows
carry ``summary_key``/``summary_params`` and ``title_key``/``title_params`` and leave the sentence empty.

Revision ID: sensing_0002
Revises: 0101_readings_unique
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "sensing_0002"
down_revision: str | Sequence[str] | None = "0101_readings_unique"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("alerts") as batch:
        batch.add_column(sa.Column("summary_key", sa.String(100), nullable=True))
        batch.add_column(sa.Column("summary_params", sa.JSON(), nullable=True))
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("title_key", sa.String(100), nullable=True))
        batch.add_column(sa.Column("title_params", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("title_params")
        batch.drop_column("title_key")
    with op.batch_alter_table("alerts") as batch:
        batch.drop_column("summary_params")
        batch.drop_column("summary_key")
