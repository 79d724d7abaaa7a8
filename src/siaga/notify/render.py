"""Messages from templates, in the reader's language: a short form for chat and SMS, a full form for e-mail.

Pure: takes alerts (as the alert manager published them), the site config, the clock and an
acknowledgement URL; returns text. What an alert is about (rule), where (room, rack, zone), since when
(site's local time, e.g. WITA), the latest value with its unit, what is at stake (services and rupiah),
and, once the backup part provides it through ``last_backup``, when the services were last backed up
off site.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from siaga.alerts.model import Alert, Severity
from siaga.config.models import SiteConfig
from siaga.i18n.formats import local_time, measure
from siaga.i18n.labels import REFUSAL_REASON
from siaga.i18n.messages import render as render_message
from siaga.i18n.messages import rule_title
from siaga.kinds import SENSOR_KINDS
from siaga.notify.model import Kind
from siaga.notify.texts import N_, format_rupiah, gettext_for, ngettext_for
from siaga.rules.faulty import FAULTY_RULE

LastBackup = Callable[[str], dt.datetime | None]
"""Hook: service id -> when its data was last copied off site (None: never / unknown)."""

SEVERITY: dict[str, str] = {
    "critical": N_("CRITICAL"),
    "warning": N_("WARNING"),
    "info": N_("INFO"),
}

ZONES: dict[str, str] = {
    "inlet-top": N_("inlet, top"),
    "inlet-bottom": N_("inlet, bottom"),
    "exhaust": N_("exhaust"),
    "floor": N_("floor"),
    "ceiling-above": N_("ceiling above"),
}

BINARY_STATES: dict[str, tuple[str, str]] = {
    "leak": (N_("dry"), N_("wet")),
    "smoke": (N_("clear"), N_("alarm")),
    "door": (N_("closed"), N_("open")),
    "ups_on_battery": (N_("on mains"), N_("on battery")),
}

ICONS = {"critical": "🔴", "warning": "🟠", "info": "🔵"}

TEMPLATES = {"short": "short.txt", "full": "full.txt"}


@dataclass(frozen=True)
class Rendered:
    title: str
    short: str
    full: str


@dataclass(frozen=True)
class AlertView:
    """One alert as the templates see it (every text already in the reader's language)."""

    id: int
    what: str
    severity: str
    icon: str
    where: str
    room: str
    since: str
    since_short: str
    value: str
    services: list[str]
    devices: list[str]
    value_at_risk: str
    subject: str
    rule: str
    summary: str
    incident: int | None
    state: str
    backups: list[tuple[str, str]]


@functools.cache
def _environment(lang: str) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("siaga.notify", "templates"),
        extensions=["jinja2.ext.i18n"],
        autoescape=False,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        undefined=jinja2.StrictUndefined,
    )
    env.install_gettext_callables(gettext_for(lang), ngettext_for(lang), newstyle=True)  # type: ignore[attr-defined]
    return env


