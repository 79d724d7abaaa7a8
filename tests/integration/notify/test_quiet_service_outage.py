"""A service down because of a room alert that already pages is recorded but not paged again."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import select

from siaga.alerts.model import SubjectKind
from siaga.notify.tables import notify_alerts

from .conftest import FakeClock, leak, make_service, site_config

pytestmark = pytest.mark.integration


async def rounds(svc, clock: FakeClock, seconds: int, every: int = 10) -> None:  # type: ignore[no-untyped-def]
    for _ in range(0, seconds, every):
        await svc.step()
        await svc.settle()
        clock.advance(every)


async def test_a_quiet_outage_joins_the_leak_page_instead_of_paging(tmp_path, engine, receiver, mailbox) -> None:
    clock = FakeClock()
    cfg = site_config(tmp_path, f"{receiver.url}/hook", mailbox.port)
    svc, alerts = make_service(engine, cfg, tmp_path, clock)
    alerts.fire(leak())
    await rounds(svc, clock, 30)
    pages_for_leak = len(receiver.requests)
    assert pages_for_leak >= 1
    alerts.fire(leak(
        id=2, rule="service.down", subject="portal", subject_kind=SubjectKind.service, summary="Portal is down",
        params={"quiet": True, "cause_alert_id": 1, "join_incident": 7},
    ))
    await rounds(svc, clock, 120)
    await asyncio.sleep(0)
    with engine.connect() as conn:
        rows = {r.alert_id: r.suppressed_by for r in conn.execute(select(notify_alerts))}
    assert rows[2] == "cause:alert-1"
    assert all("Portal is down" not in str(r.body) for r in receiver.requests)
    await svc.transports.aclose()
