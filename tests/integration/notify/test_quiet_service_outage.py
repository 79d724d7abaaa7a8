"""A service down because of a room alert that already pages is told, not paged: one follow-up message to
those paged about the cause, naming the service and its cause, in the cause's incident, with the decision
on the alert's timeline. Real alert manager (with the inventory's impact), webhook and SMTP receivers."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.checks.correlate import probable_cause, quiet
from siaga.i18n.messages import Message, note_text
from siaga.notify.records import timeline
from siaga.notify.tables import notify_alerts, notify_messages
from siaga.web.queries import timeline as alert_timeline

from .conftest import FakeClock, Rounds, site_config

pytestmark = pytest.mark.integration

SITE = """
devices:
  - {id: srv-web-1, kind: server, rack: R1, value: 900000000}
  - {id: srv-web-2, kind: server, rack: R1, value: 1000000000}
  - {id: srv-app-1, kind: server, rack: R1, value: 700000000}
services:
  - {id: portal, name: Portal bontangkota.go.id, criticality: vital, runs_on: [srv-web-1, srv-web-2]}
  - {id: absensi, name: Absensi, criticality: high, runs_on: [srv-app-1]}
sensors:
  - {id: leak-r1-ceiling, kind: leak, rack: R1, zone: ceiling-above}
"""
STEPS = (
    "      - {people: [andi], channels: [hook]}\n"
    "      - {people: [sari], channels: [email]}\n"
)


def down(service: str, manager: AlertManager, clock: FakeClock, active: bool = True) -> Condition:
    """The condition the checks' monitor hands over (with the probable cause from the room)."""
    params: dict[str, object] = {"service": service}
    cause = probable_cause(service, manager.active()) if active else None
    if cause is not None:
        params |= {"join_incident": cause.incident_id, "cause_alert_id": cause.alert_id, "quiet": quiet(cause)}
    return Condition("service.down", service, SubjectKind.service, active, Severity.critical, clock(),
                     summary=Message("service.down", {"name": service, "detail": "HTTP 503"}), params=params,
                     fire_at_once=True)


def leak(clock: FakeClock, active: bool = True) -> Condition:
    return Condition("leak", "leak-r1-ceiling", SubjectKind.sensor, active, Severity.critical, clock(),
                     value=1.0 if active else 0.0, summary=Message("sensor.leak.on", {"sensor": "leak-r1-ceiling"}),
                     fire_at_once=True)


@pytest.fixture
async def world(tmp_path, receiver, mailbox, rounds) -> Rounds:  # type: ignore[no-untyped-def]
    """andi (webhook) and sari (e-mail) paged for a leak on R1 at T0; the portal and absensi run on R1."""
    w: Rounds = rounds(site_config(tmp_path, f"{receiver.url}/hook", mailbox.port, steps=STEPS, extra=SITE))
    w.manager.submit(leak(w.clock))
    return w


async def portal_down_under_the_leak(w: Rounds, *also: str) -> None:
    """The leak pages andi and sari at T0; 30 s later the portal (and ``also``) go down."""
    await w.at(0)
    for service in ("portal", *also):
        w.manager.submit(down(service, w.manager, w.clock))
    await w.at(30)


async def test_an_outage_under_a_paging_cause_is_one_follow_up_naming_it_and_its_cause(
    world, engine, receiver, mailbox
) -> None:
    await world.at(0)
    assert len(receiver.requests) == 1 and len(mailbox.messages) == 1  # andi and sari paged for the leak
    world.manager.submit(down("portal", world.manager, world.clock))  # nginx stops 30 s later
    for t in (30, 31, 40, 90, 200, 400):  # well past the 5-minute step and any repeat
        await world.at(t)
    portal, leak_alert = world.active("portal"), world.active("leak-r1-ceiling")
    assert portal.incident_id == leak_alert.incident_id
    assert portal.impact.devices == ("srv-web-1", "srv-web-2") and portal.impact.value_at_risk == 1_900_000_000

    hook = [r.body for r in receiver.requests[1:]]
    mail = [m[2] for m in mailbox.messages[1:]]
    assert len(hook) == 1 and len(mail) == 1, (hook, mail)  # one follow-up each, no page of its own
    assert hook[0]["siaga_kind"] == "followup"
    text = hook[0]["title"]
    assert "Portal bontangkota.go.id kini mati juga" in text, text
    assert text.endswith("penyebab yang mungkin: kebocoran air di Rak R1"), text
    assert "Portal bontangkota.go.id kini mati juga" in mail[0]

    with engine.connect() as conn:
        suppressed = {r.alert_id: r.suppressed_by for r in conn.execute(select(notify_alerts))}
        notify_entries = timeline(conn, portal.id)
        api_entries = alert_timeline(conn, portal.id, lang="id", zone=ZoneInfo("Asia/Makassar"))
    assert suppressed[portal.id] == f"cause:alert-{leak_alert.id}"
    decision = [e for e in notify_entries if e.what == "decision"]
    assert [e.kind for e in decision] == ["notify_folded"]
    assert f"#{leak_alert.id}" in (note_text(decision[0].error, "en", ZoneInfo("UTC")) or "")
    folded = [e for e in api_entries if e["kind"] == "notify_folded"]  # GET /api/v1/alerts/N/timeline
    assert len(folded) == 1 and folded[0]["note"].startswith(f"digabung ke insiden peringatan #{leak_alert.id}")

    world.manager.submit(down("portal", world.manager, world.clock, active=False))  # back: those told hear it
    await world.at(500)
    assert [r.body["siaga_kind"] for r in receiver.requests[2:]] == ["resolved"]


async def test_services_going_down_together_are_one_follow_up(world, receiver) -> None:
    await portal_down_under_the_leak(world, "absensi")
    for t in (31, 32, 60):
        await world.at(t)
    followups = [r.body for r in receiver.requests if r.body.get("siaga_kind") == "followup"]
    assert len(followups) == 1, followups  # one message for the storm of outages
    assert "Portal bontangkota.go.id, Absensi kini mati juga" in followups[0]["title"]


async def test_an_outage_whose_cause_is_over_pages_on_its_own(world, engine, receiver) -> None:
    await portal_down_under_the_leak(world)
    world.manager.submit(leak(world.clock, active=False))  # the leak is over, the portal still down
    for t in (60, 61, 62):
        await world.at(t)
    portal = world.active("portal")
    kinds = [r.body["siaga_kind"] for r in receiver.requests]
    assert kinds.count("followup") == 1 and "page" in kinds[kinds.index("followup"):]
    with engine.connect() as conn:
        decisions = [e.kind for e in timeline(conn, portal.id) if e.what == "decision"]
        pages = [m for m in conn.execute(select(notify_messages)) if m.kind == "page" and portal.id in m.alert_ids]
    assert decisions == ["notify_folded", "notify_resumed"]
    assert pages
