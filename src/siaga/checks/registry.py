"""Every check type, registered in one table: type name -> probe class."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from siaga.checks.base import Probe
from siaga.checks.database import DatabaseProbe
from siaga.checks.dns import DnsProbe
from siaga.checks.heartbeat import HeartbeatProbe
from siaga.checks.http import HttpProbe
from siaga.checks.tcp import TcpProbe
from siaga.checks.tls import TlsProbe
from siaga.config.checks import CheckBase

PROBES: dict[str, Callable[[Any], Probe]] = {
    "http": HttpProbe,
    "tcp": TcpProbe,
    "dns": DnsProbe,
    "tls": TlsProbe,
    "heartbeat": HeartbeatProbe,
    "database": DatabaseProbe,
}


def probe_for(check: CheckBase) -> Probe:
    return PROBES[check.type_name](check)
