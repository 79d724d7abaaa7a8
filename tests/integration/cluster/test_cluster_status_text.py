"""``siaga cluster status`` in words: a process's share of the sensors' work, and the readings it could not hand to
their shard holders (PostgreSQL failed) said in the reader's language only when there are some."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import insert
from typer.testing import CliRunner

from siaga.cli.main import build_app
from siaga.cluster.rule_shards import share_key
from siaga.store import create_engine_for, sqlite_url, upgrade
from siaga.store.events import set_meta
from siaga.store.schema import runtime_sessions
from siaga.store.types import utcnow

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(("lang", "said", "marker"), [
    ("en", "7 readings not handed to their shard holders", "not handed"),
    ("id", "7 pembacaan tidak diserahkan ke pemegang shard-nya", "tidak diserahkan"),
])
def test_readings_not_handed_off_are_told_and_only_when_there_are_some(tmp_path: Path, lang: str, said: str,
                                                                         marker: str) -> None:
    config = tmp_path / "siaga.yaml"
    config.write_text("site: {name: Diskominfo Uji, timezone: Asia/Makassar, language: en}\nstore: {data_dir: state}\n")
    (tmp_path / "state").mkdir()
    engine = create_engine_for(sqlite_url(tmp_path / "state" / "siaga.db"))
    upgrade(engine)
    now = utcnow()
    share = {"mqtt_messages": 40, "readings": 4000, "handed_off": 2600, "handed_in": 1300, "shards": [1, 4],
             "handoff_failed": 7}
    with engine.begin() as conn:
        row = insert(runtime_sessions).values(started_at=now - dt.timedelta(minutes=5), last_seen_at=now,
                                              host="ruang-server", pid=4242)
        key = conn.execute(row).inserted_primary_key
        assert key is not None
        sid = int(key[0])
        set_meta(conn, share_key(sid), json.dumps(share), at=now)
    run = CliRunner().invoke(build_app(), ["cluster", "status", "--config", str(config), "--lang", lang])
    assert run.exit_code == 0, run.output
    assert said in run.output
    with engine.begin() as conn:
        set_meta(conn, share_key(sid), json.dumps({**share, "handoff_failed": 0}), at=now)
    again = CliRunner().invoke(build_app(), ["cluster", "status", "--config", str(config), "--lang", lang])
    assert again.exit_code == 0 and "4242" in again.output and marker not in again.output
    engine.dispose()
