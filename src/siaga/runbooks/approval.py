"""One-tap approval links of ``approve`` runbooks: signed (HMAC-SHA256, the key of the acknowledgement links,
the same token shape as :mod:`siaga.notify.ack`), expiring, naming the runbook and its proposal. Pure.

Single use is the caller's part: an approver's use of a link is spent (``notify.links.spend_nonce`` on
``<nonce>:<approver>``), so a replayed approval does nothing; the run, once started, is spent too.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from siaga.notify.ack import TokenError, opened, seal

APPROVAL_TTL = dt.timedelta(hours=1)


@dataclass(frozen=True)
class ApprovalClaim:
    runbook: str
    proposal: int
    expires: dt.datetime
    nonce: str


def sign_approval(key: bytes, runbook: str, proposal: int, now: dt.datetime,
                  ttl: dt.timedelta = APPROVAL_TTL, nonce: str | None = None) -> str:
    return seal(key, {"k": "runbook", "b": runbook, "p": proposal, "e": int((now + ttl).timestamp()),
                      "n": nonce or secrets.token_urlsafe(9)})


def verify_approval(key: bytes, token: str, now: dt.datetime) -> ApprovalClaim:
    """The claim of a valid, unexpired approval link; :class:`TokenError` otherwise."""
    body, signed = opened(key, token)
    try:
        if body["k"] != "runbook":
            raise ValueError("not an approval link")
        claim = ApprovalClaim(str(body["b"]), int(str(body["p"])),
                              dt.datetime.fromtimestamp(int(str(body["e"])), dt.UTC), str(body["n"]))
    except (ValueError, KeyError, TypeError):
        raise TokenError("malformed link") from None
    if not signed:
        raise TokenError("link not signed by this siaga")
    if now >= claim.expires:
        raise TokenError("link expired")
    return claim


__all__ = ["APPROVAL_TTL", "ApprovalClaim", "sign_approval", "verify_approval"]
