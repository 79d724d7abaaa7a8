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


def _acknowledged_rows(conn: Connection, rooms: list[str], after: int | None
                       ) -> tuple[int, list[tuple[str, dict[str, Any]]]]:
    """The room alerts whose newest row in the record is acknowledged, among the rows applied since record id
    ``after`` (None: every alert's newest row, at start): the newest record id looked at and (room, row) each."""
    if after is None:
        from siaga.peers.record import latest_rows

        newest = conn.execute(select(func.max(peer_records.c.id))).scalar_one_or_none() or 0
        out = [(room, dict(vars(r))) for room in rooms for r in latest_rows(conn, room, "alerts")]
        return int(newest), [(room, row) for room, row in out if str(row.get("state")) == "acknowledged"]
    q = (select(peer_records.c.id, peer_records.c.site, peer_records.c.row_key, peer_records.c.data)
         .where(peer_records.c.id > after, peer_records.c.tbl == "alerts", peer_records.c.site.in_(rooms))
         .order_by(peer_records.c.id).limit(1000))
    last: dict[tuple[str, str], dict[str, Any]] = {}
    newest = after
    for rid, site, key, data in conn.execute(q):
        newest = max(newest, int(rid))
        if isinstance(data, Mapping):
            last[(str(site), str(key))] = dict(data)
    return newest, [(site, row) for (site, _key), row in last.items()
                    if row.get("state") == AlertState.acknowledged.value]


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
                try:
                    sent = await ctx.run_db(lambda conn, tr=tr: forward(conn, tr, rooms, origin))  # type: ignore[misc]
                except Exception:  # the store: this acknowledgement is not carried; logged
                    log.exception("acknowledgement not queued for the rooms", extra={"alert": tr.alert.id})
                    continue
                for event_id in sent:
                    log.info("acknowledgement queued for the room", extra={"alert": tr.alert.id, "event": event_id})
        finally:
            manager.unsubscribe(queue)

    async def mirror_loop(stop: asyncio.Event) -> None:
        manager = ctx.services.alerts
        if manager is None:
            return
        cursor: int | None = None  # at start: every room alert's newest state
        while not stop.is_set():
            try:
                cursor, rows = await ctx.run_db(functools.partial(_acknowledged_rows, rooms=rooms, after=cursor))
                for room, row in rows:
                    for ours in mirrored(manager.active(), room, row):
                        by = str(row.get("acknowledged_by") or "?")
                        at = _at(row.get("acknowledged_at"), ctx.clock())
                        with contextlib.suppress(AlertError):
                            await asyncio.to_thread(manager.ack, ours.id, by, f"{acks.VIA_PREFIX}{room}", None, at)
                            log.info("acknowledged with the room", extra={"alert": ours.id, "room": room, "by": by})
            except Exception:  # the store: looked at again next time
                log.exception("the room's acknowledgements not looked at")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), LOOK_EVERY_S)

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        await asyncio.gather(forward_loop(stop), mirror_loop(stop))

    return Component("peers.acks", run)


__all__ = ["component", "counterpart", "forward", "mirrored", "room_pages"]
