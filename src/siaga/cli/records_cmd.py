"""``siaga peer-records SITE``: at a colocation, a watched room's alerts and incidents from the record it sent.

Read from ``peer_records`` (``siaga.peers.record``): what the room recorded, as it last sent it, even when
the room is gone. ``siaga report incident --site SITE N`` makes the report of one of its incidents.
"""

from __future__ import annotations

import json

import typer

from siaga.cli.common import ConfigOption, load_or_exit, use_language
from siaga.cli.sensing_common import local, open_store, site_zone, table
from siaga.i18n import _


def records_command(
    site: str = typer.Argument(..., help=_("The room's site id (its entry in peers.sites).")),
    config: str = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help=_("Print JSON.")),
    limit: int = typer.Option(50, "--limit", help=_("At most this many alerts and incidents each.")),
    lang: str | None = typer.Option(None, "--lang", help=_("id or en (default: the config's language).")),
) -> None:
    """A watched room's alerts and incidents, from the record it sent here."""
    from siaga.alerts.serialise import alert_fields, incident_fields
    from siaga.peers.record import event_ids, remote_alerts, remote_incidents

    loaded = load_or_exit(config)
    code = use_language(lang, loaded)
    zone = site_zone(loaded)
    engine = open_store(loaded)
    with engine.connect() as conn:
        alerts = remote_alerts(conn, site)[:limit]
        incidents = remote_incidents(conn, site)[:limit]
        events = len(event_ids(conn, site))
    if as_json:
        typer.echo(json.dumps({"site": site, "events": events,
                               "alerts": [alert_fields(a, code, zone) for a in alerts],
                               "incidents": [incident_fields(i, code, zone) for i in incidents]},
                              indent=2, default=str))
        return
    if not events:
        typer.echo(_("Nothing recorded here for {site}.").format(site=site))
        return
    typer.echo(_("{site}: {n} events recorded here.").format(site=site, n=events))
    typer.echo(table([[f"#{i.id}", local(i.opened_at, zone), local(i.closed_at, zone) if i.closed_at else "-",
                       incident_fields(i, code, zone)["title"]] for i in incidents],
                     [_("incident"), _("opened"), _("closed"), _("title")]))
    typer.echo(table([[f"#{a.id}", a.rule, a.subject, a.severity.value, a.state.value, local(a.started_at, zone),
                       a.acknowledged_by or "-"] for a in alerts],
                     [_("alert"), _("rule"), _("subject"), _("severity"), _("state"), _("started"),
                      _("acknowledged by")]))


def register(app: typer.Typer) -> None:
    app.command("peer-records", help=_("A watched room's alerts and incidents, from the record it sent here."))(
        records_command
    )
