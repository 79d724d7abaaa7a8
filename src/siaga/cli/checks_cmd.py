"""``siaga checks`` (where every check stands), ``siaga checks run SERVICE``, ``siaga uptime SERVICE``."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
from typing import Any

import typer

from siaga.checks import records
from siaga.checks.confirm import CheckState, Status
from siaga.checks.engine import ChecksEngine, checks_by_service, maintenance_by_service, site_zone
from siaga.checks.uptime import Tally, daily, month_bounds, service_timeline, sla_target
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
from siaga.config import LoadedConfig
from siaga.i18n import _, get_language
from siaga.i18n.formats import percent
from siaga.i18n.messages import note_text, render
from siaga.i18n.zones import zone_abbreviation

app = typer.Typer(help="Service checks: where they stand, run one now.", invoke_without_command=True)

def status_label(status: Status) -> str:
    return {
        Status.up: _("up"), Status.down: _("down"), Status.unknown: _("unknown"),
        Status.maintenance: _("maintenance"),
    }[status]


def _local(t: dt.datetime | None, loaded: LoadedConfig) -> str:
    if t is None:
        return "-"
    local = t.astimezone(site_zone(loaded.config))
    return f"{local:%Y-%m-%d %H:%M} {zone_abbreviation(local)}"


@app.callback()
def checks(
    ctx: typer.Context,
    config: str = ConfigOption,
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
) -> None:
    """Print where every check stands (from the store that `siaga serve` writes)."""
    if ctx.invoked_subcommand is not None:
        return
    loaded = load_or_exit(config)
    use_language(lang, loaded)
    cfg = loaded.config
    if not cfg.checks:
        typer.echo(_("No checks in {path}: add some under checks: (see docs/checks.md).").format(path=loaded.path))
        return
    engine = engine_or_exit(loaded, migrate=True)
    with engine.connect() as conn:
        stored = {cid: st for cid, _svc, st in records.load_states(conn)}
    engine.dispose()
    rows: list[dict[str, Any]] = []
    for c in cfg.checks:
        st = stored.get(c.check_id, CheckState())
        rows.append({
            "check": c.check_id, "service": c.service, "type": c.type_name, "enabled": c.enabled,
            "status": st.status.value, "since": st.since.isoformat() if st.since else None,
            "last_at": st.last_at.isoformat() if st.last_at else None, "latency_ms": st.latency_ms,
            "message": note_text(st.message, get_language(), site_zone(cfg)) or "", "in_doubt": st.in_doubt,
        })
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    width = max(len(r["check"]) for r in rows)
    for r, c in zip(rows, cfg.checks, strict=True):
        st = stored.get(c.check_id, CheckState())
        label = status_label(st.status) + ("?" if st.in_doubt else "")
        since = _("since {time}").format(time=_local(st.since, loaded)) if st.since else ""
        latency = f"{st.latency_ms:.0f} ms" if st.latency_ms is not None else ""
        off = " " + _("(disabled)") if not c.enabled else ""
        typer.echo(f"{r['check']:<{width}}  {c.type_name:<9} {label:<10} {since:<28} {latency:>8}  {r['message']}{off}")
    down = sum(1 for r in rows if r["status"] == "down")
    typer.echo(_("{total} checks, {down} down").format(total=len(rows), down=down))


@app.command("run")
def run(
    target: str = typer.Argument(..., help="A service id (runs all its checks) or a check id."),
    config: str = ConfigOption,
) -> None:
    """Run a service's checks once, now, and print what they see (exit 1 when one fails)."""
    loaded = load_or_exit(config)
    cfg = loaded.config
    chosen = [c for c in cfg.checks if c.service == target or c.check_id == target]
    if not chosen:
        known = sorted({c.service for c in cfg.checks})
        fail(_("no check for {target!r}; services with checks: {known}").format(
            target=target, known=", ".join(known) or "-"), ExitCode.USAGE)
    engine = ChecksEngine(cfg, base_dir=loaded.base_dir)

    async def go() -> list[Any]:
        return [await engine.run_once(c.check_id) for c in chosen]

    results = asyncio.run(go())
    failed = 0
    for r in results:
        mark = _("ok") if r.ok else _("FAILED")
        latency = f" ({r.latency_ms:.0f} ms)" if r.latency_ms is not None else ""
        warned = render(r.warned, get_language(), site_zone(cfg)) if r.warned is not None else r.warning
        warn = f" — {warned}" if warned else ""
        text = render(r.why, get_language(), site_zone(cfg)) if r.why is not None else r.message
        typer.echo(f"{r.check_id}: {mark}{latency}: {text}{warn}")
        failed += not r.ok
    if failed:
        raise typer.Exit(ExitCode.FAILURE)


