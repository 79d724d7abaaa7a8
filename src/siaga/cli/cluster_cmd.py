"""``siaga cluster status``: the processes on this store, the roles they hold, lease ages and tokens."""

from __future__ import annotations

import json

import typer

from siaga.cli.common import ConfigOption, LangOption, load_or_exit, use_language
from siaga.cli.sensing_common import open_store
from siaga.i18n import _
from siaga.store.types import utcnow

app = typer.Typer(help=_("Several siaga processes on one store: who is alive, who holds which role."),
                  no_args_is_help=True)


@app.command("status")
def status(
    config: str = ConfigOption,
    as_json: bool = typer.Option(False, "--json", help=_("Print one JSON object.")),
    lang: str | None = LangOption,
) -> None:
    """The live processes (runtime sessions) and, per role, its holder, lease age and fencing token."""
    from siaga.cluster.status import cluster_status

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    engine = open_store(loaded)
    shared = engine.dialect.name != "sqlite"
    with engine.connect() as conn:
        data = cluster_status(conn, utcnow(), lease_s=loaded.config.runtime.lease, shared=shared)
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    typer.echo(_("store: {backend}, lease {lease} s").format(backend=data["backend"], lease=f"{data['lease_s']:g}"))
    typer.echo(_("processes alive: {count}").format(count=len(data["processes"])))
    for p in data["processes"]:
        roles = ", ".join(p["roles"]) or "-"
        typer.echo(_("  session {session}: {host} pid {pid}, seen {age} s ago; roles: {roles}").format(
            session=p["session"], host=p["host"], pid=p["pid"], age=f"{p['last_seen_age_s']:.1f}", roles=roles))
        share = p.get("ingest") or {}
        if share:
            typer.echo(_("    its share: {messages} MQTT messages, {readings} readings; {handed_off} readings "
                         "handed to other shard holders, {handed_in} taken from them; rule shards: {shards}").format(
                messages=share.get("mqtt_messages", 0), readings=share.get("readings", 0),
                handed_off=share.get("handed_off", 0), handed_in=share.get("handed_in", 0),
                shards=", ".join(str(k) for k in share.get("shards", [])) or "-"))
            if share.get("handoff_failed"):
                typer.echo(_("    {count} readings not handed to their shard holders: PostgreSQL failed (they are "
                             "stored; their rules did not see them)").format(count=share["handoff_failed"]))
    for duty, entry in data["shards"].items():
        shares = ", ".join(f"{session}: {n}" for session, n in sorted(entry["by_session"].items())) or "-"
        typer.echo(_("shard map of {duty}: {slots} slots; by session: {shares}; moving: {moving}").format(
            duty=duty, slots=entry["slots"], shares=shares, moving=entry["unheld"]))
    if not data["roles"]:
        typer.echo(_("roles: none taken (one process on SQLite holds every role)") if not shared
                   else _("roles: none taken yet"))
        return
    typer.echo(_("roles:"))
    for r in data["roles"]:
        if r["held"]:
            typer.echo(_("  {role}: {holder}, token {token}, held {held} s, renewed {renewed} s ago").format(
                role=r["role"], holder=r["holder"], token=r["token"], held=f"{r['held_for_s']:.1f}",
                renewed=f"{r['renewed_age_s']:.1f}"))
        else:
            typer.echo(_("  {role}: nobody (lease of {holder} ended {ago} s ago), token {token}").format(
                role=r["role"], holder=r["last_holder"], ago=f"{-r['expires_in_s']:.1f}", token=r["token"]))
