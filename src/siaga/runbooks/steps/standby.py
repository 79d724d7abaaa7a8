"""The ``standby`` step: the warm standby of a service takes over (started or reloaded, then checked with the
service's own checks); what it does is ``siaga.standby.actions.activate``, passed in by the run's context."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from siaga.runbooks.plan import Action
from siaga.runbooks.steps.base import Outcome, StepContext, said

if TYPE_CHECKING:
    from siaga.backup.manager import BackupManager


def activator(site: BackupManager, kind: str = "activate") -> Callable[[str], Awaitable[Outcome]]:
    """The step's action on ``site`` (``StepContext.standby``): the warm standby of a service takes over,
    recorded as ``kind`` (``drill`` in a recovery drill)."""

    async def take_over(service: str) -> Outcome:
        from siaga.standby.actions import activate

        ok, line, facts = await activate(site, service, kind=kind)
        return Outcome(ok, line, facts)

    return take_over


async def run(action: Action, ctx: StepContext) -> Outcome:
    if ctx.standby is None:
        return Outcome(False, said("runbook.step.standby.none", service=action.subject))
    try:
        return await asyncio.wait_for(ctx.standby(action.subject), action.timeout_s)
    except TimeoutError:
        return Outcome(False, said("runbook.step.standby.timeout", service=action.subject,
                                   timeout=round(action.timeout_s)), {"timed_out": True})
