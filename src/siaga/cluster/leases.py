"""Row leases on PostgreSQL: take, renew, check and give up a role, with a fencing token.

A role is one row of ``cluster_leases``. To take or renew it a process locks the row with
``SELECT ... FOR UPDATE SKIP LOCKED`` (a row another process is renewing right now is skipped, never
waited for), then:

- it is the holder with the same token: the lease is renewed (``expires_at`` moves on);
- the lease has expired (its holder stopped renewing): the role is taken, the token goes up by one;
- else someone else holds it: nothing changes.

The token is the fence: a write made for a role checks, in its own transaction, that the row still
carries the writer's holder and token and has not expired (:func:`check`, which locks the row ``FOR
SHARE`` so no takeover commits in between). A paused old holder that wakes finds a higher token and
writes nothing. Times are the processes' clocks (UTC): keep the machines on NTP.

The keeping of the leases held here has one home, :class:`Keeper`, for both keepers of a process (the
roles and check slots of :class:`siaga.cluster.component.Cluster`, the rule shards of
:class:`siaga.cluster.rule_keeper.RuleShardKeeper`): a round (:meth:`Keeper.renew`) every third of the
lease or just after another's lease ends (:func:`next_round_in`), each lease :class:`Held` until ``lease``
after the start of its last renewal by the monotonic clock, kept while the store is away
(:func:`keep_through_outage`), and given up at a clean stop (:func:`release_all`). What each keeper
takes in a round is its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError

from siaga.cluster.tables import cluster_leases
from siaga.errors import SiagaError
from siaga.store.types import utcnow

BUSY = "busy"
"""What :func:`take_or_renew` says when the row is locked by another transaction right now (a takeover, or
a write of the holder checking its fence): nothing is known, try again at the next round."""

K = TypeVar("K")


class LeaseLost(SiagaError):
    """A write for a role whose lease this process no longer holds (another process took it)."""


class Fence(Protocol):
    """What a role's writer checks (:class:`siaga.cluster.component.RoleFence`)."""

    def held(self) -> bool:
        """Held here now, by this process's own (monotonic) clock."""
        ...

    def check(self, conn: Connection, now: dt.datetime) -> None:
        """In the write's transaction: raise :class:`LeaseLost` unless the store says the token is current."""
        ...


@dataclass(frozen=True)
class Lease:
    role: str
    holder: str
    session_id: int | None
    token: int
    acquired_at: dt.datetime
    renewed_at: dt.datetime
    expires_at: dt.datetime


def _lease(row: object) -> Lease:
    return Lease(row.role, row.holder, row.session_id, int(row.token), row.acquired_at,  # type: ignore[attr-defined]
                 row.renewed_at, row.expires_at)  # type: ignore[attr-defined]


def take_or_renew(conn: Connection, role: str, holder: str, session_id: int | None, now: dt.datetime,
                  lease: dt.timedelta) -> Lease | str | None:
    """The lease of ``role`` after this call: this holder's (taken or renewed), or another process's (its
    ``holder`` is not ``holder``: when it ends, try again); :data:`BUSY` when the row is locked now; None
    when another process created the row first."""
    q = select(cluster_leases).where(cluster_leases.c.role == role).with_for_update(skip_locked=True)
    row = conn.execute(q).first()
    if row is None:
        exists = conn.execute(select(cluster_leases.c.role).where(cluster_leases.c.role == role)).first()
        if exists is not None:
            return BUSY  # locked by a process renewing or taking it, or by the holder's fenced write
        try:
            with conn.begin_nested():
                conn.execute(insert(cluster_leases).values(
                    role=role, holder=holder, session_id=session_id, token=1, acquired_at=now, renewed_at=now,
                    expires_at=now + lease))
        except IntegrityError:
            return None  # another process created it first
        return Lease(role, holder, session_id, 1, now, now, now + lease)
    current = _lease(row)
    if current.holder == holder:
        conn.execute(update(cluster_leases).where(cluster_leases.c.role == role)
                     .values(renewed_at=now, expires_at=now + lease))
        return Lease(role, holder, session_id, current.token, current.acquired_at, now, now + lease)
    if current.expires_at > now:
        return current
    token = current.token + 1
    conn.execute(update(cluster_leases).where(cluster_leases.c.role == role).values(
        holder=holder, session_id=session_id, token=token, acquired_at=now, renewed_at=now, expires_at=now + lease))
    return Lease(role, holder, session_id, token, now, now, now + lease)


def check(conn: Connection, role: str, holder: str, token: int, now: dt.datetime) -> None:
    """Raise :class:`LeaseLost` unless ``holder`` still holds ``role`` with ``token``; lock the row until the
    transaction ends, so the write that follows is made under the lease."""
    row = conn.execute(select(cluster_leases).where(cluster_leases.c.role == role).with_for_update(read=True)).first()
    if row is None or row.holder != holder or int(row.token) != token or row.expires_at <= now:
        raise LeaseLost(f"the lease of {role} is no longer held by {holder} (token {token})")


