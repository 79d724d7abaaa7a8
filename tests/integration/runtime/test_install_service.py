"""``siaga install-service --root DIR``: the unit with this installation's paths, the sysusers and secrets
files, checked by systemd itself."""

from __future__ import annotations

import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siaga.cli.main import app

pytestmark = pytest.mark.integration


def _install(root: Path, *args: str) -> str:
    out = CliRunner().invoke(app, ["--lang", "en", "install-service", "--root", str(root), *args])
    assert out.exit_code == 0, out.output
    return out.stdout


def test_it_writes_the_unit_sysusers_and_env_files_with_this_installations_paths(tmp_path: Path) -> None:
    printed = _install(tmp_path, "--user", "jaga", "--config", "/etc/jaga/siaga.yaml")
    unit = (tmp_path / "etc/systemd/system/siaga.service").read_text(encoding="utf-8")
    siaga = Path(sys.executable).parent / "siaga"
    assert f"ExecStart={siaga} serve --config /etc/jaga/siaga.yaml --log-format json\n" in unit
    assert "User=jaga\n" in unit and "Group=jaga\n" in unit
    assert "EnvironmentFile=-/etc/siaga/siaga.env\n" in unit and "Type=notify\n" in unit
    assert "u jaga " in (tmp_path / "usr/lib/sysusers.d/siaga.conf").read_text(encoding="utf-8")
    env = tmp_path / "etc/siaga/siaga.env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600 and "SIAGA_DATABASE_URL" in env.read_text(encoding="utf-8")
    assert "systemctl daemon-reload" in printed and "systemctl enable --now siaga" in printed

    env.write_text("SIAGA_DATABASE_URL=postgresql+psycopg://siaga:secret@db/siaga\n", encoding="utf-8")
    printed = _install(tmp_path)  # again: the unit is rewritten, the secrets someone filled in are kept
    assert "secret@db" in env.read_text(encoding="utf-8") and "kept" in printed
    assert "User=siaga\n" in (tmp_path / "etc/systemd/system/siaga.service").read_text(encoding="utf-8")


def test_dry_run_prints_and_writes_nothing(tmp_path: Path) -> None:
    printed = _install(tmp_path, "--dry-run")
    assert "would write" in printed and "ExecStart=" in printed and "systemctl enable --now siaga" in printed
    assert list(tmp_path.iterdir()) == []


def test_a_bad_user_or_a_relative_config_is_refused(tmp_path: Path) -> None:
    for args in (["--user", "Root Beer"], ["--config", "siaga.yaml"]):
        out = CliRunner().invoke(app, ["--lang", "en", "install-service", "--root", str(tmp_path), *args])
        assert out.exit_code == 2 and out.stdout == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (apt: systemd)")
def test_systemd_analyze_verifies_the_written_unit(tmp_path: Path) -> None:
    _install(tmp_path)
    unit = tmp_path / "etc/systemd/system/siaga.service"
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60,
                          cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert [ln for ln in done.stderr.splitlines() if "siaga.service" in ln] == []
