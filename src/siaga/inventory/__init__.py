"""The inventory graph and what is at stake: pure, built from the config, no I/O.

    inv = Inventory.from_config(cfg)
    inv.contents("R1"); inv.value("ruang-server")
    report = inv.impact("R1")              # an ImpactReport: devices, services (direct and via depends_on) ...
    inv.impact_of_sensor("leak-r1-ceiling")  # a siaga.vocab.Impact, what an alert carries
"""

from siaga.inventory.graph import Contents, Inventory, SensorPlace
from siaga.inventory.impact import (
    DeviceHit,
    ImpactReport,
    KindTotal,
    SensorRef,
    ServiceHit,
    ZoneGap,
    impact,
    impact_for_alert,
    impact_of_sensor,
    services_hit,
    uncovered_zones,
)
from siaga.inventory.targets import AmbiguousTarget, Target, TargetError, TargetKind, UnknownTarget, WrongKind

__all__ = [
    "AmbiguousTarget",
    "Contents",
    "DeviceHit",
    "ImpactReport",
    "Inventory",
    "KindTotal",
    "SensorPlace",
    "SensorRef",
    "ServiceHit",
    "Target",
    "TargetError",
    "TargetKind",
    "UnknownTarget",
    "WrongKind",
    "ZoneGap",
    "impact",
    "impact_for_alert",
    "impact_of_sensor",
    "services_hit",
    "uncovered_zones",
]
