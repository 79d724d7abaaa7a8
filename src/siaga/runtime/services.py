"""What the components of a running siaga provide to each other: one typed field per service.

A component factory sets the fields it provides (``ctx.services.alerts = AlertManager(...)``) and reads
the fields it needs; a field is ``None`` until its provider has run (or when that part is not
configured). Factories run in the order of ``siaga.runtime.registry.COMPONENTS``, so providers come
before their users. A reader follows a service by its field: who sets it, who reads it, its type.

    field             type                 set by (component)               read by
    inventory         Inventory            inventory.component              alerts.component, web (inventory
                                                                            API, rack page)
    alerts            AlertManager         alerts.component (the hub)       sensing, mqtt, checks, backup, notify,
                                                                            web actions and /healthz, the
                                                                            degraded pager, the demo narrator
    ingest            Ingest               sources.component (sensing)      mqtt, snmp, http push, simulator
    readings_writer   ReadingWriter        sources.component (sensing)      mqtt, http push (acknowledge once
                                                                            durable)
    backup            BackupManager        backup.component                 -
    mqtt              MqttSource           sources.mqtt.component           -
    snmp              list[DevicePoller]   sources.snmp.component           -
    simulator         Simulator            sources.simulator (demo)         -
    notify            NotifyService        notify.component                 notify.web, web maintenance API,
                                                                            /healthz
    checks            ChecksEngine         checks.component                 checks.status.router (live states,
                                                                            pings)
    checks_standin    StandIn              checks.component (demo)          -
    status_cache      StatusCache          checks.status.router             checks.component (warms it)
    dashboard         Dashboard            web.dashboard (first use)        web security, pages
    base_url          str                  web.server (once bound)          -
    peers             PeerHub              peers.component                  peers.web, /metrics, the off-site record
    cluster           Cluster              cluster.component (first)        the supervisor (roles), notify
                                                                            (fence), web (cluster status)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from siaga.alerts.manager import AlertManager
    from siaga.backup.manager import BackupManager
    from siaga.checks.engine import ChecksEngine
    from siaga.checks.standin import StandIn
    from siaga.checks.status.router import StatusCache
    from siaga.cluster.component import Cluster
    from siaga.inventory.graph import Inventory
    from siaga.notify.service import NotifyService
    from siaga.peers.hub import PeerHub
    from siaga.readings.writer import ReadingWriter
    from siaga.sources.ingest import Ingest
    from siaga.sources.mqtt.client import MqttSource
    from siaga.sources.simulator import Simulator
    from siaga.sources.snmp.poller import DevicePoller
    from siaga.web.dashboard import Dashboard


@dataclass
class Services:
    """The services of one runtime (a reload builds a new one with the new components)."""

    inventory: Inventory | None = None
    alerts: AlertManager | None = None
    ingest: Ingest | None = None
    readings_writer: ReadingWriter | None = None
    backup: BackupManager | None = None
    mqtt: MqttSource | None = None
    snmp: list[DevicePoller] = field(default_factory=list)
    simulator: Simulator | None = None
    notify: NotifyService | None = None
    checks: ChecksEngine | None = None
    checks_standin: StandIn | None = None
    status_cache: StatusCache | None = None
    dashboard: Dashboard | None = None
    base_url: str | None = None
    peers: PeerHub | None = None
    cluster: Cluster | None = None
