"""The off-site record's tables: the room's outbox and, at the colocation, the records it applied.

``peer_outbox`` (at the room) is filled by triggers of the store itself (migration ``peers_0001``) on every
insert or update of the tables in :data:`siaga.peers.outbox.TAPS` while this store records for a peer
(``meta`` key ``peers.outbox`` = ``on``): so every writer (the alert keeper, notify, the checks, ``siaga alerts
ack`` in another process) is recorded in the transaction of its own write, and nothing is recorded that
was not written. A row names what changed (table and key); the sender reads the row as it is then.

``peer_records`` (at the colocation) holds every event a room sent, applied once by (site, event id).
"""

from __future__ import annotations

from sqlalchemy import JSON, Column, Float, Index, String, Table, UniqueConstraint

from siaga.store.schema import BigId, metadata

peer_outbox = Table(
    "peer_outbox",
    metadata,
    Column("seq", BigId, primary_key=True, autoincrement=True),
    Column("tbl", String(64), nullable=False),
    Column("row_key", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("at_s", Float(), nullable=False),
)
"""One line per change of a recorded table (written by the store's triggers), in the order of the writes."""

peer_records = Table(
    "peer_records",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("site", String(64), nullable=False),
    Column("event_id", String(120), nullable=False),
    Column("tbl", String(64), nullable=False),
    Column("row_key", String(200), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("at_s", Float(), nullable=False),
    Column("data", JSON(), nullable=True),
    Column("received_s", Float(), nullable=False),
    UniqueConstraint("site", "event_id"),
    Index("ix_peer_records_site_tbl_row_key", "site", "tbl", "row_key"),
)
"""The room's record at the colocation: each event once (unique site + event id), in the order applied."""
