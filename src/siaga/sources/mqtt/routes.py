"""Which sensor a message on a topic is about, and its value: the MQTT edge, pure and tested alone.

:class:`TopicTable` is built once from the config. ``decode(topic, payload)`` turns one message into
raw readings plus the problems found (a reason key and a detail each); it never raises.

Payload shapes (``format`` of a sensor or gateway; ``auto`` tells them apart):
- a plain number or word as text: ``24.3``, ``ON`` (ESPHome state topics);
- a JSON object: the value under ``field`` (dotted; default ``value``), the time under ``ts``
  (or ``timestamp``, ``time``, ``Time``, ``last_seen``): ``{"value": 24.3, "ts": 1752630000}``,
  zigbee2mqtt's ``{"water_leak": true, "battery": 97}``, Tasmota's
  ``{"Time": "...", "AM2301": {"Temperature": 24.1}, "TempUnit": "C"}``;
- a JSON array (a batch): ``[{"sensor": "temp-r1-top", "value": 24.3, "ts": ...}, ...]``.

A sensor on ``zigbee2mqtt/<device>`` (or of ``format: zigbee2mqtt``) also listens to its availability
topic ``zigbee2mqtt/<device>/availability``: ``online``/``offline`` or ``{"state": ...}`` becomes a
:class:`~siaga.sources.reading.Presence` value for the rules, not a reading.

A gateway's topic filter may hold ``+``/``#``; a sensor bound to a gateway is found by its ``key``:
the topic levels the wildcards matched, then the field path, joined by ``/`` (an ESPHome gateway
``node/sensor/+/state`` has keys like ``temp_top``; a Tasmota gateway without wildcards has keys like
``AM2301.Temperature``). Batch items name their sensor by id or by a bound key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field

from siaga import jsonsafe
from siaga.config.sources import Mqtt, MqttSensorSource, PayloadFormat
from siaga.sources.payloads import IDENTITY, PayloadError, Transform, coerce_value, dig, parse_ts, ts_of
from siaga.sources.reading import Presence, RawReading

MAX_PAYLOAD = 256 * 1024
SOURCE = "mqtt"

# zigbee2mqtt's field per sensor kind, and whether its meaning is the inverse of siaga's.
Z2M_FIELDS: dict[str, tuple[str, bool]] = {
    "leak": ("water_leak", False),
    "temperature": ("temperature", False),
    "humidity": ("humidity", False),
    "smoke": ("smoke", False),
    "door": ("contact", True),  # contact: true means the door is closed
    "voltage": ("voltage", False),
    "power": ("power", False),
    "current": ("current", False),
    "battery": ("battery", False),
    "link_quality": ("linkquality", False),
}

# zigbee2mqtt's base topic: a sensor on zigbee2mqtt/<device> also listens to zigbee2mqtt/<device>/availability
Z2M_BASE = "zigbee2mqtt/"

Problem = tuple[str, str]  # (reason, detail)
UNMAPPED = ("unknown_topic", "unmapped_key")  # problems of a message on a topic that no sensor maps


def unmapped_topic(problem: Problem) -> str | None:
    """The topic of an ``unknown_topic``/``unmapped_key`` problem (counted per topic); None for others."""
    reason, detail = problem
    if reason == "unknown_topic":
        return detail
    if reason == "unmapped_key":
        return detail.rsplit(_GATEWAY_SEP, 1)[0]
    return None


_GATEWAY_SEP = ": gateway "


@dataclass(frozen=True)
class Binding:
    """One sensor read from one topic (or gateway key)."""

    sensor: str
    field: str | None = None
    format: PayloadFormat = PayloadFormat.auto
    transform: Transform = IDENTITY


@dataclass
class Gateway:
    id: str
    filter: str
    format: PayloadFormat
    bindings: dict[str, Binding] = field(default_factory=dict)  # key -> binding
    allowed: frozenset[str] | None = None  # sensors its batch items may name; None: any

    def __post_init__(self) -> None:
        self._levels = self.filter.split("/")

    def match(self, topic: str) -> list[str] | None:
        """The topic levels matched by the wildcards, or None when the topic does not match."""
        levels = topic.split("/")
        wild: list[str] = []
        for i, pat in enumerate(self._levels):
            if pat == "#":
                wild.append("/".join(levels[i:]))
                return wild
            if i >= len(levels):
                return None
            if pat == "+":
                wild.append(levels[i])
            elif pat != levels[i]:
                return None
        return wild if len(levels) == len(self._levels) else None


class TopicTable:
    """The routes from topics to sensors."""

    def __init__(
        self,
        exact: dict[str, list[Binding]],
        gateways: list[Gateway],
        sensors: Iterable[str],
        availability: dict[str, list[str]] | None = None,
    ) -> None:
        self.exact = exact
        self.gateways = gateways
        self.sensors = frozenset(sensors)
        self.availability = availability or {}  # zigbee2mqtt's <device>/availability topic -> its sensors

    @classmethod
    def from_config(cls, mqtt: Mqtt, sensors: Iterable[object]) -> TopicTable:
        """Build the table from the ``mqtt:`` section and the sensors (pydantic models)."""
        prefix = mqtt.topic_prefix
        exact: dict[str, list[Binding]] = {}
        gateways = {
            g.id: Gateway(
                g.id,
                prefix + g.topic,
                g.format,
                allowed=frozenset(g.sensors) if g.sensors is not None else None,
            )
            for g in mqtt.gateways
        }
        ids: list[str] = []
        availability: dict[str, list[str]] = {}
        for sensor in sensors:
            sid = str(getattr(sensor, "id"))  # noqa: B009
            ids.append(sid)
            src = getattr(sensor, "source", None)
            if not isinstance(src, MqttSensorSource):
                continue
            fmt = src.format
            fld = src.field
            invert = src.invert
            if fmt is PayloadFormat.zigbee2mqtt and fld is None:
                fld, invert_default = Z2M_FIELDS.get(str(getattr(sensor, "kind", "")), (None, False))
                invert = invert or invert_default
            transform = Transform(src.scale, src.offset, src.fahrenheit, invert)
            binding = Binding(sid, fld, fmt, transform)
            if src.topic is not None:
                exact.setdefault(prefix + src.topic, []).append(binding)
                if fmt is PayloadFormat.zigbee2mqtt or src.topic.startswith(Z2M_BASE):
                    availability.setdefault(prefix + src.topic + "/availability", []).append(sid)
            elif src.gateway is not None and src.gateway in gateways:
                gateways[src.gateway].bindings[src.key or sid] = binding
        return cls(exact, list(gateways.values()), ids, availability)

    def subscriptions(self) -> list[str]:
        """Topic filters to subscribe to: every sensor topic and every gateway filter."""
        return sorted(set(self.exact) | set(self.availability) | {g.filter for g in self.gateways})

    # --- decoding ---------------------------------------------------------------------------------

    def decode(self, topic: str, payload: bytes) -> tuple[list[RawReading], list[Problem]]:
        """The readings in one message, and the problems found in it."""
        if len(payload) > MAX_PAYLOAD:
            return [], [("payload_too_large", f"{topic}: {len(payload)} bytes")]
        readings: list[RawReading] = []
        problems: list[Problem] = []
        present = self.availability.get(topic)
        if present is not None:
            try:
                state = availability_state(payload)
            except PayloadError as exc:
                return [], [(exc.reason, f"{topic}: {exc.detail}")]
            return [RawReading(sid, state, None, SOURCE) for sid in present], []
        bindings = self.exact.get(topic)
        if bindings is not None:
            try:
                data = _load(payload, bindings[0].format)
            except PayloadError as exc:
                return [], [(exc.reason, f"{topic}: {exc.detail}")]
            if isinstance(data, list):
                self._batch(data, None, readings, problems, topic)
            else:
                for b in bindings:
                    try:
                        readings.append(_single(data, b))
                    except PayloadError as exc:
                        problems.append((exc.reason, f"{topic}: {exc.detail}"))
            return readings, problems
        for gw in self.gateways:
            wild = gw.match(topic)
            if wild is None:
                continue
            try:
                data = _load(payload, gw.format)
            except PayloadError as exc:
                return [], [(exc.reason, f"{topic}: {exc.detail}")]
            if isinstance(data, list):
                self._batch(data, gw, readings, problems, topic)
            elif isinstance(data, dict):
                self._object(data, gw, wild, readings, problems, topic)
            else:
                key = "/".join(w for w in wild if w)
                gb = gw.bindings.get(key)
                if gb is None:
                    problems.append(("unmapped_key", f"{topic}{_GATEWAY_SEP}{gw.id} maps no sensor to {key!r}"))
                else:
                    readings.append(RawReading(gb.sensor, gb.transform.apply(coerce_value(data)), None, SOURCE))
            return readings, problems
        return [], [("unknown_topic", topic)]

    def _object(
        self,
        data: dict[str, object],
        gw: Gateway,
        wild: list[str],
        readings: list[RawReading],
        problems: list[Problem],
        topic: str,
    ) -> None:
        try:
            ts = ts_of(data)
        except PayloadError as exc:
            problems.append((exc.reason, f"{topic}: {exc.detail}"))
            return
        prefix = "/".join(w for w in wild if w)
        fahrenheit = str(data.get("TempUnit", "C")).upper() == "F"
        found = False
        known = False  # some sensor reads this topic (its payload may lack the field this time)
        for key, b in gw.bindings.items():
            if prefix:
                if not key.startswith(prefix + "/"):
                    continue
                path = key[len(prefix) + 1 :]
            else:
                path = key
            known = True
            try:
                raw = dig(data, path)
            except PayloadError:
                continue
            found = True
            value = b.transform.apply(coerce_value(raw))
            if fahrenheit and isinstance(value, float) and path.endswith(("Temperature", "DewPoint")):
                value = (value - 32.0) * 5.0 / 9.0
            readings.append(RawReading(b.sensor, value, ts, SOURCE))
        if not found and known:
            problems.append(("no_field", f"{topic}: none of the fields its sensors read"))
        elif not found:
            problems.append(("unmapped_key", f"{topic}{_GATEWAY_SEP}{gw.id} maps no sensor to this topic"))

    def _batch(
        self,
        items: list[object],
        gw: Gateway | None,
        readings: list[RawReading],
        problems: list[Problem],
        topic: str,
    ) -> None:
        # The hot path of batched ingest: plain numbers and epoch timestamps are read inline; anything
        # else takes the general helpers (coerce_value, parse_ts).
        bindings = gw.bindings if gw is not None else {}
        allowed = gw.allowed if gw is not None else None
        append = readings.append
        fromts = _fromtimestamp
        utc = dt.UTC
        for i, item in enumerate(items):
            if type(item) is not dict:
                problems.append(("bad_batch_item", f"{topic}[{i}]: not an object"))
                continue
            name = item.get("sensor")
            value = item.get("value", _NO_VALUE)
            if type(name) is not str or value is _NO_VALUE:
                problems.append(("bad_batch_item", f"{topic}[{i}]: needs 'sensor' and 'value'"))
                continue
            raw_ts = item.get("ts")
            if raw_ts is None:
                raw_ts = item.get("timestamp")
            tt = type(raw_ts)
            ts: dt.datetime | None
            if (tt is float or tt is int) and 0 <= raw_ts < 1e11:  # type: ignore[operator]
                ts = fromts(raw_ts, utc)  # type: ignore[arg-type]
            else:
                try:
                    ts = parse_ts(raw_ts)
                except PayloadError as exc:
                    problems.append((exc.reason, f"{topic}[{i}]: {exc.detail}"))
                    continue
            tv = type(value)
            v = float(value) if tv is float or tv is int else coerce_value(value)
            b = bindings.get(name)
            if b is not None:
                append(RawReading(b.sensor, b.transform.apply(v), ts, SOURCE))
                continue
            if allowed is not None and name not in allowed:
                problems.append(("not_allowed", f"{topic}[{i}]: gateway {gw.id if gw else ''} may not send {name!r}"))
                continue
            # unknown names go on: ingest rejects them as unknown_sensor and counts them
            append(RawReading(name, v, ts, SOURCE))


_NO_VALUE = object()
_fromtimestamp = dt.datetime.fromtimestamp


def _load(payload: bytes, fmt: PayloadFormat) -> object:
    try:
        text = payload.decode("utf-8")
    except UnicodeDecodeError:
        raise PayloadError("bad_payload", "not UTF-8 text") from None
    if fmt in (PayloadFormat.number, PayloadFormat.esphome):
        return text.strip()
    stripped = text.lstrip()
    if fmt is PayloadFormat.auto and (not stripped or stripped[0] not in "{[\""):
        return text.strip()  # a plain number or word
    try:
        data = jsonsafe.loads(text)  # nesting bounded: a deep payload is bad_json, not a RecursionError
    except ValueError:
        if fmt is PayloadFormat.auto and stripped[:1] == '"':
            return text.strip()
        raise PayloadError("bad_json", "not valid JSON") from None
    if fmt is PayloadFormat.batch and not isinstance(data, list):
        raise PayloadError("bad_payload", "a batch must be a JSON array")
    if fmt in (PayloadFormat.json, PayloadFormat.zigbee2mqtt, PayloadFormat.tasmota) and not isinstance(
        data, dict
    ):
        raise PayloadError("bad_payload", f"{fmt.value} payloads are JSON objects")
    return data


def _single(data: object, b: Binding) -> RawReading:
    if isinstance(data, dict):
        ts = ts_of(data)
        raw = dig(data, b.field or "value")
        fahrenheit = (
            b.format is PayloadFormat.tasmota
            and str(data.get("TempUnit", "C")).upper() == "F"
            and (b.field or "").endswith(("Temperature", "DewPoint"))
        )
        value = b.transform.apply(coerce_value(raw))
        if fahrenheit and isinstance(value, float):
            value = (value - 32.0) * 5.0 / 9.0
        return RawReading(b.sensor, value, ts, SOURCE)
    return RawReading(b.sensor, b.transform.apply(coerce_value(data)), None, SOURCE)




def availability_state(payload: bytes) -> Presence:
    """zigbee2mqtt's availability message: ``online``/``offline`` as text (legacy) or ``{"state": "offline"}``."""
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise PayloadError("bad_payload", "not UTF-8 text") from None
    word: object = text
    if text.startswith("{"):
        try:
            data = jsonsafe.loads(text)
        except ValueError:
            raise PayloadError("bad_json", "not valid JSON") from None
        word = data.get("state") if isinstance(data, dict) else None
    if isinstance(word, str) and word.strip('"').lower() in ("online", "offline"):
        return Presence(word.strip('"').lower())
    raise PayloadError("bad_availability", f"availability is online or offline, not {str(word)[:40]!r}")
