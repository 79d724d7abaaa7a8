"""The HTTP server as a component: uvicorn on ``ctx.host:ctx.port``, stopped by the stop event."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Iterator

import uvicorn

from siaga.i18n import _
from siaga.runtime.components import Component, ComponentError
from siaga.runtime.context import RuntimeContext
from siaga.runtime.supervisor import mark_ready
from siaga.web.app import create_app

log = logging.getLogger("siaga.web")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling (siaga's runtime owns SIGINT/SIGTERM), and whose main loop
    wakes once a second (its Date header's step) or when told to exit, not ten times a second."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self._exit = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def exit(self) -> None:
        self.should_exit = True
        self._exit.set()

    async def main_loop(self) -> None:
        counter = 0  # on_tick refreshes the Date header when counter % 10 == 0: every call here
        while not await self.on_tick(counter):
            counter = (counter + 10) % 864000
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._exit.wait(), 1.0)


def bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket on host:port, or a ComponentError saying why not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ComponentError(
            _("cannot listen on {host}:{port}: {reason}").format(host=host, port=port, reason=exc.strerror)
        ) from None
    family, kind, proto, _name, addr = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(addr)
        sock.listen(128)
    except OSError as exc:
        sock.close()
        reason = str(exc.strerror or exc)
        if exc.errno == errno.EADDRINUSE:
            reason += _(" (is another siaga running? choose another --port)")
        raise ComponentError(
            _("cannot listen on {host}:{port}: {reason}").format(host=host, port=port, reason=reason)
        ) from None
    sock.setblocking(False)
    return sock


def base_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def run(ctx: RuntimeContext, stop: asyncio.Event) -> None:
    sock = bind(ctx.host, ctx.port)
    url = base_url(sock)
    ctx.services.base_url = url
    config = uvicorn.Config(
        create_app(ctx), log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=3,
        server_header=False,
    )
    server = _Server(config)
    serving = asyncio.create_task(server.serve(sockets=[sock]), name="siaga:uvicorn")
    stopping = asyncio.create_task(stop.wait())
    try:
        while not server.started and not serving.done() and not stopping.done():
            await asyncio.wait({serving, stopping}, timeout=0.02)
        if server.started:
            mark_ready()  # serving: from now on a failure is restarted, no longer a start failure (exit 1)
            log.info("listening", extra={"url": url})
        await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        server.exit()
        await serving
    finally:
        stopping.cancel()
        sock.close()
    if not stop.is_set():
        raise ComponentError(_("the HTTP server stopped by itself"))


component = Component("web", run, critical=True)
"""Critical: siaga does not start (exit 1) when it cannot bind its port; later failures are restarted."""
