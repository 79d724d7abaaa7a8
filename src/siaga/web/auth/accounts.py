"""People, sessions and API tokens in the store. Every change is written to the audit log (``events``)."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import Connection, delete, func, insert, select, update

from siaga.errors import SiagaError
from siaga.i18n.messages import Message
from siaga.store.events import record_event
from siaga.web.auth.passwords import (
    WeakPassword,
    check_password_strength,
    digest,
    hash_password,
    needs_rehash,
    new_secret,
    verify_password,
)
from siaga.web.auth.roles import Role, Scope, parse_scopes
from siaga.web.auth.tables import api_tokens, web_sessions, web_users

NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
SESSION_LIFETIME = dt.timedelta(days=7)
SESSION_IDLE = dt.timedelta(hours=12)
TOKEN_PREFIX = "sga_"


class AccountError(SiagaError, ValueError):
    """A request about accounts that cannot be done; ``why`` says why as a message worded per reader (an
    ``account.*`` key: the admin's page words it), ``str()`` is that line in English (the CLI, logs)."""

    def __init__(self, why: Message) -> None:
        super().__init__(why.english())
        self.why = why


@dataclass(frozen=True)
class User:
    id: int
    name: str
    display_name: str | None
    role: Role
    language: str | None
    disabled: bool
    created_at: dt.datetime


@dataclass(frozen=True)
class Session:
    user: User
    csrf_token: str
    expires_at: dt.datetime


@dataclass(frozen=True)
class ApiToken:
    id: int
    name: str
    prefix: str
    scopes: frozenset[Scope]
    created_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime | None
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


def _user(row: object) -> User:
    r = row._mapping  # type: ignore[attr-defined]
    return User(r["id"], r["name"], r["display_name"], Role(r["role"]), r["language"], bool(r["disabled"]),
                r["created_at"])


def _token(row: object) -> ApiToken:
    r = row._mapping  # type: ignore[attr-defined]
    return ApiToken(r["id"], r["name"], r["prefix"], parse_scopes(r["scopes"]), r["created_by"], r["created_at"],
                    r["expires_at"], r["last_used_at"], r["revoked_at"])


def audit(conn: Connection, kind: str, *, actor: str | None, subject: str | None, now: dt.datetime,
          **data: object) -> None:
    """One line of the audit log: who did what to what."""
    record_event(conn, f"audit.{kind}", subject=subject, actor=actor, data=data or None, at=now)


# --- people -------------------------------------------------------------------------------------------


def normalise_name(name: str) -> str:
    value = name.strip().lower()
    if not NAME.match(value):
        raise AccountError(Message("account.bad_name", {"name": name}))
    return value


def add_user(conn: Connection, name: str, password: str, role: Role | str, now: dt.datetime, *,
             display_name: str | None = None, language: str | None = None, actor: str | None = None) -> User:
    """Create a person; raise AccountError when the name is taken or the password too weak."""
    name = normalise_name(name)
    try:
        role = Role(role)
    except ValueError:
        raise AccountError(Message("account.unknown_role", {"role": str(role)})) from None
    try:
        check_password_strength(password, name)
    except WeakPassword as exc:
        raise AccountError(exc.why) from None
    if get_user(conn, name) is not None:
        raise AccountError(Message("account.exists", {"name": name}))
    if language is not None and language not in ("id", "en"):
        raise AccountError(Message("account.unknown_language", {"language": language}))
    conn.execute(insert(web_users).values(
        name=name, display_name=display_name, password_hash=hash_password(password), role=role.value,
        language=language, disabled=False, created_at=now, password_changed_at=now,
    ))
    audit(conn, "user.added", actor=actor, subject=f"user:{name}", now=now, role=role.value)
    user = get_user(conn, name)
    assert user is not None
    return user


def get_user(conn: Connection, name: str) -> User | None:
    row = conn.execute(select(web_users).where(web_users.c.name == name.strip().lower())).first()
    return _user(row) if row else None


def list_users(conn: Connection) -> list[User]:
    return [_user(r) for r in conn.execute(select(web_users).order_by(web_users.c.name))]


def count_users(conn: Connection) -> int:
    return int(conn.execute(select(func.count()).select_from(web_users)).scalar_one())


def set_role(conn: Connection, name: str, role: Role | str, now: dt.datetime, *, actor: str | None) -> User:
    user = _require(conn, name)
    role = Role(role)
    if user.role == Role.admin and role != Role.admin and _active_admins(conn) <= 1:
        raise AccountError(Message("account.last_admin_role"))
    conn.execute(update(web_users).where(web_users.c.id == user.id).values(role=role.value))
    audit(conn, "user.role", actor=actor, subject=f"user:{user.name}", now=now, role=role.value,
          previous=user.role.value)
    return _require(conn, name)


def set_disabled(conn: Connection, name: str, disabled: bool, now: dt.datetime, *, actor: str | None) -> User:
    user = _require(conn, name)
    if disabled and user.role == Role.admin and _active_admins(conn) <= 1:
        raise AccountError(Message("account.last_admin_disabled"))
    conn.execute(update(web_users).where(web_users.c.id == user.id).values(disabled=disabled))
    if disabled:
        conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user.id))
    audit(conn, "user.disabled" if disabled else "user.enabled", actor=actor, subject=f"user:{user.name}", now=now)
    return _require(conn, name)


