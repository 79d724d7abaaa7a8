"""``siaga peers``: the other siaga processes this one exchanges heartbeats with, as the store knows them.

A running ``siaga serve`` keeps each peer's last state in the store (``meta``: ``peer.<id>``) every second;
this command reads it (the live figures, refused requests included, are in ``GET /api/v1/peers`` and /metrics).
"""

from __future__ import annotations

import json
from typing import Any

import typer
from sqlalchemy import Engine, select
from sqlalchemy.exc import DBAPIError

from siaga.cli.common import ConfigOption, LangOption, load_or_exit, use_language
from siaga.cli.sensing_common import local, open_store, site_zone, table
from siaga.config.peers import Peers
from siaga.i18n import N_, _

STATUS_WORDS = {"up": N_("up"), "silent": N_("SILENT"), "stopped": N_("stopped on purpose"),
                "waiting": N_("never heard")}


def peers_command(
    config: str = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    lang: str | None = LangOption,
) -> None:
    """The peers (a watched room, the watching colocation): status, last heartbeat, its age, lag, outbox."""
    import datetime as dt

    from siaga.peers.hub import META_PREFIX, stored_status
    from siaga.store.schema import meta

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    peers = loaded.config.peers
    if not peers.sites:
        if as_json:
            typer.echo("[]")
        else:
            typer.echo(_("No peers configured: this siaga runs alone."))
        return
    engine = open_store(loaded)
    with engine.connect() as conn:
        stored = dict(conn.execute(select(meta.c.key, meta.c.value).where(meta.c.key.like(META_PREFIX + "%"))).all())
    now = dt.datetime.now(dt.UTC)
    rows = stored_status(peers, {k.removeprefix(META_PREFIX): v for k, v in stored.items()}, now)
    fill_outbox(engine, peers, rows)
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    zone = site_zone(loaded)
    lines = []
    for r in rows:
        last = local(dt.datetime.fromisoformat(r["last_heartbeat_at"]), zone, seconds=True) if r[
            "last_heartbeat_at"] else "-"
        age = f"{r['age_s']:.0f} s" if r["age_s"] is not None else "-"
        lag = f"{r['lag_s']:.2f} s" if r["lag_s"] is not None else "-"
        depth = "-" if r["outbox_depth"] is None else str(r["outbox_depth"])
        lines.append([r["peer"], r["role"], _(STATUS_WORDS[r["status"]]), last, age, lag,
                      str(r["open_alerts"]), str(r["services_down"]), depth])
    typer.echo(table(lines, [_("peer"), _("role"), _("status"), _("last heartbeat"), _("age"), _("lag"),
                             _("open alerts"), _("services down"), _("outbox")]))
    uplink = _("the room's uplink is down")
    for r in rows:  # probes from both places: each probed check's verdict per place
        for c in r.get("probes") or []:
            typer.echo(f"{r['peer']} {c['check']}: {_('room')} {_(c['room'])}, {_('colocation')} {_(c['colocation'])}"
                       + (f" ({uplink})" if c.get("uplink") else ""))


def fill_outbox(engine: Engine, peers: Peers, rows: list[dict[str, Any]]) -> None:
    """The off-site record's figures (``siaga.peers.sender.status``) in the rows of the peers that watch
    this siaga: ``outbox_depth`` (events not acknowledged yet), ``outbox_lag_s`` (age of the oldest)."""
    from siaga.config.peers import PeerRole
    from siaga.peers.sender import status

    watching = [p.id for p in peers.by_role(PeerRole.watched_by)]
    if not watching:
        return
    try:
        figures = {f["peer"]: f for f in status(engine, watching)}
    except DBAPIError:  # the record's tables not migrated yet
        return
    for row in rows:
        if row["peer"] in figures:
            row["outbox_depth"] = figures[row["peer"]]["outbox_depth"]
            row["outbox_lag_s"] = figures[row["peer"]]["outbox_lag_s"]


def register(app: typer.Typer) -> None:
    app.command("peers", help=_("The peers (watched room, watching colocation): status, last heartbeat, lag."))(
        peers_command
    )
