"""restic command lines built as data: small pure functions, one per operation, unit-tested argument lists.

Nothing here runs anything; :mod:`siaga.backup.restic.execute` does, in one place.
"""

from __future__ import annotations

from collections.abc import Sequence

from siaga.backup.restic.binary import ResticBinary
from siaga.backup.restic.repository import Repository

JOB_TAG_PREFIX = "siaga-job="
Args = tuple[str, ...]


def job_tag(job_id: str) -> str:
    """The tag every snapshot of a job carries, so siaga finds its own snapshots."""
    return f"{JOB_TAG_PREFIX}{job_id}"


def global_flags(restic: ResticBinary, repo: Repository, *, exclusive: bool = False) -> Args:
    """``restic -r REPO -o ...``; waits for a lock (restic >= 0.16) on exclusive steps."""
    flags: list[str] = [restic.path, "-r", repo.location]
    for option in repo.options:
        flags += ["-o", option]
    if exclusive and restic.features.retry_lock:
        flags += ["--retry-lock", "2m"]
    return tuple(flags)


def _tags(tags: Sequence[str]) -> list[str]:
    out: list[str] = []
    for tag in tags:
        out += ["--tag", tag]
    return out


def _limit_upload(limit_kib: int | None) -> list[str]:
    return ["--limit-upload", str(limit_kib)] if limit_kib else []


def init_command(restic: ResticBinary, repo: Repository) -> Args:
    return (*global_flags(restic, repo), "init")


def unlock_command(restic: ResticBinary, repo: Repository) -> Args:
    """Removes stale locks only (locks of dead processes); never ``--remove-all``."""
    return (*global_flags(restic, repo), "unlock")


def backup_paths_command(
    restic: ResticBinary,
    repo: Repository,
    paths: Sequence[str],
    *,
    excludes: Sequence[str] = (),
    tags: Sequence[str] = (),
    host: str | None = None,
    limit_upload_kib: int | None = None,
) -> Args:
    if not paths:
        raise ValueError("a path backup needs at least one path")
    args = [*global_flags(restic, repo), "backup", "--json"]
    for pattern in excludes:
        args += ["--exclude", pattern]
    args += _tags(tags)
    if host:
        args += ["--host", host]
    args += _limit_upload(limit_upload_kib)
    args += ["--", *paths]
    return tuple(args)


def backup_stdin_command(
    restic: ResticBinary,
    repo: Repository,
    filename: str,
    *,
    tags: Sequence[str] = (),
    host: str | None = None,
    limit_upload_kib: int | None = None,
) -> Args:
    """A backup of what siaga writes to restic's stdin (a database dump), stored as ``filename``."""
    args = [*global_flags(restic, repo), "backup", "--json", "--stdin", "--stdin-filename", filename]
    args += _tags(tags)
    if host:
        args += ["--host", host]
    args += _limit_upload(limit_upload_kib)
    return tuple(args)


def snapshots_command(restic: ResticBinary, repo: Repository, *, tags: Sequence[str] = ()) -> Args:
    return (*global_flags(restic, repo), "snapshots", "--json", *_tags(tags))


def ls_command(restic: ResticBinary, repo: Repository, snapshot: str) -> Args:
    return (*global_flags(restic, repo), "ls", "--json", snapshot)


def forget_ids_command(restic: ResticBinary, repo: Repository, snapshot_ids: Sequence[str]) -> Args:
    """Forget exactly these snapshots (siaga decides which, in :mod:`siaga.backup.retention`); no prune."""
    if not snapshot_ids:
        raise ValueError("nothing to forget")
    return (*global_flags(restic, repo, exclusive=True), "forget", "--", *snapshot_ids)


def prune_command(restic: ResticBinary, repo: Repository) -> Args:
    return (*global_flags(restic, repo, exclusive=True), "prune")


def check_command(restic: ResticBinary, repo: Repository, *, subset: str | None = None) -> Args:
    """``check``, reading the packs of ``subset`` (``k/N``) when given."""
    args = [*global_flags(restic, repo), "check"]
    if subset:
        args.append(f"--read-data-subset={subset}")
    if restic.features.json_check:
        args.append("--json")
    return tuple(args)


def restore_command(
    restic: ResticBinary, repo: Repository, snapshot: str, target_dir: str, *, verify: bool = False
) -> Args:
    args = [*global_flags(restic, repo), "restore", snapshot, "--target", target_dir]
    if verify:
        args.append("--verify")
    return tuple(args)


def dump_command(restic: ResticBinary, repo: Repository, snapshot: str, filename: str) -> Args:
    """Write one file of a snapshot to stdout (a database dump, streamed into a loader)."""
    return (*global_flags(restic, repo), "dump", snapshot, filename)


def copy_command(
    restic: ResticBinary, source: Repository, destination: Repository, snapshot_ids: Sequence[str]
) -> Args:
    """Copy snapshots from ``source`` to ``destination`` (3-2-1); the source password goes in through
    ``RESTIC_FROM_PASSWORD_FILE``, never on the command line."""
    args = [*global_flags(restic, destination), "copy", "--from-repo", source.location]
    for option in source.options:
        if option not in destination.options:
            args += ["-o", option]
    args += ["--", *snapshot_ids]
    return tuple(args)


def stats_command(restic: ResticBinary, repo: Repository, *, mode: str = "raw-data") -> Args:
    return (*global_flags(restic, repo), "stats", "--json", "--mode", mode)
