"""The cluster of ``siaga serve`` processes on one store: the roles this process holds, and who is alive.

:class:`Cluster` (``ctx.services.cluster``) keeps this process's leases (a
:class:`siaga.cluster.leases.Keeper`, like the rule shards' keeper): every third of the lease it takes or
renews each declared role, and beats its runtime session (so :func:`siaga.cluster.members.members` is
fresh to the lease). A component declared with ``role=`` runs only while this
process holds that role (the supervisor wraps it with :meth:`Cluster.gated`): it is started when the
lease is taken, and its stop event is set when the lease is lost (not renewed in time, taken over).

A lease is held locally until ``lease`` seconds after the start of its last successful renewal (by the
monotonic clock, which runs on while a process is paused): a process stopped with SIGSTOP past its
lease finds, when it wakes, that it holds nothing, before its first write. Writes a role makes in the
store check the token too (:meth:`RoleFence.check`).

A duty shared across processes (the checks: :meth:`Cluster.shard`) is cut into slots, each a lease
too: every round the keeper reads the live members, computes the shard map
(:mod:`siaga.cluster.shards`), takes or renews the slots the map gives this process, and gives up the
others in two steps: at once locally (:meth:`Shard.owns` says no, so their work stops), then in the
store at the next round (the lease is released and the new owner takes it).

On SQLite there is one process (``siaga serve`` refuses a second one: :mod:`siaga.cluster.single`):
every role is held, with token 1, and nothing is written.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from siaga.cluster import leases, shards
from siaga.cluster.members import members, membership_window
from siaga.runtime.components import Component, ComponentRun
from siaga.store.engine import first_error_line
from siaga.store.sessions import heartbeat
from siaga.store.types import utcnow
from siaga.waits import until_either

if TYPE_CHECKING:
    from siaga.runtime.context import RuntimeContext

log = logging.getLogger("siaga.cluster")

LOOK_S = 1.0
"""A gated component's longest wait between two looks at its role (a round wakes it at once)."""


