"""The demo's stand-in for the real sites: a local web server answering as every checked host.

``siaga demo`` must not hammer the internet (and there may be none): the checks engine sends the
traffic of every HTTP and TCP check to this server on a free loopback port, which answers what the
check expects (its keyword, its JSON value). Database, DNS and TLS checks get a stand-in probe that
reports up. ``set_down(service)`` makes a service fail, so the demo can show an outage and its
correlation with the room.
"""

from __future__ import annotations

import json
import socket
from typing import Any
from urllib.parse import urlsplit

from aiohttp import web

from siaga.checks.base import CheckFailed, Observation, Probe, ProbeContext
from siaga.config.checks import CheckBase, HttpCheck, TcpCheck
from siaga.config.models import SiteConfig
from siaga.i18n.messages import Message


class StandInProbe:
    """Reports up (or down when the stand-in says so) without touching the network."""

    def __init__(self, check: CheckBase, standin: StandIn) -> None:
        self.check = check
        self.standin = standin

    async def probe(self, ctx: ProbeContext) -> Observation:
        if self.check.service in self.standin.down:
            raise CheckFailed(Message("check.standin"))
        return Observation(latency_ms=1.0, said=Message("check.ok.standin"))


def _json_body(path: str | None, expected: Any) -> dict[str, Any]:
    if not path or not path.startswith("$."):
        return {}
    keys = [k for k in path[2:].split(".") if k]
    value: Any = "ok" if expected is None else expected
    for key in reversed(keys):
        value = {key: value}
    return value if isinstance(value, dict) else {}


class StandIn:
    def __init__(self, cfg: SiteConfig) -> None:
        self.cfg = cfg
        self.down: set[str] = set()
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._answers: dict[tuple[str, str], tuple[str, str]] = {}  # (host, path) -> (service, body)
        for c in cfg.checks:
            if isinstance(c, HttpCheck):
                parts = urlsplit(c.url)
                if c.json_path:
                    body = json.dumps(_json_body(c.json_path, c.json_expected))
                else:
                    body = f"<html><body><h1>{c.service}</h1><p>{c.keyword or ''}</p></body></html>"
                self._answers[(parts.netloc, parts.path or "/")] = (c.service, body)

    def set_down(self, service: str, down: bool = True) -> None:
        (self.down.add if down else self.down.discard)(service)

    def redirects(self) -> dict[str, tuple[str, int]]:
        out: dict[str, tuple[str, int]] = {}
        for c in self.cfg.checks:
            if isinstance(c, HttpCheck):
                out[urlsplit(c.url).hostname or ""] = ("127.0.0.1", self.port)
            elif isinstance(c, TcpCheck):
                out[c.host] = ("127.0.0.1", self.port)
        return out

    def probes(self) -> dict[str, Probe]:
        return {
            c.check_id: StandInProbe(c, self)
            for c in self.cfg.checks
            if not isinstance(c, HttpCheck | TcpCheck) and c.type_name != "heartbeat"
        }

    async def _handle(self, request: web.Request) -> web.Response:
        host = request.headers.get("Host", "")
        found = self._answers.get((host, request.path))
        if found is None:
            return web.Response(status=404, text="not a stand-in page")
        service, body = found
        if service in self.down:
            return web.Response(status=503, text="Service Unavailable (demo)")
        ctype = "application/json" if body.startswith("{") else "text/html"
        return web.Response(text=body, content_type=ctype)

    async def start(self) -> None:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        await web.TCPSite(self._runner, "127.0.0.1", self.port).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
