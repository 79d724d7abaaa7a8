"""In a real browser: log in, watch a leak appear on the room map and in the alerts without a reload,
acknowledge it from the page, read its timeline; and the same room on a phone."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
from typing import Any

import httpx
import pytest
from e2e_helpers import ARTIFACTS, PASSWORD, Siaga

pytestmark = pytest.mark.integration


def log_in(page: Any, url: str, name: str, then: str = "/") -> None:
    page.goto(f"{url}/login?next={then}")
    page.fill("input[name=username]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{url}{then}")


def push_wet(siaga: Siaga, sensor: str) -> str:
    """A wet reading from outside siaga: MQTT with Debian's mosquitto_pub when there is a broker."""
    from siaga.runtime.registry import COMPONENTS
    from siaga.sources.mqtt.component import component as mqtt_component

    mqtt = mqtt_component in COMPONENTS
    if not mqtt and importlib.util.find_spec("siaga.sources.http") is None:
        pytest.skip("no source in this siaga takes readings from outside (MQTT or HTTP push)")
    if mqtt and siaga.broker_port and shutil.which("mosquitto_pub"):
        subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(siaga.broker_port), "-q", "1",
                        "-t", f"zigbee2mqtt/{sensor}", "-m", json.dumps({"water_leak": True})], check=True, timeout=10)
        return "mqtt"
    r = httpx.post(f"{siaga.url}/api/v1/readings", json=[{"sensor": sensor, "value": 1}],
                   headers={"Authorization": f"Bearer {siaga.push_token}"}, timeout=5)
    assert r.status_code in (200, 207), r.text
    return "http"


def test_leak_appears_live_and_is_acknowledged_from_the_page(page: Any, siaga: Siaga) -> None:
    log_in(page, siaga.url, "andi", "/room")
    marker = page.locator("#marker-leak-r1-ceiling")
    assert marker.get_attribute("data-state") in ("unknown", "ok", "stale")
    page.wait_for_selector("body.live", state="attached")  # the live-update stream is open
    navigations: list[str] = []
    page.on("framenavigated", lambda frame: navigations.append(frame.url) if frame == page.main_frame else None)
    push_wet(siaga, "leak-r1-ceiling")
    page.wait_for_selector("#marker-leak-r1-ceiling[data-state=alarm]", timeout=20_000)
    page.wait_for_selector("#rack-R1[data-alarm=yes]")
    alert = page.locator("#room-alerts li.alert[data-subject=leak-r1-ceiling]")
    alert.wait_for(timeout=20_000)
    assert navigations == []  # no reload: htmx swapped the fragments on the live events
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "room-leak.png"), full_page=True)
    alert.locator("button[data-action=ack]").click()
    page.wait_for_selector("#room-alerts li.alert[data-subject=leak-r1-ceiling].state-acknowledged")
    alert_id = page.locator("#room-alerts li.alert[data-subject=leak-r1-ceiling]").get_attribute("id")
    assert alert_id is not None
    page.click(f"#{alert_id} a")
    page.wait_for_selector("#timeline")
    timeline = page.inner_text("#timeline")
    assert "andi" in timeline
    from siaga.runtime.registry import COMPONENTS

    # every attempt to tell someone is there
    if any(getattr(c, "__module__", "").startswith("siaga.notify.") for c in COMPONENTS):
        page.wait_for_selector("#timeline li.ev-notification")
        assert page.locator("#timeline li.ev-notified, #timeline li.ev-notify_failed").count() == 0  # once each
    assert page.locator("#acked").count() == 1
    page.fill("textarea[name=note]", "Ember dipasang, atap diperiksa.")
    page.click("button[data-action=note]")
    page.wait_for_selector("#timeline >> text=Ember dipasang")
    page.screenshot(path=str(ARTIFACTS / "alert-timeline.png"), full_page=True)


def test_a_viewer_sees_no_acknowledge_button(page: Any, siaga: Siaga) -> None:
    log_in(page, siaga.url, "kadis", "/alerts")
    page.wait_for_selector("#alerts")
    assert page.locator("button[data-action=ack]").count() == 0


def test_room_map_on_a_phone(phone: Any, siaga: Siaga) -> None:
    log_in(phone, siaga.url, "kadis", "/room")
    svg = phone.locator("svg.roommap")
    box = svg.bounding_box()
    assert box is not None and box["width"] <= 390 and box["width"] > 300  # fits the screen, no sideways scroll
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.locator("#rack-R1").click()
    phone.wait_for_selector("#rack-title")
    assert "Rp5,5" in phone.inner_text("#rack-panel")  # the six servers of R1
    assert not phone.locator("nav.main").is_visible()  # the menu folds away...
    phone.click("label.nav-button")
    assert phone.locator("nav.main").is_visible()  # ...and opens
    ARTIFACTS.mkdir(exist_ok=True)
    phone.screenshot(path=str(ARTIFACTS / "phone-room.png"), full_page=True)


PAGES = ["/", "/room", "/alerts", "/incidents", "/sensors", "/sensors/temp-r1-top", "/services", "/backups",
         "/runbooks", "/config", "/admin/users", "/admin/audit", "/api/v1/docs"]


def test_every_page_works_under_the_content_security_policy(page: Any, siaga: Siaga) -> None:
    """The strict policy is sent on every page, and nothing of ours needs what it forbids (the page fixture
    fails the test on any blocked script, style or handler, and on any script error)."""
    anonymous = page.goto(f"{siaga.url}/login")
    assert anonymous is not None and "script-src 'self'" in anonymous.headers["content-security-policy"]
    assert "unsafe" not in anonymous.headers["content-security-policy"]
    log_in(page, siaga.url, "admin", "/")
    for path in PAGES:
        resp = page.goto(siaga.url + path)
        assert resp is not None and resp.status == 200, path
        assert resp.headers["content-security-policy"] == anonymous.headers["content-security-policy"], path
        if not path.startswith("/api/"):
            page.wait_for_selector("body.live", state="attached")  # htmx and its live stream are running
    page.goto(siaga.url + "/sensors/temp-r1-top")
    page.wait_for_selector("#chart canvas, .uplot", state="attached")  # the chart drew under the policy
    page.goto(siaga.url + "/api/v1/docs")
    page.wait_for_selector(".swagger-ui .info", state="attached")  # Swagger UI rendered the document
    resp = page.goto(siaga.url + "/status")
    assert resp is not None and resp.status == 200
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(246, 247, 249)"  # its CSS
