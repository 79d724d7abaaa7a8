"""Probes from both places, for real (``bench/peer_probes.py``): a room siaga and a colocation siaga (``siaga
serve`` each, in network namespaces the test makes, heartbeats every 0.5 s) check the same nginx on the test's
bridge; both page the same webhook receiver.

- nginx stopped: down from both places → exactly one service-down page (the room's);
- nginx unreachable from the room only (a route in the room's namespace: its uplink to it is gone) while the
  colocation reaches it → one "uplink down" page (the colocation's), no service-down page.

The takeover while the room is silent is a drill of the same module (``python bench/peer_probes.py``): it waits
for a silence window, too long for the suite; the decision is unit-tested (tests/unit/checks/test_agreement.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from .conftest import bench_module

pytestmark = [pytest.mark.integration]


@pytest.fixture(scope="module")
def probes() -> ModuleType:
    return bench_module("peer_probes")


@pytest.fixture(scope="module")
def sites(probes: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    # no test waits for a silence: a 5 s window keeps a loaded machine from faking one
    two = probes.ProbeSites(tmp_path_factory.mktemp("probes"), heartbeat=0.5, window=5.0)
    try:
        two.open()
    except probes.Skip as exc:
        pytest.skip(str(exc))
    try:
        yield two
    finally:
        two.close()


def test_a_service_down_from_both_places_is_paged_once(sites: Any, probes: ModuleType) -> None:
    got = probes.both(sites)
    assert got["service_down_pages"] == 1 and got["uplink_pages"] == 0, got
    assert [(p["check"], p["room"], p["colocation"]) for p in got["probes_colo"]] == [("portal-http", "down", "down")]
    assert [(p["room"], p["colocation"], p["call"]) for p in got["probes_room"]] == [("down", "down", "down")]


def test_down_only_from_the_room_while_the_colocation_reaches_it_is_the_uplink_not_an_outage(
        sites: Any, probes: ModuleType) -> None:
    got = probes.uplink(sites, wait_up=False)  # the last scenario: teardown stops everything
    assert got["uplink_pages"] == 1 and got["service_down_pages"] == 0, got
    assert [(p["room"], p["colocation"], p["uplink"]) for p in got["probes_colo"]] == [("down", "up", True)]
    assert [(p["room"], p["colocation"], p["call"]) for p in got["probes_room"]] == [("down", "up", "disputed")]
