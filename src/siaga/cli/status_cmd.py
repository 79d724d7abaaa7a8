"""``siaga status``: is siaga running, what came in (and what was refused, why), which sensors are silent,
which alerts are active.

Other features add their own lines by appending a function ``(loaded, engine) -> list[str]`` to
:data:`STATUS_SECTIONS` (one line in their module).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import typer
from sqlalchemy import Engine, select

from siaga.alerts.serialise import alert_to_json
from siaga.cli.common import ConfigOption, JsonOption, LangOption, load_or_exit, use_language
from siaga.cli.sensing_common import age, local, open_store, say, site_zone, table
from siaga.config import LoadedConfig
from siaga.i18n import _, get_language, labels
from siaga.i18n.formats import measure
from siaga.kinds import SENSOR_KINDS
from siaga.money import format_rupiah
from siaga.store.types import utcnow

STATUS_SECTIONS: list[Callable[[LoadedConfig, Engine], list[str]]] = []


def _running(loaded: LoadedConfig) -> tuple[str, dict[str, Any]]:
    import httpx

    web = loaded.config.web
    host = "127.0.0.1" if web.host in ("0.0.0.0", "::") else web.host
    url = f"http://{host}:{web.port}/healthz"
    try:
        r = httpx.get(url, timeout=0.5)
        data = r.json()
    except (httpx.HTTPError, ValueError):
        return _("siaga serve: not answering on {url}").format(url=url), {"url": url, "answering": False}
    comps = data.get("components") or {}
    failing = sorted(n for n, s in comps.items() if s not in ("running",)) if isinstance(comps, dict) else []
    line = _("siaga serve: running on {url} (session {session}, db {db})").format(
        url=url.removesuffix("/healthz"), session=data.get("session"), db=data.get("db"))
    if failing:
        line += "; " + _("not running: {names}").format(names=", ".join(failing))
    return line, {"url": url, "answering": True, "session": data.get("session"), "db": data.get("db"),
                  "not_running": failing}


def status_command(as_json: bool = JsonOption, lang: str | None = LangOption, config: str = ConfigOption) -> None:
    """What siaga sees now: the running instance, ingest counters, silent sensors, active alerts."""
    from siaga.alerts import store as alert_store
    from siaga.readings.query import last_readings, unmapped_topics
    from siaga.readings.tables import ingest_counters

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    cfg = loaded.config
    zone = site_zone(loaded)
    engine = open_store(loaded)
    now = utcnow()
    running, serve = _running(loaded)
    with engine.connect() as conn:
        counters = dict(conn.execute(select(ingest_counters.c.reason, ingest_counters.c.count)).all())
        unmapped = unmapped_topics(conn, limit=10)
        last = last_readings(conn)
        active = alert_store.list_alerts(conn, states=alert_store.ACTIVE_STATES, limit=1000)
    if as_json:
        typer.echo(json.dumps({
            "serve": serve, "readings": counters,
            "unmapped_topics": [{"topic": t, "messages": n, "last": at.isoformat() if at else None}
                                for t, n, at in unmapped],
            "sensors": [{"id": s.id, "kind": s.kind, "value": last[s.id].value if s.id in last else None,
                         "received_at": last[s.id].received_at.isoformat() if s.id in last else None}
                        for s in cfg.sensors],
            "active_alerts": [alert_to_json(a, get_language(), zone) for a in active],
            "sections": [section(loaded, engine) for section in STATUS_SECTIONS],
        }, indent=1, ensure_ascii=False, default=str))
        return
    typer.echo(running)
    accepted = counters.pop("accepted", 0)
    refused = sum(counters.values())
    typer.echo("")
    typer.echo(_("readings: {accepted} accepted, {refused} refused").format(accepted=accepted, refused=refused))
    for reason, n in sorted(counters.items(), key=lambda kv: -kv[1]):
        typer.echo(f"  {reason}: {n}")
    if unmapped:
        typer.echo(_("MQTT topics that no sensor maps (messages, last):"))
        for topic, n, last_at in unmapped:
            typer.echo(f"  {topic}: {n}, {local(last_at, zone)}")
    typer.echo("")
    rows = []
    stale = 0
    for s in cfg.sensors:
        kind = SENSOR_KINDS[s.kind]
        r = last.get(s.id)
        limit = dt.timedelta(seconds=s.silent_after_s())
        if r is None:
            rows.append([s.id, s.kind, "-", "-", _("never reported")])
            stale += 1
            continue
        silent = now - r.received_at > limit
        stale += silent
        value = measure(r.value, kind.unit, get_language())
        rows.append([s.id, s.kind, value, age(now - r.received_at), _("STALE") if silent else ""])
    typer.echo(_("sensors: {n}, silent: {stale}").format(n=len(cfg.sensors), stale=stale))
    if rows:
        typer.echo(table(rows, [_("sensor"), _("kind"), _("last value"), _("age"), ""]))
    typer.echo("")
    if not active:
        typer.echo(_("active alerts: none"))
    else:
        typer.echo(_("active alerts: {n}").format(n=len(active)))
        typer.echo(table(
            [[f"#{a.id}", labels.severity(a.severity), labels.alert_event(a.state), say(a.summary, zone)[:60],
              local(a.started_at, zone),
              format_rupiah(a.impact.value_at_risk, get_language()) if a.impact.value_at_risk else ""] for a in active],
            ["id", _("severity"), _("state"), _("what"), _("since"), _("at risk")],
        ))
    for section in STATUS_SECTIONS:
        typer.echo("")
        for line in section(loaded, engine):
            typer.echo(line)


def register(app: typer.Typer) -> None:
    app.command("status", help=_("What siaga sees now: ingest counters, silent sensors, active alerts."))(
        status_command
    )
