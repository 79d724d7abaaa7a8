"""The one ingest path every source feeds: validate, count, run the rules, buffer for the store.

``Ingest`` implements :class:`~siaga.sources.reading.IngestSink`. For each :class:`RawReading`:

- refused with a reason (counted per reason and per source, never raising, never refusing the
  batch-mates of a bad item): ``unknown_sensor``, ``not_a_number`` (a string, a bool for a numeric
  kind, anything else that is not a number), ``not_binary`` (an on/off kind given something other than
  0/1/true/false), ``non_finite`` (NaN, ±inf), ``out_of_range`` (outside the kind's physical range),
  ``bad_timestamp`` (a naive or non-datetime ts), ``in_future`` (more than ``max_future`` ahead of
  the receive time), ``too_old`` (more than ``max_age`` behind);
- accepted: handed at once (same thread, same call) to the rules, whose conditions go to the alert
  sink, and appended to the write buffer that :class:`siaga.readings.writer.ReadingWriter` drains.

A kind's type is enforced here, where the sensor's kind is known: a temperature, humidity, voltage,
power... reading must be a finite number (a bool or a word, "wet", "ON", ``true``, is ``not_a_number``);
an on/off kind takes true/false or 0/1 (the sources turn device words into bools,
:data:`siaga.kinds.BINARY_WORDS`). Every refusal is logged, at most once a minute per reason and
sensor (with the sensor, source and detail), and counted. A sensor whose readings are refused
``readings.faulty_after`` times in a row raises a ``sensor.faulty`` warning with the reason
(:class:`siaga.rules.faulty.FaultWatch`), resolved after as many good readings in a row.

Thread-safe: a source may call ``ingest`` from any thread.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import threading
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from siaga.config.models import SiteConfig
from siaga.kinds import SENSOR_KINDS, ValueType
from siaga.rules.faulty import FaultWatch
from siaga.sources.ratelimit import RateLimitedLog
from siaga.sources.reading import IngestResult, Presence, RawReading, Rejection
from siaga.store.types import utcnow
from siaga.vocab import AlertSink, Condition

log = logging.getLogger(__name__)

ACCEPTED = "accepted"
REASONS = (
    "unknown_sensor",
    "not_a_number",
    "not_binary",
    "non_finite",
    "out_of_range",
    "bad_timestamp",
    "in_future",
    "too_old",
)
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
MAX_TOPICS = 1000  # unmapped topics counted one by one; more are counted together under OTHER_TOPICS
OTHER_TOPICS = "(other topics)"

Row = tuple[str, int, float]  # sensor, ts in ms since the epoch, value


class Rules(Protocol):
    """What ingest runs each accepted reading through: one :class:`siaga.rules.engine.RulesEngine` (one process), or the
    shards this process holds (:class:`siaga.cluster.rule_shards.ShardedRules`, several processes)."""

    def observe(self, sensor: str, value: float, ts: dt.datetime,
                received_at: dt.datetime | None = None) -> list[Condition]: ...

    def presence(self, sensor: str, online: bool, at: dt.datetime) -> list[Condition]: ...

    def tick(self, now: dt.datetime) -> list[Condition]: ...

    def handoff(self) -> None:
        """The end of a batch of readings: send on what it left for other processes (one process: nothing)."""
        ...


def to_ms(ts: dt.datetime) -> int:
    # exact (whole microseconds are exact in a double for ±285 years around 1970) and 3x faster than
    # timedelta arithmetic: this runs once per reading on the ingest hot path
    if ts.tzinfo is None:
        return int((ts - EPOCH) // dt.timedelta(milliseconds=1))  # raises, as it always did
    return round(ts.timestamp() * 1_000_000) // 1000


def from_ms(ms: int) -> dt.datetime:
    return EPOCH + dt.timedelta(milliseconds=ms)


@dataclass(frozen=True)
class _SensorInfo:
    binary: bool
    minimum: float
    maximum: float


@dataclass(frozen=True)
class RecentRejection:
    at: dt.datetime
    source: str
    sensor: str | None
    reason: str
    detail: str


class Ingest:
    """Validates readings, counts refusals, runs the rules, and buffers accepted readings for the store."""

    def __init__(
        self,
        config: SiteConfig,
        *,
        rules: Rules | None = None,
        alerts: AlertSink | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        max_future_s: float | None = None,
        max_age_s: float | None = None,
        max_buffer: int = 2_000_000,
    ) -> None:
        self.config = config
        self.rules = rules
        self.alerts = alerts
        self.clock = clock
        self.max_future = dt.timedelta(
            seconds=config.readings.max_future if max_future_s is None else max_future_s
        )
        self.max_age = dt.timedelta(seconds=config.readings.max_age if max_age_s is None else max_age_s)
        self.max_buffer = max_buffer
        self._sensors: dict[str, _SensorInfo] = {}
        for s in config.sensors:
            k = SENSOR_KINDS[s.kind]
            self._sensors[s.id] = _SensorInfo(k.value_type is ValueType.BINARY, k.minimum, k.maximum)
        self._lock = threading.RLock()
        self._buffer: list[Row] = []
        self._seq = 0  # readings ever put in the buffer: the write mark (see IngestResult.mark)
        self.counts: Counter[str] = Counter()
        self.by_source: Counter[tuple[str, str]] = Counter()
        self.recent_rejections: deque[RecentRejection] = deque(maxlen=50)
        self.rule_errors = 0
        self.dropped = 0  # accepted but dropped because the store fell too far behind
        self.last: dict[str, tuple[dt.datetime, float, dt.datetime]] = {}  # sensor -> ts, value, received
        self._listeners: list[Callable[[Sequence[Row]], None]] = []
        self.faults = FaultWatch(config.readings.faulty_after)
        self.unmapped: Counter[str] = Counter()  # messages per topic that no sensor maps, since start
        self._rlog = RateLimitedLog(log)

    # IngestSink -------------------------------------------------------------------------------------

    def ingest(self, readings: Sequence[RawReading], *, received_at: dt.datetime | None = None) -> IngestResult:
        now = received_at or self.clock()
        earliest = now - self.max_age
        latest = now + self.max_future
        accepted: list[Row] = []
        rejected: list[Rejection] = []
        conditions: list[Condition] = []
        sensors = self._sensors
        with self._lock:
            for i, r in enumerate(readings):
                info = sensors.get(r.sensor)
                if info is None:
                    rejected.append(Rejection(i, r.sensor, "unknown_sensor", f"no sensor {r.sensor!r} in siaga.yaml"))
                    continue
                v = r.value
                if isinstance(v, Presence):  # the device's word on its presence: to the rules, not stored
                    if self.rules is not None:
                        conditions += self.rules.presence(r.sensor, v is Presence.online, now)
                    continue
                if isinstance(v, bool):
                    if not info.binary:
                        rejected.append(Rejection(i, r.sensor, "not_a_number", "true/false for a numeric sensor"))
                        continue
                    value = 1.0 if v else 0.0
                elif isinstance(v, int | float):
                    value = float(v)
                    if not math.isfinite(value):
                        rejected.append(Rejection(i, r.sensor, "non_finite", repr(v)))
                        continue
                    if info.binary:
                        if value not in (0.0, 1.0):
                            rejected.append(Rejection(i, r.sensor, "not_binary", f"{v!r} is neither 0 nor 1"))
                            continue
                    elif not (info.minimum <= value <= info.maximum):
                        rejected.append(Rejection(
                            i, r.sensor, "out_of_range", f"{v!r} outside {info.minimum:g}..{info.maximum:g}"
                        ))
                        continue
                else:
                    reason = "not_binary" if info.binary else "not_a_number"
                    rejected.append(Rejection(i, r.sensor, reason, f"{type(v).__name__} {str(v)[:40]!r}"))
                    continue
                ts = r.ts
                if ts is None:
                    ts = now
                elif not isinstance(ts, dt.datetime) or ts.tzinfo is None or ts.utcoffset() is None:
                    rejected.append(Rejection(i, r.sensor, "bad_timestamp", "a timestamp needs its zone"))
                    continue
                elif ts > latest:
                    rejected.append(
                        Rejection(i, r.sensor, "in_future", f"{ts.isoformat()} is ahead of {now.isoformat()}")
                    )
                    continue
                elif ts < earliest:
                    rejected.append(Rejection(i, r.sensor, "too_old", f"{ts.isoformat()} is older than the limit"))
                    continue
                accepted.append((r.sensor, to_ms(ts), value))
                if self.rules is not None:
                    try:
                        conditions += self.rules.observe(r.sensor, value, ts, now)
                    except Exception:  # a bug in a rule must not lose the reading nor stop the others
                        self.rule_errors += 1
                        log.exception("ingest: rules failed on %s", r.sensor)
                prev = self.last.get(r.sensor)
                if prev is None or ts >= prev[0]:
                    self.last[r.sensor] = (ts, value, now)
            if self.rules is not None:
                self.rules.handoff()
            if accepted:
                self.counts[ACCEPTED] += len(accepted)
                self.by_source[(readings[0].source if readings else "", ACCEPTED)] += len(accepted)
                if len(self._buffer) + len(accepted) > self.max_buffer:
                    self.dropped += len(accepted)
                    log.error("ingest: the store is too far behind; %d readings dropped", len(accepted))
                else:
                    self._buffer.extend(accepted)
                    self._seq += len(accepted)
            faults = self.faults
            for rej in rejected:
                self.counts[rej.reason] += 1
                source = readings[rej.index].source
                self.by_source[(source, rej.reason)] += 1
                self.recent_rejections.append(RecentRejection(now, source, rej.sensor, rej.reason, rej.detail))
                if rej.sensor is not None and rej.reason != "unknown_sensor":
                    fault = faults.refused(rej.sensor, rej.reason, rej.detail, now)
                    if fault is not None:
                        conditions.append(fault)
            if accepted and faults.watching:
                for row in accepted:
                    fault = faults.accepted(row[0], now)
                    if fault is not None:
                        conditions.append(fault)
            if conditions and self.alerts is not None:
                for c in conditions:
                    self.alerts.submit(c)
            for listener in self._listeners:
                if accepted:
                    listener(accepted)
            mark = self._seq if accepted else 0
        for rej in rejected:
            self._log_refusal(readings[rej.index].source, rej.sensor, rej.reason, rej.detail)
        return IngestResult(len(accepted), tuple(rejected), mark)

    def _log_refusal(self, source: str, sensor: str | None, reason: str, detail: str) -> None:
        # one line a minute per reason and known sensor (per reason alone for unknown ones: a flood of
        # made-up ids must not become a flood of log lines)
        known = sensor is not None and sensor in self._sensors
        key = f"{reason} {sensor}" if known else reason
        who = f"sensor {sensor}" if sensor is not None else "a payload"
        self._rlog.warning(key, f"refused a reading of {who} from {source or 'a source'}: {reason}: {detail}",
                           reason=reason)

    def reject(self, reason: str, detail: str = "", *, source: str = "", topic: str | None = None) -> None:
        """Count a payload a source could not read (its own reason). The source logs it (rate-limited).

        ``topic``: the payload came on a topic that no sensor maps; counted per topic as well.
        """
        with self._lock:
            self.counts[reason] += 1
            self.by_source[(source, reason)] += 1
            self.recent_rejections.append(RecentRejection(self.clock(), source, None, reason, detail))
            if topic is not None:
                topic = topic[:255]
                if topic not in self.unmapped and len(self.unmapped) >= MAX_TOPICS:
                    topic = OTHER_TOPICS
                self.unmapped[topic] += 1

    # For the writer and the runtime -------------------------------------------------------------------

    def drain(self) -> list[Row]:
        """Take everything buffered so far."""
        return self.drain_marked()[0]

    def drain_marked(self) -> tuple[list[Row], int]:
        """Take everything buffered so far, and the write mark it reaches (the writer calls this)."""
        with self._lock:
            rows, self._buffer = self._buffer, []
            return rows, self._seq

    @property
    def buffered(self) -> int:
        return len(self._buffer)

    def counters(self) -> dict[str, int]:
        """Readings accepted and refused per reason since start."""
        with self._lock:
            return dict(self.counts)

    def unmapped_counts(self) -> dict[str, int]:
        """Messages per topic that no sensor maps, since start."""
        with self._lock:
            return dict(self.unmapped)

    def add_listener(self, listener: Callable[[Sequence[Row]], None]) -> None:
        """Call ``listener(rows)`` with each batch of accepted readings (the web's live updates)."""
        self._listeners.append(listener)

    def remove_listener(self, listener: Callable[[Sequence[Row]], None]) -> None:
        self._listeners.remove(listener)

    def apply_rules(self, step: Callable[[], list[Condition]]) -> list[Condition]:
        """Run ``step`` (a change to the rules' state: readings handed over by another process, a shard
        loaded) under the ingest lock; its conditions go to the alert sink."""
        with self._lock:
            conditions = step()
            if self.alerts is not None:
                for c in conditions:
                    self.alerts.submit(c)
        return conditions

    def tick(self, now: dt.datetime | None = None) -> list[Condition]:
        """Let time pass in the rules (holds, stale sensors); conditions go to the alert sink."""
        now = now or self.clock()
        with self._lock:
            conditions = self.rules.tick(now) if self.rules is not None else []
            if self.alerts is not None:
                for c in conditions:
                    self.alerts.submit(c)
        return conditions
