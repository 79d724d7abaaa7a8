"""Keep a standby warm and drill the switch to it.

:func:`refresh` restores the service's newest *verified* snapshots (a drill restored and compared them, or a
later integrity check covered them; an unverified snapshot is never restored) into a fresh folder and a fresh
database, switches them in atomically (a symlink replaced with ``rename``, a database renamed), runs the
configured start/reload command through the backup part's executor and checks the standby with the service's
own checks. A failure before the switch leaves the previous standby serving. :func:`drill` measures the time
from the trigger to the service answering its checks from the standby. Both are recorded in ``standby_runs``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp
from sqlalchemy import Engine, insert, select

from siaga.backup import process, records
from siaga.backup.actions.restore import load_dump
from siaga.backup.dumps import create_database, drop_database, dump_filename, parse_server_url, swap_database
from siaga.backup.restic.commands import restore_command
from siaga.backup.restic.repository import Repository
from siaga.backup.site import BackupError, BackupSite, failure_note, repository_lock
from siaga.backup.snapshots import Snapshot
from siaga.checks.base import CheckResult, ProbeContext, run_once, stored_reason
from siaga.checks.registry import probe_for
from siaga.config.backup import BackupJob
from siaga.config.checks import HttpCheck, TcpCheck, TlsCheck
from siaga.config.secrets import SecretError
from siaga.config.standby import Standby, standby_jobs
from siaga.i18n.messages import Message, note_of
from siaga.standby.freshness import StandbyFacts, assess
from siaga.standby.tables import standby_runs
from siaga.vocab import Condition

log = logging.getLogger("siaga.standby")

_locks: dict[str, asyncio.Lock] = {}


@dataclass
class StandbyResult:
    """One refresh or drill of one standby."""

    service: str
    kind: str  # refresh, drill
    started_at: dt.datetime
    ok: bool = False
    files_snapshot: str | None = None
    database_snapshot: str | None = None
    data_at: dt.datetime | None = None
    release: str | None = None
    took_s: float | None = None
    checks_ok: bool | None = None
    checks: list[CheckResult] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "service": self.service,
            "kind": self.kind,
            "started_at": self.started_at.isoformat(),
            "ok": self.ok,
            "files_snapshot": self.files_snapshot,
            "database_snapshot": self.database_snapshot,
            "data_at": self.data_at.isoformat() if self.data_at else None,
            "release": self.release,
            "took_s": self.took_s,
            "checks_ok": self.checks_ok,
            "checks": [{"check": c.check_id, "ok": c.ok, "message": c.message} for c in self.checks],
            "error": self.error,
        }


def standby_for(site: BackupSite, service: str) -> Standby:
    for sb in site.config.standbys:
        if sb.service == service:
            return sb
    known = ", ".join(s.service for s in site.config.standbys)
    raise BackupError(Message("standby.unknown", {"service": service, "known": known}) if known
                      else Message("standby.unknown.none", {"service": service}), "usage")


# --- what to restore -----------------------------------------------------------------------------


def verified(snaps: list[Snapshot], drilled: set[str], checked_at: dt.datetime | None) -> list[Snapshot]:
    """The snapshots a drill verified (by short id) or a later successful integrity check covered, oldest first."""
    return [s for s in snaps if s.short_id in drilled or (checked_at is not None and s.time <= checked_at)]


async def newest_verified(site: BackupSite, job: BackupJob) -> tuple[Repository, Snapshot]:
    """The newest verified snapshot of ``job`` on its off-site target; a BackupError when it has none."""
    target = site.drill_target(job)
    repo = site.repository(target)
    async with repository_lock(repo.location):
        snaps = await site.list_snapshots(repo, job_id=job.id)
    drilled = set(records.verified_snapshot_ids(site.engine, target))
    good = verified(snaps, drilled, records.last_good_check_time(site.engine, target))
    if not good:
        raise BackupError(Message("standby.unverified", {"job": job.id, "repository": repo.display,
                                                         "count": len(snaps)}))
    return repo, good[-1]


def _served_path(snap: Snapshot, sb: Standby) -> Path:
    """Which folder of a restored snapshot is the web root: its ``files_path``, else its first path."""
    wanted = sb.files_path.rstrip("/") if sb.files_path else None
    for path in snap.paths:
        if wanted is None or path.rstrip("/") == wanted or path.rstrip("/").endswith("/" + wanted.lstrip("/")):
            return Path(path.lstrip("/"))
    raise BackupError(Message("standby.paths", {"snapshot": snap.short_id, "paths": ", ".join(snap.paths) or "-",
                                                "wanted": sb.files_path}), "config")


# --- the atomic switch ---------------------------------------------------------------------------


def releases_dir(web_root: Path) -> Path:
    return web_root.parent / f".{web_root.name}.releases"


def switch_web_root(web_root: Path, served: Path) -> None:
    """Point ``web_root`` (a symlink) at ``served`` in one ``rename``: readers see the old tree or the new one."""
    if web_root.exists() and not web_root.is_symlink():
        raise BackupError(Message("standby.real_folder", {"path": str(web_root)}), "config")
    tmp = web_root.with_name(f".{web_root.name}.switch")
    tmp.unlink(missing_ok=True)
    os.symlink(served, tmp)
    os.replace(tmp, web_root)


def _prune_releases(web_root: Path, keep: int) -> None:
    base = releases_dir(web_root)
    current = os.path.realpath(web_root)
    old = sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.name)
    for path in old[:-keep - 1] if len(old) > keep + 1 else []:
        if not current.startswith(str(path.resolve()) + os.sep):
            shutil.rmtree(path, ignore_errors=True)


async def _restore_files(site: BackupSite, sb: Standby, repo: Repository, snap: Snapshot) -> tuple[Path, Path]:
    """Restore ``snap`` into a fresh release folder; returns (the release, its folder to serve)."""
    assert sb.web_root is not None
    web_root = site.resolve(sb.web_root)
    base = releases_dir(web_root)
    await asyncio.to_thread(base.mkdir, parents=True, exist_ok=True)
    release = base / f"{site.clock().strftime('%Y%m%dT%H%M%S%f')}-{snap.short_id}"
    try:
        await site.run_restic(restore_command(site.restic, repo, snap.id, str(release)), repo)
        served = release / _served_path(snap, sb)
        if not served.is_dir():
            raise BackupError(Message("standby.no_folder", {"snapshot": snap.short_id,
                                                            "path": str(served.relative_to(release))}))
    except BaseException:
        await asyncio.to_thread(shutil.rmtree, release, True)
        raise
    return release, served


async def _load_database(site: BackupSite, sb: Standby, job: BackupJob, repo: Repository, snap: Snapshot) -> str:
    """Load ``snap``'s dump into a fresh database beside the standby's; returns its name."""
    assert sb.database_url is not None and job.database is not None
    try:
        server = parse_server_url(sb.database_url, site.environ)
    except (ValueError, SecretError) as exc:
        raise BackupError(Message("standby.database_url", {"service": sb.service, "error": str(exc)}),
                          "config") from None
    if not server.database:
        raise BackupError(Message("standby.database_name", {"service": sb.service}), "config")
    fresh = f"{server.database}_siaga_new"[:63]
    admin = server.with_database("postgres")
    await asyncio.to_thread(drop_database, admin, fresh)
    await asyncio.to_thread(create_database, admin, fresh)
    try:
        async with repository_lock(repo.location):
            await load_dump(site, repo, snap.id, dump_filename(job.id, job.database), server.with_database(fresh))
    except BaseException:
        await asyncio.to_thread(drop_database, admin, fresh)
        raise
    return fresh


# --- checks against the standby ------------------------------------------------------------------


def standby_checks(site: BackupSite, sb: Standby) -> list[Any]:
    """The service's http, tcp and tls checks aimed at the standby (``check_url``, ``check_host``)."""
    out: list[Any] = []
    for check in site.config.checks:
        if check.service != sb.service or not check.enabled:
            continue
        if isinstance(check, HttpCheck) and sb.check_url:
            out.append(check)
        elif isinstance(check, TcpCheck | TlsCheck) and sb.check_host:
            out.append(check.model_copy(update={"host": sb.check_host}))
    return out


