"""The public status page: no login, groups, 90 bars, incidents with staff updates, id/en, WITA, pings."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from siaga.checks import records
from siaga.checks.confirm import Change, Status
from siaga.checks.monitor import RecordedChange
from siaga.config import LoadedConfig, parse_config
from siaga.runtime.context import RuntimeContext
from siaga.store.sessions import heartbeat, start_session
from siaga.web.app import create_app

pytestmark = pytest.mark.integration

NOW = dt.datetime(2025, 7, 20, 4, 0, tzinfo=dt.UTC)  # 12:00 WITA

CONFIG = """
site: {name: Diskominfo Kota Bontang, timezone: Asia/Makassar, language: id}
store: {data_dir: data}
services:
  - {id: portal, name: Portal bontangkota.go.id, group: Portal, criticality: vital}
  - {id: berita, name: Berita kota, group: Portal}
  - {id: absensi, name: Absensi pegawai, group: Layanan pegawai}
  - {id: internal, name: Internal, public: false}
checks:
  - {service: portal, type: http, url: "https://bontangkota.go.id"}
  - {service: berita, type: http, url: "https://berita.bontangkota.go.id"}
  - {service: absensi, type: http, url: "https://absensi.bontangkota.go.id"}
  - {id: backup-ping, service: absensi, type: heartbeat, period_s: 3600}
maintenance:
  - {id: canopy, title: Pemasangan kanopi, starts_at: "2025-07-26T20:00", ends_at: "2025-07-27T02:00",
     services: [portal]}
"""


@pytest.fixture
def client(tmp_path: Path, db_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("SIAGA_STATUS_TOKEN_FILE", str(tmp_path / "token"))
    (tmp_path / "token").write_text("t0ken-for-staff\n")
    loaded = LoadedConfig(parse_config(CONFIG, "siaga.yaml"), tmp_path / "siaga.yaml")
    down_at = dt.datetime(2025, 7, 16, 2, 0, tzinfo=dt.UTC)
    with db_engine.begin() as conn:
        sid = start_session(conn, NOW - dt.timedelta(days=10))
        heartbeat(conn, sid, NOW)  # siaga has run the whole ten days and runs still
        records.write_batch(conn, [
            RecordedChange("portal-http", "portal", Change(Status.unknown, Status.up, NOW - dt.timedelta(days=10),
                                                           NOW - dt.timedelta(days=10), "")),
            RecordedChange("portal-http", "portal", Change(Status.up, Status.down, down_at, down_at, "HTTP 503")),
            RecordedChange("berita-http", "berita", Change(Status.unknown, Status.up, NOW - dt.timedelta(days=10),
                                                           NOW - dt.timedelta(days=10), "")),
        ], [])
        zone = __import__("zoneinfo").ZoneInfo("Asia/Makassar")
        days = [dt.date(2025, 7, 10) + dt.timedelta(days=i) for i in range(11)]
        records.recompute_days(conn, days, zone, NOW, checks_of={"portal": ["portal-http"], "berita": ["berita-http"]},
                               maintenance={})
        from siaga.checks.engine import ChecksEngine

    rt = RuntimeContext(loaded=loaded, engine=db_engine, clock=lambda: NOW)
    engine = ChecksEngine(loaded.config, base_dir=tmp_path, clock=lambda: NOW)
    with db_engine.connect() as conn:
        engine.restore(conn)
    from siaga.checks.base import CheckResult

    for i in range(3):
        engine.on_result(CheckResult("portal-http", "portal", down_at + dt.timedelta(seconds=i), False, None, "503"))
    engine.on_result(CheckResult("berita-http", "berita", NOW, True, 5.0, "HTTP 200"))
    rt.services.checks = engine
    return TestClient(create_app(rt))


def test_the_page_needs_no_login_and_speaks_indonesian_by_default(client: TestClient) -> None:
    page = client.get("/status")
    assert page.status_code == 200
    html = page.text
    assert "1 layanan mati" in html
    assert "Portal bontangkota.go.id" in html and "Berita kota" in html and "Internal" not in html
    assert "sejak 16-07-2025 10:00 WITA" in html  # down since, in local time
    assert "Pemasangan kanopi" in html and "26-07-2025 20:00 WITA" in html
    assert html.count('class="bars"') == 3 and html.count("<span class=") >= 270


def test_english_with_lang_en(client: TestClient) -> None:
    html = client.get("/status?lang=en").text
    assert "1 service is down" in html and "since 16-07-2025 10:00 WITA" in html
    assert "Scheduled maintenance" in html


def test_daily_bars_show_the_outage_days(client: TestClient) -> None:
    data = client.get("/api/v1/status/services?group=Portal").json()
    portal = next(s for s in data["services"] if s["id"] == "portal")
    assert portal["status"] == "down" and len(portal["days"]) == 90
    by_day = {d["day"]: d for d in portal["days"]}
    assert by_day["2025-07-17"]["uptime"] == 0.0
    assert by_day["2025-07-15"]["uptime"] == 1.0
    assert by_day["2025-04-30"]["uptime"] is None  # before siaga watched: no data, never "up"


def test_staff_post_incidents_with_a_token_and_the_public_sees_them(client: TestClient) -> None:
    body = {"title": "Portal tidak dapat diakses", "message": "Kami sedang menyelidiki.", "services": ["portal"]}
    assert client.post("/api/v1/status/incidents", json=body).status_code == 401
    wrong = client.post("/api/v1/status/incidents", json=body, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["status"] == 401
    auth = {"Authorization": "Bearer t0ken-for-staff"}
    made = client.post("/api/v1/status/incidents", json=body, headers=auth)
    assert made.status_code == 201
    iid = made.json()["id"]
    up = client.post(f"/api/v1/status/incidents/{iid}/updates", headers=auth,
                     json={"status": "identified", "message": "Atap bocor di atas rak R1."})
    assert up.status_code == 201
    assert client.post("/api/v1/status/incidents/999/updates", headers=auth,
                       json={"status": "identified", "message": "x"}).status_code == 404
    bad = client.post("/api/v1/status/incidents", headers=auth, json={**body, "services": ["nope"]})
    assert bad.status_code == 422
    html = client.get("/status").text  # the cache is invalidated by the post
    assert "Portal tidak dapat diakses" in html and "Atap bocor di atas rak R1." in html
    assert "Teridentifikasi" in html and "Sedang diselidiki" in html
    listed = client.get("/api/v1/status/incidents?active=true").json()
    assert listed[0]["status"] == "identified" and len(listed[0]["updates"]) == 2


def test_a_heartbeat_ping_is_taken_and_an_unknown_one_refused(client: TestClient) -> None:
    assert client.post("/ping/backup-ping").text == "OK"
    assert client.get("/ping/backup-ping/fail").status_code == 200
    assert client.get("/ping/nope").status_code == 404


def test_the_services_list_pages_and_finds(client: TestClient) -> None:
    html = client.get("/status/services?q=absensi&lang=en").text
    assert "Absensi pegawai" in html and "Berita kota" not in html
    summary = client.get("/api/v1/status").json()
    assert summary["status"] == "down" and summary["counts"]["down"] == 1
    assert [g["name"] for g in summary["groups"]] == ["Portal", "Layanan pegawai"]