MONTH = re.compile(r"^(\d{4})-(\d{2})$")


def pct(x: float | None) -> str:
    return "-" if x is None else percent(x, get_language(), 3)


def uptime_command(
    service: str = typer.Argument(..., help="Service id."),
    month: str = typer.Option(None, "--month", help="YYYY-MM (default: this month, site time)."),
    config: str = ConfigOption,
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
) -> None:
    """Uptime of a service over a month, day by day, measured over time, and whether its SLA was met."""
    loaded = load_or_exit(config)
    use_language(lang, loaded)
    cfg = loaded.config
    svc = next((s for s in cfg.services if s.id == service), None)
    if svc is None:
        fail(_("unknown service {service!r}").format(service=service), ExitCode.USAGE)
    zone = site_zone(cfg)
    now = dt.datetime.now(dt.UTC)
    if month:
        m = MONTH.match(month)
        if not m or not 1 <= int(m.group(2)) <= 12:
            fail(_("--month must look like 2025-07, got {month!r}").format(month=month), ExitCode.USAGE)
        year, mon = int(m.group(1)), int(m.group(2))
    else:
        local = now.astimezone(zone)
        year, mon = local.year, local.month
    start, end = month_bounds(year, mon, zone)
    stop = min(end, now)
    checks_of = checks_by_service([c for c in cfg.checks if c.enabled])
    ids = checks_of.get(service, [])
    engine = engine_or_exit(loaded, migrate=True)
    with engine.connect() as conn:
        initial, inside, _svc = records.changes_between(conn, start, stop, [service]) if stop > start else ({}, {}, {})
        running = records.running_between(conn, start, stop, now) if stop > start else []
    engine.dispose()
    segs = service_timeline(
        [inside.get(c, []) for c in ids], start, stop, initial=[initial.get(c, Status.unknown) for c in ids],
        running=running, maintenance=maintenance_by_service(cfg).get(service, []),
    ) if stop > start else []
    days = daily(segs, zone)
    total = sum(days.values(), Tally())
    target = sla_target(svc)
    verdict = total.sla(target / 100)
    if as_json:
        typer.echo(json.dumps({
            "service": service, "month": f"{year:04d}-{mon:02d}", "uptime": total.uptime,
            "worst_case": total.worst_case, "coverage": total.coverage, "sla_target": target / 100,
            "sla": verdict.value, "seconds": total.__dict__,
            "days": {d.isoformat(): {"uptime": t.uptime, **t.__dict__} for d, t in days.items()},
        }, indent=2))
        return
    typer.echo(f"{svc.name} ({service}) — {year:04d}-{mon:02d}")
    if not ids:
        typer.echo(_("This service has no checks: its uptime is unknown."))
    for d, t in days.items():
        extra = []
        if t.down_s:
            extra.append(_("down {minutes:.0f} min").format(minutes=t.down_s / 60))
        if t.unknown_s:
            extra.append(_("unknown {minutes:.0f} min").format(minutes=t.unknown_s / 60))
        if t.maintenance_s:
            extra.append(_("maintenance {minutes:.0f} min").format(minutes=t.maintenance_s / 60))
        typer.echo(f"  {d.isoformat()}  {pct(t.uptime):>9}  {', '.join(extra)}")
    typer.echo(_("Uptime {uptime} (worst case {worst}), observed {coverage} of the time").format(
        uptime=pct(total.uptime), worst=pct(total.worst_case), coverage=pct(total.coverage)))
    verdicts = {"met": _("met"), "missed": _("missed"), "undetermined": _("undetermined (too much unknown time)")}
    typer.echo(_("SLA {target}: {verdict}").format(target=percent(target / 100, get_language(), 3),
                                                 verdict=verdicts[verdict.value]))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="checks")
    root.command("uptime")(uptime_command)
