"""One-tap approval links of ``approve`` runbooks: signed (HMAC-SHA256, the key of the acknowledgement links,
the same token shape as :mod:`siaga.notify.ack`), expiring, naming the runbook and its proposal. Pure.

Single use is the caller's part: an approver's use of a link is spent (``notify.links.spend_nonce`` on
``<nonce>:<approver>``), so a replayed approval does nothing; the run, once started, is spent too.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass

from siaga.notify.ack import TokenError, opened, seal

APPROVAL_TTL = dt.timedelta(hours=1)
APPROVAL_PATH = "/runbooks/approve/"
_IN_TEXT = re.compile(re.escape(APPROVAL_PATH) + r"([A-Za-z0-9_.=-]+)")


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


def approval_token_in(text: str) -> str | None:
    """The approval token of the first approval link in ``text`` (a message that proposes a runbook), if any:
    a Telegram Approve button stands for that link and is checked at use exactly as the link is."""
    found = _IN_TEXT.search(text)
    return found.group(1) if found else None


@dataclass(frozen=True)
class Approval:
    """What one use of an approval (a link's form, a Telegram button) did. ``refused``: why it counts for
    nothing (a bad, expired or foreign token, an unknown runbook, a replay: ``used already``); else the approvals
    so far and whether this one started the run."""

    runbook: str
    refused: str | None = None
    count: int = 0
    needed: int = 1
    started: bool = False


__all__ = ["APPROVAL_PATH", "APPROVAL_TTL", "Approval", "ApprovalClaim", "approval_token_in", "sign_approval",
           "verify_approval"]
