"""The colocation's page of a room it watches (``/peers/{site}``): the room's alerts as its record reached the
colocation, each open one acknowledged there with one press (queued for the room, shown "on its way" until
the room confirms it, never queued twice); a reader sees them without the button; the overview links to it."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from web_helpers import NOW, Ctx, csrf_of, login

from siaga.alerts.manager import AlertManager
from siaga.alerts.model import Condition, Severity, SubjectKind
from siaga.alerts.store import AlertError, NoSuchAlert
from siaga.config import load_config
from siaga.i18n.messages import Message
from siaga.peers import acks, outbox, record
from siaga.peers.hub import PeerHub
from siaga.store import create_engine_for, sqlite_url
from siaga.store.migrate import upgrade
from siaga.web.auth import accounts

T0 = dt.datetime(2026, 7, 16, 0, 50, tzinfo=dt.UTC)


def the_rooms_record_arrives(site: Ctx) -> tuple[int, int]:
    """The room's portal goes down (open) and its mail server went down and came back (resolved); the room's
    record reaches the colocation's store. Their ids in the room's store."""
    room = create_engine_for(sqlite_url(site.loaded.base_dir / "room.db"))
    upgrade(room)
    with room.begin() as conn:
        outbox.set_recording(conn, True)
    at_room = AlertManager(room, clock=lambda: T0)

    def down(service: str, active: bool) -> None:
        at_room.submit(Condition("service.down", service, SubjectKind.service, active, Severity.critical, T0,
                                 summary=Message("system.down", {"component": service}), fire_at_once=True))

    down("portal", True)
    down("surat", True)
    portal, mail = at_room.get("service.down", "portal"), at_room.get("service.down", "surat")
    assert portal is not None and mail is not None
    down("surat", False)
    with room.connect() as conn:
        events = outbox.batch(conn, "bontang", 0)
    with site.engine.begin() as conn:
        record.apply(conn, "bontang", events, 0.0)
    room.dispose()
    return portal.id, mail.id


def test_a_watched_rooms_alert_is_acknowledged_from_its_page_once(whole_app: FastAPI, site: Ctx) -> None:
    portal, mail = the_rooms_record_arrives(site)
    peers = load_config(site.loaded.base_dir / "siaga-whole.yaml").config.peers
    site.services.peers = PeerHub(peers, {"bontang": b"x"}, now=NOW - dt.timedelta(seconds=30))
    with TestClient(whole_app, headers={"Accept": "text/html,*/*"}) as reader:
        assert login(reader, "viewer").status_code == 303
        assert 'href="/peers/bontang"' in reader.get("/").text  # the overview's peers card links to the page
        page = reader.get("/peers/bontang")
        assert page.status_code == 200, page.text
        assert f'id="peer-alert-{portal}"' in page.text and 'data-action="ack"' not in page.text  # no ack scope
        assert "Selesai baru-baru ini" in page.text and f'id="peer-alert-{mail}"' not in page.text  # resolved
        elsewhere = reader.get("/peers/samarinda")  # not a room this colocation watches: told in her language
        assert elsewhere.status_code == 404 and "samarinda bukan ruang yang diawasi siaga ini" in elsewhere.text
        elsewhere = reader.get("/peers/samarinda", headers={"Accept-Language": "en"})
        assert "samarinda is not a room this siaga watches" in elsewhere.text, elsewhere.text
    with TestClient(whole_app, headers={"Accept": "text/html,*/*"}) as operator:
        assert login(operator, "opera").status_code == 303
        page = operator.get("/peers/bontang").text
        assert re.search(rf'action="/peers/bontang/alerts/{portal}/ack"', page)
        token = csrf_of(operator, "/peers/bontang")
        url = f"/peers/bontang/alerts/{portal}/ack"
        assert operator.post(url, data={"note": "sudah dicek"}).status_code == 403  # no CSRF token
        done = operator.post(url, data={"csrf_token": token, "note": "sudah dicek"}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/peers/bontang"
        page = operator.get("/peers/bontang").text
        assert "dalam perjalanan ke ruang" in page and f'action="/peers/bontang/alerts/{portal}/ack"' not in page
        again = operator.post(url, data={"csrf_token": token}, follow_redirects=False)
        assert again.status_code == 409  # on its way already: not queued twice, and why, in the reader's language
        assert f"peringatan #{portal} dari bontang sudah ditangani di sini oleh opera" in again.text, again.text
        english = operator.post(url, data={"csrf_token": token}, headers={"Accept-Language": "en"})
        assert english.status_code == 409 and (
            f"alert #{portal} of bontang was already acknowledged here by opera; on its way" in english.text)
        resolved = operator.post(f"/peers/bontang/alerts/{mail}/ack", data={"csrf_token": token})
        assert resolved.status_code == 409
        missing = operator.post(f"/peers/bontang/alerts/{portal + mail}/ack", data={"csrf_token": token})
        assert missing.status_code == 404  # not in the room's record
    with site.engine.connect() as conn:
        sent = acks.waiting(conn, "bontang")
    assert [(a.alert_id, a.by, a.via, a.note) for a in sent] == [(portal, "opera", "web", "sudah dicek")]


def test_a_missing_alert_of_the_room_is_told_from_a_refused_acknowledgement_by_its_type(
        whole_app: FastAPI, site: Ctx) -> None:
    portal, mail = the_rooms_record_arrives(site)
    with site.engine.begin() as conn:
        with pytest.raises(NoSuchAlert, match="in the record of bontang"):
            acks.ack_remote(conn, "bontang", portal + mail, "andi", NOW, via="cli", origin="colo")
        with pytest.raises(AlertError, match="already resolved") as refused:
            acks.ack_remote(conn, "bontang", mail, "andi", NOW, via="cli", origin="colo")
        assert not isinstance(refused.value, NoSuchAlert)
        secret, _ = accounts.create_token(conn, "t", ["read", "ack"], NOW, actor="test")
    bearer = {"Authorization": f"Bearer {secret}", "Accept": "application/json"}
    with TestClient(whole_app) as api:
        missing = api.post(f"/api/v1/peers/bontang/alerts/{portal + mail}/ack", headers=bearer)
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found", missing.text
        resolved = api.post(f"/api/v1/peers/bontang/alerts/{mail}/ack", headers=bearer)
        assert resolved.status_code == 409 and resolved.json()["error"]["code"] == "conflict", resolved.text
        assert resolved.json()["error"]["message"] == f"alert #{mail} of bontang is already resolved"
        assert resolved.json()["error"]["details"] == {"key": "alert.remote.resolved_already",
                                                       "params": {"alert": mail, "site": "bontang"}}
        done = api.post(f"/api/v1/peers/bontang/alerts/{portal}/ack", headers=bearer, json={"note": "menuju"})
        assert done.status_code == 200 and done.json()["queued"] is True, done.text
        again = api.post(f"/api/v1/peers/bontang/alerts/{portal}/ack", headers=bearer)
        assert again.status_code == 409 and again.json()["error"]["code"] == "conflict", again.text
