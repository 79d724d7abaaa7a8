"""``siaga alerts``: list alerts, show one with its timeline, acknowledge, resolve, add a note.

Acknowledging here writes to the store; a running ``siaga serve`` takes it up within seconds and
tells its subscribers (the notifier stops escalating).
"""

from __future__ import annotations

import json
import os

import typer
from sqlalchemy import Engine

from siaga.alerts.serialise import alert_to_json
from siaga.cli.common import ConfigOption, ExitCode, JsonOption, LangOption, fail, load_or_exit, use_language
from siaga.cli.sensing_common import local, open_store, say, site_zone, table
from siaga.config import LoadedConfig
from siaga.i18n import _, get_language, labels
from siaga.i18n.messages import note_text, render
from siaga.money import format_rupiah
from siaga.store.types import utcnow

STATES = ("pending", "firing", "acknowledged", "resolved")
SEVERITIES = ("info", "warning", "critical")
ACTIVE = ("pending", "firing", "acknowledged")

app = typer.Typer(
    help=_("Alerts: list (active by default), show, acknowledge, resolve, note."),
    invoke_without_command=True,
    no_args_is_help=False,
)


def _person(loaded: LoadedConfig, engine: Engine, named: str | None) -> str:
    """Who acts: ``--as`` (else $SIAGA_USER, else $USER), which must be a person of the config or an
    enabled account; anything else is refused, so the timeline never says "cli" or a Unix login."""
    from siaga.web.auth.accounts import get_user

    who = (named or os.environ.get("SIAGA_USER") or os.environ.get("USER") or "").strip()
    if who in {p.id for p in loaded.config.people}:
        return who
    if who:
        with engine.connect() as conn:
            user = get_user(conn, who)
        if user is not None and not user.disabled:
            return user.name
    fail(_("say who you are with --as: {who!r} is neither a person of the config nor an account "
           "(people: {people})").format(who=who, people=", ".join(p.id for p in loaded.config.people) or "-"),
         ExitCode.USAGE)


def _check(values: list[str] | None, allowed: tuple[str, ...], option: str) -> list[str]:
    out: list[str] = []
    for v in values or []:
        for part in v.split(","):
            part = part.strip()
            if part == "active" and option == "--state":
                out += list(ACTIVE)
            elif part not in allowed:
                fail(_("{option} must be one of {choices} (got {value!r})").format(
                    option=option, choices=", ".join(allowed), value=part), ExitCode.USAGE)
            else:
                out.append(part)
    return out


_STATE = typer.Option(None, "--state", help=_("pending, firing, acknowledged, resolved or active (default: active)."))
_SEVERITY = typer.Option(None, "--severity", help=_("info, warning or critical."))
_ALL = typer.Option(False, "--all", help=_("Resolved alerts too."))
_LIMIT = typer.Option(50, "--limit", help=_("At most this many, newest first."))


def list_alerts(
    state: list[str] = _STATE,
    severity: list[str] = _SEVERITY,
    show_all: bool = _ALL,
    limit: int = _LIMIT,
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
    config: str = ConfigOption,
) -> None:
    """List alerts, newest first (the active ones unless --state or --all says otherwise)."""
    from siaga.alerts import store

    states = _check(state, STATES, "--state") or (list(STATES) if show_all else list(ACTIVE))
    severities = _check(severity, SEVERITIES, "--severity")
    loaded = load_or_exit(config)
    use_language(lang, loaded)
    zone = site_zone(loaded)
    engine = open_store(loaded)
    with engine.connect() as conn:
        alerts = store.list_alerts(conn, states=states, severities=severities or None, limit=limit)
    if as_json:
        typer.echo(json.dumps([alert_to_json(a, get_language(), zone) for a in alerts], indent=1))
        return
    if not alerts:
        typer.echo(_("no alerts"))
        return
    rows = [
        [f"#{a.id}", labels.severity(a.severity), labels.alert_event(a.state), a.rule, a.subject,
         local(a.started_at, zone),
         a.acknowledged_by or "", f"#{a.incident_id}" if a.incident_id else "",
         format_rupiah(a.impact.value_at_risk, get_language()) if a.impact.value_at_risk else ""]
        for a in alerts
    ]
    typer.echo(table(rows, ["id", _("severity"), _("state"), _("rule"), _("subject"), _("since"), _("ack by"),
                            _("incident"), _("at risk")]))


app.command("list")(list_alerts)


@app.callback(invoke_without_command=True)
def _alerts(
    ctx: typer.Context,
    state: list[str] = _STATE,
    severity: list[str] = _SEVERITY,
    show_all: bool = _ALL,
    limit: int = _LIMIT,
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
    config: str = ConfigOption,
) -> None:
    """``siaga alerts`` alone lists, as ``siaga alerts list`` does."""
    if ctx.invoked_subcommand is None:
        list_alerts(state, severity, show_all, limit, as_json, lang, config)


