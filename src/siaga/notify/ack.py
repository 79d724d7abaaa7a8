"""One-tap acknowledgement tokens: signed (HMAC-SHA256), expiring, bound to a recipient, single use. Pure.

A token names the alerts it acknowledges, the recipient it was sent to, when it expires and a nonce.
Single use is the caller's part: it records the nonce when the token is spent and refuses it after.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

from siaga.errors import SiagaError
from siaga.i18n.messages import Message
from siaga.notify.model import Recipient


class TokenError(SiagaError):
    """The token cannot be used; ``why`` says why as a message worded per reader (a ``link.*`` key), ``str()`` is
    that line in English (logs)."""

    def __init__(self, why: Message) -> None:
        super().__init__(why.english())
        self.why = why


MALFORMED = Message("link.malformed")
NOT_SIGNED = Message("link.not_signed")
EXPIRED = Message("link.expired")


@dataclass(frozen=True)
class AckClaim:
    alert_ids: tuple[int, ...]
    recipient: Recipient
    expires: dt.datetime
    nonce: str
    message_id: int | None = None  # a storm's link names its message, not hundreds of alerts


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(
    key: bytes,
    alert_ids: tuple[int, ...],
    recipient: Recipient,
    now: dt.datetime,
    ttl: dt.timedelta,
    nonce: str | None = None,
    message_id: int | None = None,
) -> str:
    """A token for ``recipient`` to acknowledge ``alert_ids`` (or those of message ``message_id``) until
    ``now + ttl``."""
    body: dict[str, object] = {
        "a": list(alert_ids),
        "r": recipient.key,
        "e": int((now + ttl).timestamp()),
        "n": nonce or secrets.token_urlsafe(9),
    }
    if message_id is not None:
        body["m"] = message_id
    return seal(key, body)


def seal(key: bytes, body: dict[str, object]) -> str:
    """``body`` as a signed token: base64url JSON, a dot, a truncated HMAC-SHA256 (also the runbook approvals')."""
    payload = _b64(json.dumps(body, separators=(",", ":")).encode())
    mac = hmac.new(key, payload.encode(), hashlib.sha256).digest()
    return f"{payload}.{_b64(mac[:18])}"


def opened(key: bytes, token: str) -> tuple[dict[str, object], bool]:
    """The body of ``token`` and whether its signature is this key's; :class:`TokenError` when unreadable."""
    payload, _, sig = token.partition(".")
    if not payload or not sig:
        raise TokenError(MALFORMED)
    want = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18]
    try:
        body = json.loads(_unb64(payload))
        got = _unb64(sig)
    except ValueError:
        raise TokenError(MALFORMED) from None
    if not isinstance(body, dict):
        raise TokenError(MALFORMED)
    return body, hmac.compare_digest(want, got)


def verify(key: bytes, token: str, now: dt.datetime) -> AckClaim:
    """The claim of a valid, unexpired token; :class:`TokenError` otherwise."""
    payload, _, sig = token.partition(".")
    if not payload or not sig:
        raise TokenError(MALFORMED)
    want = hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18]
    try:
        got = _unb64(sig)
        body = json.loads(_unb64(payload))
        ids = tuple(int(a) for a in body["a"])
        recipient = Recipient.parse(str(body["r"]))
        expires = dt.datetime.fromtimestamp(int(body["e"]), dt.UTC)
        nonce = str(body["n"])
        message_id = int(body["m"]) if "m" in body else None
    except (ValueError, KeyError, TypeError):
        raise TokenError(MALFORMED) from None
    if not hmac.compare_digest(want, got):
        raise TokenError(NOT_SIGNED)
    if now >= expires:
        raise TokenError(EXPIRED)
    return AckClaim(ids, recipient, expires, nonce, message_id)
