"""``siaga peer-records SITE``: at a colocation, a watched room's alerts and incidents from the record it sent.

Read from ``peer_records`` (``siaga.peers.record``): what the room recorded, as it last sent it, even when
the room is gone. ``siaga report incident --site SITE N`` makes the report of one of its incidents.
"""

from __future__ import annotations

import json

import typer
from sqlalchemy import Engine

from siaga.cli.common import ConfigOption, ExitCode, fail, load_or_exit, use_language
from siaga.cli.sensing_common import local, open_store, site_zone, table
from siaga.config import LoadedConfig
from siaga.i18n import _, get_language
from siaga.i18n.messages import render
from siaga.store.types import utcnow


def records_command(
    site: str = typer.Argument(..., help=_("The room's site id (its entry in peers.sites).")),
    config: str = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help=_("Print JSON.")),
    limit: int = typer.Option(50, "--limit", help=_("At most this many alerts and incidents each.")),
    lang: str | None = typer.Option(None, "--lang", help=_("id or en (default: the config's language).")),
    ack: int | None = typer.Option(
        None, "--ack", help=_("Acknowledge the room's alert of this id: it reaches the room with its next heartbeat "
                              "and stops the room's escalation."),
    ),
    by: str | None = typer.Option(
        None, "--as", "--by",
        help=_("With --ack: who takes it (a person of the config or an account; default: $USER)."),
    ),
    note: str | None = typer.Option(None, "--note", help=_("With --ack: what you are doing about it.")),
) -> None:
    """A watched room's alerts and incidents, from the record it sent here."""
    from siaga.alerts.serialise import alert_fields, incident_fields
    from siaga.peers.record import event_ids, remote_alerts, remote_incidents

    loaded = load_or_exit(config)
    code = use_language(lang, loaded)
    zone = site_zone(loaded)
    engine = open_store(loaded)
    if ack is not None:
        _acknowledge(loaded, engine, site, ack, by, note, as_json)
        return
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


def _acknowledge(loaded: LoadedConfig, engine: Engine, site: str, alert_id: int, by: str | None, note: str | None,
                 as_json: bool) -> None:
    """``--ack``: queue the acknowledgement of the room's alert for the room (``siaga.peers.acks``)."""
    from siaga.alerts.store import AlertError
    from siaga.cli.alerts_cmd import _person
    from siaga.peers.acks import ack_remote

    if loaded.config.peers.peer(site) is None:
        fail(_("{site} is not a peer of this siaga (peers.sites)").format(site=site), ExitCode.USAGE)
    who = _person(loaded, engine, by)
    try:
        with engine.begin() as conn:
            event_id, alert = ack_remote(conn, site, alert_id, who, utcnow(), via="cli",
                                         origin=loaded.config.peers.site_id or "", note=note)
    except AlertError as exc:
        fail(render(exc.why, get_language(), site_zone(loaded)))
    if as_json:
        typer.echo(json.dumps({"site": site, "alert": alert_id, "by": who, "event_id": event_id, "queued": True}))
        return
    typer.echo(_("alert #{id} of {site} acknowledged by {by}: it reaches {site} with the next heartbeat").format(
        id=alert.id, site=site, by=who))


def register(app: typer.Typer) -> None:
    app.command("peer-records", help=_("A watched room's alerts and incidents, from the record it sent here."))(
        records_command
    )