@app.command("show")
def show(
    alert_id: int = typer.Argument(..., help=_("Alert id.")),
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
    config: str = ConfigOption,
) -> None:
    """An alert with what is at stake and its timeline."""
    from siaga.alerts import store

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    zone = site_zone(loaded)
    engine = open_store(loaded)
    with engine.connect() as conn:
        alert = store.get_alert(conn, alert_id)
        if alert is None:
            fail(_("no alert #{id}").format(id=alert_id))
        events = store.events_of(conn, [alert_id])
    if as_json:
        timeline = [{"at": e.at.isoformat(), "event": e.event, "severity": e.severity.value, "by": e.by,
                     "via": e.via, "note": e.note} for e in events]
        typer.echo(json.dumps({**alert_to_json(alert, get_language(), zone), "timeline": timeline},
                              indent=1, ensure_ascii=False, default=str))
        return
    imp = alert.impact
    typer.echo(f"#{alert.id} [{labels.severity(alert.severity)}] {labels.alert_event(alert.state)}: "
               f"{say(alert.summary, zone)}")
    typer.echo(_("rule {rule} on {kind} {subject}; incident {incident}").format(
        rule=alert.rule, kind=alert.subject_kind.value, subject=alert.subject,
        incident=f"#{alert.incident_id}" if alert.incident_id else "-"))
    place = " / ".join(p for p in (imp.room, imp.rack, labels.zone(imp.zone) if imp.zone else None) if p)
    if place:
        typer.echo(_("where: {place}").format(place=place))
    if imp.devices:
        typer.echo(_("devices: {devices}").format(devices=", ".join(imp.devices)))
    if imp.services:
        typer.echo(_("services: {services}").format(services=", ".join(imp.services)))
    if imp.value_at_risk:
        typer.echo(_("at risk: {amount}").format(amount=format_rupiah(imp.value_at_risk, get_language())))
    for e in events:
        who = f" {e.by}" if e.by else ""
        via = f" ({e.via})" if e.via else ""
        text = note_text(e.note, get_language(), zone)
        note = f": {text}" if text else ""
        typer.echo(f"  {local(e.at, zone, seconds=True)}  {labels.alert_event(e.event)} "
                   f"[{labels.severity(e.severity)}]{who}{via}{note}")


@app.command("ack")
def ack(
    alert_id: int = typer.Argument(..., help=_("Alert id.")),
    by: str = typer.Option(
        None, "--as", "--by", help=_("Who takes it: a person of the config or an account (default: $USER)."),
    ),
    note: str = typer.Option(None, "--note", help=_("What you are doing about it.")),
    config: str = ConfigOption,
) -> None:
    """Acknowledge an alert: you take responsibility; escalation stops."""
    from siaga.alerts import store

    loaded = load_or_exit(config)
    engine = open_store(loaded)
    who = _person(loaded, engine, by)
    try:
        with engine.begin() as conn:
            alert = store.acknowledge(conn, alert_id, who, utcnow(), via="cli", note=note)
    except store.AlertError as exc:
        fail(render(exc.why, get_language(), site_zone(loaded)))
    typer.echo(_("alert #{id} acknowledged by {by}").format(id=alert.id, by=alert.acknowledged_by))


@app.command("resolve")
def resolve(
    alert_id: int = typer.Argument(..., help=_("Alert id.")),
    by: str = typer.Option(
        None, "--as", "--by", help=_("Who resolves it: a person of the config or an account (default: $USER)."),
    ),
    note: str = typer.Option(None, "--note", help=_("Why.")),
    config: str = ConfigOption,
) -> None:
    """Resolve an alert by hand (if its condition comes back, a new alert opens)."""
    from siaga.alerts import store

    loaded = load_or_exit(config)
    engine = open_store(loaded)
    who = _person(loaded, engine, by)
    try:
        with engine.begin() as conn:
            alert = store.resolve(conn, alert_id, who, utcnow(), via="cli", note=note)
    except store.AlertError as exc:
        fail(render(exc.why, get_language(), site_zone(loaded)))
    typer.echo(_("alert #{id} resolved").format(id=alert.id))


@app.command("note")
def note(
    alert_id: int = typer.Argument(..., help=_("Alert id.")),
    text: str = typer.Argument(..., help=_("The note.")),
    by: str = typer.Option(
        None, "--as", "--by", help=_("Who writes it: a person of the config or an account (default: $USER)."),
    ),
    config: str = ConfigOption,
) -> None:
    """Add a note to an alert's timeline."""
    from siaga.alerts import store

    loaded = load_or_exit(config)
    engine = open_store(loaded)
    who = _person(loaded, engine, by)
    try:
        with engine.begin() as conn:
            store.add_note(conn, alert_id, who, text, utcnow(), via="cli")
    except store.AlertError as exc:
        fail(render(exc.why, get_language(), site_zone(loaded)))
    typer.echo(_("note added to alert #{id}").format(id=alert_id))
