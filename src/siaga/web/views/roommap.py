"""The room map as data (pure): the floor grid, racks on their tiles coloured by inlet temperature,
leak and smoke markers where their sensors hang. The template draws it as SVG.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from siaga.config.models import SiteConfig
from siaga.kinds import SENSOR_KINDS

TILE = 64  # px of one grid tile in the SVG's user space
GAP = 6

# Inlet temperature bands (ASHRAE A1, at the rack inlet): recommended 18–27 °C, allowable 15–32 °C.
BANDS: tuple[tuple[float, str], ...] = ((15.0, "cold"), (18.0, "cool"), (27.0, "ok"), (32.0, "warm"))


def temperature_band(celsius: float | None) -> str:
    """``unknown``, ``cold`` (<15), ``cool`` (15–18), ``ok`` (18–27), ``warm`` (27–32) or ``hot`` (>32)."""
    if celsius is None:
        return "unknown"
    for limit, name in BANDS:
        if celsius < limit:
            return name
    return "hot"


@dataclass(frozen=True)
class Latest:
    """The latest reading of one sensor."""

    value: float
    at: dt.datetime


@dataclass(frozen=True)
class Marker:
    sensor: str
    kind: str  # leak, smoke
    x: float
    y: float
    state: str  # ok, alarm, stale, unknown
    label: str


@dataclass(frozen=True)
class RackTile:
    id: str
    name: str
    x: float
    y: float
    w: float
    h: float
    inlet: float | None  # the warmest inlet temperature, °C
    band: str
    alarm: bool  # a leak or smoke alarm on this rack, or an active critical alert
    devices: int
    value: int


@dataclass(frozen=True)
class RoomMap:
    room_id: str
    name: str
    width: float
    height: float
    columns: int
    rows: int
    racks: tuple[RackTile, ...]
    markers: tuple[Marker, ...]
    unplaced: tuple[str, ...] = field(default_factory=tuple)


def sensor_state(kind: str, latest: Latest | None, now: dt.datetime, silent_after_s: float | None = None) -> str:
    """``alarm`` (wet, smoke), ``ok``, ``stale`` (silent past ``silent_after_s``, by default 3 intervals of
    its kind; see :meth:`Sensor.silent_after_s`) or ``unknown`` (never heard)."""
    if latest is None:
        return "unknown"
    k = SENSOR_KINDS.get(kind)
    limit = silent_after_s or 3 * (k.interval_s if k else 60.0)
    if kind in ("leak", "smoke") and latest.value >= 0.5:
        return "alarm"
    if (now - latest.at).total_seconds() > limit:
        return "stale"
    return "ok"


def build_room_map(
    cfg: SiteConfig,
    room_id: str,
    latest: dict[str, Latest],
    now: dt.datetime,
    alarm_subjects: frozenset[str] = frozenset(),
) -> RoomMap:
    """The map of one room. ``alarm_subjects``: sensors with an active critical alert."""
    room = next(r for r in cfg.rooms if r.id == room_id)
    cols, rows = room.grid.columns, room.grid.rows
    racks = [r for r in cfg.racks if r.room == room_id]
    tiles: list[RackTile] = []
    markers: list[Marker] = []
    unplaced: list[str] = []
    positions: dict[str, tuple[float, float]] = {}
    free = _free_tiles(cols, rows, {(r.position.column, r.position.row) for r in racks if r.position})
    for rack in racks:
        if rack.position is not None and rack.position.column <= cols and rack.position.row <= rows:
            c, r = rack.position.column, rack.position.row
        elif free:
            c, r = free.pop(0)
            unplaced.append(rack.id)
        else:
            unplaced.append(rack.id)
            continue
        x, y = (c - 1) * TILE + GAP, (r - 1) * TILE + GAP
        positions[rack.id] = (x, y)
        sensors = [s for s in cfg.sensors if s.rack == rack.id]
        inlets = [latest[s.id].value for s in sensors
                  if s.kind == "temperature" and (s.zone or "").startswith("inlet") and s.id in latest]
        inlet = max(inlets) if inlets else None
        alarm = any(
            s.id in alarm_subjects or (s.kind in ("leak", "smoke") and s.id in latest and latest[s.id].value >= 0.5)
            for s in sensors
        )
        devices = [d for d in cfg.devices if d.rack == rack.id]
        tiles.append(RackTile(rack.id, rack.name or rack.id, x, y, TILE - 2 * GAP, TILE - 2 * GAP, inlet,
                              temperature_band(inlet), alarm, len(devices), sum(d.value for d in devices)))
    # Leak and smoke markers where their sensors hang: ceiling zone at the top of the tile, floor at the bottom.
    room_slots = _room_slots(cols, rows)
    for sensor in cfg.sensors:
        if sensor.kind not in ("leak", "smoke"):
            continue
        state = sensor_state(sensor.kind, latest.get(sensor.id), now, sensor.silent_after_s())
        if sensor.id in alarm_subjects and state != "alarm":
            state = "alarm"
        if sensor.rack in positions:
            px, py = positions[sensor.rack]
            w = TILE - 2 * GAP
            dy = {"ceiling-above": -2.0, "floor": w + 2.0}.get(sensor.zone or "", w / 2)
            dx = {"ceiling-above": w * 0.3, "floor": w * 0.7}.get(sensor.zone or "", w + 2.0)
            markers.append(Marker(sensor.id, sensor.kind, px + dx, py + dy, state, sensor.name or sensor.id))
        elif room_slots and (sensor.room == room_id or (
                sensor.rack is None and sensor.device is not None and _device_room(cfg, sensor.device) == room_id)):
            sx, sy = room_slots.pop(0)
            markers.append(Marker(sensor.id, sensor.kind, sx, sy, state, sensor.name or sensor.id))
    return RoomMap(room.id, room.name, cols * TILE, rows * TILE, cols, rows, tuple(tiles), tuple(markers),
                   tuple(unplaced))


def _device_room(cfg: SiteConfig, device_id: str) -> str | None:
    for d in cfg.devices:
        if d.id == device_id:
            if d.room:
                return d.room
            rack = next((r for r in cfg.racks if r.id == d.rack), None)
            return rack.room if rack else None
    return None


def _free_tiles(cols: int, rows: int, taken: set[tuple[int, int]]) -> list[tuple[int, int]]:
    return [(c, r) for r in range(rows, 0, -1) for c in range(1, cols + 1) if (c, r) not in taken]


def _room_slots(cols: int, rows: int) -> list[tuple[float, float]]:
    """Spots along the top wall for room sensors (smoke on the ceiling)."""
    return [(TILE * (c - 0.5), 14.0) for c in range(cols, 0, -1)]
