"""Cluster: live updates fed by PostgreSQL NOTIFY (channel siaga_live) from the tables pages show.

A statement-level trigger on each table says which live topic changed (``alerts``, ``readings``,
``services``, ``backups``) at the writer's commit, whichever process wrote; every process's dashboard
listens and tells its own open pages (:mod:`siaga.web.live`). SQLite: nothing (one process).

Revision ID: cluster_0002
Revises: cluster_0001
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "cluster_0002"
down_revision: str | Sequence[str] | None = "cluster_0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = ("0100_sensing", "backup_0001")

TOPICS = {"alerts": "alerts", "sensor_last": "readings", "backup_runs": "backups"}
"""(``check_states`` -> ``services``: migration ``0006_checks_live``, on the checks' branch.)"""
FUNCTION = ("CREATE OR REPLACE FUNCTION siaga_live_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN PERFORM pg_notify('siaga_live', TG_ARGV[0]); RETURN NULL; END $$")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    for table, topic in TOPICS.items():
        op.execute(f"CREATE TRIGGER siaga_live_{table} AFTER INSERT OR UPDATE OR DELETE ON {table} "
                   f"FOR EACH STATEMENT EXECUTE FUNCTION siaga_live_notify('{topic}')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TOPICS:
        op.execute(f"DROP TRIGGER IF EXISTS siaga_live_{table} ON {table}")
