"""Probes from two places: when is a service down, and which site pages it. Pure: verdicts, peer state, clock in.

A room's service checks run in the room and, for the checks its colocation lists under ``probes:``, at the
colocation too. Each location folds its own results through the confirmation state machine
(:mod:`siaga.checks.confirm`) and tells the other its verdict per check (``up``, ``down``, ``unknown``) in
its heartbeats. A check is *down* when ``agree`` of the locations that answer (a verdict of up or down)
say down; by default (``agree`` unset) all that answer must. ``agree`` is capped by the locations that
answer: when only one answers, its verdict is the verdict.

One place decides each page:

- **The room decides its outages while it hears the colocation** (:func:`room_call`): it holds the
  inventory, the probable cause (a leak in the rack) and its people. It does not page a check the
  colocation reports passing (``disputed``: most likely its own uplink), nor an outage the colocation
  already paged while the room was silent (``taken``). When it cannot hear the colocation and every
  check the colocation probes is down from the room, its uplink is the likely cause: it holds the page
  (``uplink``); otherwise it decides alone.
- **The colocation decides "uplink down"** (:func:`colo_plan`): the room tells it that probed checks are
  down from the room while they pass from here, and no location agreement makes them outages.
- **The colocation takes over while the room is not heard** (silent, or stopped on purpose): it pages the
  outages its own probes confirm. When the room is heard again it takes no new ones; an outage it paged
  stays its own until its probes see the service up (the room, told so, raises no second alert).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from siaga.checks.confirm import Status

ROOM = "room"
COLO = "colocation"


def answering(verdicts: Mapping[str, Status]) -> dict[str, Status]:
    """The locations that answer: a verdict of up or down (unknown does not count)."""
    return {loc: v for loc, v in verdicts.items() if v in (Status.up, Status.down)}


def needed(agree: int | None, answers: int) -> int:
    """How many locations must say down: ``agree`` (all when unset), at most those that answer, at least 1."""
    return max(1, answers if agree is None else min(agree, answers))


def agreed_down(verdicts: Mapping[str, Status], agree: int | None = None) -> bool:
    """Whether the locations' verdicts on one check make it down."""
    answers = answering(verdicts)
    if not answers:
        return False
    return sum(v is Status.down for v in answers.values()) >= needed(agree, len(answers))


class PeerLink(StrEnum):
    """How one site hears the other."""

    heard = "heard"  # heartbeats arrive
    silent = "silent"  # no heartbeat for longer than its window (or its /healthz refused): an alarm
    stopped = "stopped"  # it said goodbye (a planned stop)
    waiting = "waiting"  # never heard yet, its window not over: nothing is decided about it


class Call(StrEnum):
    """What the room does with one service's outage."""

    up = "up"  # not down from the room
    down = "down"  # agreed down: the room raises service.down (pages)
    disputed = "disputed"  # down from the room, the colocation's probes pass: no page (the colocation words it)
    uplink = "uplink"  # the colocation is silent and every check it probes is down here: held, no page
    taken = "taken"  # the colocation paged this outage while the room was silent: not paged twice
    pending = "pending"  # the colocation's word since the outage was confirmed here not heard yet: held


@dataclass(frozen=True)
class ColoView:
    """What the room knows of its colocation's probes, from its last heartbeat."""

    link: PeerLink
    verdicts: Mapping[str, Status] = field(default_factory=dict)  # per check id it probes
    agree: int | None = None
    paged: frozenset[str] = frozenset()  # services whose outage it paged and still holds
    told_at: dt.datetime | None = None  # when the colocation sent this word (its clock; both on NTP)


