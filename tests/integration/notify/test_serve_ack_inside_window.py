"""A real ``siaga serve``: readings pushed over HTTP, pages to a webhook receiver, an acknowledgement
through the API while the storm window holds a page: that page never leaves after the acknowledgement."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from siaga.alerts.tables import alerts
from siaga.notify.tables import notify_items, notify_messages

from .peers import Receiver
from .served import serve, site, wait_for

pytestmark = pytest.mark.integration


def config(port: int, hook: str) -> str:
    return site(port, hook, """
sensors:
  - {id: leak-r1-ceiling, kind: leak, rack: R1, zone: ceiling-above, source: {type: http, gateway: gw}}
  - {id: leak-r1-floor, kind: leak, rack: R1, zone: floor, source: {type: http, gateway: gw}}
""", storm="{group_window: 20s, rate_per_minute: 30}")


def test_a_page_held_by_the_window_never_leaves_after_an_acknowledgement(tmp_path: Path) -> None:
    receiver = Receiver().start()
    try:
        with serve(tmp_path, lambda port: config(port, f"{receiver.url}/hook")) as siaga:

            def alert_id(subject: str) -> int | None:
                with siaga.db.connect() as conn:
                    return conn.execute(select(alerts.c.id).where(alerts.c.subject == subject)).scalar()

            def item_of(alert: int, kind: str) -> str | None:
                """Where the item stands; once folded into a message, where that message stands."""
                with siaga.db.connect() as conn:
                    row = conn.execute(select(notify_items.c.status, notify_messages.c.status.label("sending"))
                                       .outerjoin(notify_messages, notify_messages.c.id == notify_items.c.message_id)
                                       .where(notify_items.c.alert_id == alert, notify_items.c.kind == kind)).first()
                if row is None:
                    return None
                return str(row.sending) if row.status == "batched" and row.sending != "pending" else str(row.status)

            siaga.push("leak-r1-ceiling", 1)
            wait_for(lambda: receiver.requests)  # the first leak pages andi at once
            siaga.push("leak-r1-floor", 1)
            floor = wait_for(lambda: alert_id("leak-r1-floor"))
            wait_for(lambda: item_of(floor, "page") == "queued")  # same incident: the 20 s window holds its page
            r = siaga.api("POST", f"/api/v1/alerts/{floor}/ack", json={"note": "sedang ke ruang server"})
            assert r.status_code == 200, r.text
            wait_for(lambda: item_of(floor, "page") in ("withheld", "sent", "failed"))
            assert item_of(floor, "page") == "withheld"  # held, then withheld: it can never leave now
            notice = wait_for(lambda: [q for q in receiver.requests if q.body.get("siaga_kind") == "acknowledged"])
            pages_of_floor = [q for q in receiver.requests
                              if q.body.get("siaga_kind") == "page" and str(floor) in str(q.body.get("siaga_alerts"))]
            assert pages_of_floor == [], "a page about the acknowledged alert left after all"
            assert notice and "Diakui" in notice[0].body["title"]
    finally:
        receiver.stop()
