"""The pages: logging in, the overview, the room map, the rack panel, alerts, config, accounts."""

from __future__ import annotations

import dataclasses
import datetime as dt

from fastapi.testclient import TestClient
from web_helpers import NOW, PASSWORD, Ctx, csrf_of, login
from web_standins import fire_alert, put_reading

from siaga.i18n.messages import Message


def test_a_page_without_session_sends_to_login(client: TestClient) -> None:
    resp = client.get("/room", follow_redirects=False)
    assert resp.status_code == 303
    assert resp.headers["location"].startswith("/login?next=/room")


def test_login_sets_a_hardened_session_cookie(client: TestClient) -> None:
    resp = login(client, "viewer")
    assert resp.status_code == 303
    cookie = resp.headers["set-cookie"]
    assert "siaga_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie.replace("Lax", "lax")
    assert "Secure" not in cookie  # plain HTTP on loopback
    assert client.get("/").status_code == 200


def test_cookie_is_secure_behind_https(client: TestClient) -> None:
    page = client.get("/login")
    import re

    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert token
    resp = client.post("/login", data={"username": "viewer", "password": PASSWORD, "csrf_token": token.group(1)},
                       headers={"X-Forwarded-Proto": "https"}, follow_redirects=False)
    assert "Secure" in resp.headers["set-cookie"]


def test_overview_shows_worst_alert_and_value(as_viewer: TestClient, site: Ctx) -> None:
    fire_alert(site.manager, "leak", "leak-r1-ceiling", NOW,
               summary=Message("sensor.leak.on", {"sensor": "leak-r1-ceiling", "rack": "R1"}))
    page = as_viewer.get("/").text
    assert "Kebocoran air · R1, plafon di atas" in page  # the headline, in the reader's language
    assert "Rp5,54 miliar" in page  # the six servers of R1 and its PDU, from the inventory


def test_room_map_colours_racks_and_marks_a_wet_sensor(as_viewer: TestClient, site: Ctx) -> None:
    put_reading(site.engine, "temp-r1-top", 29.5, NOW)
    put_reading(site.engine, "temp-r1-bottom", 22.0, NOW)
    put_reading(site.engine, "leak-r1-ceiling", 1.0, NOW)
    page = as_viewer.get("/room").text
    assert 'id="rack-R1"' in page and 'data-band="warm"' in page
    assert 'id="marker-leak-r1-ceiling"' in page
    fragment = as_viewer.get("/fragments/room/ruang-server").text
    assert 'data-sensor="leak-r1-ceiling" data-state="alarm"' in fragment
    assert 'data-sensor="leak-r1-floor" data-state="unknown"' in fragment


def test_rack_panel_lists_devices_services_and_value(as_viewer: TestClient) -> None:
    panel = as_viewer.get("/fragments/rack/R1").text
    for device in ("Server web 1", "Server basis data 2", "Server aplikasi 2"):
        assert device in panel
    assert "Portal bontangkota.go.id" in panel and "Absensi pegawai" in panel
    assert "5,5" in panel or "5.535.000.000" in panel  # six servers and the PDU


def test_unknown_rack_is_a_404_page(as_viewer: TestClient) -> None:
    assert as_viewer.get("/fragments/rack/R9").status_code == 404


def test_alert_page_shows_timeline_and_operator_acknowledges(as_operator: TestClient, site: Ctx) -> None:
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    token = csrf_of(as_operator, f"/alerts/{alert_id}")
    site.now = NOW + dt.timedelta(minutes=2)
    resp = as_operator.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token, "note": "on my way"})
    assert resp.status_code == 200
    page = as_operator.get(f"/alerts/{alert_id}").text
    assert "acknowledged" in page and "opera" in page and "on my way" in page


def test_an_acknowledgement_refused_is_told_in_the_readers_language(as_operator: TestClient, site: Ctx) -> None:
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    token = csrf_of(as_operator, f"/alerts/{alert_id}")
    assert as_operator.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token}).status_code == 200
    htmx = {"HX-Request": "true"}  # the page's button: the refusal comes back as a flash
    again = as_operator.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token}, headers=htmx)
    assert again.status_code == 409 and f"alarm #{alert_id} sudah ditangani oleh opera" in again.text, again.text
    english = as_operator.post(f"/alerts/{alert_id}/ack", data={"csrf_token": token},
                               headers={**htmx, "Accept-Language": "en"})
    assert english.status_code == 409 and f"alert #{alert_id} was already acknowledged by opera" in english.text
    missing = as_operator.post(f"/alerts/{alert_id + 1000}/ack", data={"csrf_token": token}, headers=htmx)
    assert missing.status_code == 404 and f"tidak ada alarm #{alert_id + 1000}" in missing.text, missing.text