def room_call(service: str, checks: Sequence[str], own: Mapping[str, Status], colo: ColoView | None,
              since: dt.datetime | None = None) -> Call:
    """The room's decision on ``service`` (its ``checks``), from its own verdicts (``own``: every check of the
    room), what its colocation told (None: no colocation) and ``since`` when the outage was confirmed here.

    A probed check's outage is decided on a word the colocation sent *after* ``since``: an older one may not
    tell an outage it paged meanwhile (heartbeats queued while the room was frozen arrive late, in order)."""
    down_here = [c for c in checks if own.get(c) is Status.down]
    if not down_here:
        return Call.up
    if colo is None or not colo.verdicts:
        return Call.down  # nobody else probes: the room alone, as a single siaga does
    if service in colo.paged:
        return Call.taken
    if colo.link is not PeerLink.heard:
        if colo.link is PeerLink.silent and _all_down_here(colo.verdicts, own):
            return Call.uplink
        return Call.down  # the only location that answers
    if any(c not in colo.verdicts for c in down_here):
        return Call.down  # a check only the room probes: the room alone
    if since is not None and (colo.told_at is None or colo.told_at <= since):
        return Call.pending
    for check in down_here:
        if agreed_down({ROOM: Status.down, COLO: colo.verdicts.get(check, Status.unknown)}, colo.agree):
            return Call.down
    return Call.disputed


def _all_down_here(probed: Mapping[str, Status], own: Mapping[str, Status]) -> bool:
    known = [own[c] for c in probed if own.get(c) in (Status.up, Status.down)]
    return bool(known) and all(v is Status.down for v in known)


@dataclass(frozen=True)
class ColoPlan:
    """What the colocation holds for one room: the uplink alert and the outages it pages itself."""

    uplink_since: dt.datetime | None = None  # "the room's uplink is down" since (None: not)
    uplink_checks: tuple[str, ...] = ()  # down from the room, up from here
    taken: Mapping[str, dt.datetime] = field(default_factory=dict)  # service -> since when this site pages it
    seen_down: Mapping[str, dt.datetime] = field(default_factory=dict)  # check -> when the room first said down

    @property
    def uplink_down(self) -> bool:
        return self.uplink_since is not None


def colo_plan(
    previous: ColoPlan,
    *,
    room: PeerLink,
    told: Mapping[str, Status],
    own: Mapping[str, Status],
    passed_at: Mapping[str, dt.datetime | None],
    service_of: Mapping[str, str],
    agree: int | None,
    now: dt.datetime,
) -> ColoPlan:
    """The colocation's plan for one room after looking at the verdicts: ``told`` (the room's, last told),
    ``own`` (its probes', per check id), ``passed_at`` (when its last attempt of each check passed; None when
    the last attempt failed) and whether the room is heard.

    "Up from here" counts for the uplink only when an attempt passed *after* the room first said the check
    was down (``seen_down``): a verdict confirmed before that may be stale, and the outage may simply not be
    confirmed here yet. The adapter probes such a check at once.
    """
    uplink_since, split, seen = previous.uplink_since, previous.uplink_checks, dict(previous.seen_down)
    if room is PeerLink.heard:  # silent: its last word stands; waiting: nothing was said yet
        down_there = [c for c in own if told.get(c) is Status.down]
        seen = {c: previous.seen_down.get(c, now) for c in down_there}
        split = tuple(c for c in down_there if own[c] is Status.up and _passed_after(passed_at.get(c), seen[c])
                      and not agreed_down({ROOM: Status.down, COLO: Status.up}, agree))
        uplink = bool(down_there) and len(split) == len(down_there)
        uplink_since = (previous.uplink_since or now) if uplink else None
        split = split if uplink else ()
    elif room is PeerLink.stopped:
        uplink_since, split, seen = None, (), {}
    down_here = {service_of[c] for c, v in own.items() if v is Status.down}
    taken = {s: since for s, since in previous.taken.items() if s in down_here}  # until its probes see it up
    if room in (PeerLink.silent, PeerLink.stopped):
        for s in sorted(down_here - set(taken)):
            taken[s] = now
    return ColoPlan(uplink_since, split, taken, seen)


def _passed_after(passed: dt.datetime | None, seen: dt.datetime) -> bool:
    return passed is not None and passed > seen


__all__ = ["COLO", "ROOM", "Call", "ColoPlan", "ColoView", "PeerLink", "agreed_down", "answering", "colo_plan",
           "needed", "room_call"]
