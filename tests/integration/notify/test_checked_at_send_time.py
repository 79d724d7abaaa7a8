"""Every message is checked against its alert as it stands when it leaves: a storm window may delay and
merge a reminder, never send it after the alert was acknowledged (real alert manager, webhook, SMTP)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from sqlalchemy import select

from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.i18n.messages import Message
from siaga.notify.records import timeline
from siaga.notify.tables import notify_items, notify_messages

from .conftest import Rounds, site_config

pytestmark = pytest.mark.integration

STEPS = (
    "      - {people: [andi], channels: [hook]}\n"
    "      - {people: [sari], channels: [email]}\n"
    "    repeat_every: 20s\n"
    "    repeat_limit: 3\n"
)


@pytest.fixture
async def world(tmp_path, receiver, mailbox, rounds):  # type: ignore[no-untyped-def]
    """andi paged on the webhook and sari by e-mail for a leak fired at T0."""
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port, steps=STEPS)
    # a 30 s window, longer than the 20 s reminders (set past validation: whatever config check says of
    # such a pair, the runtime must never send what a window held once the alert was acknowledged)
    note = cfg.notification
    storm = note.storm.model_copy(update={"group_window": dt.timedelta(seconds=30)})
    w: Rounds = rounds(cfg.model_copy(update={"notification": note.model_copy(update={"storm": storm})}))
    w.manager.submit(Condition("leak", "leak-r1-ceiling", SubjectKind.sensor, True, Severity.critical, w.clock(),
                               value=1.0, summary=Message("sensor.leak.on", {"sensor": "leak-r1-ceiling"}),
                               fire_at_once=True))
    return w


def kinds_of(engine, status: str | None = None) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(select(notify_messages).order_by(notify_messages.c.id))
        return [(m.kind, m.channel, m.status) for m in rows if status is None or m.status == status]


async def test_a_reminder_held_by_the_storm_window_is_not_sent_after_the_acknowledgement(
    world, engine, receiver, mailbox
) -> None:
    await world.at(0)
    assert len(receiver.requests) == 1 and len(mailbox.messages) == 1
    token = re.search(r"/ack/(\S+)", receiver.requests[0].body["message"]).group(1)  # type: ignore[union-attr]

    await world.at(21)  # sari's reminder falls due; the 30 s window holds it
    with engine.connect() as conn:
        assert [r.status for r in conn.execute(select(notify_items)) if r.kind == "repeat"] == ["queued"]

    outcome = await world.svc.acknowledge_token(token)  # andi taps the link inside the window
    assert outcome.ok, outcome.message
    for t in (25, 31, 45, 61, 90):  # the window ends, more reminder rounds would fall due
        await world.at(t)

    bodies = [m[2] for m in mailbox.messages]
    assert len(bodies) == 2, bodies  # the page and the acknowledged notice, nothing after
    assert "Diakui" in bodies[1] and not any("pengingat" in b.lower() for b in bodies)
    with engine.connect() as conn:
        repeats = [r for r in conn.execute(select(notify_items)) if r.kind == "repeat"]
        entries = timeline(conn, world.active("leak-r1-ceiling").id)
    assert repeats and all(r.status == "withheld" and "acknowledged" in (r.note or "") for r in repeats)
    assert "repeat" not in {k for k, _c, _s in kinds_of(engine)}  # withheld before it became a message
    assert any(e.what == "withheld" and e.kind == "repeat" for e in entries)


async def test_a_page_waiting_for_a_retry_is_withheld_once_the_alert_is_acknowledged(
    world, engine, receiver
) -> None:
    receiver.mode = "fail"  # the webhook answers 500: andi's page waits for its next try
    await world.at(0)
    assert len(receiver.requests) == 1
    await world.svc.actions.acknowledge(world.active("leak-r1-ceiling").id, by="sari", via="cli")
    receiver.mode = "ok"
    for t in (1, 2, 5, 10):
        await world.at(t)
    later = [r.body.get("siaga_kind") for r in receiver.requests[1:]]
    assert "page" not in later, later  # the retry never left (the acknowledged notice may)
    hook = [(k, s) for k, c, s in kinds_of(engine) if c == "hook"]
    assert hook == [("page", "withheld"), ("acknowledged", "sent")]


async def test_a_page_claimed_but_waiting_for_a_free_sender_is_withheld_by_an_acknowledgement_meanwhile(
    world, engine, receiver, mailbox
) -> None:
    svc = world.svc
    limit = svc.notifier.config.notification.delivery.concurrency
    for _ in range(limit):  # every sender busy: the claimed pages wait at the door
        await svc._sem.acquire()
    await asyncio.sleep(0)
    world.drain()
    await svc.step()  # planned, folded, claimed; the sends wait for a free sender
    await svc.actions.acknowledge(world.active("leak-r1-ceiling").id, by="andi", via="telegram")
    world.drain()  # published to the worker, not yet stored by a round
    for _ in range(limit):
        svc._sem.release()
    await svc.settle()
    assert receiver.requests == [] and mailbox.messages == []
    assert {s for _k, _c, s in kinds_of(engine)} == {"withheld"}
