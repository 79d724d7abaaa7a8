"""`siaga user` and `siaga token`: people and API tokens from the command line."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from typer.testing import CliRunner
from web_helpers import EXAMPLE, NOW

from siaga.cli.main import app
from siaga.config import load_config
from siaga.store import create_engine_for, database_url
from siaga.web.auth import accounts, passwords


@pytest.fixture(autouse=True)
def cheap() -> Iterator[None]:
    previous = passwords.set_hasher(PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))
    yield
    passwords.set_hasher(previous)


def test_people_and_tokens_from_the_command_line(tmp_path: Path) -> None:
    cfg = tmp_path / "siaga.yaml"
    shutil.copy(EXAMPLE, cfg)
    (tmp_path / "pw").write_text("sandi-yang-panjang\n")
    run = CliRunner().invoke
    added = run(app, ["user", "add", "Andi", "--role", "operator", "--password-file", str(tmp_path / "pw"),
                      "-c", str(cfg)])
    assert added.exit_code == 0, added.output
    assert "added andi (operator)" in added.output
    again = run(app, ["user", "add", "andi", "--password-file", str(tmp_path / "pw"), "-c", str(cfg)])
    assert again.exit_code == 2 and "exists already" in again.output
    (tmp_path / "short").write_text("pendek")
    weak = run(app, ["user", "add", "budi", "--password-file", str(tmp_path / "short"), "-c", str(cfg)])
    assert weak.exit_code == 2 and "at least 10 characters" in weak.output
    assert "andi" in run(app, ["user", "list", "-c", str(cfg)]).output

    made = run(app, ["token", "create", "grafana", "--scope", "read", "-c", str(cfg)])
    assert made.exit_code == 0, made.output
    secret = made.output.strip().splitlines()[-1]
    assert secret.startswith("sga_")
    listed = run(app, ["token", "list", "-c", str(cfg)]).output
    assert "grafana" in listed and secret not in listed  # shown once, never again
    bad = run(app, ["token", "create", "x", "--scope", "write", "-c", str(cfg)])
    assert bad.exit_code == 2 and "unknown scope 'write'" in bad.output

    engine = create_engine_for(database_url(load_config(cfg)))
    with engine.begin() as conn:
        user = accounts.authenticate(conn, "andi", "sandi-yang-panjang")
        assert user is not None and user.role.value == "operator"
        token = accounts.verify_token(conn, secret, user.created_at)
        assert token is not None and {s.value for s in token.scopes} == {"read"}
    assert run(app, ["token", "revoke", str(token.id), "-c", str(cfg)]).exit_code == 0
    with engine.begin() as conn:
        assert accounts.verify_token(conn, secret, user.created_at) is None
    engine.dispose()


def test_the_demo_prints_an_account_that_logs_in(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from types import SimpleNamespace

    from siaga.i18n import using_language
    from siaga.store import sqlite_url, upgrade
    from siaga.web import demo

    engine = create_engine_for(sqlite_url(tmp_path / "d.db"))
    upgrade(engine)
    ctx = SimpleNamespace(engine=engine, host="127.0.0.1", port=8470, clock=lambda: NOW)
    with using_language("en"):
        assert demo.component(ctx) is None
        first = capsys.readouterr().out
        demo.component(ctx)  # a second start: a new password, the old one no longer works
        second = capsys.readouterr().out
    old = first.split(" / ")[1].split()[0]
    new = second.split(" / ")[1].split()[0]
    assert "log in as demo" in second and old != new
    with engine.begin() as conn:
        assert accounts.authenticate(conn, "demo", new) is not None
        assert accounts.authenticate(conn, "demo", old) is None
    engine.dispose()
