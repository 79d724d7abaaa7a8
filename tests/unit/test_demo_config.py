"""``siaga demo`` writes the example with demo secret files of its own, and tells what the first minute brings."""

from __future__ import annotations

from pathlib import Path

from siaga.cli.demo_cmd import banner, demo_text, example_text
from siaga.config.loader import load_config
from siaga.i18n import using_language


def test_the_demo_config_reads_its_secrets_from_files_it_writes(tmp_path: Path) -> None:
    text, files = demo_text(example_text())
    (tmp_path / "siaga.yaml").write_text(text, encoding="utf-8")
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    load_config(tmp_path / "siaga.yaml")
    assert "/etc/siaga" not in text
    assert "secrets/tokens/gw-r3r4" in files and "secrets/telegram-bot-token" in files
    assert not any(name.endswith("id_ed25519") for name in files)  # keys the demo does not use are not faked


def test_the_example_itself_keeps_its_secrets_under_etc() -> None:
    assert "bot_token_file: /etc/siaga/secrets/telegram-bot-token" in example_text()


def test_the_banner_tells_the_first_minute_in_the_sites_language() -> None:
    with using_language("id"):
        text = banner(Path("siaga-demo/siaga.yaml"), "Bontang", "http://127.0.0.1:8470", "sqlite:///x", 40)
    assert "http://127.0.0.1:8470/healthz" in text
    assert "20 s  air di zona plafon di atas rak R1" in text and "akan dikirim" in text
    with using_language("en"):
        text = banner(Path("siaga-demo/siaga.yaml"), "Bontang", "http://127.0.0.1:8470", "sqlite:///x", 40)
    assert "20 s  water in the ceiling zone above rack R1" in text


def test_every_note_of_the_embedded_scenario_is_in_the_catalogs() -> None:
    from siaga.sources.simulator import SCENARIO_NOTES, load_scenario

    notes = {s.note for s in load_scenario().steps if s.note}
    assert notes <= set(SCENARIO_NOTES), sorted(notes - set(SCENARIO_NOTES))


def test_the_demo_backs_up_into_folders_of_its_own(tmp_path: Path) -> None:
    text, files = demo_text(example_text(), tmp_path)
    (tmp_path / "siaga.yaml").write_text(text, encoding="utf-8")
    for name, content in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content, encoding="utf-8")
    cfg = load_config(tmp_path / "siaga.yaml").config
    assert [(t.id, t.type.value, t.is_offsite) for t in cfg.targets] == [
        ("colo-kaltim", "local", True), ("nas-lokal", "local", False)]
    assert [j.id for j in cfg.backups] == ["portal-berkas"]  # the database job needs a PostgreSQL to dump
    assert all(p.startswith(str(tmp_path)) and (tmp_path / p).exists() for p in cfg.backups[0].paths)
