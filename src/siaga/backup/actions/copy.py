"""Copy a job's new snapshot to one of its further targets (``copy_to``), recorded as a run of its own."""

from __future__ import annotations

import datetime as dt
import time

from siaga.backup import records
from siaga.backup.restic.commands import copy_command
from siaga.backup.restic.errors import ResticError
from siaga.backup.restic.repository import Repository
from siaga.backup.site import BackupError, BackupSite, failure_note, repository_lock
from siaga.backup.snapshots import RUN_TAG_PREFIX
from siaga.config.backup import BackupJob
from siaga.i18n.messages import Message


async def copy_snapshot(
    site: BackupSite,
    job: BackupJob,
    source: Repository,
    target_id: str,
    snapshot_id: str,
    run_tag: str,
    taken_at: dt.datetime,
) -> str | None:
    """The new snapshot's short id on ``target_id``, or None when the copy failed (the failure is recorded)."""
    destination = site.repository(target_id)
    run_id = records.start_run(
        site.engine, job=job.id, target=target_id, operation="copy", at=site.clock(), run_tag=run_tag
    )
    begin = time.monotonic()
    first, second = sorted([source.location, destination.location])
    new_id: str | None = None
    error: str | None = None
    kind: str | None = None
    try:
        async with repository_lock(first), repository_lock(second):
            await site.run_restic(
                copy_command(site.restic, source, destination, [snapshot_id]), destination, from_repo=source
            )
            found = await site.list_snapshots(destination, tags=[f"{RUN_TAG_PREFIX}{run_tag}"])
        if not found:
            raise BackupError(Message("backup.copy_none", {"snapshot": snapshot_id[:8],
                                                           "repository": destination.display}))
        new_id = found[-1].short_id
        records.record_snapshot(
            site.engine,
            target=target_id,
            snapshot_id=new_id,
            job=job.id,
            run_tag=run_tag,
            taken_at=taken_at,
            seen_at=site.clock(),
        )
    except (ResticError, BackupError) as exc:
        error = failure_note(exc)
        kind = exc.kind.value if isinstance(exc, ResticError) else exc.kind
    records.finish_run(
        site.engine,
        run_id,
        at=site.clock(),
        ok=new_id is not None,
        snapshot_id=new_id,
        duration_s=time.monotonic() - begin,
        error=error,
        error_kind=kind,
    )
    return new_id
