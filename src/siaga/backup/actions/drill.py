"""Restore drills: the newest off-site snapshot of a job restored into a scratch place (a folder, or a scratch
database for a dump), verified against the manifest recorded at backup time, with the measured time to usable
data (RTO) and the snapshot's age (RPO) recorded."""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from pathlib import Path

from siaga.backup import records
from siaga.backup.actions.restore import load_dump
from siaga.backup.dumps import count_rows, create_database, drop_database, parse_server_url, scratch_name
from siaga.backup.manifest import DatabaseManifest, FileManifest, verify_restored_files
from siaga.backup.restic.commands import restore_command
from siaga.backup.restic.repository import Repository
from siaga.backup.results import DrillResult
from siaga.backup.site import BackupError, BackupSite, failure_note, repository_lock
from siaga.backup.snapshots import Snapshot
from siaga.config.backup import BackupJob
from siaga.config.secrets import SecretError
from siaga.i18n.messages import Message, note_of


async def drill(site: BackupSite, job_id: str, *, scheduled: bool = False) -> DrillResult:
    """Restore the newest off-site snapshot into a scratch place, verify it against the manifest recorded
    at backup time, and record the measured time to usable data (RTO) and the snapshot's age (RPO)."""
    job = site.job(job_id)
    target_id = site.drill_target(job)
    repo = site.repository(target_id)
    started = site.clock()
    result = DrillResult(job.id, target_id, False, started)
    try:
        async with repository_lock(repo.location):
            snaps = await site.list_snapshots(repo, job_id=job.id)
            if not snaps:
                raise BackupError(Message("backup.drill.no_snapshot", {"job": job.id, "repository": repo.display}))
            snap = snaps[-1]
            result.snapshot_id = snap.short_id
            result.snapshot_age_s = (started - snap.time).total_seconds()
            manifest = records.manifest_for(site.engine, snap.run_tag) if snap.run_tag else None
            if manifest is None:
                raise BackupError(Message("backup.drill.no_manifest", {"snapshot": snap.short_id, "job": job.id}))
            if isinstance(manifest, FileManifest):
                await _drill_files(site, job, repo, snap, manifest, result)
            else:
                await _drill_database(site, job, repo, snap, manifest, result)
        result.ok = not result.problems
        if not result.ok:
            result.error = note_of(Message("backup.drill.problems", {"count": len(result.problems),
                                                                     "problem": result.problems[0]}))
    except Exception as exc:  # restic, a backup step, the OS or a database driver: still a failed drill, recorded
        result.error = failure_note(exc)
    records.record_drill(
        site.engine,
        job=job.id,
        target=target_id,
        snapshot_id=result.snapshot_id,
        scheduled=scheduled,
        started_at=started,
        finished_at=site.clock(),
        ok=result.ok,
        restore_s=result.restore_s,
        verify_s=result.verify_s,
        rto_s=result.rto_s,
        snapshot_age_s=result.snapshot_age_s,
        checked=result.checked,
        bytes_restored=result.bytes_restored,
        problems=result.problems[:50],
        error=result.error,
    )
    if result.ok and result.snapshot_id:
        records.mark_verified(site.engine, target=target_id, snapshot_id=result.snapshot_id, at=site.clock())
    return result


async def _drill_files(
    site: BackupSite, job: BackupJob, repo: Repository, snap: Snapshot, manifest: FileManifest, result: DrillResult
) -> None:
    base = site.resolve(job.drill.scratch_dir) if job.drill.scratch_dir else None
    if base is not None:
        base.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=f"siaga-drill-{job.id}-", dir=base))
    try:
        begin = time.monotonic()
        await site.run_restic(restore_command(site.restic, repo, snap.id, str(scratch)), repo)
        restored = time.monotonic()
        check = await asyncio.to_thread(verify_restored_files, manifest, scratch)
        end = time.monotonic()
        result.restore_s, result.verify_s, result.rto_s = restored - begin, end - restored, end - begin
        result.checked, result.bytes_restored, result.problems = check.checked, check.bytes, list(check.problems)
    finally:
        if not job.drill.keep_scratch:
            await asyncio.to_thread(shutil.rmtree, scratch, True)


async def _drill_database(
    site: BackupSite,
    job: BackupJob,
    repo: Repository,
    snap: Snapshot,
    manifest: DatabaseManifest,
    result: DrillResult,
) -> None:
    if not job.drill.scratch_database_url:
        raise BackupError(Message("backup.drill.no_scratch", {"job": job.id}), "config")
    try:
        server = parse_server_url(job.drill.scratch_database_url, site.environ)
    except (ValueError, SecretError) as exc:
        raise BackupError(Message("backup.drill.scratch_url", {"job": job.id, "error": str(exc)}), "config") from None
    name = scratch_name(job.id, site.clock().strftime("%Y%m%d%H%M%S"))
    await asyncio.to_thread(create_database, server, name)
    try:
        begin = time.monotonic()
        digest, size = await load_dump(site, repo, snap.id, manifest.filename, server.with_database(name))
        loaded = time.monotonic()
        counts = await asyncio.to_thread(count_rows, server, name, list(manifest.tables))
        end = time.monotonic()
        result.restore_s, result.verify_s, result.rto_s = loaded - begin, end - loaded, end - begin
        result.bytes_restored = size
        problems: list[str] = []
        if digest != manifest.sha256:
            problems.append(note_of(Message("backup.problem.dump", {"digest": digest[:12]})))
        for table, rows in sorted(manifest.tables.items()):
            got = counts.get(table)
            if got is None:
                problems.append(note_of(Message("backup.problem.table_missing", {"table": table})))
            elif got != rows:
                problems.append(note_of(Message("backup.problem.rows", {"table": table, "got": got, "expected": rows})))
        result.checked = len(manifest.tables)
        result.problems = problems
    finally:
        if not job.drill.keep_scratch:
            await asyncio.to_thread(drop_database, server, name)
