"""Notify on the real alert manager: a condition fires, the webhook hears it, a link acknowledges it."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import select

from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.alerts.tables import alert_events
from siaga.i18n.messages import Message
from siaga.notify.component import ManagerActions
from siaga.store.types import utcnow

from .conftest import make_service, site_config

pytestmark = pytest.mark.integration


async def test_condition_to_webhook_and_link_ack_through_the_manager(tmp_path, engine, receiver, mailbox) -> None:
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    svc, _fake = make_service(engine, cfg, tmp_path, utcnow)
    manager = AlertManager(engine)
    manager.load()
    svc.actions = ManagerActions(manager)
    stop = asyncio.Event()
    task = asyncio.create_task(svc.run(stop))
    feed = asyncio.create_task(svc.consume(manager.subscribe(), stop))
    try:
        manager.submit(Condition("leak", "leak-r1-ceiling", SubjectKind.sensor, True, Severity.critical, utcnow(),
                                 value=1.0,
                                 summary=Message("sensor.leak.on", {"sensor": "leak-r1-ceiling"}), fire_at_once=True))
        [req] = await asyncio.to_thread(receiver.wait_for, 1)
        assert "Kebocoran air" in req.body["title"]
        token = re.search(r"/ack/(\S+)", req.body["message"]).group(1)  # type: ignore[union-attr]
        [alert] = manager.active()
        for _ in range(100):  # the attempt is recorded just after the receiver answered
            with engine.connect() as conn:
                events = list(conn.execute(select(alert_events).where(alert_events.c.alert_id == alert.id)))
            if any(e.event == "notified" for e in events):
                break
            await asyncio.sleep(0.05)
        told = [e for e in events if e.event == "notified"]
        assert told and told[0].via == "hook" and told[0].by == "person:andi" and "ms" in told[0].note
        outcome = await svc.acknowledge_token(token, "on my way")
        assert outcome.ok, outcome.message
        [alert] = manager.active()
        assert alert.acknowledged_by == "andi"
        again = await svc.acknowledge_token(token)
        assert not again.ok and "used" in again.message
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(task, feed), 15)
        await svc.transports.aclose()
