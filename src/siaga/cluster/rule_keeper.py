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

Which leases it wants differs from :class:`siaga.cluster.component.Cluster`, whose roles every process
tries to take (a singleton duty goes to whoever is first); the keeping is the same one
(:class:`siaga.cluster.leases.Keeper`: the rounds, the leases kept while the store is away, the release at
stop). The rows live in the same ``cluster_leases`` table, so ``siaga cluster status`` shows them with the
other roles.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import math
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


class RuleShardKeeper(leases.Keeper):
    """Takes, renews and gives up this process's share of the rule shards."""

    def __init__(self, engine: Engine, shards: int, *, lease_s: float, clock: Callable[[], dt.datetime] = utcnow,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        super().__init__(engine, lease_s=lease_s, clock=clock, monotonic=monotonic)
        self.shards = shards
        self._held: dict[int, leases.Held] = {}  # shard -> its token, held until (monotonic)
        self.changed = asyncio.Event()  # set when the shards held here change (the rules load or let go)

    def holds(self, shard: int) -> bool:
        held = self._held.get(shard)
        return held is not None and self.monotonic() < held.until

    def held(self) -> list[int]:
        return sorted(k for k in self._held if self.holds(k))

    def _round(self, started: float) -> None:
        """One transaction: what it takes or renews is held here only once it commits; a shard above this
        process's share stops being evaluated here before its release is sent."""
        now = self.clock()
        lease = dt.timedelta(seconds=self.lease_s)
        got_of: list[tuple[int, leases.Lease | str | None]] = []
        with self.engine.begin() as conn:
            live = {m.session_id for m in members(conn, now, lease)}
            alone = live <= {self.session_id}
            if self.session_id is not None:
                live.add(self.session_id)
            cap = fair_share(self.shards, len(live))
            mine = self.held()
            keep, drop = mine[:cap], mine[cap:]
            for k in drop:  # stop evaluating first, then let the lease go
                token = self._held.pop(k).token
                leases.release(conn, role(k), self.holder, token)
            count = 0
            for k in [*keep, *(k for k in range(self.shards) if k not in keep and k not in drop)]:
                if k not in keep and count >= cap:
                    break
                got = leases.take_or_renew(conn, role(k), self.holder, self.session_id, now, lease)
                got_of.append((k, got))
                busy_but_held = isinstance(got, str) and k in keep  # what is held stays held until its lease ends
                if busy_but_held or (isinstance(got, leases.Lease) and got.holder == self.holder):
                    count += 1
        self._alone = alone
        for k in drop:
            log.info("cluster: rule shard given up (above this process's share)", extra={"shard": k, "share": cap})
        self._next_expiry = None
        for k, got in got_of:
            if isinstance(got, str):
                continue
            if got is None or got.holder != self.holder:
                self.note_theirs(got)
                self._held.pop(k, None)
                continue
            self._held[k] = leases.Held(got.token, started + self.lease_s)

    async def renew(self, session_id: int | None) -> None:
        started = self.monotonic()
        before = self.held()
        try:
            await asyncio.to_thread(self._round, started)
            self.error = None
        except DBAPIError as exc:
            if self.error is None:
                log.warning("cluster: cannot reach the store to renew the rule shards; this process goes on "
                            "evaluating the shards it held", extra={"error": str(exc).splitlines()[0]})
            self.error = str(exc)
            # the store is away: go on evaluating the shards held (a leak must page while PostgreSQL is down,
            # and nobody can be handed a reading now); alone, every shard
            self._held = leases.keep_through_outage(self._held, range(self.shards), self.monotonic() + self.lease_s,
                                                    self._alone)
        if self.held() != before:
            self.changed.set()

    async def run(self, session_id: int | None, stop: asyncio.Event) -> None:
        await self.keep(session_id, stop)
        self.changed.set()

    def give_all_up(self) -> dict[str, leases.Held]:
        held, self._held = self._held, {}
        return {role(k): h for k, h in held.items()}


def role(shard: int) -> str:
    return f"{RULES_ROLE_PREFIX}{shard}"