class Cluster(leases.Keeper):
    """This process's roles (one per singleton duty) and their leases."""

    def __init__(self, engine: Engine, *, lease_s: float, shared: bool,
                 clock: Callable[[], dt.datetime] = utcnow, monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(engine, lease_s=lease_s, clock=clock, monotonic=monotonic)
        self.shared = shared
        self.roles: list[str] = []
        self._held: dict[str, leases.Held] = {}
        self.duties: dict[str, int] = {}  # a duty shared across processes (checks) -> its number of slots
        self.live: list[str] = []  # the live processes (session ids) at the last round: the shard map's input
        self._leaving: set[str] = set()  # slot roles given up here (their work stops), released at the next round
        self._let_go: set[str] = set()  # leaving slots whose work has stopped and been written: free to release
        self._changed = asyncio.Event()  # set (and replaced) after every round: what is held may have changed
        # its own thread: a renewal never waits behind other work in the default pool (slow writes, snapshots)
        self._thread = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="siaga-leases")

    def declare(self, role: str) -> RoleFence:
        if role not in self.roles:
            self.roles.append(role)
        return RoleFence(self, role)

    def shard(self, duty: str, slots: int = shards.SLOTS) -> Shard:
        """Share ``duty`` across the live processes: its slots become leases this keeper takes (the map's
        share of this process) and gives up (the map gave them to another)."""
        self.duties[duty] = slots
        return Shard(self, duty, slots)

    def holds(self, role: str) -> bool:
        if not self.shared:
            return True
        if role in self._leaving:
            return False
        held = self._held.get(role)
        return held is not None and self.monotonic() < held.until

    def token(self, role: str) -> int | None:
        if not self.shared:
            return 1
        held = self._held.get(role)
        return held.token if held is not None and self.monotonic() < held.until else None

    def held_roles(self) -> dict[str, int]:
        return {r: t for r in self.roles if (t := self.token(r)) is not None}

    def held_slots(self, duty: str) -> list[int]:
        """The slots of ``duty`` this process runs now (all of them on SQLite)."""
        return [s for s in range(self.duties.get(duty, 0)) if self.holds(shards.role(duty, s))]

    # -- the keeper ---------------------------------------------------------------------------------
    def _round(self, session_id: int | None, leaving: set[str]
               ) -> tuple[dict[str, leases.Lease | str | None], set[str], list[str]]:
        """Take or renew the roles and this process's share of every duty's slots; release the slots given
        up at the previous round (their work has stopped since). Returns the leases, the slot roles wanted,
        and the live members.

        One transaction: what it took or renewed counts only once it commits (the caller applies the result
        after). Every lease row is locked ``SKIP LOCKED``, roles and slots each in sorted order, so two
        processes' rounds never wait for each other (a row being created waits for its creator's commit)."""
        out: dict[str, leases.Lease | str | None] = {}
        now = self.clock()
        lease = dt.timedelta(seconds=self.lease_s)
        wanted: set[str] = set()
        names: list[str] = []
        alone: bool | None = self._alone
        with self.engine.begin() as conn:
            for role in sorted(self.roles):
                out[role] = leases.take_or_renew(conn, role, self.holder, session_id, now, lease)
            if session_id is not None:
                heartbeat(conn, session_id, now)
                window = membership_window(self.lease_s, True)
                seen = members(conn, now, window)
                alone = all(m.session_id == session_id for m in seen)
                if self.duties:
                    names = shards.live(seen, now, window)
                    if str(session_id) not in names:
                        names = sorted([*names, str(session_id)], key=lambda s: (len(s), s))
                    for duty, slots in self.duties.items():
                        wanted |= {shards.role(duty, s) for s in shards.slots_of(str(session_id), names, duty, slots)}
                    for role in sorted(leaving - wanted):
                        held = self._held.get(role)
                        if held is not None:
                            leases.release(conn, role, self.holder, held.token)
                    for role in sorted(wanted):
                        out[role] = leases.take_or_renew(conn, role, self.holder, session_id, now, lease)
        self._alone = alone
        return out, wanted, names

    async def renew(self, session_id: int | None) -> None:
        """One round: take or renew every role (a role not renewed is lost locally when its lease ends); the
        components waiting for a role to come or go (:meth:`gated`) look again."""
        try:
            await self._renew(session_id)
        finally:
            changed, self._changed = self._changed, asyncio.Event()
            changed.set()

    async def _renew(self, session_id: int | None) -> None:
        started = self.monotonic()
        leaving = self._leaving & self._let_go  # released once their work has stopped (else: at lease end)
        try:
            got, wanted, names = await asyncio.get_running_loop().run_in_executor(
                self._thread, self._round, session_id, leaving)
        except DBAPIError as exc:
            if self.error is None:
                log.warning("cluster: cannot reach the store to renew the leases; this process keeps the roles it "
                            "held until the store answers again", extra={"error": first_error_line(exc)})
            self.error = first_error_line(exc)
            mine = [*self.roles, *(shards.role(d, s) for d, n in self.duties.items() for s in range(n))]
            self._held = leases.keep_through_outage(
                self._held, [r for r in mine if r not in self._leaving], started + self.lease_s, self._alone)
            return
        self.error = None
        self._next_expiry = None
        for role, lease in got.items():
            before = self._held.get(role)
            if isinstance(lease, str):
                continue  # the row was busy: what is held stays held until its lease ends (next round: again)
            if lease is None or lease.holder != self.holder:
                self.note_theirs(lease)
                if before is not None and "/" not in role:
                    log.warning("cluster: role taken over by another process", extra={"role": role})
                self._held.pop(role, None)
                continue
            if (before is None or before.token != lease.token) and "/" not in role:
                log.info("cluster: role taken", extra={"role": role, "token": lease.token})
            self._held[role] = leases.Held(lease.token, started + self.lease_s)
        if self.duties:
            self.live = names
            for role in leaving - wanted:  # released in this round
                self._held.pop(role, None)
            self._let_go -= leaving
            # a slot the map now gives another: its work stops at once (holds() says no), its lease is
            # released at the next round, so the next holder never starts it while this one still runs it
            self._leaving = {r for r in self._held if "/" in r and r not in wanted}
            self._let_go &= self._leaving

    async def run(self, session_id: int | None, stop: asyncio.Event) -> None:
        if not self.shared:
            await stop.wait()
            return
        await self.keep(session_id, stop)

    def give_all_up(self) -> dict[str, leases.Held]:
        held, self._held = self._held, {}
        return held

    async def in_thread(self, fn: Callable[..., object], *args: object) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    # -- roles in the supervisor ----------------------------------------------------------------------
    async def _until(self, want: bool, role: str, stop: asyncio.Event) -> None:
        """Until ``role`` is held here (``want``) or not: looked at after each round, and when its lease ends
        here (by this process's clock: a round that does not come, a store away), never more than
        :data:`LOOK_S` apart."""
        while not stop.is_set():
            changed = self._changed  # before the look: a round that ends after it wakes the wait below
            if self.holds(role) == want:
                return
            held = self._held.get(role)
            wait = LOOK_S if held is None else min(LOOK_S, max(0.0, held.until - self.monotonic()) + 0.01)
            await until_either(stop, changed, wait)

    def gated(self, role: str, run: ComponentRun) -> ComponentRun:
        """``run`` while this process holds ``role``: started when it is taken, stopped when it is lost."""
        self.declare(role)

        async def gated_run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
            while not stop.is_set():
                await self._until(True, role, stop)
                if stop.is_set():
                    return
                own = asyncio.Event()
                task: asyncio.Future[None] = asyncio.ensure_future(run(ctx, own))
                lost = asyncio.create_task(self._until(False, role, stop))
                await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
                own.set()
                lost.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await lost
                await task  # its failure is the supervisor's to see (and restart)
                if not stop.is_set() and self.holds(role):
                    return  # it ended by itself while holding its role: the supervisor restarts it
                if not stop.is_set():
                    log.warning("cluster: role lost; its component stopped", extra={"role": role})

        return gated_run


