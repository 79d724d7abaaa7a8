"""One event, one acknowledgement, wherever it is made: the colocation's alerts about a room's thing follow the
room's acknowledgement, and theirs reach the room (``siaga.peers.acks`` carries them).

At a colocation (a ``watches`` peer), an alert of its own can stand for an alert of the room: the outage it
paged while the room was silent (``peer.service.down`` on ``<room>/<service>`` stands for the room's
``service.down`` on ``<service>``), or an alert of the same rule on the same subject (the colocation watches
the same thing). :func:`counterpart` says which.

- **Acknowledged at the colocation** (dashboard, one-tap link, Telegram, ``siaga alerts ack``: every path
  publishes the transition): when the room's record holds its counterpart open, the acknowledgement is queued
  for the room (:func:`forward`) and stops the room's escalation there.
- **Acknowledged at the room**: when the room's record brings an alert acknowledged, the colocation's open
  alert that stands for it is acknowledged too, by the same person, ``via peer:<room>`` (:func:`mirrored`),
  and its reminders stop.

An acknowledgement that came from a peer (``via peer:...``) is never sent back: no echo.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import Connection, func, select

from siaga.alerts.model import Alert, AlertState, Transition
from siaga.alerts.store import AlertError
from siaga.alerts.tables import alert_events
from siaga.config.peers import PeerRole
from siaga.peers import acks
from siaga.peers.tables import peer_records
from siaga.peers.watch import PeerState
from siaga.runtime.components import Component
from siaga.runtime.context import RuntimeContext

log = logging.getLogger("siaga.peers")

TAKEOVER_RULE = "peer.service.down"  # siaga.peers.probes: an outage the colocation paged for a silent room
ROOM_OUTAGE_RULE = "service.down"
OPEN = (AlertState.pending, AlertState.firing)
LOOK_EVERY_S = 0.5


def counterpart(alert: Alert, room: str) -> tuple[str, str]:
    """(rule, subject) of the room's alert that this colocation alert about ``room`` stands for."""
    if alert.rule == TAKEOVER_RULE and alert.params.get("peer") == room and alert.params.get("service"):
        return ROOM_OUTAGE_RULE, str(alert.params["service"])
    return alert.rule, alert.subject


def forward(conn: Connection, transition: Transition, rooms: Iterable[str], origin: str) -> list[str]:
    """An acknowledgement made here: queued for each room whose record holds its counterpart open; the event
    ids queued."""
    if transition.event != "acknowledged" or (transition.via or "").startswith(acks.VIA_PREFIX):
        return []
    from siaga.peers.record import remote_alerts

    queued = []
    alert = transition.alert
    for room in rooms:
        rule, subject = counterpart(alert, room)
        for theirs in remote_alerts(conn, room):
            if theirs.rule == rule and theirs.subject == subject and theirs.state in OPEN:
                queued.append(acks.queue(conn, room, theirs.id, transition.by or alert.acknowledged_by or "?",
                                         transition.at, via=transition.via or "api", origin=origin,
                                         note=transition.note))
    return queued


def mirrored(ours: Iterable[Alert], room: str, theirs: Mapping[str, Any]) -> list[Alert]:
    """Our open alerts that stand for the room's alert ``theirs`` (a row of its record)."""
    key = (str(theirs.get("rule")), str(theirs.get("subject")))
    return [a for a in ours if a.state in OPEN and counterpart(a, room) == key]


def room_pages(alert: Alert, rooms: Iterable[PeerState]) -> str | None:
    """``peer:<room>`` when a room that is heard (not silent, not stopped) told in its last heartbeat that it has
    this very alert open (same rule, same subject): it senses it and pages it, so this siaga must not (None:
    no room does). The colocation's own alerts about a room (``peer.*``) are never the room's to page."""
    if alert.rule.startswith("peer."):
        return None
    for state in rooms:
        if state.last_heartbeat_at is None or state.alarm_since is not None or state.goodbye_at is not None:
            continue
        told = state.summary.get("alerts") or []
        if any(isinstance(a, Mapping) and a.get("rule") == alert.rule and a.get("subject") == alert.subject
               for a in told):
            return f"{acks.VIA_PREFIX}{state.peer}"
    return None


