"""The shard map: which live ``siaga serve`` process runs which share of a divisible duty (the checks). Pure.

A duty is cut into a fixed number of **slots** (:data:`SLOTS`); a work item (a service and all its
checks, so a service's status and its paging decision stay in one process) falls in the slot
:func:`slot_of` its id hashes to. The slots are dealt over the live processes by rendezvous hashing
(highest random weight) with bounded loads: every (slot, process) pair has a weight; taken heaviest first,
a pair gives its slot to its process unless the slot is dealt already or the process has its share
(``slots // processes``, one more for the first ``slots % processes`` to get there). So:

- every process computes the same map from the same member list, with no talk between them;
- the shares are even (within one slot), whatever the hashes;
- when a process joins or leaves, mostly the slots it gains or held move, not the others.

Each slot is also a lease (role ``<duty>/<slot>``, :mod:`siaga.cluster.leases`): a process runs a slot only
while it holds that lease, so two processes never run one slot at once, even while their member lists
differ for a moment (one sees a newcomer a round before the other). A process gives a slot up (stops its
work, then releases the lease) when the map gives it to another; a slot whose holder died is taken once
its lease has run out and the dead process has left the member list (:func:`live`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy import Connection

SLOTS = 64
"""Slots per duty: enough for even shares over a handful of processes, few enough leases to renew."""


class Seen(Protocol):
    """A member as :func:`live` reads it (:class:`siaga.cluster.members.Member` is one)."""

    @property
    def session_id(self) -> int: ...

    @property
    def last_seen_at(self) -> dt.datetime: ...


class Share(Protocol):
    """This process's share of a duty, as the part doing the work sees it
    (:class:`siaga.cluster.component.Shard` is one)."""

    @property
    def slots(self) -> int: ...

    def owns(self, key: str) -> bool:
        """Whether this process runs work item ``key`` now (by its own monotonic clock)."""
        ...

    def held_slots(self) -> set[int]:
        """The slots this process runs now."""
        ...

    def still_ours(self, conn: Connection, keys: Iterable[str]) -> set[str]:
        """In a write's transaction: of work items ``keys``, those no other process has taken since this one
        ran them (their results may be written; the others' new holder has run them again)."""
        ...

    def let_go(self, slots: set[int]) -> None:
        """The work of these slots has stopped here and is written: their leases may go to their next owner."""
        ...


def _weight(*parts: str) -> int:
    return int.from_bytes(hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest(), "big")


def slot_of(key: str, slots: int = SLOTS) -> int:
    """The slot a work item (a service id) falls in: stable across processes, runs and Python versions."""
    return _weight("slot", key) % slots


def live(members: Iterable[Seen], now: dt.datetime, within: dt.timedelta) -> list[str]:
    """The names (session ids) of the members seen within ``within`` of ``now``, sorted."""
    return sorted((str(m.session_id) for m in members if now - m.last_seen_at <= within), key=lambda s: (len(s), s))


def shard_map(members: Sequence[str], duty: str, slots: int = SLOTS) -> dict[int, str]:
    """Slot -> member, for every slot (empty when there is no member)."""
    if not members:
        return {}
    base, extra = divmod(slots, len(set(members)))  # each takes ``base`` slots, ``extra`` of them one more
    load = dict.fromkeys(members, 0)
    out: dict[int, str] = {}
    # every (slot, member) pair by its weight, heaviest first: a slot goes to the member that wants it most
    # and still has room (the same order everywhere, whatever the order of the list)
    pairs = sorted(((_weight(duty, str(slot), m), m, slot) for slot in range(slots) for m in set(members)),
                   reverse=True)
    for _w, member, slot in pairs:
        if slot in out or load[member] > base or (load[member] == base and extra == 0):
            continue
        if load[member] == base:
            extra -= 1
        out[slot] = member
        load[member] += 1
    return out


def slots_of(member: str, members: Sequence[str], duty: str, slots: int = SLOTS) -> set[int]:
    """The slots the map gives ``member`` (none when it is not among ``members``)."""
    return {s for s, m in shard_map(members, duty, slots).items() if m == member}


def role(duty: str, slot: int) -> str:
    """The lease role of one slot of a duty (``checks/7``)."""
    return f"{duty}/{slot}"
