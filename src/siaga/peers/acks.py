"""Acknowledgements seen on both sides: an alert acknowledged at the colocation stops the room's escalation.

**Room → colocation.** The room's acknowledgements are in its record (the alert's row turns
``acknowledged``, its timeline has the line with who and how): the colocation holds them as soon as the
outbox delivers (``siaga.peers.record``), and an alert of its own about the same thing (same rule and
subject) is acknowledged with them (:func:`mirror_from_record`).

**Colocation → room.** An acknowledgement made at the colocation of a room's alert (``siaga peer-records
ROOM --ack N``, ``POST /api/v1/peers/{site}/alerts/{id}/ack``, or any acknowledgement of a colocation alert
about the same thing as an open alert of the room: dashboard, one-tap link, Telegram, ``siaga alerts ack``)
is queued in ``peer_acks`` (direction ``out``) under an event id of its own. It rides on the *answer* to the
room's next heartbeat: the room makes that request every ``heartbeat_interval`` whatever the network between
them (a room behind NAT is not reachable from the colocation, but its requests are answered). The answer
carrying acknowledgements is signed by the colocation with the shared secret over the room's own request
nonce (:func:`sign_answer`): an answer replayed to another request, or forged, is refused and counted. The
room applies each through its alert manager (escalation stops there, the notifier's checks at send time
withhold any reminder already queued; the timeline says who, when, and ``via peer:<colocation>``),
remembers its event id (direction ``in``: sent again, it applies nothing twice) and confirms the ids in its
next heartbeat; the colocation then stops sending them.

Pure parts (wire format, signing) take the clock as an argument; the store parts take a connection.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, insert, select, update

from siaga.alerts.model import Alert, AlertState
from siaga.alerts.store import AlertError, NoSuchAlert
from siaga.i18n.messages import Message
from siaga.peers.ack_tables import peer_acks
from siaga.peers.signing import HEADER_NONCE, HEADER_PEER, HEADER_SIGNATURE, HEADER_TIMESTAMP, SignatureRefused, sign
from siaga.peers.signing import signature as mac

log = logging.getLogger("siaga.peers")

OUT, IN = "out", "in"
ANSWER = "ANSWER"
"""The method signed for an answer (a request is signed with its own method: the two never verify as each other)."""
BATCH = 50
OUTCOMES = ("acknowledged", "already", "resolved", "unknown")
VIA_PREFIX = "peer:"
"""``via`` of an acknowledgement applied from a peer (``peer:<peer id>``): never sent back to that peer."""


@dataclass(frozen=True)
class PeerAck:
    """One acknowledgement as it crosses: the alert (its id in the store of the site it belongs to), who, how,
    when (the moment the person acknowledged, at the site where they did)."""

    event_id: str
    alert_id: int
    by: str
    via: str
    at: dt.datetime
    note: str | None = None

    def wire(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "alert_id": self.alert_id, "by": self.by, "via": self.via,
                "at": self.at.isoformat(), "note": self.note}


def from_wire(items: Any) -> list[PeerAck]:
    """The acknowledgements of an answer; ValueError when one is malformed."""
    if not isinstance(items, list):
        raise ValueError("acks is not a list")
    out = []
    for item in items[:BATCH]:
        if not isinstance(item, Mapping):
            raise ValueError("an acknowledgement is not an object")
        try:
            at = dt.datetime.fromisoformat(str(item["at"]))
            note = item.get("note")
            out.append(PeerAck(str(item["event_id"])[:120], int(item["alert_id"]), str(item["by"])[:200],
                               str(item["via"])[:40], at if at.tzinfo else at.replace(tzinfo=dt.UTC),
                               str(note)[:1000] if note else None))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"a malformed acknowledgement: {exc}") from None
    return out


# Signed answers -------------------------------------------------------------------------------------------

def sign_answer(secret: bytes, *, path: str, request_nonce: str, body: bytes, sender: str, now: float
                ) -> dict[str, str]:
    """The headers that sign an answer to the request of nonce ``request_nonce`` (bound to that request)."""
    return sign(secret, method=ANSWER, path=path, body=body, sender=sender, now=now, nonce=request_nonce)


def verify_answer(secret: bytes, *, peer: str, path: str, request_nonce: str, headers: Mapping[str, str],
                  body: bytes, now: float, window_s: float) -> None:
    """Raise :class:`SignatureRefused` unless ``body`` is ``peer``'s signed answer to our request ``request_nonce``."""
    got = {k.lower(): v for k, v in headers.items()}
    sender, ts = got.get(HEADER_PEER.lower()), got.get(HEADER_TIMESTAMP.lower())
    nonce, sig = got.get(HEADER_NONCE.lower()), got.get(HEADER_SIGNATURE.lower())
    if not sender or not ts or not nonce or not sig:
        raise SignatureRefused("missing", peer, "an answer carrying acknowledgements is not signed")
    if sender != peer:
        raise SignatureRefused("unknown_peer", peer, f"the answer is signed as {sender!r}")
    if nonce != request_nonce:
        raise SignatureRefused("replay", peer, "the answer is not to this request (a replayed answer)")
    import hmac

    if not hmac.compare_digest(mac(secret, ANSWER, path, ts, nonce, sender, body).encode(), sig.encode()):
        raise SignatureRefused("bad_signature", peer, "the answer's signature does not match")
    try:
        at = float(ts)
    except ValueError:
        raise SignatureRefused("stale", peer, "timestamp is not a number") from None
    if abs(now - at) > window_s:
        raise SignatureRefused("stale", peer, f"answer timestamp {abs(now - at):.0f} s away from this clock")


