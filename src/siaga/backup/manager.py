"""The backup manager: the facade the CLI, the scheduler and the API call. Each method is one action of
``siaga.backup.actions`` (run, copy, forget, check, drill, restore) on this site's
:class:`~siaga.backup.site.BackupSite`, followed by what the result means for the alerts (``publish``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable, Sequence
from pathlib import Path

from siaga.alerts.model import Condition
from siaga.backup import records
from siaga.backup.actions import check as check_action
from siaga.backup.actions import drill as drill_action
from siaga.backup.actions import forget as forget_action
from siaga.backup.actions import restore as restore_action
from siaga.backup.actions import run as run_action
from siaga.backup.freshness import DrillFact, JobFacts, RunFact, assess
from siaga.backup.restic.commands import init_command
from siaga.backup.results import CheckResult, DrillResult, RunResult
from siaga.backup.retention import ForgetPlan
from siaga.backup.site import BackupError, BackupSite, repository_lock
from siaga.backup.snapshots import RUN_TAG_PREFIX, Snapshot, parse_snapshots, parse_summary
from siaga.config.backup import BackupJob
from siaga.standby.actions import standby_conditions

__all__ = [
    "RUN_TAG_PREFIX",
    "BackupError",
    "BackupManager",
    "CheckResult",
    "DrillResult",
    "RunResult",
    "Snapshot",
    "parse_snapshots",
    "parse_summary",
    "repository_lock",
]


class BackupManager(BackupSite):
    """Everything siaga does with backups, for one site."""

    async def init_target(self, target_id: str) -> str:
        repo = self.repository(target_id)
        async with repository_lock(repo.location):
            await self.run_restic(init_command(self.restic, repo), repo)
        return repo.display

    async def snapshots(self, target_id: str, *, job_id: str | None = None, tags: Sequence[str] = ()) -> list[Snapshot]:
        repo = self.repository(target_id)
        async with repository_lock(repo.location):
            return await self.list_snapshots(repo, job_id=job_id, tags=tags)

    async def run_job(
        self, job_id: str, *, scheduled: bool = False, on_dump_chunk: Callable[[int, int], None] | None = None
    ) -> RunResult:
        """Back up one job to its target, then copy the snapshot to its further targets."""
        result = await run_action.run_job(self, job_id, scheduled=scheduled, on_dump_chunk=on_dump_chunk)
        await asyncio.to_thread(self.publish, result.job)
        return result

    async def forget(self, target_id: str, *, dry_run: bool = True) -> dict[str, ForgetPlan]:
        """Apply each job's retention on ``target_id`` (a preview with ``dry_run``). Never prunes."""
        return await forget_action.forget(self, target_id, dry_run=dry_run)

    async def prune(self, target_id: str) -> float:
        """``restic prune`` on its own (never together with a backup); returns its duration."""
        return await forget_action.prune(self, target_id)

    async def check(self, target_id: str, *, subset: str | None = None) -> CheckResult:
        """Integrity check, reading today's ``k/N`` of the packs (rolling) unless ``subset`` says otherwise."""
        return await check_action.check(self, target_id, subset=subset)

    async def drill(self, job_id: str, *, scheduled: bool = False) -> DrillResult:
        """Restore the newest off-site snapshot into a scratch place, verify it, record the RTO and RPO."""
        result = await drill_action.drill(self, job_id, scheduled=scheduled)
        await asyncio.to_thread(self.publish, result.job)
        return result

    async def restore(
        self,
        job_id: str,
        *,
        snapshot: str | None = None,
        to: Path | None = None,
        to_database: str | None = None,
        from_target: str | None = None,
        overwrite: bool = False,
    ) -> tuple[str, float]:
        """Restore a snapshot of a job to a folder or a database; never overwrites unless told to."""
        return await restore_action.restore(
            self,
            job_id,
            snapshot=snapshot,
            to=to,
            to_database=to_database,
            from_target=from_target,
            overwrite=overwrite,
        )

    # --- what it all means ---------------------------------------------------------------------------

    def facts(self, job: BackupJob) -> JobFacts:
        newest = records.newest_snapshot_time(self.engine, job=job.id, targets=[job.target])
        run = records.last_run(self.engine, job.id)
        drill = records.last_drill(self.engine, job.id)
        return JobFacts(
            job=job.id,
            rpo=job.rpo_delta,
            rto=job.rto_delta,
            schedule=job.schedule,
            tz=self.tz,
            newest_good=newest,
            last_run=RunFact(run.started_at, run.ok, run.error) if run else None,
            last_drill=DrillFact(drill["started_at"], bool(drill["ok"]), drill["rto_s"], drill["error"])
            if drill
            else None,
            watched_since=min(filter(None, [self.started_at, records.first_run_time(self.engine, job.id)])),
        )

    def conditions(self, now: dt.datetime | None = None) -> list[Condition]:
        now = now or self.clock()
        out: list[Condition] = []
        for job in self.config.backups:
            out += assess(self.facts(job), now)
        return out

    def publish(self, job_id: str | None = None) -> list[Condition]:
        """Hand the current backup conditions (of one job, or all) to the alert sink."""
        now = self.clock()
        jobs = [self.job(job_id)] if job_id else self.config.backups
        conds: list[Condition] = []
        for job in jobs:
            conds += assess(self.facts(job), now)
        if job_id is None:
            conds += standby_conditions(self, now)
        if self.sink is not None:
            for cond in conds:
                self.sink.submit(cond)
        return conds
