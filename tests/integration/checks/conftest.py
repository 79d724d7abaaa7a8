"""Real peers on loopback for the checks: HTTP servers, a TLS server, a DNS server, a TCP port."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
import trustme
from aiohttp import web

from siaga.checks.base import ProbeContext


def find_free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class HttpPeer:
    base: str
    runner: web.AppRunner
    port: int

    def url(self, path: str) -> str:
        return f"{self.base}{path}"


def _app() -> web.Application:
    async def healthy(_r: web.Request) -> web.Response:
        return web.Response(text="<h1>Selamat datang di Portal Kota Bontang</h1>", content_type="text/html")

    async def down(_r: web.Request) -> web.Response:
        return web.Response(status=503, text="Service Unavailable")

    async def slow(_r: web.Request) -> web.Response:
        await asyncio.sleep(1.0)
        return web.Response(text="Bontang, slowly")

    async def wrong(_r: web.Request) -> web.Response:
        return web.Response(text="<h1>Database Error</h1> try again later")

    async def json_ok(_r: web.Request) -> web.Response:
        return web.json_response({"status": "ok", "db": {"latency_ms": 3}})

    async def json_degraded(_r: web.Request) -> web.Response:
        return web.json_response({"status": "degraded"})

    async def json_broken(_r: web.Request) -> web.Response:
        return web.Response(text='{"status": "ok", ', content_type="application/json")

    async def moved(_r: web.Request) -> web.Response:
        raise web.HTTPFound("/healthy")

    async def echo_host(r: web.Request) -> web.Response:
        return web.Response(text=json.dumps({"host": r.headers.get("Host"), "auth": r.headers.get("Authorization")}))

    app = web.Application()
    app.add_routes([
        web.get("/healthy", healthy), web.get("/down", down), web.get("/slow", slow), web.get("/wrong", wrong),
        web.get("/json-ok", json_ok), web.get("/json-degraded", json_degraded),
        web.get("/json-broken", json_broken), web.get("/moved", moved), web.get("/echo", echo_host),
    ])
    return app


async def start_http(port: int | None = None, ssl_context: ssl.SSLContext | None = None) -> HttpPeer:
    port = port or find_free_port()
    runner = web.AppRunner(_app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, ssl_context=ssl_context)
    await site.start()
    scheme = "https" if ssl_context else "http"
    return HttpPeer(f"{scheme}://127.0.0.1:{port}", runner, port)


@pytest.fixture
async def http_peer() -> AsyncIterator[HttpPeer]:
    peer = await start_http()
    try:
        yield peer
    finally:
        await peer.runner.cleanup()


@pytest.fixture
async def probe_ctx(tmp_path: Path) -> AsyncIterator[ProbeContext]:
    async with aiohttp.ClientSession() as session:
        yield ProbeContext(session=session, base_dir=tmp_path)


@dataclass
class TlsPeer:
    port: int
    ca_file: Path
    not_after: dt.datetime


@pytest.fixture
async def tls_peer_3_days(tmp_path: Path) -> AsyncIterator[TlsPeer]:
    """A TLS server whose certificate (made by the test's own CA) expires in 3 days."""
    ca = trustme.CA()
    not_after = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(microsecond=0)
    cert = ca.issue_cert("localhost", "127.0.0.1", not_after=not_after)
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    cert.configure_cert(server_ctx)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    peer = await start_http(ssl_context=server_ctx)
    try:
        yield TlsPeer(peer.port, ca_file, not_after)
    finally:
        await peer.runner.cleanup()


@dataclass
class DnsPeer:
    port: int


@pytest.fixture
def dns_peer() -> Iterator[DnsPeer]:
    """A real DNS server (dnslib) on a free loopback UDP port answering for bontang.test."""
    from dnslib import MX, QTYPE, RR, A, DNSRecord
    from dnslib.server import BaseResolver, DNSServer

    records = {
        ("portal.bontang.test.", "A"): [A("10.10.1.20"), A("10.10.1.21")],
        ("bontang.test.", "MX"): [MX("mail.bontang.test.", 10)],
    }

    class Resolver(BaseResolver):  # type: ignore[misc]
        def resolve(self, request: DNSRecord, handler: object) -> DNSRecord:
            reply = request.reply()
            q = request.q
            answers = records.get((str(q.qname), QTYPE[q.qtype]))
            if answers is None:
                if not any(name == str(q.qname) for name, _ in records):
                    reply.header.rcode = 3  # NXDOMAIN
                return reply
            for rdata in answers:
                reply.add_answer(RR(q.qname, q.qtype, rdata=rdata, ttl=60))
            return reply

    port = find_free_port()
    server = DNSServer(Resolver(), port=port, address="127.0.0.1", tcp=False)
    server.start_thread()
    try:
        yield DnsPeer(port)
    finally:
        server.stop()
        server.server.server_close()


@pytest.fixture
async def tcp_port() -> AsyncIterator[int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mail.bontang.test ESMTP\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield port
    finally:
        server.close()
        await server.wait_closed()


@pytest.fixture
def threaded_http_peer() -> Iterator[HttpPeer]:
    """The same HTTP peer on its own thread and loop, for tests that are not async (the CLI's)."""
    import threading

    loop = asyncio.new_event_loop()
    ready = threading.Event()
    box: list[HttpPeer] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        box.append(loop.run_until_complete(start_http()))
        ready.set()
        loop.run_forever()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    ready.wait(10)
    try:
        yield box[0]
    finally:
        asyncio.run_coroutine_threadsafe(box[0].runner.cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
