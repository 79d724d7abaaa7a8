"""SNMP polling (pysnmp's asyncio API): a GET per device every ``interval_s``, values to ingest.

An unanswered poll (timeout, refused, unknown user) hands nothing to ingest: the sensors go stale
and the rules raise their stale alert; a silent UPS is never read as "0 % charge". Each failure is
counted through ``IngestSink.reject`` (``snmp_timeout``, ``snmp_error``, ``snmp_no_such_object``)
and logged at most once a minute per device.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pysnmp.hlapi.v3arch.asyncio import (
    USM_AUTH_HMAC96_MD5,
    USM_AUTH_HMAC96_SHA,
    USM_AUTH_HMAC128_SHA224,
    USM_AUTH_HMAC192_SHA256,
    USM_AUTH_HMAC256_SHA384,
    USM_AUTH_HMAC384_SHA512,
    USM_PRIV_CBC56_DES,
    USM_PRIV_CBC168_3DES,
    USM_PRIV_CFB128_AES,
    USM_PRIV_CFB192_AES,
    USM_PRIV_CFB256_AES,
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    get_cmd,
)
from pysnmp.proto.rfc1905 import EndOfMibView, NoSuchInstance, NoSuchObject

from siaga.config.sources import Snmp, SnmpDevice, SnmpSensorSource
from siaga.snmp_profiles import PROFILES
from siaga.sources.ratelimit import RateLimitedLog
from siaga.sources.reading import IngestSink, RawReading

log = logging.getLogger("siaga.sources.snmp")
SOURCE = "snmp"
MAX_VARBINDS = 20

AUTH = {
    "md5": USM_AUTH_HMAC96_MD5, "sha": USM_AUTH_HMAC96_SHA, "sha224": USM_AUTH_HMAC128_SHA224,
    "sha256": USM_AUTH_HMAC192_SHA256, "sha384": USM_AUTH_HMAC256_SHA384, "sha512": USM_AUTH_HMAC384_SHA512,
}
PRIV = {
    "des": USM_PRIV_CBC56_DES, "3des": USM_PRIV_CBC168_3DES, "aes": USM_PRIV_CFB128_AES,
    "aes192": USM_PRIV_CFB192_AES, "aes256": USM_PRIV_CFB256_AES,
}


@dataclass(frozen=True)
class Point:
    """One sensor read from one OID of a device."""

    sensor: str
    oid: str
    convert: Callable[[float], float] = float
    scale: float = 1.0
    offset: float = 0.0

    def value(self, raw: float) -> float:
        return self.convert(raw) * self.scale + self.offset


def points_by_device(snmp: Snmp, sensors: Iterable[Any]) -> dict[str, list[Point]]:
    """The points to poll per device id, from the sensors' ``source: {type: snmp}`` blocks."""
    devices = {d.id: d for d in snmp.devices}
    out: dict[str, list[Point]] = {d.id: [] for d in snmp.devices}
    for s in sensors:
        src = getattr(s, "source", None)
        if not isinstance(src, SnmpSensorSource) or src.device not in devices:
            continue
        if src.oid is not None:
            out[src.device].append(Point(s.id, src.oid.lstrip("."), float, src.scale, src.offset))
            continue
        profile = PROFILES.get(src.profile or devices[src.device].profile or "", {})
        metric = profile.get(src.metric or "")
        if metric is not None:
            out[src.device].append(Point(s.id, metric.oid, metric.convert, src.scale, src.offset))
    return out


def auth_data(device: SnmpDevice, base_dir: Path | None) -> CommunityData | UsmUserData:
    """Credentials of a device, read from their files (SecretError when one cannot be read)."""
    if device.version == "v2c":
        community = device.read_secret("community", base_dir)
        return CommunityData("public" if community is None else community, mpModel=1)
    v3 = device.v3
    assert v3 is not None
    kwargs: dict[str, Any] = {}
    auth = v3.read_secret("auth_password", base_dir)
    if v3.auth_protocol is not None and auth is not None:
        kwargs["authKey"] = auth
        kwargs["authProtocol"] = AUTH[v3.auth_protocol]
    priv = v3.read_secret("priv_password", base_dir)
    if v3.priv_protocol is not None and priv is not None:
        kwargs["privKey"] = priv
        kwargs["privProtocol"] = PRIV[v3.priv_protocol]
    return UsmUserData(v3.user, **kwargs)


def _number(value: Any) -> object:
    """An SNMP value as a number (integers, gauges, counters, timeticks, numeric strings)."""
    try:
        return float(int(value))
    except (TypeError, ValueError):
        pass
    text = value.prettyPrint() if hasattr(value, "prettyPrint") else str(value)
    try:
        return float(text)
    except ValueError:
        return text  # ingest refuses it as not_a_number


class DevicePoller:
    """Polls one device's points and hands the values to ingest."""

    def __init__(
        self,
        device: SnmpDevice,
        points: Sequence[Point],
        sink: IngestSink,
        *,
        engine: SnmpEngine | None = None,
        base_dir: Path | None = None,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.device = device
        self.points = list(points)
        self.sink = sink
        self.engine = engine or SnmpEngine()
        self.auth = auth_data(device, base_dir)
        self.context = ContextData(contextName=device.v3.context) if device.v3 else ContextData()
        self.clock = clock
        self.polls = 0
        self.failures = 0
        self._rlog = RateLimitedLog(log)

    def _fail(self, reason: str, detail: str) -> None:
        self.failures += 1
        where = f"{self.device.id} ({self.device.host}:{self.device.port})"
        self.sink.reject(reason, f"{where}: {detail}", source=SOURCE)
        self._rlog.warning(f"{reason}:{self.device.id}", f"{where}: {detail}; its sensors get no reading")

    async def poll_once(self) -> int:
        """One poll of every point; the number of readings handed to ingest."""
        self.polls += 1
        dev = self.device
        target = await UdpTransportTarget.create((dev.host, dev.port), timeout=dev.timeout_s, retries=dev.retries)
        readings: list[RawReading] = []
        for i in range(0, len(self.points), MAX_VARBINDS):
            chunk = self.points[i : i + MAX_VARBINDS]
            err_ind, err_status, err_index, var_binds = await get_cmd(
                self.engine, self.auth, target, self.context,
                *[ObjectType(ObjectIdentity(p.oid)) for p in chunk],
                lookupMib=False,
            )
            if err_ind:
                reason = "snmp_timeout" if "timeout" in str(err_ind).lower() else "snmp_error"
                self._fail(reason, str(err_ind))
                return 0  # nothing from an unanswered poll: the sensors go stale
            if err_status:
                self._fail("snmp_error", f"{err_status.prettyPrint()} at varbind {int(err_index)}")
                continue
            now = self.clock()
            for point, (_oid, value) in zip(chunk, var_binds, strict=False):
                if isinstance(value, NoSuchObject | NoSuchInstance | EndOfMibView):
                    self._fail("snmp_no_such_object", f"{point.oid} (sensor {point.sensor}): {value.prettyPrint()}")
                    continue
                raw = _number(value)
                value = point.value(raw) if isinstance(raw, float) else raw
                readings.append(RawReading(point.sensor, value, now, SOURCE))
        if readings:
            self.sink.ingest(readings)
        return len(readings)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            started = time.monotonic()
            try:
                await self.poll_once()
            except Exception as exc:  # a poll must never stop the poller
                self._fail("snmp_error", f"{type(exc).__name__}: {exc}")
            wait = max(0.0, self.device.interval_s - (time.monotonic() - started))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), wait)
