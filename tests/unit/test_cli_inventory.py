"""``siaga inventory``, ``siaga impact``, ``siaga init`` and the global ``--lang``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siaga.cli.main import app
from siaga.i18n import set_language

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = str(ROOT / "examples" / "bontang.yaml")
R1_SERVERS = ["srv-web-1", "srv-web-2", "srv-db-1", "srv-db-2", "srv-app-1", "srv-app-2"]


@pytest.fixture(autouse=True)
def _reset_language():
    yield
    set_language(None)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def english_site(tmp_path: Path) -> str:
    text = Path(EXAMPLE).read_text(encoding="utf-8").replace("  language: id", "  language: en")
    path = tmp_path / "siaga.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_impact_r1_shows_the_six_servers_the_value_and_services_through_depends_on(runner):
    result = runner.invoke(app, ["impact", "R1", "--config", EXAMPLE])
    assert result.exit_code == 0, result.output
    out = result.output
    for server in R1_SERVERS:
        assert server in out
    assert "6 server: Rp5,5 miliar" in out
    for service in ("portal", "absensi", "e-office", "ppid", "berita", "db-utama"):
        assert service in out
    assert "simpeg ← db-utama ← srv-db-" in out
    assert "lewat ketergantungan" in out
    assert "Perangkat terdampak" in out


def test_impact_in_english_uses_plain_digits(runner):
    result = runner.invoke(app, ["impact", "R1", "--config", EXAMPLE, "--lang", "en"])
    assert result.exit_code == 0, result.output
    assert "6 server: Rp5,500,000,000" in result.output
    assert "Devices hit" in result.output and "through depends_on" in result.output


def test_global_lang_option_beats_the_config(runner):
    result = runner.invoke(app, ["--lang", "en", "impact", "R1", "--config", EXAMPLE])
    assert result.exit_code == 0, result.output
    assert "Value at risk" in result.output


def test_config_language_is_used_without_lang(runner, tmp_path):
    result = runner.invoke(app, ["impact", "R1", "--config", english_site(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "Value at risk: Rp5,535,000,000" in result.output
    result = runner.invoke(app, ["--lang", "id", "impact", "R1", "--config", english_site(tmp_path)])
    assert "Nilai yang terancam: Rp5,54 miliar" in result.output


def test_unknown_language_is_one_line_and_exit_2(runner):
    result = runner.invoke(app, ["--lang", "fr", "impact", "R1", "--config", EXAMPLE])
    assert result.exit_code == 2
    assert "unknown language 'fr'" in result.output


def test_impact_json(runner):
    result = runner.invoke(app, ["impact", "R1", "--config", EXAMPLE, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["target"]["id"] == "R1"
    assert {d["id"] for d in data["devices"]} >= set(R1_SERVERS)
    assert data["value_at_risk_text"] == "Rp5,54 miliar"
    assert any(s["id"] == "simpeg" and not s["direct"] for s in data["services"])


def test_impact_of_a_sensor_says_what_it_watches(runner):
    result = runner.invoke(app, ["--lang", "en", "impact", "leak-r1-ceiling", "--config", EXAMPLE])
    assert result.exit_code == 0, result.output
    assert "watches rack R1" in result.output and "ceiling above" in result.output


def test_impact_of_a_rack_names_its_uncovered_zones(runner):
    result = runner.invoke(app, ["--lang", "en", "impact", "R4", "--config", EXAMPLE])
    assert "rack R4, floor: no water leak sensor" in result.output
    assert "rack R4, ceiling above: no water leak sensor" in result.output


def test_unknown_target_is_one_line_with_did_you_mean_and_exit_2(runner):
    result = runner.invoke(app, ["--lang", "en", "impact", "R9", "--config", EXAMPLE])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1
    assert "'R9'" in lines[0] and "did you mean" in lines[0] and "'R1'" in lines[0]


def test_impact_with_a_broken_config_exits_2(runner, tmp_path):
    bad = tmp_path / "siaga.yaml"
    bad.write_text("site: {name: x}\nracks: [{id: R1, room: nowhere}]\n", encoding="utf-8")
    result = runner.invoke(app, ["impact", "R1", "--config", str(bad)])
    assert result.exit_code == 2
    assert "nowhere" in result.output


def test_inventory_tree_with_totals(runner):
    result = runner.invoke(app, ["inventory", "--config", EXAMPLE])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "Rak R1 (Rak server aplikasi), 42U: 7 perangkat, Rp5,54 miliar" in out
    assert "Berdiri di ruangan, di luar rak: 2 perangkat, Rp1,3 miliar" in out
    assert "Rp9,18 miliar" in out
    lines = out.splitlines()
    r1 = lines.index(next(line for line in lines if "Rak R1" in line))
    r2 = lines.index(next(line for line in lines if "Rak R2" in line))
    assert all(any(s in line for line in lines[r1:r2]) for s in R1_SERVERS)
    assert "layanan: portal [vital], berita [sedang]" in out


def test_inventory_in_english(runner):
    result = runner.invoke(app, ["--lang", "en", "inventory", "--config", EXAMPLE])
    assert "Rack R1 (Rak server aplikasi), 42U: 7 devices, Rp5,535,000,000" in result.output
    assert "1 room, 4 racks, 17 devices, 9 services" in result.output


def test_init_writes_the_example_that_checks_clean(runner, tmp_path):
    target = tmp_path / "siaga.yaml"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert target.read_text(encoding="utf-8") == Path(EXAMPLE).read_text(encoding="utf-8")
    check = runner.invoke(app, ["config", "check", str(target)])
    assert check.exit_code == 0, check.output


def test_init_into_a_folder(runner, tmp_path):
    result = runner.invoke(app, ["init", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "siaga.yaml").is_file()


def test_init_refuses_to_overwrite_without_force(runner, tmp_path):
    target = tmp_path / "siaga.yaml"
    target.write_text("mine", encoding="utf-8")
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 2
    assert "--force" in result.output
    assert target.read_text(encoding="utf-8") == "mine"
    result = runner.invoke(app, ["init", str(target), "--force"])
    assert result.exit_code == 0
    assert target.read_text(encoding="utf-8") != "mine"


def test_init_into_a_missing_folder_is_one_line(runner, tmp_path):
    result = runner.invoke(app, ["--lang", "en", "init", str(tmp_path / "no" / "siaga.yaml")])
    assert result.exit_code == 2
    assert "no such folder" in result.output


def test_impact_as_a_real_process():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "SIAGA_LANG": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "siaga", "impact", "R1", "--config", EXAMPLE],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    for server in R1_SERVERS:
        assert server in proc.stdout
    assert "Rp5,5 miliar" in proc.stdout
    assert "simpeg ← db-utama" in proc.stdout
    bad = subprocess.run(
        [sys.executable, "-m", "siaga", "impact", "nope", "--config", EXAMPLE],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "Traceback" not in bad.stderr


def test_inventory_json(runner):
    result = runner.invoke(app, ["inventory", "--config", EXAMPLE, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    room = data["rooms"][0]
    r1 = next(r for r in room["racks"] if r["id"] == "R1")
    assert [d["id"] for d in r1["devices"]][:6] == R1_SERVERS
    assert r1["value"] == sum(d["value"] for d in r1["devices"])
    assert room["value"] == sum(r["value"] for r in room["racks"]) + sum(d["value"] for d in room["free_standing"])
    assert data["value"] == room["value"]
    assert next(d for d in r1["devices"] if d["id"] == "srv-db-1")["services"] == ["db-utama"]


def test_help_follows_lang_in_a_real_process():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    env.pop("SIAGA_LANG", None)
    id_help = subprocess.run(
        [sys.executable, "-m", "siaga", "--lang", "id", "impact", "--help"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert id_help.returncode == 0, id_help.stderr
    assert "Apa yang terancam" in id_help.stdout
    en_help = subprocess.run(
        [sys.executable, "-m", "siaga", "impact", "--help"],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )
    assert "What is at stake" in en_help.stdout


def test_docs_name_every_option_of_these_commands():
    import typer.main

    docs = (ROOT / "docs" / "inventory.md").read_text(encoding="utf-8")
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for name in ("inventory", "impact", "init"):
        assert f"siaga {name}" in docs
        assert commands[name].params
        for param in commands[name].params:
            for opt in param.opts:
                if opt.startswith("--") and opt != "--config":
                    assert opt in docs, f"docs/inventory.md does not mention {name} {opt}"


def test_config_check_speaks_the_chosen_language(runner):
    result = runner.invoke(app, ["config", "check", EXAMPLE])
    assert result.exit_code == 0, result.output
    assert "valid — 1 ruang, 4 rak, 17 perangkat, 9 layanan" in result.output
    result = runner.invoke(app, ["--lang", "en", "config", "check", EXAMPLE])
    assert "ok — 1 room, 4 racks, 17 devices, 9 services" in result.output
