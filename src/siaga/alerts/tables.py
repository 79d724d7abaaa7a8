"""Tables of alerts, their timeline and incidents (on the store's shared metadata)."""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Float, ForeignKey, Index, Integer, String, Table, Text, text

from siaga.store.schema import BigId, metadata
from siaga.store.types import UTCDateTime

OPEN_ONLY = "state <> 'resolved'"
"""The rows the one-open-alert index covers (an alert not resolved)."""

incidents = Table(
    "incidents",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("title", String(300), nullable=False),  # the sentence of rows written before title_key
    Column("title_key", String(100), nullable=True),  # a key of siaga.i18n.messages.MESSAGES
    Column("title_params", JSON(), nullable=True),
    Column("opened_at", UTCDateTime(), nullable=False),
    Column("closed_at", UTCDateTime(), nullable=True),
    Column("owner", String(200), nullable=True),
    Column("notes", Text(), nullable=True),
    Column("room", String(64), nullable=True),
    Column("rack", String(64), nullable=True),
    Column("last_alert_at", UTCDateTime(), nullable=False),
    Index("ix_incidents_opened_at", "opened_at"),
    Index("ix_incidents_closed_at", "closed_at"),
)
"""One real-world event (the leak on R1) grouping the alerts that followed from it."""

alerts = Table(
    "alerts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("rule", String(100), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("subject_kind", String(20), nullable=False),
    Column("state", String(20), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("summary", Text(), nullable=False),  # the sentence of rows written before summary_key
    Column("summary_key", String(100), nullable=True),  # a key of siaga.i18n.messages.MESSAGES
    Column("summary_params", JSON(), nullable=True),
    Column("started_at", UTCDateTime(), nullable=False),
    Column("fired_at", UTCDateTime(), nullable=True),
    Column("acknowledged_at", UTCDateTime(), nullable=True),
    Column("acknowledged_by", String(200), nullable=True),
    Column("resolved_at", UTCDateTime(), nullable=True),
    Column("incident_id", BigId, ForeignKey("incidents.id"), nullable=True),
    Column("last_value", Float(), nullable=True),
    Column("flapping", Boolean(), nullable=False, default=False),
    Column("impact", JSON(), nullable=True),
    Column("params", JSON(), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_alerts_state", "state"),
    Index("ix_alerts_rule_subject", "rule", "subject"),
    Index("ix_alerts_started_at", "started_at"),
    Index("ix_alerts_incident_id", "incident_id"),
    # one truth across the processes of a cluster: at most one open alert per (rule, subject)
    Index("ux_alerts_open_rule_subject", "rule", "subject", unique=True,
          postgresql_where=text(OPEN_ONLY), sqlite_where=text(OPEN_ONLY)),
)
"""One episode of one rule on one subject: pending → firing → acknowledged → resolved. At most one is
open per (rule, subject): a second process that raises it joins the open one (``siaga.alerts.store.claim``)."""

alert_witnesses = Table(
    "alert_witnesses",
    metadata,
    Column("alert_id", BigId, ForeignKey("alerts.id"), primary_key=True, autoincrement=False),
    Column("session_id", Integer(), primary_key=True, autoincrement=False),  # a runtime_sessions row
    Column("since", UTCDateTime(), nullable=False),
    Index("ix_alert_witnesses_session_id", "session_id"),
)
"""The ``siaga serve`` processes (runtime sessions) that see an open alert's condition: the alert resolves
when the last live one stops seeing it; a process whose session ended (stopped, or not seen within the
membership window) no longer counts."""

alert_events = Table(
    "alert_events",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alert_id", BigId, ForeignKey("alerts.id"), nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("event", String(30), nullable=False),
    Column("state", String(20), nullable=False),
    Column("severity", String(20), nullable=False),
    Column("by", String(200), nullable=True),
    Column("via", String(50), nullable=True),
    Column("note", Text(), nullable=True),
    Column("value", Float(), nullable=True),
    Index("ix_alert_events_alert_id_at", "alert_id", "at"),
)
"""The timeline of each alert: created, firing, severity changed, acknowledged, noted, resolved."""
