"""One page per event across sites: at a colocation, an alert a heard room senses and pages itself is recorded but
not paged here (``Notifier.elsewhere``); once the room is no longer heard, it pages here (fake clock, real store,
real receiver)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from siaga.notify.tables import notify_alerts

from .conftest import FakeClock, leak, make_service, site_config
from .test_escalation_and_restart import rounds

pytestmark = pytest.mark.integration


async def test_what_a_heard_room_pages_is_not_paged_here_until_it_falls_silent(tmp_path, engine, receiver,
                                                                               mailbox) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    svc, alerts = make_service(engine, cfg, tmp_path, clock)
    heard = {"bontang": True}
    svc.notifier.elsewhere = lambda alert: "peer:bontang" if heard["bontang"] else None
    alerts.fire(leak())
    await rounds(svc, clock, 600)
    assert receiver.requests == [] and mailbox.messages == []
    with engine.connect() as conn:
        assert [r.suppressed_by for r in conn.execute(select(notify_alerts))] == ["peer:bontang"]
    heard["bontang"] = False  # the room falls silent: the colocation pages what it sensed
    await rounds(svc, clock, 10)
    assert len(receiver.wait_for(1)) == 1
    with engine.connect() as conn:
        assert [r.suppressed_by for r in conn.execute(select(notify_alerts))] == [None]
    await svc.transports.aclose()
