"""Approval links (pure): signed by this siaga's key for one recipient, expiring, not interchangeable with
acknowledgement links; a proposal's summary gets each recipient's own link."""

from __future__ import annotations

import datetime as dt

import pytest

from siaga.i18n.messages import Message
from siaga.notify import ack
from siaga.notify.ack import TokenError
from siaga.notify.model import Recipient
from siaga.runbooks.approval import PROPOSED_RULE, approval_url, sign_approval, verify_approval

KEY = b"k" * 64
NOW = dt.datetime(2026, 12, 6, 3, 0, tzinfo=dt.UTC)
HOUR = NOW + dt.timedelta(hours=1)


def test_a_fresh_link_names_its_runbook_proposal_and_person():
    claim = verify_approval(KEY, sign_approval(KEY, "shutdown-r1", 7, "person:andi", HOUR),
                            NOW + dt.timedelta(minutes=59))
    assert (claim.runbook, claim.proposal, claim.person) == ("shutdown-r1", 7, "andi")
    group = verify_approval(KEY, sign_approval(KEY, "shutdown-r1", 7, "group:tim", HOUR), NOW)
    assert group.person is None  # a group's link names no person


def test_each_recipient_of_a_proposal_gets_a_link_of_their_own():
    summary = Message(PROPOSED_RULE, {"runbook": "shutdown-r1", "proposal": 7, "expires": int(HOUR.timestamp()),
                                      "url": "http://siaga.test/runbooks"})
    urls = {who: str(approval_url(KEY, "http://siaga.test/", summary, who).params["url"])
            for who in ("person:andi", "person:sari")}
    claims = {who: verify_approval(KEY, url.rsplit("/", 1)[1], NOW) for who, url in urls.items()}
    assert {who: (c.person, c.proposal, c.expires) for who, c in claims.items()} == {
        "person:andi": ("andi", 7, HOUR), "person:sari": ("sari", 7, HOUR)}
    assert urls["person:andi"].startswith("http://siaga.test/runbooks/approve/")
    other = Message("leak", {"url": "x"})
    assert approval_url(KEY, "http://siaga.test", other, "person:andi") is other


@pytest.mark.parametrize(("token", "reason"), [
    (sign_approval(KEY, "shutdown-r1", 7, "person:andi", HOUR), "link expired"),  # used after its hour
    (sign_approval(b"x" * 64, "shutdown-r1", 7, "person:andi", NOW + dt.timedelta(hours=3)),
     "link not signed by this siaga"),
    (ack.sign(KEY, (1,), Recipient.parse("person:andi"), NOW + dt.timedelta(hours=2), dt.timedelta(hours=1)),
     "malformed link"),  # an acknowledgement link approves nothing
    ("garbage", "malformed link"),
])
def test_a_link_that_cannot_be_used_says_why(token, reason):
    with pytest.raises(TokenError, match=reason):
        verify_approval(KEY, token, NOW + dt.timedelta(hours=2))


def test_an_approval_link_acknowledges_nothing():
    with pytest.raises(TokenError):
        ack.verify(KEY, sign_approval(KEY, "shutdown-r1", 7, "person:andi", HOUR), NOW)
