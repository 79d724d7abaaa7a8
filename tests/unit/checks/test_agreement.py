"""Probes from two places (siaga.checks.agreement): k-of-n agreement, the room's call, the colocation's plan."""

from __future__ import annotations

import datetime as dt

import pytest

from siaga.checks.agreement import (
    Call,
    ColoPlan,
    ColoView,
    PeerLink,
    agreed_down,
    colo_plan,
    needed,
    room_call,
)
from siaga.checks.confirm import Status

UP, DOWN, UNKNOWN = Status.up, Status.down, Status.unknown
T0 = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("verdicts", "agree", "down"), [
    ({"room": DOWN, "colo": DOWN}, None, True),
    ({"room": DOWN, "colo": UP}, None, False),  # default: all that answer
    ({"room": DOWN, "colo": UNKNOWN}, None, True),  # the colocation does not answer: the room alone
    ({"room": DOWN, "colo": UP}, 1, True),
    ({"room": DOWN, "colo": UP, "third": DOWN}, 2, True),
    ({"room": DOWN, "colo": UP, "third": UP}, 2, False),
    ({"room": DOWN}, 2, True),  # agree is capped by the locations that answer
    ({"room": UNKNOWN, "colo": UNKNOWN}, None, False),
    ({}, None, False),
])
def test_k_of_n_locations_must_agree_on_down(verdicts: dict[str, Status], agree: int | None, down: bool) -> None:
    assert agreed_down(verdicts, agree) is down


def test_needed_is_at_least_one_and_at_most_those_that_answer() -> None:
    assert (needed(None, 3), needed(2, 3), needed(5, 2), needed(None, 0)) == (3, 2, 2, 1)


def heard(**verdicts: Status) -> ColoView:
    return ColoView(PeerLink.heard, verdicts)


def test_the_room_pages_an_outage_both_places_see() -> None:
    assert room_call("portal", ["portal-http"], {"portal-http": DOWN}, heard(**{"portal-http": DOWN})) is Call.down


def test_the_room_does_not_page_a_check_the_colocation_reports_passing() -> None:
    assert room_call("portal", ["portal-http"], {"portal-http": DOWN}, heard(**{"portal-http": UP})) is Call.disputed


def test_agree_one_makes_the_room_alone_enough() -> None:
    colo = ColoView(PeerLink.heard, {"portal-http": UP}, agree=1)
    assert room_call("portal", ["portal-http"], {"portal-http": DOWN}, colo) is Call.down


def test_a_check_the_colocation_does_not_probe_is_the_rooms_alone() -> None:
    own = {"portal-http": UP, "intranet-http": DOWN}
    assert room_call("intranet", ["intranet-http"], own, heard(**{"portal-http": UP})) is Call.down
    assert room_call("intranet", ["intranet-http"], own, None) is Call.down
    assert room_call("portal", ["portal-http"], own, heard(**{"portal-http": UP})) is Call.up


def test_a_silent_colocation_and_every_probed_check_down_here_is_the_uplink_not_outages() -> None:
    own = {"portal-http": DOWN, "mail-tcp": DOWN, "intranet-http": UP}  # intranet is not probed from outside
    silent = ColoView(PeerLink.silent, {"portal-http": UP, "mail-tcp": UP})
    assert room_call("portal", ["portal-http"], own, silent) is Call.uplink
    own["mail-tcp"] = UP  # one probed check still passes from here: the uplink works, portal is down
    assert room_call("portal", ["portal-http"], own, silent) is Call.down
    stopped = ColoView(PeerLink.stopped, {"portal-http": UP, "mail-tcp": UP})  # a planned stop: decide alone
    assert room_call("portal", ["portal-http"], {"portal-http": DOWN, "mail-tcp": DOWN}, stopped) is Call.down


def test_the_room_waits_for_a_word_the_colocation_sent_after_the_outage_was_confirmed_here() -> None:
    own = {"portal-http": DOWN}
    stale = ColoView(PeerLink.heard, {"portal-http": DOWN}, told_at=T0)  # queued while the room was frozen
    assert room_call("portal", ["portal-http"], own, stale, since=T0 + dt.timedelta(seconds=1)) is Call.pending
    fresh = ColoView(PeerLink.heard, {"portal-http": DOWN}, told_at=T0 + dt.timedelta(seconds=2))
    assert room_call("portal", ["portal-http"], own, fresh, since=T0 + dt.timedelta(seconds=1)) is Call.down
    taken = ColoView(PeerLink.heard, {"portal-http": DOWN}, paged=frozenset({"portal"}), told_at=T0)
    assert room_call("portal", ["portal-http"], own, taken, since=T0 + dt.timedelta(seconds=1)) is Call.taken
    # a check the colocation does not probe needs no word from it
    assert room_call("intranet", ["intranet-http"], {"intranet-http": DOWN}, stale, since=T0) is Call.down