# The colocation's side: acknowledgements waiting for a site --------------------------------------------

def queue(conn: Connection, site: str, alert_id: int, by: str, at: dt.datetime, *, via: str, origin: str,
          note: str | None = None) -> str:
    """Queue an acknowledgement of ``site``'s alert ``alert_id`` (once: a second one for the same alert while
    the first waits is the first); returns its event id."""
    waiting_one = conn.execute(select(peer_acks.c.event_id).where(
        peer_acks.c.site == site, peer_acks.c.direction == OUT, peer_acks.c.alert_id == alert_id,
        peer_acks.c.applied_at.is_(None))).scalar_one_or_none()
    if waiting_one is not None:
        return str(waiting_one)
    event_id = f"{origin}:ack:{uuid.uuid4().hex[:16]}"
    conn.execute(insert(peer_acks).values(site=site, direction=OUT, event_id=event_id, alert_id=alert_id,
                                          by=by[:200], via=via[:50], note=(note or None) and note[:1000], made_at=at))
    return event_id


def ack_remote(conn: Connection, site: str, alert_id: int, by: str, at: dt.datetime, *, via: str, origin: str,
               note: str | None = None) -> tuple[str, Alert]:
    """Acknowledge alert ``alert_id`` of the watched ``site`` here: it must be open in the record the site sent
    (:class:`NoSuchAlert` when the record holds no such alert, :class:`AlertError` when it is not open: one line
    each). Queued for the site; returns the event id and the alert."""
    from siaga.peers.record import remote_alerts

    alert = next((a for a in remote_alerts(conn, site) if a.id == alert_id), None)
    if alert is None:
        raise NoSuchAlert(Message("alert.remote.no_such", {"alert": alert_id, "site": site}))
    if alert.state is AlertState.resolved:
        raise AlertError(Message("alert.remote.resolved_already", {"alert": alert_id, "site": site}))
    if alert.state is AlertState.acknowledged:
        raise AlertError(Message("alert.remote.acknowledged_already", {"alert": alert_id, "site": site,
                                                                       "by": alert.acknowledged_by}))
    sent = waiting(conn, site, 1, alert_id=alert_id)  # made here, not yet confirmed by the room: not twice
    if sent:
        raise AlertError(Message("alert.remote.on_its_way", {"alert": alert_id, "site": site, "by": sent[0].by}))
    return queue(conn, site, alert_id, by, at, via=via, origin=origin, note=note), alert