async def run_checks(site: BackupSite, sb: Standby) -> list[CheckResult]:
    """Run the standby's checks once each; an http check's host is sent to ``check_url`` with its Host header."""
    checks = standby_checks(site, sb)
    redirects: dict[str, tuple[str, int]] = {}
    if sb.check_url:
        to = urlsplit(sb.check_url)
        for check in checks:
            if isinstance(check, HttpCheck):
                host = urlsplit(check.url).hostname or ""
                redirects[host] = (to.hostname or "127.0.0.1", to.port or 80)
    async with aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar()) as session:
        ctx = ProbeContext(session=session, clock=site.clock, base_dir=site.base_dir or Path.cwd(),
                           redirects=redirects)
        return [await run_once(probe_for(check), ctx) for check in checks]


async def _start(site: BackupSite, sb: Standby) -> None:
    if not sb.command:
        return
    try:
        done = await process.run(sb.command, dict(os.environ), timeout_s=sb.command_timeout_s, merge_stderr=True)
    except process.ProcessStartError as exc:
        raise BackupError(Message("standby.command.start", {"service": sb.service,
                                                             "error": f"{exc.program}: {exc.reason}"}),
                          "config") from None
    except TimeoutError:
        raise BackupError(Message("standby.command.timeout", {"service": sb.service,
                                                              "limit_s": sb.command_timeout_s})) from None
    if done.exit_code != 0:
        tail = done.stdout.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        raise BackupError(Message("standby.command.exit", {"service": sb.service, "code": done.exit_code,
                                                           "output": tail[0] or "-"}))