def still_held(conn: Connection, roles: Iterable[str], holder: str) -> set[str]:
    """Of ``roles``, those no other process has taken since ``holder`` had them: their row names ``holder``
    (renewed or run out; a lease run out is renewed by its last holder, never taken back from another), or
    no row is there. The rows are locked (shared) until the transaction ends, so a process taking one waits
    for the write that follows to commit, and then reads it.

    A slot's results are written only while this says so: a process whose lease ran out while it was slow
    (a busy machine, a pause) and that another process has taken writes nothing over the new holder's."""
    wanted = sorted(set(roles))
    if not wanted:
        return set()
    q = (select(cluster_leases.c.role, cluster_leases.c.holder).where(cluster_leases.c.role.in_(wanted))
         .order_by(cluster_leases.c.role).with_for_update(read=True))
    taken = {r.role for r in conn.execute(q) if r.holder != holder}
    return set(wanted) - taken


def release(conn: Connection, role: str, holder: str, token: int) -> None:
    """Give the role up at a clean stop: its lease ends now (the next process takes it at once, not after the
    lease); the row stays, so the token keeps growing."""
    conn.execute(update(cluster_leases).where(cluster_leases.c.role == role, cluster_leases.c.holder == holder,
                                              cluster_leases.c.token == token)
                 .values(expires_at=cluster_leases.c.renewed_at))


def all_leases(conn: Connection) -> list[Lease]:
    return [_lease(r) for r in conn.execute(select(cluster_leases).order_by(cluster_leases.c.role))]


@dataclass(frozen=True)
class Held:
    """A lease held here: its fencing token (0: taken while the store was away), and until when by this
    process's monotonic clock (which runs on while it is paused: a process stopped past its lease finds
    that it holds nothing before its first write)."""

    token: int
    until: float


def keep_through_outage(held: Mapping[K, Held], ours: Iterable[K], until: float, alone: bool | None) -> dict[K, Held]:
    """What this process holds while the store does not answer: every lease held, kept at least ``until``;
    and when it was ``alone`` at the last round that reached the store (or does not know: the store gone
    at start), every one of ``ours`` too.

    Paging never waits for the store: a holder cut off from PostgreSQL goes on with its duties (the notify
    holder pages from memory, a rule shard's holder evaluates its sensors). A process that still reaches
    the store may take a lease once it runs out, so in such a split both act for a while: a page may come
    twice, never none. When the store answers, the next round renews each lease or finds it taken and
    lets it go; a process paused past its lease (SIGSTOP) finds that out at once when the store does
    answer."""
    kept = {k: Held(h.token, max(h.until, until)) for k, h in held.items()}
    if alone is not False:
        for k in ours:
            kept.setdefault(k, Held(0, until))
    return kept


def next_round_in(lease_s: float, next_expiry: dt.datetime | None, now: dt.datetime) -> float:
    """Seconds to the next round: a third of the lease, or sooner, just after the first lease held by
    another process ends (``next_expiry``: a quick takeover)."""
    pause = lease_s / 3
    if next_expiry is not None:
        pause = min(pause, max(0.05, (next_expiry - now).total_seconds() + 0.05))
    return pause


def release_all(engine: Engine, holder: str, held: Mapping[str, Held]) -> None:
    """A clean stop: give every lease held up (role -> :class:`Held`), so the next holders take them at once."""
    with engine.begin() as conn:
        for role, h in held.items():
            release(conn, role, holder, h.token)


class Keeper:
    """A process's keeper of some leases: :meth:`keep` runs a round (:meth:`renew`, the subclass's) every
    :func:`next_round_in`, and at stop releases what :meth:`give_all_up` returns."""

    def __init__(self, engine: Engine, *, lease_s: float, clock: Callable[[], dt.datetime] = utcnow,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.lease_s = lease_s
        self.clock = clock
        self.monotonic = monotonic
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.session_id: int | None = None
        self.error: str | None = None  # the store's error at the last round, None when it answered
        self._next_expiry: dt.datetime | None = None  # when the first lease another process holds ends
        self._alone: bool | None = None  # no other live process at the last round that reached the store

    async def renew(self, session_id: int | None) -> None:
        """One round: take or renew this keeper's leases (a lease not renewed is lost here when it ends)."""
        raise NotImplementedError

    def give_all_up(self) -> dict[str, Held]:
        """At stop: hold nothing from now on; the leases held (role -> :class:`Held`), to be released."""
        raise NotImplementedError

    def note_theirs(self, lease: Lease | None) -> None:
        """A lease wanted here is another process's (None: another created it first): the next round comes
        just after the first such lease ends."""
        if lease is not None and (self._next_expiry is None or lease.expires_at < self._next_expiry):
            self._next_expiry = lease.expires_at

    async def in_thread(self, fn: Callable[..., object], *args: object) -> None:
        """Run ``fn(*args)`` (a store call) off the event loop."""
        await asyncio.to_thread(fn, *args)

    async def keep(self, session_id: int | None, stop: asyncio.Event) -> None:
        self.session_id = session_id
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{session_id}"
        while not stop.is_set():
            await self.renew(session_id)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), next_round_in(self.lease_s, self._next_expiry, self.clock()))
        held = self.give_all_up()
        with contextlib.suppress(DBAPIError):
            await self.in_thread(release_all, self.engine, self.holder, held)
