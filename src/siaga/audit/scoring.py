"""The room readiness audit: is this server room ready for the day the roof leaks? (pure, no I/O)

Each criterion looks at the site as code (and, where given, at facts siaga measured: drills,
offline sensors) and says passed / partial / failed / not applicable, with a score from 0 to 1,
the evidence in the reader's language and what to do about it. The total is a weighted mean.

The criteria come from what the Bontang inspection found missing in July 2025 (no automatic
temperature detection, no leak detection, no off-site copy, offices blaming each other over the
roof) and from ASHRAE's guidance to measure at the rack inlet, top and bottom.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from siaga.config.models import Criticality, DeviceKind, SiteConfig
from siaga.i18n import N_, Translator, translator
from siaga.inventory import Inventory


class Status(StrEnum):
    passed = "passed"
    partial = "partial"
    failed = "failed"
    not_applicable = "not_applicable"


@dataclass(frozen=True)
class DrillFact:
    """The last restore drill of a backup job, as siaga recorded it."""

    at: dt.datetime
    ok: bool
    rto_seconds: float | None = None


@dataclass(frozen=True)
class AuditFacts:
    """What siaga measured, for the criteria that look beyond the config. Empty: config only."""

    drills: Mapping[str, DrillFact] = field(default_factory=dict)  # by backup job id
    standby_drills: Mapping[str, DrillFact] = field(default_factory=dict)  # by service id: the last recovery drill
    runbook_drills: Mapping[str, DrillFact] = field(default_factory=dict)  # by runbook id: siaga runbook drill
    sensors_offline: frozenset[str] = frozenset()
    drill_max_age: dt.timedelta = dt.timedelta(days=35)


@dataclass(frozen=True)
class Finding:
    criterion: str
    area: str  # msgid of the area, translated at render time
    title: str  # in the reader's language
    weight: int
    status: Status
    score: float  # 0..1
    evidence: tuple[str, ...]
    recommendation: str  # in the reader's language; empty when passed


@dataclass(frozen=True)
class AuditResult:
    site: str
    at: dt.datetime
    language: str
    findings: tuple[Finding, ...]

    @property
    def score(self) -> float:
        """Weighted mean over the applicable criteria, 0..100."""
        applicable = [f for f in self.findings if f.status is not Status.not_applicable]
        total = sum(f.weight for f in applicable)
        if total == 0:
            return 0.0
        return round(100 * sum(f.weight * f.score for f in applicable) / total, 1)

    @property
    def grade(self) -> str:
        """ready (>= 90), nearly (>= 75), at risk (>= 50), not ready."""
        s = self.score
        if s >= 90:
            return "ready"
        if s >= 75:
            return "nearly"
        if s >= 50:
            return "at_risk"
        return "not_ready"


AREA_ENVIRONMENT = N_("Room environment")
AREA_RESPONSIBILITY = N_("People and responsibility")
AREA_SERVICES = N_("Services")
AREA_DATA = N_("Data protection")
AREA_INVENTORY = N_("Inventory")

GRADE_LABELS = {
    "ready": N_("Ready"),
    "nearly": N_("Nearly ready"),
    "at_risk": N_("At risk"),
    "not_ready": N_("Not ready"),
}

STATUS_LABELS = {
    Status.passed: N_("passed"),
    Status.partial: N_("partial"),
    Status.failed: N_("failed"),
    Status.not_applicable: N_("not applicable"),
}


@dataclass(frozen=True)
class _Ctx:
    cfg: SiteConfig
    inv: Inventory
    facts: AuditFacts
    now: dt.datetime
    t: Translator

    def _(self, msgid: str, **params: object) -> str:
        return self.t.gettext(msgid).format(**params)


def _finding(
    ctx: _Ctx,
    criterion: str,
    area: str,
    title: str,
    weight: int,
    parts: list[tuple[str, bool]],
    recommendation: str,
    *,
    evidence_ok: str | None = None,
) -> Finding:
    """A finding from per-item checks: ``parts`` is (what was checked, ok) for every item."""
    if not parts:
        return Finding(criterion, area, ctx.t.gettext(title), weight, Status.not_applicable, 0.0, (), "")
    good = sum(1 for _, ok in parts if ok)
    score = good / len(parts)
    status = Status.passed if good == len(parts) else Status.failed if good == 0 else Status.partial
    evidence = tuple(what for what, ok in parts if not ok)
    if not evidence and evidence_ok:
        evidence = (evidence_ok,)
    return Finding(
        criterion,
        area,
        ctx.t.gettext(title),
        weight,
        status,
        round(score, 3),
        evidence,
        "" if status is Status.passed else recommendation,
    )


def _kinds_at(ctx: _Ctx, *, rack: str | None = None, room: str | None = None, zone: str | None = None) -> set[str]:
    kinds: set[str] = set()
    for s in ctx.cfg.sensors:
        if s.id in ctx.facts.sensors_offline:
            continue
        if rack is not None and s.rack == rack and (zone is None or s.zone == zone):
            kinds.add(s.kind)
        if room is not None:
            place_room = s.room or (ctx.inv.room_of_rack(s.rack) if s.rack else None)
            if place_room == room and zone is None:
                kinds.add(s.kind)
    return kinds


def _inlet_temperature(ctx: _Ctx) -> Finding:
    parts = []
    for rack in ctx.cfg.racks:
        for zone in ("inlet-top", "inlet-bottom"):
            ok = "temperature" in _kinds_at(ctx, rack=rack.id, zone=zone)
            parts.append((ctx._("Rack {rack}: no temperature sensor at {zone}", rack=rack.id, zone=zone), ok))
    return _finding(
        ctx, "inlet-temperature", AREA_ENVIRONMENT, N_("Temperature measured at every rack inlet, top and bottom"),
        10, parts,
        ctx._("Hang a temperature sensor at the top and at the bottom of the front (inlet) of every rack, "
              "as ASHRAE recommends."),
        evidence_ok=ctx._("{count} racks measured top and bottom", count=len(ctx.cfg.racks)),
    )


def _leak(ctx: _Ctx) -> Finding:
    parts = []
    for rack in ctx.cfg.racks:
        for zone in ("ceiling-above", "floor"):
            ok = "leak" in _kinds_at(ctx, rack=rack.id, zone=zone)
            parts.append((ctx._("Rack {rack}: no water leak sensor at {zone}", rack=rack.id, zone=zone), ok))
    return _finding(
        ctx, "leak-detection", AREA_ENVIRONMENT, N_("Water detected above and under every rack"), 15, parts,
        ctx._("Put a leak sensor on the floor under every rack and one in the ceiling zone above it: "
              "in Bontang the water came through the roof."),
        evidence_ok=ctx._("{count} racks watched above and below", count=len(ctx.cfg.racks)),
    )


def _per_room(ctx: _Ctx, kind: str, message: str) -> list[tuple[str, bool]]:
    return [(ctx._(message, room=room.id), kind in _kinds_at(ctx, room=room.id)) for room in ctx.cfg.rooms]


def _humidity(ctx: _Ctx) -> Finding:
    return _finding(
        ctx, "humidity", AREA_ENVIRONMENT, N_("Humidity measured in every room"), 5,
        _per_room(ctx, "humidity", N_("Room {room}: no humidity sensor")),
        ctx._("Add a humidity sensor: with the temperature it gives the dew point, and water in the air "
              "often comes before water on the floor."),
    )


def _smoke(ctx: _Ctx) -> Finding:
    return _finding(
        ctx, "smoke", AREA_ENVIRONMENT, N_("Smoke detected in every room"), 10,
        _per_room(ctx, "smoke", N_("Room {room}: no smoke detector connected to siaga")),
        ctx._("Connect a smoke detector to siaga so a fire is announced to the people on call, not only "
              "to whoever is in the building."),
    )


def _door(ctx: _Ctx) -> Finding:
    return _finding(
        ctx, "door", AREA_ENVIRONMENT, N_("Door of every room watched"), 3,
        _per_room(ctx, "door", N_("Room {room}: no door contact")),
        ctx._("Add a door contact so every entry to the room is on record."),
    )


def _power(ctx: _Ctx) -> Finding:
    parts = []
    for dev in ctx.cfg.devices:
        if dev.kind is not DeviceKind.ups:
            continue
        kinds = {s.kind for s in ctx.cfg.sensors if s.device == dev.id and s.id not in ctx.facts.sensors_offline}
        parts.append((ctx._("UPS {device}: siaga does not know when it runs on battery", device=dev.id),
                      "ups_on_battery" in kinds))
        parts.append((ctx._("UPS {device}: no battery charge or runtime reading", device=dev.id),
                      bool(kinds & {"ups_battery_charge", "ups_runtime"})))
    return _finding(
        ctx, "power", AREA_ENVIRONMENT, N_("Every UPS monitored"), 7, parts,
        ctx._("Poll every UPS over SNMP (UPS-MIB): on battery, charge and runtime left."),
    )


def _cooling(ctx: _Ctx) -> Finding:
    parts = []
    for room in ctx.cfg.rooms:
        units = [d for d in ctx.inv.devices_in_room(room.id) if d.kind is DeviceKind.cooling]
        parts.append(
            (ctx._("Room {room}: {count} cooling unit(s), no spare (N+1)", room=room.id, count=len(units)),
             len(units) >= 2)
        )
    return _finding(
        ctx, "cooling-redundancy", AREA_ENVIRONMENT, N_("Cooling with a spare unit in every room"), 5, parts,
        ctx._("Keep at least one cooling unit more than the room needs, and list them in the inventory."),
    )


def _owners(ctx: _Ctx) -> Finding:
    parts = []
    for room in ctx.cfg.rooms:
        parts.append((ctx._("Room {room}: no office named as running the room", room=room.id),
                      bool(room.owner_office)))
        parts.append((ctx._("Room {room}: nobody named as keeping the building (roof, pipes)", room=room.id),
                      bool(room.building_owner)))
    return _finding(
        ctx, "owners", AREA_RESPONSIBILITY, N_("Who runs the room and who keeps the building are named"), 3, parts,
        ctx._("Write down which office runs the room and which keeps the roof and the pipes, before the day "
              "they blame each other."),
    )


def _escalation(ctx: _Ctx) -> Finding:
    steps = _count_escalation_steps(ctx.cfg)
    reachable = [p for p in ctx.cfg.people if p.contacts]
    parts = [
        (ctx._("{count} people can be reached; at least 2 are needed", count=len(reachable)), len(reachable) >= 2),
        (ctx._("Escalation has {count} step(s); at least 2 are needed", count=steps), steps >= 2),
    ]
    return _finding(
        ctx, "escalation", AREA_RESPONSIBILITY, N_("Someone is always told, and someone higher if nobody acts"),
        10, parts,
        ctx._("Define an escalation policy: the technician on call at once, the head of infrastructure after "
              "a few unacknowledged minutes, the head of the office after that."),
    )


def _count_escalation_steps(cfg: SiteConfig) -> int:
    """Steps of the longest escalation policy, whatever shape the notification config has."""
    best = 0
    policies: Iterable[object] = cfg.escalation if isinstance(cfg.escalation, list) else []
    for policy in policies:
        steps = policy.get("steps") if isinstance(policy, dict) else getattr(policy, "steps", None)
        if isinstance(steps, list | tuple):
            best = max(best, len(steps))
    return best


def _checks(ctx: _Ctx) -> Finding:
    watched = {c.service for c in ctx.cfg.checks}
    parts = [
        (ctx._("Service {service}: no check watches it", service=s.id), s.id in watched)
        for s in ctx.cfg.services
        if s.url or s.host
    ]
    return _finding(
        ctx, "service-checks", AREA_SERVICES, N_("Every service watched from outside"), 7, parts,
        ctx._("Add an HTTP, TCP or DNS check to every service so an outage is known in the first minute."),
    )


def _single_rack(ctx: _Ctx) -> Finding:
    parts = []
    for svc in ctx.cfg.services:
        if svc.criticality.rank < Criticality.high.rank or not svc.runs_on:
            continue
        racks = {ctx.inv.rack_of_device(d) for d in svc.runs_on}
        parts.append(
            (ctx._("Service {service} ({criticality}) runs only in rack {rack}", service=svc.id,
                   criticality=svc.criticality.value, rack=", ".join(sorted(r or "-" for r in racks))),
             len(racks) >= 2)
        )
    return _finding(
        ctx, "single-rack", AREA_SERVICES, N_("Vital and high services survive the loss of one rack"), 8, parts,
        ctx._("Spread the servers of a vital service over two racks, or keep a standby copy elsewhere: in "
              "Bontang one wet rack took the city's website down for 5 days."),
    )


def _offsite(ctx: _Ctx) -> Finding:
    offsite_targets = set()
    for t in ctx.cfg.targets:
        offsite = t.offsite if t.offsite is not None else t.type.value != "local"
        if offsite:
            offsite_targets.add(t.id)
    covered = {s for job in ctx.cfg.backups for s in job.services
               if job.target in offsite_targets or set(job.copy_to) & offsite_targets}
    parts = [
        (ctx._("Service {service} ({criticality}): no copy of its data outside the room", service=s.id,
               criticality=s.criticality.value), s.id in covered)
        for s in ctx.cfg.services
        if s.criticality.rank >= Criticality.high.rank
    ]
    return _finding(
        ctx, "offsite-backup", AREA_DATA, N_("Every vital and high service has a copy off site"), 15, parts,
        ctx._("Back up the data of every vital and high service to a target outside the room (the "
              "colocation site), encrypted, on a schedule."),
    )


def _drills(ctx: _Ctx) -> Finding:
    parts = []
    for job in ctx.cfg.backups:
        parts.append((ctx._("Backup {job}: no restore drill scheduled", job=job.id), bool(job.drill.schedule)))
        parts.append((ctx._("Backup {job}: no RPO and RTO declared", job=job.id), bool(job.rpo and job.rto)))
        if ctx.facts is not _NO_FACTS:
            fact = ctx.facts.drills.get(job.id)
            recent = fact is not None and fact.ok and ctx.now - fact.at <= ctx.facts.drill_max_age
            parts.append(
                (ctx._("Backup {job}: no successful restore drill in the last {days} days", job=job.id,
                       days=ctx.facts.drill_max_age.days), recent)
            )
    return _finding(
        ctx, "restore-drills", AREA_DATA, N_("Restores are rehearsed and timed"), 10, parts,
        ctx._("Schedule restore drills: a copy nobody has restored is a hope, not a backup. Declare how much "
              "data may be lost (RPO) and how long a restore may take (RTO)."),
    )


def _standby_drills(ctx: _Ctx) -> Finding:
    """Each warm standby's last recovery drill: recent, passed, and its time to answer (not applicable without
    standbys, or without measured facts)."""
    parts: list[tuple[str, bool]] = []
    shown: list[str] = []
    if ctx.facts is not _NO_FACTS:
        for sb in ctx.cfg.standbys:
            fact = ctx.facts.standby_drills.get(sb.service)
            recent = fact is not None and fact.ok and ctx.now - fact.at <= ctx.facts.drill_max_age
            parts.append((ctx._("Standby {service}: no successful recovery drill in the last {days} days",
                                service=sb.service, days=ctx.facts.drill_max_age.days), recent))
            if fact is not None and fact.ok and fact.rto_seconds is not None:
                seconds = f"{fact.rto_seconds:.1f}"
                shown.append(ctx._("Standby {service}: answered its checks {seconds} s after the trigger",
                                   service=sb.service, seconds=seconds))
        for book in ctx.cfg.runbooks.books:
            if not any(step.kind in ("standby", "dns") for step in book.steps):
                continue  # not a failover
            fact = ctx.facts.runbook_drills.get(book.id)
            recent = fact is not None and fact.ok and ctx.now - fact.at <= ctx.facts.drill_max_age
            parts.append((ctx._("Runbook {id}: no successful recovery drill in the last {days} days", id=book.id,
                                days=ctx.facts.drill_max_age.days), recent))
            if fact is not None and fact.ok and fact.rto_seconds is not None:
                rto = f"{fact.rto_seconds:.1f}"
                shown.append(ctx._("Runbook {id}: the whole failover drilled, the service answered from the standby "
                                   "{seconds} s after the trigger", id=book.id, seconds=rto))
    found = _finding(
        ctx, "standby-drills", AREA_DATA, N_("The switch to the warm standby is rehearsed and timed"), 5, parts,
        ctx._("Run the recovery drill of every standby (siaga standby drill SERVICE) and of every failover runbook "
              "(siaga runbook drill NAME) each month: it measures the time from the trigger to the service "
              "answering from the colocation."),
        evidence_ok="; ".join(shown) or None,
    )
    if found.status is Status.partial:  # the gaps, and the times that were measured
        found = dataclasses.replace(found, evidence=(*found.evidence, *shown))
    return found


def _inventory(ctx: _Ctx) -> Finding:
    parts = [
        (ctx._("Device {device}: no value or purchase date", device=d.id), d.value > 0 and d.purchased is not None)
        for d in ctx.cfg.devices
    ]
    parts += [
        (ctx._("Service {service}: not linked to the devices it runs on", service=s.id), bool(s.runs_on))
        for s in ctx.cfg.services
    ]
    return _finding(
        ctx, "inventory", AREA_INVENTORY, N_("Inventory complete: values, dates, what runs where"), 2, parts,
        ctx._("Give every device its value and purchase date, and every service the devices it runs on, so "
              "every alert can say what is at stake."),
    )


CRITERIA: tuple[Callable[[_Ctx], Finding], ...] = (
    _inlet_temperature,
    _leak,
    _humidity,
    _smoke,
    _door,
    _power,
    _cooling,
    _owners,
    _escalation,
    _checks,
    _single_rack,
    _offsite,
    _drills,
    _standby_drills,
    _inventory,
)

_NO_FACTS = AuditFacts()


def audit(cfg: SiteConfig, now: dt.datetime, *, facts: AuditFacts | None = None, lang: str = "id") -> AuditResult:
    """Score the readiness of the site described by ``cfg`` at ``now``."""
    ctx = _Ctx(cfg, Inventory.from_config(cfg), facts or _NO_FACTS, now, translator(lang))
    return AuditResult(cfg.site.name, now, lang, tuple(criterion(ctx) for criterion in CRITERIA))
