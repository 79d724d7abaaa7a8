"""``siaga inventory``: the room as a tree, room → racks → devices → services, with rupiah totals."""

from __future__ import annotations

import json

import typer

from siaga.cli.common import ConfigOption, load_or_exit, use_language
from siaga.config.models import Device
from siaga.i18n import _, get_language, ngettext
from siaga.i18n import labels as L
from siaga.inventory import Inventory
from siaga.money import format_rupiah

BRANCH, LAST, PIPE, SPACE = "├─ ", "└─ ", "│  ", "   "


def _count(n: int) -> str:
    return ngettext("{count} device", "{count} devices", n).format(count=n)


def _device_lines(inv: Inventory, devices: tuple[Device, ...], prefix: str) -> list[str]:
    lang = get_language()
    out: list[str] = []
    for i, dev in enumerate(devices):
        last = i == len(devices) - 1
        pos = f"U{dev.u} " if dev.u is not None else ""
        what = L.device_kind(dev.kind) + (f", {dev.model}" if dev.model else "")
        name = f" {dev.name}" if dev.name else ""
        out.append(
            f"{prefix}{LAST if last else BRANCH}{pos}{dev.id}{name} ({what}) — {format_rupiah(dev.value, lang)}"
        )
        services = inv.services_on(dev.id)
        if services:
            listed = ", ".join(f"{s.id} [{L.criticality(s.criticality)}]" for s in services)
            out.append(f"{prefix}{SPACE if last else PIPE}{LAST}" + _("services: {services}").format(services=listed))
    return out


def render_inventory(inv: Inventory, site_name: str) -> str:
    """The whole site as a tree, in the current language."""
    lang = get_language()
    out: list[str] = [site_name]
    for room in inv.rooms.values():
        contents = inv.contents(room.id)
        out.append("")
        where = f" — {room.building}" if room.building else ""
        out.append(
            _("Room {room} ({name}){where}: {count}, {value}").format(
                room=room.id, name=room.name, where=where, count=_count(len(contents.devices)),
                value=format_rupiah(contents.value, lang),
            )
        )
        groups: list[tuple[str, tuple[Device, ...]]] = []
        for rack in contents.racks:
            devices = inv.devices_in_rack(rack.id)
            name = f" ({rack.name})" if rack.name else ""
            head = _("Rack {rack}{name}, {height}U: {count}, {value}").format(
                rack=rack.id, name=name, height=rack.height_u, count=_count(len(devices)),
                value=format_rupiah(inv.value(rack.id), lang),
            )
            groups.append((head, devices))
        if contents.free_standing:
            head = _("Standing in the room: {count}, {value}").format(
                count=_count(len(contents.free_standing)),
                value=format_rupiah(sum(d.value for d in contents.free_standing), lang),
            )
            groups.append((head, contents.free_standing))
        for i, (head, devices) in enumerate(groups):
            last = i == len(groups) - 1
            out.append((LAST if last else BRANCH) + head)
            out += _device_lines(inv, devices, SPACE if last else PIPE)
    unplaced = inv.unplaced_devices()
    if unplaced:
        out.append("")
        out.append(
            _("Not in any room: {count}, {value}").format(
                count=_count(len(unplaced)), value=format_rupiah(sum(d.value for d in unplaced), lang)
            )
        )
        out += _device_lines(inv, unplaced, "")
    nowhere = [s for s in inv.services.values() if not any(d in inv.devices for d in s.runs_on)]
    if nowhere:
        out.append("")
        out.append(_("Services on no device of this site: {services}").format(
            services=", ".join(s.id for s in nowhere)))
    total = sum(d.value for d in inv.devices.values())
    out.append("")
    out.append(
        _("Total: {rooms}, {racks}, {devices}, {services}; {value}").format(
            rooms=ngettext("{count} room", "{count} rooms", len(inv.rooms)).format(count=len(inv.rooms)),
            racks=ngettext("{count} rack", "{count} racks", len(inv.racks)).format(count=len(inv.racks)),
            devices=_count(len(inv.devices)),
            services=ngettext("{count} service", "{count} services", len(inv.services)).format(
                count=len(inv.services)
            ),
            value=format_rupiah(total, lang),
        )
    )
    return "\n".join(out)


def inventory_command(
    config: str = ConfigOption,
    lang: str | None = typer.Option(None, "--lang", metavar="id|en", help=_("Language of the output.")),
    as_json: bool = typer.Option(False, "--json", help=_("Print JSON instead of text.")),
) -> None:
    """The site as a tree: room, racks, devices and the services on them, with rupiah totals."""
    loaded = load_or_exit(config)
    use_language(lang, loaded)
    inv = Inventory.from_config(loaded.config)
    if as_json:
        typer.echo(json.dumps({"site": loaded.config.site.name, **inv.tree()}, ensure_ascii=False, indent=2))
    else:
        typer.echo(render_inventory(inv, loaded.config.site.name))


def register(app: typer.Typer) -> None:
    app.command(
        "inventory",
        help=_("The site as a tree: room, racks, devices and the services on them, with rupiah totals."),
    )(inventory_command)
