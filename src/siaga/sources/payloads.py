"""Reading values and timestamps out of what devices send (pure; shared by the MQTT and HTTP sources).

Devices write values as numbers, booleans, numbers in text, or words ("ON", "wet", "alarm"). Numbers
(and numbers in text) become floats; booleans stay booleans and the on/off words of
:data:`siaga.kinds.BINARY_WORDS` become booleans, so that the ingest path, which knows the sensor's
kind, takes them for an on/off kind and refuses them for a numeric one (``not_a_number``: "wet" is
never 1.0 °C). Anything else passes through unchanged and is refused there with its reason and
counted; nothing here raises on a device's input except :class:`PayloadError`.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

from siaga.errors import SiagaError
from siaga.kinds import BINARY_WORDS

TS_KEYS = ("ts", "timestamp", "time", "Time", "last_seen")


class PayloadError(SiagaError, ValueError):
    """A payload (or an item of it) that cannot be read; ``reason`` is a short stable key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail


def coerce_value(raw: object) -> object:
    """A float for a number, a bool for true/false or an on/off word; anything else unchanged.

    Which of them a sensor takes is the ingest path's decision (it knows the kind).
    """
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, int | float):
        return float(raw)
    if isinstance(raw, str):
        text = raw.strip()
        try:
            return float(text)
        except ValueError:
            pass
        word = BINARY_WORDS.get(text.lower())
        if word is not None:
            return word
    return raw


def parse_ts(raw: object) -> dt.datetime | None:
    """An aware UTC datetime from epoch seconds (or milliseconds) or ISO 8601 text.

    A text timestamp without a zone (Tasmota's ``Time`` is the device's local time) says nothing
    reliable: it is ignored and the time of receipt is used. Unreadable ones raise ``bad_timestamp``.
    """
    if raw is None:
        return None
    if isinstance(raw, bool):
        raise PayloadError("bad_timestamp", f"not a timestamp: {raw!r}")
    if isinstance(raw, int | float):
        value = float(raw)
        if not math.isfinite(value) or value < 0:
            raise PayloadError("bad_timestamp", f"not a timestamp: {raw!r}")
        if value > 1e11:  # milliseconds
            value /= 1000.0
        try:
            return dt.datetime.fromtimestamp(value, dt.UTC)
        except (OverflowError, OSError, ValueError):
            raise PayloadError("bad_timestamp", f"not a timestamp: {raw!r}") from None
    if isinstance(raw, str):
        text = raw.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            parsed = dt.datetime.fromisoformat(text)
        except ValueError:
            try:
                return parse_ts(float(text))
            except ValueError:
                raise PayloadError("bad_timestamp", f"not a timestamp: {raw[:40]!r}") from None
        if parsed.tzinfo is None:
            return None
        return parsed.astimezone(dt.UTC)
    raise PayloadError("bad_timestamp", f"not a timestamp: {type(raw).__name__}")


def ts_of(obj: dict[str, object]) -> dt.datetime | None:
    """The timestamp of a JSON object, under the first of its usual keys that it has."""
    for key in TS_KEYS:
        if key in obj:
            return parse_ts(obj[key])
    return None


_MISSING = object()


def dig(obj: object, path: str) -> object:
    """The value at a dotted ``path`` of nested JSON objects; raises ``no_field`` when absent."""
    cur = obj
    for part in path.split("."):
        cur = cur.get(part, _MISSING) if isinstance(cur, dict) else _MISSING
        if cur is _MISSING:
            raise PayloadError("no_field", f"no field {path!r} in the payload")
    return cur


@dataclass(frozen=True)
class Transform:
    """How a device's number becomes siaga's: scale, offset, °F to °C, inverted binary."""

    scale: float = 1.0
    offset: float = 0.0
    fahrenheit: bool = False
    invert: bool = False

    @property
    def identity(self) -> bool:
        return self.scale == 1.0 and self.offset == 0.0 and not self.fahrenheit and not self.invert

    def apply(self, value: object) -> object:
        if isinstance(value, bool):
            return not value if self.invert else value
        if self.identity or not isinstance(value, float):
            return value
        v = value * self.scale + self.offset
        if self.fahrenheit:
            v = (v - 32.0) * 5.0 / 9.0
        if self.invert and v in (0.0, 1.0):
            v = 1.0 - v
        return v


IDENTITY = Transform()
