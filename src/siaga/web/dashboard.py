"""The dashboard's shared state and plumbing: who asks, templates, live updates, the app hook.

``router(ctx)`` is the entry of ``siaga.web.app.ROUTERS``; ``setup(app, ctx)`` installs the one error
shape, the static files and the API's own OpenAPI document. :func:`install` does both (tests use it).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import Awaitable, Callable
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, FastAPI, Request
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine
from starlette.responses import Response
from starlette.staticfiles import StaticFiles

from siaga.backup.status import describe_offsite_copy
from siaga.config import LoadedConfig, SiteConfig
from siaga.i18n import formats
from siaga.i18n.messages import Message, render
from siaga.inventory import Inventory
from siaga.runtime.services import Services
from siaga.store.types import utcnow
from siaga.web import i18n, queries
from siaga.web.assets import STATIC_DIR, TEMPLATES_DIR, vendor_dirs
from siaga.web.auth.attempts import StoreThrottle
from siaga.web.auth.roles import Scope
from siaga.web.auth.throttle import Throttle
from siaga.web.errors import install_error_handlers
from siaga.web.limits import JsonDepthLimit
from siaga.web.live import LIVE_CHANNEL, TOPICS, Broker
from siaga.web.security import Principal, check_csrf, identify, is_https, require_scope
from siaga.web.views.headline import headline

log = logging.getLogger("siaga.web")

# Every page works under this policy: scripts and styles only from our own files (no inline script, style or
# event handler, no eval: htmx runs with allowEval off), no plugins, no framing, forms only to this site.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
    "connect-src 'self'", "object-src 'none'", "base-uri 'none'", "form-action 'self'", "frame-ancestors 'none'",
))
SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}


class Dashboard:
    """What every page and API route of one running siaga shares."""

    def __init__(self, ctx: Any, *, throttle: Throttle | None = None, secure_cookies: bool | None = None,
                 poll_interval: float = 1.0) -> None:
        self.ctx = ctx
        self.broker = Broker()
        # Counted in the store, so that every siaga process on it (and a restart) shares the counts.
        self.throttle: Throttle = throttle or StoreThrottle(lambda: self.engine)
        if secure_cookies is None:  # siaga reached over HTTPS (web.public_url): always Secure cookies
            public = str(getattr(ctx.loaded.config.web, "public_url", "") or "")
            secure_cookies = True if public.lower().startswith("https://") else None
        self.secure_cookies = secure_cookies
        self.poll_interval = poll_interval
        self.templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
        self.templates.env.globals["vendor"] = sorted(vendor_dirs())
        self._poller: asyncio.Task[None] | None = None
        self.polls = 0  # rounds the live poller has looked at the store (it compares each with the one before)
        self.notices = 0  # changes the store told (PostgreSQL: LISTEN siaga_live)
        self._listener: Any = None  # siaga.cluster.handoff.ChannelListener on PostgreSQL, once a page listens

    # --- the runtime ------------------------------------------------------------------------------------

    @property
    def loaded(self) -> LoadedConfig:
        loaded: LoadedConfig = self.ctx.loaded
        return loaded

    @property
    def cfg(self) -> SiteConfig:
        return self.loaded.config

    @property
    def engine(self) -> Engine:
        engine: Engine = self.ctx.engine
        return engine

    @property
    def services(self) -> Services:
        services: Services = self.ctx.services
        return services

    def now(self) -> dt.datetime:
        clock: Callable[[], dt.datetime] = getattr(self.ctx, "clock", utcnow)
        return clock()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.cfg.site.timezone)

    @property
    def inventory(self) -> Inventory:
        """The runtime's one inventory (``ctx.services.inventory``; built from the config when none is)."""
        services = self.services
        if services.inventory is None:
            services.inventory = Inventory.from_config(self.cfg)
        return services.inventory

    # --- who asks ---------------------------------------------------------------------------------------

    def principal(self, request: Request) -> Principal | None:
        if not hasattr(request.state, "principal"):
            request.state.principal = identify(request, self.engine, self.now())
        found: Principal | None = request.state.principal
        return found

    def need(self, scope: Scope) -> Callable[[Request], Awaitable[Principal]]:
        """A dependency: the principal, who must have ``scope``; unsafe requests must carry the CSRF token."""

        async def dependency(request: Request) -> Principal:
            principal = await asyncio.to_thread(self.principal, request)
            principal = require_scope(principal, scope)
            await check_csrf(request, principal)
            return principal

        return dependency

    async def maybe(self, request: Request) -> Principal | None:
        return await asyncio.to_thread(self.principal, request)

    def language(self, principal: Principal | None, request: Request | None = None) -> str:
        if principal is not None and principal.language in i18n.LANGUAGES:
            return str(principal.language)
        if request is not None and request.cookies.get("siaga_lang") in i18n.LANGUAGES:
            return str(request.cookies["siaga_lang"])
        asked = i18n.accept_language(request.headers.get("accept-language")) if request is not None else None
        return asked or str(self.cfg.site.language.value)

    # --- pages ------------------------------------------------------------------------------------------

    def render(self, request: Request, name: str, principal: Principal | None, status: int = 200,
               headers: dict[str, str] | None = None, **context: Any) -> Response:
        lang = self.language(principal, request)
        gettext = i18n.gettext_for(lang)
        rooms = {r.id: r.name for r in self.cfg.rooms}
        now = self.now()
        zone = self.zone
        base = {
            "_": gettext,
            "lang": lang,
            "me": principal,
            "csrf": principal.session.csrf_token if principal and principal.session else "",
            "site": self.cfg.site,
            "now": now,
            "when": lambda t, seconds=False: i18n.local_time(t, zone, lang, seconds=seconds),
            "ago": lambda t: i18n.ago(t, now, lang),
            "rupiah": lambda amount: i18n.rupiah(int(amount or 0), lang),
            "duration": lambda seconds: i18n.duration(seconds, lang),
            "number": lambda value, digits=1: formats.number(float(value), lang, digits),
            "measure": lambda value, unit, digits=1: formats.measure(float(value), unit, lang, digits),
            "percent": lambda fraction, digits=2: formats.percent(float(fraction), lang, digits),
            "offsite": lambda copy: describe_offsite_copy(copy, gettext, lambda t: i18n.local_time(t, zone, lang)),
            "headline": lambda alert: headline(alert, gettext, rooms),
            "can_ack": bool(principal and principal.can(Scope.ack)),
            "is_admin": bool(principal and principal.can(Scope.admin)),
            "path": request.url.path,
        }
        base.update(context)
        return self.templates.TemplateResponse(request, name, base, status_code=status, headers=headers)

    # --- live updates -----------------------------------------------------------------------------------

    def start_poller(self) -> None:
        """Watch the store for changes while some page listens. On PostgreSQL the store says what changed
        (``LISTEN siaga_live``, fed by the tables' triggers at every writer's commit, whichever process
        wrote); the store is polled only while that listener is not listening (it connects, or lost its
        connection) and on SQLite."""
        if self.engine.dialect.name == "postgresql" and self._listener is None:
            from siaga.cluster.handoff import ChannelListener
            from siaga.store.engine import libpq_dsn as dsn

            loop = asyncio.get_running_loop()
            self.broker.bind(loop)
            self._listener = ChannelListener(dsn(self.engine), LIVE_CHANNEL, self._notified,
                                             on_gap=lambda: self._notified("alerts,readings,services,backups"))
            self._listener.start()
        if self._poller is None or self._poller.done():
            self._poller = asyncio.get_running_loop().create_task(self._poll(), name="siaga:web-live")

    def _notified(self, payload: str) -> None:
        """A notice of the store (the listener's thread): the topics it names changed."""
        for topic in payload.split(","):
            if topic in TOPICS:
                self.notices += 1
                self.broker.publish(topic)

    def stop_listening(self) -> None:
        if self._listener is not None:
            self._listener.stop()
            self._listener = None

    async def _poll(self) -> None:
        last: dict[str, tuple[Any, ...]] = {}
        checks: dict[str, Callable[[Any], tuple[Any, ...]]] = {
            "alerts": queries.alerts_version,
            "readings": queries.readings_version,
            "services": queries.services_version,
            "backups": queries.backups_version,
        }

        def versions() -> dict[str, tuple[Any, ...]]:
            with self.engine.connect() as conn:
                return {k: f(conn) for k, f in checks.items()}

        while self.broker.subscribers:
            if self._listener is not None and self._listener.listening.is_set():
                last = {}  # the store tells; when it stops telling, start again from what it is then
                await asyncio.sleep(self.poll_interval)
                continue
            try:
                now = await asyncio.to_thread(versions)
            except Exception:  # the store is briefly away: try again next round
                log.warning("live updates: cannot read the store", exc_info=True)
                now = last
            for topic, version in now.items():
                if topic in last and last[topic] != version:
                    self.broker.publish(topic)
            last = now
            self.polls += 1
            await asyncio.sleep(self.poll_interval)