# --- refresh and drill ---------------------------------------------------------------------------


async def _refresh(site: BackupSite, sb: Standby, result: StandbyResult) -> None:
    files_job, db_job = standby_jobs(sb, site.config.backups)
    if sb.web_root is not None and files_job is None:
        raise BackupError(Message("standby.no_files_job", {"service": sb.service}), "config")
    if sb.database_url is not None and db_job is None:
        raise BackupError(Message("standby.no_database_job", {"service": sb.service}), "config")
    taken: list[dt.datetime] = []
    release: tuple[Path, Path] | None = None
    fresh_db: str | None = None
    try:
        if files_job is not None:
            repo, snap = await newest_verified(site, files_job)
            result.files_snapshot = snap.short_id
            taken.append(snap.time)
            async with repository_lock(repo.location):
                release = await _restore_files(site, sb, repo, snap)
        if db_job is not None:
            repo, snap = await newest_verified(site, db_job)
            result.database_snapshot = snap.short_id
            taken.append(snap.time)
            fresh_db = await _load_database(site, sb, db_job, repo, snap)
    except BaseException:
        if release is not None:
            await asyncio.to_thread(shutil.rmtree, release[0], True)
        raise
    # Everything is restored: switch (the database first, then the files), start, check.
    if fresh_db is not None:
        assert sb.database_url is not None
        server = parse_server_url(sb.database_url, site.environ)
        await asyncio.to_thread(swap_database, server, fresh_db, str(server.database))
    if release is not None:
        assert sb.web_root is not None
        web_root = site.resolve(sb.web_root)
        await asyncio.to_thread(switch_web_root, web_root, release[1])
        result.release = str(release[1])
        await asyncio.to_thread(_prune_releases, web_root, sb.keep)
    result.data_at = min(taken) if taken else None
    await _start(site, sb)


async def _answering(site: BackupSite, sb: Standby, result: StandbyResult, *, wait_s: float) -> None:
    """Run the checks until they all pass or ``wait_s`` is over."""
    deadline = time.monotonic() + wait_s
    while True:
        result.checks = await run_checks(site, sb)
        result.checks_ok = all(c.ok for c in result.checks)
        if result.checks_ok or time.monotonic() >= deadline:
            break
        await asyncio.sleep(0.2)
    if not result.checks_ok:
        bad = next(c for c in result.checks if not c.ok)
        result.error = note_of(Message("standby.step.check_fails", {"check": bad.check_id,
                                                                    "detail": stored_reason(bad)}))


async def refresh(site: BackupSite, service: str, *, kind: str = "refresh") -> StandbyResult:
    """Restore the newest verified snapshots of ``service`` into its standby, switch, start and check it."""
    sb = standby_for(site, service)
    result = StandbyResult(sb.service, kind, site.clock())
    begin = time.monotonic()
    async with _locks.setdefault(sb.service, asyncio.Lock()):
        try:
            await _refresh(site, sb, result)
            await _answering(site, sb, result, wait_s=sb.answer_within_s)
            result.ok = True
        except Exception as exc:  # restic, a backup step, the OS or a database driver: a failed refresh, recorded
            result.error = failure_note(exc)
    result.took_s = time.monotonic() - begin
    record(site.engine, result, site.clock())
    log.info("standby %s %s: ok=%s checks=%s took %.1fs", sb.service, kind, result.ok, result.checks_ok,
             result.took_s)
    return result