def test_a_pages_refusal_is_told_in_the_readers_language_and_the_api_keeps_its_english(
        as_operator: TestClient, site: Ctx) -> None:
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    token = csrf_of(as_operator, f"/alerts/{alert_id}")
    missing = alert_id + 1000
    cases = [  # what was asked; the page's answer in Indonesian and in English; the API's code and English message
        ("post", f"/alerts/{alert_id}/notes", {"csrf_token": token}, 422, "tulis catatannya dulu",
         "write a note first", "validation_failed", "write a note first"),
        ("post", "/account/language", {"language": "fr", "csrf_token": token}, 422, "bahasa harus id atau en",
         "language must be id or en", "validation_failed", "language must be id or en"),
        ("get", f"/alerts/{missing}", None, 404, f"tidak ada alarm #{missing}", f"no alert #{missing}",
         "not_found", f"alert {missing} not found"),
        ("get", "/incidents/999", None, 404, "tidak ada insiden #999", "no incident #999",
         "not_found", "incident 999 not found"),
        ("get", "/sensors/nope", None, 404, "sensor nope tidak ditemukan", "sensor nope not found",
         "not_found", "sensor nope not found"),
        ("get", "/room/nope", None, 404, "ruang nope tidak ditemukan", "room nope not found",
         "not_found", "room nope not found"),
        ("get", "/fragments/rack/R9", None, 404, "rak R9 tidak ditemukan", "rack R9 not found",
         "not_found", "rack R9 not found"),
    ]
    for method, path, data, status, indonesian, english, code, api in cases:
        for headers, said in (({"HX-Request": "true"}, indonesian),  # a flash in the page
                              ({"Accept-Language": "en"}, english)):  # a page of its own (the browser's Accept)
            page = as_operator.request(method, path, data=data, headers=headers)
            assert page.status_code == status and said in page.text, (path, page.text)
        answer = as_operator.request(method, path, data=data,
                                     headers={"Accept": "application/json", "Accept-Language": "id"}).json()["error"]
        assert (answer["code"], answer["message"], answer["details"]) == (code, api, None), answer


def test_an_error_pages_title_and_reason_are_in_the_readers_language_and_the_api_keeps_its_english(
        as_admin: TestClient) -> None:
    token = csrf_of(as_admin, "/admin/users")
    cases = [  # what was asked; the page's heading and reason in Indonesian, in English; the API's code and message
        ("get", "/fragments/rack/R9", None, 404, ("404 Tidak ditemukan", "rak R9 tidak ditemukan"),
         ("404 Not found", "rack R9 not found"), "not_found", "rack R9 not found"),
        ("get", "/no/such/page", None, 404, ("404 Tidak ditemukan", "tidak ada halaman di alamat ini"),
         ("404 Not found", "there is no page at this address"), "not_found", "Not Found"),
        ("get", "/admin/tokens", None, 405, ("405 Metode tidak diizinkan", "alamat ini tidak menerima"),
         ("405 Method not allowed", "this address does not take this kind of request"), "method_not_allowed",
         "Method Not Allowed"),
        ("post", "/admin/users", {"csrf_token": token, "name": "budi"}, 422,
         ("422 Tidak dapat diproses", "password: nilai ini tidak dapat dipakai"),
         ("422 Cannot be processed", "password: this value cannot be used"), "validation_failed",
         "body.password: Field required"),
    ]
    for method, path, data, status, indonesian, english, code, api in cases:
        for language, said, unsaid in (("id", indonesian, english), ("en", english, indonesian)):
            page = as_admin.request(method, path, data=data, headers={"Accept-Language": language})
            assert page.status_code == status, (path, page.text)
            heading, reason = said
            assert f"<title>{heading}</title>" in page.text and f"<h1>{heading}</h1>" in page.text, page.text
            assert reason in page.text and unsaid[0] not in page.text, (path, page.text)
            assert "Not Found" not in page.text and "Field required" not in page.text, page.text
        flash = as_admin.request(method, path, data=data, headers={"HX-Request": "true"})  # htmx: the reason alone
        assert flash.status_code == status and indonesian[1] in flash.text and "<h1>" not in flash.text, flash.text
        answer = as_admin.request(method, path, data=data,
                                  headers={"Accept": "application/json", "Accept-Language": "id"}).json()["error"]
        assert (answer["code"], answer["message"]) == (code, api), answer


