"""The runbooks component of ``siaga serve``: it subscribes to the alerts hub and, for every runbook a
firing alert triggers (:mod:`siaga.runbooks.trigger`), records ``runbook.triggered`` in the timeline and:

- ``auto``: plans it from the inventory and runs it at once; a failing step (``on_failure: stop``) pages
  through the hub (a ``runbook.failed`` system alert on the subject ``runbook:<id>``);
- ``approve``: records ``runbook.proposed`` and tells people through the hub (a ``runbook.proposed`` system
  alert; notify writes into each recipient's message a one-tap approval link signed for that recipient,
  ``/runbooks/approve/<token>``, valid one hour from the proposal: ``runbooks.approval.approval_url``); the run
  starts once ``approvals`` different people approved (:mod:`siaga.runbooks.web`, the Telegram button);
- ``manual``: records ``runbook.suggested``.

One run of a runbook at a time: a trigger while it runs is recorded and not run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from siaga.config.runbooks import Runbook, RunbookMode
from siaga.i18n.messages import Message
from siaga.inventory import Inventory, TargetError
from siaga.notify.ack import TokenError
from siaga.runbooks.approval import (
    APPROVAL_TTL,
    GROUP_LINK,
    NO_SUCH_PERSON,
    NO_SUCH_RUNBOOK,
    PROPOSED_RULE,
    USED,
    Approval,
    spent_key,
    verify_approval,
)
from siaga.runbooks.engine import run_plan
from siaga.runbooks.plan import plan
from siaga.runbooks.steps import Outcome, StepContext
from siaga.runbooks.steps.standby import activator
from siaga.runbooks.trigger import triggered
from siaga.runtime import Component, RuntimeContext
from siaga.store.events import record_event
from siaga.vocab import Severity

log = logging.getLogger("siaga.runbooks")


def component(ctx: RuntimeContext) -> Component | None:
    if not ctx.config.runbooks.books:
        return None
    offer_approvals(ctx)
    return Component("runbooks", run)


async def record(ctx: RuntimeContext, kind: str, data: Mapping[str, Any], actor: str = "siaga") -> int | None:
    """One line in the timeline and the audit log; the timeline event's id (None when the store is away)."""
    subject = str(data.get("runbook"))

    def write(conn: Any) -> int:
        ident = record_event(conn, kind, subject=subject, actor=actor, data=data)
        record_event(conn, f"audit.{kind}", subject=subject, actor=actor, data=data)
        return ident

    try:
        return await ctx.run_db(write)
    except Exception:  # the store away: the run goes on, the log keeps it
        log.warning("runbook record %s not written", kind, exc_info=True)
        return None


async def execute(ctx: RuntimeContext, book: Runbook, cause: Mapping[str, Any], actor: str = "siaga") -> None:
    """Plan ``book`` from the inventory and run it, the hub as pager; every line recorded."""
    inventory = ctx.services.inventory or Inventory.from_config(ctx.config)
    try:
        p = plan(book, inventory, ctx.config.runbooks, ctx.clock())
    except TargetError as exc:
        await record(ctx, "runbook.run.refused", {"runbook": book.id, "error": str(exc), **cause})
        return
    lines: list[tuple[str, dict[str, Any]]] = []
    result = await run_plan(p, StepContext(base_dir=ctx.loaded.base_dir, standby=_standby(ctx)), actor=actor,
                            record=lambda k, d: lines.append((k, dict(d))), pager=ctx.services.alerts)
    for kind, data in lines:
        await record(ctx, kind, {**cause, **data}, actor)  # a step's own subject, not the alert's
    log.info("runbook %s: %s", book.id, result.status)


def _standby(ctx: RuntimeContext) -> Callable[[str], Awaitable[Outcome]] | None:
    """The ``standby`` step's action in ``siaga serve`` (None without standbys): the backup component's manager,
    or one of the runbook's own when the site has standbys but the component does not run."""
    if not ctx.config.standbys:
        return None
    from siaga.backup.manager import BackupManager

    mgr = ctx.services.backup or BackupManager(ctx.config, engine=ctx.engine, base_dir=ctx.loaded.base_dir,
                                                clock=ctx.clock)
    return activator(mgr)


async def propose(ctx: RuntimeContext, book: Runbook, cause: Mapping[str, Any]) -> None:
    """Record the proposal and tell people through the hub. The alert names the proposal and when its links
    expire; notify puts into each recipient's message a link signed for that recipient
    (:func:`siaga.runbooks.approval.approval_url`); ``url`` (the dashboard's runbooks page) stands where no
    recipient is known."""
    from siaga.notify.component import public_url

    proposal = await record(ctx, "runbook.proposed", {"runbook": book.id, "approvals": book.approvals, **cause})
    if proposal is None or ctx.services.alerts is None:
        return
    expires = int((ctx.clock() + APPROVAL_TTL).timestamp())
    ctx.services.alerts.system_alert(
        f"runbook:{book.id}", True, rule=PROPOSED_RULE, severity=Severity.critical,
        summary=Message(PROPOSED_RULE, {"runbook": book.id, "approvals": book.approvals,
                                        "url": f"{public_url(ctx).rstrip('/')}/runbooks", "proposal": proposal,
                                        "expires": expires, "rule": cause.get("rule"),
                                        "subject": cause.get("subject")}),
    )


