"""Approval links (pure): signed by this siaga's key, expiring, not interchangeable with acknowledgement links."""

from __future__ import annotations

import datetime as dt

import pytest

from siaga.notify import ack
from siaga.notify.ack import TokenError
from siaga.notify.model import Recipient
from siaga.runbooks.approval import sign_approval, verify_approval

KEY = b"k" * 64
NOW = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)


def test_a_fresh_link_names_its_runbook_and_proposal():
    claim = verify_approval(KEY, sign_approval(KEY, "shutdown-r1", 7, NOW), NOW + dt.timedelta(minutes=59))
    assert (claim.runbook, claim.proposal) == ("shutdown-r1", 7)


@pytest.mark.parametrize(("token", "reason"), [
    (sign_approval(KEY, "shutdown-r1", 7, NOW), "link expired"),  # used after its hour
    (sign_approval(b"x" * 64, "shutdown-r1", 7, NOW + dt.timedelta(hours=2)), "link not signed by this siaga"),
    (ack.sign(KEY, (1,), Recipient.parse("person:andi"), NOW + dt.timedelta(hours=2), dt.timedelta(hours=1)),
     "malformed link"),  # an acknowledgement link approves nothing
    ("garbage", "malformed link"),
])
def test_a_link_that_cannot_be_used_says_why(token, reason):
    with pytest.raises(TokenError, match=reason):
        verify_approval(KEY, token, NOW + dt.timedelta(hours=2))


def test_an_approval_link_acknowledges_nothing():
    with pytest.raises(TokenError):
        ack.verify(KEY, sign_approval(KEY, "shutdown-r1", 7, NOW), NOW)
