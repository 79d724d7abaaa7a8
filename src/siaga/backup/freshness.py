"""Is a job's data safe? Pure decisions about backup age (RPO), failed vs missed runs and drills (RTO).

Each function takes the facts and the clock and returns :class:`Condition` values (active or not) for the
alert manager; the same inputs always give the same answer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from siaga.i18n.messages import Message
from siaga.vocab import Condition, Severity, SubjectKind

MISSED_GRACE = dt.timedelta(minutes=30)  # a scheduled run may start this late before it counts as missed


@dataclass(frozen=True)
class RunFact:
    started_at: dt.datetime
    ok: bool | None  # None: still running
    error: str | None = None


@dataclass(frozen=True)
class DrillFact:
    started_at: dt.datetime
    ok: bool
    rto_s: float | None
    error: str | None = None


@dataclass(frozen=True)
class JobFacts:
    job: str
    rpo: dt.timedelta | None
    rto: dt.timedelta | None
    schedule: str | None
    tz: ZoneInfo
    newest_good: dt.datetime | None  # time of the newest good snapshot on the job's target
    last_run: RunFact | None
    last_drill: DrillFact | None
    watched_since: dt.datetime  # when siaga started caring (config loaded, job first seen)


def _cond(
    rule: str,
    facts: JobFacts,
    active: bool,
    severity: Severity,
    now: dt.datetime,
    summary: Message,
    value: float | None = None,
    **params: object,
) -> Condition:
    return Condition(
        rule=rule,
        subject=facts.job,
        subject_kind=SubjectKind.backup,
        active=active,
        severity=severity,
        at=now,
        value=value,
        summary=summary if active else Message(),
        params=dict(params),
        fire_at_once=True,
    )


def last_scheduled_slot(schedule: str, tz: ZoneInfo, now: dt.datetime) -> dt.datetime:
    """The latest time at or before ``now`` the cron ``schedule`` (in ``tz``) asked for a run."""
    from croniter import croniter

    it = croniter(schedule, now.astimezone(tz))
    prev: dt.datetime = it.get_prev(dt.datetime)
    return prev.astimezone(dt.UTC)


def missed_slot(facts: JobFacts, now: dt.datetime) -> dt.datetime | None:
    """The scheduled time whose run never started (grace allowed), or None."""
    if not facts.schedule:
        return None
    slot = last_scheduled_slot(facts.schedule, facts.tz, now - MISSED_GRACE)
    if slot < facts.watched_since:
        return None
    started = facts.last_run.started_at if facts.last_run else None
    if started is not None and started >= slot - dt.timedelta(minutes=1):
        return None
    return slot


def assess(facts: JobFacts, now: dt.datetime) -> list[Condition]:
    """Every backup condition of one job at ``now``: failed, missed, rpo, drill, rto."""
    out: list[Condition] = []
    run = facts.last_run
    failed = run is not None and run.ok is False
    out.append(
        _cond(
            "backup.failed",
            facts,
            failed,
            Severity.warning,
            now,
            Message("backup.failed", {"job": facts.job, "error": run.error if run else None}),
            error=(run.error if run else None),
        )
    )
    slot = missed_slot(facts, now)
    out.append(
        _cond(
            "backup.missed",
            facts,
            slot is not None,
            Severity.warning,
            now,
            Message("backup.missed", {"job": facts.job, "slot": slot.isoformat() if slot else None}),
            slot=slot.isoformat() if slot else None,
        )
    )
    if facts.rpo is not None:
        if facts.newest_good is None:
            age = now - facts.watched_since
            stale = age > facts.rpo
            summary = Message("backup.rpo.none", {"job": facts.job, "rpo_s": facts.rpo.total_seconds()})
        else:
            age = now - facts.newest_good
            stale = age > facts.rpo
            cause = "failed" if failed else ("missed" if slot is not None else "late")
            summary = Message("backup.rpo.old", {"job": facts.job, "age_s": age.total_seconds(),
                                                 "rpo_s": facts.rpo.total_seconds(), "cause": cause})
        out.append(
            _cond(
                "backup.rpo",
                facts,
                stale,
                Severity.critical,
                now,
                summary,
                value=age.total_seconds(),
                rpo_s=facts.rpo.total_seconds(),
                cause=("failed" if failed else "missed" if slot else "late"),
            )
        )
    drill = facts.last_drill
    drill_failed = drill is not None and not drill.ok
    out.append(
        _cond(
            "backup.drill",
            facts,
            drill_failed,
            Severity.critical,
            now,
            Message("backup.drill", {"job": facts.job, "error": drill.error if drill else None}),
            error=drill.error if drill else None,
        )
    )
    if facts.rto is not None:
        slow = (
            drill is not None
            and drill.ok
            and drill.rto_s is not None
            and drill.rto_s > facts.rto.total_seconds()
        )
        measured = drill.rto_s if drill is not None else None
        out.append(
            _cond(
                "backup.rto",
                facts,
                slow,
                Severity.warning,
                now,
                Message("backup.rto", {"job": facts.job, "took_s": measured or 0.0,
                                       "rto_s": facts.rto.total_seconds()}),
                value=measured,
                rto_s=facts.rto.total_seconds(),
            )
        )
    return out
