"""``siaga notify``: test a channel, link a Telegram account, maintenance windows, an alert's timeline, the outbox."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from typing import Any

import typer

from siaga.cli.common import (
    ConfigOption,
    ExitCode,
    JsonOption,
    LangOption,
    engine_or_exit,
    fail,
    load_or_exit,
    use_language,
)
from siaga.i18n import _

app = typer.Typer(help="Tell people: test channels, link Telegram accounts, maintenance windows.",
                  no_args_is_help=True)
maintenance_app = typer.Typer(help="Maintenance windows: matching alerts are recorded, not paged.",
                              no_args_is_help=True)
app.add_typer(maintenance_app, name="maintenance")


@app.command("test")
def test_channel(
    channel: str = typer.Argument(..., help="Id of a channel in notification.channels."),
    to: str = typer.Option(None, "--to", help="Address on the channel (default: the first person who has one)."),
    config: str = ConfigOption,
) -> None:
    """Send a test message on CHANNEL now and say how it went (exit 1 when it failed)."""
    from siaga.notify.engine import Notifier
    from siaga.notify.model import Recipient
    from siaga.notify.service import NotifyService
    from siaga.notify.transports import Transports

    loaded = load_or_exit(config)
    cfg = loaded.config
    channels = cfg.notification.channels
    if channel not in channels:
        known = ", ".join(channels) or _("none")
        fail(_("no channel {channel!r} in notification.channels (known: {known})").format(
            channel=channel, known=known), ExitCode.USAGE)
    address = to
    recipient = Recipient("person", "test")
    if address is None:
        for person in cfg.people:
            if channel in person.contacts:
                address, recipient = person.contacts[channel], Recipient("person", person.id)
                break
        else:
            for group in cfg.notification.groups:
                if channel in group.contacts:
                    address, recipient = group.contacts[channel], Recipient("group", group.id)
                    break
    if address is None and channels[channel].type not in ("slack", "webhook", "apprise"):
        fail(_("nobody has an address on {channel}: give one with --to").format(channel=channel), ExitCode.USAGE)

    async def go() -> Any:
        transports = Transports(cfg, loaded.base_dir)
        svc = NotifyService(None, Notifier(cfg, key=b"-" * 32, public_url=""), transports)  # type: ignore[arg-type]
        try:
            return await svc.send_test(channel, address, recipient)
        finally:
            await transports.aclose()

    result = asyncio.run(go())
    where = f"{channel} → {address}" if address else channel
    if not result.ok:
        fail(_("notify test {where}: failed after {ms} ms: {error}").format(
            where=where, ms=result.latency_ms, error=result.error))
    typer.echo(_("notify test {where}: sent in {ms} ms").format(where=where, ms=result.latency_ms))


@app.command("link")
def link(
    person: str = typer.Argument(..., help="Id of a person in people."),
    config: str = ConfigOption,
) -> None:
    """Print a one-time code; the person sends /link CODE to the siaga bot to link their Telegram account."""
    from siaga.notify.links import new_link_code
    from siaga.store.types import utcnow

    loaded = load_or_exit(config)
    cfg = loaded.config
    if person not in {p.id for p in cfg.people}:
        fail(_("no person {person!r} in people").format(person=person), ExitCode.USAGE)
    bot = cfg.notification.telegram_bot
    if bot is None:
        fail(_("no Telegram bot configured (notification.telegram_bot)"), ExitCode.USAGE)
    engine = engine_or_exit(loaded, migrate=True)
    with engine.begin() as conn:
        code = new_link_code(conn, person, utcnow(), bot.link_code_ttl)
    minutes = int(bot.link_code_ttl.total_seconds() // 60)
    typer.echo(code)
    typer.echo(_("Send /link {code} to the siaga bot in Telegram within {minutes} minutes.").format(
        code=code, minutes=minutes), err=True)


def _parse_local(text: str, zone: Any) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(text)
    except ValueError:
        fail(_("not a date and time: {text!r} (write 2026-12-05T08:00)").format(text=text), ExitCode.USAGE)
    return (t.replace(tzinfo=zone) if t.tzinfo is None else t).astimezone(dt.UTC)


@maintenance_app.command("add")
def maintenance_add(
    window_id: str = typer.Argument(..., help="A short id for the window."),
    start: str = typer.Option(..., "--start", help="Start, local time of the site (2026-12-05T08:00)."),
    end: str = typer.Option(..., "--end", help="End, local time of the site."),
    title: str = typer.Option(..., "--title", help="What is being done."),
    service: list[str] = typer.Option([], "--service", help="A service affected (repeat the option)."),
    place: list[str] = typer.Option([], "--place", help="A room, rack or device (repeat the option)."),
    rule: list[str] = typer.Option([], "--rule", help="Only alerts of this rule or pattern (repeat)."),
    by: str = typer.Option(None, "--by", help="Who opens it."),
    config: str = ConfigOption,
) -> None:
    """Open a maintenance window: matching alerts are recorded, nobody is paged."""
    from zoneinfo import ZoneInfo

    from siaga.notify.records import RecordError, add_maintenance
    from siaga.store.types import utcnow

    loaded = load_or_exit(config)
    zone = ZoneInfo(loaded.config.site.timezone)
    engine = engine_or_exit(loaded, migrate=True)
    try:
        with engine.begin() as conn:
            add_maintenance(conn, id=window_id, title=title, starts_at=_parse_local(start, zone),
                            ends_at=_parse_local(end, zone), services=service, places=place, rules=rule,
                            created_by=by, now=utcnow())
    except RecordError as exc:
        fail(str(exc), ExitCode.USAGE)
    typer.echo(_("maintenance window {id} opened").format(id=window_id))


@maintenance_app.command("list")
def maintenance_list(as_json: bool = JsonOption, lang: str | None = LangOption, config: str = ConfigOption) -> None:
    """Maintenance windows made at run time, and those of siaga.yaml."""
    from zoneinfo import ZoneInfo

    from siaga.notify.records import list_maintenance

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    zone = ZoneInfo(loaded.config.site.timezone)
    engine = engine_or_exit(loaded, migrate=True)
    with engine.connect() as conn:
        rows = list_maintenance(conn)
    if as_json:
        windows = [{"id": w.id, "starts_at": w.starts_at.isoformat(), "ends_at": w.ends_at.isoformat(),
                    "source": "config", "title": w.title} for w in loaded.config.maintenance]
        windows += [{"id": r["id"], "starts_at": r["starts_at"].astimezone(zone).isoformat(),
                     "ends_at": r["ends_at"].astimezone(zone).isoformat(), "source": "runtime", "title": r["title"]}
                    for r in rows]
        typer.echo(json.dumps(windows, indent=1, ensure_ascii=False, default=str))
        return
    from_config, at_run_time = _("config"), _("run time")
    for w in loaded.config.maintenance:
        typer.echo(f"{w.id}\t{w.starts_at:%Y-%m-%d %H:%M}\t{w.ends_at:%Y-%m-%d %H:%M}\t{from_config}\t{w.title}")
    for r in rows:
        s, e = r["starts_at"].astimezone(zone), r["ends_at"].astimezone(zone)
        typer.echo(f"{r['id']}\t{s:%Y-%m-%d %H:%M}\t{e:%Y-%m-%d %H:%M}\t{at_run_time}\t{r['title']}")


@maintenance_app.command("end")
def maintenance_end(window_id: str = typer.Argument(..., help="Id of the window."), config: str = ConfigOption) -> None:
    """End (delete) a maintenance window made at run time."""
    from siaga.notify.records import RecordError, end_maintenance

    loaded = load_or_exit(config)
    engine = engine_or_exit(loaded, migrate=True)
    try:
        with engine.begin() as conn:
            end_maintenance(conn, window_id)
    except RecordError as exc:
        fail(str(exc), ExitCode.USAGE)
    typer.echo(_("maintenance window {id} ended").format(id=window_id))


@app.command("timeline")
def alert_timeline(
    alert_id: int = typer.Argument(..., help="The alert's id."),
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
    config: str = ConfigOption,
) -> None:
    """Who was told what about an alert, and every delivery attempt."""
    from zoneinfo import ZoneInfo

    from siaga.notify.records import timeline

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    zone = ZoneInfo(loaded.config.site.timezone)
    engine = engine_or_exit(loaded, migrate=True)
    with engine.connect() as conn:
        entries = timeline(conn, alert_id)
        if not entries:
            from siaga.alerts import store

            if store.get_alert(conn, alert_id) is None:
                fail(_("no alert #{id}").format(id=alert_id))
    if as_json:
        from siaga.i18n import get_language
        from siaga.i18n.messages import note_text

        typer.echo(json.dumps([{**e.__dict__, "at": e.at.isoformat(), "error": note_text(e.error, get_language(), zone)}
                               for e in entries], indent=2))
        return
    from siaga.i18n import get_language, labels
    from siaga.i18n.messages import MESSAGE_KIND_WORDS, OUTCOME_WORDS, note_text, word

    lang = get_language()
    for e in entries:
        timed = f" {e.latency_ms} ms" if e.outcome != "possibly_sent" else ""  # no answer was ever timed
        extra = f" {word(OUTCOME_WORDS, e.outcome, lang)}{timed}" if e.what == "attempt" else ""
        error = note_text(e.error, lang, zone)
        err = f" — {error}" if error else ""
        kind = labels.alert_event(e.kind) if e.what == "decision" else word(MESSAGE_KIND_WORDS, e.kind, lang)
        typer.echo(f"{e.at.astimezone(zone):%Y-%m-%d %H:%M:%S %Z}  {e.what:8} {kind:12} {e.recipient:20} "
                   f"{e.channel}{extra}{err}")
