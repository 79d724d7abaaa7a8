"""The dashboard's pure parts: the room map model, the masked config, the login throttle, time and money."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from siaga.config import load_config
from siaga.web.auth.roles import ROLE_SCOPES, Role, Scope, parse_scopes
from siaga.web.auth.throttle import LoginThrottle
from siaga.web.i18n import duration, local_time
from siaga.web.views.configview import MASK, masked
from siaga.web.views.roommap import Latest, build_room_map, sensor_state, temperature_band

EXAMPLE = Path(__file__).resolve().parents[3] / "src" / "siaga" / "examples" / "bontang.yaml"
NOW = dt.datetime(2025, 7, 16, 2, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(("celsius", "band"), [
    (None, "unknown"), (14.9, "cold"), (15.0, "cool"), (17.9, "cool"), (18.0, "ok"), (26.9, "ok"),
    (27.0, "warm"), (31.9, "warm"), (32.0, "hot"), (45.0, "hot"),
])
def test_temperature_bands_follow_ashrae_a1(celsius: float | None, band: str) -> None:
    assert temperature_band(celsius) == band


def test_a_leak_sensor_silent_for_three_intervals_is_stale_never_dry() -> None:
    assert sensor_state("leak", None, NOW) == "unknown"
    assert sensor_state("leak", Latest(0.0, NOW - dt.timedelta(seconds=179)), NOW) == "ok"
    assert sensor_state("leak", Latest(0.0, NOW - dt.timedelta(seconds=181)), NOW) == "stale"
    assert sensor_state("leak", Latest(1.0, NOW - dt.timedelta(hours=5)), NOW) == "alarm"


def test_room_map_places_racks_and_marks_the_wet_ceiling_above_r1() -> None:
    cfg = load_config(EXAMPLE).config
    latest = {"temp-r1-top": Latest(29.0, NOW), "temp-r1-bottom": Latest(21.0, NOW),
              "leak-r1-ceiling": Latest(1.0, NOW), "leak-r1-floor": Latest(0.0, NOW)}
    m = build_room_map(cfg, "ruang-server", latest, NOW)
    racks = {t.id: t for t in m.racks}
    assert set(racks) == {"R1", "R2", "R3", "R4"}
    assert racks["R1"].band == "warm" and racks["R1"].inlet == 29.0 and racks["R1"].alarm
    assert racks["R2"].band == "unknown" and not racks["R2"].alarm
    assert racks["R1"].value == 5_535_000_000  # six servers and the PDU
    markers = {k.sensor: k for k in m.markers}
    ceiling, floor = markers["leak-r1-ceiling"], markers["leak-r1-floor"]
    assert ceiling.state == "alarm" and floor.state == "ok"
    assert ceiling.y < racks["R1"].y + racks["R1"].h / 2 < floor.y  # ceiling above, floor below
    assert markers["smoke-room"].kind == "smoke"


def test_an_active_critical_alert_marks_a_sensor_even_without_a_wet_reading() -> None:
    cfg = load_config(EXAMPLE).config
    m = build_room_map(cfg, "ruang-server", {}, NOW, frozenset({"leak-r2-floor"}))
    assert {k.sensor: k.state for k in m.markers}["leak-r2-floor"] == "alarm"
    assert {t.id: t.alarm for t in m.racks}["R2"]


def test_config_view_masks_secrets_and_keeps_references() -> None:
    data = {
        "notification": {"channels": [{"id": "tg", "bot_token_file": "/etc/siaga/tg", "token": "${TG}",
                                       "password": "oops-inline", "url": "https://user:hunter2@example.org/x"}]},
        "store": {"database_url": "${SIAGA_DATABASE_URL}"},
        "api_key": "abc",
    }
    out = masked(data)
    ch = out["notification"]["channels"][0]
    assert ch["bot_token_file"] == "/etc/siaga/tg" and ch["token"] == "${TG}"
    assert ch["password"] == MASK and out["api_key"] == MASK
    assert "hunter2" not in ch["url"] and MASK in ch["url"]
    assert out["store"]["database_url"] == "${SIAGA_DATABASE_URL}"


def test_throttle_doubles_the_wait_and_forgets_after_a_success() -> None:
    t = LoginThrottle(free=3, base=1.0, max_delay=8.0)
    keys = ["account:andi", "address:10.0.0.9"]
    for i in range(3):
        assert t.begin(keys, NOW + dt.timedelta(seconds=i)) == 0
    assert t.retry_after(keys, NOW + dt.timedelta(seconds=2)) == pytest.approx(1.0)
    assert t.begin(keys, NOW + dt.timedelta(seconds=2)) == pytest.approx(1.0)  # refused: not counted
    assert t.begin(keys, NOW + dt.timedelta(seconds=3)) == 0
    assert t.retry_after(keys, NOW + dt.timedelta(seconds=3)) == pytest.approx(2.0)
    for i in range(10):
        t.begin(keys, NOW + dt.timedelta(seconds=4 + 8 * i))
    assert t.retry_after(keys, NOW + dt.timedelta(seconds=76)) == pytest.approx(8.0)  # capped
    t.succeeded(keys, "account:andi")
    assert t.retry_after(["account:andi"], NOW + dt.timedelta(seconds=76)) == 0
    assert t.retry_after(["address:10.0.0.9"], NOW + dt.timedelta(seconds=76)) > 0  # the address still waits
    assert t.retry_after(keys, NOW + dt.timedelta(hours=2)) == 0  # the window passed


def test_throttle_counts_an_attempt_before_its_check_and_a_success_takes_it_back() -> None:
    t = LoginThrottle(free=3, base=1.0)
    keys = ["account:andi", "address:10.0.0.9"]
    # Attempts begun together (none has finished its check yet): only `free` of them may go ahead.
    assert [t.begin(keys, NOW) for _ in range(10)].count(0.0) == 3
    t = LoginThrottle(free=3, base=1.0)
    for _ in range(5):  # right passwords from one address count nothing against it
        assert t.begin(keys, NOW) == 0
        t.succeeded(keys, "account:andi")
    assert t.retry_after(["address:10.0.0.9"], NOW) == 0


def test_roles_and_scopes() -> None:
    assert Scope.ack not in ROLE_SCOPES[Role.viewer]
    assert ROLE_SCOPES[Role.operator] == {Scope.read, Scope.ack}
    assert Role.admin.allows(Role.operator) and not Role.viewer.allows(Role.operator)
    assert parse_scopes("read, ack") == {Scope.read, Scope.ack}
    with pytest.raises(ValueError, match="unknown scope 'write'"):
        parse_scopes(["write"])


def test_local_time_in_wita_and_durations() -> None:
    zone = ZoneInfo("Asia/Makassar")
    assert local_time(NOW, zone, "id") == "16 Jul 2025 10:00 WITA"
    assert local_time(dt.datetime(2025, 8, 1, 0, 0, tzinfo=dt.UTC), zone, "id", seconds=True) == (
        "1 Agu 2025 08:00:00 WITA")
    assert local_time(NOW, ZoneInfo("Asia/Jakarta"), "en") == "16 Jul 2025 09:00 WIB"
    assert duration(3 * 3600 + 20 * 60, "id") == "3 jam 20 menit"
    assert duration(2 * 86400 + 4 * 3600 + 5, "en") == "2 d 4 h"


def test_cookies_are_secure_when_siaga_is_reached_over_https() -> None:
    from types import SimpleNamespace

    from siaga.web.dashboard import Dashboard

    loaded = load_config(EXAMPLE)
    https = loaded.config.model_copy(update={"web": loaded.config.web.model_copy(
        update={"public_url": "https://siaga.bontangkota.go.id"})})
    assert Dashboard(SimpleNamespace(loaded=SimpleNamespace(config=https))).secure_cookies is True
    assert Dashboard(SimpleNamespace(loaded=loaded)).secure_cookies is None  # decided per request


def test_alert_headlines_speak_the_readers_language() -> None:
    from siaga.web.i18n import gettext_for
    from siaga.web.views.headline import headline

    leak = {"rule": "leak", "subject": "leak-r1-ceiling", "impact": {"rack": "R1", "zone": "ceiling-above"}}
    assert headline(leak, gettext_for("id")) == "Kebocoran air · R1, plafon di atas (leak-r1-ceiling)"
    assert headline(leak, gettext_for("en")) == "Water leak · R1, ceiling above (leak-r1-ceiling)"
    hot = {"rule": "temperature.high", "subject": "temp-r4-top", "impact": {"rack": "R4"}}
    assert headline(hot, gettext_for("en")) == "Temperature too high · R4 (temp-r4-top)"
    odd = {"rule": "something.new", "subject": "x", "summary": "as the observer said it"}
    assert headline(odd, gettext_for("id")) == "as the observer said it"


@pytest.mark.parametrize(("target", "safe"), [
    ("/room", "/room"), ("/alerts?state=all", "/alerts?state=all"), ("https://evil.example/", "/"),
    ("//evil.example/", "/"), ("/\\evil.example", "/"), ("javascript:alert(1)", "/"), ("", "/"),
])
def test_login_only_sends_people_back_into_siaga(target: str, safe: str) -> None:
    from siaga.web.pages import _safe_next

    assert _safe_next(target) == safe
