"""Minute rollups of readings in the off-site record: the room's rollup maintainer records each complete minute
once (again when late readings change it), the sender carries every sensor's min, average and max, the
colocation applies each event once and reads the minutes back; /metrics says how old each room's page is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import insert, select

from siaga.config import parse_config
from siaga.config.readings import ReadingsConfig
from siaga.peers import outbox, record
from siaga.peers.rollups import TABLE, remote_minutes
from siaga.peers.tables import peer_outbox
from siaga.readings.rollup import RollupMaintainer
from siaga.readings.tables import readings
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.store.events import set_meta

T0 = dt.datetime(2026, 12, 6, 2, 0, tzinfo=dt.UTC)  # 10:00 WITA
MS = int(T0.timestamp() * 1000)


def test_complete_minutes_reach_the_colocation_once_each_with_min_avg_max(tmp_path: Path) -> None:
    room = create_engine_for(sqlite_url(tmp_path / "room.db"))
    colo = create_engine_for(sqlite_url(tmp_path / "colo.db"))
    upgrade(room)
    upgrade(colo)
    with room.begin() as conn:
        outbox.set_recording(conn, True)
        conn.execute(insert(readings), [{"sensor": "suhu-r1", "ts": MS + i * 10_000, "value": v}
                                        for i, v in enumerate((21.0, 23.0, 25.0))])
        conn.execute(insert(readings), [{"sensor": "leak-r1", "ts": MS + 5_000, "value": 1.0}])
    rollup = RollupMaintainer(room, ReadingsConfig(max_age=600.0))
    rollup.run_once(T0 + dt.timedelta(seconds=40))  # the minute is not complete: nothing recorded
    rollup.run_once(T0 + dt.timedelta(seconds=61))  # now it is
    rollup.run_once(T0 + dt.timedelta(seconds=90))  # and not recorded twice
    with room.begin() as conn:
        lines = conn.execute(select(peer_outbox.c.row_key).where(peer_outbox.c.tbl == TABLE)).scalars().all()
        assert lines == [str(MS)]
        events = outbox.batch(conn, "bontang", 0)
    minute = next(e for e in events if e["tbl"] == TABLE)
    assert minute["data"]["sensors"]["suhu-r1"] == {"min": 21.0, "avg": 23.0, "max": 25.0, "count": 3}
    with colo.begin() as conn:
        assert record.apply(conn, "bontang", events, 0.0) == len(events)
        assert record.apply(conn, "bontang", events, 1.0) == 0  # sent again: nothing applied twice
        got = remote_minutes(conn, "bontang", T0, T0 + dt.timedelta(minutes=1))
    assert [(m.sensor, m.min, m.avg, m.max, m.count) for m in got] == [
        ("leak-r1", 1.0, 1.0, 1.0, 1), ("suhu-r1", 21.0, 23.0, 25.0, 3)]
    # a late reading of that minute: recorded again, and the newest is the minute at the colocation
    with room.begin() as conn:
        conn.execute(insert(readings), [{"sensor": "suhu-r1", "ts": MS + 50_000, "value": 31.0}])
    rollup.mark_dirty(MS + 50_000)
    rollup.run_once(T0 + dt.timedelta(seconds=100))
    with room.begin() as conn:
        later = outbox.batch(conn, "bontang", max(e["seq"] for e in events))
    with colo.begin() as conn:
        record.apply(conn, "bontang", later, 2.0)
        [suhu] = remote_minutes(conn, "bontang", T0, T0 + dt.timedelta(minutes=1), ["suhu-r1"])
    assert (suhu.min, suhu.avg, suhu.max, suhu.count) == (21.0, 25.0, 31.0, 4)


def test_metrics_say_how_old_each_rooms_status_page_is(tmp_path: Path) -> None:
    from siaga.peers.status_web import META_PREFIX
    from siaga.web.metrics import peer_record_metrics

    cfg = parse_config("""
site: {name: Kolokasi, timezone: Asia/Makassar}
peers:
  site_id: colo
  sites: [{id: bontang, role: watches, url: "http://127.0.0.1:9", secret: "${PEER}"}]
""", "siaga.yaml")
    colo = create_engine_for(sqlite_url(tmp_path / "colo.db"))
    upgrade(colo)
    with colo.begin() as conn:
        set_meta(conn, META_PREFIX + "bontang", "{}", at=T0)
        families = {m.name: m for m in peer_record_metrics(conn, T0 + dt.timedelta(seconds=42), cfg)}
    [sample] = families["siaga_peer_status_page_age_seconds"].samples
    assert sample.labels == {"site": "bontang"} and sample.value == 42.0