def test_the_accounts_page_says_what_was_done_and_why_not_in_the_readers_language(as_admin: TestClient) -> None:
    token = csrf_of(as_admin, "/admin/users")

    def post(path: str, language: str, **data: object) -> tuple[int, str]:
        resp = as_admin.post(path, data={"csrf_token": token, **data}, headers={"Accept-Language": language})
        return resp.status_code, resp.text

    cases = [  # what the admin asks; the page's answer in Indonesian; in English
        ("/admin/users", {"name": "budi", "password": "pendek", "role": "operator"},
         (422, "kata sandi harus terdiri dari setidaknya 10 karakter"),
         (422, "the password must have at least 10 characters")),
        ("/admin/users", {"name": "budiharjo12", "password": "BudiHarjo12", "role": "operator"},
         (422, "kata sandi tidak boleh sama dengan nama akun"), (422, "the password must not be the account name")),
        ("/admin/users", {"name": "Budi Santoso", "password": "sebelas-huruf"},
         (422, "nama akun &#39;Budi Santoso&#39; tidak sah"), (422, "invalid account name &#39;Budi Santoso&#39;")),
        ("/admin/users", {"name": "budi", "password": "sebelas-huruf", "role": "operator"},
         (200, "akun budi ditambahkan"), (422, "an account named &#39;budi&#39; exists already")),
        ("/admin/users/budi/role", {"role": "viewer"}, (200, "budi sekarang berperan viewer"),
         (200, "budi is now viewer")),
        ("/admin/users/budi/disable", {"disabled": "1"}, (200, "budi dinonaktifkan"), (200, "budi disabled")),
        ("/admin/users/budi/disable", {"disabled": "0"}, (200, "budi diaktifkan"), (200, "budi enabled")),
        ("/admin/users/admin/disable", {"disabled": "1"}, (422, "admin terakhir tidak dapat dinonaktifkan"),
         (422, "the last admin cannot be disabled")),
        ("/admin/users/admin/role", {"role": "viewer"}, (422, "admin terakhir tidak dapat kehilangan peran admin"),
         (422, "the last admin cannot lose the admin role")),
        ("/admin/users/nobody/role", {"role": "viewer"}, (422, "tidak ada akun bernama &#39;nobody&#39;"),
         (422, "no account named &#39;nobody&#39;")),
        ("/admin/tokens", {"name": "grafana", "scopes": ["read"]}, (200, "token dibuat"), (200, "token created")),
        ("/admin/tokens", {"name": "grafana"}, (422, "token perlu setidaknya satu cakupan"),
         (422, "a token needs at least one scope")),
        ("/admin/tokens/1/revoke", {}, (200, "token 1 dicabut"), (200, "token 1 revoked")),
        ("/admin/tokens/999/revoke", {}, (422, "tidak ada token dengan id 999"), (422, "no token with id 999")),
    ]
    for path, data, (id_status, indonesian), (en_status, english) in cases:
        status, text = post(path, "id", **data)
        assert status == id_status and indonesian in text and english not in text, (path, text)
        status, text = post(path, "en", **data)
        assert status == en_status and english in text and indonesian not in text, (path, text)


def test_language_switch_is_stored_on_the_account(as_viewer: TestClient) -> None:
    token = csrf_of(as_viewer)
    resp = as_viewer.post("/account/language", data={"language": "en", "csrf_token": token}, follow_redirects=False)
    assert resp.status_code == 303
    assert '<html lang="en">' in as_viewer.get("/").text
    token = csrf_of(as_viewer)
    as_viewer.post("/account/language", data={"language": "id", "csrf_token": token})
    assert '<html lang="id">' in as_viewer.get("/").text


def test_services_and_backups_pages_list_what_is_configured(as_viewer: TestClient) -> None:
    services = as_viewer.get("/services").text
    assert 'id="service-portal"' in services and "not-configured" not in services
    backups = as_viewer.get("/backups").text
    assert 'id="backups"' in backups and "belum pernah" in backups  # no run yet: "never"


def test_services_and_backups_say_not_configured_without_config(as_viewer: TestClient, site: Ctx) -> None:
    site.loaded = dataclasses.replace(site.loaded, config=site.loaded.config.model_copy(update={
        "checks": [], "backups": []}))
    assert "not-configured" in as_viewer.get("/services").text
    assert "not-configured" in as_viewer.get("/backups").text
    assert "not-configured" in as_viewer.get("/runbooks").text


