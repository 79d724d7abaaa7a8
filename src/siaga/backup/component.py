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
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from siaga.backup.site import in_english
from siaga.config.models import SiteConfig
from siaga.i18n import N_, _, get_language
from siaga.i18n.messages import Message, note_text, render
from siaga.vocab import Condition

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
    catch_up: dt.timedelta = dt.timedelta(0)  # how late a missed occurrence may still be run at start


def scheduled_tasks(config: SiteConfig) -> list[Task]:
    tasks: list[Task] = []
    for job in config.backups:
        if job.schedule:
            tasks.append(Task(f"backup {job.id}", job.schedule, "backup", job.id, job.catch_up))
        if job.drill.schedule:
            tasks.append(Task(f"drill {job.id}", job.drill.schedule, "drill", job.id, job.catch_up))
    for target in config.targets:
        if target.retention is not None and target.retention.schedule and not target.retention.empty:
            tasks.append(
                Task(f"retention {target.id}", target.retention.schedule, "retention", target.id, target.catch_up)
            )
        if target.check is not None and target.check.schedule:
            tasks.append(Task(f"check {target.id}", target.check.schedule, "check", target.id, target.catch_up))
    for standby in config.standbys:
        if standby.schedule:
            late_ok = dt.timedelta(days=1)  # a standby missed while siaga was down is refreshed at start
            tasks.append(Task(f"standby {standby.service}", standby.schedule, "standby", standby.service, late_ok))
    return tasks


def next_due(task: Task, tz: ZoneInfo, after: dt.datetime) -> dt.datetime:
    """The first time after ``after`` that ``task`` is due (aware UTC). Pure."""
    from croniter import croniter

    nxt: dt.datetime = croniter(task.schedule, after.astimezone(tz)).get_next(dt.datetime)
    return nxt.astimezone(dt.UTC)


def previous_due(task: Task, tz: ZoneInfo, before: dt.datetime) -> dt.datetime:
    """The last time at or before ``before`` that ``task`` was due (aware UTC). Pure."""
    from croniter import croniter

    prev: dt.datetime = croniter(task.schedule, before.astimezone(tz) + dt.timedelta(seconds=1)).get_prev(dt.datetime)
    return prev.astimezone(dt.UTC)


def missed_occurrence(
    task: Task, tz: ZoneInfo, *, now: dt.datetime, last_ran: dt.datetime | None, watched_since: dt.datetime
) -> dt.datetime | None:
    """The occurrence of ``task`` that siaga missed and should run once now, or None. Pure.

    Missed: the newest occurrence before ``now`` came after the task last ran (or, never run, after siaga first
    watched this site: a new install has missed nothing), and it is at most ``task.catch_up`` late. Only the newest
    is run, however many were missed.
    """
    if task.catch_up <= dt.timedelta(0):
        return None
    prev = previous_due(task, tz, now)
    if prev >= now:
        return None  # due right now: the ordinary schedule runs it
    if last_ran is not None and last_ran >= prev:
        return None
    if last_ran is None and prev < watched_since:
        return None
    if now - prev > task.catch_up:
        return None
    return prev


def last_ran(mgr: BackupManager, task: Task) -> dt.datetime | None:
    """When ``task`` last started, from the store (whatever its outcome)."""
    from siaga.backup import records

    if task.kind == "backup":
        run = records.last_run(mgr.engine, task.subject)
        return run.started_at if run else None
    if task.kind == "drill":
        drill = records.last_drill(mgr.engine, task.subject)
        return drill["started_at"] if drill else None
    if task.kind == "check":
        check = records.last_check(mgr.engine, task.subject)
        return check["started_at"] if check else None
    if task.kind == "standby":
        from siaga.standby.actions import last_run as last_standby_run

        refreshed = last_standby_run(mgr.engine, task.subject)
        return refreshed["started_at"] if refreshed else None
    return records.last_target_run(mgr.engine, task.subject, ("forget", "prune"))


def watched_since(mgr: BackupManager) -> dt.datetime:
    """When siaga first ran on this store (its first runtime session), else now."""
    from sqlalchemy import func, select

    from siaga.store.schema import runtime_sessions

    with mgr.engine.connect() as conn:
        value = conn.execute(select(func.min(runtime_sessions.c.started_at))).scalar()
    if isinstance(value, str):  # SQLite's min() loses the column type
        value = dt.datetime.fromisoformat(value).replace(tzinfo=dt.UTC)
    return value if isinstance(value, dt.datetime) else mgr.clock()


def missed_tasks(mgr: BackupManager, now: dt.datetime) -> list[tuple[Task, dt.datetime]]:
    """Every task whose newest occurrence was missed while siaga was down, with that occurrence."""
    since = watched_since(mgr)
    out: list[tuple[Task, dt.datetime]] = []
    for task in scheduled_tasks(mgr.config):
        missed = missed_occurrence(task, mgr.tz, now=now, last_ran=last_ran(mgr, task), watched_since=since)
        if missed is not None:
            out.append((task, missed))
    return out


def record_late(mgr: BackupManager, task: Task, due: dt.datetime, now: dt.datetime) -> None:
    """The timeline says the task runs late, and by how much."""
    from siaga.store.events import record_event

    with mgr.engine.begin() as conn:
        record_event(
            conn,
            "backup.late",
            subject=task.name,
            actor="siaga",
            data={
                "kind": task.kind,
                "subject": task.subject,
                "due": due.isoformat(),
                "late_s": (now - due).total_seconds(),
            },
            at=now,
        )


