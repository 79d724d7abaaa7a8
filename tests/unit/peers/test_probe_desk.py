"""The adapters of probes from both places (siaga.peers.probes): what the heartbeats carry, which alerts each
site raises, which service-down conditions the room passes on. Fakes for the runtime; no network."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest

from siaga.alerts.model import Condition, SubjectKind
from siaga.checks.base import CheckResult
from siaga.checks.confirm import CheckState, Status
from siaga.config.peers import Peers
from siaga.peers.hub import PeerHub
from siaga.peers.probes import TAKEOVER_RULE, UPLINK_RULE, AgreedSink, ProbeDesk
from siaga.vocab import Severity

NOW = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)
PROBE = {"id": "portal-http", "service": "portal", "type": "http", "url": "http://10.0.0.9/",
         "confirm": {"failures": 1, "successes": 1}}


@dataclass
class Alerts:
    raised: list[tuple[str, bool, str]] = field(default_factory=list)

    def system_alert(self, subject: str, active: bool, *, rule: str, **_: Any) -> None:
        self.raised.append((subject, active, rule))


def ctx(alerts: Alerts) -> Any:
    return SimpleNamespace(services=SimpleNamespace(alerts=alerts), clock=lambda: NOW,
                           loaded=SimpleNamespace(base_dir=None))


def colo_side() -> tuple[ProbeDesk, PeerHub, Alerts]:
    peers = Peers.model_validate({"site_id": "colo", "sites": [
        {"id": "bontang", "name": "Ruang Uji", "role": "watches", "url": "http://room", "secret_file": "s",
         "probes": [PROBE]}]})
    hub = PeerHub(peers, {"bontang": b"x"}, now=NOW)
    alerts = Alerts()
    return ProbeDesk(ctx(alerts), hub), hub, alerts


def result(ok: bool, after_s: float = 0) -> CheckResult:
    return CheckResult("portal-http", "portal", NOW + dt.timedelta(seconds=after_s), ok, 3.0, "" if ok else "refused")


@pytest.mark.asyncio
async def test_the_colocation_warns_uplink_down_once_and_clears_it() -> None:
    desk, hub, alerts = colo_side()
    desk.rooms["bontang"].on_result(result(True))
    hub.heard("bontang", {"checks": {"portal-http": "down"}}, NOW)
    await desk.assess(NOW)  # up here, but from before the room's word: not yet
    assert alerts.raised == []
    desk.rooms["bontang"].on_result(result(True, 0.5))  # probed again at once, and it passes
    await desk.assess(NOW + dt.timedelta(seconds=1))
    await desk.assess(NOW + dt.timedelta(seconds=1.5))
    assert alerts.raised == [("bontang", True, UPLINK_RULE)]
    assert desk.status("bontang") == [{"check": "portal-http", "service": "portal", "room": "down",
                                       "colocation": "up", "uplink": True, "paged_here": False}]
    hub.heard("bontang", {"checks": {"portal-http": "up"}}, NOW)
    await desk.assess(NOW + dt.timedelta(seconds=2))
    assert alerts.raised[-1] == ("bontang", False, UPLINK_RULE)
    peer = hub.config.sites[0]
    assert desk.summary_for(peer) == {"probes": {"portal-http": "up"}, "agree": None, "paged": [],
                                      "told_at": NOW.isoformat()}


@pytest.mark.asyncio
async def test_the_colocation_pages_an_outage_it_confirms_while_the_room_is_silent_and_tells_the_room() -> None:
    desk, hub, alerts = colo_side()
    desk.rooms["bontang"].on_result(result(False))
    await desk.assess(NOW)  # never heard, window not over: nothing yet
    assert alerts.raised == []
    hub.assess(NOW + dt.timedelta(seconds=31))  # silent now
    await desk.assess(NOW + dt.timedelta(seconds=31))
    assert alerts.raised == [("bontang/portal", True, TAKEOVER_RULE)]
    assert desk.summary_for(hub.config.sites[0])["paged"] == ["portal"]
    hub.heard("bontang", {"checks": {"portal-http": "down"}}, NOW + dt.timedelta(seconds=32))
    hub.assess(NOW + dt.timedelta(seconds=32))
    await desk.assess(NOW + dt.timedelta(seconds=32))  # heard again: the outage stays the colocation's
    assert alerts.raised == [("bontang/portal", True, TAKEOVER_RULE)]
    desk.rooms["bontang"].on_result(result(True))
    await desk.assess(NOW + dt.timedelta(seconds=33))
    assert alerts.raised[-1] == ("bontang/portal", False, TAKEOVER_RULE)


@dataclass
class Inner:
    got: list[Condition] = field(default_factory=list)

    def submit(self, condition: Condition) -> None:
        self.got.append(condition)


def room_side() -> tuple[AgreedSink, PeerHub, Inner, Any]:
    peers = Peers.model_validate({"site_id": "bontang", "sites": [
        {"id": "colo", "role": "watched_by", "url": "http://colo", "secret_file": "s"}]})
    hub = PeerHub(peers, {"colo": b"x"}, now=NOW)
    monitor = SimpleNamespace(checks=[SimpleNamespace(check_id="portal-http", service="portal")],
                              states={"portal-http": CheckState(Status.down)}, checks_of={"portal": ["portal-http"]})
    inner = Inner()
    clock = SimpleNamespace(now=NOW)
    sink = AgreedSink(inner, monitor, hub, peers.sites[0], lambda: clock.now)  # type: ignore[arg-type]
    return sink, hub, inner, clock


def down(active: bool = True) -> Condition:
    return Condition(rule="service.down", subject="portal", subject_kind=SubjectKind.service, active=active,
                     severity=Severity.critical, at=NOW, fire_at_once=True)


def told(seconds: float) -> str:
    return (NOW + dt.timedelta(seconds=seconds)).isoformat()


def test_the_room_holds_an_outage_the_colocation_sees_passing_and_passes_it_on_when_they_agree() -> None:
    sink, hub, inner, _clock = room_side()
    hub.heard("colo", {"probes": {"portal-http": "up"}, "told_at": told(-1)}, NOW)
    sink.submit(down())
    assert inner.got == [] and sink.calls["portal"].value == "pending"  # its word is older than the outage
    hub.heard("colo", {"probes": {"portal-http": "up"}, "told_at": told(1)}, NOW)
    sink.reassess()
    assert inner.got == [] and sink.calls["portal"].value == "disputed"
    hub.heard("colo", {"probes": {"portal-http": "down"}, "told_at": told(2)}, NOW)
    sink.reassess()
    sink.reassess()
    assert len(inner.got) == 1 and inner.got[0].params["locations"] == {
        "portal-http": {"room": "down", "colocation": "down"}}
    sink.submit(down(active=False))
    assert [c.active for c in inner.got] == [True, False]
    sink.submit(Condition(rule="tls.expiry", subject="portal", subject_kind=SubjectKind.service, active=True,
                          severity=Severity.warning, at=NOW))
    assert inner.got[-1].rule == "tls.expiry"  # other rules pass as they are


def test_the_room_does_not_page_what_the_colocation_paged_nor_what_its_own_uplink_explains() -> None:
    sink, hub, inner, _clock = room_side()
    hub.heard("colo", {"probes": {"portal-http": "down"}, "paged": ["portal"]}, NOW)
    sink.submit(down())
    assert inner.got == [] and sink.calls["portal"].value == "taken"
    hub.heard("colo", {"probes": {"portal-http": "up"}, "paged": []}, NOW)
    hub.assess(NOW + dt.timedelta(seconds=31))  # the colocation silent; the only probed check down here
    sink.reassess()
    assert inner.got == [] and sink.calls["portal"].value == "uplink"
    assert sink.hub.states["colo"].summary["probes"] == {"portal-http": "up"}


def test_a_room_without_a_colocation_that_probes_pages_alone() -> None:
    sink, hub, inner, _clock = room_side()
    hub.heard("colo", {}, NOW)
    sink.submit(down())
    assert len(inner.got) == 1
