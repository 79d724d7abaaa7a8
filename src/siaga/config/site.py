"""The site itself in siaga.yaml: who it is, where it keeps its data, its rooms, racks, devices,
services and sensors (the inventory), with their value in rupiah."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from siaga.config.errors import Refusal, unknown
from siaga.config.rules import RuleSet
from siaga.config.sources import SensorSource
from siaga.config.types import Duration, EnvText, Seconds, Slug, Strict, format_duration
from siaga.kinds import RACK_ZONES, SENSOR_KINDS


class Language(StrEnum):
    id = "id"
    en = "en"


class DeviceKind(StrEnum):
    server = "server"
    storage = "storage"
    switch = "switch"
    router = "router"
    firewall = "firewall"
    ups = "ups"
    pdu = "pdu"
    cooling = "cooling"
    other = "other"


class Criticality(StrEnum):
    low = "low"
    medium = "medium"
    high = "high"
    vital = "vital"

    @property
    def rank(self) -> int:
        return ["low", "medium", "high", "vital"].index(self.value)


class Site(Strict):
    """Who this siaga watches over and how it speaks."""

    name: str = Field(description="The site's name as people say it.", examples=["Diskominfo Kota Bontang"])
    timezone: str = Field(
        default="Asia/Makassar",
        description="IANA time zone shown on screens and in reports (Bontang: Asia/Makassar, WITA).",
    )
    language: Language = Field(default=Language.id, description="Language of messages and reports: id or en.")
    currency: Literal["IDR"] = Field(default="IDR", description="Currency of device values (rupiah).")

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise Refusal("config.time_zone", value=repr(value)) from exc
        return value


class Store(Strict):
    """Where siaga keeps what it learns."""

    data_dir: str = Field(
        default="siaga-data",
        description="Directory for the embedded SQLite database and other state, relative to the config file.",
    )
    database_url: EnvText | None = Field(
        default=None,
        description=(
            "SQLAlchemy URL of a PostgreSQL database (postgresql+psycopg://...). Put the password in an "
            "environment variable: ${SIAGA_DATABASE_URL}. Empty: SQLite in data_dir."
        ),
    )
    spool_dir: str | None = Field(
        default=None,
        description=(
            "Directory of the spool: alert changes and pages kept (append-only, fsync'd) while the store cannot "
            "write, written to the store when it is back. Put it on another disk than data_dir. Empty: "
            "/var/tmp/siaga-spool/<hash of data_dir>. Relative to the config file."
        ),
    )
    unavailable_after: Seconds = Field(
        default=60.0,
        gt=0,
        description="How long the store may refuse writes before the critical store.unavailable alert pages.",
        examples=["60s", "5m"],
    )


class Web(Strict):
    """The HTTP server (API, ingest, dashboard, status page)."""

    host: str = Field(default="127.0.0.1", description="Address to listen on; loopback by default.")
    port: int = Field(default=8470, ge=1, le=65535, description="TCP port to listen on.")
    public_url: str | None = Field(
        default=None,
        description="URL under which people reach siaga; used in acknowledgement links.",
    )


class Grid(Strict):
    """The floor plan of a room as a grid of tiles (one rack is one tile)."""

    columns: int = Field(default=8, ge=1, le=200, description="Tiles from left to right.")
    rows: int = Field(default=4, ge=1, le=200, description="Tiles from front to back.")


class Room(Strict):
    """A server room."""

    id: Slug
    name: str = Field(description="The room's name.")
    building: str | None = Field(default=None, description="Building and floor.")
    owner_office: str | None = Field(default=None, description="The office that runs the room.")
    building_owner: str | None = Field(
        default=None, description="Who keeps the building (the roof, the pipes): often another office."
    )
    grid: Grid = Field(default_factory=Grid, description="Floor grid for the room map.")
    tape: bool = Field(
        default=False, description="The room keeps tape media (ASHRAE's slower rate-of-change limit applies)."
    )


class Position(Strict):
    """A tile on the room's grid, counted from 1."""

    column: int = Field(ge=1, description="Column, from the left, from 1.")
    row: int = Field(ge=1, description="Row, from the front, from 1.")


class Rack(Strict):
    """A rack in a room."""

    id: Slug
    room: Slug = Field(description="Id of the room it stands in.")
    name: str | None = Field(default=None, description="A longer name.")
    position: Position | None = Field(default=None, description="Its tile on the room's grid.")
    height_u: int = Field(default=42, ge=1, le=60, description="Height in rack units (U).")


class Device(Strict):
    """A device: a server, a switch, a UPS..."""

    id: Slug
    name: str | None = Field(default=None, description="A longer name.")
    kind: DeviceKind = Field(description="server, storage, switch, router, firewall, ups, pdu, cooling or other.")
    model: str | None = Field(default=None, description="Make and model.")
    serial: str | None = Field(default=None, description="Serial number.")
    rack: Slug | None = Field(default=None, description="Id of its rack; empty for a device standing in the room.")
    room: Slug | None = Field(default=None, description="Id of its room, for a device outside a rack.")
    u: int | None = Field(default=None, ge=1, description="Lowest rack unit it occupies, from 1 at the bottom.")
    height_u: int = Field(default=1, ge=1, le=60, description="How many units it occupies.")
    value: int = Field(default=0, ge=0, description="Purchase value in whole rupiah.", examples=[920_000_000])
    purchased: dt.date | None = Field(default=None, description="Purchase date (YYYY-MM-DD).")
    owner_office: str | None = Field(default=None, description="The office that owns it.")


