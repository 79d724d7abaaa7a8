"""Uptime over time, not over counts. Pure: timelines, sessions, windows and the clock come in.

A timeline is a list of :class:`Segment` (start, end, status) that covers a period without gaps.
- Observed statuses come from the confirmed changes of a check (``timeline``), a service's from its
  checks (``combine``: as bad as the worst).
- Time when siaga itself was not running is *unknown*, never up (``outside``).
- Maintenance windows are painted over everything (``paint``) and left out of the ratio.
- ``tally`` adds up seconds; :class:`Tally` gives the uptime ratio and whether an SLA target was met:
  *met* only when it holds even if every unknown second had been down, *missed* when it fails even
  if every unknown second had been up, else *undetermined*.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from siaga.checks.confirm import Status
from siaga.config.models import Criticality, Service

Interval = tuple[dt.datetime, dt.datetime]


@dataclass(frozen=True)
class Segment:
    start: dt.datetime
    end: dt.datetime
    status: Status

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()


def timeline(
    changes: Iterable[tuple[dt.datetime, Status]],
    start: dt.datetime,
    end: dt.datetime,
    initial: Status = Status.unknown,
) -> list[Segment]:
    """The statuses over [start, end) from changes (time, new status) in any order; ``initial`` before the first."""
    if end <= start:
        return []
    current = initial
    points: list[tuple[dt.datetime, Status]] = []
    for at, status in sorted(changes, key=lambda c: c[0]):
        if at <= start:
            current = status
        elif at < end:
            points.append((at, status))
    out: list[Segment] = []
    cursor = start
    for at, status in points:
        if at > cursor:
            out.append(Segment(cursor, at, current))
            cursor = at
        current = status
    out.append(Segment(cursor, end, current))
    return merge(out)


def merge(segments: Sequence[Segment]) -> list[Segment]:
    """Join neighbours of the same status; drop empty segments."""
    out: list[Segment] = []
    for seg in segments:
        if seg.end <= seg.start:
            continue
        if out and out[-1].status == seg.status and out[-1].end == seg.start:
            out[-1] = Segment(out[-1].start, seg.end, seg.status)
        else:
            out.append(seg)
    return out


def union(intervals: Iterable[Interval]) -> list[Interval]:
    """Sorted, non-overlapping intervals covering the same time."""
    out: list[Interval] = []
    for s, e in sorted(i for i in intervals if i[1] > i[0]):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def paint(segments: Sequence[Segment], intervals: Iterable[Interval], status: Status) -> list[Segment]:
    """``segments`` with ``status`` over every interval (clipped to the segments' span)."""
    spans = union(intervals)
    out: list[Segment] = []
    for seg in segments:
        cursor = seg.start
        for s, e in spans:
            if e <= cursor or s >= seg.end:
                continue
            s2, e2 = max(s, cursor), min(e, seg.end)
            if s2 > cursor:
                out.append(Segment(cursor, s2, seg.status))
            out.append(Segment(s2, e2, status))
            cursor = e2
        if cursor < seg.end:
            out.append(Segment(cursor, seg.end, seg.status))
    return merge(out)


def complement(intervals: Iterable[Interval], start: dt.datetime, end: dt.datetime) -> list[Interval]:
    """The parts of [start, end) not covered by ``intervals``."""
    out: list[Interval] = []
    cursor = start
    for s, e in union(intervals):
        if e <= cursor:
            continue
        if s >= end:
            break
        if s > cursor:
            out.append((cursor, s))
        cursor = max(cursor, e)
    if cursor < end:
        out.append((cursor, end))
    return out


def outside(segments: Sequence[Segment], running: Iterable[Interval]) -> list[Segment]:
    """Mark *unknown* every moment when siaga was not running."""
    if not segments:
        return []
    gaps = complement(running, segments[0].start, segments[-1].end)
    return paint(segments, gaps, Status.unknown)


def session_intervals(
    sessions: Iterable[tuple[dt.datetime, dt.datetime | None, dt.datetime | None]],
    now: dt.datetime,
    slack: dt.timedelta = dt.timedelta(seconds=120),
) -> list[Interval]:
    """When siaga ran, from runtime sessions (started_at, last_seen_at, stopped_at).

    A session that stopped cleanly ran until stopped_at; one that vanished (crash, power cut) ran
    until it was last seen, plus ``slack`` (its heartbeat period), never beyond now.
    """
    out: list[Interval] = []
    for started, last_seen, stopped in sessions:
        end = stopped if stopped is not None else min(now, (last_seen or started) + slack)
        if end > started:
            out.append((started, end))
    return union(out)


def combine(timelines: Sequence[Sequence[Segment]], start: dt.datetime, end: dt.datetime) -> list[Segment]:
    """A service's timeline from its checks': at each moment the worst status; unknown without checks."""
    if not timelines:
        return [Segment(start, end, Status.unknown)] if end > start else []
    cuts = {start, end}
    for tl in timelines:
        for seg in tl:
            if start < seg.start < end:
                cuts.add(seg.start)
            if start < seg.end < end:
                cuts.add(seg.end)
    points = sorted(cuts)
    idx = [0] * len(timelines)
    out: list[Segment] = []
    for a, b in itertools.pairwise(points):
        worst = Status.up
        for i, tl in enumerate(timelines):
            while idx[i] < len(tl) and tl[idx[i]].end <= a:
                idx[i] += 1
            status = tl[idx[i]].status if idx[i] < len(tl) and tl[idx[i]].start <= a else Status.unknown
            if status.rank > worst.rank:
                worst = status
        out.append(Segment(a, b, worst))
    return merge(out)


class SlaVerdict(StrEnum):
    met = "met"
    missed = "missed"
    undetermined = "undetermined"  # too much unknown time to tell


@dataclass(frozen=True)
class Tally:
    """Seconds per status over a period."""

    up_s: float = 0.0
    down_s: float = 0.0
    unknown_s: float = 0.0
    maintenance_s: float = 0.0

    def __add__(self, other: Tally) -> Tally:
        return Tally(
            self.up_s + other.up_s,
            self.down_s + other.down_s,
            self.unknown_s + other.unknown_s,
            self.maintenance_s + other.maintenance_s,
        )

    @property
    def total_s(self) -> float:
        return self.up_s + self.down_s + self.unknown_s + self.maintenance_s

    @property
    def uptime(self) -> float | None:
        """Up over observed time (maintenance and unknown left out); None when nothing was observed."""
        observed = self.up_s + self.down_s
        return self.up_s / observed if observed > 0 else None

    @property
    def worst_case(self) -> float | None:
        """Uptime if every unknown second had been down."""
        base = self.up_s + self.down_s + self.unknown_s
        return self.up_s / base if base > 0 else None

    @property
    def best_case(self) -> float | None:
        """Uptime if every unknown second had been up."""
        base = self.up_s + self.down_s + self.unknown_s
        return (self.up_s + self.unknown_s) / base if base > 0 else None

    @property
    def coverage(self) -> float | None:
        """The share of non-maintenance time siaga actually observed."""
        base = self.up_s + self.down_s + self.unknown_s
        return (self.up_s + self.down_s) / base if base > 0 else None

    def sla(self, target: float) -> SlaVerdict:
        """Whether an uptime target (0..1) was met over this period."""
        worst, best = self.worst_case, self.best_case
        if worst is None or best is None:
            return SlaVerdict.undetermined
        if worst >= target:
            return SlaVerdict.met
        if best < target:
            return SlaVerdict.missed
        return SlaVerdict.undetermined


def tally(segments: Iterable[Segment], start: dt.datetime | None = None, end: dt.datetime | None = None) -> Tally:
    """Seconds per status, optionally within [start, end)."""
    secs = {s: 0.0 for s in Status}
    for seg in segments:
        a = seg.start if start is None else max(seg.start, start)
        b = seg.end if end is None else min(seg.end, end)
        if b > a:
            secs[seg.status] += (b - a).total_seconds()
    return Tally(secs[Status.up], secs[Status.down], secs[Status.unknown], secs[Status.maintenance])


def day_bounds(day: dt.date, zone: ZoneInfo) -> Interval:
    """A local day (midnight to midnight in the site's zone) in UTC."""
    start = dt.datetime.combine(day, dt.time(), tzinfo=zone).astimezone(dt.UTC)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=zone).astimezone(dt.UTC)
    return start, end


