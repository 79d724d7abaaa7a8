"""Cluster: cluster_leases, the leases (holder, fencing token, expiry) of the singleton duties.

Revision ID: cluster_0001
Revises: 0001_base
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from siaga.store.types import UTCDateTime

revision: str = "cluster_0001"
down_revision: str | Sequence[str] | None = "0001_base"
branch_labels: str | Sequence[str] | None = ("cluster",)
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cluster_leases",
        sa.Column("role", sa.String(100), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=True),
        sa.Column("token", sa.BigInteger(), nullable=False),
        sa.Column("acquired_at", UTCDateTime(), nullable=False),
        sa.Column("renewed_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("role", name=op.f("pk_cluster_leases")),
    )


def downgrade() -> None:
    op.drop_table("cluster_leases")
