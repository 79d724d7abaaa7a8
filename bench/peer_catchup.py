"""Catch-up of the off-site record after a long link outage (``siaga.peers.testlink``: two ``siaga serve``
in network namespaces of their own, the room on SQLite, the colocation on PostgreSQL, one veth between them).

The link is set down for ``--outage`` seconds (default 600) while the room raises alerts at ``--rate`` a
second (default 10): each second a group of that many leak sensors turns wet (each opens an alert, firing at
once) and the previous group turns dry (the leak rule resolves its alert: ``clear_for`` 0). The room's
flapping detection is switched off (``rules: {flapping: {enabled: false}}``): with it on, a sensor turning
wet every few seconds is held firing as flapping and raises no new alert, so the load would fall to almost
nothing after the first minute. Then the link is set up again. Measured: the seconds from the restore until
the colocation holds every event the room recorded (``converge_s``), events missing there (``lost``) and
events held twice (``doubled``); also the alerts raised and the events recorded during the outage
(``alerts_raised``, ``alerts_per_s``, ``events``, ``events_per_s``) and whether the alerts' timelines agree
by id.

    python bench/peer_catchup.py [--outage 600] [--rate 10]

Prints JSON ``{"converge_s": ..., "lost": 0, "doubled": 0, ...}``; target converge < 30 s. Needs root
(``ip netns``) and PostgreSQL binaries.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, func, select

from siaga.alerts.tables import alert_events, alerts
from siaga.peers import outbox, record
from siaga.peers.tables import peer_outbox
from siaga.peers.testlink import PeerLink
from siaga.store import create_engine_for, sqlite_url
from siaga.store.testserver import PostgresServer, pg_bindir


def room_ids(room: Engine) -> list[str]:
    with room.connect() as conn:
        newest = int(conn.execute(select(func.max(peer_outbox.c.seq))).scalar_one() or 0)
        store = outbox.store_id(conn) if newest else ""
    return [f"ruang:{store}:{seq}" for seq in range(1, newest + 1)]


def colo_ids(colo: Engine) -> list[str]:
    with colo.connect() as conn:
        return record.event_ids(conn, "ruang")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--outage", type=float, default=600.0, help="seconds the link stays down")
    parser.add_argument("--rate", type=int, default=10, help="alerts a second during the outage")
    parser.add_argument("--timeout", type=float, default=300.0, help="give up converging after this many s")
    args = parser.parse_args()
    if os.geteuid() != 0:
        print(json.dumps({"skipped": "needs root (ip netns)"}))
        return 0
    bindir = pg_bindir()
    if bindir is None:
        print(json.dumps({"skipped": "PostgreSQL is not installed"}))
        return 0
    groups = 5
    pg = PostgresServer(bindir).start()
    url = f"postgresql+psycopg://postgres@/postgres?host={pg.root}&port={pg.port}"
    with tempfile.TemporaryDirectory(prefix="siaga-catchup-") as tmp:
        link = PeerLink(Path(tmp), url, sensors=args.rate * groups, rules="{flapping: {enabled: false}}")
        client = httpx.Client()
        try:
            link.make()
            link.start(timeout=120)
            room = create_engine_for(sqlite_url(link.room.folder / "state" / "siaga.db"))
            colo = create_engine_for(url)
            before_events = len(room_ids(room))
            with room.connect() as conn:
                before_alert = int(conn.execute(select(func.max(alerts.c.id))).scalar_one() or 0)
            link.cut()
            started = time.monotonic()
            second = 0
            while time.monotonic() - started < args.outage:
                wet = range((second % groups) * args.rate, (second % groups + 1) * args.rate)
                dry = range(((second - 1) % groups) * args.rate, ((second - 1) % groups + 1) * args.rate)
                link.push(client, [(f"leak-{i}", 1.0) for i in wet] + [(f"leak-{i}", 0.0) for i in dry])
                second += 1
                time.sleep(max(0.0, started + second - time.monotonic()))
            link.push(client, [(f"leak-{i}", 0.0) for i in range(link.sensors)])
            time.sleep(2.0)  # the room's writer and rules take up the last readings
            outage_s = time.monotonic() - started
            with room.connect() as conn:
                waiting = outbox.depth(conn, "colo")
            expected = room_ids(room)
            outage_events = len(expected) - before_events
            link.restore()
            restored = time.monotonic()
            converge: float | None = None
            while time.monotonic() - restored < args.timeout:
                got = colo_ids(colo)
                if set(expected) <= set(got):
                    converge = time.monotonic() - restored
                    break
                time.sleep(0.2)
            time.sleep(3.0)  # whatever the room recorded meanwhile arrives too
            expected, got = room_ids(room), colo_ids(colo)
            with room.connect() as conn:
                room_events = {int(r) for r in conn.execute(select(alert_events.c.id)).scalars()}
                raised = int(conn.execute(select(func.count()).select_from(alerts)
                                          .where(alerts.c.id > before_alert)).scalar_one())
                still_open = int(conn.execute(select(func.count()).select_from(alerts)
                                              .where(alerts.c.resolved_at.is_(None))).scalar_one())
            with colo.connect() as conn:
                colo_events = {int(r.id) for r in record.latest_rows(conn, "ruang", "alert_events")}
            out: dict[str, Any] = {
                "converge_s": round(converge, 2) if converge is not None else None,
                "lost": len(set(expected) - set(got)),
                "doubled": len(got) - len(set(got)),
                "outage_s": round(outage_s, 1),
                "rate_per_s": args.rate,  # sensors turned wet a second, each opening an alert
                "alerts_raised": raised,
                "alerts_per_s": round(raised / outage_s, 2),
                "alerts_open_at_end": still_open,
                "events": outage_events,
                "events_per_s": round(outage_events / outage_s, 2),
                "outbox_depth_at_restore": waiting.depth,
                "outbox_lag_s_at_restore": round(waiting.lag_s, 1),
                "timelines_agree": room_events == colo_events,
                "target_converge_s": 30,
            }
            room.dispose()
            colo.dispose()
        finally:
            client.close()
            link.close()
            pg.remove()
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