def month_bounds(year: int, month: int, zone: ZoneInfo) -> Interval:
    first = dt.date(year, month, 1)
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    return day_bounds(first, zone)[0], day_bounds(nxt, zone)[0]


def daily(segments: Sequence[Segment], zone: ZoneInfo) -> dict[dt.date, Tally]:
    """Seconds per status for every local day the segments touch."""
    if not segments:
        return {}
    first = segments[0].start.astimezone(zone).date()
    last = (segments[-1].end - dt.timedelta(microseconds=1)).astimezone(zone).date()
    out: dict[dt.date, Tally] = {}
    day = first
    while day <= last:
        a, b = day_bounds(day, zone)
        out[day] = tally(segments, a, b)
        day += dt.timedelta(days=1)
    return out


def service_timeline(
    check_changes: Sequence[Sequence[tuple[dt.datetime, Status]]],
    start: dt.datetime,
    end: dt.datetime,
    *,
    initial: Sequence[Status] | None = None,
    running: Iterable[Interval] | None = None,
    maintenance: Iterable[Interval] = (),
) -> list[Segment]:
    """Everything together: checks' changes -> service timeline -> unknown when not running -> maintenance."""
    inits = list(initial) if initial is not None else [Status.unknown] * len(check_changes)
    tls = [timeline(ch, start, end, init) for ch, init in zip(check_changes, inits, strict=True)]
    segs = combine(tls, start, end)
    if running is not None:
        segs = outside(segs, running)
    return paint(segs, maintenance, Status.maintenance)


DEFAULT_SLA = {Criticality.vital: 99.9, Criticality.high: 99.5, Criticality.medium: 99.0, Criticality.low: 95.0}


def sla_target(service: Service) -> float:
    """The service's monthly uptime target in percent (its own, else by criticality)."""
    return service.sla if service.sla is not None else DEFAULT_SLA[service.criticality]