def set_password(conn: Connection, name: str, password: str, now: dt.datetime, *, actor: str | None) -> None:
    user = _require(conn, name)
    try:
        check_password_strength(password, user.name)
    except WeakPassword as exc:
        raise AccountError(exc.why) from None
    conn.execute(update(web_users).where(web_users.c.id == user.id).values(
        password_hash=hash_password(password), password_changed_at=now))
    conn.execute(delete(web_sessions).where(web_sessions.c.user_id == user.id))
    audit(conn, "user.password", actor=actor, subject=f"user:{user.name}", now=now)


def set_language(conn: Connection, user_id: int, language: str) -> None:
    if language not in ("id", "en"):
        raise AccountError(Message("account.unknown_language", {"language": language}))
    conn.execute(update(web_users).where(web_users.c.id == user_id).values(language=language))


def authenticate(conn: Connection, name: str, password: str) -> User | None:
    """The enabled person with this name and password, or None (same cost for an unknown name)."""
    try:
        key = normalise_name(name)
    except AccountError:
        verify_password(None, password)
        return None
    row = conn.execute(select(web_users).where(web_users.c.name == key)).first()
    stored = row._mapping["password_hash"] if row else None
    if not verify_password(stored, password) or row is None:
        return None
    user = _user(row)
    if user.disabled:
        return None
    if stored and needs_rehash(stored):
        conn.execute(update(web_users).where(web_users.c.id == user.id).values(password_hash=hash_password(password)))
    return user


def _require(conn: Connection, name: str) -> User:
    user = get_user(conn, name)
    if user is None:
        raise AccountError(Message("account.no_such", {"name": name}))
    return user


def _active_admins(conn: Connection) -> int:
    rows = conn.execute(select(web_users.c.id).where(web_users.c.role == Role.admin.value,
                                                     web_users.c.disabled.is_(False)))
    return len(rows.all())


# --- sessions -----------------------------------------------------------------------------------------


def open_session(conn: Connection, user: User, now: dt.datetime, *, address: str | None = None) -> str:
    """Start a session for ``user``; return the random id for the cookie (only its hash is stored)."""
    sid = new_secret()
    conn.execute(insert(web_sessions).values(
        id_hash=digest(sid), user_id=user.id, csrf_token=new_secret(24), created_at=now, last_seen_at=now,
        expires_at=now + SESSION_LIFETIME, address=address,
    ))
    audit(conn, "login", actor=user.name, subject=f"user:{user.name}", now=now, address=address)
    return sid


