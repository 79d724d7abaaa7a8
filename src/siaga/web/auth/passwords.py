"""Password hashes (argon2id through argon2-cffi) and random secrets for sessions, CSRF and API tokens."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from siaga.errors import SiagaError
from siaga.i18n.messages import Message

_hasher = PasswordHasher()  # argon2id with the library's recommended parameters (RFC 9106 low-memory)

MIN_PASSWORD_LENGTH = 10

T = TypeVar("T")

# Password checks run on threads of their own (argon2 releases the GIL while it works), never on the event
# loop's default executor: a burst of logins queues here, and /healthz, pages and the store keep theirs.
_checks = ThreadPoolExecutor(max_workers=2, thread_name_prefix="siaga-password")


async def off_loop(fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(*args)`` (work that verifies or hashes a password) on the password threads."""
    return await asyncio.get_running_loop().run_in_executor(_checks, fn, *args)

# A hash of a password nobody has: verified against when the account does not exist, so that a wrong
# name costs the same time as a wrong password (no account enumeration by timing). Made on first use.
_dummy: list[str] = []


def set_hasher(hasher: PasswordHasher) -> PasswordHasher:
    """Use ``hasher`` from now on (tests pass a cheap one); return the previous one."""
    global _hasher
    previous, _hasher = _hasher, hasher
    _dummy.clear()
    return previous


def _dummy_hash() -> str:
    if not _dummy:
        _dummy.append(_hasher.hash(secrets.token_urlsafe(16)))
    return _dummy[0]


class WeakPassword(SiagaError, ValueError):
    """A password too short or too plain to accept; ``why`` says why as a message worded per reader (an
    ``account.password_*`` key), ``str()`` is that line in English."""

    def __init__(self, why: Message) -> None:
        super().__init__(why.english())
        self.why = why


def check_password_strength(password: str, name: str = "") -> None:
    """Refuse passwords shorter than MIN_PASSWORD_LENGTH or equal to the account name."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise WeakPassword(Message("account.password_short", {"characters": MIN_PASSWORD_LENGTH}))
    if name and password.strip().lower() == name.strip().lower():
        raise WeakPassword(Message("account.password_is_name"))


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` (salted, with the library's current parameters)."""
    return _hasher.hash(password)


def verify_password(stored_hash: str | None, password: str) -> bool:
    """True when ``password`` matches ``stored_hash``; a missing hash costs the same time and fails."""
    try:
        return _hasher.verify(stored_hash or _dummy_hash(), password) and stored_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    try:
        return _hasher.check_needs_rehash(stored_hash)
    except InvalidHashError:
        return True


def new_secret(nbytes: int = 32) -> str:
    """A random URL-safe secret (session ids, CSRF tokens, API tokens)."""
    return secrets.token_urlsafe(nbytes)


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a high-entropy secret (session id, API token) is stored."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def same(a: str | None, b: str | None) -> bool:
    """Constant-time comparison of two secrets; False when either is missing."""
    if not a or not b:
        return False
    return hmac.compare_digest(a.encode("utf-8"), b.encode("utf-8"))