_RUNS: set[asyncio.Task[None]] = set()
"""Runs started by an approval (kept referenced until they end)."""


async def approve(ctx: RuntimeContext, token: str, *, via: str = "link", person: str | None = None) -> Approval:
    """One approval of a proposal by a person, checked at use: the token must be signed by this siaga and
    unexpired. The approver is ``person`` when the caller knows who acts (the Telegram account's person, a
    dashboard account's person), else the person the link was signed for (a group's link approves nobody on
    the web). Each person's approval of a proposal is spent once, whatever the way (link, Telegram), so one
    person counts once; the run starts when ``approvals`` different people approved, and only once."""
    from siaga.notify.component import key_path
    from siaga.notify.keyfile import load_or_create_key
    from siaga.notify.links import spend_nonce
    from siaga.store.events import recent_events

    now = ctx.clock()
    try:
        claim = verify_approval(load_or_create_key(key_path(ctx)), token, now)
    except TokenError as exc:
        return Approval("", exc.why)
    book = ctx.config.runbooks.book(claim.runbook)
    if book is None:
        return Approval(claim.runbook, NO_SUCH_RUNBOOK)
    who = person if person is not None else claim.person
    if who is None:
        return Approval(book.id, GROUP_LINK, needed=book.approvals)
    people = {p.id: p for p in ctx.config.people}
    if who not in people:
        return Approval(book.id, NO_SUCH_PERSON, needed=book.approvals)
    name = people[who].name or who

    def spend(conn: Any) -> tuple[bool, int, bool]:
        if not spend_nonce(conn, spent_key(claim.proposal, who), claim.recipient, [], now):
            return False, 0, False
        approvers = {str((e.data or {}).get("person", ""))
                     for e in recent_events(conn, subject=book.id, kind="runbook.approved", limit=50)
                     if (e.data or {}).get("proposal") == claim.proposal}
        approvers.add(who)
        start = len(approvers) >= book.approvals and spend_nonce(conn, spent_key(claim.proposal, None),
                                                                 f"runbook:{book.id}", [], now)
        return True, len(approvers), start

    fresh, count, start = await ctx.run_db(spend)
    if not fresh:
        return Approval(book.id, USED, needed=book.approvals, name=name)
    data: dict[str, Any] = {"runbook": book.id, "proposal": claim.proposal, "approver": name, "person": who,
                            "approvals": count, "needed": book.approvals, "via": via}
    await record(ctx, "runbook.approved", data, actor=name)
    if start:
        task = asyncio.create_task(execute(ctx, book, {"proposal": claim.proposal}, actor=name))
        _RUNS.add(task)
        task.add_done_callback(_RUNS.discard)
    return Approval(book.id, None, count, book.approvals, start, name)


def offer_approvals(ctx: RuntimeContext) -> None:
    """Let the Telegram bot approve: its Approve button goes through :func:`approve` like the link."""
    svc = ctx.services.notify
    if svc is None or svc.approve_runbook is not None:
        return

    async def by_button(token: str, *, via: str, person: str | None = None) -> Approval:
        return await approve(ctx, token, via=via, person=person)

    svc.approve_runbook = by_button


async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
    offer_approvals(ctx)
    manager = ctx.services.alerts
    if manager is None:
        await stop.wait()
        return
    queue = manager.subscribe()
    running: dict[str, asyncio.Task[None]] = {}

    try:
        while not stop.is_set():
            getter = asyncio.ensure_future(queue.get())
            stopper = asyncio.ensure_future(stop.wait())
            done, _ = await asyncio.wait({getter, stopper}, return_when=asyncio.FIRST_COMPLETED)
            stopper.cancel()
            if getter not in done:
                getter.cancel()
                break
            transition = getter.result()
            for book in triggered(ctx.config.runbooks.books, transition):
                alert = transition.alert
                cause = {"alert": alert.id, "rule": alert.rule, "subject": alert.subject}
                await record(ctx, "runbook.triggered", {"runbook": book.id, "mode": book.mode.value, **cause})
                if book.mode is RunbookMode.auto:
                    task = running.get(book.id)
                    if task is None or task.done():
                        running[book.id] = asyncio.create_task(execute(ctx, book, cause))
                elif book.mode is RunbookMode.approve:
                    await propose(ctx, book, cause)
                else:
                    await record(ctx, "runbook.suggested", {"runbook": book.id, **cause})
    finally:
        manager.unsubscribe(queue)
        for task in running.values():
            if not task.done():
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await asyncio.wait_for(asyncio.shield(task), 30)


__all__ = ["PROPOSED_RULE", "Approval", "approve", "component", "execute", "offer_approvals", "propose", "record"]
