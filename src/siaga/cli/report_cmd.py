"""``siaga report``: reports leadership and oversight read, as HTML or PDF (and text for a quick look)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import typer

from siaga.cli.common import ConfigOption, ExitCode, engine_or_exit, fail, load_or_exit, use_language
from siaga.i18n import N_, _

app = typer.Typer(help=_("Reports for leadership and oversight: incidents, months (HTML or PDF)."),
                  no_args_is_help=True)


SLA_LABELS = {"met": N_("met"), "missed": N_("missed"), "undetermined": N_("undetermined")}


def _write(html: str, output_format: str, output: str | None) -> None:
    from siaga.reports.render import PdfUnavailable, html_to_pdf

    if output_format == "html":
        data = html.encode("utf-8")
    elif output_format == "pdf":
        if output is None:
            fail(_("a PDF needs --output FILE"), ExitCode.USAGE)
        try:
            data = html_to_pdf(html)
        except PdfUnavailable as exc:
            fail(str(exc))
    else:
        fail(_("unknown format {name!r}: use html or pdf").format(name=output_format), ExitCode.USAGE)
    if output is None:
        typer.echo(data.decode("utf-8"), nl=False)
    else:
        Path(output).write_bytes(data)
        typer.echo(_("written: {path}").format(path=output))


@app.command("incident")
def incident(
    incident_id: int = typer.Argument(..., help=_("The incident's number.")),
    config: str = ConfigOption,
    output_format: str = typer.Option("html", "--format", "-f", help=_("html or pdf.")),
    output: str | None = typer.Option(None, "--output", "-o", help=_("Write to this file.")),
    lang: str | None = typer.Option(None, "--lang", help=_("id or en (default: the config's language).")),
    site: str | None = typer.Option(None, "--site", help=_(
        "At a colocation: the incident of this watched room, from the record it sent here.")),
) -> None:
    """The report of one incident: detection, acknowledgement, what was at stake, the whole timeline."""
    from siaga.reports.incident import ReportError, format_duration, load_incident_report, load_remote_incident_report
    from siaga.reports.render import render_html

    loaded = load_or_exit(config)
    code = use_language(lang, loaded)
    cfg = loaded.config
    engine = engine_or_exit(loaded)
    site_name = cfg.site.name
    try:
        if site is None:
            report = load_incident_report(engine, incident_id, dt.datetime.now(dt.UTC), cfg)
        else:
            peer = cfg.peers.peer(site)
            site_name = (peer.name if peer is not None else None) or site
            report = load_remote_incident_report(engine, site, incident_id, dt.datetime.now(dt.UTC))
    except ReportError as exc:
        fail(str(exc), ExitCode.USAGE)
    html = render_html(
        "incident.html",
        {"r": report, "site": site_name, "generated_at": report.generated_at,
         "duration": lambda d: format_duration(d, code), "seconds": lambda s: dt.timedelta(seconds=s),
         "sla_labels": {k: _(v) for k, v in SLA_LABELS.items()}},
        lang=code, timezone=cfg.site.timezone,
    )
    _write(html, output_format, output)


@app.command("monthly")
def monthly(
    month: str = typer.Option(..., "--month", "-m", help=_("The month, YYYY-MM (in the site's time zone).")),
    config: str = ConfigOption,
    output_format: str = typer.Option("html", "--format", "-f", help=_("html or pdf.")),
    output: str | None = typer.Option(None, "--output", "-o", help=_("Write to this file.")),
    lang: str | None = typer.Option(None, "--lang", help=_("id or en (default: the config's language).")),
) -> None:
    """The month for leadership: incidents, time to acknowledge, the room's climate, uptime, backups."""
    from babel.dates import format_date

    from siaga.reports import sections  # noqa: F401 - registers the services and backups sections
    from siaga.reports.incident import format_duration
    from siaga.reports.monthly import Month, load_monthly_report
    from siaga.reports.render import render_html

    loaded = load_or_exit(config)
    code = use_language(lang, loaded)
    cfg = loaded.config
    try:
        which = Month.parse(month, cfg.site.timezone)
    except ValueError as exc:
        fail(str(exc), ExitCode.USAGE)
    engine = engine_or_exit(loaded)
    report = load_monthly_report(engine, cfg, which, dt.datetime.now(dt.UTC))
    html = render_html(
        "monthly.html",
        {"r": report, "generated_at": report.generated_at,
         "month_name": format_date(dt.date(which.year, which.month, 1), "MMMM y", locale=code),
         "duration": lambda d: format_duration(d, code), "seconds": lambda s: dt.timedelta(seconds=s),
         "sla_labels": {k: _(v) for k, v in SLA_LABELS.items()}},
        lang=code, timezone=cfg.site.timezone,
    )
    _write(html, output_format, output)
