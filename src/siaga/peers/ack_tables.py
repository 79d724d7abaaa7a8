"""Acknowledgements that cross between sites (``siaga.peers.acks``).

``peer_acks`` holds, per other site, the acknowledgements made here for that site's alerts and waiting to
reach it (``direction`` ``out``: ``applied_at`` set once the site confirmed them) and those that site made for
alerts of this one and that were applied here (``direction`` ``in``, with what came of them). One row per
(site, direction, event id): an acknowledgement sent again applies nothing twice.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, String, Table, UniqueConstraint

from siaga.store.schema import BigId, metadata
from siaga.store.types import UTCDateTime

peer_acks = Table(
    "peer_acks",
    metadata,
    Column("id", BigId, primary_key=True, autoincrement=True),
    Column("site", String(64), nullable=False),  # the other site (a peer id)
    Column("direction", String(3), nullable=False),  # out: made here for its alert; in: made there, applied here
    Column("event_id", String(120), nullable=False),
    Column("alert_id", BigInteger(), nullable=False),  # the alert's id in the store of the site it belongs to
    Column("by", String(200), nullable=False),
    Column("via", String(50), nullable=False),  # how it was made where it was made (api, cli, link, telegram...)
    Column("note", String(1000), nullable=True),
    Column("made_at", UTCDateTime(), nullable=False),
    Column("applied_at", UTCDateTime(), nullable=True),  # out: when the site confirmed it; in: when applied here
    Column("outcome", String(20), nullable=True),  # acknowledged | already | resolved | unknown
    UniqueConstraint("site", "direction", "event_id"),
    Index("ix_peer_acks_site_direction_applied_at", "site", "direction", "applied_at"),
)
