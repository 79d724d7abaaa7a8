"""A message whose sender died between claiming and recording is sent again once its claim runs out: with
the same Idempotency-Key on a webhook, recorded as "possibly sent" on a channel without one."""

from __future__ import annotations

import asyncio
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from siaga.i18n.messages import note_text
from siaga.notify.records import timeline
from siaga.notify.tables import notify_attempts, notify_messages
from siaga.web.metrics import notification_metrics
from siaga.web.queries import timeline as dashboard_timeline

from .conftest import FakeClock, leak, make_service, site_config

pytestmark = pytest.mark.integration


async def dead_sender_then_survivor(tmp_path, engine, cfg, clock: FakeClock):  # type: ignore[no-untyped-def]
    """The first process claims the page and dies before sending or recording; the second sends it."""
    first, alerts = make_service(engine, cfg, tmp_path, clock)
    alerts.fire(leak())
    with engine.begin() as conn:
        first.notifier.observe(conn, first.queue.get_nowait(), clock())
        first.notifier.tick(conn, clock())
        assert len(first.notifier.claim_due(conn, clock())) == 1
    await first.transports.aclose()
    second, _ = make_service(engine, cfg, tmp_path, clock)
    await second.step()
    await second.settle()  # still claimed by the dead process: nothing goes
    clock.advance(61)  # the claim runs out
    await second.step()
    await second.settle()
    return second


async def test_a_webhook_resend_carries_the_same_idempotency_key(tmp_path, engine, receiver, mailbox) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    svc = await dead_sender_then_survivor(tmp_path, engine, cfg, clock)
    [req] = await asyncio.to_thread(receiver.wait_for, 1)
    with engine.connect() as conn:
        [msg] = conn.execute(select(notify_messages)).all()
        assert msg.status == "sent" and msg.claimed_at is None
        assert [a.outcome for a in conn.execute(select(notify_attempts))] == ["ok"]  # the receiver drops a double
    assert req.headers.get("Idempotency-Key") == f"siaga-message-{msg.id}"
    await svc.transports.aclose()


async def test_an_email_resend_records_the_earlier_attempt_as_possibly_sent(tmp_path, engine, receiver,
                                                                            mailbox) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port,
                      steps="      - {people: [andi], channels: [email]}\n")
    svc = await dead_sender_then_survivor(tmp_path, engine, cfg, clock)
    mails = await asyncio.to_thread(mailbox.wait_for, 1)
    assert len(mails) == 1  # sent again once (at least once: a page is never dropped)
    with engine.connect() as conn:
        [msg] = conn.execute(select(notify_messages)).all()
        assert msg.status == "sent"
        entries = [e for e in timeline(conn, 1) if e.what == "attempt"]
        counted = {tuple(x.labels.values()): x.value for m in notification_metrics(conn, clock(), cfg)
                   if m.name == "siaga_notification_attempts" for x in m.samples}
        shown = [e for e in dashboard_timeline(conn, 1, lang="id", zone=ZoneInfo("UTC")) if e["kind"] == "notification"]
    assert [e.outcome for e in entries] == ["possibly_sent", "ok"]
    assert "possibly sent" in note_text(entries[0].error, "en", ZoneInfo("UTC"))
    assert "mungkin" in note_text(entries[0].error, "id", ZoneInfo("UTC"))
    assert [e["state"] for e in shown] == ["possibly_sent", "ok"] and "mungkin terkirim" in shown[0]["detail"]
    assert " ms" not in shown[0]["detail"]
    assert counted[("email", "possibly_sent")] == 1 and counted[("email", "ok")] == 1
    await svc.transports.aclose()
