"""Retention (``restic forget`` of what each job's policy no longer keeps) and ``restic prune``."""

from __future__ import annotations

import time

from siaga.backup import records
from siaga.backup.restic.commands import forget_ids_command, prune_command
from siaga.backup.retention import ForgetPlan, SnapshotInfo, plan_forget
from siaga.backup.site import BackupSite, repository_lock


async def forget(site: BackupSite, target_id: str, *, dry_run: bool = True) -> dict[str, ForgetPlan]:
    """Apply each job's retention on ``target_id`` (a preview with ``dry_run``). Never prunes. The newest
    verified snapshot of a job is always kept."""
    target = site.target(target_id)
    repo = site.repository(target_id)
    plans: dict[str, ForgetPlan] = {}
    if target.retention is None:
        return plans
    verified = records.verified_snapshot_ids(site.engine, target_id)
    jobs = [j for j in site.config.backups if j.target == target_id or target_id in j.copy_to]
    async with repository_lock(repo.location):
        for job in jobs:
            snaps = await site.list_snapshots(repo, job_id=job.id)
            mine = [s for s in snaps if s.short_id in verified]
            newest_verified = max(mine, key=lambda s: s.time).id if mine else None
            plan = plan_forget(
                [SnapshotInfo(s.id, s.time) for s in snaps],
                target.retention,
                tz=site.tz,
                protect=[newest_verified] if newest_verified else [],
            )
            plans[job.id] = plan
            if dry_run or not plan.forget:
                continue
            ids = [s.id for s in plan.forget]
            run_id = records.start_run(site.engine, job=job.id, target=target_id, operation="forget", at=site.clock())
            begin = time.monotonic()
            with site.failure_recorded(run_id, begin):
                await site.unlock(repo)
                await site.run_restic(forget_ids_command(site.restic, repo, ids), repo)
            records.mark_forgotten(
                site.engine, target=target_id, snapshot_ids=[s.id[:8] for s in plan.forget], at=site.clock()
            )
            records.finish_run(
                site.engine, run_id, at=site.clock(), ok=True, files=len(ids), duration_s=time.monotonic() - begin
            )
    return plans


async def prune(site: BackupSite, target_id: str) -> float:
    """``restic prune`` on its own (never together with a backup); returns its duration."""
    repo = site.repository(target_id)
    run_id = records.start_run(site.engine, job=None, target=target_id, operation="prune", at=site.clock())
    begin = time.monotonic()
    with site.failure_recorded(run_id, begin):
        async with repository_lock(repo.location):
            await site.unlock(repo)
            await site.run_restic(prune_command(site.restic, repo), repo)
    duration = time.monotonic() - begin
    records.finish_run(site.engine, run_id, at=site.clock(), ok=True, duration_s=duration)
    return duration
