"""``siaga runbook list|plan NAME|run NAME [--dry-run]|drill NAME [--json]``: protective runbooks (docs/runbooks.md)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
from collections.abc import Mapping
from typing import Any

import typer

from siaga.cli.common import ConfigOption, ExitCode, JsonOption, LangOption, fail, load_or_exit, use_language
from siaga.cli.sensing_common import site_zone
from siaga.config import LoadedConfig
from siaga.i18n import _, get_language
from siaga.inventory import Inventory, TargetError
from siaga.inventory.messages import target_error_line

app = typer.Typer(help=_("Protective runbooks: list, plan, run (or --dry-run), drill."), no_args_is_help=True)


def _plan(loaded: LoadedConfig, name: str) -> Any:
    from siaga.runbooks import plan

    cfg = loaded.config
    book = cfg.runbooks.book(name)
    if book is None:
        known = ", ".join(b.id for b in cfg.runbooks.books) or "-"
        fail(_("no runbook {name!r} (runbooks: {known})").format(name=name, known=known), ExitCode.USAGE)
    try:
        return plan(book, Inventory.from_config(cfg), cfg.runbooks, dt.datetime.now(dt.UTC))
    except TargetError as exc:
        fail(target_error_line(exc), ExitCode.USAGE)


@app.command("list")
def list_command(
    config: str = ConfigOption, as_json: bool = JsonOption, lang: str | None = LangOption
) -> None:
    """The runbooks with their mode, trigger and steps."""
    loaded = load_or_exit(config)
    use_language(lang, loaded)
    rows: list[dict[str, Any]] = []
    for book in loaded.config.runbooks.books:
        trig = book.trigger
        rows.append({
            "id": book.id, "name": book.name, "mode": book.mode.value, "approvals": book.approvals,
            "trigger": trig.model_dump() if trig else None, "steps": [s.kind for s in book.steps],
        })
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not rows:
        typer.echo(_("no runbooks in this config"))
    for row in rows:
        found: dict[str, Any] | None = row["trigger"]
        when = (_("on {rule} {subject}").format(rule=found["rule"], subject=found["subject"] or "*") if found
                else _("by hand"))
        typer.echo(f"{row['id']:<20} {row['mode']:<8} {when:<28} {' → '.join(row['steps'])}")


@app.command("plan")
def plan_command(
    name: str = typer.Argument(..., help=_("The runbook's id.")),
    config: str = ConfigOption,
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
) -> None:
    """What the runbook would do, in order, and why. Changes nothing."""
    from siaga.runbooks.messages import plan_json, plan_lines

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    p = _plan(loaded, name)
    if as_json:
        typer.echo(json.dumps(plan_json(p), ensure_ascii=False, indent=2))
    else:
        typer.echo("\n".join(plan_lines(p)))


def _store_recorder(loaded: LoadedConfig, actor: str) -> Any:
    """``record`` writing each line to the timeline (``runbook.*``) and the audit log (``audit.runbook.*``)."""
    from siaga.cli.sensing_common import open_store
    from siaga.store.events import record_event

    engine = open_store(loaded)

    def record(kind: str, data: Mapping[str, Any]) -> None:
        subject = str(data.get("runbook"))
        with engine.begin() as conn:
            record_event(conn, kind, subject=subject, actor=actor, data=data)
            record_event(conn, f"audit.{kind}", subject=subject, actor=actor, data=data)

    return record


def _standby_manager(loaded: LoadedConfig) -> Any:
    """The site's standbys (None without any)."""
    if not loaded.config.standbys:
        return None
    from siaga.backup.manager import BackupManager
    from siaga.cli.sensing_common import open_store

    return BackupManager(loaded.config, engine=open_store(loaded), base_dir=loaded.base_dir)


def _standby_activator(loaded: LoadedConfig, kind: str = "activate") -> Any:
    """The ``standby`` step's action on this site (None without standbys): the warm standby takes over."""
    mgr = _standby_manager(loaded)
    if mgr is None:
        return None
    from siaga.runbooks.steps.standby import activator

    return activator(mgr, kind)


