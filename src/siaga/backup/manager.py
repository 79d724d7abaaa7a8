"""The backup manager: runs jobs, copies, retention, checks, drills and restores against restic, and records
what happened. Every outside thing is passed in: the config, the store engine, the clock, the restic binary,
the environment, the alert sink.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from siaga.alerts.model import AlertSink, Condition
from siaga.backup import records
from siaga.backup.dumps import (
    ServerURL,
    count_rows,
    create_database,
    database_state,
    drop_database,
    dump_filename,
    dump_invocation,
    load_invocation,
    parse_server_url,
    scratch_name,
)
from siaga.backup.freshness import DrillFact, JobFacts, RunFact, assess
from siaga.backup.manifest import (
    CHUNK,
    DatabaseManifest,
    DumpCounter,
    FileEntry,
    FileManifest,
    LastManifest,
    StoredManifest,
    hash_file,
    hash_files,
    scan_files,
    store_form,
    verify_restored_files,
)
from siaga.backup.restic import execute
from siaga.backup.restic.binary import ResticBinary, find_restic
from siaga.backup.restic.commands import (
    backup_paths_command,
    backup_stdin_command,
    check_command,
    copy_command,
    dump_command,
    forget_ids_command,
    init_command,
    job_tag,
    ls_command,
    prune_command,
    restore_command,
    snapshots_command,
    unlock_command,
)
from siaga.backup.restic.errors import ResticError, classify
from siaga.backup.restic.repository import Repository, repository_for
from siaga.backup.retention import ForgetPlan, SnapshotInfo, check_subset, plan_forget
from siaga.config.backup import BackupJob, Target
from siaga.config.models import SiteConfig
from siaga.config.secrets import SecretError
from siaga.store.types import utcnow

log = logging.getLogger("siaga.backup")
RUN_TAG_PREFIX = "siaga-run="
HOOK_OUTPUT_LIMIT = 400
MANIFEST_NICE = 10

_LOCKS: dict[tuple[int, str], asyncio.Lock] = {}


def repository_lock(location: str) -> asyncio.Lock:
    """One operation at a time per repository, within this process (restic's own lock guards the rest)."""
    key = (id(asyncio.get_running_loop()), location)
    lock = _LOCKS.get(key)
    if lock is None:
        lock = _LOCKS[key] = asyncio.Lock()
    return lock


@contextlib.contextmanager
def _lower_priority() -> Iterator[None]:
    """Run the block at a lower CPU priority (this thread only, Linux) so restic, beside it, gets the CPU first.
    Raising it back afterwards needs CAP_SYS_NICE (root has it); otherwise the thread stays lower until it ends."""
    tid = threading.get_native_id()
    before: int | None = None
    with contextlib.suppress(OSError, AttributeError):
        before = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(19, before + MANIFEST_NICE))
    try:
        yield
    finally:
        if before is not None:
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, tid, before)


class BackupError(Exception):
    """A backup step failed; ``str()`` is one line naming what and where."""

    def __init__(self, message: str, kind: str = "other") -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Snapshot:
    id: str
    short_id: str
    time: dt.datetime
    tags: tuple[str, ...]
    paths: tuple[str, ...]
    hostname: str

    @property
    def run_tag(self) -> str | None:
        for tag in self.tags:
            if tag.startswith(RUN_TAG_PREFIX):
                return tag[len(RUN_TAG_PREFIX) :]
        return None


@dataclass
class RunResult:
    job: str
    target: str
    ok: bool
    started_at: dt.datetime
    duration_s: float = 0.0
    snapshot_id: str | None = None
    run_tag: str | None = None
    bytes_added: int | None = None
    bytes_processed: int | None = None
    files: int | None = None
    error: str | None = None
    error_kind: str | None = None
    copies: dict[str, str | None] = field(default_factory=dict)  # target -> snapshot id, None on failure


@dataclass
class DrillResult:
    job: str
    target: str
    ok: bool
    started_at: dt.datetime
    snapshot_id: str | None = None
    restore_s: float | None = None
    verify_s: float | None = None
    rto_s: float | None = None
    snapshot_age_s: float | None = None
    checked: int = 0
    bytes_restored: int = 0
    problems: list[str] = field(default_factory=list)
    error: str | None = None


