"""``restic check`` of one target, reading today's ``k/N`` of the packs (a rolling check) by default."""

from __future__ import annotations

import time

from siaga.backup import records
from siaga.backup.restic.commands import check_command
from siaga.backup.restic.errors import ResticError
from siaga.backup.results import CheckResult
from siaga.backup.retention import check_subset
from siaga.backup.site import BackupSite, failure_note, repository_lock


async def check(site: BackupSite, target_id: str, *, subset: str | None = None) -> CheckResult:
    """Integrity check, reading today's ``k/N`` of the packs (rolling) unless ``subset`` says otherwise."""
    target = site.target(target_id)
    repo = site.repository(target_id)
    if subset is None and target.check is not None:
        subset = check_subset(site.clock().astimezone(site.tz).date(), target.check.read_data_days)
    started = site.clock()
    begin = time.monotonic()
    error: str | None = None
    try:
        async with repository_lock(repo.location):
            await site.run_restic(check_command(site.restic, repo, subset=subset), repo)
    except ResticError as exc:
        error = failure_note(exc)
    result = CheckResult(target_id, error is None, subset, time.monotonic() - begin, error)
    records.record_check(
        site.engine,
        target=target_id,
        subset=subset,
        started_at=started,
        finished_at=site.clock(),
        ok=result.ok,
        duration_s=result.duration_s,
        error=error,
    )
    return result