def test_admin_adds_a_person_and_a_token_shown_once(as_admin: TestClient) -> None:
    token = csrf_of(as_admin, "/admin/users")
    resp = as_admin.post("/admin/users", data={"csrf_token": token, "name": "budi", "password": "sebelas-huruf",
                                               "role": "operator"})
    assert resp.status_code == 200 and "budi" in resp.text
    resp = as_admin.post("/admin/tokens", data={"csrf_token": token, "name": "grafana", "scopes": ["read"]})
    assert 'id="new-token">sga_' in resp.text
    htmx = {"HX-Request": "true"}  # a refused form says why in the reader's language (the API: in English)
    bad = as_admin.post("/admin/tokens", data={"csrf_token": token, "name": "x", "scopes": ["write"]}, headers=htmx)
    assert bad.status_code == 422, bad.text
    assert "cakupan write tidak dikenal: pilih dari read, ack, admin, ingest" in bad.text, bad.text
    bad = as_admin.post("/admin/users/budi/role", data={"csrf_token": token, "role": "boss"},
                        headers={**htmx, "Accept-Language": "en"})
    assert bad.status_code == 422 and "role must be viewer, operator or admin" in bad.text, bad.text
    bad = as_admin.post("/admin/tokens", data={"csrf_token": token, "name": "x", "scopes": ["write"]},
                        headers={"Accept": "application/json"})
    assert bad.json()["error"]["message"] == "unknown scope 'write': choose from read, ack, admin, ingest"
    assert 'id="new-token"' not in as_admin.get("/admin/users").text
    audit = as_admin.get("/admin/audit").text
    assert "user.added" in audit and "token.created" in audit


def test_viewer_cannot_open_accounts(as_viewer: TestClient) -> None:
    assert as_viewer.get("/admin/users").status_code == 403


def test_logout_ends_the_session(as_viewer: TestClient) -> None:
    token = csrf_of(as_viewer)
    assert as_viewer.post("/logout", data={"csrf_token": token}, follow_redirects=False).status_code == 303
    assert as_viewer.get("/", follow_redirects=False).status_code == 303


def test_incident_page_merges_the_timelines_of_its_alerts(as_operator: TestClient, site: Ctx) -> None:
    first = fire_alert(site.manager, "leak", "leak-r1-ceiling", NOW)
    fire_alert(site.manager, "leak", "leak-r1-floor", NOW + dt.timedelta(seconds=30))
    alert = as_operator.get(f"/api/v1/alerts/{first}", headers={"X-CSRF-Token": "-"}).json()
    incident = alert["incident_id"]
    assert incident is not None
    page = as_operator.get(f"/incidents/{incident}").text
    assert page.count("leak-r1-ceiling") >= 2 and "leak-r1-floor" in page  # both alerts, and their events
    assert 'id="timeline"' in page


def test_login_page_says_how_to_make_the_first_account(client: TestClient, site: Ctx) -> None:
    assert 'id="no-accounts"' not in client.get("/login").text
    from sqlalchemy import delete

    from siaga.web.auth.tables import web_users

    with site.engine.begin() as conn:
        conn.execute(delete(web_users))
    assert "siaga user add NAME --role admin" in client.get("/login").text


def test_services_page_shows_public_incidents_and_backups_page_the_runs(as_viewer: TestClient, site: Ctx) -> None:
    from siaga.backup.tables import backup_runs
    from siaga.checks.records import create_incident

    with site.engine.begin() as conn:
        create_incident(conn, title="Portal tidak dapat diakses", status="investigating", impact="major",
                        services=["portal"], message="Tim sedang memeriksa", author="andi", at=NOW)
        conn.execute(backup_runs.insert().values(job="db-utama", target="colo-kaltim", operation="backup",
                                                 scheduled=True, started_at=NOW, finished_at=NOW, ok=False,
                                                 duration_s=12.0))
    services = as_viewer.get("/services").text
    assert "Portal tidak dapat diakses" in services and "Tim sedang memeriksa" in services
    backups = as_viewer.get("/backups").text
    assert 'id="runs"' in backups and "gagal" in backups  # the failed run, in Indonesian


