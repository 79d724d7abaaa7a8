"""Restore for the bad day: a job's snapshot into a folder, or its stored dump into a database (never over
what is there unless told to); and :func:`load_dump`, which drills use too."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import time
from pathlib import Path

from siaga.backup import process
from siaga.backup.dumps import (
    ServerURL,
    create_database,
    database_state,
    dump_filename,
    load_invocation,
    parse_server_url,
)
from siaga.backup.manifest import CHUNK
from siaga.backup.restic import execute
from siaga.backup.restic.commands import dump_command, restore_command
from siaga.backup.restic.errors import classify
from siaga.backup.restic.repository import Repository
from siaga.backup.site import BackupError, BackupSite, repository_lock
from siaga.backup.snapshots import Snapshot
from siaga.config.secrets import SecretError
from siaga.i18n.messages import Message

log = logging.getLogger("siaga.backup")


def _not_empty(path: Path) -> bool:
    return path.exists() and any(path.iterdir())


async def restore(
    site: BackupSite,
    job_id: str,
    *,
    snapshot: str | None = None,
    to: Path | None = None,
    to_database: str | None = None,
    from_target: str | None = None,
    overwrite: bool = False,
) -> tuple[str, float]:
    """Restore a snapshot of a job to a folder or a database; never overwrites unless told to.
    Returns the snapshot id and the time it took."""
    job = site.job(job_id)
    target_id = from_target or job.target
    repo = site.repository(target_id)
    if (to is None) == (to_database is None):
        raise BackupError(Message("backup.restore.where"), "usage")
    if to_database is not None and job.database is None:
        raise BackupError(Message("backup.restore.files_job", {"job": job.id}), "usage")
    if to is not None and _not_empty(to) and not overwrite:
        raise BackupError(Message("backup.restore.not_empty", {"path": str(to)}), "usage")
    begin = time.monotonic()
    async with repository_lock(repo.location):
        snaps = await site.list_snapshots(repo, job_id=job.id)
        chosen = pick(snaps, snapshot, job.id, repo)
        if to is not None:
            await asyncio.to_thread(to.mkdir, parents=True, exist_ok=True)
            await site.run_restic(restore_command(site.restic, repo, chosen.id, str(to)), repo)
        else:
            assert to_database is not None and job.database is not None
            try:
                server = parse_server_url(to_database, site.environ)
            except (ValueError, SecretError) as exc:
                raise BackupError(Message("backup.restore.database_url", {"error": str(exc)}), "usage") from None
            if not server.database:
                raise BackupError(Message("backup.restore.database_name"), "usage")
            admin = server.with_database("postgres" if server.type.value == "postgresql" else None)
            state = await asyncio.to_thread(database_state, admin, server.database)
            if state is None:
                await asyncio.to_thread(create_database, admin, server.database)
            elif state > 0 and not overwrite:
                raise BackupError(Message("backup.restore.database_full", {
                    "database": server.database, "server": server.display, "count": state}), "usage")
            await load_dump(site, repo, chosen.id, dump_filename(job.id, job.database), server)
    return chosen.id, time.monotonic() - begin


def pick(snaps: list[Snapshot], wanted: str | None, job_id: str, repo: Repository) -> Snapshot:
    """The snapshot asked for (an id prefix, ``latest`` or None for the newest)."""
    if not snaps:
        raise BackupError(Message("backup.no_snapshot", {"job": job_id, "repository": repo.display}))
    if wanted is None or wanted == "latest":
        return snaps[-1]
    for snap in snaps:
        if snap.id.startswith(wanted):
            return snap
    raise BackupError(Message("backup.no_such_snapshot", {"snapshot": wanted, "job": job_id,
                                                          "repository": repo.display}), "usage")


async def load_dump(
    site: BackupSite, repo: Repository, snapshot: str, filename: str, server: ServerURL
) -> tuple[str, int]:
    """``restic dump`` a stored dump straight into the database client; returns its sha256 and size."""
    inv = load_invocation(server)
    loader_args = (site.tool(inv.args[0]), *inv.args[1:])
    digest = hashlib.sha256()
    size = 0
    args = dump_command(site.restic, repo, snapshot, "/" + filename)
    try:
        async with process.started(
            loader_args, {**os.environ, **inv.env}, stdout=asyncio.subprocess.DEVNULL, drain_stdout=False
        ) as loader:
            async with execute.started(args, repo, environ=site.environ, drain_stdout=False) as restic_proc:
                await restic_proc.close_input()
                while chunk := await restic_proc.stdout.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    await loader.write(chunk)
                done = await restic_proc.wait()
                if done.exit_code != 0:
                    raise classify(done.exit_code, done.stderr, repository=repo.display)
            await loader.close_input()
            loaded = await loader.wait()
    except process.ProcessStartError as exc:
        raise BackupError(Message("backup.load.start", {"server": server.display, "error": str(exc)}),
                          "config") from None
    errors = [
        line
        for line in loaded.stderr.splitlines()
        if "ERROR" in line and "does not exist" not in line and "role" not in line
    ]
    if loaded.exit_code != 0:
        raise BackupError(Message("backup.load.failed", {"server": server.display,
                                                         "error": errors[0] if errors else f"exit {loaded.exit_code}"}))
    if errors:
        log.warning("loading into %s: %d errors, first: %s", server.display, len(errors), errors[0])
    return digest.hexdigest(), size
