"""``siaga audit``: how ready is the room for a bad day? Text, HTML or PDF."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import typer

from siaga.audit import audit
from siaga.audit.render import as_html, as_pdf, as_text
from siaga.cli.common import ConfigOption, ExitCode, fail, load_or_exit, use_language
from siaga.i18n import _
from siaga.reports.render import PdfUnavailable


def register(app: typer.Typer) -> None:
    app.command("audit")(audit_command)


def _standby_facts(loaded: Any) -> Any:
    """With standbys: the last recovery drill of each, of each runbook (siaga runbook drill) and the last restore
    drill of each backup job, from the store (measured facts together); None without standbys: the audit reads
    the config only."""
    if not loaded.config.standbys:
        return None
    from siaga.audit import AuditFacts, DrillFact
    from siaga.backup import records
    from siaga.cli.sensing_common import open_store
    from siaga.standby.actions import last_run

    engine = open_store(loaded)
    standbys = {}
    for sb in loaded.config.standbys:
        row = last_run(engine, sb.service, kind="drill")
        if row is not None:
            standbys[sb.service] = DrillFact(row["started_at"], bool(row["ok"]), row["took_s"])
    jobs = {}
    for job in loaded.config.backups:
        drill = records.last_drill(engine, job.id)
        if drill is not None:
            jobs[job.id] = DrillFact(drill["started_at"], bool(drill["ok"]), drill["rto_s"])
    from siaga.runbooks.drill import last_drills

    with engine.connect() as conn:
        latest = last_drills(conn, [b.id for b in loaded.config.runbooks.books])
    books = {book: DrillFact(d["at"], bool(d.get("ok")), d.get("rto_s")) for book, d in latest.items()}
    return AuditFacts(drills=jobs, standby_drills=standbys, runbook_drills=books)


def audit_command(
    config: str = ConfigOption,
    output_format: str = typer.Option("text", "--format", "-f", help="text, html or pdf."),
    output: str | None = typer.Option(None, "--output", "-o", help="Write to this file (html and pdf)."),
    lang: str | None = typer.Option(None, "--lang", help="id or en (default: the config's language)."),
    fail_under: float | None = typer.Option(
        None, "--fail-under", help="Exit 1 when the score is below this (for scripts)."
    ),
) -> None:
    """Score the room's readiness: sensors where water and heat come from, people told, copies off site."""
    loaded = load_or_exit(config)
    code = use_language(lang, loaded)
    cfg = loaded.config
    result = audit(cfg, dt.datetime.now(dt.UTC), facts=_standby_facts(loaded), lang=code)
    if output_format == "text":
        typer.echo(as_text(result), nl=False)
    elif output_format in ("html", "pdf"):
        try:
            data: bytes = (
                as_html(result, timezone=cfg.site.timezone).encode("utf-8")
                if output_format == "html"
                else as_pdf(result, timezone=cfg.site.timezone)
            )
        except PdfUnavailable as exc:
            fail(str(exc))
        if output is None:
            if output_format == "pdf":
                fail(_("a PDF needs --output FILE"), ExitCode.USAGE)
            typer.echo(data.decode("utf-8"), nl=False)
        else:
            Path(output).write_bytes(data)
            typer.echo(_("written: {path}").format(path=output))
    else:
        fail(_("unknown format {name!r}: use text, html or pdf").format(name=output_format), ExitCode.USAGE)
    if fail_under is not None and result.score < fail_under:
        raise typer.Exit(ExitCode.FAILURE)