def dashboard_of(ctx: Any) -> Dashboard:
    """The one Dashboard of a runtime (created on first use, kept in ``ctx.services.dashboard``)."""
    services: Services = ctx.services
    found = services.dashboard
    if found is None:
        found = services.dashboard = Dashboard(ctx)
    return found


def router(ctx: Any) -> APIRouter:
    """Every page and API route (the entry of ``siaga.web.app.ROUTERS``)."""
    from siaga.web import api_v1, maintenance_api, metrics, pages, peer_pages

    dash = dashboard_of(ctx)
    out = APIRouter()
    out.include_router(pages.router(dash))
    peer_site = peer_pages.router(dash)  # a colocation's page of each room it watches
    if peer_site is not None:
        out.include_router(peer_site)
    out.include_router(api_v1.router(dash))
    maintenance = maintenance_api.router(dash)
    if maintenance is not None:
        out.include_router(maintenance)
    out.include_router(metrics.router(dash))
    return out


def setup(app: FastAPI, ctx: Any) -> None:
    """The app-wide parts: the error shape, static files, the API's OpenAPI document and docs."""
    from siaga.web import api_v1

    dash = dashboard_of(ctx)

    def words(request: Request, why: Message) -> str:  # a refusal on a page, in the reader's language
        return render(why, dash.language(getattr(request.state, "principal", None), request), dash.zone)

    install_error_handlers(app, words)
    app.mount("/static/siaga", StaticFiles(directory=str(STATIC_DIR)), name="siaga-static")
    for name, folder in vendor_dirs().items():
        app.mount(f"/static/vendor/{name}", StaticFiles(directory=str(folder)), name=f"vendor-{name}")
    api_v1.install_openapi(app, dash)
    app.add_middleware(JsonDepthLimit)  # JSON nested too deep: 422 before any route parses it

    @app.middleware("http")
    async def security_headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        if is_https(request, dash.secure_cookies):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response


def install(app: FastAPI, ctx: Any) -> FastAPI:
    """Put the dashboard into ``app`` (setup + routes)."""
    setup(app, ctx)
    app.include_router(router(ctx))
    return app


async def stop(dash: Dashboard) -> None:
    await asyncio.to_thread(dash.stop_listening)
    if dash._poller is not None:
        dash._poller.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await dash._poller
