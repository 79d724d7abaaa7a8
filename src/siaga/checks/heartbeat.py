"""Heartbeat checks: a job pings ``/ping/<id>``; silence past its period plus grace means down.

The :class:`HeartbeatBook` remembers the last ping of every heartbeat (the web handler writes, the
probe reads). A job may also ping ``/ping/<id>/fail`` to say it failed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from siaga.checks.base import CheckFailed, Observation, ProbeContext
from siaga.config.checks import HeartbeatCheck
from siaga.i18n.messages import Message


@dataclass
class Ping:
    at: dt.datetime
    failed: bool = False
    count: int = 1


class HeartbeatBook:
    """The last ping per ping id, and since when we have been listening."""

    def __init__(self, listening_since: dt.datetime) -> None:
        self.listening_since = listening_since
        self._last: dict[str, Ping] = {}
        self.known: set[str] = set()
        self.dirty: set[str] = set()

    def ping(self, key: str, at: dt.datetime, *, failed: bool = False) -> bool:
        """Record a ping; False when no heartbeat has this id."""
        if key not in self.known:
            return False
        prev = self._last.get(key)
        self._last[key] = Ping(at, failed, (prev.count + 1) if prev else 1)
        self.dirty.add(key)
        return True

    def last(self, key: str) -> Ping | None:
        return self._last.get(key)

    def restore(self, key: str, at: dt.datetime, count: int = 1, failed: bool = False) -> None:
        """Load what the store remembered from before a restart."""
        self._last[key] = Ping(at, failed, count)


def heartbeat_verdict(
    check: HeartbeatCheck, last: Ping | None, listening_since: dt.datetime, now: dt.datetime
) -> Message | None:
    """Why the heartbeat is down (a ``check.heartbeat_*`` message), or None when it is on time. Pure."""
    allowed = dt.timedelta(seconds=check.period_s + check.grace_s)
    if last is not None and last.failed:
        return Message("check.heartbeat_failed", {"at": last.at.isoformat()})
    since = last.at if last is not None else listening_since
    late = now - since - allowed
    if late > dt.timedelta(0):
        if last is None:
            return Message("check.heartbeat_none", {"period_s": check.period_s, "grace_s": check.grace_s})
        ago = (now - last.at).total_seconds()
        return Message("check.heartbeat_late", {"ago_s": round(ago), "period_s": check.period_s,
                                                "grace_s": check.grace_s})
    return None


class HeartbeatProbe:
    def __init__(self, check: HeartbeatCheck) -> None:
        self.check = check

    async def probe(self, ctx: ProbeContext) -> Observation:
        book = ctx.heartbeats
        if book is None:
            raise RuntimeError("no heartbeat book")
        last = book.last(self.check.ping_key)
        reason = heartbeat_verdict(self.check, last, book.listening_since, ctx.clock())
        if reason is not None:
            raise CheckFailed(reason, retryable=False)
        said = Message("check.ok.heartbeat", {"at": last.at.isoformat()}) if last else Message("check.ok.waiting")
        return Observation(latency_ms=None, said=said)
