"""The link between the room and the colocation delayed and lossy, for real: two ``siaga serve`` processes
(the room on SQLite, the colocation on PostgreSQL) in network namespaces joined through a third one; while
the test's own relay (:mod:`siaga.peers.testrelay`) holds each frame there 200 ± 50 ms or drops one in ten,
the room raises and clears leak alerts; then the relay stops and the kernel forwards again. The colocation's
record converges (each event once, in the room's order, nothing lost) and the colocation raised no "silent"
alert while heartbeats were merely slow and lossy (every 1 s, the window 8 s). Root only (``ip netns``)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine, select, text

from siaga.alerts.tables import alert_events
from siaga.peers import record
from siaga.peers.testlink import PeerLink, colo_ids, room_ids
from siaga.store import create_engine_for, sqlite_url
from siaga.store.testserver import PostgresServer, pg_bindir

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0 or shutil.which("ip") is None, reason="needs root and ip netns"),
    pytest.mark.skipif(pg_bindir() is None, reason="PostgreSQL is not installed"),
]

HEARTBEAT, WINDOW = 1.0, 8.0  # 8 heartbeats: a few lost or retried in a row (10 % loss) stay under it
DELAY, JITTER, LOSS = 0.2, 0.05, 0.1


@pytest.fixture
def link(tmp_path: Path) -> Iterator[PeerLink]:
    bindir = pg_bindir()
    assert bindir is not None
    pg = PostgresServer(bindir).start()
    url = f"postgresql+psycopg://postgres@/postgres?host={pg.root}&port={pg.port}"
    made = PeerLink(tmp_path, url, sensors=6, middle=True, heartbeat=HEARTBEAT, window=WINDOW)
    try:
        made.make()
        made.start()
        yield made
    finally:
        made.close()
        pg.remove()


def wait_for(what: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return
        time.sleep(0.2)
    raise AssertionError(f"not within {timeout} s: {what.__doc__}")


def silent_alerts(colo: Engine) -> list[str]:
    with colo.connect() as conn:
        return [str(r.state) for r in conn.execute(text("SELECT state FROM alerts WHERE rule = 'peer.silent'"))]


def rtt_ms(link: PeerLink) -> list[float]:
    """Round trips from the room to the colocation over the peer link (ping)."""
    out = subprocess.run(["ip", "netns", "exec", link.room.ns, "ping", "-n", "-c", "4", "-i", "0.2", "-W", "2",
                          link.link_colo], capture_output=True, text=True, timeout=20).stdout
    return [float(m) for m in re.findall(r"time=([\d.]+) ms", out)]


def test_the_record_converges_over_a_slow_lossy_link_and_slow_heartbeats_page_nobody(link: PeerLink) -> None:
    room = create_engine_for(sqlite_url(link.room.folder / "state" / "siaga.db"))
    colo = create_engine_for(link.colo_store_url)
    client = httpx.Client()

    def wave(wet: float) -> None:
        link.push(client, [(f"leak-{i}", wet) for i in range(link.sensors)])

    def delivered() -> bool:
        """the colocation holds what the room recorded"""
        ids = room_ids(room)
        return bool(ids) and colo_ids(colo) == ids

    try:
        wave(1.0)
        wait_for(delivered, 15)  # over the kernel's forwarding: the colocation has heard the room too
        assert max(rtt_ms(link)) < 50
        before = len(colo_ids(colo))
        with link.slow(delay=DELAY, jitter=JITTER, loss=LOSS):
            slow = rtt_ms(link)
            assert slow and min(slow) >= 2 * (DELAY - JITTER) * 1000, slow  # the relay holds each frame
            for wet in (0.0, 1.0, 0.0):  # alerts clear and come back over the slow link
                wave(wet)
                time.sleep(2.0)
            crossed = len(colo_ids(colo))
            assert silent_alerts(colo) == []  # heartbeats slow and lossy, none missed for a whole window
        assert crossed > before  # delayed, not blocked: the record crossed while the link was slow
        assert max(rtt_ms(link)) < 50  # the kernel forwards again

        wait_for(delivered, 15)
        ids = colo_ids(colo)
        assert len(ids) == len(set(ids))  # nothing doubled
        with room.connect() as conn:
            room_events = {int(r) for r in conn.execute(select(alert_events.c.id)).scalars()}
        with colo.connect() as conn:
            colo_events = {int(r.id) for r in record.latest_rows(conn, "ruang", "alert_events")}
        assert colo_events == room_events and len(room_events) >= 4 * link.sensors  # nothing lost
        assert silent_alerts(colo) == []
    finally:
        client.close()
        room.dispose()
        colo.dispose()
