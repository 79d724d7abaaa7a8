"""The world every backup action works in: one site's config, the store, the clock, the restic binary, the
environment and the tools, with the lookups and the restic plumbing the actions share.

Every outside thing is passed in, so a test gives its own clock, restic, environment and tool paths.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from siaga.alerts.model import AlertSink
from siaga.backup import records
from siaga.backup.manifest import LastManifest
from siaga.backup.restic import execute
from siaga.backup.restic.binary import ResticBinary, find_restic
from siaga.backup.restic.commands import job_tag, snapshots_command, unlock_command
from siaga.backup.restic.errors import ResticError
from siaga.backup.restic.repository import Repository, repository_for
from siaga.backup.snapshots import Snapshot, parse_snapshots
from siaga.config.backup import BackupJob, Target
from siaga.config.models import SiteConfig
from siaga.config.secrets import SecretError
from siaga.errors import SiagaError
from siaga.i18n.messages import Message, note_of, note_text
from siaga.store.types import utcnow

_LOCKS: dict[tuple[int, str], asyncio.Lock] = {}


def repository_lock(location: str) -> asyncio.Lock:
    """One operation at a time per repository, within this process (restic's own lock guards the rest)."""
    key = (id(asyncio.get_running_loop()), location)
    lock = _LOCKS.get(key)
    if lock is None:
        lock = _LOCKS[key] = asyncio.Lock()
    return lock


class BackupError(SiagaError):
    """A backup step failed; ``why`` says what and where as a message worded per reader (a ``backup.*`` or
    ``standby.*`` key), ``str()`` is that line in English (logs)."""

    def __init__(self, message: Message | str, kind: str = "other") -> None:
        why = message if isinstance(message, Message) else Message(text=message)
        super().__init__(why.english())
        self.why = why
        self.kind = kind


def failure_note(exc: BaseException) -> str:
    """What a run stores (``error`` of backup_runs, backup_drills, backup_checks, standby_runs) of why it failed:
    siaga's own message behind the note mark, worded for each reader by :func:`siaga.i18n.messages.note_text`;
    an error of the OS or a driver as its type and first line (no sentence of ours)."""
    why = getattr(exc, "why", None)
    if isinstance(why, Message) and why.key:
        return note_of(why)
    text = str(exc).strip(" \t\r\n")
    if isinstance(why, Message) and why.text:
        return why.text
    return f"{type(exc).__name__}: {text.splitlines()[0] if text else ''}"


def in_english(note: str | None) -> str:
    """A stored failure in English with UTC times (for logs)."""
    return note_text(note, "en", ZoneInfo("UTC")) or ""


class BackupSite:
    """One site's backups: what the actions in ``siaga.backup.actions`` read and use."""

    def __init__(
        self,
        config: SiteConfig,
        *,
        engine: Engine,
        base_dir: Path | None = None,
        restic: ResticBinary | None = None,
        restic_command: str | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        sink: AlertSink | None = None,
        environ: Mapping[str, str] | None = None,
        tools: Mapping[str, str] | None = None,
    ) -> None:
        self.config = config
        self.engine = engine
        self.base_dir = base_dir
        self._restic = restic
        self._restic_command = restic_command
        self.clock = clock
        self.sink = sink
        self.environ = environ
        self.tools = dict(tools or {})
        self.tz = ZoneInfo(config.site.timezone)
        self.started_at = clock()
        self.manifests: dict[str, LastManifest] = {}  # per job: the hash cache and the base of the next one

    # --- lookups -------------------------------------------------------------------------------

    @property
    def restic(self) -> ResticBinary:
        if self._restic is None:
            self._restic = find_restic(self._restic_command)
        return self._restic

    def job(self, job_id: str) -> BackupJob:
        for job in self.config.backups:
            if job.id == job_id:
                return job
        known = ", ".join(j.id for j in self.config.backups)
        raise BackupError(Message("backup.unknown_job", {"job": job_id, "known": known}) if known
                          else Message("backup.unknown_job.none", {"job": job_id}), "usage")

    def target(self, target_id: str) -> Target:
        for target in self.config.targets:
            if target.id == target_id:
                return target
        known = ", ".join(t.id for t in self.config.targets)
        raise BackupError(Message("backup.unknown_target", {"target": target_id, "known": known}) if known
                          else Message("backup.unknown_target.none", {"target": target_id}), "usage")

    def repository(self, target_id: str) -> Repository:
        try:
            return repository_for(self.target(target_id), self.base_dir)
        except SecretError as exc:
            raise BackupError(Message("backup.target_secret", {"target": target_id, "error": str(exc)}),
                              "config") from None

    def drill_target(self, job: BackupJob) -> str:
        """The off-site target a drill restores from: the job's own when off site, else its first off-site copy."""
        if self.target(job.target).is_offsite:
            return job.target
        for other in job.copy_to:
            if self.target(other).is_offsite:
                return other
        return job.target

    def tool(self, name: str) -> str:
        """The path of a dump or load program (``pg_dump``, ``psql``...): as configured, else its name."""
        return self.tools.get(name, name)

    def resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() or self.base_dir is None else self.base_dir / p

    # --- restic plumbing -----------------------------------------------------------------------

    async def run_restic(self, args: Sequence[str], repo: Repository, **kw: Any) -> execute.Completed:
        try:
            return await execute.run(args, repo, environ=self.environ, **kw)
        except SecretError as exc:
            raise BackupError(Message("backup.target_secret", {"target": repo.id, "error": str(exc)}),
                              "config") from None

    async def unlock(self, repo: Repository) -> None:
        """Remove stale locks (of dead restic processes) before an exclusive step."""
        await self.run_restic(unlock_command(self.restic, repo), repo)

    async def list_snapshots(
        self, repo: Repository, *, job_id: str | None = None, tags: Sequence[str] = ()
    ) -> list[Snapshot]:
        """The snapshots on ``repo`` (of one job, with all of ``tags``), oldest first; the caller holds its lock."""
        wanted = [job_tag(job_id)] if job_id else []
        if tags:
            wanted = [",".join([*wanted, *tags])]
        done = await self.run_restic(snapshots_command(self.restic, repo, tags=wanted), repo)
        return parse_snapshots(done.stdout)

    @contextlib.contextmanager
    def failure_recorded(self, run_id: int, begin: float) -> Iterator[None]:
        """A restic failure in the block finishes run ``run_id`` as failed (with its kind), then goes on up."""
        try:
            yield
        except ResticError as exc:
            records.finish_run(
                self.engine,
                run_id,
                at=self.clock(),
                ok=False,
                error=str(exc),
                error_kind=exc.kind.value,
                duration_s=time.monotonic() - begin,
            )
            raise
