"""The backup scheduler as a ``siaga serve`` component: backups, drills, retention + prune and rolling checks
on their cron schedules (site time zone), and the backup conditions handed to the alert manager each minute.

Work on one repository never overlaps (the manager's per-repository lock); stopping siaga cancels a running
step, and restic is then stopped with SIGINT.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from siaga.config.models import SiteConfig

if TYPE_CHECKING:
    from siaga.backup.manager import BackupManager
    from siaga.runtime.components import Component
    from siaga.runtime.context import RuntimeContext

log = logging.getLogger("siaga.backup")
CONDITIONS_EVERY_S = 60.0


@dataclass(frozen=True)
class Task:
    """Something the scheduler runs on a cron schedule."""

    name: str  # "backup portal-berkas", "drill db-utama", "retention colo-kaltim", "check colo-kaltim"
    schedule: str
    kind: str
    subject: str


def scheduled_tasks(config: SiteConfig) -> list[Task]:
    tasks: list[Task] = []
    for job in config.backups:
        if job.schedule:
            tasks.append(Task(f"backup {job.id}", job.schedule, "backup", job.id))
        if job.drill.schedule:
            tasks.append(Task(f"drill {job.id}", job.drill.schedule, "drill", job.id))
    for target in config.targets:
        if target.retention is not None and target.retention.schedule and not target.retention.empty:
            tasks.append(Task(f"retention {target.id}", target.retention.schedule, "retention", target.id))
        if target.check is not None:
            tasks.append(Task(f"check {target.id}", target.check.schedule, "check", target.id))
    return tasks


def next_due(task: Task, tz: ZoneInfo, after: dt.datetime) -> dt.datetime:
    """The first time after ``after`` that ``task`` is due (aware UTC). Pure."""
    from croniter import croniter

    nxt: dt.datetime = croniter(task.schedule, after.astimezone(tz)).get_next(dt.datetime)
    return nxt.astimezone(dt.UTC)


async def run_task(mgr: BackupManager, task: Task) -> None:
    if task.kind == "backup":
        result = await mgr.run_job(task.subject, scheduled=True)
        log.info("scheduled backup %s: %s", task.subject, "ok" if result.ok else result.error)
    elif task.kind == "drill":
        drill = await mgr.drill(task.subject, scheduled=True)
        log.info("scheduled drill %s: %s", task.subject, "ok" if drill.ok else drill.error)
    elif task.kind == "retention":
        await mgr.forget(task.subject, dry_run=False)
        await mgr.prune(task.subject)
    elif task.kind == "check":
        check = await mgr.check(task.subject)
        log.info("check %s (%s): %s", task.subject, check.subset, "ok" if check.ok else check.error)


async def schedule_loop(
    mgr: BackupManager,
    stop: asyncio.Event,
    *,
    clock: Callable[[], dt.datetime],
    runner: Callable[[BackupManager, Task], Awaitable[None]] = run_task,
) -> None:
    """Run every task when due until ``stop``; tasks of different repositories may run side by side."""
    tasks = scheduled_tasks(mgr.config)
    due = {t: next_due(t, mgr.tz, clock()) for t in tasks}
    running: set[asyncio.Task[None]] = set()
    last_conditions = 0.0
    loop = asyncio.get_running_loop()
    try:
        while not stop.is_set():
            now = clock()
            for task, when in list(due.items()):
                if when <= now:
                    due[task] = next_due(task, mgr.tz, now)
                    job = asyncio.create_task(_guarded(runner, mgr, task), name=task.name)
                    running.add(job)
                    job.add_done_callback(running.discard)
            if loop.time() - last_conditions >= CONDITIONS_EVERY_S:
                last_conditions = loop.time()
                with contextlib.suppress(Exception):
                    await asyncio.to_thread(mgr.publish)  # the alert manager is thread-safe
            wait = min([(w - now).total_seconds() for w in due.values()] + [CONDITIONS_EVERY_S])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.05, min(wait, CONDITIONS_EVERY_S)))
    finally:
        for job in running:
            job.cancel()
        if running:
            await asyncio.gather(*running, return_exceptions=True)


async def _guarded(
    runner: Callable[[BackupManager, Task], Awaitable[None]], mgr: BackupManager, task: Task
) -> None:
    try:
        await runner(mgr, task)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # one failing task never stops the scheduler
        log.error("%s failed: %s", task.name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


class _ServiceSink:
    """Hands conditions to the alert manager registered in ``ctx.services`` (looked up when needed, so the
    order of the component table does not matter)."""

    def __init__(self, ctx: RuntimeContext) -> None:
        self.ctx = ctx

    def submit(self, condition: Any) -> None:
        for name in ("alerts.manager", "alerts.sink"):
            target = self.ctx.services.get(name)
            if target is not None and hasattr(target, "submit"):
                target.submit(condition)
                return


def component(ctx: RuntimeContext) -> Component | None:
    """Factory for ``siaga serve``: nothing to run when no backups are configured."""
    from siaga.backup.manager import BackupManager
    from siaga.runtime.components import Component

    if not ctx.config.backups or ctx.demo:
        return None
    sink = _ServiceSink(ctx)
    mgr = BackupManager(
        ctx.config, engine=ctx.engine, base_dir=ctx.loaded.base_dir, clock=ctx.clock, sink=sink
    )
    ctx.services["backup.manager"] = mgr

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        await schedule_loop(mgr, stop, clock=ctx.clock)

    return Component("backup", run)
