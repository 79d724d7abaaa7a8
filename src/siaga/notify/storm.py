"""Storm control: fold the queued notifications of one incident into few messages, never drop one. Pure.

Every notification waits in the outbox as a queued item (one alert, one recipient, one channel address).
:func:`form_batches` decides which items leave now, together:

- items share a batch when they go to the same recipient at the same address on the same channel,
  are of the same family (pages, follow-ups, acknowledged notices, resolved notices) and belong to the same
  incident (or, lacking one, the same room);
- the first batch of such a key leaves at once; the next not before ``group_window`` after it, and
  then carries everything queued meanwhile (a message lists ``max_listed`` alerts and counts the rest);
- at most ``rate_per_minute`` batches a minute reach one address of one channel; the others wait
  and grow, so a flood turns into a few long messages instead of a lost one.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from siaga.config.notify import StormControl
from siaga.notify.model import Kind, Recipient

MINUTE = dt.timedelta(minutes=1)


@dataclass(frozen=True)
class Queued:
    """One notification waiting in the outbox."""

    id: int
    alert_id: int
    group: str  # incident key: "incident:7", "room:ruang-server", "alert:12"
    recipient: Recipient
    channel: str
    address: str
    kind: Kind
    at: dt.datetime


def family(kind: Kind) -> str:
    return kind.family


BatchKey = tuple[str, str, str, str, str]  # recipient key, channel, address, family, group


def batch_key(item: Queued) -> BatchKey:
    return (item.recipient.key, item.channel, item.address, family(item.kind), item.group)


@dataclass(frozen=True)
class Batch:
    """Items that go out as one message."""

    key: BatchKey
    items: tuple[Queued, ...]

    @property
    def alert_ids(self) -> tuple[int, ...]:
        return tuple(dict.fromkeys(i.alert_id for i in self.items))

    @property
    def kind(self) -> Kind:
        kinds = [i.kind for i in self.items]
        for k in (Kind.repage, Kind.repeat, Kind.page):
            if k in kinds:
                return k
        return kinds[0]

    @property
    def recipient(self) -> Recipient:
        return self.items[0].recipient

    @property
    def channel(self) -> str:
        return self.items[0].channel

    @property
    def address(self) -> str:
        return self.items[0].address


@dataclass
class StormState:
    """What storm control remembers: when each key last formed a batch, recent batches per address."""

    last_formed: dict[BatchKey, dt.datetime] = field(default_factory=dict)
    recent: dict[tuple[str, str], list[dt.datetime]] = field(default_factory=lambda: defaultdict(list))

    def record(self, batch: Batch, at: dt.datetime) -> None:
        self.last_formed[batch.key] = at
        self.recent[(batch.channel, batch.address)].append(at)

    def prune(self, now: dt.datetime, window: dt.timedelta) -> None:
        horizon = now - max(window, MINUTE)
        for addr in list(self.recent):
            kept = [t for t in self.recent[addr] if t > now - MINUTE]
            if kept:
                self.recent[addr] = kept
            else:
                del self.recent[addr]
        for key in [k for k, t in self.last_formed.items() if t <= horizon]:
            del self.last_formed[key]


def form_batches(
    queued: Iterable[Queued], state: StormState, now: dt.datetime, storm: StormControl
) -> tuple[list[Batch], dt.datetime | None]:
    """The batches to send now (recorded in ``state``) and when to look again (None: nothing waits)."""
    by_key: dict[BatchKey, list[Queued]] = defaultdict(list)
    for item in queued:
        by_key[batch_key(item)].append(item)
    batches: list[Batch] = []
    wake: list[dt.datetime] = []
    for key in sorted(by_key, key=lambda k: min(i.at for i in by_key[k])):
        items = sorted(by_key[key], key=lambda i: (i.at, i.id))
        ready_at = now
        last = state.last_formed.get(key)
        if last is not None and now < last + storm.group_window:
            ready_at = last + storm.group_window
        recent = [t for t in state.recent.get((key[1], key[2]), []) if t > now - MINUTE]
        if len(recent) >= storm.rate_per_minute:
            ready_at = max(ready_at, sorted(recent)[len(recent) - storm.rate_per_minute] + MINUTE)
        if ready_at > now:
            wake.append(ready_at)
            continue
        batch = Batch(key, tuple(items))
        state.record(batch, now)
        batches.append(batch)
    return batches, (min(wake) if wake else None)


def listed(alert_ids: Sequence[int], max_listed: int) -> tuple[list[int], int]:
    """The alerts a message names and how many more it only counts."""
    return list(alert_ids[:max_listed]), max(0, len(alert_ids) - max_listed)