def carried_late(waiting: Mapping[int, Transition], room: str, row: Mapping[str, Any]) -> list[Transition]:
    """Acknowledgements made here before the room's record held their counterpart open (``waiting``, by our alert's
    id): those the room's alert ``row``, open and just arrived, is the counterpart of."""
    if str(row.get("state")) not in {s.value for s in OPEN}:
        return []
    key = (str(row.get("rule")), str(row.get("subject")))
    return [tr for tr in waiting.values() if counterpart(tr.alert, room) == key]


class Unmatched:
    """Acknowledgements made here that no room's record held an open counterpart of yet (the room's alert fires
    there after ours, or its record is on its way: carried when it arrives, :func:`carried_late`), and those the
    store did not take (forwarded again); by our alert's id, kept while our alert stays acknowledged. Kept in
    memory, and made again at start from the timeline (:func:`acknowledged_here`): a restart between our
    acknowledgement and the room's alert forgets none."""

    def __init__(self) -> None:
        self.waiting: dict[int, Transition] = {}
        self.again: dict[int, Transition] = {}

    def forwarded(self, tr: Transition, sent: list[str] | None) -> None:
        """What :func:`forward` did with ``tr``: queued ``sent`` (none: its counterpart is not in a record yet),
        or None when the store failed."""
        if sent is None:
            self.again[tr.alert.id] = tr
            return
        self.again.pop(tr.alert.id, None)
        if not sent:
            self.waiting[tr.alert.id] = tr

    def keep_only(self, acknowledged: set[int]) -> None:
        """Forget those whose alert is no longer acknowledged here (resolved: nothing left to carry)."""
        for book in (self.waiting, self.again):
            for gone in [k for k in book if k not in acknowledged]:
                del book[gone]


def acknowledged_here(conn: Connection, alerts: Iterable[Alert]) -> list[Transition]:
    """The acknowledgements made here of ``alerts`` (acknowledged now), from their timeline: the newest
    ``acknowledged`` event of each, unless it came from a peer. What :class:`Unmatched` starts with after a
    restart: one already carried is carried again only if the room's alert is still open in the record, and a
    room whose alert is acknowledged already meets it with the outcome ``already`` (nothing changes there)."""
    by_id = {a.id: a for a in alerts if a.state is AlertState.acknowledged}
    if not by_id:
        return []
    q = (select(alert_events.c.alert_id, alert_events.c.at, alert_events.c.by, alert_events.c.via,
                alert_events.c.note)
         .where(alert_events.c.alert_id.in_(sorted(by_id)), alert_events.c.event == "acknowledged")
         .order_by(alert_events.c.id))
    newest = {int(r.alert_id): r for r in conn.execute(q)}
    return [Transition(by_id[k], AlertState.firing, r.at, by=r.by, via=r.via, note=r.note, event="acknowledged")
            for k, r in sorted(newest.items()) if not (r.via or "").startswith(acks.VIA_PREFIX)]


def carry(conn: Connection, late: list[Transition], room: str, row: Mapping[str, Any], origin: str) -> list[str]:
    """Queue for ``room`` the acknowledgements ``late`` of its alert ``row`` (:func:`carried_late`); the event ids."""
    return [acks.queue(conn, room, int(row["id"]), tr.by or tr.alert.acknowledged_by or "?", tr.at,
                       via=tr.via or "api", origin=origin, note=tr.note) for tr in late]


def _alert_rows(conn: Connection, rooms: list[str], after: int | None) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    """The room alerts' newest rows among those applied since record id ``after`` (None: every alert's newest
    row, at start): the newest record id looked at and (room, row) each."""
    if after is None:
        from siaga.peers.record import latest_rows

        newest = conn.execute(select(func.max(peer_records.c.id))).scalar_one_or_none() or 0
        return int(newest), [(room, dict(vars(r))) for room in rooms for r in latest_rows(conn, room, "alerts")]
    q = (select(peer_records.c.id, peer_records.c.site, peer_records.c.row_key, peer_records.c.data)
         .where(peer_records.c.id > after, peer_records.c.tbl == "alerts", peer_records.c.site.in_(rooms))
         .order_by(peer_records.c.id).limit(1000))
    last: dict[tuple[str, str], dict[str, Any]] = {}
    newest = after
    for rid, site, key, data in conn.execute(q):
        newest = max(newest, int(rid))
        if isinstance(data, Mapping):
            last[(str(site), str(key))] = dict(data)
    return newest, [(site, row) for (site, _key), row in last.items()]


