"""The ``peers:`` section: roles, secrets from files, defaults, and the mistakes it refuses."""

from __future__ import annotations

import datetime as dt
import textwrap
from pathlib import Path

import pytest

from siaga.config import ConfigError, load_config, parse_config
from siaga.config.peers import PeerRole
from siaga.config.secret_refs import secret_references

BASE = "site: {name: Colo Kaltim}\n"


def config(peers: str) -> str:
    return BASE + textwrap.dedent(peers)


def test_a_siaga_without_peers_runs_alone() -> None:
    cfg = parse_config(BASE)
    assert cfg.peers.sites == []
    assert cfg.peers.site_id is None


def test_a_colocation_watches_several_rooms_with_defaults() -> None:
    cfg = parse_config(config("""
        peers:
          site_id: colo
          sites:
            - {id: bontang, name: Ruang Server Diskominfo, role: watches, url: "http://10.0.0.1:8080/",
               secret_file: bontang.secret}
            - {id: samarinda, role: watches, url: https://sm.example, secret: "${SM_SECRET}",
               heartbeat_interval: 1s, silence_window: 3s, health_poll: null}
    """))
    bontang, samarinda = cfg.peers.sites
    assert bontang.role is PeerRole.watches
    assert bontang.url == "http://10.0.0.1:8080"
    assert bontang.heartbeat_interval == dt.timedelta(seconds=10)
    assert bontang.silence_window == dt.timedelta(seconds=30)
    assert bontang.health_poll == dt.timedelta(seconds=3)
    assert samarinda.silence_window == dt.timedelta(seconds=3)
    assert samarinda.health_poll is None
    assert cfg.peers.peer("samarinda") is samarinda
    assert cfg.peers.by_role(PeerRole.watched_by) == []
    refs = {(r.loc, r.how) for r in secret_references(cfg)}
    assert (("peers", "sites", 0, "secret_file"), "file") in refs
    assert (("peers", "sites", 1, "secret"), "env") in refs


@pytest.mark.parametrize(
    ("peers", "says"),
    [
        ("{site_id: me, sites: [{id: a, role: watches, url: http://x}]}", "secret"),
        ("{sites: [{id: a, role: watches, url: http://x, secret_file: s}]}", "site_id is required"),
        ("{site_id: me, sites: [{id: a, role: watches, url: http://x, secret: hunter2}]}", "environment variable"),
        ("{site_id: me, sites: [{id: a, role: friend, url: http://x, secret_file: s}]}", "role"),
        ("{site_id: me, sites: [{id: a, role: watches, url: x.example, secret_file: s}]}", "http://"),
        ("{site_id: me, sites: [{id: a, role: watches, url: http://x, secret_file: s, silence_window: 5s,"
         " heartbeat_interval: 10s}]}", "longer than heartbeat_interval"),
        ("{site_id: me, sites: [{id: a, role: watches, url: http://x, secret_file: s},"
         " {id: a, role: watched_by, url: http://y, secret_file: t}]}", "duplicate peer id"),
        ("{site_id: a, sites: [{id: a, role: watches, url: http://x, secret_file: s}]}", "own site_id"),
    ],
)
def test_mistakes_are_refused_with_their_place(peers: str, says: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + "peers: " + peers + "\n")
    assert says in str(err.value)
    assert "peers" in str(err.value)


def test_config_check_resolves_the_peer_secret_file(tmp_path: Path) -> None:
    from siaga.config.secret_refs import missing_secrets

    path = tmp_path / "siaga.yaml"
    path.write_text(config("""
        peers:
          site_id: bontang
          sites: [{id: colo, role: watched_by, url: http://colo:8080, secret_file: colo.secret}]
    """), encoding="utf-8")
    loaded = load_config(path)
    [(loc, message)] = missing_secrets(loaded.config, base_dir=tmp_path)
    assert loc == ("peers", "sites", 0, "secret_file")
    assert "colo.secret" in message.english()
    (tmp_path / "colo.secret").write_text("s3cret\n", encoding="utf-8")
    assert missing_secrets(loaded.config, base_dir=tmp_path) == []
    assert loaded.config.peers.sites[0].read_secret("secret", tmp_path) == "s3cret"
