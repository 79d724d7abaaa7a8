"""TCP checks: a connection to a port opens.

The probe connects a bare non-blocking socket (``loop.sock_connect``) and closes it: no transport, protocol or
streams. ``asyncio.open_connection`` left seven objects in reference cycles per check (the streams, their
protocol and transport, closed), freed only by the garbage collector: at a province's 20,000 checks a minute
that was the bulk of each process's young collections (0.1-0.14 s of CPU with every thread stopped, the tail
of its leak-to-page time). A bare socket leaves none, and connects in about two thirds of the time
(bench/tcp_probe.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import time
from typing import Any

from siaga.checks.base import CheckFailed, Observation, ProbeContext, connect_failure
from siaga.config.checks import TcpCheck
from siaga.i18n.messages import Message


async def addresses(host: str, port: int) -> list[tuple[int, tuple[Any, ...]]]:
    """Where ``host``:``port`` is, in the resolver's order, as (address family, socket address): an IP address as
    it is (no lookup), a name through the loop's resolver (:class:`socket.gaierror` when it has none; an IPv6
    address keeps its flow and scope)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        return [(family, tuple(addr)) for family, _type, _proto, _name, addr in infos]
    return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, (host, port))]


async def connect(host: str, port: int) -> None:
    """Open a TCP connection to ``host``:``port`` and close it; each address in turn until one answers (the
    last one's :class:`OSError` when none does)."""
    loop = asyncio.get_running_loop()
    error: OSError | None = None
    for family, address in await addresses(host, port):
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setblocking(False)
            await loop.sock_connect(sock, address)
            return
        except OSError as exc:
            error = exc
        finally:
            sock.close()
    if error is None:
        raise OSError(f"no address for {host}")
    try:
        raise error
    finally:
        del error  # the traceback holds this frame: no cycle for the collector when the frame lets it go


class TcpProbe:
    def __init__(self, check: TcpCheck) -> None:
        self.check = check

    async def probe(self, ctx: ProbeContext) -> Observation:
        host, port = ctx.redirects.get(self.check.host, (self.check.host, self.check.port))
        start = time.perf_counter()
        try:
            await connect(host, port)
        except OSError as exc:
            raise CheckFailed(connect_failure(exc, f"{self.check.host}:{self.check.port}")) from None
        latency = round((time.perf_counter() - start) * 1000, 2)
        return Observation(latency_ms=latency,
                           said=Message("check.ok.tcp", {"port": self.check.port, "latency_ms": round(latency)}))
