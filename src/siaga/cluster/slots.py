"""The MQTT slots (``mqtt/<n>``): which broker sessions of the shared subscription each process runs.

Why slots: with persistent sessions (MQTT 5 session expiry > 0), mosquitto keeps a shared subscriber's
place in the group while it is away, deals it its share of the messages as before (queued for it), and
hands neither these nor its unacknowledged in-flight messages to the other members
(docs/sensing-sources.md). So a session must outlive the process that opened it, and someone must
take it up at once when that process dies. A session is named by its client id, so the client id is
tied to a slot, not to a process: the holder of the lease ``mqtt/<n>`` connects as ``<client_id>-<n>``
and gets what was queued for it.

The slots are spread over the live processes like the rule shards (:mod:`siaga.cluster.rule_shards`):

- there are as many slots as the most processes ever alive at once (rows ``mqtt/<n>`` of
  ``cluster_leases``): a process that finds no slot for it (more live processes than slots) makes the
  next one;
- each process takes free slots up to its share, ``ceil(slots / live)``; a slot left free longer than a
  lease (no process below its share took it: a dead process still counted live) is taken by anyone,
  so no slot's queue waits for nobody;
- the process holding the most (above its share, or above ``slots // live`` while another holds less)
  gives one up per round: it stops that slot's client first (:meth:`SlotKeeper.leaving`), and releases
  the lease once the client is gone (:meth:`SlotKeeper.let_go`), so two clients never use one client id.

:func:`plan` decides (pure); :class:`SlotKeeper` takes, renews and releases the leases.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import Callable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, select
from sqlalchemy.exc import DBAPIError

from siaga.cluster import leases
from siaga.cluster.members import members
from siaga.cluster.tables import cluster_leases
from siaga.store.types import utcnow

log = logging.getLogger("siaga.cluster")

PREFIX = "mqtt/"


def role(slot: int) -> str:
    return f"{PREFIX}{slot}"


@dataclass(frozen=True)
class Plan:
    """What this process does with the slots at this round."""

    keep: tuple[int, ...]  # held, renewed
    take: tuple[int, ...]  # free, taken now
    give_up: tuple[int, ...]  # held, stopped here and released once their client is gone


def plan(me: int, holders: Mapping[int, int | None], live: AbstractSet[int],
         long_free: AbstractSet[int] = frozenset()) -> Plan:
    """The slots for process ``me`` (a session id) this round.

    ``holders``: each known slot's holder (session id) while its lease runs, None when free; ``live``: the
    live processes (``me`` among them); ``long_free``: slots this process has seen free for longer than a
    lease (taken whatever the share)."""
    live = set(live) | {me}
    count = max(max(holders, default=-1) + 1, len(live))
    slots = {s: holders.get(s) for s in range(count)}
    share = math.ceil(count / len(live))
    floor = count // len(live)
    held: dict[int, int] = {m: 0 for m in live}
    for holder in slots.values():
        if holder is not None:
            held[holder] = held.get(holder, 0) + 1
    mine = sorted(s for s, h in slots.items() if h == me)
    free = sorted(s for s, h in slots.items() if h is None)
    others = [n for m, n in held.items() if m != me and m in live]
    richest = max(((n, m) for m, n in held.items() if m in live), default=(0, me))
    give_up: tuple[int, ...] = ()
    if mine and richest[1] == me and (len(mine) > share or (len(mine) > floor and others and min(others) < floor)):
        give_up = (mine[-1],)
    take: list[int] = []
    if not give_up:
        for s in free:
            if len(mine) + len(take) < share or s in long_free:
                take.append(s)
    return Plan(tuple(s for s in mine if s not in give_up), tuple(take), give_up)


def holders_of(conn: Connection, now: dt.datetime) -> dict[int, tuple[int | None, str]]:
    """Each known slot -> (its holder's session id, holder) while its lease runs; (None, "") when free."""
    out: dict[int, tuple[int | None, str]] = {}
    for row in conn.execute(select(cluster_leases).where(cluster_leases.c.role.like(f"{PREFIX}%"))):
        try:
            slot = int(row.role[len(PREFIX):])
        except ValueError:
            continue
        out[slot] = (row.session_id, row.holder) if row.expires_at > now else (None, "")
    return out


class SlotKeeper(leases.Keeper):
    """Takes, renews and gives up this process's MQTT slots; says which it holds now (:meth:`held`) and when
    that changes (:attr:`changed`)."""

    def __init__(self, engine: Engine, *, lease_s: float, clock: Callable[[], dt.datetime] = utcnow,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(engine, lease_s=lease_s, clock=clock, monotonic=monotonic)
        self._held: dict[int, leases.Held] = {}  # slot -> its token, held until (monotonic)
        self._leaving: set[int] = set()  # given up: their client stops, then the lease is released
        self._let_go: set[int] = set()  # leaving slots whose client has stopped
        self._free_since: dict[int, float] = {}  # monotonic time each free slot was first seen free
        self.changed = asyncio.Event()  # set when the slots held here change

    def held(self) -> list[int]:
        """The slots whose client runs here now (held, not being given up)."""
        now = self.monotonic()
        return sorted(s for s, h in self._held.items() if now < h.until and s not in self._leaving)

    def let_go(self, slot: int) -> None:
        """The client of a slot given up has stopped: its lease may be released."""
        self._let_go.add(slot)

    def _round(self, started: float) -> None:
        """One transaction: what it takes or renews is held here only once it commits."""
        now = self.clock()
        lease = dt.timedelta(seconds=self.lease_s)
        me = self.session_id if self.session_id is not None else -1
        got_of: list[tuple[int, leases.Lease | str | None]] = []
        with self.engine.begin() as conn:
            for slot in sorted(self._leaving & self._let_go):  # their client is gone: the next holder may come
                held = self._held.pop(slot, None)
                if held is not None:
                    leases.release(conn, role(slot), self.holder, held.token)
                self._leaving.discard(slot)
                self._let_go.discard(slot)
            live = {m.session_id for m in members(conn, now, lease)}
            rows = holders_of(conn, now)
            holders: dict[int, int | None] = {}
            for slot, (session, holder) in rows.items():
                if holder == self.holder or slot in self._leaving:
                    holders[slot] = me
                elif holder:
                    holders[slot] = session if session is not None else -2 - slot  # held by a process without a session
                else:
                    holders[slot] = None
            for slot in list(self._free_since):
                if holders.get(slot) is not None:
                    del self._free_since[slot]
            for slot, h in holders.items():
                if h is None:
                    self._free_since.setdefault(slot, started)
            long_free = {s for s, t in self._free_since.items() if started - t > self.lease_s}
            mine = plan(me, holders, live, long_free)
            for slot in mine.give_up:
                self._leaving.add(slot)
                log.info("cluster: MQTT slot given up (above this process's share)", extra={"slot": slot})
            for slot in sorted({*mine.keep, *mine.give_up, *mine.take}):
                got_of.append((slot, leases.take_or_renew(conn, role(slot), self.holder, self.session_id, now, lease)))
        self._alone = live <= {self.session_id}
        self._next_expiry = None
        for slot, got in got_of:
            if isinstance(got, str):
                continue  # busy: what is held stays held until its lease ends
            if got is None or got.holder != self.holder:
                self.note_theirs(got)
                self._held.pop(slot, None)
                continue
            self._held[slot] = leases.Held(got.token, started + self.lease_s)
            self._free_since.pop(slot, None)
            if slot not in self._leaving:
                self._let_go.discard(slot)

    async def renew(self, session_id: int | None) -> None:
        started = self.monotonic()
        before = self.held()
        try:
            await asyncio.to_thread(self._round, started)
            self.error = None
        except Exception as exc:  # the store away (or a bug): the slots held stay held meanwhile
            if self.error is None:
                log.warning("cluster: cannot renew the MQTT slots; this process keeps the slots it held",
                            extra={"error": (str(exc).splitlines() or [repr(exc)])[0]})
                if not isinstance(exc, DBAPIError):
                    log.exception("cluster: the MQTT slot keeper failed")
            self.error = str(exc) or repr(exc)
            # the broker keeps for a slot what nobody takes: keep running the sessions held, take no other
            self._held = leases.keep_through_outage(self._held, (), self.monotonic() + self.lease_s, False)
        if self.held() != before:
            self.changed.set()
        if self._leaving:  # release a slot given up as soon as its client stopped
            self._next_expiry = min(self._next_expiry or self.clock(), self.clock())

    async def run(self, session_id: int | None, stop: asyncio.Event) -> None:
        await self.keep(session_id, stop)
        self.changed.set()

    def give_all_up(self) -> dict[str, leases.Held]:
        held, self._held = self._held, {}
        return {role(s): h for s, h in held.items()}

    async def wait_changed(self, within_s: float) -> None:
        """Until the slots held here change, or ``within_s`` has passed."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.changed.wait(), within_s)
        self.changed.clear()
