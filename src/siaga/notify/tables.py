"""The notify tables on the shared MetaData: tracked alerts, the outbox (items and messages), every
delivery attempt, spent acknowledgement links, Telegram links and run-time maintenance windows.

The outbox is what makes delivery survive a restart: a notification is a row before anything is sent,
and only a recorded attempt moves it on.
"""

from __future__ import annotations

from sqlalchemy import JSON, Boolean, Column, Index, Integer, String, Table, Text, UniqueConstraint

from siaga.store import BigId, UTCDateTime, metadata

notify_alerts = Table(
    "notify_alerts",
    metadata,
    Column("alert_id", BigId, primary_key=True, autoincrement=False),
    Column("state", String(20), nullable=False),
    Column("snapshot", JSON(), nullable=False),
    Column("active", Boolean(), nullable=False),
    Column("suppressed_by", String(100), nullable=True),
    Column("updated_at", UTCDateTime(), nullable=False),
    Index("ix_notify_alerts_active", "active"),
)
"""The alerts notify follows: the latest published state of each (planner input after a restart)."""

notify_items = Table(
    "notify_items",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("alert_id", BigId, nullable=False),
    Column("kind", String(20), nullable=False),
    Column("step", Integer(), nullable=False),
    Column("round", Integer(), nullable=False),
    Column("recipient", String(120), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("address", String(300), nullable=False),
    Column("group_key", String(120), nullable=False),
    Column("policy", String(64), nullable=True),  # the escalation policy it was planned under
    Column("status", String(20), nullable=False),  # queued | batched | skipped
    Column("note", Text(), nullable=True),
    Column("fallback", JSON(), nullable=False),  # channels to try, in order, when this one fails
    Column("message_id", BigId, nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("alert_id", "kind", "step", "round", "recipient", "channel"),
    Index("ix_notify_items_status", "status"),
    Index("ix_notify_items_alert_id", "alert_id"),
    Index("ix_notify_items_message_id", "message_id"),
)
"""One notification of one alert to one recipient on one channel: the planner's history and the outbox."""

notify_messages = Table(
    "notify_messages",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("kind", String(20), nullable=False),
    Column("recipient", String(120), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("address", String(300), nullable=False),
    Column("group_key", String(120), nullable=False),
    Column("language", String(8), nullable=False),
    Column("alert_ids", JSON(), nullable=False),
    Column("title", Text(), nullable=False),
    Column("body", Text(), nullable=False),
    Column("body_full", Text(), nullable=False),
    Column("status", String(20), nullable=False),  # pending | sent | failed | demo (siaga demo: not sent)
    Column("attempts", Integer(), nullable=False, default=0),
    Column("next_attempt_at", UTCDateTime(), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("sent_at", UTCDateTime(), nullable=True),
    Column("last_error", Text(), nullable=True),
    Column("fallback", JSON(), nullable=False),  # channels still to try, in order
    Column("external_ref", JSON(), nullable=True),  # e.g. Telegram chat and message ids
    Column("claimed_at", UTCDateTime(), nullable=True),  # claimed for sending, no result recorded yet
    Index("ix_notify_messages_status_next", "status", "next_attempt_at"),
)
"""One message as sent (or to be sent) to one address: the outbox proper."""

notify_attempts = Table(
    "notify_attempts",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("message_id", BigId, nullable=False),
    Column("at", UTCDateTime(), nullable=False),
    Column("channel", String(64), nullable=False),
    Column("outcome", String(20), nullable=False),  # ok | error
    Column("latency_ms", Integer(), nullable=False),
    Column("error", Text(), nullable=True),
    Index("ix_notify_attempts_message_id", "message_id"),
)
"""Every delivery attempt: channel, outcome, latency, error."""

notify_ack_nonces = Table(
    "notify_ack_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("recipient", String(120), nullable=False),
    Column("alert_ids", JSON(), nullable=False),
    Column("used_at", UTCDateTime(), nullable=False),
)
"""Acknowledgement links already used (a link works once)."""

notify_telegram_links = Table(
    "notify_telegram_links",
    metadata,
    Column("person", String(64), primary_key=True),
    Column("user_id", String(32), nullable=True),
    Column("chat_id", String(32), nullable=True),
    Column("code", String(32), nullable=True),
    Column("code_expires_at", UTCDateTime(), nullable=True),
    Column("linked_at", UTCDateTime(), nullable=True),
    Index("ix_notify_telegram_links_user_id", "user_id"),
)
"""Which Telegram account is which person (linked with a one-time code)."""

notify_maintenance = Table(
    "notify_maintenance",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("title", Text(), nullable=False),
    Column("starts_at", UTCDateTime(), nullable=False),
    Column("ends_at", UTCDateTime(), nullable=False),
    Column("services", JSON(), nullable=False),
    Column("places", JSON(), nullable=False),
    Column("rules", JSON(), nullable=False),
    Column("created_by", String(120), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
)
"""Maintenance windows made at run time (CLI, API), beside those of the config."""
