"""Acknowledging on either side is seen on both: two real ``siaga serve`` (the room on SQLite, the colocation on
PostgreSQL), each in a network namespace of its own (``bench/peer_drills.py``), heartbeats every 10 s (the
default); the room pages a real webhook and repeats every second while nobody acknowledges.

- acknowledged at the colocation (``siaga peer-records ROOM --ack N``): the acknowledgement comes back on the
  answer to the room's held wait within a second (not at its next heartbeat), the room's escalation stops (the
  webhook hears no further reminder), its timeline says who and ``via peer:colo``, and the room confirms it;
- acknowledged at the room (as ``siaga alerts ack`` does): the colocation shows it acknowledged, by whom.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

T = TypeVar("T")
HEARTBEAT = 10.0  # the default: the acknowledgement must not wait for the next heartbeat

ROOM = """
site: {{name: Diskominfo Kota Bontang, timezone: Asia/Makassar, language: id}}
store: {{data_dir: data}}
rooms: [{{id: ruang, name: Ruang Server}}]
racks: [{{id: R1, room: ruang}}, {{id: R2, room: ruang}}]
sensors:
  - {{id: leak-r1, kind: leak, rack: R1, zone: floor, source: {{type: http, gateway: gw}}}}
  - {{id: leak-r2, kind: leak, rack: R2, zone: floor, source: {{type: http, gateway: gw}}}}
http_push:
  gateways: [{{id: gw, token_file: leak.token}}]
people:
  - {{id: andi, name: Andi, contacts: {{hook: ""}}}}
notification:
  channels:
    hook: {{type: webhook, url: "{hook}"}}
  storm: {{group_window: 0s, rate_per_minute: 600}}
  delivery: {{attempts: 3, backoff: 0.2s, backoff_max: 1s, timeout: 2s}}
escalation:
  - id: room
    match: {{severity_at_least: info}}
    repeat_every: 1s
    repeat_limit: 100
    steps:
      - {{people: [andi], channels: [hook]}}
{peers}"""

COLO = """
site: {{name: Kolokasi Kaltim, timezone: Asia/Makassar, language: id}}
store: {{data_dir: data, database_url: "{db}"}}
people:
  - {{id: andi, name: Andi, contacts: {{hook: ""}}}}
notification:
  channels:
    hook: {{type: webhook, url: "{hook}"}}
escalation:
  - id: bontang
    match: {{subjects: [bontang]}}
    steps:
      - {{people: [andi], channels: [hook]}}
{peers}"""


class Sites:
    """The room and the colocation of ``bench/peer_drills.py`` with this test's configs."""

    def __init__(self, drills: ModuleType, work: Path) -> None:
        from siaga.store.testserver import PostgresServer, pg_bindir

        bindir = pg_bindir()
        if bindir is None:
            raise drills.Skip("no PostgreSQL binaries")
        self.drills = drills
        self.net = drills.Net().open()
        self.pg: Any = None
        self.room: Any = None
        self.colo: Any = None
        try:
            self.pg = PostgresServer(bindir).start()
            self.hook = drills.Hook(host=self.net.hub_ip)
            self.db = f"postgresql+psycopg://postgres@/postgres?host={self.pg.root}&port={self.pg.port}"
            room_dir, colo_dir = work / "room", work / "colo"
            for d in (room_dir, colo_dir):
                d.mkdir(parents=True, exist_ok=True)
                (d / "peer.secret").write_text(drills.SECRET + "\n")
            (room_dir / "leak.token").write_text(drills.TOKEN + "\n")
            self.room = drills.Site(room_dir / "siaga.yaml", ns=self.net.room_ns, addr=self.net.room_ip)
            self.colo = drills.Site(colo_dir / "siaga.yaml", ns=self.net.colo_ns, addr=self.net.colo_ip)
            peers = drills.peers_yaml
            (room_dir / "siaga.yaml").write_text(ROOM.format(hook=self.hook.url, peers=peers(
                "bontang", "colo", "watched_by", self.colo.url, name="Kolokasi", interval=HEARTBEAT,
                window=3 * HEARTBEAT, poll=None)))
            (colo_dir / "siaga.yaml").write_text(COLO.format(db=self.db, hook=self.hook.url, peers=peers(
                "colo", "bontang", "watches", self.room.url, name="Ruang Server", interval=HEARTBEAT,
                window=3 * HEARTBEAT, poll=None)))
            with ThreadPoolExecutor(2) as both:  # the two start side by side (a few seconds each)
                for started in [both.submit(self.room.start), both.submit(self.colo.start)]:
                    started.result()
        except Exception:
            self.close()
            raise

    def siaga(self, site: Any, *args: str) -> str:
        return str(self.drills.TwoSites.siaga(self, site, *args))  # the same helper, on this test's sites

    def room_sql(self, sql: str, *params: object) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(self.room.work / "data" / "siaga.db")) as db:
            return list(db.execute(sql, params))

    def colo_alerts(self) -> dict[str, Any]:
        """The room's alerts as the colocation holds them (its record), by subject."""
        from siaga.peers.record import remote_alerts
        from siaga.store import create_engine_for

        engine = create_engine_for(self.db)
        try:
            with engine.connect() as conn:
                return {a.subject: a for a in remote_alerts(conn, "bontang")}
        finally:
            engine.dispose()

    def reminders(self, alert_id: int) -> list[float]:
        """When each page or repeat of the room's alert ``alert_id`` reached the webhook."""
        with self.hook.cond:
            return [t for t, b in self.hook.got if b.get("siaga_kind") in ("page", "repeat")
                    and str(alert_id) in str(b.get("siaga_alerts", "")).split(",")]

    def close(self) -> None:
        for site in (self.room, self.colo):
            if site is not None:
                with contextlib.suppress(Exception):
                    site.stop()
        with contextlib.suppress(Exception):
            self.hook.close()
        if self.pg is not None:
            self.pg.remove()
        self.net.close()


