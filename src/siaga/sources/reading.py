"""The contract between sources and the one shared ingest path (pure data).

Every adapter (MQTT, HTTP push, SNMP, simulator) parses at its edge into :class:`RawReading` values and
calls ``ingest`` of an :class:`IngestSink`. The ingest path (``siaga.sources.ingest``) validates against the
sensor kinds table, counts rejections per reason, stores in batches and runs the rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class Presence(StrEnum):
    """A device's own word on whether it is there (zigbee2mqtt's availability topic), carried as the value
    of a :class:`RawReading`: not a reading of its kind, never stored; the rules judge presence by it."""

    online = "online"
    offline = "offline"


@dataclass(frozen=True)
class RawReading:
    """A reading as a source received it, before validation."""

    sensor: str  # the sensor id in siaga.yaml
    value: object  # a number, a bool, a Presence, or whatever the payload held (validated by ingest)
    ts: dt.datetime | None = None  # when measured (aware); None: when received
    source: str = ""  # "mqtt", "http", "snmp", "simulator"


@dataclass(frozen=True)
class Rejection:
    """One reading refused, and why (the reason is a short stable key, counted per key)."""

    index: int  # position in the batch handed to ingest
    sensor: str | None
    reason: str  # e.g. "unknown_sensor", "not_a_number", "out_of_range", "non_finite", "too_old", "in_future"
    detail: str = ""


@dataclass(frozen=True)
class IngestResult:
    accepted: int
    rejected: tuple[Rejection, ...] = field(default_factory=tuple)
    mark: int = 0
    """Where this call's readings end in the write buffer: they are safe (committed or spooled) once the
    readings writer's ``durable_mark`` reaches it (``ReadingWriter.when_durable(mark, callback)``); 0
    when nothing of this call waits for the store."""


class IngestSink(Protocol):
    """The one shared path every source feeds."""

    def ingest(self, readings: Sequence[RawReading], *, received_at: dt.datetime | None = None) -> IngestResult: ...

    def reject(self, reason: str, detail: str = "", *, source: str = "", topic: str | None = None) -> None:
        """Count a payload the source could not even parse (malformed JSON, unknown topic...); ``topic``
        when it came on a topic that no sensor maps (counted per topic too)."""
        ...
