"""The accounts tables: people who log in, their sessions, and API tokens (all secrets stored hashed)."""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, ForeignKey, Index, Integer, String, Table

from siaga.store.schema import BigId, metadata
from siaga.store.types import UTCDateTime

web_users = Table(
    "web_users",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("display_name", String(200), nullable=True),
    Column("password_hash", String(255), nullable=False),
    Column("role", String(16), nullable=False),
    Column("language", String(8), nullable=True),
    Column("disabled", Boolean(), nullable=False, default=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("password_changed_at", UTCDateTime(), nullable=False),
)
"""A person who logs in to the dashboard, with a role (viewer, operator, admin) and a language."""

web_sessions = Table(
    "web_sessions",
    metadata,
    Column("id_hash", String(64), primary_key=True),
    Column("user_id", BigId, ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("last_seen_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("address", String(64), nullable=True),
    Index("ix_web_sessions_user_id", "user_id"),
)
"""A logged-in browser: the cookie holds a random id, the table only its SHA-256."""

api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("name", String(100), nullable=False),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("prefix", String(16), nullable=False),
    Column("scopes", String(100), nullable=False),
    Column("created_by", String(64), nullable=True),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=True),
    Column("last_used_at", UTCDateTime(), nullable=True),
    Column("revoked_at", UTCDateTime(), nullable=True),
)
"""A bearer token for scripts and other systems, with scopes (read, ack, admin, ingest); shown once."""

web_login_attempts = Table(
    "web_login_attempts",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("failures", Integer(), nullable=False),
    Column("last_s", Float(), nullable=False),
    Column("allowed_s", Float(), nullable=False),
)
"""Login attempts counted per account and per address (``account:NAME``, ``address:IP``), shared by every
siaga process on the store: failures in the window, the last one, and when the key may try again (Unix
seconds)."""