def test_alert_page_says_which_services_at_stake_have_a_verified_off_site_copy(
    as_viewer: TestClient, site: Ctx
) -> None:
    from siaga.backup import records
    from siaga.backup.manifest import FileEntry, FileManifest

    taken = NOW - dt.timedelta(hours=5)
    records.record_backup(
        site.engine, run_tag="run-1", job="portal-berkas", target="colo-kaltim", snapshot_id="aaaa0001",
        taken_at=taken, seen_at=taken, manifest=FileManifest({"/var/www/index.php": FileEntry(1, 1, "0" * 64)}),
    )
    records.mark_verified(site.engine, target="colo-kaltim", snapshot_id="aaaa0001", at=NOW - dt.timedelta(hours=1))
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    page = as_viewer.get(f"/alerts/{alert_id}").text
    copies = page[page.index('id="offsite-copies"'):page.index("</ul>", page.index('id="offsite-copies"'))]
    # berita's files were copied off site and drilled; portal also needs the db-utama job, which has no copy.
    assert "<strong>berita</strong>: " in copies and "tugas portal-berkas di colo-kaltim" in copies
    assert 'class="bad"><strong>portal</strong>: tidak ada: belum ada salinan off-site yang terverifikasi' in copies


def test_numbers_are_written_the_way_the_reader_writes_them(as_viewer: TestClient, site: Ctx) -> None:
    put_reading(site.engine, "temp-r1-top", 23.56, NOW)
    page = as_viewer.get("/sensors").text  # the site speaks Indonesian
    assert "23,6 °C" in page and "23.6" not in page
    room = as_viewer.get("/fragments/room/ruang-server").text
    assert "23,6 °C" in room
    english = as_viewer.get("/sensors", headers={"Accept-Language": "en"}).text  # no account language: asked for
    assert '<html lang="en">' in english and "23.6 °C" in english


def test_the_sensors_page_lists_mqtt_topics_no_sensor_maps(as_viewer: TestClient, site: Ctx) -> None:
    from siaga.readings.writer import write_rows

    write_rows(site.engine, [], None, NOW, {"zigbee2mqtt/0x00158d0001a2b3c4": 7})
    page = as_viewer.get("/sensors").text
    assert "Topik MQTT yang tidak dipetakan ke sensor mana pun" in page
    assert "<code>zigbee2mqtt/0x00158d0001a2b3c4</code></td><td>7</td>" in page


def test_the_runbooks_page_shows_each_plan_and_the_latest_records(as_viewer: TestClient, site: Ctx) -> None:
    from siaga.config.runbooks import RunbooksConfig
    from siaga.store.events import record_event

    books = RunbooksConfig.model_validate({
        "hosts": [{"device": "srv-web-1", "address": "10.0.0.11", "key_file": "k", "known_hosts_file": "kh"}],
        "books": [{"id": "shutdown-r1", "mode": "approve", "trigger": {"rule": "leak", "subject": "R1"},
                   "steps": [{"kind": "shutdown", "target": "R1"}]}]})
    site.loaded = dataclasses.replace(site.loaded, config=site.loaded.config.model_copy(update={"runbooks": books}))
    with site.engine.begin() as conn:
        record_event(conn, "runbook.run.ended", subject="shutdown-r1", actor="andi", data={"status": "done"})
        record_event(conn, "runbook.drill.ended", subject="shutdown-r1", actor="andi", data={"ok": True, "rto_s": 12.5})
    page = as_viewer.get("/runbooks")
    assert page.status_code == 200
    text = page.text
    assert 'id="runbook-shutdown-r1"' in text and "srv-web-1" in text and "leak R1" in text
    assert "runbook.run.ended" in text and "andi" in text
    drill = text.split('class="drill"', 1)[1].split("</p>", 1)[0]  # the latest recovery drill and its RTO
    assert "12.5" in drill and 'class="ok"' in drill


def test_the_backups_page_words_why_the_last_run_failed_for_the_reader(as_viewer: TestClient, site: Ctx) -> None:
    from siaga.backup.restic.errors import ResticFailure, describe
    from siaga.backup.tables import backup_runs
    from siaga.i18n.messages import note_of

    failed = {"target": "colo-kaltim", "operation": "backup", "scheduled": True, "started_at": NOW,
              "finished_at": NOW, "ok": False, "duration_s": 3.0}
    with site.engine.begin() as conn:
        conn.execute(backup_runs.insert().values(
            job="db-utama", error=note_of(describe(ResticFailure.wrong_password, "colo-kaltim")), **failed))
        conn.execute(backup_runs.insert().values(  # a row written before keys: shown as it was written
            job="portal-berkas", error="restic failed on colo-kaltim: an old line", **failed))
    page = as_viewer.get("/backups").text
    assert "kata sandi repositori colo-kaltim salah" in page, page
    assert "wrong password" not in page and "\x1e" not in page and "restic.wrong_password" not in page
    assert "restic failed on colo-kaltim: an old line" in page
    as_viewer.cookies.set("siaga_lang", "en")
    assert "wrong password for repository colo-kaltim" in as_viewer.get("/backups").text
