"""/api/v1: tokens and scopes, the one error shape, pagination, readings at the right resolution."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator

from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import NOW, Ctx
from web_standins import fire_alert, put_reading

from siaga.web.auth import accounts


def _token(site: Ctx, *scopes: str) -> dict[str, str]:
    with site.engine.begin() as conn:
        secret, _ = accounts.create_token(conn, "t", list(scopes), NOW, actor="test")
    return {"Authorization": f"Bearer {secret}"}


def _is_error(resp: object, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text  # type: ignore[attr-defined]
    body = resp.json()  # type: ignore[attr-defined]
    assert set(body) == {"error"} and set(body["error"]) == {"status", "code", "message", "details"}
    assert body["error"]["status"] == status
    assert body["error"]["code"] == code and body["error"]["message"]


def test_no_credentials_is_401_in_the_error_shape(client: TestClient) -> None:
    _is_error(client.get("/api/v1/alerts"), 401, "unauthorized")


def test_unknown_token_is_401(client: TestClient) -> None:
    _is_error(client.get("/api/v1/alerts", headers={"Authorization": "Bearer sga_nope"}), 401, "invalid_token")


def test_unknown_route_and_bad_query_keep_the_shape(client: TestClient, site: Ctx) -> None:
    h = _token(site, "read")
    _is_error(client.get("/api/v1/nothing-here", headers=h), 404, "not_found")
    resp = client.get("/api/v1/alerts?limit=0", headers=h)
    _is_error(resp, 422, "validation_failed")
    assert resp.json()["error"]["details"][0]["loc"] == ["query", "limit"]
    _is_error(client.get("/api/v1/alerts/999", headers=h), 404, "not_found")


def test_token_without_the_ack_scope_is_refused(client: TestClient, site: Ctx) -> None:
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    _is_error(client.post(f"/api/v1/alerts/{alert_id}/ack", headers=_token(site, "read")), 403, "forbidden")
    resp = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=_token(site, "read", "ack"),
                       json={"note": "seen"})
    assert resp.status_code == 200
    assert resp.json()["alert"]["state"] == "acknowledged"
    assert resp.json()["alert"]["acknowledged_by"] == "token:t"


def test_acknowledging_a_missing_alert_is_404_and_one_acknowledged_already_409(client: TestClient,
                                                                               site: Ctx) -> None:
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    h = _token(site, "read", "ack")
    missing = client.post(f"/api/v1/alerts/{alert_id + 1000}/ack", headers=h)
    _is_error(missing, 404, "not_found")
    assert missing.json()["error"]["details"] == {"key": "alert.no_such", "params": {"alert": alert_id + 1000}}
    assert client.post(f"/api/v1/alerts/{alert_id}/ack", headers=h).status_code == 200
    for lang in ("id", "en"):  # the API speaks English to every reader; details carry the reason to word it
        again = client.post(f"/api/v1/alerts/{alert_id}/ack", headers={**h, "Accept-Language": lang})
        _is_error(again, 409, "conflict")
        error = again.json()["error"]
        assert error["message"] == f"alert #{alert_id} was already acknowledged by token:t", error
        assert error["details"] == {"key": "alert.acknowledged_already",
                                    "params": {"alert": alert_id, "by": "token:t"}}, error


def test_revoked_token_is_refused(client: TestClient, site: Ctx) -> None:
    with site.engine.begin() as conn:
        secret, token = accounts.create_token(conn, "old", ["read"], NOW, actor="test")
        accounts.revoke_token(conn, token.id, NOW, actor="test")
    _is_error(client.get("/api/v1/site", headers={"Authorization": f"Bearer {secret}"}), 401, "invalid_token")


def test_alerts_are_paginated_with_a_cursor(client: TestClient, site: Ctx) -> None:
    ids = [fire_alert(site.manager, "temperature.high", f"temp-r{i}-top", NOW, severity="warning")
           for i in (1, 2, 3)]
    h = _token(site, "read")
    first = client.get("/api/v1/alerts?limit=2", headers=h).json()
    assert [a["id"] for a in first["items"]] == [ids[2], ids[1]]
    second = client.get(f"/api/v1/alerts?limit=2&cursor={first['next_cursor']}", headers=h).json()
    assert [a["id"] for a in second["items"]] == [ids[0]] and second["next_cursor"] is None


def test_timeline_has_the_acknowledgement_and_note(client: TestClient, site: Ctx) -> None:
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    h = _token(site, "read", "ack")
    client.post(f"/api/v1/alerts/{alert_id}/ack", headers=h)
    client.post(f"/api/v1/alerts/{alert_id}/notes", headers=h, json={"note": "ember di bawah rak"})
    kinds = [(e["kind"], e["note"]) for e in client.get(f"/api/v1/alerts/{alert_id}/timeline", headers=h).json()]
    assert kinds == [("firing", None), ("acknowledged", None), ("note", "ember di bawah rak")]
    _is_error(client.post(f"/api/v1/alerts/{alert_id}/notes", headers=h, json={"note": ""}), 422,
              "validation_failed")


def test_readings_pick_raw_for_an_hour_and_rollups_for_a_month(client: TestClient, site: Ctx) -> None:
    for i in range(6):
        put_reading(site.engine, "temp-r1-top", 24.0 + i, NOW - dt.timedelta(minutes=10 * i))
    h = _token(site, "read")
    hour = client.get("/api/v1/sensors/temp-r1-top/readings?since=1h", headers=h).json()
    assert hour["resolution"] == "raw" and len(hour["ts"]) == 6
    month = client.get("/api/v1/sensors/temp-r1-top/readings?since=30d", headers=h).json()
    assert month["resolution"] == "1h"
    _is_error(client.get("/api/v1/sensors/temp-r1-top/readings?since=forever", headers=h), 422, "validation_failed")
    _is_error(client.get("/api/v1/sensors/nope/readings", headers=h), 404, "not_found")


def test_rack_api_lists_what_is_at_stake(client: TestClient, site: Ctx) -> None:
    rack = client.get("/api/v1/racks/R1", headers=_token(site, "read")).json()
    servers = [d["id"] for d in rack["devices"] if d["kind"] == "server"]
    assert len(servers) == 6
    assert sum(d["value"] for d in rack["devices"] if d["kind"] == "server") == 5_500_000_000
    services = {s["id"]: s["direct"] for s in rack["services"]}
    assert services["portal"] is True and services["simpeg"] is False  # simpeg depends on db-utama


def test_room_map_api_marks_the_wet_sensor(client: TestClient, site: Ctx) -> None:
    put_reading(site.engine, "leak-r1-ceiling", 1.0, NOW)
    m = client.get("/api/v1/rooms/ruang-server/map", headers=_token(site, "read")).json()
    states = {k["sensor"]: k["state"] for k in m["markers"]}
    assert states["leak-r1-ceiling"] == "alarm"
    assert next(r for r in m["racks"] if r["id"] == "R1")["alarm"] is True


def test_session_cookie_needs_the_csrf_header_for_api_writes(as_operator: TestClient, site: Ctx) -> None:
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    _is_error(as_operator.post(f"/api/v1/alerts/{alert_id}/ack"), 403, "csrf_failed")


def test_openapi_is_served_and_documents_the_error_shape(client: TestClient) -> None:
    doc = client.get("/api/v1/openapi.json").json()
    assert "/api/v1/alerts/{alert_id}/ack" in doc["paths"]
    assert "ErrorResponse" in doc["components"]["schemas"]
    ack = doc["paths"]["/api/v1/alerts/{alert_id}/ack"]["post"]["responses"]
    assert ack["403"]["content"]["application/json"]["schema"]["$ref"].endswith("ErrorResponse")
    assert "swagger-ui" in client.get("/api/v1/docs").text


def test_metrics_need_a_token_and_expose_alerts(client: TestClient, site: Ctx) -> None:
    assert client.get("/metrics", follow_redirects=False).status_code == 401
    fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    put_reading(site.engine, "temp-r1-top", 23.5, NOW)
    text = client.get("/metrics", headers=_token(site, "read")).text
    assert 'siaga_alerts{severity="critical",state="firing"} 1.0' in text
    assert 'siaga_temperature_celsius{rack="R1",room="' in text and '} 23.5' in text
    assert "siaga_sensor_value" not in text  # no family mixes units any more


def test_json_nested_100k_deep_is_422_in_the_error_shape(client: TestClient, site: Ctx) -> None:
    h = {**_token(site, "read", "ack"), "Content-Type": "application/json"}
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)
    for body in ("[" * 100_000 + "]" * 100_000, '{"note":' * 100_000 + '"x"' + "}" * 100_000):
        resp = client.post(f"/api/v1/alerts/{alert_id}/ack", content=body, headers=h)
        _is_error(resp, 422, "validation_failed")
        assert "nested deeper than" in resp.json()["error"]["message"]
    assert client.post(f"/api/v1/alerts/{alert_id}/ack", json={"note": "ok"}, headers=h).status_code == 200


def test_ids_beyond_their_column_are_422_not_500(client: TestClient, site: Ctx) -> None:
    h = _token(site, "read", "ack")
    for bad in ("9223372036854775808", "0", "-1", "99999999999999999999999"):
        for method, path in (("GET", "/api/v1/alerts/{}"), ("GET", "/api/v1/alerts/{}/timeline"),
                             ("POST", "/api/v1/alerts/{}/ack"), ("POST", "/api/v1/alerts/{}/resolve"),
                             ("POST", "/api/v1/alerts/{}/notes"), ("GET", "/api/v1/incidents/{}")):
            resp = client.request(method, path.format(bad), headers=h, json={"note": "x"})
            _is_error(resp, 422, "validation_failed")
    _is_error(client.get("/api/v1/alerts/9223372036854775807", headers=h), 404, "not_found")  # the largest id


def test_a_json_body_sent_in_pieces_is_checked_whole_and_passed_on_unchanged(whole_app: FastAPI, site: Ctx) -> None:
    h = {**_token(site, "read", "ack"), "Content-Type": "application/json"}
    alert_id = fire_alert(site.manager, "leak", "leak-r1-floor", NOW)

    def pieces(body: bytes, size: int = 1000) -> Iterator[bytes]:
        for i in range(0, len(body), size):
            yield body[i: i + size]

    with TestClient(whole_app) as c:
        deep = b"[" * 5000 + b"]" * 5000
        _is_error(c.post(f"/api/v1/alerts/{alert_id}/ack", content=pieces(deep), headers=h), 422, "validation_failed")
        note = json.dumps({"note": "x" * 1500}).encode()
        resp = c.post(f"/api/v1/alerts/{alert_id}/ack", content=pieces(note), headers=h)
        assert resp.status_code == 200, resp.text
        # Past the checked size the body goes on unchecked, whole, for the route's own limit to judge.
        big = json.dumps({"note": "y" * (2 * 1024 * 1024)}).encode()
        resp = c.post(f"/api/v1/alerts/{alert_id}/notes", content=pieces(big, 64 * 1024), headers=h)
        assert resp.status_code in (200, 413, 422), resp.text
        assert resp.status_code != 422 or resp.json()["error"]["details"], resp.text  # a field error, not depth


def test_alert_summaries_are_worded_for_the_reader(client: TestClient, site: Ctx) -> None:
    from siaga.i18n.messages import Message

    seen = "2026-07-16T01:02:03+00:00"
    fire_alert(site.manager, "sensor.stale", "leak-r1-floor", NOW, summary=Message(
        "sensor.stale", {"sensor": "leak-r1-floor", "rack": "R1", "zone": "floor", "last_seen": seen}))
    h = _token(site, "read")
    site_lang = client.get("/api/v1/alerts", headers=h).json()["items"][0]  # the site speaks Indonesian
    assert site_lang["summary"] == "tidak ada pembacaan dari leak-r1-floor (R1, lantai) sejak 16 Jul 2026 09:02 WITA"
    assert site_lang["title"] == "Sensor tidak melapor"
    assert site_lang["message"] == {"key": "sensor.stale", "params": {"sensor": "leak-r1-floor", "rack": "R1",
                                                                      "zone": "floor", "last_seen": seen},
                                    "text": None}
    english = client.get("/api/v1/alerts", headers={**h, "Accept-Language": "en-GB,en;q=0.9,id;q=0.5"}).json()
    assert english["items"][0]["summary"] == "no reading from leak-r1-floor (R1, floor) since 16 Jul 2026 09:02 WITA"
    incident = client.get("/api/v1/incidents", headers={**h, "Accept-Language": "en"}).json()["items"][0]
    assert incident["title"].startswith("no reading from leak-r1-floor") and incident["title_message"]["key"]