class Service(Strict):
    """A service people use, and what it runs on."""

    id: Slug
    name: str = Field(description="The service's name as its users know it.")
    url: str | None = Field(default=None, description="Its address, for a web service.")
    host: str | None = Field(default=None, description="Host name or address, for other services.")
    criticality: Criticality = Field(default=Criticality.medium, description="low, medium, high or vital.")
    runs_on: list[Slug] = Field(default_factory=list, description="Ids of the devices it runs on.")
    depends_on: list[Slug] = Field(default_factory=list, description="Ids of services it cannot work without.")
    owner_office: str | None = Field(default=None, description="The office responsible for it.")
    group: str | None = Field(default=None, description="Group on the public status page.")
    public: bool = Field(default=True, description="Shown on the public status page.")
    sla: float | None = Field(
        default=None, gt=0, le=100,
        description="Monthly uptime target in percent (99.5); default by criticality: vital 99.9, high 99.5, "
        "medium 99, low 95.",
    )


STALE_FACTOR = 3.0
"""A periodic sensor is stale after this many intervals without a reading."""
CHECK_IN_S = 3600.0
"""The check-in of a sensor that reports on change, when its config names none (zigbee2mqtt: often hourly)."""
CHECK_IN_FACTOR = 2.0
"""A sensor that reports on change is stale after this many check-ins without a message."""


class Sensor(Strict):
    """A sensor and where it hangs."""

    id: Slug
    name: str | None = Field(default=None, description="A longer name.")
    kind: str = Field(description="One of the sensor kinds: " + ", ".join(SENSOR_KINDS) + ".")
    room: Slug | None = Field(default=None, description="Id of its room (for a room sensor).")
    rack: Slug | None = Field(default=None, description="Id of its rack (for a rack sensor).")
    device: Slug | None = Field(default=None, description="Id of the device it belongs to (a UPS's own probe).")
    zone: str | None = Field(
        default=None, description="Where on the rack: " + ", ".join(RACK_ZONES) + "."
    )
    source: SensorSource | None = Field(default=None, description="Where its readings come from.")
    interval_s: Seconds | None = Field(
        default=None, gt=0, description="Expected reporting interval (seconds, or 5m, 1h...; default: the kind's)."
    )
    rules: RuleSet = Field(
        default_factory=RuleSet,
        description="This sensor's own rule settings, merged over its rack's, room's and the site's.",
    )
    reports: Literal["periodic", "on_change"] = Field(
        default="periodic",
        description=(
            "How the device reports: periodic (every interval_s; ESPHome, Tasmota, SNMP) or on_change "
            "(only when its value changes, plus a check-in; zigbee2mqtt water, contact and smoke sensors)."
        ),
    )
    check_in: Duration | None = Field(
        default=None,
        description=(
            "For reports: on_change, the longest time between two messages of a healthy device (its "
            "periodic check-in; default 1h). It is stale after twice this without a message."
        ),
    )

    @model_validator(mode="after")
    def _presence(self) -> Sensor:
        if self.check_in is None:
            return self
        if self.reports != "on_change":
            raise Refusal("config.check_in.periodic", sensor=repr(self.id))
        interval = self.interval_s or SENSOR_KINDS[self.kind].interval_s
        if self.check_in.total_seconds() < interval:
            raise Refusal("config.check_in.short", check_in=format_duration(self.check_in), sensor=repr(self.id),
                          interval=f"{interval:g}s")
        return self

    def silent_after_s(self, factor: float = STALE_FACTOR) -> float:
        """Seconds without a message after which this sensor is stale: the way its device reports.

        Periodic: ``factor`` intervals (3 by default). On change: twice its check-in (1h by default),
        never a few intervals of its kind, so a leak sensor that checks in hourly is not silent at 3 minutes.
        """
        if self.reports == "on_change":
            check_in = self.check_in.total_seconds() if self.check_in is not None else CHECK_IN_S
            return check_in * CHECK_IN_FACTOR
        return factor * (self.interval_s or SENSOR_KINDS[self.kind].interval_s)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, value: str) -> str:
        if value not in SENSOR_KINDS:
            key, params = _unknown("kind", value, SENSOR_KINDS)
            raise Refusal(key, **params)
        return value

    @field_validator("zone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str | None:
        if value is not None and value not in RACK_ZONES:
            key, params = _unknown("zone", value, RACK_ZONES)
            raise Refusal(key, **params)
        return value


def _unknown(what: str, value: str, choices: Any) -> tuple[str, dict[str, str]]:
    """A ``config.ref.<what>`` key and its parameters: the nearest choice, else every choice."""
    found = unknown(what, value, list(choices))
    if found.key.endswith(".close"):
        return found.key, dict(found.params)
    return f"config.ref.{what}.choose", {"value": repr(value), "known": ", ".join(choices)}
