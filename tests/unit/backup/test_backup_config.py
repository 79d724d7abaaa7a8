"""The backup sections of siaga.yaml."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from siaga.config import ConfigError, parse_config
from siaga.config.backup import format_duration, parse_duration

HEAD = "site: {name: t}\nservices: [{id: portal, name: Portal}]\n"


def test_durations() -> None:
    assert parse_duration("1h30m") == dt.timedelta(minutes=90)
    assert parse_duration("2w") == dt.timedelta(days=14)
    assert format_duration(dt.timedelta(days=1, hours=4)) == "1d4h"
    with pytest.raises(ValueError):
        parse_duration("soon")


def test_bontang_example_has_the_colocation_target() -> None:
    example = Path(__file__).parents[3] / "examples" / "bontang.yaml"
    cfg = parse_config(example.read_text(), str(example))
    colo = next(t for t in cfg.targets if t.id == "colo-kaltim")
    assert colo.type.value == "sftp" and colo.is_offsite
    assert {j.id for j in cfg.backups} >= {"portal-berkas", "db-utama"}


def _problems(text: str) -> str:
    with pytest.raises(ConfigError) as err:
        parse_config(HEAD + text, "s.yaml")
    return str(err.value)


def test_inline_repository_password_is_refused() -> None:
    out = _problems("targets: [{id: t, type: local, path: /r, password: hunter2}]\n")
    assert "targets[0].password: inline secret" in out


def test_a_target_needs_a_password_source() -> None:
    assert "password" in _problems("targets: [{id: t, type: local, path: /r}]\n")


def test_unknown_target_and_service_are_named_with_a_hint() -> None:
    out = _problems(
        "targets: [{id: colo, type: local, path: /r, password_file: /p}]\n"
        "backups: [{id: j, target: cola, services: [portl], paths: [/x]}]\n"
    )
    assert "unknown target 'cola'; did you mean 'colo'?" in out
    assert "unknown service 'portl'; did you mean 'portal'?" in out


def test_bad_cron_and_duration_are_errors() -> None:
    out = _problems(
        "targets: [{id: colo, type: local, path: /r, password_file: /p}]\n"
        "backups: [{id: j, target: colo, paths: [/x], schedule: 'every day', rpo: soon}]\n"
    )
    assert "cron" in out and "duration" in out


def test_a_job_backs_up_paths_or_a_database() -> None:
    out = _problems(
        "targets: [{id: colo, type: local, path: /r, password_file: /p}]\nbackups: [{id: j, target: colo}]\n"
    )
    assert "paths, or a database" in out