@dataclass(frozen=True)
class Shard:
    """A duty shared across the live processes (:mod:`siaga.cluster.shards`): which work items run here."""

    cluster: Cluster
    duty: str
    slots: int

    def owns(self, key: str) -> bool:
        """Whether this process runs work item ``key`` now (always, on SQLite)."""
        return self.cluster.holds(shards.role(self.duty, shards.slot_of(key, self.slots)))

    def still_ours(self, conn: Connection, keys: Iterable[str]) -> set[str]:
        """In a write's transaction: of work items ``keys``, those whose slot no other process has taken since
        this one ran it (:func:`siaga.cluster.leases.still_held`; all of them on SQLite). Their lease rows
        stay locked until the write commits."""
        role_of = {k: shards.role(self.duty, shards.slot_of(k, self.slots)) for k in keys}
        if not self.cluster.shared:
            return set(role_of)
        ours = leases.still_held(conn, role_of.values(), self.cluster.holder)
        return {k for k, r in role_of.items() if r in ours}

    def fence(self, key: str) -> RoleFence:
        return RoleFence(self.cluster, shards.role(self.duty, shards.slot_of(key, self.slots)))

    def held_slots(self) -> set[int]:
        return set(self.cluster.held_slots(self.duty))

    def let_go(self, slots: set[int]) -> None:
        """The work of ``slots`` has stopped here and is written: their leases may be released (the next
        owner starts from what was written)."""
        self.cluster._let_go |= {shards.role(self.duty, s) for s in slots}


@dataclass(frozen=True)
class RoleFence:
    """What a role's writes check: held here (locally), and still this process's token in the store."""

    cluster: Cluster
    role: str

    def held(self) -> bool:
        return self.cluster.holds(self.role)

    def check(self, conn: Connection, now: dt.datetime) -> None:
        """In the write's transaction: raise :class:`~siaga.cluster.leases.LeaseLost` unless the store still
        says this process holds the role with its token (the row stays locked until the write commits)."""
        if not self.cluster.shared:
            return
        token = self.cluster.token(self.role)
        if token is None:
            raise leases.LeaseLost(f"the lease of {self.role} is not held here")
        leases.check(conn, self.role, self.cluster.holder, token, now)


def component(ctx: RuntimeContext) -> Component:
    """The keeper, first in the table: sets ``ctx.services.cluster``."""
    cluster = Cluster(ctx.engine, lease_s=ctx.config.runtime.lease, shared=ctx.engine.dialect.name != "sqlite",
                      clock=ctx.clock)
    ctx.services.cluster = cluster

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        await cluster.run(ctx.session_id, stop)

    return Component("cluster", run)
