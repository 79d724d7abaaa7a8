"""readings: one row per (sensor, ts): a redelivered or replayed reading is stored once.

Duplicates already stored (a QoS 1 redelivery before this revision) are removed, keeping the first
row written; the non-unique index on (sensor, ts) becomes a unique one.

Revision ID: 0101_readings_unique
Revises: 0100_sensing
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0101_readings_unique"
down_revision: str | Sequence[str] | None = "0100_sensing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "DELETE FROM readings a USING readings b"
            " WHERE a.sensor = b.sensor AND a.ts = b.ts AND a.ctid > b.ctid"
        )
    else:
        op.execute(
            "DELETE FROM readings WHERE rowid NOT IN (SELECT min(rowid) FROM readings GROUP BY sensor, ts)"
        )
    op.drop_index("ix_readings_sensor_ts", table_name="readings")
    op.create_index("ux_readings_sensor_ts", "readings", ["sensor", "ts"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_readings_sensor_ts", table_name="readings")
    op.create_index("ix_readings_sensor_ts", "readings", ["sensor", "ts"])