def test_an_outage_the_colocation_paged_is_not_paged_again_by_the_room() -> None:
    colo = ColoView(PeerLink.heard, {"portal-http": DOWN}, paged=frozenset({"portal"}))
    assert room_call("portal", ["portal-http"], {"portal-http": DOWN}, colo) is Call.taken


SERVICE_OF = {"portal-http": "portal", "mail-tcp": "mail"}


def plan(previous: ColoPlan, room: PeerLink, told: dict[str, Status], own: dict[str, Status],
         at: float = 0, agree: int | None = None, passed: float | None = None) -> ColoPlan:
    """The plan at ``at`` s; every check up here passed its last attempt at ``passed`` s (default: just now)."""
    last = T0 + dt.timedelta(seconds=at + 0.1 if passed is None else passed)
    return colo_plan(previous, room=room, told=told, own=own, service_of=SERVICE_OF, agree=agree,
                     passed_at={c: last if v is UP else None for c, v in own.items()},
                     now=T0 + dt.timedelta(seconds=at))


def test_the_colocation_says_uplink_down_when_the_room_fails_what_passes_from_here() -> None:
    p = plan(ColoPlan(), PeerLink.heard, {"portal-http": DOWN, "mail-tcp": UP}, {"portal-http": UP, "mail-tcp": UP})
    assert p.uplink_down and p.uplink_checks == ("portal-http",) and p.uplink_since == T0 and not p.taken
    p = plan(p, PeerLink.heard, {"portal-http": DOWN, "mail-tcp": DOWN}, {"portal-http": UP, "mail-tcp": UP}, 5)
    assert p.uplink_since == T0 and p.uplink_checks == ("portal-http", "mail-tcp")  # the same episode
    p = plan(p, PeerLink.silent, {}, {"portal-http": UP, "mail-tcp": UP}, 9)  # then silent: its last word stands
    assert p.uplink_since == T0
    p = plan(p, PeerLink.heard, {"portal-http": UP, "mail-tcp": UP}, {"portal-http": UP, "mail-tcp": UP}, 12)
    assert not p.uplink_down and p.uplink_checks == ()


def test_up_from_here_counts_only_when_an_attempt_passed_after_the_room_said_down() -> None:
    up = {"portal-http": UP}
    p = plan(ColoPlan(), PeerLink.heard, {"portal-http": DOWN}, up, at=5, passed=4)  # older than the room's word
    assert not p.uplink_down and p.seen_down == {"portal-http": T0 + dt.timedelta(seconds=5)}
    p = plan(p, PeerLink.heard, {"portal-http": DOWN}, up, at=6, passed=5)  # still not after it
    assert not p.uplink_down
    p = plan(p, PeerLink.heard, {"portal-http": DOWN}, up, at=7, passed=6.5)  # probed again and passed: uplink
    assert p.uplink_since == T0 + dt.timedelta(seconds=7)
    p = plan(p, PeerLink.heard, {"portal-http": DOWN}, {"portal-http": DOWN}, at=8)  # it failed here too: an outage
    assert not p.uplink_down


def test_down_from_both_is_an_outage_not_the_uplink_and_the_colocation_leaves_it_to_the_room() -> None:
    p = plan(ColoPlan(), PeerLink.heard, {"portal-http": DOWN}, {"portal-http": DOWN, "mail-tcp": UP})
    assert not p.uplink_down and not p.taken
    # one down from both, one only from the room: the room reaches something, so not its uplink
    p = plan(ColoPlan(), PeerLink.heard, {"portal-http": DOWN, "mail-tcp": DOWN}, {"portal-http": DOWN, "mail-tcp": UP})
    assert not p.uplink_down


def test_agree_one_leaves_no_disagreement_to_call_the_uplink() -> None:
    p = plan(ColoPlan(), PeerLink.heard, {"portal-http": DOWN}, {"portal-http": UP}, agree=1)
    assert not p.uplink_down


def test_while_the_room_is_silent_the_colocation_pages_what_it_confirms_and_hands_back_when_heard() -> None:
    own = {"portal-http": DOWN, "mail-tcp": UP}
    p = plan(ColoPlan(), PeerLink.silent, {}, own, 1)
    assert dict(p.taken) == {"portal": T0 + dt.timedelta(seconds=1)}
    p = plan(p, PeerLink.heard, {"portal-http": DOWN}, {"portal-http": DOWN, "mail-tcp": DOWN}, 2)
    assert set(p.taken) == {"portal"}  # kept until its probes see it up; mail is the room's to decide
    p = plan(p, PeerLink.heard, {"portal-http": DOWN}, {"portal-http": UP, "mail-tcp": DOWN}, 3)
    assert dict(p.taken) == {}
    p = plan(p, PeerLink.stopped, {}, {"portal-http": UP, "mail-tcp": DOWN}, 4)  # a planned stop: takes over too
    assert set(p.taken) == {"mail"}


def test_a_room_never_heard_yet_is_not_taken_over_before_its_window() -> None:
    p = plan(ColoPlan(), PeerLink.waiting, {}, {"portal-http": DOWN})
    assert p == ColoPlan()
