"""``siaga readings SENSOR --since 1h``: a sensor's readings as a sparkline and a table."""

from __future__ import annotations

import datetime as dt
import json

import typer

from siaga.cli.common import ConfigOption, ExitCode, JsonOption, LangOption, fail, load_or_exit, use_language
from siaga.cli.sensing_common import local, open_store, parse_since, site_zone, sparkline, table
from siaga.i18n import _
from siaga.kinds import SENSOR_KINDS
from siaga.store.types import utcnow


def readings_command(
    sensor: str = typer.Argument(..., help=_("Sensor id, as in siaga.yaml.")),
    since: str = typer.Option("1h", "--since", help=_("From when: 1h, 30m, 7d ago, or a date and time.")),
    until: str = typer.Option(None, "--until", help=_("Until when (default: now).")),
    resolution: str = typer.Option(
        None, "--resolution", help=_("raw, 1m or 1h (default: picked from the span).")
    ),
    limit: int = typer.Option(20, "--limit", help=_("Rows of the table (the latest); 0 for none.")),
    as_json: bool = JsonOption,
    lang: str | None = LangOption,
    config: str = ConfigOption,
) -> None:
    """Print a sensor's readings: a sparkline, min/avg/max, and the latest values."""
    from siaga.readings.query import query

    loaded = load_or_exit(config)
    use_language(lang, loaded)
    known = {s.id: s for s in loaded.config.sensors}
    if sensor not in known:
        import difflib

        close = difflib.get_close_matches(sensor, list(known), n=1)
        hint = _("; did you mean {name!r}?").format(name=close[0]) if close else ""
        fail(_("no sensor {name!r} in {path}").format(name=sensor, path=loaded.path) + hint, ExitCode.USAGE)
    if resolution not in (None, "raw", "1m", "1h"):
        fail(_("--resolution must be raw, 1m or 1h"), ExitCode.USAGE)
    zone = site_zone(loaded)
    now = utcnow()
    start = parse_since(since, now, zone)
    end = parse_since(until, now, zone) if until else now + dt.timedelta(seconds=1)
    engine = open_store(loaded)
    with engine.connect() as conn:
        series = query(conn, sensor, start, end, resolution)  # type: ignore[arg-type]
    unit = SENSOR_KINDS[known[sensor].kind].unit
    if as_json:
        typer.echo(json.dumps({
            "sensor": sensor, "unit": unit, "resolution": series.resolution,
            "points": [{"ts": p.ts.isoformat(), "min": p.min, "max": p.max, "avg": p.avg, "count": p.count}
                       for p in series.points],
        }, indent=1))
        return
    head = _("{sensor} ({unit}) from {start} to {end}, resolution {res}").format(
        sensor=sensor, unit=unit or "-", start=local(start, zone), end=local(min(end, now), zone),
        res=series.resolution,
    )
    typer.echo(head)
    if not series.points:
        typer.echo(_("no readings in this span"))
        return
    avgs = [p.avg for p in series.points]
    typer.echo(sparkline(avgs))
    n = sum(p.count for p in series.points)
    typer.echo(_("min {lo:.2f}  avg {avg:.2f}  max {hi:.2f}  last {last:.2f}  ({n} readings)").format(
        lo=min(p.min for p in series.points), hi=max(p.max for p in series.points),
        avg=sum(p.avg * p.count for p in series.points) / n, last=series.points[-1].avg, n=n,
    ))
    if limit > 0:
        rows = series.points[-limit:]
        if series.resolution == "raw":
            typer.echo(table([[local(p.ts, zone, seconds=True), f"{p.avg:g}"] for p in rows],
                             [_("time"), _("value")]))
        else:
            typer.echo(table([[local(p.ts, zone), f"{p.min:g}", f"{p.avg:.2f}", f"{p.max:g}", str(p.count)]
                              for p in rows], [_("from"), "min", "avg", "max", _("count")]))


def register(app: typer.Typer) -> None:
    app.command("readings", help=_("Print a sensor's readings: a sparkline, min/avg/max, the latest values."))(
        readings_command
    )
