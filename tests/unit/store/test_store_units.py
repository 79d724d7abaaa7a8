"""Pure parts of the store: which URL a config leads to, periods when siaga was not running."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from siaga.config import LoadedConfig, parse_config
from siaga.store import StoreError, database_url, describe_url
from siaga.store.engine import normalise_url
from siaga.store.sessions import RuntimeSession, not_running_periods


def _loaded(store_yaml: str, path: Path) -> LoadedConfig:
    text = f"site: {{name: Test}}\nstore: {store_yaml}\n"
    return LoadedConfig(parse_config(text, str(path)), path)


def test_default_url_is_sqlite_in_data_dir_beside_the_config(tmp_path: Path) -> None:
    loaded = _loaded("{data_dir: state}", tmp_path / "etc" / "siaga.yaml")
    assert database_url(loaded) == f"sqlite:///{tmp_path}/etc/state/siaga.db"


def test_absolute_data_dir_is_kept(tmp_path: Path) -> None:
    loaded = _loaded(f"{{data_dir: {tmp_path}/var}}", tmp_path / "siaga.yaml")
    assert database_url(loaded) == f"sqlite:///{tmp_path}/var/siaga.db"


def test_database_url_expands_environment_and_picks_psycopg(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SIAGA_DATABASE_URL", "postgresql://siaga:s3cret@db.local/siaga")
    loaded = _loaded("{database_url: '${SIAGA_DATABASE_URL}'}", tmp_path / "siaga.yaml")
    url = database_url(loaded)
    assert url == "postgresql+psycopg://siaga:s3cret@db.local/siaga"
    assert "s3cret" not in describe_url(url)


def test_missing_environment_variable_names_the_field(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SIAGA_NO_SUCH_VAR", raising=False)
    loaded = _loaded("{database_url: '${SIAGA_NO_SUCH_VAR}'}", tmp_path / "siaga.yaml")
    expected = r"store.database_url: environment variable SIAGA_NO_SUCH_VAR is not set"
    with pytest.raises(StoreError, match=expected):
        database_url(loaded)


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgres://a@h/d", "postgresql+psycopg://a@h/d"),
        ("postgresql://a@h/d", "postgresql+psycopg://a@h/d"),
        ("postgresql+psycopg://a@h/d", "postgresql+psycopg://a@h/d"),
        ("sqlite:////x/y.db", "sqlite:////x/y.db"),
    ],
)
def test_normalise_url(given: str, expected: str) -> None:
    assert normalise_url(given) == expected


T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _s(start_min: int, end_min: int, stopped: bool = True) -> RuntimeSession:
    start, end = T0 + dt.timedelta(minutes=start_min), T0 + dt.timedelta(minutes=end_min)
    return RuntimeSession(0, start, end, end if stopped else None, "h", 1)


def _m(a: int, b: int) -> tuple[dt.datetime, dt.datetime]:
    return T0 + dt.timedelta(minutes=a), T0 + dt.timedelta(minutes=b)


def test_not_running_periods_are_the_gaps_between_sessions() -> None:
    sessions = [_s(10, 20), _s(30, 50, stopped=False), _s(40, 45)]
    assert not_running_periods(sessions, *_m(0, 60)) == [_m(0, 10), _m(20, 30), _m(50, 60)]


def test_no_sessions_means_not_running_the_whole_time() -> None:
    assert not_running_periods([], *_m(0, 60)) == [_m(0, 60)]


def test_a_session_covering_the_window_leaves_no_gap() -> None:
    assert not_running_periods([_s(-10, 70)], *_m(0, 60)) == []
