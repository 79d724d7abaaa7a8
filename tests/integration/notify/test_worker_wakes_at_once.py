"""The worker is woken by what it must send, not by its poll interval; planning every alert still keeps time."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.i18n.messages import Message
from siaga.notify.engine import Notifier
from siaga.notify.service import NotifyService
from siaga.notify.transports import Transports
from siaga.store.types import utcnow

from .conftest import FakeClock, leak, make_service, site_config

pytestmark = pytest.mark.integration

POLL_S = 30.0  # the worker's idle look: far longer than any page may take


def wet(subject: str) -> Condition:
    return Condition("leak", subject, SubjectKind.sensor, True, Severity.critical, utcnow(), value=1.0,
                     summary=Message("sensor.leak.on", {"sensor": subject}), fire_at_once=True)


async def test_a_page_leaves_at_once_not_on_the_workers_poll_interval(tmp_path, engine, receiver, mailbox) -> None:
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    notifier = Notifier(cfg, key=b"k" * 64, public_url="http://siaga.test")
    svc = NotifyService(engine, notifier, Transports(cfg, tmp_path), idle=POLL_S)
    manager = AlertManager(engine)  # the real one: stores the alert, publishes through its subscriber queue
    stop = asyncio.Event()
    worker = asyncio.create_task(svc.run(stop))
    feed = asyncio.create_task(svc.consume(manager.subscribe(), stop))
    try:
        manager.submit(wet("leak-a"))
        await asyncio.to_thread(receiver.wait_for, 1)
        await asyncio.sleep(0.5)  # the first page is sent and recorded: the worker sleeps (up to POLL_S)
        start = time.monotonic()
        manager.submit(wet("leak-b"))  # another subject, another incident: no storm grouping holds it
        pages = await asyncio.to_thread(receiver.wait_for, 2, 10.0)
        waited = time.monotonic() - start
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(worker, feed), 15)
        await svc.transports.aclose()
    assert len(pages) == 2, "the second page did not leave within 10 s"
    assert pages[1].body["siaga_alerts"] == "2"
    assert waited < 2.0, f"the page waited {waited:.2f} s"  # ~10-20 ms measured; polling would wait ~30 s


async def test_escalation_keeps_its_time_while_new_alerts_keep_waking_the_worker(tmp_path, engine, receiver,
                                                                                 mailbox) -> None:
    """A woken round plans only the alerts that changed; every alert is still planned once per poll interval."""
    clock = FakeClock()
    svc, alerts = make_service(engine, site_config(tmp_path, f"{receiver.url}/hook", mailbox.port), tmp_path, clock)
    for i in range(1, 5):  # after alert 1, sari's step of it (5 minutes) falls due while each round has a new alert
        alerts.fire(leak(id=i, subject=f"leak-{i}", incident_id=10 + i, started_at=clock(), fired_at=clock()))
        await svc.step()
        await svc.settle()
        clock.advance(301 if i == 1 else 0.3)
    mails = await asyncio.to_thread(mailbox.wait_for, 1)
    assert [m[1] for m in mails] == [["sari@example.id"]]  # about alert 1: the new ones are not 5 minutes old
    await svc.transports.aclose()


async def test_a_page_does_not_wait_for_the_event_loops_busy_default_executor(tmp_path, engine, receiver,
                                                                              mailbox) -> None:
    """The store calls of the rest of the process (readings, checks, the status page) use the loop's default
    executor; the worker's store transactions and its sends have pools of their own and do not queue there."""
    from concurrent.futures import ThreadPoolExecutor

    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    notifier = Notifier(cfg, key=b"k" * 64, public_url="http://siaga.test")
    svc = NotifyService(engine, notifier, Transports(cfg, tmp_path), idle=POLL_S)
    manager = AlertManager(engine)
    loop = asyncio.get_running_loop()
    waiting = ThreadPoolExecutor(1)  # the test's own wait: not the busy default executor either
    stop = asyncio.Event()
    worker = asyncio.create_task(svc.run(stop))
    feed = asyncio.create_task(svc.consume(manager.subscribe(), stop))
    threads = min(32, (os.cpu_count() or 1) + 4)  # the default executor's size
    busy = [loop.run_in_executor(None, time.sleep, 3.0) for _ in range(threads)]  # every one of them, 3 s
    try:
        await asyncio.sleep(0.2)
        start = time.monotonic()
        manager.submit(wet("leak-a"))
        pages = await loop.run_in_executor(waiting, receiver.wait_for, 1, 10.0)
        waited = time.monotonic() - start
    finally:
        stop.set()
        await asyncio.gather(*busy)
        await asyncio.wait_for(asyncio.gather(worker, feed), 15)
        await svc.transports.aclose()
        waiting.shutdown()
    assert len(pages) == 1
    assert waited < 2.0, f"the page waited {waited:.2f} s for the default executor"  # 3 s when it shares it
