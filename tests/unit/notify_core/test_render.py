import dataclasses

import pytest

from siaga.alerts.model import AlertState, Impact, Severity
from siaga.config.models import Language
from siaga.notify.engine import Notifier
from siaga.notify.model import Kind
from siaga.notify.render import Renderer, _environment

from .helpers import T0, alert, bontang


@pytest.fixture(scope="module")
def renderer() -> Renderer:
    return Renderer(bontang())


def test_short_message_in_bahasa_says_what_where_since_value_stake_and_link(renderer: Renderer) -> None:
    msg = renderer.render(Kind.page, [alert()], "id", T0, ack_url="https://siaga.example/ack/T")
    assert msg.title.startswith("[siaga] KRITIS: Kebocoran air")
    text = msg.short
    assert "Rak R1 (Rak server aplikasi)" in text and "plafon" in text and "Ruang Server Diskominfo" in text
    assert "16 Jul 2026 14:00 WITA" in text
    assert "Nilai terakhir: basah" in text
    assert "Rp2,05 miliar" in text and "Portal bontangkota.go.id" in text
    assert "Akui: https://siaga.example/ack/T" in text


def test_english_reader_gets_english(renderer: Renderer) -> None:
    msg = renderer.render(Kind.page, [alert()], "en", T0)
    assert "Water leak" in msg.short and "Latest value: wet" in msg.short and "Kebocoran" not in msg.short


def test_temperature_value_carries_its_unit_with_the_readers_decimal_mark(renderer: Renderer) -> None:
    hot = alert(rule="temperature.high", subject="temp-r1-top", last_value=31.46, severity=Severity.warning)
    assert "31,5 °C" in renderer.render(Kind.page, [hot], "id", T0).short
    assert "31.5 °C" in renderer.render(Kind.page, [hot], "en", T0).short


def test_storm_message_lists_some_and_counts_the_rest(renderer: Renderer) -> None:
    alerts = [alert(id=i) for i in range(1, 41)]
    msg = renderer.render(Kind.page, alerts, "id", T0, max_listed=15)
    assert "40 peringatan, insiden #7" in msg.short
    assert msg.short.count("• ") == 15 and "dan 25 lainnya" in msg.short


def test_notices_name_who_acknowledged(renderer: Renderer) -> None:
    a = alert(state=AlertState.acknowledged, acknowledged_by="andi")
    msg = renderer.render(Kind.acknowledged, [a], "id", T0, by="andi", via="telegram")
    assert "Diakui oleh Andi Pratama (telegram)" in msg.short and msg.title.startswith("[siaga] Diakui")


def test_full_form_carries_devices_and_backup_hook(renderer: Renderer) -> None:
    r = Renderer(bontang(), last_backup=lambda sid: T0 if sid == "portal" else None)
    msg = r.render(Kind.page, [alert()], "id", T0)
    assert "Server web 1" in msg.full and "Perangkat terancam" in msg.full
    assert "Salinan off-site terverifikasi terakhir Portal bontangkota.go.id: 16 Jul 2026 14:00 WITA" in msg.full
    assert "Basis data utama: belum ada salinan off-site yang terverifikasi" in msg.full


def test_service_alert_without_a_place_names_the_service(renderer: Renderer) -> None:
    down = dataclasses.replace(alert(), rule="service.down", subject="portal", impact=Impact())
    assert "Layanan mati" in renderer.render(Kind.page, [down], "id", T0).short
    assert "Portal bontangkota.go.id" in renderer.render(Kind.page, [down], "id", T0).short


def test_warm_up_compiles_the_templates_of_every_language_in_use() -> None:
    """serve renders a sample first, so the first real page does not wait for compiling and loading."""
    cfg = bontang()
    guest = cfg.people[0].model_copy(update={"id": "tamu", "language": Language.en})
    cfg = cfg.model_copy(update={"people": [*cfg.people, guest]})
    _environment.cache_clear()
    Notifier(cfg, key=b"k" * 64, public_url="https://siaga.example").warm_up(T0)
    for lang in ("id", "en"):
        assert {"short.txt", "full.txt"} <= {name for _, name in _environment(lang).cache}  # type: ignore[union-attr]
    assert _environment.cache_info().currsize == 2
