"""A sink that keeps in memory what sources hand it: for tests, benchmarks and trying a source alone."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter
from collections.abc import Sequence

from siaga.sources.reading import IngestResult, RawReading


class MemorySink:
    """Implements :class:`IngestSink`, accepting everything (no validation, no storage)."""

    def __init__(self) -> None:
        self.readings: list[RawReading] = []
        self.received_at: list[dt.datetime | None] = []
        self.rejects: Counter[str] = Counter()
        self.topics: Counter[str] = Counter()
        self.details: list[str] = []
        self.event = threading.Event()
        self.lock = threading.Lock()

    def ingest(self, readings: Sequence[RawReading], *, received_at: dt.datetime | None = None) -> IngestResult:
        with self.lock:
            self.readings.extend(readings)
            self.received_at.extend([received_at] * len(readings))
        self.event.set()
        return IngestResult(accepted=len(readings))

    def reject(self, reason: str, detail: str = "", *, source: str = "", topic: str | None = None) -> None:
        with self.lock:
            self.rejects[reason] += 1
            self.details.append(detail)
            if topic is not None:
                self.topics[topic] += 1

    def values(self, sensor: str) -> list[object]:
        return [r.value for r in self.readings if r.sensor == sensor]
