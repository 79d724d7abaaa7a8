"""``siaga backup ...`` and ``siaga restore``: back up, check, drill, restore, and the recovery sheet."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import typer

from siaga.cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    LangOption,
    engine_or_exit,
    fail,
    load_or_exit,
    use_language,
)
from siaga.i18n import _, get_language
from siaga.i18n.formats import duration
from siaga.i18n.messages import note_text, render

T = TypeVar("T")

app = typer.Typer(
    help="Backups with restic: run, check, drill, keep, and the recovery sheet.", no_args_is_help=True
)


def _manager(config: str, *, restic: str | None = None, lang: str | None = None) -> Any:
    from siaga.backup.manager import BackupManager

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    engine = engine_or_exit(loaded, migrate=True)
    return BackupManager(loaded.config, engine=engine, base_dir=loaded.base_dir, restic_command=restic)


def said(note: str | None) -> str:
    """A stored failure (a message behind the note mark, or a line as it is) worded in the CLI's language."""
    return note_text(note, get_language(), ZoneInfo("UTC")) or ""


def _run(work: Coroutine[Any, Any, T]) -> T:
    from siaga.backup.manager import BackupError
    from siaga.backup.restic.errors import ResticError

    try:
        return asyncio.run(work)
    except BackupError as exc:
        code = ExitCode.USAGE if exc.kind in ("usage", "config") else ExitCode.FAILURE
        fail(render(exc.why, get_language(), ZoneInfo("UTC")), code)
    except ResticError as exc:
        fail(render(exc.why, get_language(), ZoneInfo("UTC")))
    except KeyboardInterrupt:
        fail(_("interrupted (restic was stopped with SIGINT; its lock is removed on the next run)"))


ResticOption = typer.Option(None, "--restic", envvar="SIAGA_RESTIC", help="Path of the restic binary.")