async def drill(site: BackupSite, service: str, *, cold: bool = False, kind: str = "drill") -> StandbyResult:
    """The recovery drill: from the trigger, start (or reload) the standby and wait until it answers the
    service's checks; with ``cold`` (or a standby never restored) it is restored first. No production name is
    touched: the checks are sent to the standby's own address. Returns (and records) the time it took."""
    sb = standby_for(site, service)
    result = StandbyResult(sb.service, kind, site.clock())
    begin = time.monotonic()
    async with _locks.setdefault(sb.service, asyncio.Lock()):
        try:
            last = last_run(site.engine, sb.service, ok=True)
            if cold or last is None:
                await _refresh(site, sb, result)
            else:
                result.files_snapshot, result.database_snapshot = last["files_snapshot"], last["database_snapshot"]
                result.data_at, result.release = last["data_at"], last["release"]
                await _start(site, sb)
            await _answering(site, sb, result, wait_s=sb.answer_within_s)
            result.ok = bool(result.checks_ok)
        except Exception as exc:  # as in refresh: recorded as a failed drill
            result.error = failure_note(exc)
    result.took_s = time.monotonic() - begin
    record(site.engine, result, site.clock())
    return result


async def activate(site: BackupSite, service: str, *, kind: str = "activate") -> tuple[bool, str, dict[str, Any]]:
    """The runbook's ``standby`` step: the warm standby takes over now (started or reloaded, then checked),
    recorded as ``kind = activate`` (``drill`` in a runbook's recovery drill); returns (ok, one line, facts)
    for the step's outcome."""
    result = await drill(site, service, kind=kind)
    line = (
        note_of(Message("standby.step.answers", {"service": service, "seconds": round(result.took_s or 0, 1),
                                                 "files": result.files_snapshot or "-",
                                                 "database": result.database_snapshot or "-"}))
        if result.ok
        else note_of(Message("standby.step.failed", {"service": service, "error": result.error or "?"}))
    )
    facts = {"took_s": round(result.took_s or 0, 2), "data_at": result.data_at.isoformat() if result.data_at else None}
    return result.ok, line, facts


async def answers(site: BackupSite, service: str) -> tuple[bool, str]:
    """Does the standby of ``service`` answer its checks now (once each)? (ok, one line)."""
    results = await run_checks(site, standby_for(site, service))
    bad = [c for c in results if not c.ok]
    if not results:
        return False, note_of(Message("standby.step.no_checks", {"service": service}))
    if bad:
        return False, note_of(Message("standby.step.check_fails", {"check": bad[0].check_id,
                                                                    "detail": stored_reason(bad[0])}))
    return True, note_of(Message("standby.step.checks_pass", {"service": service, "count": len(results)}))


# --- records -------------------------------------------------------------------------------------


def record(engine: Engine, result: StandbyResult, at: dt.datetime) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(standby_runs).values(
                service=result.service, kind=result.kind, started_at=result.started_at, finished_at=at,
                ok=result.ok, files_snapshot=result.files_snapshot, database_snapshot=result.database_snapshot,
                data_at=result.data_at, release=result.release, took_s=result.took_s, checks_ok=result.checks_ok,
                error=result.error,
            )
        )


def last_run(engine: Engine, service: str, *, kind: str | None = "refresh", ok: bool | None = None
             ) -> dict[str, Any] | None:
    """The newest recorded refresh (or drill, or either with ``kind=None``) of ``service``'s standby."""
    q = select(standby_runs).where(standby_runs.c.service == service)
    if kind is not None:
        q = q.where(standby_runs.c.kind == kind)
    if ok is not None:
        q = q.where(standby_runs.c.ok.is_(ok))
    with engine.connect() as conn:
        row = conn.execute(q.order_by(standby_runs.c.started_at.desc(), standby_runs.c.id.desc()).limit(1)
                           ).mappings().first()
    return dict(row) if row is not None else None


def standby_facts(site: BackupSite, sb: Standby) -> StandbyFacts:
    """What :func:`siaga.standby.freshness.assess` needs of one standby, from the store."""
    from siaga.config.standby import stale_after

    good = last_run(site.engine, sb.service, ok=True)
    last = last_run(site.engine, sb.service)
    return StandbyFacts(
        service=sb.service,
        stale_after=stale_after(sb, site.config.backups),
        data_at=good["data_at"] if good else None,
        last_ok=last["ok"] if last else None,
        last_error=last["error"] if last else None,
        checks_ok=last["checks_ok"] if last else None,
        watched_since=site.started_at,
    )


def standby_conditions(site: BackupSite, now: dt.datetime) -> list[Condition]:
    """Every standby condition of the site at ``now`` (stale, refresh failed, checks failed)."""
    out: list[Condition] = []
    for sb in site.config.standbys:
        out += assess(standby_facts(site, sb), now)
    return out
