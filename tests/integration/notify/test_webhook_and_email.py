"""Pages reach real receivers: a JSON webhook and an SMTP server; failures retry and fall back."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from siaga.notify.tables import notify_attempts, notify_messages
from siaga.store.types import utcnow

from .conftest import leak, make_service, site_config

pytestmark = pytest.mark.integration


async def until(pred, limit: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + limit
    while not pred():
        if time.monotonic() > end:
            raise AssertionError("timed out")
        await asyncio.sleep(0.02)


async def test_a_firing_leak_posts_json_to_the_webhook(tmp_path, engine, receiver, mailbox, running) -> None:
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    svc, alerts = make_service(engine, cfg, tmp_path, utcnow)
    running(svc)
    alerts.fire(leak(fired_at=utcnow(), started_at=utcnow()))
    [req] = await asyncio.to_thread(receiver.wait_for, 1)
    assert req.path.startswith("/hook")
    assert "Kebocoran air" in req.body["title"] and "Rak R1" in req.body["message"]
    assert "http://siaga.test/ack/" in req.body["message"]
    assert req.body["siaga_alerts"] == "1" and req.body["siaga_recipient"] == "person:andi"
    with engine.connect() as conn:
        await until(lambda: conn.execute(select(notify_attempts)).first() is not None)
        [att] = conn.execute(select(notify_attempts)).all()
        assert att.outcome == "ok" and att.channel == "hook"


async def test_a_failing_webhook_is_retried_then_falls_back_to_email(tmp_path, engine, receiver, mailbox,
                                                                     running) -> None:
    receiver.mode = "fail"
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    svc, alerts = make_service(engine, cfg, tmp_path, utcnow)
    running(svc)
    alerts.fire(leak(fired_at=utcnow(), started_at=utcnow()))
    mails = await asyncio.to_thread(mailbox.wait_for, 1, 15)
    assert len(receiver.requests) == 3  # delivery.attempts
    _sender, rcpts, content = mails[0]
    assert rcpts == ["andi@example.id"] and "Kebocoran air" in content
    with engine.connect() as conn:
        await until(lambda: conn.execute(select(notify_attempts).where(notify_attempts.c.outcome == "ok")).first()
                    is not None)
        rows = conn.execute(select(notify_attempts).order_by(notify_attempts.c.id)).all()
        assert [(r.channel, r.outcome) for r in rows] == [("hook", "error")] * 3 + [("email", "ok")]
        assert all(r.error for r in rows[:3])
        statuses = {r.channel: r.status for r in conn.execute(select(notify_messages))}
        assert statuses == {"hook": "failed", "email": "sent"}


async def test_a_receiver_that_is_down_is_an_error_not_a_hang(tmp_path, engine, receiver, mailbox, running) -> None:
    url = f"{receiver.url}/hook"
    receiver.stop()
    cfg = site_config(tmp_path, url, mailbox.port)
    svc, alerts = make_service(engine, cfg, tmp_path, utcnow)
    running(svc)
    alerts.fire(leak(fired_at=utcnow(), started_at=utcnow()))
    await asyncio.to_thread(mailbox.wait_for, 1, 15)
    with engine.connect() as conn:
        errors = [r.error for r in conn.execute(select(notify_attempts).where(notify_attempts.c.channel == "hook"))]
    assert len(errors) == 3 and all("onnect" in (e or "") for e in errors), errors


async def test_a_slow_receiver_times_out_and_falls_back(tmp_path, engine, receiver, mailbox, running) -> None:
    receiver.mode, receiver.delay = "slow", 2.5
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port,
                      delivery="{attempts: 1, backoff: 0.1s, timeout: 1s}")
    svc, alerts = make_service(engine, cfg, tmp_path, utcnow)
    running(svc)
    alerts.fire(leak(fired_at=utcnow(), started_at=utcnow()))
    await asyncio.to_thread(mailbox.wait_for, 1, 15)
    with engine.connect() as conn:
        [hook] = conn.execute(select(notify_attempts).where(notify_attempts.c.channel == "hook")).all()
    assert hook.outcome == "error" and hook.latency_ms >= 900


async def test_demo_transports_send_nothing_and_say_so(tmp_path, mailbox) -> None:
    from siaga.notify.engine import OutMessage
    from siaga.notify.model import Kind, Recipient
    from siaga.notify.transports import DemoTransports

    cfg = site_config(tmp_path, "http://127.0.0.1:9/hook", mailbox.port)
    demo = DemoTransports(cfg, tmp_path)
    msg = OutMessage(1, Kind.page, Recipient("person", "andi"), "email", "andi@example.id", "t", "b", "b", (1,), 0)
    result = await demo.attempt(msg)
    await demo.aclose()
    assert result.ok and result.demo and mailbox.messages == []  # taken, recorded as not sent (outcome demo)
