"""Who is asking, and may they: session cookies (pages), bearer tokens (API), CSRF, roles and scopes.

- A browser carries the ``siaga_session`` cookie (HttpOnly, SameSite=Lax, Secure behind HTTPS). Every
  unsafe request (POST, PUT, PATCH, DELETE) made with that cookie must carry the session's CSRF token,
  as the ``csrf_token`` form field or the ``X-CSRF-Token`` header (htmx sends the header on every request).
- The login form, made before there is a session, uses a double-submit cookie (``siaga_csrf``).
- A script sends ``Authorization: Bearer sga_...``; the token's scopes decide. Bearer requests carry no
  ambient credential, so they need no CSRF token.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from sqlalchemy import Engine

from siaga.i18n.messages import Message
from siaga.web.auth import accounts
from siaga.web.auth.passwords import same
from siaga.web.auth.roles import ROLE_SCOPES, Role, Scope
from siaga.web.errors import ApiError, worded

SESSION_COOKIE = "siaga_session"
PRELOGIN_COOKIE = "siaga_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass(frozen=True)
class Principal:
    """Who makes a request: a person (through a session) or an API token."""

    name: str
    scopes: frozenset[Scope]
    role: Role | None = None
    user: accounts.User | None = None
    session: accounts.Session | None = None
    token: accounts.ApiToken | None = None

    @property
    def via(self) -> str:
        return "web" if self.session else "api"

    @property
    def language(self) -> str | None:
        return self.user.language if self.user else None

    def can(self, scope: Scope) -> bool:
        return scope in self.scopes

    def at_least(self, role: Role) -> bool:
        return self.role is not None and self.role.allows(role)


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def is_https(request: Request, force_secure: bool | None = None) -> bool:
    if force_secure is not None:
        return force_secure
    if request.url.scheme == "https":
        return True
    return request.headers.get("x-forwarded-proto", "").split(",")[0].strip() == "https"


def bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def identify(request: Request, engine: Engine, now: dt.datetime) -> Principal | None:
    """The principal behind a request (bearer token first, then the session cookie), or None."""
    secret = bearer(request)
    if secret is not None:
        with engine.begin() as conn:
            token = accounts.verify_token(conn, secret, now)
        if token is None:
            raise ApiError(401, "invalid_token", "the bearer token is unknown, revoked or expired",
                           headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
        return Principal(name=f"token:{token.name}", scopes=token.scopes, token=token)
    sid = request.cookies.get(SESSION_COOKIE)
    if not sid:
        return None
    with engine.begin() as conn:
        session = accounts.load_session(conn, sid, now)
    if session is None:
        return None
    user = session.user
    return Principal(name=user.name, scopes=ROLE_SCOPES[user.role], role=user.role, user=user, session=session)


async def submitted_csrf(request: Request) -> str | None:
    """The CSRF token a request carries: the header, else the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("application/x-www-form-urlencoded", "multipart/form-data")):
        form = await request.form()
        value: Any = form.get(CSRF_FIELD)
        return value if isinstance(value, str) else None
    return None


async def check_csrf(request: Request, principal: Principal | None) -> None:
    """Refuse an unsafe request made with a session cookie but without its CSRF token (403)."""
    if request.method not in UNSAFE or principal is None or principal.session is None:
        return
    if not same(await submitted_csrf(request), principal.session.csrf_token):
        raise worded(403, "csrf_failed", Message("web.csrf.form"))


def require_scope(principal: Principal | None, scope: Scope) -> Principal:
    if principal is None:
        raise ApiError(401, "unauthorized", "log in or send a bearer token", headers={"WWW-Authenticate": "Bearer"})
    if not principal.can(scope):
        why = (Message("web.forbidden.role", {"role": principal.role.value, "scope": scope.value}) if principal.role
               else Message("web.forbidden.token", {"scope": scope.value}))
        raise worded(403, "forbidden", why)
    return principal


def scope_required(scope: Scope) -> Any:
    """A dependency any router can use: the request's principal, who must have ``scope`` (CSRF included).

    ``@router.post("/api/x", dependencies=[Depends(scope_required(Scope.ack))])``. It uses the dashboard of
    the app's runtime (``ctx.services.dashboard``); without one, nobody is let in.
    """

    async def dependency(request: Request) -> Principal:
        ctx = getattr(request.app.state, "ctx", None)
        dash = ctx.services.dashboard if ctx is not None else None
        if dash is None:
            raise ApiError(503, "unavailable", "accounts are not set up in this siaga")
        principal: Principal = await dash.need(scope)(request)
        return principal

    return dependency
