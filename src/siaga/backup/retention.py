"""Which snapshots retention keeps and which it forgets: pure, decided by siaga, applied by explicit id.

The policy is restic's (keep the last snapshot of each of the last N hours/days/weeks/months/years), with
one rule restic does not know: the newest verified snapshot (the one a drill proved restorable) is never
forgotten, nor is the newest snapshot. restic is then told exactly which ids to forget, so the dry-run
preview is exactly what happens.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from siaga.config.backup import Retention


@dataclass(frozen=True)
class SnapshotInfo:
    id: str
    time: dt.datetime  # aware


@dataclass(frozen=True)
class ForgetPlan:
    keep: tuple[SnapshotInfo, ...]
    forget: tuple[SnapshotInfo, ...]
    reasons: dict[str, tuple[str, ...]] = field(default_factory=dict)  # snapshot id -> why it is kept


_BUCKETS: list[tuple[str, Callable[[dt.datetime], tuple[int, ...]]]] = [
    ("hourly", lambda t: (t.year, t.month, t.day, t.hour)),
    ("daily", lambda t: (t.year, t.month, t.day)),
    ("weekly", lambda t: tuple(t.isocalendar()[:2])),
    ("monthly", lambda t: (t.year, t.month)),
    ("yearly", lambda t: (t.year,)),
]


def plan_forget(
    snapshots: Iterable[SnapshotInfo],
    policy: Retention,
    *,
    tz: ZoneInfo,
    protect: Iterable[str] = (),
) -> ForgetPlan:
    """Split ``snapshots`` (of one job on one target) into kept and forgotten.

    ``protect`` are ids never forgotten (the newest verified snapshot). An empty policy keeps everything.
    """
    ordered: Sequence[SnapshotInfo] = sorted(snapshots, key=lambda s: (s.time, s.id), reverse=True)
    reasons: dict[str, list[str]] = {}

    def keep(snap: SnapshotInfo, why: str) -> None:
        reasons.setdefault(snap.id, []).append(why)

    if policy.empty:
        for snap in ordered:
            keep(snap, "no retention policy")
    if ordered:
        keep(ordered[0], "newest")
    protected = set(protect)
    for snap in ordered:
        if snap.id in protected:
            keep(snap, "newest verified")
    if policy.keep_last:
        for snap in ordered[: policy.keep_last]:
            keep(snap, "last")
    for name, bucket in _BUCKETS:
        count = getattr(policy, f"keep_{name}")
        if not count:
            continue
        last: tuple[int, ...] | None = None
        kept = 0
        for snap in ordered:
            if kept >= count:
                break
            key = bucket(snap.time.astimezone(tz))
            if key != last:
                keep(snap, name)
                kept += 1
                last = key
    kept_snaps = tuple(s for s in ordered if s.id in reasons)
    forgotten = tuple(s for s in ordered if s.id not in reasons)
    return ForgetPlan(kept_snaps, forgotten, {k: tuple(v) for k, v in reasons.items()})


def check_subset(day: dt.date, days: int) -> str:
    """The ``k/N`` of today's rolling check: day after day k runs 1..N, so every pack is read in N days."""
    return f"{day.toordinal() % days + 1}/{days}"
