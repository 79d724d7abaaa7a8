"""``siaga standby status|refresh|drill``: the warm standbys at the colocation (see docs/standby.md)."""

from __future__ import annotations

import json
from typing import Any
from zoneinfo import ZoneInfo

import typer

from siaga.cli.backup_cmd import ResticOption, _local, _manager, _run, said
from siaga.cli.common import ConfigOption, ExitCode, LangOption, fail
from siaga.i18n import _, get_language
from siaga.i18n.formats import duration
from siaga.i18n.messages import render

app = typer.Typer(help="Warm standbys: restored from verified snapshots, checked, and the recovery drill.",
                  no_args_is_help=True)

JsonOption = typer.Option(False, "--json", help="JSON for machines.")


def _check_line(check: Any) -> str:
    """What a check of the standby saw, worded in the CLI's language."""
    return render(check.why, get_language(), ZoneInfo("UTC")) if check.why is not None else str(check.message)


def _report(result: Any, as_json: bool, what: str) -> None:
    if as_json:
        out = result.as_dict()
        out["error"] = said(result.error) or None
        out["checks"] = [{**c, "message": _check_line(check)} for c, check in zip(out["checks"], result.checks,
                                                                                   strict=True)]
        typer.echo(json.dumps(out, indent=2))
    else:
        for check in result.checks:
            mark = _("ok") if check.ok else _("FAILED")
            typer.echo(f"  {check.check_id}: {mark} {_check_line(check)}")
        if result.ok:
            typer.echo(
                _("{what} of the standby of {service}: ok in {took}s — files {files}, database {database}").format(
                    what=what, service=result.service, took=f"{result.took_s or 0:.1f}",
                    files=result.files_snapshot or "-", database=result.database_snapshot or "-",
                )
            )
    if not result.ok:
        fail(_("{what} of the standby of {service} FAILED: {error}").format(
            what=what, service=result.service, error=said(result.error)), ExitCode.FAILURE)
    if result.checks_ok is False:
        if not as_json:
            typer.echo(_("the standby does not answer its checks: {error}").format(error=said(result.error)),
                       err=True)
        raise typer.Exit(ExitCode.FAILURE)


@app.command("refresh")
def refresh(
    service: str = typer.Argument(..., help="Service id."),
    config: str = ConfigOption,
    restic: str | None = ResticOption,
    as_json: bool = JsonOption,
) -> None:
    """Restore the newest verified snapshots into the standby now, switch, start and check it."""
    from siaga.standby.actions import refresh as do_refresh

    mgr = _manager(config, restic=restic)
    _report(_run(do_refresh(mgr, service)), as_json, _("refresh"))


@app.command("drill")
def drill(
    service: str = typer.Argument(..., help="Service id."),
    cold: bool = typer.Option(False, "--cold", help="Restore the standby first (the time of a cold standby)."),
    config: str = ConfigOption,
    restic: str | None = ResticOption,
    as_json: bool = JsonOption,
) -> None:
    """The recovery drill: from now until the service answers its checks from the standby (no production name
    is touched); the time is recorded and shown in the monthly report and the audit."""
    from siaga.standby.actions import drill as do_drill

    mgr = _manager(config, restic=restic)
    _report(_run(do_drill(mgr, service, cold=cold)), as_json, _("recovery drill"))


@app.command("status")
def status(config: str = ConfigOption, as_json: bool = JsonOption, lang: str | None = LangOption) -> None:
    """Every standby: what it serves, how old its data is, its last refresh and drill, active problems."""
    from siaga.standby.actions import last_run, standby_conditions

    mgr = _manager(config, lang=lang)
    now = mgr.clock()
    conds = [c for c in standby_conditions(mgr, now) if c.active]
    rows: list[dict[str, Any]] = []
    for sb in mgr.config.standbys:
        good = last_run(mgr.engine, sb.service, ok=True)
        last = last_run(mgr.engine, sb.service)
        drilled = last_run(mgr.engine, sb.service, kind="drill")
        rows.append({
            "service": sb.service,
            "data_at": good["data_at"].isoformat() if good and good["data_at"] else None,
            "data_age_s": (now - good["data_at"]).total_seconds() if good and good["data_at"] else None,
            "files_snapshot": good["files_snapshot"] if good else None,
            "database_snapshot": good["database_snapshot"] if good else None,
            "last_refresh_at": last["started_at"].isoformat() if last else None,
            "last_refresh_ok": last["ok"] if last else None,
            "drill_at": drilled["started_at"].isoformat() if drilled else None,
            "drill_ok": drilled["ok"] if drilled else None,
            "drill_s": drilled["took_s"] if drilled else None,
            "problems": [c.rule for c in conds if c.subject == sb.service],
        })
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
    else:
        if not rows:
            typer.echo(_("no standbys configured"))
        for row in rows:
            age = duration(row["data_age_s"], get_language()) if row["data_age_s"] is not None else "-"
            drill_text = _("never")
            if row["drill_at"] is not None:
                drill_text = _("{result}, switch took {seconds}s").format(
                    result=_("ok") if row["drill_ok"] else _("FAILED"), seconds=f"{row['drill_s'] or 0:.1f}")
            typer.echo(_("standby {service}: data {age} old, last refresh {refreshed}, drill {drill}").format(
                service=row["service"], age=age,
                refreshed=_local(dt_or_none(row["last_refresh_at"]), mgr.tz), drill=drill_text))
            for cond in conds:
                if cond.subject == row["service"]:
                    typer.echo(f"  ! {render(cond.summary, get_language(), mgr.tz)}")
    if conds:
        raise typer.Exit(ExitCode.FAILURE)


def dt_or_none(text: str | None) -> Any:
    import datetime as dt

    return dt.datetime.fromisoformat(text) if text else None
