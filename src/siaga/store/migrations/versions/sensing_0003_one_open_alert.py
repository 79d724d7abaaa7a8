"""Alerts: one open alert per (rule, subject) across the processes of a cluster, and who sees it.

A partial unique index on ``alerts(rule, subject)`` over the rows not resolved (PostgreSQL and SQLite both
have partial indexes): a second ``siaga serve`` that raises the same alert joins the open one instead of
opening another (and paging again). ``alert_witnesses``: the processes (runtime sessions) that see an open
alert's condition; it resolves when the last live one stops seeing it.

Duplicates an earlier version left open (several processes raising the same alert) are resolved first,
all but the oldest, with a line on their timeline.

Revision ID: sensing_0003
Revises: 0102_unmapped_topics
Create Date: 2026-12-06
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from siaga.i18n.messages import Message, note_of
from siaga.store.types import UTCDateTime

revision: str = "sensing_0003"
down_revision: str | Sequence[str] | None = "0102_unmapped_topics"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
OPEN_ONLY = "state <> 'resolved'"


def _resolve_duplicates() -> None:
    alerts = sa.table("alerts", sa.column("id", BigId), sa.column("rule", sa.String()),
                      sa.column("subject", sa.String()), sa.column("state", sa.String()),
                      sa.column("severity", sa.String()), sa.column("resolved_at", UTCDateTime()),
                      sa.column("updated_at", UTCDateTime()))
    events = sa.table("alert_events", sa.column("alert_id", BigId), sa.column("at", UTCDateTime()),
                      sa.column("event", sa.String()), sa.column("state", sa.String()),
                      sa.column("severity", sa.String()), sa.column("by", sa.String()),
                      sa.column("note", sa.Text()))
    conn = op.get_bind()
    rows = conn.execute(sa.select(alerts.c.id, alerts.c.rule, alerts.c.subject, alerts.c.severity)
                        .where(alerts.c.state != "resolved").order_by(alerts.c.id)).all()
    seen: set[tuple[str, str]] = set()
    now = dt.datetime.now(dt.UTC)
    note = note_of(Message("note.merged_duplicate"))
    for row in rows:
        if (row.rule, row.subject) not in seen:
            seen.add((row.rule, row.subject))
            continue
        conn.execute(sa.update(alerts).where(alerts.c.id == row.id)
                     .values(state="resolved", resolved_at=now, updated_at=now))
        conn.execute(sa.insert(events).values(alert_id=row.id, at=now, event="resolved", state="resolved",
                                              severity=row.severity, by="siaga", note=note))


def upgrade() -> None:
    _resolve_duplicates()
    op.create_index("ux_alerts_open_rule_subject", "alerts", ["rule", "subject"], unique=True,
                    postgresql_where=sa.text(OPEN_ONLY), sqlite_where=sa.text(OPEN_ONLY))
    op.create_table(
        "alert_witnesses",
        sa.Column("alert_id", BigId, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("since", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["alert_id"], ["alerts.id"], name=op.f("fk_alert_witnesses_alert_id_alerts")),
        sa.PrimaryKeyConstraint("alert_id", "session_id", name=op.f("pk_alert_witnesses")),
    )
    op.create_index("ix_alert_witnesses_session_id", "alert_witnesses", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_alert_witnesses_session_id", table_name="alert_witnesses")
    op.drop_table("alert_witnesses")
    op.drop_index("ux_alerts_open_rule_subject", table_name="alerts")
