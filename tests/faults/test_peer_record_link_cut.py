"""The off-site record over a link cut for real: two ``siaga serve`` processes (the room on SQLite, the
colocation on PostgreSQL) in network namespaces of their own, joined by one veth pair; the pair is set
down while the room raises and clears leak alerts, then up again. Afterwards the colocation holds every
event the room recorded, each once, in the room's order; a batch sent again applies nothing; a replayed
or forged request is refused. Root only (``ip netns``)."""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from siaga.alerts.tables import alert_events, alerts
from siaga.peers import outbox, record
from siaga.peers.sender import RECORDS_PATH
from siaga.peers.signing import sign
from siaga.peers.testlink import SECRET, PeerLink, colo_ids, room_ids
from siaga.store import create_engine_for, sqlite_url
from siaga.store.testserver import PostgresServer, pg_bindir

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and ip netns"),
    pytest.mark.skipif(pg_bindir() is None, reason="PostgreSQL is not installed"),
]


@pytest.fixture
def link(tmp_path: Path) -> Iterator[PeerLink]:
    bindir = pg_bindir()
    assert bindir is not None
    pg = PostgresServer(bindir).start()
    # the colocation reaches its store by the server's unix socket (its namespace has its own loopback)
    url = f"postgresql+psycopg://postgres@/postgres?host={pg.root}&port={pg.port}"
    made = PeerLink(tmp_path, url, sensors=12)
    try:
        made.make()
        made.start()
        yield made
    finally:
        made.close()
        pg.remove()


def wait_for(what, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = what()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what.__doc__}")


def wave(link: PeerLink, client: httpx.Client, wet: float) -> None:
    link.push(client, [(f"leak-{i}", wet) for i in range(link.sensors)])


def test_the_record_crosses_a_cut_link_with_nothing_lost_or_doubled(link: PeerLink) -> None:
    room = create_engine_for(sqlite_url(link.room.folder / "state" / "siaga.db"))
    colo = create_engine_for(link.colo_store_url)
    client = httpx.Client()
    try:
        wave(link, client, 1.0)

        def delivered() -> bool:
            """the colocation holds what the room recorded"""
            ids, got = room_ids(room), colo_ids(colo)
            return bool(ids) and got == ids
        wait_for(delivered, 30)

        link.cut()
        before = len(colo_ids(colo))
        for wet in (0.0, 1.0, 0.0, 1.0, 0.0):  # alerts clear and come back while the link is down
            wave(link, client, wet)
            time.sleep(4)
        with room.connect() as conn:
            waiting = outbox.depth(conn, "colo")
        assert waiting.depth > 0 and waiting.lag_s > 10
        assert len(colo_ids(colo)) == before  # nothing crossed a link that is down

        link.restore()
        wait_for(delivered, 60)
        ids = colo_ids(colo)
        assert len(ids) == len(set(ids))  # nothing doubled
        with room.connect() as conn:
            room_events = {int(r) for r in conn.execute(select(alert_events.c.id)).scalars()}
            room_alerts = {(int(a.id), a.state) for a in conn.execute(select(alerts.c.id, alerts.c.state))}
        with colo.connect() as conn:
            colo_events = {int(r.id) for r in record.latest_rows(conn, "ruang", "alert_events")}
            colo_alerts = {(a.id, a.state.value) for a in record.remote_alerts(conn, "ruang")}
        assert colo_events == room_events and len(room_events) >= 3 * link.sensors
        assert colo_alerts == room_alerts and any(state == "resolved" for _, state in room_alerts)

        # A batch sent again (a sender that did not hear the answer) applies nothing twice.
        with room.connect() as conn:
            batch = outbox.batch(conn, "ruang", 0, limit=50)
        body = json.dumps({"site": "ruang", "events": batch}).encode()
        headers = sign(SECRET.encode(), method="POST", path=RECORDS_PATH, body=body, sender="ruang", now=time.time())
        url = link.colo.base + RECORDS_PATH
        answer = client.post(url, content=body, headers=headers)
        assert answer.status_code == 200 and answer.json()["applied"] == 0
        # The same request replayed (its nonce seen) and a forged one (a wrong secret) are refused.
        replayed = client.post(url, content=body, headers=headers)
        assert replayed.status_code == 401 and replayed.json()["error"]["details"]["reason"] == "replay"
        forged = client.post(url, content=body, headers=sign(b"not the secret", method="POST", path=RECORDS_PATH,
                                                             body=body, sender="ruang", now=time.time()))
        assert forged.status_code == 401 and forged.json()["error"]["details"]["reason"] == "bad_signature"
        assert colo_ids(colo) == ids
    finally:
        client.close()
        room.dispose()
        colo.dispose()