@dataclass
class CheckResult:
    target: str
    ok: bool
    subset: str | None
    duration_s: float
    error: str | None = None


def parse_snapshots(stdout: bytes) -> list[Snapshot]:
    data = json.loads(stdout or b"[]") or []
    out = []
    for item in data:
        out.append(
            Snapshot(
                id=item["id"],
                short_id=item.get("short_id", item["id"][:8]),
                time=_parse_time(item["time"]),
                tags=tuple(item.get("tags") or ()),
                paths=tuple(item.get("paths") or ()),
                hostname=item.get("hostname", ""),
            )
        )
    return sorted(out, key=lambda s: s.time)


def _parse_time(text: str) -> dt.datetime:
    """restic's RFC 3339 times carry nanoseconds; Python takes microseconds."""
    import re

    match = re.match(r"^(.*?T\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    if not match:
        return dt.datetime.fromisoformat(text)
    base, frac, zone = match.groups()
    frac = (frac or "0")[:6].ljust(6, "0")
    zone = "+00:00" if zone == "Z" else zone
    return dt.datetime.fromisoformat(f"{base}.{frac}{zone}").astimezone(dt.UTC)


def _missing(paths: Sequence[str]) -> list[str]:
    return [p for p in paths if not os.path.exists(p)]


def _not_empty(path: Path) -> bool:
    return path.exists() and any(path.iterdir())


def parse_summary(stdout: bytes) -> dict[str, Any]:
    """The summary message of ``restic backup --json`` (the last JSON line of kind summary)."""
    for line in reversed(stdout.splitlines()):
        line = line.strip()
        if not line.startswith(b"{"):
            continue
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if item.get("message_type") == "summary":
            return dict(item)
    return {}


class BackupManager:
    """Everything siaga does with backups, for one site."""

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
        self._manifests: dict[str, LastManifest] = {}  # per job: the hash cache and the base of the next one

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
        known = ", ".join(j.id for j in self.config.backups) or "none configured"
        raise BackupError(f"unknown backup job {job_id!r} (known: {known})", "usage")

    def target(self, target_id: str) -> Target:
        for target in self.config.targets:
            if target.id == target_id:
                return target
        known = ", ".join(t.id for t in self.config.targets) or "none configured"
        raise BackupError(f"unknown backup target {target_id!r} (known: {known})", "usage")

    def repository(self, target_id: str) -> Repository:
        try:
            return repository_for(self.target(target_id), self.base_dir)
        except SecretError as exc:
            raise BackupError(f"target {target_id}: {exc}", "config") from None

    def drill_target(self, job: BackupJob) -> str:
        """The off-site target a drill restores from: the job's own when off site, else its first off-site copy."""
        if self.target(job.target).is_offsite:
            return job.target
        for other in job.copy_to:
            if self.target(other).is_offsite:
                return other
        return job.target

    def _tool(self, name: str) -> str:
        return self.tools.get(name, name)

    # --- restic plumbing -----------------------------------------------------------------------

    async def _run(self, args: Sequence[str], repo: Repository, **kw: Any) -> execute.Completed:
        try:
            return await execute.run(args, repo, environ=self.environ, **kw)
        except SecretError as exc:
            raise BackupError(f"target {repo.id}: {exc}", "config") from None

    async def _unlock(self, repo: Repository) -> None:
        """Remove stale locks (of dead restic processes) before an exclusive step."""
        await self._run(unlock_command(self.restic, repo), repo)

    async def init_target(self, target_id: str) -> str:
        repo = self.repository(target_id)
        async with repository_lock(repo.location):
            await self._run(init_command(self.restic, repo), repo)
        return repo.display

    async def snapshots(
        self, target_id: str, *, job_id: str | None = None, tags: Sequence[str] = ()
    ) -> list[Snapshot]:
        repo = self.repository(target_id)
        async with repository_lock(repo.location):
            return await self._snapshots(repo, job_id=job_id, tags=tags)

    async def _snapshots(
        self, repo: Repository, *, job_id: str | None = None, tags: Sequence[str] = ()
    ) -> list[Snapshot]:
        wanted = [job_tag(job_id)] if job_id else []
        if tags:
            wanted = [",".join([*wanted, *tags])]
        done = await self._run(snapshots_command(self.restic, repo, tags=wanted), repo)
        return parse_snapshots(done.stdout)

    # --- hooks -----------------------------------------------------------------------------------

    async def _hooks(self, job: BackupJob, commands: list[list[str]], extra_env: Mapping[str, str]) -> None:
        from siaga.config.backup import parse_duration

        timeout = parse_duration(job.hooks.timeout).total_seconds()
        env = {**os.environ, **extra_env, "SIAGA_JOB": job.id}
        for argv in commands:
            try:
                proc = await asyncio.create_subprocess_exec(
                    *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env
                )
            except OSError as exc:
                raise BackupError(
                    f"hook {argv[0]} of job {job.id} cannot start: {exc.strerror}", "hook"
                ) from None
            try:
                out, _ = await asyncio.wait_for(proc.communicate(), timeout)
            except TimeoutError:
                proc.kill()
                await proc.wait()
                raise BackupError(
                    f"hook {argv[0]} of job {job.id} ran over {job.hooks.timeout}", "hook"
                ) from None
            if proc.returncode != 0:
                tail = out.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
                raise BackupError(
                    f"hook {argv[0]} of job {job.id} failed (exit {proc.returncode}): {tail[0][:HOOK_OUTPUT_LIMIT]}",
                    "hook",
                )

    # --- backups ---------------------------------------------------------------------------------

    async def run_job(
        self,
        job_id: str,
        *,
        scheduled: bool = False,
        on_dump_chunk: Callable[[int, int], None] | None = None,
    ) -> RunResult:
        """Back up one job to its target, then copy the snapshot to its further targets."""
        job = self.job(job_id)
        repo = self.repository(job.target)
        run_tag = uuid.uuid4().hex[:16]
        started_at = self.clock()
        result = RunResult(job.id, job.target, False, started_at, run_tag=run_tag)
        run_id = records.start_run(
            self.engine,
            job=job.id,
            target=job.target,
            operation="backup",
            at=started_at,
            run_tag=run_tag,
            scheduled=scheduled,
        )
        begin = time.monotonic()
        tags = [job_tag(job.id), f"{RUN_TAG_PREFIX}{run_tag}", *job.tags]
        try:
            await self._hooks(job, job.hooks.before, {"SIAGA_BACKUP_PHASE": "before"})
            manifest: FileManifest | DatabaseManifest
            stored: StoredManifest | None = None
            previous: LastManifest | None = None
            async with repository_lock(repo.location):
                if job.database is not None:
                    summary, manifest = await self._backup_database(job, repo, tags, run_tag, on_dump_chunk)
                else:
                    summary, manifest, stored, previous = await self._backup_paths(job, repo, tags)
            result.snapshot_id = summary.get("snapshot_id")
            result.bytes_added = summary.get("data_added")
            result.bytes_processed = summary.get("total_bytes_processed")
            result.files = summary.get("total_files_processed")
            if not result.snapshot_id:
                raise BackupError(f"restic wrote no snapshot for job {job.id} on {repo.display}")
            kept = records.record_backup(
                self.engine,
                run_tag=run_tag,
                job=job.id,
                target=job.target,
                snapshot_id=result.snapshot_id,  # restic's short id: siaga keys snapshots by it
                taken_at=started_at,
                seen_at=self.clock(),
                manifest=manifest,
                stored=stored,
            )
            if isinstance(manifest, FileManifest):
                self._manifests[job.id] = (
                    previous.after(run_tag, manifest, kept)
                    if previous is not None
                    else LastManifest(manifest, run_tag, manifest)
                )
            result.ok = True
        except (ResticError, BackupError) as exc:
            result.error = str(exc)
            result.error_kind = exc.kind.value if isinstance(exc, ResticError) else exc.kind
        result.duration_s = time.monotonic() - begin
        records.finish_run(
            self.engine,
            run_id,
            at=self.clock(),
            ok=result.ok,
            snapshot_id=result.snapshot_id,
            bytes_added=result.bytes_added,
            bytes_processed=result.bytes_processed,
            files=result.files,
            duration_s=result.duration_s,
            error_kind=result.error_kind,
            error=result.error,
        )
        if result.ok and result.snapshot_id:
            for other in job.copy_to:
                result.copies[other] = await self._copy(
                    job, repo, other, result.snapshot_id, run_tag, started_at
                )
        with contextlib.suppress(BackupError):
            await self._hooks(
                job,
                job.hooks.after,
                {"SIAGA_BACKUP_PHASE": "after", "SIAGA_BACKUP_STATUS": "ok" if result.ok else "failed"},
            )
        await asyncio.to_thread(self.publish, job.id)
        return result

    async def _backup_paths(
        self, job: BackupJob, repo: Repository, tags: list[str]
    ) -> tuple[dict[str, Any], FileManifest, StoredManifest, LastManifest | None]:
        paths = [str(self._resolve(p)) for p in job.paths]
        missing = _missing(paths)
        if missing:
            raise BackupError(f"job {job.id}: path {missing[0]} does not exist", "source_failed")
        args = backup_paths_command(
            self.restic, repo, paths, excludes=job.exclude, tags=tags, limit_upload_kib=job.limit_upload_kib
        )
        # The manifest is read, built and put in its stored form on a thread of its own while restic runs (its
        # own: a thread whose priority was lowered for hashing goes away with it, it never serves a drill).
        pool = ThreadPoolExecutor(1, thread_name_prefix=f"siaga-manifest-{job.id}")
        manifest_task = asyncio.get_running_loop().run_in_executor(pool, self._manifest_of, job, paths)
        pool.shutdown(wait=False)  # the thread ends with its one task
        try:
            done = await self._run(args, repo)
        except BaseException:
            manifest_task.cancel()
            with contextlib.suppress(BaseException):
                await manifest_task
            raise
        manifest, stored, previous = await manifest_task
        summary = parse_summary(done.stdout)
        if summary.get("total_files_processed") not in (None, len(manifest.files)) and summary.get("snapshot_id"):
            manifest = await self._reconcile(repo, summary["snapshot_id"], manifest)
            stored = store_form(manifest, previous)
        return summary, manifest, stored, previous

    def _manifest_of(
        self, job: BackupJob, paths: list[str]
    ) -> tuple[FileManifest, StoredManifest, LastManifest | None]:
        """Stat every file (unchanged ones keep their hash), hash the new and changed ones, and put the manifest
        in its stored form: the difference against the job's last whole manifest when few files changed."""
        with _lower_priority():
            previous = self._manifests.get(job.id) or records.latest_file_manifest(self.engine, job.id)
            files, todo = scan_files(paths, job.exclude, previous.latest if previous else None)
            files.update(hash_files(todo))
            manifest = FileManifest(files)
            stored = store_form(manifest, previous)
        return manifest, stored, previous

    async def _reconcile(self, repo: Repository, snapshot: str, manifest: FileManifest) -> FileManifest:
        """Make the manifest list exactly the files restic stored (its exclude rules are the truth)."""
        done = await self._run(ls_command(self.restic, repo, snapshot), repo)
        stored: dict[str, int] = {}
        for line in done.stdout.splitlines():
            try:
                node = json.loads(line)
            except ValueError:
                continue
            if node.get("struct_type") == "node" and node.get("type") == "file":
                stored[node["path"]] = int(node.get("size", 0))
        files: dict[str, FileEntry] = {}
        for path, size in stored.items():
            entry = manifest.files.get(path)
            if entry is None:
                try:
                    st = os.stat(path)
                    entry = FileEntry(
                        st.st_size, st.st_mtime_ns, hash_file(path) if st.st_size == size else None
                    )
                except OSError:
                    entry = FileEntry(size, 0, None)
            files[path] = entry
        log.info("manifest reconciled with restic's listing: %d files", len(files))
        return FileManifest(files)

    async def _backup_database(
        self,
        job: BackupJob,
        repo: Repository,
        tags: list[str],
        run_tag: str,
        on_chunk: Callable[[int, int], None] | None,
    ) -> tuple[dict[str, Any], DatabaseManifest]:
        """Stream the dump into ``restic backup --stdin``. A dump that fails or is killed never leaves a
        snapshot: restic gets SIGINT before its input closes, and siaga checks that no snapshot was written."""
        db = job.database
        assert db is not None
        filename = dump_filename(job.id, db)
        try:
            inv = dump_invocation(db, base_dir=self.base_dir, environ=self.environ)
        except SecretError as exc:
            raise BackupError(f"job {job.id}: {exc}", "config") from None
        args = backup_stdin_command(
            self.restic, repo, filename, tags=tags, limit_upload_kib=job.limit_upload_kib
        )
        counter = DumpCounter(db.type.value if db.type.value == "postgresql" else "mysql")
        dump_args = (self._tool(inv.args[0]), *inv.args[1:])
        async with execute.started(args, repo, environ=self.environ) as restic_proc:
            try:
                dump = await asyncio.create_subprocess_exec(
                    *dump_args,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.PIPE,
                    stderr=asyncio.subprocess.PIPE,
                    env={**os.environ, **inv.env},
                )
            except OSError as exc:
                await restic_proc.interrupt()
                raise BackupError(
                    f"job {job.id}: cannot run {dump_args[0]}: {exc.strerror}", "source_failed"
                ) from None
            assert dump.stdout is not None and dump.stderr is not None
            dump_err = asyncio.ensure_future(dump.stderr.read())
            broken = False
            try:
                while chunk := await dump.stdout.read(CHUNK):
                    counter.feed(chunk)
                    if on_chunk is not None:
                        on_chunk(dump.pid, counter.bytes)
                    try:
                        await restic_proc.write(chunk)
                    except (BrokenPipeError, ConnectionResetError):
                        broken = True
                        break
            except BaseException:
                with contextlib.suppress(ProcessLookupError):
                    dump.kill()
                await dump.wait()
                raise
            if broken:
                with contextlib.suppress(ProcessLookupError):
                    dump.kill()
            code = await dump.wait()
            err_text = (await dump_err).decode("utf-8", "replace").strip()
            if code != 0 or broken:
                # Never close restic's input on a failed dump: it would store what it got as a snapshot.
                await restic_proc.interrupt()
                done = await restic_proc.wait()
                await self._discard_partial(repo, run_tag)
                if broken:
                    raise classify(done.exit_code, done.stderr, repository=repo.display)
                why = err_text.splitlines()[-1] if err_text else f"exit {code}"
                raise BackupError(
                    f"database dump of job {job.id} failed ({why}); no snapshot was kept", "source_failed"
                )
            counter.finish()
            await restic_proc.close_input()
            done = await restic_proc.wait()
        if done.exit_code != 0:
            raise classify(done.exit_code, done.stderr, repository=repo.display)
        return parse_summary(done.stdout), counter.manifest(filename)

    async def _discard_partial(self, repo: Repository, run_tag: str) -> None:
        """Verify that an aborted run left no snapshot; forget any it did leave."""
        leaked = await self._snapshots(repo, tags=[f"{RUN_TAG_PREFIX}{run_tag}"])
        if leaked:
            log.warning(
                "aborted run %s left %d snapshot(s) on %s: forgetting them",
                run_tag,
                len(leaked),
                repo.display,
            )
            await self._unlock(repo)
            await self._run(forget_ids_command(self.restic, repo, [s.id for s in leaked]), repo)

    async def _copy(
        self,
        job: BackupJob,
        source: Repository,
        target_id: str,
        snapshot_id: str,
        run_tag: str,
        taken_at: dt.datetime,
    ) -> str | None:
        destination = self.repository(target_id)
        run_id = records.start_run(
            self.engine, job=job.id, target=target_id, operation="copy", at=self.clock(), run_tag=run_tag
        )
        begin = time.monotonic()
        first, second = sorted([source.location, destination.location])
        new_id: str | None = None
        error: str | None = None
        kind: str | None = None
        try:
            async with repository_lock(first), repository_lock(second):
                await self._run(
                    copy_command(self.restic, source, destination, [snapshot_id]),
                    destination,
                    from_repo=source,
                )
                found = await self._snapshots(destination, tags=[f"{RUN_TAG_PREFIX}{run_tag}"])
            if not found:
                raise BackupError(f"copy of {snapshot_id[:8]} to {destination.display} wrote no snapshot")
            new_id = found[-1].short_id
            records.record_snapshot(
                self.engine,
                target=target_id,
                snapshot_id=new_id,
                job=job.id,
                run_tag=run_tag,
                taken_at=taken_at,
                seen_at=self.clock(),
            )
        except (ResticError, BackupError) as exc:
            error = str(exc)
            kind = exc.kind.value if isinstance(exc, ResticError) else exc.kind
        records.finish_run(
            self.engine,
            run_id,
            at=self.clock(),
            ok=new_id is not None,
            snapshot_id=new_id,
            duration_s=time.monotonic() - begin,
            error=error,
            error_kind=kind,
        )
        return new_id

    def _resolve(self, path: str) -> Path:
        p = Path(path)
        return p if p.is_absolute() or self.base_dir is None else self.base_dir / p

    # --- retention, prune, checks ----------------------------------------------------------------

    async def forget(self, target_id: str, *, dry_run: bool = True) -> dict[str, ForgetPlan]:
        """Apply each job's retention on ``target_id`` (a preview with ``dry_run``). Never prunes."""
        target = self.target(target_id)
        repo = self.repository(target_id)
        plans: dict[str, ForgetPlan] = {}
        if target.retention is None:
            return plans
        verified = records.verified_snapshot_ids(self.engine, target_id)
        jobs = [j for j in self.config.backups if j.target == target_id or target_id in j.copy_to]
        async with repository_lock(repo.location):
            for job in jobs:
                snaps = await self._snapshots(repo, job_id=job.id)
                mine = [s for s in snaps if s.short_id in verified]
                newest_verified = max(mine, key=lambda s: s.time).id if mine else None
                plan = plan_forget(
                    [SnapshotInfo(s.id, s.time) for s in snaps],
                    target.retention,
                    tz=self.tz,
                    protect=[newest_verified] if newest_verified else [],
                )
                plans[job.id] = plan
                if dry_run or not plan.forget:
                    continue
                ids = [s.id for s in plan.forget]
                run_id = records.start_run(
                    self.engine, job=job.id, target=target_id, operation="forget", at=self.clock()
                )
                begin = time.monotonic()
                with self._failure_recorded(run_id, begin):
                    await self._unlock(repo)
                    await self._run(forget_ids_command(self.restic, repo, ids), repo)
                records.mark_forgotten(
                    self.engine,
                    target=target_id,
                    snapshot_ids=[s.id[:8] for s in plan.forget],
                    at=self.clock(),
                )
                records.finish_run(
                    self.engine,
                    run_id,
                    at=self.clock(),
                    ok=True,
                    files=len(ids),
                    duration_s=time.monotonic() - begin,
                )
        return plans

    @contextlib.contextmanager
    def _failure_recorded(self, run_id: int, begin: float) -> Iterator[None]:
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

    async def prune(self, target_id: str) -> float:
        """``restic prune`` on its own (never together with a backup); returns its duration."""
        repo = self.repository(target_id)
        run_id = records.start_run(
            self.engine, job=None, target=target_id, operation="prune", at=self.clock()
        )
        begin = time.monotonic()
        with self._failure_recorded(run_id, begin):
            async with repository_lock(repo.location):
                await self._unlock(repo)
                await self._run(prune_command(self.restic, repo), repo)
        duration = time.monotonic() - begin
        records.finish_run(self.engine, run_id, at=self.clock(), ok=True, duration_s=duration)
        return duration

    async def check(self, target_id: str, *, subset: str | None = None) -> CheckResult:
        """Integrity check, reading today's ``k/N`` of the packs (rolling) unless ``subset`` says otherwise."""
        target = self.target(target_id)
        repo = self.repository(target_id)
        if subset is None and target.check is not None:
            subset = check_subset(self.clock().astimezone(self.tz).date(), target.check.read_data_days)
        started = self.clock()
        begin = time.monotonic()
        error: str | None = None
        try:
            async with repository_lock(repo.location):
                await self._run(check_command(self.restic, repo, subset=subset), repo)
        except ResticError as exc:
            error = str(exc)
        result = CheckResult(target_id, error is None, subset, time.monotonic() - begin, error)
        records.record_check(
            self.engine,
            target=target_id,
            subset=subset,
            started_at=started,
            finished_at=self.clock(),
            ok=result.ok,
            duration_s=result.duration_s,
            error=error,
        )
        return result

    # --- drills ----------------------------------------------------------------------------------

    async def drill(self, job_id: str, *, scheduled: bool = False) -> DrillResult:
        """Restore the newest off-site snapshot into a scratch place, verify it against the manifest recorded
        at backup time, and record the measured time to usable data (RTO) and the snapshot's age (RPO)."""
        job = self.job(job_id)
        target_id = self.drill_target(job)
        repo = self.repository(target_id)
        started = self.clock()
        result = DrillResult(job.id, target_id, False, started)
        try:
            async with repository_lock(repo.location):
                snaps = await self._snapshots(repo, job_id=job.id)
                if not snaps:
                    raise BackupError(f"no snapshot of job {job.id} on {repo.display} to drill")
                snap = snaps[-1]
                result.snapshot_id = snap.short_id
                result.snapshot_age_s = (started - snap.time).total_seconds()
                manifest = records.manifest_for(self.engine, snap.run_tag) if snap.run_tag else None
                if manifest is None:
                    raise BackupError(
                        f"snapshot {snap.short_id} of job {job.id} has no manifest recorded by siaga: cannot verify it"
                    )
                if isinstance(manifest, FileManifest):
                    await self._drill_files(job, repo, snap, manifest, result)
                else:
                    await self._drill_database(job, repo, snap, manifest, result)
            result.ok = not result.problems
            if not result.ok:
                result.error = f"{len(result.problems)} problem(s): {result.problems[0]}"
        except (ResticError, BackupError, OSError) as exc:
            result.error = str(exc)
        except Exception as exc:  # a database driver error: still a failed drill, recorded
            result.error = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        records.record_drill(
            self.engine,
            job=job.id,
            target=target_id,
            snapshot_id=result.snapshot_id,
            scheduled=scheduled,
            started_at=started,
            finished_at=self.clock(),
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
            records.mark_verified(
                self.engine, target=target_id, snapshot_id=result.snapshot_id, at=self.clock()
            )
        await asyncio.to_thread(self.publish, job.id)
        return result

    async def _drill_files(
        self, job: BackupJob, repo: Repository, snap: Snapshot, manifest: FileManifest, result: DrillResult
    ) -> None:
        base = self._resolve(job.drill.scratch_dir) if job.drill.scratch_dir else None
        if base is not None:
            base.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f"siaga-drill-{job.id}-", dir=base))
        try:
            begin = time.monotonic()
            await self._run(restore_command(self.restic, repo, snap.id, str(scratch)), repo)
            restored = time.monotonic()
            check = await asyncio.to_thread(verify_restored_files, manifest, scratch)
            end = time.monotonic()
            result.restore_s, result.verify_s, result.rto_s = restored - begin, end - restored, end - begin
            result.checked, result.bytes_restored, result.problems = (
                check.checked,
                check.bytes,
                list(check.problems),
            )
        finally:
            if not job.drill.keep_scratch:
                await asyncio.to_thread(shutil.rmtree, scratch, True)

    async def _drill_database(
        self,
        job: BackupJob,
        repo: Repository,
        snap: Snapshot,
        manifest: DatabaseManifest,
        result: DrillResult,
    ) -> None:
        if not job.drill.scratch_database_url:
            raise BackupError(
                f"job {job.id}: set drill.scratch_database_url to drill a database dump", "config"
            )
        try:
            server = parse_server_url(job.drill.scratch_database_url, self.environ)
        except (ValueError, SecretError) as exc:
            raise BackupError(f"job {job.id}: drill.scratch_database_url: {exc}", "config") from None
        name = scratch_name(job.id, self.clock().strftime("%Y%m%d%H%M%S"))
        await asyncio.to_thread(create_database, server, name)
        try:
            begin = time.monotonic()
            digest, size = await self._load_dump(repo, snap.id, manifest.filename, server.with_database(name))
            loaded = time.monotonic()
            counts = await asyncio.to_thread(count_rows, server, name, list(manifest.tables))
            end = time.monotonic()
            result.restore_s, result.verify_s, result.rto_s = loaded - begin, end - loaded, end - begin
            result.bytes_restored = size
            problems: list[str] = []
            if digest != manifest.sha256:
                problems.append(f"dump content differs from what was backed up (sha256 {digest[:12]})")
            for table, rows in sorted(manifest.tables.items()):
                got = counts.get(table)
                if got is None:
                    problems.append(f"table missing after load: {table}")
                elif got != rows:
                    problems.append(f"row count differs: {table} has {got}, dump had {rows}")
            result.checked = len(manifest.tables)
            result.problems = problems
        finally:
            if not job.drill.keep_scratch:
                await asyncio.to_thread(drop_database, server, name)

    async def _load_dump(
        self, repo: Repository, snapshot: str, filename: str, server: ServerURL
    ) -> tuple[str, int]:
        """``restic dump`` a stored dump straight into the database client; returns its sha256 and size."""
        import hashlib

        inv = load_invocation(server)
        loader = await asyncio.create_subprocess_exec(
            self._tool(inv.args[0]),
            *inv.args[1:],
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            env={**os.environ, **inv.env},
        )
        assert loader.stdin is not None and loader.stderr is not None
        load_err = asyncio.ensure_future(loader.stderr.read())
        digest = hashlib.sha256()
        size = 0
        args = dump_command(self.restic, repo, snapshot, "/" + filename)
        try:
            async with execute.started(args, repo, environ=self.environ, drain_stdout=False) as restic_proc:
                await restic_proc.close_input()
                stdout = restic_proc.proc.stdout
                assert stdout is not None
                while chunk := await stdout.read(CHUNK):
                    digest.update(chunk)
                    size += len(chunk)
                    loader.stdin.write(chunk)
                    await loader.stdin.drain()
                done = await restic_proc.wait()
                if done.exit_code != 0:
                    raise classify(done.exit_code, done.stderr, repository=repo.display)
        finally:
            loader.stdin.close()
            await loader.wait()
        errors = [
            line
            for line in (await load_err).decode("utf-8", "replace").splitlines()
            if "ERROR" in line and "does not exist" not in line and "role" not in line
        ]
        if loader.returncode != 0:
            raise BackupError(
                f"loading the dump into {server.display} failed: {errors[:1] or loader.returncode}"
            )
        if errors:
            log.warning("loading into %s: %d errors, first: %s", server.display, len(errors), errors[0])
        return digest.hexdigest(), size

    # --- restore for the bad day ---------------------------------------------------------------------

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
        """Restore a snapshot of a job to a folder or a database; never overwrites unless told to.
        Returns the snapshot id and the time it took."""
        job = self.job(job_id)
        target_id = from_target or job.target
        repo = self.repository(target_id)
        if (to is None) == (to_database is None):
            raise BackupError("say where to restore: --to PATH or --to-database URL", "usage")
        if to_database is not None and job.database is None:
            raise BackupError(f"job {job.id} backs up files: restore it with --to PATH", "usage")
        if to is not None and _not_empty(to) and not overwrite:
            raise BackupError(
                f"{to} is not empty: siaga never overwrites (choose an empty folder or --overwrite)", "usage"
            )
        begin = time.monotonic()
        async with repository_lock(repo.location):
            snaps = await self._snapshots(repo, job_id=job.id)
            chosen = self._pick(snaps, snapshot, job.id, repo)
            if to is not None:
                await asyncio.to_thread(to.mkdir, parents=True, exist_ok=True)
                await self._run(restore_command(self.restic, repo, chosen.id, str(to)), repo)
            else:
                assert to_database is not None and job.database is not None
                try:
                    server = parse_server_url(to_database, self.environ)
                except (ValueError, SecretError) as exc:
                    raise BackupError(f"--to-database: {exc}", "usage") from None
                if not server.database:
                    raise BackupError("--to-database: name the database in the URL (…/dbname)", "usage")
                admin = server.with_database("postgres" if server.type.value == "postgresql" else None)
                state = await asyncio.to_thread(database_state, admin, server.database)
                if state is None:
                    await asyncio.to_thread(create_database, admin, server.database)
                elif state > 0 and not overwrite:
                    raise BackupError(
                        f"database {server.database} on {server.display} already has {state} tables: siaga never "
                        "overwrites (choose a new database name or --overwrite)",
                        "usage",
                    )
                await self._load_dump(repo, chosen.id, dump_filename(job.id, job.database), server)
        return chosen.id, time.monotonic() - begin

    @staticmethod
    def _pick(snaps: list[Snapshot], wanted: str | None, job_id: str, repo: Repository) -> Snapshot:
        if not snaps:
            raise BackupError(f"no snapshot of job {job_id} on {repo.display}")
        if wanted is None or wanted == "latest":
            return snaps[-1]
        for snap in snaps:
            if snap.id.startswith(wanted):
                return snap
        raise BackupError(f"no snapshot {wanted} of job {job_id} on {repo.display}", "usage")

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
        if self.sink is not None:
            for cond in conds:
                self.sink.submit(cond)
        return conds
