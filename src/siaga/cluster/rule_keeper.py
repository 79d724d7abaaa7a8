"""The leases of the rule shards (``rules/<n>``), spread evenly over the live processes.

Each process takes at most its fair share, ``ceil(shards / live processes)``, where a process is live
when its session was beaten within one lease (the cluster keeper beats it every third of the
lease): so a process killed has dropped out when its leases run out, and the others take its shards at
once, not after the membership window. Counting a live process as gone only lets the others take more
of the free shards for a round; no lease is ever taken from a live holder. A process above its share
(the first one started holds every shard until others join) gives the excess up: it stops evaluating
them at once and releases their leases in the same round, and a process below its share takes them at
its next round. A shard is never held by two processes: the lease rows and their ``FOR UPDATE SKIP
LOCKED`` (:mod:`siaga.cluster.leases`) decide.

Separate from :class:`siaga.cluster.component.Cluster`, whose roles every process tries to take (a
singleton duty goes to whoever is first); the rows live in the same ``cluster_leases`` table, so
``siaga cluster status`` shows them with the other roles.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import os
import socket
import time
from collections.abc import Callable

from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from siaga.cluster import leases
from siaga.cluster.members import members
from siaga.cluster.status import RULES_ROLE_PREFIX
from siaga.store.types import utcnow

log = logging.getLogger("siaga.cluster")


def fair_share(shards: int, live: int) -> int:
    return math.ceil(shards / max(1, live))


class RuleShardKeeper:
    """Takes, renews and gives up this process's share of the rule shards."""

    def __init__(self, engine: Engine, shards: int, *, lease_s: float, clock: Callable[[], dt.datetime] = utcnow,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.engine = engine
        self.shards = shards
        self.lease_s = lease_s
        self.clock = clock
        self.monotonic = monotonic
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self.session_id: int | None = None
        self._held: dict[int, tuple[int, float]] = {}  # shard -> (token, held until, monotonic)
        self._next_expiry: dt.datetime | None = None
        self.error: str | None = None
        self._alone: bool | None = None  # no other live process at the last round that reached the store

    def holds(self, shard: int) -> bool:
        held = self._held.get(shard)
        return held is not None and self.monotonic() < held[1]

    def held(self) -> list[int]:
        return sorted(k for k in self._held if self.holds(k))

    def _round(self, started: float) -> None:
        now = self.clock()
        lease = dt.timedelta(seconds=self.lease_s)
        with self.engine.connect() as conn:
            live = {m.session_id for m in members(conn, now, lease)}
        self._alone = live <= {self.session_id}
        if self.session_id is not None:
            live.add(self.session_id)
        cap = fair_share(self.shards, len(live))
        mine = self.held()
        keep, drop = mine[:cap], mine[cap:]
        for k in drop:  # stop evaluating first, then let the lease go
            token = self._held.pop(k)[0]
            with self.engine.begin() as conn:
                leases.release(conn, role(k), self.holder, token)
            log.info("cluster: rule shard given up (above this process's share)", extra={"shard": k, "share": cap})
        count = 0
        self._next_expiry = None
        for k in [*keep, *(k for k in range(self.shards) if k not in keep and k not in drop)]:
            if k not in keep and count >= cap:
                break
            with self.engine.begin() as conn:
                got = leases.take_or_renew(conn, role(k), self.holder, self.session_id, now, lease)
            if isinstance(got, str):
                if k in keep:
                    count += 1  # busy: what is held stays held until its lease ends
                continue
            if got is None or got.holder != self.holder:
                if got is not None and (self._next_expiry is None or got.expires_at < self._next_expiry):
                    self._next_expiry = got.expires_at
                self._held.pop(k, None)
                continue
            self._held[k] = (got.token, started + self.lease_s)
            count += 1

    async def run(self, session_id: int | None, stop: asyncio.Event) -> None:
        self.session_id = session_id
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{session_id}"
        while not stop.is_set():
            started = self.monotonic()
            try:
                await asyncio.to_thread(self._round, started)
                self.error = None
            except DBAPIError as exc:
                if self.error is None:
                    log.warning("cluster: cannot reach the store to renew the rule shards; this process goes on "
                                "evaluating the shards it held", extra={"error": str(exc).splitlines()[0]})
                self.error = str(exc)
                self._keep_through_outage()
            pause = self.lease_s / 3
            if self._next_expiry is not None:  # try again as soon as another's lease ends (a quick takeover)
                pause = min(pause, max(0.05, (self._next_expiry - self.clock()).total_seconds() + 0.05))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)
        held, self._held = self._held, {}
        with contextlib.suppress(DBAPIError):
            await asyncio.to_thread(self._release, held)

    def _keep_through_outage(self) -> None:
        """The store is away: go on evaluating the shards held (a leak must page while PostgreSQL is down, and
        nobody can be handed a reading now). Another process that still reaches the store may take them once
        their lease runs out, so in such a split both evaluate for a while: a page may come twice, never none.
        When the store is back the next round renews them, or finds them taken and lets them go."""
        until = self.monotonic() + self.lease_s
        self._held = {k: (token, max(was, until)) for k, (token, was) in self._held.items()}
        if self._alone is not False:  # alone (or not known yet: the store gone at start): every shard is ours
            for k in range(self.shards):
                self._held.setdefault(k, (0, until))

    def _release(self, held: dict[int, tuple[int, float]]) -> None:
        with self.engine.begin() as conn:
            for k, (token, _until) in held.items():
                leases.release(conn, role(k), self.holder, token)


def role(shard: int) -> str:
    return f"{RULES_ROLE_PREFIX}{shard}"