def wait(what: Callable[[], T], timeout: float, why: str) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = what()
        if got:
            return got
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {why}")


@pytest.fixture(scope="module")
def sites(peer_drills: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sites]:
    work = tmp_path_factory.mktemp("peeracks")
    work.chmod(0o755)
    try:
        made = Sites(peer_drills, work)
    except peer_drills.Skip as exc:
        pytest.skip(str(exc))
    try:
        yield made
    finally:
        made.close()


def firing(sites: Sites, sensor: str) -> int:
    """Wet ``sensor`` in the room; the id of its alert once the colocation holds it and it has repeated."""
    assert sites.room.push(sensor, 1) == 200
    alert = wait(lambda: sites.colo_alerts().get(sensor), 15, f"the colocation holds the alert of {sensor}")
    wait(lambda: len(sites.reminders(alert.id)) >= 2, 10, f"the room pages and repeats about {sensor}")
    return int(alert.id)


def test_acknowledged_at_the_colocation_the_room_stops_escalating(sites: Sites) -> None:
    alert_id = firing(sites, "leak-r1")
    t0 = time.monotonic()
    out = sites.siaga(sites.colo, "peer-records", "bontang", "--ack", str(alert_id), "--as", "andi",
                      "--note", "menuju ruang server")
    assert "andi" in out
    wait(lambda: sites.room_sql("SELECT 1 FROM alerts WHERE id = ? AND state = 'acknowledged'", alert_id), 5,
         "the room's alert acknowledged")
    seen = time.monotonic()
    assert seen - t0 < 15.0  # the CLI's start (seconds on a loaded machine), then the wait's answer
    # made at the colocation -> applied in the room: the room's held wait is answered at once, not at the next
    # heartbeat (10 s)
    (made, applied), = sites.room_sql("SELECT made_at, applied_at FROM peer_acks WHERE direction = 'in'")
    lag = (dt.datetime.fromisoformat(applied) - dt.datetime.fromisoformat(made)).total_seconds()
    assert 0 <= lag < 1.5, lag
    line = sites.room_sql("SELECT by, via, note FROM alert_events WHERE alert_id = ? AND event = 'acknowledged'",
                          alert_id)
    assert line == [("andi", "peer:colo", "menuju ruang server")]
    assert sites.room_sql("SELECT acknowledged_by FROM alerts WHERE id = ?", alert_id) == [("andi",)]
    # the room confirmed it with its next heartbeat: the colocation sends it no more
    from siaga.peers.acks import sent_to
    from siaga.store import create_engine_for

    engine = create_engine_for(sites.db)
    try:
        def confirmed() -> list[dict[str, Any]]:
            with engine.connect() as conn:
                return [r for r in sent_to(conn, "bontang") if r["applied_at"] is not None]
        rows = wait(confirmed, 8, "the room confirmed the acknowledgement")
        assert rows[0]["outcome"] == "acknowledged" and rows[0]["alert_id"] == alert_id
    finally:
        engine.dispose()
    time.sleep(2.0)  # two repeat intervals
    assert [t for t in sites.reminders(alert_id) if t > seen] == []
    # the colocation shows it acknowledged (the room's record came back with it)
    wait(lambda: sites.colo_alerts()["leak-r1"].state.value == "acknowledged", 5, "the colocation shows it")


def test_acknowledged_at_the_room_the_colocation_shows_it(sites: Sites) -> None:
    alert_id = firing(sites, "leak-r2")
    from siaga.alerts.store import acknowledge
    from siaga.store import create_engine_for, sqlite_url

    room = create_engine_for(sqlite_url(sites.room.work / "data" / "siaga.db"))
    try:  # as `siaga alerts ack` does, without a process of its own
        with room.begin() as conn:
            acknowledge(conn, alert_id, "andi", dt.datetime.now(dt.UTC), via="cli")
    finally:
        room.dispose()
    alert = wait(lambda: (a := sites.colo_alerts()["leak-r2"]).state.value == "acknowledged" and a, 5,
                 "the colocation shows the room's acknowledgement")
    assert alert.acknowledged_by == "andi"
