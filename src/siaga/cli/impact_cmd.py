"""``siaga impact TARGET``: what is at stake when a room, rack, device, service or sensor fails."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import typer

from siaga.cli.common import ConfigOption, ExitCode, fail, load_or_exit, use_language
from siaga.config import LoadedConfig
from siaga.i18n import _, get_language, ngettext
from siaga.i18n import labels as L
from siaga.inventory import ImpactReport, Inventory, ServiceHit, TargetError, TargetKind
from siaga.inventory.messages import target_error_line
from siaga.money import format_rupiah

if TYPE_CHECKING:
    from siaga.backup.status import OffsiteCopy

ARROW = " ← "
Copies = dict[str, "OffsiteCopy | None"]


def _label(inv: Inventory, kind: TargetKind, ident: str) -> str:
    name: str | None = None
    if kind is TargetKind.room:
        name = inv.rooms[ident].name
    elif kind is TargetKind.rack:
        name = inv.racks[ident].name
    elif kind is TargetKind.device:
        name = inv.devices[ident].name
    elif kind is TargetKind.service:
        name = inv.services[ident].name
    elif kind is TargetKind.sensor:
        name = inv.sensors[ident].name
    text = f"{L.target_kind(kind)} {ident}"
    return f"{text} ({name})" if name and name != ident else text


def _service_line(svc: ServiceHit, width: int, name_width: int) -> str:
    crit = L.criticality(svc.criticality)
    if svc.direct and svc.devices:
        how = _("on {devices}").format(devices=", ".join(svc.devices))
    elif svc.direct:
        how = _("the target itself")
    else:
        how = ARROW.join(svc.chain)
    line = f"    {svc.id:<{width}}  {svc.name:<{name_width}}  {crit:<8}  {how}"
    if svc.partial:
        line += "  " + (
            _("(degraded: it still runs elsewhere)")
            if svc.direct
            else _("(degraded)")
        )
    return line


def offsite_copies(loaded: LoadedConfig, services: list[str]) -> Copies | None:
    """Each service's newest verified off-site copy, read from the store when there is one; None when the store
    cannot be read (the impact is then shown without). No store yet, or no backup job: no copy anywhere."""
    if not services:
        return {}
    if not loaded.config.backups:
        return dict.fromkeys(services)
    from sqlalchemy.exc import SQLAlchemyError

    from siaga.backup.status import verified_offsite_copy
    from siaga.store import StoreError, create_engine_for, database_url

    try:
        url = database_url(loaded)
    except StoreError:
        return None
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return dict.fromkeys(services)  # never run: nothing was ever backed up (and nothing is created here)
    engine = create_engine_for(url)
    try:
        return {s: verified_offsite_copy(s, config=loaded.config, engine=engine) for s in services}
    except SQLAlchemyError:  # unreachable, or not migrated yet
        return None
    finally:
        engine.dispose()


def _copies_lines(imp: ImpactReport, copies: Copies | None, tz: ZoneInfo) -> list[str]:
    from siaga.backup.status import describe_offsite_copy

    if not imp.services:
        return []
    if copies is None:
        return ["", _("Verified off-site copies: unknown (the store cannot be read)")]
    width = max(len(s.id) for s in imp.services)
    out = ["", _("Verified off-site copies:")]
    for svc in imp.services:
        text = describe_offsite_copy(
            copies.get(svc.id), _, lambda at: at.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z")
        )
        out.append(f"  {svc.id:<{width}}  {text}")
    return out


def render_impact(imp: ImpactReport, inv: Inventory, copies: Copies | None = None, tz: ZoneInfo | None = None) -> str:
    """The impact as text for people, in the current language; with ``copies`` (see :func:`offsite_copies`)
    it says, per service hit, its last verified off-site copy."""
    lang = get_language()
    out: list[str] = []
    target = _label(inv, imp.target.kind, imp.target.id)
    if imp.watches is not None:
        sensor = inv.sensors[imp.target.id]
        where = _label(inv, imp.watches.kind, imp.watches.id)
        if imp.zone:
            where += ", " + _("zone {zone}").format(zone=L.zone(imp.zone))
        out.append(
            _("Sensor {sensor} ({kind}) watches {place}. If it alarms, at stake:").format(
                sensor=imp.target.id, kind=L.sensor_kind(sensor.kind), place=where
            )
        )
    else:
        out.append(_("Impact of {target}").format(target=target))
    if imp.room and imp.target.kind is not TargetKind.room:
        out.append("  " + _("room: {name} ({room})").format(name=inv.rooms[imp.room].name, room=imp.room))

    out.append("")
    if imp.target.kind is TargetKind.service and imp.watches is None:
        svc = inv.services[imp.target.id]
        on = ", ".join(svc.runs_on) if svc.runs_on else "—"
        out.append(_("Runs on: {devices}").format(devices=on))
    else:
        out.append(
            ngettext(
                "Value at risk: {value} in {count} device",
                "Value at risk: {value} in {count} devices",
                len(imp.devices),
            ).format(value=format_rupiah(imp.value_at_risk, lang), count=len(imp.devices))
        )
        for row in imp.by_kind:
            out.append(f"  {row.count} {L.device_kind(row.kind)}: {format_rupiah(row.value, lang)}")
        if imp.devices:
            out.append("")
            out.append(_("Devices hit:"))
            width = max(len(d.id) for d in imp.devices)
            for d in imp.devices:
                pos = f"U{d.u}" if d.u is not None else "—"
                place = f"{d.rack} {pos}" if d.rack else _("in the room")
                name = d.name or ""
                out.append(
                    f"  {d.id:<{width}}  {place:<8}  {L.device_kind(d.kind):<12}  "
                    f"{format_rupiah(d.value, lang):>16}  {name}"
                )

    out.append("")
    if imp.services:
        worst = L.criticality(imp.worst_criticality) if imp.worst_criticality else "—"
        out.append(
            ngettext(
                "Services hit: {count}, the most critical: {worst}",
                "Services hit: {count}, the most critical: {worst}",
                len(imp.services),
            ).format(count=len(imp.services), worst=worst)
        )
        width = max(len(s.id) for s in imp.services)
        name_width = max(len(s.name) for s in imp.services)
        if imp.direct_services:
            out.append("  " + _("directly:"))
            out += [_service_line(s, width, name_width) for s in imp.direct_services]
        if imp.dependent_services:
            out.append("  " + _("through depends_on:"))
            out += [_service_line(s, width, name_width) for s in imp.dependent_services]
        out += _copies_lines(imp, copies, tz or ZoneInfo("UTC"))
    else:
        out.append(_("Services hit: none"))

    out.append("")
    if imp.sensors:
        out.append(_("Sensors watching it:"))
        width = max(len(s.id) for s in imp.sensors)
        kind_width = max(len(L.sensor_kind(s.kind)) for s in imp.sensors)
        for s in imp.sensors:
            where = L.zone(s.zone) if s.zone else (s.device or s.rack or s.room or "")
            out.append(f"  {s.id:<{width}}  {L.sensor_kind(s.kind):<{kind_width}}  ({where})")
    else:
        out.append(_("Sensors watching it: none"))
    if imp.uncovered:
        out.append(_("Zones no sensor watches:"))
        for gap in imp.uncovered:
            kinds = _(" or ").join(L.sensor_kind(k) for k in gap.kinds)
            out.append(
                "  " + _("rack {rack}, {zone}: no {kinds} sensor").format(
                    rack=gap.rack, zone=L.zone(gap.zone), kinds=kinds
                )
            )
    elif imp.target.kind is not TargetKind.service:
        out.append(_("Every expected zone of its racks has a sensor."))
    if imp.room_sensors:
        listed = ", ".join(f"{s.id} ({L.sensor_kind(s.kind)})" for s in imp.room_sensors)
        out.append(_("Room sensors: {sensors}").format(sensors=listed))
    elif imp.room:
        out.append(_("Room sensors: none"))
    return "\n".join(out)


def impact_command(
    target: str = typer.Argument(..., help=_("A room, rack, device, service or sensor id (kind:id when ambiguous).")),
    config: str = ConfigOption,
    lang: str | None = typer.Option(None, "--lang", metavar="id|en", help=_("Language of the output.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print JSON instead of text.")),
) -> None:
    """What is at stake when TARGET fails: devices, services (also through depends_on), value, sensors, and
    each service's last verified off-site copy."""
    loaded = load_or_exit(config)
    use_language(lang, loaded)
    inv = Inventory.from_config(loaded.config)
    try:
        imp = inv.impact(target)
    except TargetError as err:
        fail(target_error_line(err), ExitCode.USAGE)
    copies = offsite_copies(loaded, [s.id for s in imp.services])
    if as_json:
        data = imp.to_dict()
        data["value_at_risk_text"] = format_rupiah(imp.value_at_risk, get_language())
        data["offsite_copies"] = (
            None if copies is None else {s: c.as_dict() if c else None for s, c in copies.items()}
        )
        typer.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        typer.echo(render_impact(imp, inv, copies, ZoneInfo(loaded.config.site.timezone)))


def register(app: typer.Typer) -> None:
    app.command(
        "impact",
        help=_("What is at stake when TARGET fails: devices, services (also through depends_on), value, sensors."),
    )(impact_command)
