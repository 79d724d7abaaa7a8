"""Is a standby ready to take over? Pure decisions about its data's age, its last refresh and its checks.

Like :mod:`siaga.backup.freshness`: :func:`assess` takes the facts and the clock, does no I/O and returns
:class:`Condition` values (active or not) for the alert manager.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from siaga.i18n.messages import Message
from siaga.vocab import Condition, Severity, SubjectKind

CRITICAL_FACTOR = 2  # data older than twice the allowed age: the standby would bring back too little


@dataclass(frozen=True)
class StandbyFacts:
    service: str
    stale_after: dt.timedelta | None  # the service's RPO (or the standby's own stale_after)
    data_at: dt.datetime | None  # when the snapshot the standby serves was taken; None: never refreshed
    last_ok: bool | None  # the last refresh: True, False (failed), None (none yet or running)
    last_error: str | None
    checks_ok: bool | None  # the standby's checks after the last refresh
    watched_since: dt.datetime


def _cond(rule: str, facts: StandbyFacts, active: bool, severity: Severity, now: dt.datetime,
          summary: Message, value: float | None = None, **params: object) -> Condition:
    return Condition(
        rule=rule,
        subject=facts.service,
        subject_kind=SubjectKind.service,
        active=active,
        severity=severity,
        at=now,
        value=value,
        summary=summary if active else Message(),
        params=dict(params),
        fire_at_once=True,
    )


def assess(facts: StandbyFacts, now: dt.datetime) -> list[Condition]:
    """Every standby condition of one service at ``now``: stale, refresh failed, checks failed."""
    out: list[Condition] = []
    if facts.stale_after is not None:
        limit = facts.stale_after.total_seconds()
        age = (now - (facts.data_at or facts.watched_since)).total_seconds()
        severity = Severity.critical if age > CRITICAL_FACTOR * limit else Severity.warning
        summary = (
            Message("standby.stale.none", {"service": facts.service, "rpo_s": limit})
            if facts.data_at is None
            else Message("standby.stale", {"service": facts.service, "age_s": age, "rpo_s": limit})
        )
        out.append(_cond("standby.stale", facts, age > limit, severity, now, summary, value=age, rpo_s=limit))
    failed = facts.last_ok is False
    out.append(
        _cond("standby.failed", facts, failed, Severity.warning, now,
              Message("standby.failed", {"service": facts.service, "error": facts.last_error}),
              error=facts.last_error if failed else None)
    )
    out.append(
        _cond("standby.check", facts, facts.last_ok is True and facts.checks_ok is False, Severity.warning, now,
              Message("standby.check", {"service": facts.service, "error": facts.last_error}))
    )
    return out