async def run_task(mgr: BackupManager, task: Task) -> None:
    if task.kind == "backup":
        result = await mgr.run_job(task.subject, scheduled=True)
        log.info("scheduled backup %s: %s", task.subject, "ok" if result.ok else in_english(result.error))
    elif task.kind == "drill":
        drill = await mgr.drill(task.subject, scheduled=True)
        log.info("scheduled drill %s: %s", task.subject, "ok" if drill.ok else in_english(drill.error))
    elif task.kind == "retention":
        await mgr.forget(task.subject, dry_run=False)
        await mgr.prune(task.subject)
    elif task.kind == "check":
        check = await mgr.check(task.subject)
        log.info("check %s (%s): %s", task.subject, check.subset, "ok" if check.ok else in_english(check.error))
    elif task.kind == "standby":
        from siaga.standby.actions import refresh

        done = await refresh(mgr, task.subject)
        log.info("standby %s refreshed: %s", task.subject, "ok" if done.ok else in_english(done.error))
        await asyncio.to_thread(mgr.publish)


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
        try:
            start = clock()
            missed = await asyncio.to_thread(missed_tasks, mgr, start)
        except Exception as exc:  # the store is down: no catch-up this start, the schedule still runs
            log.warning("cannot tell which scheduled backup steps were missed: %s", str(exc).splitlines()[0])
            missed = []
        for task, when in missed:
            log.warning("%s was due at %s and did not run (siaga was not running): running it now", task.name, when)
            with contextlib.suppress(Exception):
                await asyncio.to_thread(record_late, mgr, task, when, start)
            job = asyncio.create_task(_guarded(runner, mgr, task), name=f"{task.name} (late)")
            running.add(job)
            job.add_done_callback(running.discard)
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


async def _guarded(runner: Callable[[BackupManager, Task], Awaitable[None]], mgr: BackupManager, task: Task) -> None:
    try:
        await runner(mgr, task)
    except asyncio.CancelledError:
        raise
    except Exception as exc:  # one failing task never stops the scheduler
        log.error("%s failed: %s", task.name, str(exc).splitlines()[0] if str(exc) else type(exc).__name__)


DEMO_START_S = 3.0


async def demo_round(mgr: BackupManager) -> None:
    """``siaga demo``: one real backup and one restore drill of every job at start, into the demo's own
    repositories (local folders ``siaga demo`` writes into its config), so its backup cards show copies that
    exist and were proven. A step that fails is one line in the log; the demo goes on."""
    for target in mgr.config.targets:
        repo = mgr.resolve(target.path) if target.type.value == "local" and target.path else None
        if repo is not None and (repo / "config").exists():
            continue  # made by an earlier demo run
        try:
            where = await mgr.init_target(target.id)
            log.info("%s", _("demo: restic repository {where} made for target {target}").format(
                where=where, target=target.id))
        except Exception as exc:
            log.error("%s", _("demo: cannot make the repository of {target}: {reason}").format(
                target=target.id, reason=_first_line(exc)))
    for job in mgr.config.backups:
        for step, action in ((N_("backup"), mgr.run_job), (N_("restore drill"), mgr.drill)):
            try:
                result = await action(job.id)
                ok, reason = bool(getattr(result, "ok", False)), words(getattr(result, "error", None), mgr.tz)
            except Exception as exc:
                ok, reason = False, _first_line(exc)
            if ok:
                log.info("%s", _("demo: {step} of {job} done").format(step=_(step), job=job.id))
            else:
                log.error("%s", _("demo: {step} of {job} failed: {reason}").format(
                    step=_(step), job=job.id, reason=reason or "?"))
                break
    with contextlib.suppress(Exception):
        await asyncio.to_thread(mgr.publish)


def _first_line(exc: BaseException) -> str:
    why = getattr(exc, "why", None)
    if isinstance(why, Message):
        return render(why, get_language(), ZoneInfo("UTC"))
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def words(note: str | None, zone: ZoneInfo) -> str | None:
    """A stored failure worded in the language siaga speaks now."""
    return note_text(note, get_language(), zone)


class _ServiceSink:
    """Hands conditions to the alerts hub of the runtime (``ctx.services.alerts``, looked up when needed)."""

    def __init__(self, ctx: RuntimeContext) -> None:
        self.ctx = ctx

    def submit(self, condition: Condition) -> None:
        hub = self.ctx.services.alerts
        if hub is not None:
            hub.submit(condition)


def component(ctx: RuntimeContext) -> Component | None:
    """Factory for ``siaga serve``: nothing to run when no backups are configured."""
    from siaga.backup.manager import BackupManager
    from siaga.runtime.components import Component

    if not ctx.config.backups:
        return None
    sink = _ServiceSink(ctx)
    mgr = BackupManager(ctx.config, engine=ctx.engine, base_dir=ctx.loaded.base_dir, clock=ctx.clock, sink=sink)
    ctx.services.backup = mgr
    demo = ctx.demo

    async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
        if demo:
            with contextlib.suppress(TimeoutError):  # let the dashboard come up first
                await asyncio.wait_for(stop.wait(), DEMO_START_S)
            if not stop.is_set():
                await demo_round(mgr)
        await schedule_loop(mgr, stop, clock=ctx.clock)

    return Component("backup", run, role="backup")
