"""What ``siaga serve`` runs: the component tables, as imports a reader (and a tool) can follow.

Each entry is a :class:`~siaga.runtime.components.Component` or a factory
``(ctx) -> Component | Iterable[Component] | None``. Factories run in table order before anything
starts, so a provider of a service (a field of :class:`~siaga.runtime.services.Services`) comes before
its users. Add one line per feature. A ``"module:attribute"`` string also works (a plug-in outside the
package, a fault test appending its component before ``siaga serve`` starts). Only ``siaga serve``
and ``siaga demo`` import this module: the other commands never load the components.
"""

from __future__ import annotations

from siaga.alerts import component as alerts
from siaga.backup import component as backup
from siaga.checks import component as checks
from siaga.cluster import component as cluster
from siaga.inventory import component as inventory
from siaga.notify import component as notify
from siaga.peers import ack_mirror as peer_acks
from siaga.peers import component as peers
from siaga.peers import outbox_component as peer_outbox
from siaga.peers import status_feed as peer_status
from siaga.runbooks import component as runbooks
from siaga.runtime import heartbeat
from siaga.runtime.components import ComponentEntry
from siaga.sources import component as sensing
from siaga.sources import simulator
from siaga.sources.mqtt import component as mqtt
from siaga.sources.snmp import component as snmp
from siaga.web import demo as web_demo
from siaga.web import server as web_server

# Every `siaga serve` (order: providers of services first).
COMPONENTS: list[ComponentEntry | str] = [
    cluster.component,  # sets services.cluster: the leases of the roles (singleton duties)
    inventory.component,  # sets services.inventory
    alerts.component,  # sets services.alerts: the alerts hub (impact from the inventory)
    heartbeat.component,
    sensing.component,  # sets services.ingest, .readings_writer: ingest, rules, writer (needs .alerts)
    backup.component,  # sets services.backup
    mqtt.component,  # MQTT subscriber (not in the demo; needs .ingest)
    snmp.component,  # SNMP pollers (not in the demo; needs .ingest)
    notify.component,  # sets services.notify: outbox worker, Telegram bot
    web_server.component,
    checks.component,  # sets services.checks
    peers.component,  # sets services.peers: heartbeats both ways, silence alerts (needs .alerts)
    runbooks.component,  # triggered runbooks: auto runs, failures paged (needs .alerts, .inventory)
    peer_outbox.component,  # sends this site's record to the peers watching it
    peer_status.component,  # sends this site's public status page to the peers watching it
    peer_acks.component,  # at a colocation: its acknowledgements reach the rooms, the rooms' reach its alerts
]

# Added by `siaga demo` after COMPONENTS: simulated sensors and the like.
DEMO_COMPONENTS: list[ComponentEntry | str] = [
    simulator.component,  # plays src/siaga/examples/bontang-scenario.yaml in real time (needs .ingest)
    web_demo.component,  # a dashboard account for the demo, its password printed at start
]
