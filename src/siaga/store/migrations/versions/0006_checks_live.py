"""Checks: the checks' states notify live updates on PostgreSQL (channel siaga_live, topic services).

The same trigger function as ``cluster_0002`` (made here too, whichever runs first); see
:mod:`siaga.web.live`. SQLite: nothing.

Revision ID: 0006_checks_live
Revises: 0005_checks
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006_checks_live"
down_revision: str | Sequence[str] | None = "0005_checks"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = ("CREATE OR REPLACE FUNCTION siaga_live_notify() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN PERFORM pg_notify('siaga_live', TG_ARGV[0]); RETURN NULL; END $$")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute("CREATE TRIGGER siaga_live_check_states AFTER INSERT OR UPDATE OR DELETE ON check_states "
               "FOR EACH STATEMENT EXECUTE FUNCTION siaga_live_notify('services')")


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS siaga_live_check_states ON check_states")
