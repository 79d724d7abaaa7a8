"""Escalation on a fake clock through the real store and a real receiver; a restart loses nothing."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from typing import Any

import pytest
from sqlalchemy import event, select, update
from sqlalchemy.exc import OperationalError

from siaga.alerts.model import Transition
from siaga.notify.tables import notify_messages
from siaga.store import create_engine_for, sqlite_url, upgrade

from .conftest import FakeClock, leak, make_service, site_config

pytestmark = pytest.mark.integration


async def rounds(svc, clock: FakeClock, seconds: int, every: int = 10) -> None:  # type: ignore[no-untyped-def]
    for _ in range(0, seconds, every):
        await svc.step()
        await svc.settle()
        clock.advance(every)
    await svc.step()
    await svc.settle()


async def test_head_of_infrastructure_is_told_after_five_unacknowledged_minutes(tmp_path, engine, receiver,
                                                                                mailbox) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    svc, alerts = make_service(engine, cfg, tmp_path, clock)
    alerts.fire(leak())
    await rounds(svc, clock, 290)
    assert len(receiver.requests) == 1 and mailbox.messages == []  # andi on the webhook, nobody else yet
    await rounds(svc, clock, 20)
    mails = await asyncio.to_thread(mailbox.wait_for, 1)
    assert mails[0][1] == ["sari@example.id"]
    await svc.transports.aclose()


async def test_acknowledged_alert_stops_escalating_and_notifies_those_paged(tmp_path, engine, receiver,
                                                                            mailbox) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    svc, alerts = make_service(engine, cfg, tmp_path, clock)
    alerts.fire(leak())
    await rounds(svc, clock, 60)
    await alerts.acknowledge(1, by="sari", via="cli")
    await rounds(svc, clock, 600)
    bodies = [r.body["message"] for r in receiver.requests]
    assert len(bodies) == 2 and "Diakui oleh Sari Wulandari (cli)" in bodies[1]
    assert mailbox.messages == []  # sari was never paged: the 5-minute step did not come
    await svc.transports.aclose()


async def test_a_restart_with_a_pending_outbox_loses_nothing(tmp_path, engine, receiver, mailbox) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    first, alerts = make_service(engine, cfg, tmp_path, clock)
    alerts.fire(leak())
    # the first siaga plans and queues, then dies before its send is recorded (claimed, leased, never sent)
    with engine.begin() as conn:
        for tr in [first.queue.get_nowait()]:
            first.notifier.observe(conn, tr, clock())
        first.notifier.tick(conn, clock())
        claimed = first.notifier.claim_due(conn, clock())
    assert len(claimed) == 1 and receiver.requests == []
    await first.transports.aclose()

    second, _ = make_service(engine, cfg, tmp_path, clock)
    await rounds(second, clock, 30)
    assert receiver.requests == []  # still leased to the dead process
    clock.advance(60)
    await rounds(second, clock, 10)
    assert len(receiver.wait_for(1)) == 1
    with engine.connect() as conn:
        assert [r.status for r in conn.execute(select(notify_messages))] == ["sent"]
    await second.transports.aclose()


async def test_a_transition_published_just_before_stop_is_kept_for_the_next_start(tmp_path, engine, receiver,
                                                                                  mailbox) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    svc, _alerts = make_service(engine, cfg, tmp_path, clock)
    stop = asyncio.Event()
    stop.set()  # stops at once: whatever is queued goes to the store
    svc.publish(Transition(leak(), None, clock()))
    await svc.run(stop)
    await svc.transports.aclose()
    again, _ = make_service(engine, cfg, tmp_path, clock)
    await rounds(again, clock, 10)
    assert len(receiver.wait_for(1)) == 1
    await again.transports.aclose()


async def test_maintenance_window_records_but_does_not_page(tmp_path, engine, receiver, mailbox) -> None:
    extra = ('maintenance:\n  - {id: atap, title: Perbaikan atap, starts_at: "2026-07-16T13:00",'
             ' ends_at: "2026-07-16T18:00", places: [R1]}\n')
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port, extra=extra)
    svc, alerts = make_service(engine, cfg, tmp_path, clock)
    alerts.fire(leak())
    await rounds(svc, clock, 600)
    assert receiver.requests == [] and mailbox.messages == []
    from siaga.notify.tables import notify_alerts

    with engine.connect() as conn:
        [row] = conn.execute(select(notify_alerts)).all()
    assert row.suppressed_by == "atap"
    await svc.transports.aclose()


async def test_storm_of_one_incident_becomes_few_messages_listing_all(tmp_path, engine, receiver, mailbox) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    svc, alerts = make_service(engine, cfg, tmp_path, clock)
    for i in range(1, 101):
        alerts.fire(leak(id=i, subject=f"s{i}"))
        if i % 20 == 0:
            await svc.step()
            await svc.settle()
            clock.advance(0.2)
    await rounds(svc, clock, 5, every=1)
    reqs = receiver.wait_for(2)
    assert len(reqs) == 2
    listed = sorted(int(a) for r in reqs for a in r.body["siaga_alerts"].split(","))
    assert listed == list(range(1, 101))
    second = len(reqs[1].body["siaga_alerts"].split(","))
    assert f"{second} peringatan, insiden #7" in reqs[1].body["message"] and "lainnya" in reqs[1].body["message"]
    link = re.search(r"/ack/(\S+)", reqs[1].body["message"]).group(1)  # type: ignore[union-attr]
    assert len(link) < 150  # names the message, not its 80 alerts
    outcome = await svc.acknowledge_token(link)
    assert outcome.ok and sorted(a for _, a, _, _ in alerts.calls) == sorted(
        int(a) for a in reqs[1].body["siaga_alerts"].split(","))
    with engine.begin() as conn:
        conn.execute(update(notify_messages).values(status="sent"))
    await svc.transports.aclose()


async def test_an_alert_still_firing_when_maintenance_ends_is_paged_then(tmp_path, engine, receiver, mailbox) -> None:
    extra = ('maintenance:\n  - {id: atap, title: Perbaikan atap, starts_at: "2026-07-16T13:00",'
             ' ends_at: "2026-07-16T14:02", places: [R1]}\n')
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port, extra=extra)
    svc, alerts = make_service(engine, cfg, tmp_path, clock)
    alerts.fire(leak())  # 14:00 WITA, inside the window
    await rounds(svc, clock, 110)
    assert receiver.requests == []
    await rounds(svc, clock, 20)  # 14:02: the window is over, the leak is not
    assert len(receiver.wait_for(1)) == 1
    await svc.transports.aclose()


async def test_a_round_whose_store_transaction_fails_loses_no_alert(tmp_path, receiver, mailbox) -> None:
    """The store is locked by another writer while a round takes a new alert off the queue: the round
    fails, and the next one stores and pages the alert all the same."""
    db = tmp_path / "locked.db"
    engine = create_engine_for(sqlite_url(db))
    upgrade(engine)

    @event.listens_for(engine, "connect")
    def short_wait(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.execute("PRAGMA busy_timeout = 100")  # give up on the lock quickly (default 5 s)

    engine.dispose()
    clock = FakeClock()
    svc, alerts = make_service(engine, site_config(tmp_path, f"{receiver.url}/hook", mailbox.port), tmp_path, clock)
    other = sqlite3.connect(db, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")  # another writer holds the store
        alerts.fire(leak())
        with pytest.raises(OperationalError, match="locked"):
            await svc.step()
        assert svc.queue.empty()  # the round had taken the alert
    finally:
        other.execute("ROLLBACK")
        other.close()
    await svc.step()
    await svc.settle()
    pages = await asyncio.to_thread(receiver.wait_for, 1)
    assert len(pages) == 1 and pages[0].body["siaga_alerts"] == "1"
    await svc.transports.aclose()
    engine.dispose()
