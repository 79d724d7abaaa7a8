"""peers: the room's outbox (filled by triggers on the recorded tables) and the colocation's applied records.

Revision ID: peers_0001
Revises: 0001_base
Create Date: 2026-12-06

The triggers that fill ``peer_outbox`` are made by ``siaga.peers.outbox.set_recording`` when a peer first
watches this siaga (the recorded tables belong to other branches, which may migrate after this one);
downgrade drops them with the tables.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "peers_0001"
down_revision: str | Sequence[str] | None = "0001_base"
branch_labels: str | Sequence[str] | None = ("peers",)
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

TAPPED = ("incidents", "alerts", "alert_events", "check_changes")


def upgrade() -> None:
    op.create_table(
        "peer_outbox",
        sa.Column("seq", BigId, autoincrement=True, nullable=False),
        sa.Column("tbl", sa.String(64), nullable=False),
        sa.Column("row_key", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_peer_outbox")),
    )
    op.create_table(
        "peer_records",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("event_id", sa.String(120), nullable=False),
        sa.Column("tbl", sa.String(64), nullable=False),
        sa.Column("row_key", sa.String(200), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("at_s", sa.Float(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=True),
        sa.Column("received_s", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_peer_records")),
        sa.UniqueConstraint("site", "event_id", name=op.f("uq_peer_records_site_event_id")),
    )
    op.create_index("ix_peer_records_site_tbl_row_key", "peer_records", ["site", "tbl", "row_key"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TAPPED:
            op.execute(f"DROP TRIGGER IF EXISTS peer_outbox_{table} ON {table}")
        op.execute("DROP FUNCTION IF EXISTS peer_outbox_tap()")
    else:
        for table in TAPPED:
            for when in ("insert", "update"):
                op.execute(f"DROP TRIGGER IF EXISTS peer_outbox_{table}_{when}")
    # the recording's switch and the triggers' version go with the triggers: upgraded again, they are remade
    op.execute("DELETE FROM meta WHERE key IN ('peers.outbox', 'peers.outbox.triggers')")
    op.drop_index("ix_peer_records_site_tbl_row_key", table_name="peer_records")
    op.drop_table("peer_records")
    op.drop_table("peer_outbox")
