"""The vertical slice: a wet reading in, the alert stored with its impact and handed to subscribers."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select

from siaga.alerts import store
from siaga.alerts.model import AlertState, Severity
from siaga.readings.tables import readings
from siaga.sources.reading import RawReading

pytestmark = pytest.mark.integration


async def test_a_wet_reading_becomes_a_stored_alert_with_its_impact(make_sensing: Callable[..., Any]) -> None:
    s = make_sensing()
    queue = s.manager.subscribe()
    result = s.ingest.ingest([RawReading("leak-r1-ceiling", True, source="mqtt")])
    assert result.accepted == 1 and not result.rejected
    t = await asyncio.wait_for(queue.get(), 1)
    assert t.event == "firing" and t.previous is None
    alert = t.alert
    assert alert.rule == "leak" and alert.severity is Severity.critical and alert.state is AlertState.firing
    assert alert.impact.rack == "R1"
    assert len(alert.impact.devices) >= 6 and "srv-web-1" in alert.impact.devices
    assert "portal" in alert.impact.services and alert.impact.value_at_risk >= 5_500_000_000
    assert alert.incident_id is not None
    with s.engine.connect() as conn:
        stored = store.get_alert(conn, alert.id)
        assert stored is not None and stored.state is AlertState.firing and stored.impact == alert.impact
        assert [e.event for e in store.events_of(conn, [alert.id])] == ["firing"]
    # readings reach the store on the next flush
    assert s.writer.flush_sync() == 1
    with s.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(readings)).scalar_one() == 1


async def test_acknowledge_then_dry_resolves_and_closes_the_incident(make_sensing: Callable[..., Any]) -> None:
    s = make_sensing()
    queue = s.manager.subscribe()
    s.ingest.ingest([RawReading("leak-r1-ceiling", 1, source="mqtt")])
    fired = (await queue.get()).alert
    s.clock.advance(30)
    s.manager.ack(fired.id, by="andi", via="cli", note="on my way")
    acked = await queue.get()
    assert acked.event == "acknowledged" and acked.by == "andi" and acked.alert.state is AlertState.acknowledged
    s.clock.advance(600)
    s.ingest.ingest([RawReading("leak-r1-ceiling", 0, source="mqtt")])
    resolved = await queue.get()
    assert resolved.event == "resolved" and resolved.alert.state is AlertState.resolved
    with s.engine.connect() as conn:
        events = [e.event for e in store.events_of(conn, [fired.id])]
        assert events == ["firing", "acknowledged", "resolved"]
        inc = store.get_incident(conn, fired.incident_id or 0)
        assert inc is not None and inc.closed_at == s.clock.now


async def test_alerts_that_follow_the_leak_join_its_incident(make_sensing: Callable[..., Any]) -> None:
    s = make_sensing()
    s.ingest.ingest([RawReading("leak-r1-ceiling", 1)])
    leak = s.manager.get("leak", "leak-r1-ceiling")
    assert leak is not None
    s.clock.advance(60)
    s.ingest.ingest([RawReading("temp-r1-top", 24.0), RawReading("humidity-r1-top", 85.0)])
    s.clock.advance(200)
    s.ingest.ingest([RawReading("humidity-r1-top", 86.0)])  # hold of 2 min ran out: firing
    s.ingest.ingest([RawReading("leak-r2-floor", True)])  # the next rack, same room
    hum = s.manager.get("humidity.high", "humidity-r1-top")
    r2 = s.manager.get("leak", "leak-r2-floor")
    assert hum is not None and hum.state is AlertState.firing
    assert r2 is not None
    assert hum.incident_id == leak.incident_id == r2.incident_id
    with s.engine.connect() as conn:
        assert len(store.list_incidents(conn)) == 1


async def test_bad_items_are_refused_and_counted_without_rejecting_their_batch_mates(
    make_sensing: Callable[..., Any],
) -> None:
    s = make_sensing()
    now = s.clock()
    batch = [
        RawReading("temp-r1-top", 24.5, source="http"),
        RawReading("no-such-sensor", 1.0, source="http"),
        RawReading("temp-r1-top", float("nan"), source="http"),
        RawReading("temp-r1-top", 900.0, source="http"),
        RawReading("temp-r1-top", "24.5", source="http"),
        RawReading("temp-r1-top", True, source="http"),
        RawReading("leak-r1-floor", "wet", source="http"),
        RawReading("leak-r1-floor", 0.5, source="http"),
        RawReading("temp-r1-top", 24.0, ts=now + dt.timedelta(minutes=6), source="http"),
        RawReading("temp-r1-top", 24.0, ts=now - dt.timedelta(days=8), source="http"),
        RawReading("temp-r1-top", 24.0, ts=dt.datetime(2025, 7, 16, 1, 0), source="http"),
        RawReading("leak-r1-floor", False, ts=now - dt.timedelta(minutes=1), source="http"),
    ]
    result = s.ingest.ingest(batch)
    assert result.accepted == 2
    assert [(r.index, r.reason) for r in result.rejected] == [
        (1, "unknown_sensor"),
        (2, "non_finite"),
        (3, "out_of_range"),
        (4, "not_a_number"),
        (5, "not_a_number"),
        (6, "not_binary"),
        (7, "not_binary"),
        (8, "in_future"),
        (9, "too_old"),
        (10, "bad_timestamp"),
    ]
    s.ingest.reject("malformed", "not JSON", source="mqtt")
    counts = s.ingest.counters()
    assert counts["accepted"] == 2 and counts["not_binary"] == 2 and counts["malformed"] == 1
    assert s.writer.flush_sync() == 2
    from siaga.readings.tables import ingest_counters

    with s.engine.connect() as conn:
        stored = dict(conn.execute(select(ingest_counters.c.reason, ingest_counters.c.count)).all())
    assert stored["accepted"] == 2 and stored["unknown_sensor"] == 1 and stored["malformed"] == 1


async def test_a_normal_stop_flushes_everything(make_sensing: Callable[..., Any]) -> None:
    s = make_sensing()
    s.writer.flush_interval = 60  # only the stop can write these
    task = s.writer.start()
    for i in range(50):
        s.ingest.ingest([RawReading("temp-r1-top", 20.0 + i / 10, ts=s.clock() + dt.timedelta(seconds=i))
                         for _ in range(1)])
    await asyncio.sleep(0.05)
    await s.writer.stop()
    assert task.done()
    with s.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(readings)).scalar_one() == 50
