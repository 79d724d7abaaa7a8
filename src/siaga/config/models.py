"""The site as code: ``SiteConfig``, the whole of ``siaga.yaml``, built from the sections' models.

Every field carries a description; docs/config.md is generated from them (``siaga config docs``).
The sections live in their own modules (``site``, ``sources``, ``rules``, ``readings``, ``checks``,
``backup``, ``notify``), all built on ``siaga.config.types``; this module only puts them together,
so nothing in ``siaga.config`` imports back up to it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from siaga.config.backup import BackupJob, Target
from siaga.config.checks import Check, MaintenanceWindow
from siaga.config.notify import Contacts, EscalationPolicy, Notification
from siaga.config.peers import Peers
from siaga.config.readings import ReadingsConfig
from siaga.config.rules import RulesConfig
from siaga.config.runbooks import RunbooksConfig
from siaga.config.runtime import RuntimeSettings
from siaga.config.site import (
    Criticality,
    Device,
    DeviceKind,
    Grid,
    Language,
    Position,
    Rack,
    Room,
    Sensor,
    Service,
    Site,
    Store,
    Web,
)
from siaga.config.sources import HttpPush, Mqtt, Snmp
from siaga.config.standby import Standby
from siaga.config.types import SECRET_KEY, SLUG, Slug, Strict


class Person(Strict):
    """Someone siaga may tell."""

    id: Slug
    name: str = Field(description="Full name.")
    role: str | None = Field(default=None, description="Role, e.g. on-call technician, head of office.")
    office: str | None = Field(default=None, description="Their office.")
    language: Language | None = Field(default=None, description="Language of their messages (default: the site's).")
    contacts: Contacts = Field(
        default_factory=dict,
        description="Channel id -> their address on it (Telegram chat id, phone, e-mail): see notification.",
    )


class SiteConfig(Strict):
    """The whole of siaga.yaml."""

    version: Literal[1] = Field(default=1, description="Format version of this file.")
    site: Site = Field(description="Who this siaga watches over.")
    store: Store = Field(default_factory=Store, description="Where siaga keeps its data.")
    web: Web = Field(default_factory=Web, description="The HTTP server.")
    rooms: list[Room] = Field(default_factory=list, description="The server rooms.")
    racks: list[Rack] = Field(default_factory=list, description="The racks, each in a room.")
    devices: list[Device] = Field(default_factory=list, description="Servers, switches, UPSs... with their value.")
    services: list[Service] = Field(default_factory=list, description="Services and what they run on.")
    sensors: list[Sensor] = Field(default_factory=list, description="Sensors and where they hang.")
    people: list[Person] = Field(default_factory=list, description="People siaga may tell.")
    rules: RulesConfig = Field(default_factory=RulesConfig, description="Alert rules: ASHRAE presets and overrides.")
    readings: ReadingsConfig = Field(default_factory=ReadingsConfig, description="Ingest limits and retention.")
    mqtt: Mqtt | None = Field(default=None, description="The MQTT broker sensors publish to.")
    snmp: Snmp | None = Field(default=None, description="SNMP agents polled for readings (UPS, probes).")
    http_push: HttpPush = Field(default_factory=HttpPush, description="The HTTP push endpoint for readings.")
    checks: list[Check] = Field(default_factory=list, description="Service checks: see docs/checks.md.")
    backups: list[BackupJob] = Field(default_factory=list, description="Backup jobs: what, where, when (restic).")
    targets: list[Target] = Field(default_factory=list, description="Backup targets: restic repositories.")
    standbys: list[Standby] = Field(
        default_factory=list,
        description="Warm standbys at the colocation, restored from verified snapshots: see docs/standby.md.",
    )
    notification: Notification = Field(
        default_factory=Notification, description="Channels, groups, time windows, storm control, delivery."
    )
    escalation: list[EscalationPolicy] = Field(
        default_factory=list, description="Escalation policies, first match wins."
    )
    maintenance: list[MaintenanceWindow] = Field(
        default_factory=list, description="Planned maintenance windows: excluded from uptime, shown publicly."
    )
    runtime: RuntimeSettings = Field(
        default_factory=RuntimeSettings, description="How siaga serve restarts its failing components."
    )
    peers: Peers = Field(
        default_factory=Peers,
        description="Other siaga processes (a room, its colocation) exchanging signed heartbeats: see docs/peers.md.",
    )
    runbooks: RunbooksConfig = Field(
        default_factory=RunbooksConfig,
        description="Protective runbooks: graceful shutdown, DNS failover: see docs/runbooks.md.",
    )


__all__ = [
    "SECRET_KEY",
    "SLUG",
    "Criticality",
    "Device",
    "DeviceKind",
    "Grid",
    "Language",
    "Person",
    "Position",
    "Rack",
    "Room",
    "Sensor",
    "Service",
    "Site",
    "SiteConfig",
    "Slug",
    "Store",
    "Strict",
    "Web",
]
