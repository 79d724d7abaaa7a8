"""Back up one job: its paths, or its database dump streamed into ``restic backup --stdin``; then copy the
snapshot to the job's further targets. A dump that fails or is killed never leaves a snapshot."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from siaga.backup import process, records
from siaga.backup.actions.copy import copy_snapshot
from siaga.backup.dumps import dump_filename, dump_invocation
from siaga.backup.hooks import run_hooks
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
)
from siaga.backup.restic import execute
from siaga.backup.restic.commands import (
    backup_paths_command,
    backup_stdin_command,
    forget_ids_command,
    job_tag,
    ls_command,
)
from siaga.backup.restic.errors import ResticError, classify
from siaga.backup.restic.repository import Repository
from siaga.backup.results import RunResult
from siaga.backup.site import BackupError, BackupSite, failure_note, repository_lock
from siaga.backup.snapshots import RUN_TAG_PREFIX, parse_summary
from siaga.config.backup import BackupJob
from siaga.config.secrets import SecretError
from siaga.i18n.messages import Message

log = logging.getLogger("siaga.backup")
MANIFEST_NICE = 10


async def run_job(
    site: BackupSite,
    job_id: str,
    *,
    scheduled: bool = False,
    on_dump_chunk: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Back up one job to its target, then copy the snapshot to its further targets."""
    job = site.job(job_id)
    repo = site.repository(job.target)
    run_tag = uuid.uuid4().hex[:16]
    started_at = site.clock()
    result = RunResult(job.id, job.target, False, started_at, run_tag=run_tag)
    run_id = records.start_run(
        site.engine,
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
        await run_hooks(job, job.hooks.before, {"SIAGA_BACKUP_PHASE": "before"})
        manifest: FileManifest | DatabaseManifest
        stored: StoredManifest | None = None
        previous: LastManifest | None = None
        async with repository_lock(repo.location):
            if job.database is not None:
                summary, manifest = await _backup_database(site, job, repo, tags, run_tag, on_dump_chunk)
            else:
                summary, manifest, stored, previous = await _backup_paths(site, job, repo, tags)
        result.snapshot_id = summary.get("snapshot_id")
        result.bytes_added = summary.get("data_added")
        result.bytes_processed = summary.get("total_bytes_processed")
        result.files = summary.get("total_files_processed")
        if not result.snapshot_id:
            raise BackupError(Message("backup.no_snapshot_written", {"job": job.id, "repository": repo.display}))
        kept = records.record_backup(
            site.engine,
            run_tag=run_tag,
            job=job.id,
            target=job.target,
            snapshot_id=result.snapshot_id,  # restic's short id: siaga keys snapshots by it
            taken_at=started_at,
            seen_at=site.clock(),
            manifest=manifest,
            stored=stored,
        )
        if isinstance(manifest, FileManifest):
            site.manifests[job.id] = (
                previous.after(run_tag, manifest, kept)
                if previous is not None
                else LastManifest(manifest, run_tag, manifest)
            )
        result.ok = True
    except (ResticError, BackupError) as exc:
        result.error = failure_note(exc)
        result.error_kind = exc.kind.value if isinstance(exc, ResticError) else exc.kind
    result.duration_s = time.monotonic() - begin
    records.finish_run(
        site.engine,
        run_id,
        at=site.clock(),
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
            result.copies[other] = await copy_snapshot(site, job, repo, other, result.snapshot_id, run_tag, started_at)
    with contextlib.suppress(BackupError):
        await run_hooks(
            job,
            job.hooks.after,
            {"SIAGA_BACKUP_PHASE": "after", "SIAGA_BACKUP_STATUS": "ok" if result.ok else "failed"},
        )
    return result


def _missing(paths: list[str]) -> list[str]:
    return [p for p in paths if not os.path.exists(p)]


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


async def _backup_paths(
    site: BackupSite, job: BackupJob, repo: Repository, tags: list[str]
) -> tuple[dict[str, Any], FileManifest, StoredManifest, LastManifest | None]:
    paths = [str(site.resolve(p)) for p in job.paths]
    missing = _missing(paths)
    if missing:
        raise BackupError(Message("backup.path_missing", {"job": job.id, "path": missing[0]}), "source_failed")
    args = backup_paths_command(
        site.restic, repo, paths, excludes=job.exclude, tags=tags, limit_upload_kib=job.limit_upload_kib
    )
    # The manifest is read, built and put in its stored form on a thread of its own while restic runs (its
    # own: a thread whose priority was lowered for hashing goes away with it, it never serves a drill).
    pool = ThreadPoolExecutor(1, thread_name_prefix=f"siaga-manifest-{job.id}")
    manifest_task = asyncio.get_running_loop().run_in_executor(pool, _manifest_of, site, job, paths)
    pool.shutdown(wait=False)  # the thread ends with its one task
    try:
        done = await site.run_restic(args, repo)
    except BaseException:
        manifest_task.cancel()
        with contextlib.suppress(BaseException):
            await manifest_task
        raise
    manifest, stored, previous = await manifest_task
    summary = parse_summary(done.stdout)
    if summary.get("total_files_processed") not in (None, len(manifest.files)) and summary.get("snapshot_id"):
        manifest = await _reconcile(site, repo, summary["snapshot_id"], manifest)
        stored = store_form(manifest, previous)
    return summary, manifest, stored, previous


def _manifest_of(
    site: BackupSite, job: BackupJob, paths: list[str]
) -> tuple[FileManifest, StoredManifest, LastManifest | None]:
    """Stat every file (unchanged ones keep their hash), hash the new and changed ones, and put the manifest
    in its stored form: the difference against the job's last whole manifest when few files changed."""
    with _lower_priority():
        previous = site.manifests.get(job.id) or records.latest_file_manifest(site.engine, job.id)
        files, todo = scan_files(paths, job.exclude, previous.latest if previous else None)
        files.update(hash_files(todo))
        manifest = FileManifest(files)
        stored = store_form(manifest, previous)
    return manifest, stored, previous


async def _reconcile(site: BackupSite, repo: Repository, snapshot: str, manifest: FileManifest) -> FileManifest:
    """Make the manifest list exactly the files restic stored (its exclude rules are the truth)."""
    done = await site.run_restic(ls_command(site.restic, repo, snapshot), repo)
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
                entry = FileEntry(st.st_size, st.st_mtime_ns, hash_file(path) if st.st_size == size else None)
            except OSError:
                entry = FileEntry(size, 0, None)
        files[path] = entry
    log.info("manifest reconciled with restic's listing: %d files", len(files))
    return FileManifest(files)


async def _backup_database(
    site: BackupSite,
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
        inv = dump_invocation(db, base_dir=site.base_dir, environ=site.environ)
    except SecretError as exc:
        raise BackupError(Message("backup.dump_secret", {"job": job.id, "error": str(exc)}), "config") from None
    args = backup_stdin_command(site.restic, repo, filename, tags=tags, limit_upload_kib=job.limit_upload_kib)
    counter = DumpCounter(db.type.value if db.type.value == "postgresql" else "mysql")
    dump_args = (site.tool(inv.args[0]), *inv.args[1:])
    async with execute.started(args, repo, environ=site.environ) as restic_proc:
        try:
            dumped, broken = await _stream_dump(dump_args, {**os.environ, **inv.env}, restic_proc, counter, on_chunk)
        except process.ProcessStartError as exc:
            await restic_proc.stop()
            raise BackupError(Message("backup.dump_start", {"job": job.id, "program": dump_args[0],
                                                            "error": exc.reason}),
                              "source_failed") from None
        err_text = dumped.stderr.strip()
        if dumped.exit_code != 0 or broken:
            # Never close restic's input on a failed dump: it would store what it got as a snapshot.
            await restic_proc.stop()
            done = await restic_proc.wait()
            await _discard_partial(site, repo, run_tag)
            if broken:
                raise classify(done.exit_code, done.stderr, repository=repo.display)
            why = err_text.splitlines()[-1] if err_text else f"exit {dumped.exit_code}"
            raise BackupError(Message("backup.dump_failed", {"job": job.id, "error": why}), "source_failed")
        counter.finish()
        await restic_proc.close_input()
        done = await restic_proc.wait()
    if done.exit_code != 0:
        raise classify(done.exit_code, done.stderr, repository=repo.display)
    return parse_summary(done.stdout), counter.manifest(filename)


async def _stream_dump(
    args: tuple[str, ...],
    env: dict[str, str],
    restic_proc: process.Running,
    counter: DumpCounter,
    on_chunk: Callable[[int, int], None] | None,
) -> tuple[process.Completed, bool]:
    """Run the dump program and feed what it prints to restic; True as second value when restic stopped
    taking it (its input broke). Left early, the dump is stopped by the executor."""
    async with process.started(args, env, stdin=asyncio.subprocess.DEVNULL, drain_stdout=False) as dump:
        broken = False
        while chunk := await dump.stdout.read(CHUNK):
            counter.feed(chunk)
            if on_chunk is not None:
                on_chunk(dump.proc.pid, counter.bytes)
            try:
                await restic_proc.write(chunk)
            except (BrokenPipeError, ConnectionResetError):
                broken = True
                break
        if broken:
            with contextlib.suppress(ProcessLookupError):
                dump.proc.kill()
        return await dump.wait(), broken


async def _discard_partial(site: BackupSite, repo: Repository, run_tag: str) -> None:
    """Verify that an aborted run left no snapshot; forget any it did leave."""
    leaked = await site.list_snapshots(repo, tags=[f"{RUN_TAG_PREFIX}{run_tag}"])
    if leaked:
        log.warning("aborted run %s left %d snapshot(s) on %s: forgetting them", run_tag, len(leaked), repo.display)
        await site.unlock(repo)
        await site.run_restic(forget_ids_command(site.restic, repo, [s.id for s in leaked]), repo)
