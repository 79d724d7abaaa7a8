"""A room's status page as the colocation holds it: the document makes the same snapshot back, and the
colocation's view of the room (silent, stopped, never heard, stale) is said, never "operational"."""

from __future__ import annotations

import datetime as dt
import json
from zoneinfo import ZoneInfo

import pytest

from siaga.checks.confirm import Status
from siaga.checks.status.router import render_status, snapshot_json
from siaga.checks.status.snapshot import Bar, GroupRow, MaintenanceRow, ServiceRow, Snapshot
from siaga.peers.status import STALE_S, DocumentError, digest, document, snapshot_of, verdict
from siaga.peers.status_web import notice

T0 = dt.datetime(2026, 12, 6, 2, 2, tzinfo=dt.UTC)  # 10:02 WITA
WITA = ZoneInfo("Asia/Makassar")
DAYS = tuple(dt.date(2026, 12, 5) + dt.timedelta(days=i) for i in range(2))


def bars(up: float) -> tuple[Bar, ...]:
    return tuple(Bar(d, "ok" if up > 0.999 else "major", up, (1 - up) * 86400, 0.0) for d in DAYS)


def snap() -> Snapshot:
    portal = ServiceRow("portal", "Portal Kota", "Web", Status.down, T0 - dt.timedelta(minutes=5), bars(0.9), 0.9)
    absensi = ServiceRow("absensi", "Absensi", "Web", Status.up, None, bars(1.0), 1.0)
    group = GroupRow("Web", (portal, absensi), {"up": 1, "down": 1, "unknown": 0, "maintenance": 0}, Status.down,
                     bars(0.95), 0.95)
    incident = {"id": 1, "title": "Banjir di ruang server", "status": "investigating", "impact": "major",
                "created_at": T0, "resolved_at": None, "updates": [{"id": 1, "at": T0, "status": "investigating",
                                                                    "message": "Air masuk"}]}
    maint = MaintenanceRow("m1", "Ganti UPS", T0, T0 + dt.timedelta(hours=1), ("portal",), True, None)
    return Snapshot(T0, WITA, DAYS, Status.down, {"up": 1, "down": 1, "unknown": 0, "maintenance": 0}, (group,),
                    {"portal": portal, "absensi": absensi}, (portal,), (incident,), (maint,))


def test_the_document_makes_the_same_page_and_json_back() -> None:
    doc = json.loads(json.dumps(document(snap(), site="bontang", name="Diskominfo", language="id")))
    back = snapshot_of(doc)
    assert snapshot_json(back) == snapshot_json(snap())
    assert back.by_id["portal"].bars == snap().by_id["portal"].bars
    site = type("S", (), {"name": "Diskominfo"})()
    assert render_status("status/page.html", "id", back, site) == render_status("status/page.html", "id", snap(), site)


def test_the_digest_ignores_when_the_page_was_built_but_not_a_state() -> None:
    doc = document(snap(), site="bontang", name="D", language="id")
    later = {**doc, "built_at": (T0 + dt.timedelta(seconds=9)).isoformat()}
    assert digest(later) == digest(doc)
    changed = {**doc, "services": [{**doc["services"][0], "status": "up"}, doc["services"][1]]}
    assert digest(changed) != digest(doc)


@pytest.mark.parametrize("broken", [{}, {"version": 99}, {"version": 1, "days": ["x"]}, {"version": 1, "days": [],
                                    "services": [{"id": "a", "name": "A", "status": "nope", "bars": []}]}])
def test_a_broken_document_is_refused_in_one_line(broken: dict[str, object]) -> None:
    with pytest.raises(DocumentError):
        snapshot_of(broken)


def row(status: str, **kw: object) -> dict[str, object]:
    return {"status": status, "last_heartbeat_at": T0.isoformat(), **kw}


def test_the_colocation_says_what_it_knows_of_the_room() -> None:
    now = T0 + dt.timedelta(minutes=1)
    live = verdict(row("up"), T0, now, now)
    assert live.live and notice(live, "Ruang Server", "id", WITA) is None
    silent = verdict(row("silent", silent_since=now.isoformat()), T0, T0, now)
    assert (silent.state, silent.since, silent.summary) == ("silent", T0, "room_silent")
    text = notice(silent, "Ruang Server Diskominfo", "en", WITA)
    assert text is not None and "silent since 06-12-2026 10:02 WITA" in text and "last the room told" in text
    stopped = verdict(row("stopped", goodbye_at=T0.isoformat()), T0, T0, now)
    assert stopped.state == "stopped" and not stopped.live
    assert verdict(row("waiting", last_heartbeat_at=None), None, None, now).state == "not_heard"
    assert verdict(row("up"), None, None, now).state == "no_page"
    old = now + dt.timedelta(seconds=STALE_S + 1)
    assert verdict(row("up"), T0, now, old).state == "stale"
    assert verdict(None, T0, now, now).state == "not_heard"


def test_the_notice_speaks_indonesian_first() -> None:
    v = verdict(row("silent"), T0, T0, T0)
    text = notice(v, "Ruang Server Diskominfo", "id", WITA)
    assert text is not None and "diam sejak 06-12-2026 10:02 WITA" in text, text


def test_while_the_room_is_dark_the_services_probed_from_outside_show_what_the_colocation_sees_now() -> None:
    from siaga.peers.status import overlay

    seen = overlay(snap(), {"portal": Status.up, "absensi": Status.down, "unknown-one": Status.down})
    assert (seen.by_id["portal"].status, seen.by_id["absensi"].status) == (Status.up, Status.down)
    assert seen.by_id["absensi"].since is None  # the room said up: since when it is down is not known here
    assert [r.id for r in seen.down] == ["absensi"] and seen.counts == {"up": 1, "down": 1, "unknown": 0,
                                                                          "maintenance": 0}
    assert seen.groups[0].services[1].status is Status.down and seen.status is Status.down
    assert overlay(snap(), {"portal": Status.unknown}) == snap()  # nothing known from outside: the room's word
    text = notice(verdict(row("silent"), T0, T0, T0), "Ruang", "id", WITA, ["Absensi"])
    assert text is not None and text.endswith("Diperiksa dari luar barusan: Absensi.")


def test_a_gzipped_page_is_unpacked_and_a_page_too_large_unpacked_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    import gzip

    from siaga.peers import status_web

    doc = json.dumps(document(snap(), site="bontang", name="D", language="id")).encode()
    assert status_web.unpacked(gzip.compress(doc), "gzip") == doc
    assert status_web.unpacked(doc, None) == doc
    monkeypatch.setattr(status_web, "MAX_BODY", 1000)
    assert status_web.unpacked(gzip.compress(b"0" * 5000), "gzip") is None  # a small body that unpacks big
    assert status_web.unpacked(b"0" * 1001, None) is None


def test_a_room_not_heard_for_longer_than_its_window_is_never_live_even_before_its_alarm() -> None:
    now = T0 + dt.timedelta(seconds=10)
    fresh = {"status": "up", "last_heartbeat_at": T0.isoformat(), "age_s": 10.0}
    assert verdict(fresh, T0, now, now, window_s=30.0).live
    v = verdict(fresh, T0, now, now, window_s=3.0)  # e.g. the first window after the colocation restarted
    assert (v.state, v.since, v.summary) == ("not_heard", T0, "room_not_heard")