class Renderer:
    """Turns alerts into messages for one site."""

    def __init__(self, config: SiteConfig, last_backup: LastBackup | None = None) -> None:
        self.config = config
        self.zone = ZoneInfo(config.site.timezone)
        self.last_backup = last_backup
        self.rooms = {r.id: r.name for r in config.rooms}
        self.racks = {r.id: r for r in config.racks}
        self.services = {s.id: s.name for s in config.services}
        self.devices = {d.id: d.name or d.id for d in config.devices}
        self.sensors = {s.id: s for s in config.sensors}
        self.people = {p.id: p.name for p in config.people}

    # -- pieces -------------------------------------------------------------------------------
    def local_time(self, at: dt.datetime, lang: str, *, date: bool = True) -> str:
        return local_time(at, self.zone, lang, date=date)

    def _what(self, alert: Alert, lang: str, g: Callable[[str], str]) -> str:
        if alert.rule == FAULTY_RULE and alert.params.get("reason") in REFUSAL_REASON:
            reason = g(REFUSAL_REASON[str(alert.params["reason"])])
            return g(N_("Sensor faulty: {count} readings in a row refused, {reason}")).format(
                count=alert.params.get("count", "?"), reason=reason
            )
        # a peer's silence (the last state it told); a runbook's failure or its approval link
        if alert.rule.startswith(("peer.", "runbook.")) and alert.summary:
            return f"{rule_title(alert.rule, lang)}: {render_message(alert.summary, lang, self.zone)}"
        return rule_title(alert.rule, lang)

    def _where(self, alert: Alert, g: Callable[[str], str]) -> tuple[str, str]:
        imp = alert.impact
        parts: list[str] = []
        if imp.rack:
            rack = self.racks.get(imp.rack)
            text = g(N_("Rack {rack}")).format(rack=imp.rack)
            if rack is not None and rack.name:
                text += f" ({rack.name})"
            parts.append(text)
        if imp.zone:
            parts.append(g(ZONES.get(imp.zone, imp.zone)))
        room = self.rooms.get(imp.room, imp.room or "") if imp.room else ""
        if room:
            parts.append(room)
        if not parts:
            name = self.services.get(alert.subject) or self.devices.get(alert.subject) or alert.subject
            parts.append(name)
        return ", ".join(parts), room

    def _value(self, alert: Alert, lang: str, g: Callable[[str], str]) -> str:
        if alert.last_value is None:
            return ""
        unit = str(alert.params.get("unit", ""))
        kind_key = str(alert.params.get("kind", ""))
        sensor = self.sensors.get(alert.subject)
        if sensor is not None and not kind_key:
            kind_key = sensor.kind
        kind = SENSOR_KINDS.get(kind_key)
        if kind is not None and not unit:
            unit = kind.unit
        if kind_key in BINARY_STATES:
            off, on = BINARY_STATES[kind_key]
            return g(on if alert.last_value >= 0.5 else off)
        return measure(alert.last_value, unit, lang)

    def view(self, alert: Alert, lang: str) -> AlertView:
        g = gettext_for(lang)
        where, room = self._where(alert, g)
        since_at = alert.fired_at or alert.started_at
        backups: list[tuple[str, str]] = []
        if self.last_backup is not None:
            for sid in alert.impact.services:
                last = self.last_backup(sid)
                backups.append(
                    (self.services.get(sid, sid), self.local_time(last, lang) if last
                     else g(N_("no verified off-site copy yet")))
                )
        return AlertView(
            id=alert.id,
            what=self._what(alert, lang, g),
            severity=g(SEVERITY.get(alert.severity.value, alert.severity.value)),
            icon=ICONS.get(alert.severity.value, ""),
            where=where,
            room=room,
            since=self.local_time(since_at, lang),
            since_short=self.local_time(since_at, lang, date=False),
            value=self._value(alert, lang, g),
            services=[self.services.get(s, s) for s in alert.impact.services],
            devices=[self.devices.get(d, d) for d in alert.impact.devices],
            value_at_risk=format_rupiah(alert.impact.value_at_risk, lang) if alert.impact.value_at_risk else "",
            subject=alert.subject,
            rule=alert.rule,
            summary=render_message(alert.summary, lang, self.zone),
            incident=alert.incident_id,
            state=alert.state.value,
            backups=backups,
        )

    # -- messages -----------------------------------------------------------------------------
    def render(
        self,
        kind: Kind,
        alerts: Sequence[Alert],
        lang: str,
        now: dt.datetime,
        *,
        ack_url: str | None = None,
        max_listed: int = 15,
        by: str | None = None,
        via: str | None = None,
        note: str | None = None,
        round: int = 0,
        cause: Alert | None = None,
    ) -> Rendered:
        """The message about ``alerts`` (one or a storm of them) for a reader of ``lang``; a follow-up
        names their probable ``cause`` (the alert that already paged)."""
        if not alerts:
            raise ValueError("a message is about at least one alert")
        g = gettext_for(lang)
        views = [self.view(a, lang) for a in alerts]
        listed, more = views[:max_listed], max(0, len(views) - max_listed)
        worst = max(alerts, key=lambda a: a.severity.rank).severity
        services = list(dict.fromkeys(s for v in views for s in v.services))
        devices = {d for a in alerts for d in a.impact.devices}
        risk = _value_at_risk(alerts)
        ctx: dict[str, Any] = {
            "kind": kind.value,
            "lang": lang,
            "alerts": views,
            "listed": listed,
            "more": more,
            "count": len(views),
            "single": views[0] if len(views) == 1 else None,
            "severity": g(SEVERITY[worst.value]),
            "icon": {"acknowledged": "✅", "resolved": "✔️"}.get(kind.value, ICONS[worst.value]),
            "services": services,
            "services_more": max(0, len(services) - 6),
            "devices": len(devices),
            "value_at_risk": format_rupiah(risk, lang) if risk else "",
            "ack_url": ack_url,
            "by": self.people.get(by, by) if by else None,
            "via": via,
            "note": note,
            "round": round,
            "now": self.local_time(now, lang),
            "site": self.config.site.name,
            "incident": views[0].incident if len({v.incident for v in views}) == 1 else None,
            "also_down": _also_down(self, alerts, cause, lang) if kind is Kind.followup else "",
        }
        env = _environment(lang)
        short = env.get_template(TEMPLATES["short"]).render(ctx).strip()
        full = env.get_template(TEMPLATES["full"]).render(ctx).strip()
        return Rendered(title=_title(ctx, g, ngettext_for(lang)), short=short, full=full)