def _local(when: dt.datetime | None, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M") if when else "-"


@app.command("init")
def init(
    target: str = typer.Argument(..., help="Target id."),
    config: str = ConfigOption,
    restic: str | None = ResticOption,
) -> None:
    """Create the restic repository of a target."""
    mgr = _manager(config, restic=restic)
    where = _run(mgr.init_target(target))
    typer.echo(_("repository created: {where}").format(where=where))


@app.command("run")
def run(
    job: str = typer.Argument(..., help="Job id."),
    config: str = ConfigOption,
    restic: str | None = ResticOption,
) -> None:
    """Back up one job now (and copy it to its further targets)."""
    mgr = _manager(config, restic=restic)
    result = _run(mgr.run_job(job))
    if not result.ok:
        fail(_("backup {job}: {error}").format(job=job, error=said(result.error)))
    added = (result.bytes_added or 0) / 1e6
    typer.echo(
        _(
            "backup {job}: snapshot {snapshot} on {target}, {files} files, {added} MB added, {seconds}s"
        ).format(
            job=job,
            snapshot=result.snapshot_id,
            target=result.target,
            files=result.files,
            added=f"{added:.1f}",
            seconds=f"{result.duration_s:.1f}",
        )
    )
    for target, snap in result.copies.items():
        typer.echo(_("  copy to {target}: {snapshot}").format(target=target, snapshot=snap or _("FAILED")))
    if any(v is None for v in result.copies.values()):
        raise typer.Exit(ExitCode.FAILURE)


@app.command("snapshots")
def snapshots(
    target: str = typer.Argument(..., help="Target id."),
    job: str | None = typer.Option(None, "--job"),
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
    config: str = ConfigOption,
    restic: str | None = ResticOption,
) -> None:
    """List the snapshots siaga's jobs keep on a target."""
    mgr = _manager(config, restic=restic, lang=lang)
    snaps = _run(mgr.snapshots(target, job_id=job))
    if as_json:
        typer.echo(json.dumps([
            {"id": snap.short_id, "time": snap.time.isoformat(), "paths": list(snap.paths), "tags": list(snap.tags),
             "jobs": [t.split("=", 1)[1] for t in snap.tags if t.startswith("siaga-job=")]} for snap in snaps
        ], indent=1, ensure_ascii=False, default=str))
        return
    for snap in snaps:
        jobs = [t.split("=", 1)[1] for t in snap.tags if t.startswith("siaga-job=")]
        typer.echo(
            f"{snap.short_id}  {_local(snap.time, mgr.tz)}  {','.join(jobs) or '-'}  {' '.join(snap.paths)}"
        )


@app.command("forget")
def forget(
    target: str = typer.Argument(..., help="Target id."),
    dry_run: bool = typer.Option(True, "--dry-run/--apply", help="Preview (default) or forget for real."),
    config: str = ConfigOption,
    restic: str | None = ResticOption,
) -> None:
    """Apply the target's retention: a preview by default; the newest verified snapshot is always kept."""
    mgr = _manager(config, restic=restic)
    plans = _run(mgr.forget(target, dry_run=dry_run))
    if not plans:
        typer.echo(_("target {target} has no retention policy: nothing to forget").format(target=target))
    for job, plan in plans.items():
        line = (
            _("{job}: keep {keep}, would forget {forget}")
            if dry_run
            else _("{job}: keep {keep}, forgot {forget}")
        )
        typer.echo(line.format(job=job, keep=len(plan.keep), forget=len(plan.forget)))
        for snap in plan.keep:
            typer.echo(
                f"  keep    {snap.id[:8]}  {_local(snap.time, mgr.tz)}  ({', '.join(plan.reasons[snap.id])})"
            )
        for snap in plan.forget:
            typer.echo(f"  forget  {snap.id[:8]}  {_local(snap.time, mgr.tz)}")
    if not dry_run:
        typer.echo(_("space is freed by `siaga backup prune TARGET` (runs apart from backups)"))


@app.command("prune")
def prune(
    target: str = typer.Argument(..., help="Target id."),
    config: str = ConfigOption,
    restic: str | None = ResticOption,
) -> None:
    """Remove data no snapshot needs any more (never together with a backup)."""
    mgr = _manager(config, restic=restic)
    took = _run(mgr.prune(target))
    typer.echo(_("pruned {target} in {seconds}s").format(target=target, seconds=f"{took:.1f}"))


@app.command("check")
def check(
    target: str = typer.Argument(..., help="Target id."),
    subset: str | None = typer.Option(None, "--subset", help="k/N or a percentage (default: today's k/N)."),
    config: str = ConfigOption,
    restic: str | None = ResticOption,
) -> None:
    """Integrity check of a repository, reading today's share of the packs."""
    mgr = _manager(config, restic=restic)
    result = _run(mgr.check(target, subset=subset))
    if not result.ok:
        fail(_("check of {target} failed: {error}").format(target=target, error=said(result.error)))
    typer.echo(
        _("check of {target}: ok (read data subset {subset}, {seconds}s)").format(
            target=target, subset=result.subset or "-", seconds=f"{result.duration_s:.1f}"
        )
    )


@app.command("drill")
def drill(
    job: str = typer.Argument(..., help="Job id."),
    config: str = ConfigOption,
    restic: str | None = ResticOption,
) -> None:
    """Restore the newest off-site snapshot into a scratch place, verify it, and measure the time it took."""
    mgr = _manager(config, restic=restic)
    result = _run(mgr.drill(job))
    age = duration(result.snapshot_age_s or 0, get_language())
    if not result.ok:
        for problem in result.problems[:10]:
            typer.echo(f"  {said(problem)}", err=True)
        fail(
            _("drill {job} FAILED on {target}: {error}").format(
                job=job, target=result.target, error=said(result.error)
            )
        )
    typer.echo(
        _(
            "drill {job}: ok — snapshot {snapshot} from {target} (age {age}), {checked} verified, "
            "time to usable data {rto}s (restore {restore}s + verify {verify}s)"
        ).format(
            job=job,
            snapshot=result.snapshot_id,
            target=result.target,
            age=age,
            checked=result.checked,
            rto=f"{result.rto_s:.1f}",
            restore=f"{result.restore_s:.1f}",
            verify=f"{result.verify_s:.1f}",
        )
    )


@app.command("status")
def status(
    config: str = ConfigOption, as_json: bool = JsonOption, lang: str | None = LangOption
) -> None:
    """Every job: last backup, newest snapshot age, last drill and its measured time, active problems."""
    from siaga.backup.status import job_figures

    mgr = _manager(config, lang=lang)
    now = mgr.clock()
    figures = job_figures(mgr.config, mgr.engine, now)
    conds = {(c.subject, c.rule): c for c in mgr.conditions(now) if c.active}
    if as_json:
        out = [{**f.as_dict(), "problems": [r for (s, r) in conds if s == f.job]} for f in figures]
        typer.echo(json.dumps(out, indent=2))
        return
    if not figures:
        typer.echo(_("no backup jobs configured"))
    for f in figures:
        age = duration(f.snapshot_age_s, get_language()) if f.snapshot_age_s is not None else "-"
        drill_text = _("never")
        if f.drill_at is not None:
            drill_text = f"{_('ok') if f.drill_ok else _('FAILED')} {_local(f.drill_at, mgr.tz)}"
            if f.drill_rto_s is not None:
                drill_text += _(", restore took {seconds}s").format(seconds=f"{f.drill_rto_s:.0f}")
        typer.echo(
            _("{job} → {target}: last success {success}, newest snapshot {age} old, drill {drill}").format(
                job=f.job,
                target=f.target,
                success=_local(f.last_success_at, mgr.tz),
                age=age,
                drill=drill_text,
            )
        )
        for (subject, _rule), cond in sorted(conds.items()):
            if subject == f.job:
                typer.echo(f"  ! {cond.summary}")
    if conds:
        raise typer.Exit(ExitCode.FAILURE)


@app.command("sheet")
def sheet(
    output: Path | None = typer.Option(None, "-o", "--output", help="Write the HTML here (default: stdout)."),
    lang: str | None = typer.Option(None, "--lang", help="id or en (default: the site's language)."),
    config: str = ConfigOption,
) -> None:
    """The printable recovery sheet (HTML): repositories, where the key is kept, steps, last drill times."""
    from siaga.backup.sheet import render_sheet

    mgr = _manager(config)
    html = render_sheet(mgr.config, mgr.engine, now=mgr.clock(), language=lang)
    if output is None:
        typer.echo(html)
    else:
        output.write_text(html, encoding="utf-8")
        typer.echo(_("recovery sheet written to {path}").format(path=output))


def restore(
    job: str = typer.Argument(..., help="Job id."),
    to: Path | None = typer.Option(None, "--to", help="An empty folder to restore the files into."),
    to_database: str | None = typer.Option(None, "--to-database", help="Database URL to load a dump into."),
    snapshot: str | None = typer.Option(None, "--snapshot", help="Snapshot id (default: the newest)."),
    from_target: str | None = typer.Option(
        None, "--from", help="Target to restore from (default: the job's)."
    ),
    overwrite: bool = typer.Option(False, "--overwrite", help="Allow a non-empty folder or database."),
    config: str = ConfigOption,
    restic: str | None = ResticOption,
) -> None:
    """Restore a job's snapshot to a folder or a database. Never overwrites unless --overwrite."""
    mgr = _manager(config, restic=restic)
    snap, took = _run(
        mgr.restore(
            job,
            snapshot=snapshot,
            to=to,
            to_database=to_database,
            from_target=from_target,
            overwrite=overwrite,
        )
    )
    where = str(to) if to is not None else to_database
    typer.echo(
        _("restored {job} snapshot {snapshot} to {where} in {seconds}s").format(
            job=job, snapshot=snap[:8], where=where, seconds=f"{took:.1f}"
        )
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="backup")
    root.command("restore")(restore)