@app.command("run")
def run_command(
    name: str = typer.Argument(..., help=_("The runbook's id.")),
    config: str = ConfigOption,
    dry_run: bool = typer.Option(False, "--dry-run", help=_("Print the plan and change nothing.")),
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
) -> None:
    """Run the runbook now (its mode is for triggers: a person running it is its approval)."""
    from siaga.runbooks.engine import run_plan
    from siaga.runbooks.messages import plan_json, plan_lines
    from siaga.runbooks.steps import StepContext

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    p = _plan(loaded, name)
    if dry_run:
        if as_json:
            typer.echo(json.dumps({**plan_json(p), "dry_run": True}, ensure_ascii=False, indent=2))
        else:
            typer.echo("\n".join([*plan_lines(p), _("dry run: nothing was changed")]))
        return
    actor = os.environ.get("SIAGA_USER") or os.environ.get("USER") or "cli"
    ctx = StepContext(base_dir=loaded.base_dir, standby=_standby_activator(loaded))
    result = asyncio.run(run_plan(p, ctx, actor=actor, record=_store_recorder(loaded, actor)))
    if as_json:
        typer.echo(json.dumps(result.as_json(get_language(), site_zone(loaded)), ensure_ascii=False, indent=2))
    else:
        for step in result.steps:
            mark = _("ok") if step.outcome.ok else _("FAILED")
            typer.echo(f"{step.action.number}. {step.action.kind} {step.action.subject}: {mark}")
            if step.outcome.output:
                typer.echo("   " + step.outcome.text(get_language(), site_zone(loaded)).replace("\n", "\n   "))
        typer.echo(_("runbook {id}: {status}").format(id=p.runbook.id, status=result.status))
    if result.status == "failed":
        raise typer.Exit(ExitCode.FAILURE)


@app.command("drill")
def drill_command(
    name: str = typer.Argument(..., help=_("The runbook's id.")),
    config: str = ConfigOption,
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
) -> None:
    """The recovery drill: the whole runbook against the standby without touching production (dns steps point
    their drill_name, ssh steps run their drill_command, shutdowns are skipped), timed from the trigger to the
    service answering its checks from the standby, and recorded."""
    from siaga.runbooks.drill import DrillRefused, run_drill
    from siaga.runbooks.messages import skipped_line
    from siaga.runbooks.steps import Outcome, StepContext
    from siaga.runbooks.steps.base import said, words

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    p = _plan(loaded, name)
    actor = os.environ.get("SIAGA_USER") or os.environ.get("USER") or "cli"
    mgr = _standby_manager(loaded)

    async def standby_answers(service: str) -> Any:
        from siaga.standby.actions import answers

        if mgr is None:
            return Outcome(False, said("runbook.step.standby.none", service=service))
        return Outcome(*await answers(mgr, service))

    ctx = StepContext(base_dir=loaded.base_dir, standby=_standby_activator(loaded, kind="drill"))
    try:
        result = asyncio.run(run_drill(p, loaded.config.runbooks, ctx, clock=lambda: dt.datetime.now(dt.UTC),
                                       record=_store_recorder(loaded, actor), actor=actor,
                                       standby_answers=standby_answers))
    except DrillRefused as exc:
        fail(str(exc), ExitCode.USAGE)
    if as_json:
        typer.echo(json.dumps(result.as_json(get_language(), site_zone(loaded)), ensure_ascii=False, indent=2))
    else:
        for skipped in result.skipped:
            typer.echo(f"-  {skipped_line(skipped)}")
        for step in result.run.steps if result.run is not None else []:
            mark = _("ok") if step.outcome.ok else _("FAILED")
            typer.echo(f"{step.action.number}. {step.action.kind} {step.action.subject}: {mark}")
            if step.outcome.output:
                typer.echo("   " + step.outcome.text(get_language(), site_zone(loaded)).replace("\n", "\n   "))
        for what, outcome in result.answers:
            typer.echo(f"   {what}: {_('ok') if outcome.ok else _('FAILED')} "
                       f"{outcome.text(get_language(), site_zone(loaded))}")
        if result.ok:
            typer.echo(_("recovery drill of runbook {id}: ok, the service answers from the standby {seconds} s "
                         "after the trigger").format(id=p.runbook.id, seconds=f"{result.rto_s or 0:.1f}"))
    if not result.ok:
        error = words(result.error, get_language(), site_zone(loaded)) if result.error else ""
        fail(_("recovery drill of runbook {id} FAILED: {error}").format(id=p.runbook.id, error=error),
             ExitCode.FAILURE)