def load_session(conn: Connection, sid: str | None, now: dt.datetime) -> Session | None:
    """The live session behind a cookie value, or None (expired, idle too long, unknown, user disabled)."""
    if not sid or len(sid) > 128:
        return None
    key = digest(sid)
    row = conn.execute(
        select(web_sessions, web_users).join(web_users, web_users.c.id == web_sessions.c.user_id)
        .where(web_sessions.c.id_hash == key)
    ).first()
    if row is None:
        return None
    r = row._mapping
    if r["expires_at"] <= now or now - r["last_seen_at"] > SESSION_IDLE or r["disabled"]:
        conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == key))
        return None
    if (now - r["last_seen_at"]).total_seconds() > 60:
        conn.execute(update(web_sessions).where(web_sessions.c.id_hash == key).values(last_seen_at=now))
    user = User(r["user_id"], r["name"], r["display_name"], Role(r["role"]), r["language"], bool(r["disabled"]),
                r["created_at"])
    return Session(user, r["csrf_token"], r["expires_at"])


def close_session(conn: Connection, sid: str | None, now: dt.datetime) -> None:
    if not sid:
        return
    row = conn.execute(
        select(web_users.c.name).join(web_sessions, web_users.c.id == web_sessions.c.user_id)
        .where(web_sessions.c.id_hash == digest(sid))
    ).first()
    conn.execute(delete(web_sessions).where(web_sessions.c.id_hash == digest(sid)))
    if row is not None:
        audit(conn, "logout", actor=row.name, subject=f"user:{row.name}", now=now)


# --- API tokens ---------------------------------------------------------------------------------------


def create_token(conn: Connection, name: str, scopes: frozenset[Scope] | list[str] | str, now: dt.datetime, *,
                 actor: str | None, expires_at: dt.datetime | None = None) -> tuple[str, ApiToken]:
    """Create an API token; return the secret (shown once, never stored) and its record."""
    wanted = scopes if isinstance(scopes, frozenset) else parse_scopes(scopes)
    if not wanted:
        raise AccountError(Message("account.token_no_scope"))
    name = name.strip()
    if not name or len(name) > 100:
        raise AccountError(Message("account.token_name"))
    secret = TOKEN_PREFIX + new_secret()
    prefix = secret[: len(TOKEN_PREFIX) + 6]
    result = conn.execute(insert(api_tokens).values(
        name=name, token_hash=digest(secret), prefix=prefix, scopes=",".join(sorted(s.value for s in wanted)),
        created_by=actor, created_at=now, expires_at=expires_at,
    ).returning(api_tokens.c.id))
    token_id = int(result.scalar_one())
    audit(conn, "token.created", actor=actor, subject=f"token:{token_id}", now=now, name=name,
          scopes=sorted(s.value for s in wanted))
    token = get_token(conn, token_id)
    assert token is not None
    return secret, token


def get_token(conn: Connection, token_id: int) -> ApiToken | None:
    row = conn.execute(select(api_tokens).where(api_tokens.c.id == token_id)).first()
    return _token(row) if row else None


def list_tokens(conn: Connection) -> list[ApiToken]:
    return [_token(r) for r in conn.execute(select(api_tokens).order_by(api_tokens.c.id))]


def revoke_token(conn: Connection, token_id: int, now: dt.datetime, *, actor: str | None) -> ApiToken:
    token = get_token(conn, token_id)
    if token is None:
        raise AccountError(Message("account.no_such_token", {"token": token_id}))
    if token.revoked_at is None:
        conn.execute(update(api_tokens).where(api_tokens.c.id == token_id).values(revoked_at=now))
        audit(conn, "token.revoked", actor=actor, subject=f"token:{token_id}", now=now, name=token.name)
    result = get_token(conn, token_id)
    assert result is not None
    return result


def verify_token(conn: Connection, secret: str | None, now: dt.datetime) -> ApiToken | None:
    """The live token for a bearer secret, or None (unknown, revoked, expired). Marks it used."""
    if not secret or len(secret) > 200:
        return None
    row = conn.execute(select(api_tokens).where(api_tokens.c.token_hash == digest(secret))).first()
    if row is None:
        return None
    token = _token(row)
    if token.revoked_at is not None or (token.expires_at is not None and token.expires_at <= now):
        return None
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        conn.execute(update(api_tokens).where(api_tokens.c.id == token.id).values(last_used_at=now))
    return token
