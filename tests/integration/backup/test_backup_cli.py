"""The backup commands end to end: init, run, drill, status, sheet, restore that never overwrites."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from siaga.cli.main import app

pytestmark = pytest.mark.integration


def test_backup_commands_from_init_to_restore(tmp_path: Path, restic_bin: object) -> None:
    src = tmp_path / "www"
    src.mkdir()
    (src / "index.html").write_text("<h1>Bontang</h1>")
    (src / "berita.html").write_text("<p>berita</p>")
    (tmp_path / "pw").write_text("rahasia\n")
    cfg = {
        "site": {"name": "Diskominfo", "language": "id"},
        "store": {"data_dir": str(tmp_path / "data")},
        "services": [{"id": "portal", "name": "Portal bontangkota.go.id"}],
        "targets": [
            {
                "id": "colo",
                "name": "Colocation Kaltim",
                "type": "local",
                "path": str(tmp_path / "repo"),
                "password_file": "pw",
                "offsite": True,
                "key_kept_at": "Brankas Kabid Infrastruktur",
            }
        ],
        "backups": [
            {
                "id": "portal-berkas",
                "target": "colo",
                "services": ["portal"],
                "paths": [str(src)],
                "rpo": "2h",
                "rto": "4h",
                "restore_steps": ["Pasang nginx", "siaga restore portal-berkas"],
            }
        ],
    }
    path = tmp_path / "siaga.yaml"
    path.write_text(yaml.safe_dump(cfg))
    runner = CliRunner()

    def siaga(*args: str) -> tuple[int, str]:
        result = runner.invoke(app, [*args, "--config", str(path)])
        return result.exit_code, result.output

    code, out = siaga("backup", "init", "colo")
    assert code == 0, out
    code, out = siaga("backup", "run", "portal-berkas")
    assert code == 0 and "snapshot" in out, out
    code, out = siaga("backup", "drill", "portal-berkas")
    assert code == 0 and "2 terverifikasi" in out, out
    code, out = siaga("backup", "status")
    assert code == 0 and "portal-berkas → colo" in out, out
    code, out = siaga("backup", "sheet", "-o", str(tmp_path / "sheet.html"))
    assert code == 0, out
    html = (tmp_path / "sheet.html").read_text()
    assert "Lembar Pemulihan Cadangan" in html and "Brankas Kabid Infrastruktur" in html and "BERHASIL" in html
    assert "rahasia" not in html

    target = tmp_path / "pulih"
    code, out = siaga("restore", "portal-berkas", "--to", str(target))
    assert code == 0, out
    assert (target / str(src).lstrip("/") / "index.html").read_text() == "<h1>Bontang</h1>"
    code, out = siaga("restore", "portal-berkas", "--to", str(target))
    assert code == 2 and "tidak pernah menimpa" in out, out  # in the site's language

    code, out = siaga("backup", "drill", "nope")
    assert code == 2 and "tugas cadangan nope tidak dikenal" in out, out