def waiting(conn: Connection, site: str, limit: int = BATCH, *, alert_id: int | None = None) -> list[PeerAck]:
    """The acknowledgements ``site`` has not confirmed yet (of one alert, with ``alert_id``), oldest first."""
    query = select(peer_acks).where(
        peer_acks.c.site == site, peer_acks.c.direction == OUT, peer_acks.c.applied_at.is_(None))
    if alert_id is not None:
        query = query.where(peer_acks.c.alert_id == alert_id)
    rows = conn.execute(query.order_by(peer_acks.c.id).limit(limit))
    return [PeerAck(r.event_id, int(r.alert_id), r.by, r.via, r.made_at, r.note) for r in rows]


def confirm(conn: Connection, site: str, items: Any, now: dt.datetime) -> int:
    """``site`` says it applied these (``[{event_id, outcome}]``): they are sent no more; returns how many."""
    done = 0
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, Mapping) or "event_id" not in item:
            continue
        outcome = str(item.get("outcome") or "")
        done += int(conn.execute(update(peer_acks).where(
            peer_acks.c.site == site, peer_acks.c.direction == OUT, peer_acks.c.event_id == str(item["event_id"]),
            peer_acks.c.applied_at.is_(None),
        ).values(applied_at=now, outcome=outcome if outcome in OUTCOMES else None)).rowcount or 0)
    return done


def sent_to(conn: Connection, site: str) -> list[dict[str, Any]]:
    """Every acknowledgement made here for ``site``'s alerts, newest first, with whether it arrived."""
    rows = conn.execute(select(peer_acks).where(peer_acks.c.site == site, peer_acks.c.direction == OUT)
                        .order_by(peer_acks.c.id.desc()))
    return [{"event_id": r.event_id, "alert_id": int(r.alert_id), "by": r.by, "via": r.via, "made_at": r.made_at,
             "applied_at": r.applied_at, "outcome": r.outcome} for r in rows]


# The room's side: acknowledgements applied from a peer ---------------------------------------------------

def outcome_of(conn: Connection, site: str, event_id: str) -> str | None:
    """What came of acknowledgement ``event_id`` from ``site`` when it was applied here (None: not yet)."""
    value = conn.execute(select(peer_acks.c.outcome).where(
        and_(peer_acks.c.site == site, peer_acks.c.direction == IN, peer_acks.c.event_id == event_id),
    )).first()
    return None if value is None else str(value[0] or "acknowledged")


def remember(conn: Connection, site: str, ack: PeerAck, outcome: str, now: dt.datetime) -> None:
    conn.execute(insert(peer_acks).values(site=site, direction=IN, event_id=ack.event_id, alert_id=ack.alert_id,
                                          by=ack.by, via=ack.via[:50], note=ack.note, made_at=ack.at,
                                          applied_at=now, outcome=outcome))


def state_outcome(state: AlertState | None) -> str:
    """What an acknowledgement that could not be applied meets: an alert already acknowledged, resolved, none."""
    if state is None:
        return "unknown"
    return {AlertState.acknowledged: "already", AlertState.resolved: "resolved"}.get(state, "unknown")


@dataclass
class AckCounters:
    """Acknowledgements between sites, for /metrics: applied here from a peer (by peer and outcome), answers
    refused, made here for a peer and confirmed by it."""

    applied: Counter[tuple[str, str]] = field(default_factory=Counter)
    refused: Counter[tuple[str, str]] = field(default_factory=Counter)
    confirmed: Counter[str] = field(default_factory=Counter)

    def rows(self) -> Iterable[tuple[str, str, int]]:
        for (peer, outcome), n in sorted(self.applied.items()):
            yield peer, outcome, n


__all__ = ["ANSWER", "IN", "OUT", "OUTCOMES", "VIA_PREFIX", "AckCounters", "PeerAck", "ack_remote", "confirm",
           "from_wire", "outcome_of", "queue", "remember", "sent_to", "sign_answer", "state_outcome",
           "verify_answer", "waiting"]