def _also_down(renderer: Renderer, alerts: Sequence[Alert], cause: Alert | None, lang: str) -> str:
    """'Portal bontangkota.go.id is down too — probable cause: Water leak at Rack R1'."""
    g, ngettext = gettext_for(lang), ngettext_for(lang)
    names = list(dict.fromkeys(renderer.services.get(a.subject, a.subject) for a in alerts))
    down = ngettext("{services} is down too", "{services} are down too", len(names)).format(services=", ".join(names))
    if cause is None:
        return down
    imp = cause.impact
    where = (g(N_("Rack {rack}")).format(rack=imp.rack) if imp.rack
             else renderer.rooms.get(imp.room, imp.room) if imp.room else renderer._where(cause, g)[0])
    return g(N_("{down} — probable cause: {what} at {where}")).format(
        down=down, what=renderer._what(cause, lang, g).lower(), where=where)


def _value_at_risk(alerts: Sequence[Alert]) -> int:
    """Rupiah at risk over a storm: the largest single impact when device lists are unknown, else unique devices."""
    return max((a.impact.value_at_risk for a in alerts), default=0)


def _title(ctx: dict[str, Any], g: Callable[[str], str], ngettext: Callable[[str, str, int], str]) -> str:
    single = ctx["single"]
    head = {
        "page": g(N_("{severity}: {what}")),
        "repeat": g(N_("Still unacknowledged, {severity}: {what}")),
        "repage": g(N_("Still firing after acknowledgement, {severity}: {what}")),
        "acknowledged": g(N_("Acknowledged: {what}")),
        "resolved": g(N_("Resolved: {what}")),
        "test": g(N_("siaga test message")),
        "followup": "{what}",
    }[ctx["kind"]]
    if ctx["kind"] == "followup":
        what = ctx["also_down"]
    elif single is not None:
        what = f"{single.what} — {single.where}"
    else:
        what = ngettext("{count} alert", "{count} alerts", ctx["count"]).format(count=ctx["count"])
    return f"[siaga] {head.format(severity=ctx['severity'], what=what)}"


def severity_rank(value: str) -> int:
    return Severity(value).rank
