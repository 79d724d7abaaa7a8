"""One-tap approval links of ``approve`` runbooks: signed (HMAC-SHA256, the key of the acknowledgement links,
the same token shape as :mod:`siaga.notify.ack`), expiring, naming the runbook, its proposal and the recipient
the link was sent to (``person:<id>`` or ``group:<id>``), like the acknowledgement links: each person the
proposal is sent to gets a link of their own, made when their message is written. Pure.

Single use is the caller's part: a person's approval of a proposal is spent once
(``notify.links.spend_nonce`` on :func:`spent_key`), so a replayed approval, or the same person approving again
by another way (the link, then Telegram), does nothing; the run, once started, is spent too.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

from siaga.i18n.messages import Message
from siaga.notify.ack import EXPIRED, MALFORMED, NOT_SIGNED, TokenError, opened, seal

APPROVAL_TTL = dt.timedelta(hours=1)
APPROVAL_PATH = "/runbooks/approve/"
PROPOSED_RULE = "runbook.proposed"
_IN_TEXT = re.compile(re.escape(APPROVAL_PATH) + r"([A-Za-z0-9_.=-]+)")


@dataclass(frozen=True)
class ApprovalClaim:
    runbook: str
    proposal: int
    recipient: str  # "person:<id>" or "group:<id>": whom the link was sent to
    expires: dt.datetime

    @property
    def person(self) -> str | None:
        """The person the link was sent to (None for a group's link)."""
        kind, _, ident = self.recipient.partition(":")
        return ident if kind == "person" and ident else None


def sign_approval(key: bytes, runbook: str, proposal: int, recipient: str, expires: dt.datetime) -> str:
    """A link for ``recipient`` (``person:<id>``, ``group:<id>``) to approve ``proposal`` of ``runbook`` until
    ``expires`` (the proposal's time plus :data:`APPROVAL_TTL`, the same for every recipient and round)."""
    return seal(key, {"k": "runbook", "b": runbook, "p": proposal, "r": recipient, "e": int(expires.timestamp())})


def verify_approval(key: bytes, token: str, now: dt.datetime) -> ApprovalClaim:
    """The claim of a valid, unexpired approval link; :class:`TokenError` otherwise."""
    body, signed = opened(key, token)
    try:
        if body["k"] != "runbook":
            raise ValueError("not an approval link")
        claim = ApprovalClaim(str(body["b"]), int(str(body["p"])), str(body["r"]),
                              dt.datetime.fromtimestamp(int(str(body["e"])), dt.UTC))
    except (ValueError, KeyError, TypeError):
        raise TokenError(MALFORMED) from None
    if not signed:
        raise TokenError(NOT_SIGNED)
    if now >= claim.expires:
        raise TokenError(EXPIRED)
    return claim


def approval_url(key: bytes, public_url: str, summary: Message, recipient: str) -> Message:
    """``summary`` of a ``runbook.proposed`` alert with its ``url`` the approval link signed for ``recipient``
    (``person:<id>``, ``group:<id>``); any other summary as it is. Pure: notify calls it per message."""
    params = summary.params
    if summary.key != PROPOSED_RULE or "proposal" not in params or "expires" not in params:
        return summary
    try:
        token = sign_approval(key, str(params["runbook"]), int(params["proposal"]), recipient,
                              dt.datetime.fromtimestamp(int(params["expires"]), dt.UTC))
    except (TypeError, ValueError):
        return summary
    return Message(summary.key, {**params, "url": f"{public_url.rstrip('/')}{APPROVAL_PATH}{token}"}, summary.text)


def approval_token_in(text: str) -> str | None:
    """The approval token of the first approval link in ``text`` (a message that proposes a runbook), if any:
    a Telegram Approve button stands for that link and is checked at use exactly as the link is."""
    found = _IN_TEXT.search(text)
    return found.group(1) if found else None


def spent_key(proposal: int, person: str | None) -> str:
    """The single-use key of ``person``'s approval of ``proposal`` (None: of the run's start)."""
    text = f"runbook:{proposal}" if person is None else f"runbook:{proposal}:{person}"
    return text if len(text) <= 64 else "runbook:" + hashlib.sha256(text.encode()).hexdigest()[:56]


NO_SUCH_RUNBOOK = Message("approval.no_such_runbook")
GROUP_LINK = Message("approval.group_link")
NO_SUCH_PERSON = Message("approval.no_such_person")
USED = Message("approval.used")
"""Why an approval counts for nothing, besides the link's own :class:`~siaga.notify.ack.TokenError`."""


@dataclass(frozen=True)
class Approval:
    """What one use of an approval (a link's form, a Telegram button) did. ``refused``: why it counts for
    nothing, as a message worded per reader (a bad, expired or foreign token: ``link.*``; an unknown runbook or
    person, a group's link used on the web, a replay: ``approval.*``, :data:`USED` for the replay); else the
    approvals so far and whether this one started the run; ``name``: the approver's name."""

    runbook: str
    refused: Message | None = None
    count: int = 0
    needed: int = 1
    started: bool = False
    name: str = ""


__all__ = ["APPROVAL_PATH", "APPROVAL_TTL", "GROUP_LINK", "NO_SUCH_PERSON", "NO_SUCH_RUNBOOK", "PROPOSED_RULE", "USED",
           "Approval", "ApprovalClaim", "approval_token_in",
           "approval_url", "sign_approval",
           "spent_key", "verify_approval"]
