"""``siaga db upgrade`` and ``siaga db current`` on a config's store."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from siaga.cli.main import app
from siaga.store import script_heads

pytestmark = pytest.mark.integration


@pytest.fixture
def site(tmp_path: Path) -> Path:
    path = tmp_path / "siaga.yaml"
    path.write_text("site: {name: Test}\nstore: {data_dir: state}\n", encoding="utf-8")
    return path


def test_current_then_upgrade_then_current(site: Path) -> None:
    runner = CliRunner()
    heads = ", ".join(sorted(script_heads()))
    before = runner.invoke(app, ["--lang", "en", "db", "current", "--config", str(site)])
    assert before.exit_code == 0, before.output
    assert "never migrated" in before.output and "pending:" in before.output

    first = runner.invoke(app, ["--lang", "en", "db", "upgrade", "--config", str(site)])
    assert first.exit_code == 0, first.output
    assert f"upgraded to {heads}" in first.output
    assert (site.parent / "state" / "siaga.db").exists()

    again = runner.invoke(app, ["--lang", "en", "db", "upgrade", "--config", str(site)])
    assert again.exit_code == 0 and "already up to date" in again.output

    after = runner.invoke(app, ["--lang", "en", "db", "current", "--config", str(site)])
    assert after.exit_code == 0 and "up to date" in after.output and "pending" not in after.output


def test_an_unreachable_database_is_one_line_and_exit_1(tmp_path: Path, free_port: int) -> None:
    site = tmp_path / "siaga.yaml"
    site.write_text("site: {name: Test}\nstore: {database_url: '${SIAGA_TEST_DB}'}\n", encoding="utf-8")
    env = {"SIAGA_TEST_DB": f"postgresql://siaga@127.0.0.1:{free_port}/siaga"}
    result = CliRunner().invoke(app, ["--lang", "en", "db", "upgrade", "--config", str(site)], env=env)
    assert result.exit_code == 1
    assert result.output.count("\n") == 1
    assert result.output.startswith("siaga: cannot reach the database postgresql+psycopg://siaga@127.0.0.1:")


def test_a_missing_environment_variable_is_named(tmp_path: Path) -> None:
    site = tmp_path / "siaga.yaml"
    site.write_text("site: {name: Test}\nstore: {database_url: '${SIAGA_UNSET_DB}'}\n", encoding="utf-8")
    args = ["--lang", "en", "db", "current", "--config", str(site)]
    result = CliRunner().invoke(app, args, env={"SIAGA_UNSET_DB": None})
    assert result.exit_code == 1
    assert "store.database_url: environment variable SIAGA_UNSET_DB is not set" in result.output


def test_it_speaks_the_config_language_by_default(site: Path) -> None:
    result = CliRunner().invoke(app, ["db", "current", "--config", str(site)])
    assert result.exit_code == 0, result.output
    assert "belum pernah dimigrasi" in result.output


def test_a_database_from_a_newer_siaga_is_named_not_touched(site: Path) -> None:
    from siaga.store import create_engine_for, sqlite_url

    runner = CliRunner()
    assert runner.invoke(app, ["--lang", "en", "db", "upgrade", "--config", str(site)]).exit_code == 0
    engine = create_engine_for(sqlite_url(site.parent / "state" / "siaga.db"))
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO alembic_version VALUES ('9999_future')")
    engine.dispose()
    now = runner.invoke(app, ["--lang", "en", "db", "current", "--config", str(site)])
    assert now.exit_code == 0 and "unknown to this siaga: 9999_future" in now.output
    result = runner.invoke(app, ["--lang", "en", "db", "upgrade", "--config", str(site)])
    assert result.exit_code == 1
    assert result.output.strip() == (
        "siaga: the database is at 9999_future, which this siaga does not know: was it migrated by a newer version?"
    )
