"""``siaga incidents``: the real-world events and the alerts that followed from them, with their timeline."""

from __future__ import annotations

import json
import os

import typer

from siaga.alerts.serialise import alert_to_json, incident_fields
from siaga.cli.common import ConfigOption, JsonOption, LangOption, fail, load_or_exit, use_language
from siaga.cli.sensing_common import local, open_store, say, site_zone, table
from siaga.i18n import _, get_language, labels
from siaga.i18n.messages import note_text, render
from siaga.money import format_rupiah
from siaga.store.types import utcnow

app = typer.Typer(help=_("Incidents: list, show with timeline, note, owner."), invoke_without_command=True)


@app.callback()
def list_incidents(
    ctx: typer.Context,
    open_only: bool = typer.Option(False, "--open", help=_("Only incidents still open.")),
    limit: int = typer.Option(30, "--limit", help=_("At most this many, newest first.")),
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
    config: str = ConfigOption,
) -> None:
    """List incidents, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from siaga.alerts import store

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    zone = site_zone(loaded)
    engine = open_store(loaded)
    with engine.connect() as conn:
        incidents = store.list_incidents(conn, open_only=open_only, limit=limit)
        counts = {i.id: len(store.list_alerts(conn, incident_id=i.id, limit=10_000)) for i in incidents}
    if as_json:
        typer.echo(json.dumps([{**incident_fields(i, get_language(), zone), "alert_count": counts[i.id]}
                               for i in incidents], indent=1, ensure_ascii=False, default=str))
        return
    if not incidents:
        typer.echo(_("no incidents"))
        return
    rows = [
        [f"#{i.id}", _("open") if i.closed_at is None else _("closed"), local(i.opened_at, zone),
         local(i.closed_at, zone) if i.closed_at else "", str(counts[i.id]), i.owner or "", say(i.title, zone)[:70]]
        for i in incidents
    ]
    typer.echo(table(rows, ["id", _("state"), _("opened"), _("closed"), _("alerts"), _("owner"), _("title")]))


@app.command("show")
def show(
    incident_id: int = typer.Argument(..., help=_("Incident id.")),
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
    config: str = ConfigOption,
) -> None:
    """An incident: its alerts, what is at stake, notes and the merged timeline."""
    from siaga.alerts import store

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    zone = site_zone(loaded)
    engine = open_store(loaded)
    with engine.connect() as conn:
        inc = store.get_incident(conn, incident_id)
        if inc is None:
            fail(_("no incident #{id}").format(id=incident_id))
        alerts = sorted(store.list_alerts(conn, incident_id=incident_id, limit=10_000), key=lambda a: a.id)
        events = store.events_of(conn, [a.id for a in alerts])
    if as_json:
        typer.echo(json.dumps({
            **incident_fields(inc, get_language(), zone),
            "alerts": [alert_to_json(a, get_language(), zone) for a in alerts],
            "timeline": [{"at": e.at.isoformat(), "alert_id": e.alert_id, "event": e.event, "by": e.by,
                          "via": e.via, "note": e.note} for e in events],
        }, indent=1, ensure_ascii=False, default=str))
        return
    state = _("open") if inc.closed_at is None else _("closed {when}").format(when=local(inc.closed_at, zone))
    typer.echo(f"#{inc.id} {say(inc.title, zone)}")
    typer.echo(_("opened {opened}, {state}; owner: {owner}").format(
        opened=local(inc.opened_at, zone), state=state, owner=inc.owner or "-"))
    devices = sorted({d for a in alerts for d in a.impact.devices})
    services = sorted({s for a in alerts for s in a.impact.services})
    value = max((a.impact.value_at_risk for a in alerts), default=0)
    if devices:
        typer.echo(_("devices: {devices}").format(devices=", ".join(devices)))
    if services:
        typer.echo(_("services: {services}").format(services=", ".join(services)))
    if value:
        typer.echo(_("at risk: {amount}").format(amount=format_rupiah(value, get_language())))
    typer.echo(_("alerts:"))
    for a in alerts:
        typer.echo(f"  #{a.id} [{labels.severity(a.severity)}] {labels.alert_event(a.state)}: {say(a.summary, zone)}")
    if inc.notes:
        typer.echo(_("notes:"))
        for line in inc.notes.splitlines():
            typer.echo(f"  {line}")
    typer.echo(_("timeline:"))
    subjects = {a.id: a.subject for a in alerts}
    for e in events:
        who = f" {e.by}" if e.by else ""
        text = note_text(e.note, get_language(), zone)
        note = f": {text}" if text else ""
        typer.echo(f"  {local(e.at, zone, seconds=True)}  #{e.alert_id} {subjects[e.alert_id]} {e.event}{who}{note}")


@app.command("note")
def note(
    incident_id: int = typer.Argument(..., help=_("Incident id.")),
    text: str = typer.Argument(..., help=_("The note.")),
    by: str = typer.Option(None, "--by", help=_("Who writes it (default: $USER).")),
    config: str = ConfigOption,
) -> None:
    """Add a note to an incident."""
    from siaga.alerts import store

    loaded = load_or_exit(config)
    engine = open_store(loaded)
    try:
        with engine.begin() as conn:
            store.note_incident(conn, incident_id, by or os.environ.get("USER"), text, utcnow(), site_zone(loaded))
    except store.AlertError as exc:
        fail(render(exc.why, get_language(), site_zone(loaded)))
    typer.echo(_("note added to incident #{id}").format(id=incident_id))


@app.command("assign")
def assign(
    incident_id: int = typer.Argument(..., help=_("Incident id.")),
    owner: str = typer.Option(..., "--owner", help=_("Who leads the response.")),
    config: str = ConfigOption,
) -> None:
    """Set who owns an incident."""
    from siaga.alerts import store

    loaded = load_or_exit(config)
    engine = open_store(loaded)
    with engine.begin() as conn:
        if store.get_incident(conn, incident_id) is None:
            fail(_("no incident #{id}").format(id=incident_id))
        store.set_incident(conn, incident_id, owner=owner)
    typer.echo(_("incident #{id} is owned by {owner}").format(id=incident_id, owner=owner))
