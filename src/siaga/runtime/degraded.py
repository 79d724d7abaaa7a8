"""The "siaga degraded" page: a component restarting for ``page_after`` seconds pages like any alert.

It is a system alert of the alert manager (rule :data:`RULE`, subject the component's name, critical),
so it goes through the normal channels and escalation; its summary (message ``siaga.degraded``) is worded
per reader: "siaga terganggu: checks, sejak 6 Des 2026 11:12 WITA". It resolves once the component is healthy again
(or when siaga stops or reloads: the next run pages again if the trouble is still there).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Mapping
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from siaga.alerts.model import Severity
from siaga.i18n.messages import Message, render
from siaga.runtime.context import RuntimeContext
from siaga.runtime.status import ComponentStatus

RULE = "siaga.degraded"
DEGRADED_PAGE_AFTER = 15.0
"""Seconds a component may be restarting before siaga pages (a short store hiccup pages nobody)."""
POLL_SECONDS = 0.5

log = logging.getLogger("siaga.runtime")


class SystemAlerts(Protocol):
    def system_alert(self, component: str, active: bool, *, rule: str = ..., severity: Severity = ...,
                     summary: Message | None = ..., at: dt.datetime | None = None, **params: Any) -> None: ...


def _alerts(ctx: RuntimeContext) -> SystemAlerts | None:
    return ctx.services.alerts


def degraded_message(component: str, since: dt.datetime) -> Message:
    return Message("siaga.degraded", {"component": component, "since": since.isoformat()})


def degraded_summary(component: str, since: dt.datetime, *, zone: str, lang: str) -> str:
    """The page's summary as a reader of ``lang`` sees it (times in ``zone``)."""
    return render(degraded_message(component, since), lang, ZoneInfo(zone))


class DegradedPager:
    def __init__(self, ctx: RuntimeContext, *, page_after: float = DEGRADED_PAGE_AFTER) -> None:
        self.ctx = ctx
        self.page_after = page_after
        self.paged: set[str] = set()

    async def _tell(self, name: str, active: bool, status: ComponentStatus | None) -> None:
        alerts = _alerts(self.ctx)
        if alerts is None:
            return
        if active and status is not None:
            summary = degraded_message(name, status.since)
            params: dict[str, Any] = {"error": status.last_error or "", "restarts": status.restarts,
                                      "since": status.since.isoformat()}
        else:
            summary, params = Message("siaga.recovered", {"component": name}), {}
        # the manager writes the store: off the event loop (a dead database must not stall siaga)
        await asyncio.to_thread(
            alerts.system_alert, name, active, rule=RULE, severity=Severity.critical, summary=summary, **params
        )

    async def check(self, statuses: Mapping[str, ComponentStatus]) -> None:
        now = asyncio.get_running_loop().time()
        for name, status in list(statuses.items()):
            if status.degraded and name not in self.paged and now - status.since_monotonic >= self.page_after:
                log.error("siaga degraded: paging", extra={"component": name, "error": status.last_error,
                                                           "since": status.since.isoformat()})
                self.paged.add(name)
                await self._safely(name, True, status)
            elif not status.degraded and name in self.paged:
                self.paged.discard(name)
                await self._safely(name, False, status)

    async def _safely(self, name: str, active: bool, status: ComponentStatus | None) -> None:
        try:
            await self._tell(name, active, status)
        except Exception:  # the manager keeps what it could not store; never let paging end the pager
            log.exception("cannot hand the degraded alert to the alert manager", extra={"component": name})

    async def run(self, statuses: Mapping[str, ComponentStatus], stop: asyncio.Event) -> None:
        while not stop.is_set():
            await self.check(statuses)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), min(POLL_SECONDS, max(self.page_after, 0.05)))
        for name in sorted(self.paged):  # siaga stops or reloads: nobody would resolve it later
            await self._safely(name, False, statuses.get(name))
        self.paged.clear()
