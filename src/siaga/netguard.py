"""Loopback-only mode: refuse every outbound connection or datagram to an address off this machine.

The tests and ``siaga demo`` run the real example site, whose checks, SNMP pollers, notification
channels and backup targets name real hosts (bontangkota.go.id, a UPS at 192.0.2.10, a resolver at
10.10.1.53). In this mode none of that traffic leaves the machine: name lookups of anything but
loopback names fail, and connects or datagrams to a non-loopback address raise
``ConnectionRefusedError`` (so every caller treats it as an unreachable peer). Set
``SIAGA_LOOPBACK_ONLY=1`` to turn it on for a process and its children (the test suite does).
Child programs that are not Python (restic, ssh) are not covered: their targets come from the
test fixtures, which are loopback. ``SIAGA_LOOPBACK_ALSO`` (comma-separated networks, e.g. ``10.79.0.0/16``)
allows the networks a test made itself (the network namespaces of the peers' tests) as if they were loopback.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from typing import Any

ENV = "SIAGA_LOOPBACK_ONLY"
ALSO_ENV = "SIAGA_LOOPBACK_ALSO"
_LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}
_installed = False


def is_loopback_host(host: object) -> bool:
    """True for loopback names and addresses (and for the unspecified address, which means this host)."""
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    text = str(host).strip("[]").split("%", 1)[0].lower()
    if text in _LOOPBACK_NAMES or text == "":
        return True
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified or any(ip in net for net in _also(os.environ.get(ALSO_ENV, "")))


_also_cache: dict[str, tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]] = {}


def _also(text: str) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """The networks of ``SIAGA_LOOPBACK_ALSO`` (a test's own namespaces), parsed once per value."""
    if text not in _also_cache:
        nets = []
        for part in text.split(","):
            if part.strip():
                try:
                    nets.append(ipaddress.ip_network(part.strip(), strict=False))
                except ValueError:
                    continue
        _also_cache[text] = tuple(nets)
    return _also_cache[text]


def _check_address(address: Any) -> None:
    if isinstance(address, tuple) and address and not is_loopback_host(address[0]):
        raise ConnectionRefusedError(f"loopback-only mode ({ENV}): refused {address[0]}:{address[1]}")


def enabled() -> bool:
    return os.environ.get(ENV, "").strip().lower() in ("1", "true", "yes")


def install(force: bool = False) -> bool:
    """Guard this process when loopback-only mode is on (or ``force``); idempotent. True when guarded."""
    global _installed
    if _installed:
        return True
    if not (force or enabled()):
        return False
    os.environ[ENV] = "1"  # children inherit it
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        if not is_loopback_host(host):
            raise socket.gaierror(socket.EAI_NONAME, f"loopback-only mode ({ENV}): no lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    def connect(self: socket.socket, address: Any) -> None:
        _check_address(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        _check_address(address)
        return real_connect_ex(self, address)

    def sendto(self: socket.socket, data: Any, *args: Any) -> int:
        _check_address(args[-1] if args else None)
        return real_sendto(self, data, *args)

    socket.getaddrinfo = getaddrinfo
    setattr(socket.socket, "connect", connect)  # noqa: B010 - patching a method on purpose
    setattr(socket.socket, "connect_ex", connect_ex)  # noqa: B010
    setattr(socket.socket, "sendto", sendto)  # noqa: B010
    _installed = True
    return True