def _at(value: Any, now: dt.datetime) -> dt.datetime:
    try:
        at = dt.datetime.fromisoformat(str(value))
    except (TypeError, ValueError):
        return now
    at = at if at.tzinfo else at.replace(tzinfo=dt.UTC)
    return min(at, now)


def component(ctx: RuntimeContext) -> Component | None:
    rooms = [p.id for p in ctx.config.peers.by_role(PeerRole.watches)]
    if not rooms:
        return None
    origin = ctx.config.peers.site_id or ""
    hub, notify = ctx.services.peers, ctx.services.notify
    if hub is not None and notify is not None:  # one page per event: what a heard room pages, it pages alone
        watched = hub

        def elsewhere(alert: Alert) -> str | None:
            return room_pages(alert, [watched.states[r] for r in rooms])

        notify.notifier.elsewhere = elsewhere

    unmatched = Unmatched()

    async def forward_one(tr: Transition) -> None:
        try:
            sent: list[str] | None = await ctx.run_db(lambda conn: forward(conn, tr, rooms, origin))
        except Exception as exc:  # the store: forwarded again at the next look
            if tr.alert.id not in unmatched.again:
                log.warning("acknowledgement not queued for the rooms yet; trying again",
                            extra={"alert": tr.alert.id, "error": str(exc)})
            sent = None
        unmatched.forwarded(tr, sent)
        for event_id in sent or ():
            log.info("acknowledgement queued for the room", extra={"alert": tr.alert.id, "event": event_id})

    async def forward_loop(stop: asyncio.Event) -> None:
        manager = ctx.services.alerts
        if manager is None:
            return
        queue = manager.subscribe()
        try:
            while not stop.is_set():
                try:
                    tr = await asyncio.wait_for(queue.get(), timeout=1.0)
                except TimeoutError:
                    continue
                if tr.event != "acknowledged" or (tr.via or "").startswith(acks.VIA_PREFIX):
                    continue
                await forward_one(tr)
        finally:
            manager.unsubscribe(queue)

    async def mirror_loop(stop: asyncio.Event) -> None:
        manager = ctx.services.alerts
        if manager is None:
            return
        cursor: int | None = None  # at start: every room alert's newest state
        while not stop.is_set():
            try:
                if cursor is None:  # at start: what was acknowledged here before, from the timeline
                    made = await ctx.run_db(functools.partial(acknowledged_here, alerts=manager.active()))
                    for tr in made:
                        unmatched.waiting.setdefault(tr.alert.id, tr)
                for tr in list(unmatched.again.values()):
                    await forward_one(tr)
                unmatched.keep_only({a.id for a in manager.active() if a.state is AlertState.acknowledged})
                newest, rows = await ctx.run_db(functools.partial(_alert_rows, rooms=rooms, after=cursor))
                for room, row in rows:
                    late = carried_late(unmatched.waiting, room, row)
                    if late:
                        queued = await ctx.run_db(functools.partial(carry, late=late, room=room, row=row,
                                                                    origin=origin))
                        for tr, event_id in zip(late, queued, strict=True):
                            unmatched.waiting.pop(tr.alert.id, None)
                            log.info("acknowledgement queued for the room (its alert arrived after it)",
                                     extra={"alert": tr.alert.id, "room": room, "event": event_id})
                    if str(row.get("state")) != AlertState.acknowledged.value:
                        continue
                    for ours in mirrored(manager.active(), room, row):
                        by = str(row.get("acknowledged_by") or "?")
                        at = _at(row.get("acknowledged_at"), ctx.clock())
                        with contextlib.suppress(AlertError):
                            await asyncio.to_thread(manager.ack, ours.id, by, f"{acks.VIA_PREFIX}{room}", None, at)
                            log.info("acknowledged with the room", extra={"alert": ours.id, "room": room, "by": by})
                cursor = newest  # once every row is done: a store that failed midway shows them again (both idempotent)
            except Exception:  # the store: looked at again next time
                log.exception("the room's acknowledgements not looked at")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LOOK_EVERY_S)

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        await asyncio.gather(forward_loop(stop), mirror_loop(stop))

    return Component("peers.acks", run)


__all__ = ["Unmatched", "acknowledged_here", "carried_late", "carry", "component", "counterpart", "forward", "mirrored",
           "room_pages"]
