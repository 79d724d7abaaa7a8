"""Two real sites (``bench/peer_drills.py``): a room siaga (SQLite) and a colocation siaga (PostgreSQL), each
``siaga serve`` in a network namespace of its own, heartbeats every 1 s, silence window 3 s, the colocation
paging a real webhook receiver.

- the room killed (-9): the colocation pages "silent" with the last state the room told;
- the room's link cut: the colocation pages the silence, the room warns that the colocation is unreachable;
- a planned stop (SIGTERM): a goodbye, no page;
- forged and replayed heartbeats: refused (401) and counted in /metrics.

One pair of sites serves the module (about 10 s to start); each test leaves the room running.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import pytest

from siaga.peers.signing import sign

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

WINDOW = 3.0


@pytest.fixture(scope="module")
def drills(peer_drills: ModuleType) -> ModuleType:
    return peer_drills


@pytest.fixture(scope="module")
def sites(drills: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    two = drills.TwoSites(tmp_path_factory.mktemp("peers"), interval=1.0, window=WINDOW, poll=1.0)
    try:
        two.open()
    except drills.Skip as exc:
        pytest.skip(str(exc))
    try:
        two.wait_heard()
        yield two
    finally:
        two.close()


def pages_after(sites: Any, t0: float, text: str = "") -> list[tuple[float, dict[str, Any]]]:
    return [(t - t0, body) for t, body in sites.hook.pages(text) if t > t0]


def wait_page(sites: Any, t0: float, text: str, timeout: float) -> list[tuple[float, dict[str, Any]]]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = pages_after(sites, t0, text)
        if got:
            return got
        time.sleep(0.05)
    return []


def post(url: str, body: bytes, headers: dict[str, str]) -> int:
    req = urllib.request.Request(url, data=body, method="POST", headers={**headers, "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return int(r.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)


def metric(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
            total += float(line.rsplit(" ", 1)[1])
    return total


def test_forged_and_replayed_heartbeats_are_refused_and_counted(sites: Any, drills: ModuleType) -> None:
    path = "/api/v1/peers/heartbeat"
    url = sites.colo.url + path
    body = json.dumps({"kind": "goodbye", "site": "bontang", "summary": {}}).encode()
    forged = sign(b"not-the-secret", method="POST", path=path, body=body, sender="bontang", now=time.time())
    assert post(url, body, forged) == 401
    good = sign(drills.SECRET.encode(), method="POST", path=path, body=body, sender="bontang", now=time.time())
    tampered = json.dumps({"kind": "heartbeat", "site": "bontang", "summary": {}}).encode()
    assert post(url, tampered, good) == 401  # the body is not the one signed
    stale = sign(drills.SECRET.encode(), method="POST", path=path, body=body, sender="bontang", now=time.time() - 300)
    assert post(url, body, stale) == 401
    # a real heartbeat captured and sent again: refused as a replay (the first one passes)
    hb = json.dumps({"kind": "heartbeat", "site": "bontang", "summary": {}}).encode()
    signed = sign(drills.SECRET.encode(), method="POST", path=path, body=hb, sender="bontang", now=time.time())
    assert post(url, hb, signed) == 200
    assert post(url, hb, signed) == 401
    text = sites.metrics(sites.colo)
    assert metric(text, "siaga_peer_requests_refused_total", peer="bontang", reason="bad_signature") == 2
    assert metric(text, "siaga_peer_requests_refused_total", peer="bontang", reason="stale") == 1
    assert metric(text, "siaga_peer_requests_refused_total", peer="bontang", reason="replay") == 1
    assert metric(text, "siaga_peer_up", peer="bontang") == 1
    assert sites.hook.pages("") == [] or all("bontang" not in str(b) for _t, b in sites.hook.pages(""))


def test_a_planned_stop_says_goodbye_and_pages_nobody(sites: Any) -> None:
    t0 = time.monotonic()
    assert sites.room.stop() == 0
    time.sleep(WINDOW + 2)
    assert pages_after(sites, t0) == []
    assert sites.peer_row(sites.colo, "bontang")["status"] == "stopped"
    sites.restart_room()


def test_the_room_killed_pages_the_colocation_within_the_window_with_the_last_known_state(sites: Any) -> None:
    assert sites.room.push("leak-r1", 1) == 200  # water in R1: the room's own alert, told in its heartbeat
    deadline = time.monotonic() + 10
    while sites.peer_row(sites.colo, "bontang").get("open_alerts", 0) < 1 and time.monotonic() < deadline:
        time.sleep(0.2)
    t0 = time.monotonic()
    sites.room.kill()
    got = wait_page(sites, t0, "Ruang Server Diskominfo", WINDOW + 5)
    assert got, sites.colo.tail()
    latency, body = got[0]
    assert latency <= WINDOW + 1, latency  # refused connections (poll 1 s) usually make it far sooner
    assert "leak leak-r1" in body["message"], body  # the last known state: the leak in R1
    assert "1" in body["message"]
    assert len(pages_after(sites, t0, "Ruang Server Diskominfo")) == 1
    sites.room.start()
    sites.wait_heard()
    sites.room.push("leak-r1", 0)


def test_a_cut_link_pages_the_silence_at_the_colocation_and_warns_at_the_room(sites: Any) -> None:
    t0 = time.monotonic()
    sites.net.cut_room()
    try:
        got = wait_page(sites, t0, "Ruang Server Diskominfo", WINDOW + 5)
        assert got, sites.colo.tail()
        assert got[0][0] <= WINDOW + 1.5
        deadline = time.monotonic() + WINDOW + 5
        while ("firing", "warning") not in sites.room_alerts("peer.unreachable") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ("firing", "warning") in sites.room_alerts("peer.unreachable"), sites.room.tail()
    finally:
        sites.net.restore_room()
    sites.wait_heard()


def test_siaga_peers_shows_each_side_from_its_store(sites: Any) -> None:
    [row] = json.loads(sites.siaga(sites.colo, "peers", "--json"))
    assert (row["peer"], row["role"], row["status"]) == ("bontang", "watches", "up")
    assert row["version"] and row["age_s"] < WINDOW and row["outbox_depth"] is None
    [row] = json.loads(sites.siaga(sites.room, "peers", "--json"))
    assert (row["peer"], row["role"], row["status"]) == ("colo", "watched_by", "up")
