"""The probes of a watched room in the colocation's siaga.yaml: where they belong, what they may be."""

from __future__ import annotations

import textwrap

import pytest

from siaga.config import ConfigError, parse_config

PEERS = """\
site: {name: Kolokasi}
peers:
  site_id: colo
  sites:
    - {id: bontang, role: %s, url: "http://10.0.0.2:8000", secret_file: peer.secret, %s}
"""


def problems(role: str, extra: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(PEERS % (role, extra)), "siaga.yaml")
    return [p.message for p in info.value.problems]


def test_the_colocation_lists_the_rooms_checks_it_probes_and_how_many_places_must_agree() -> None:
    loaded = parse_config(PEERS % ("watches", 'agree: 2, probes: [{service: portal, type: http, url: "https://x.id"}, '
                                              "{service: portal, type: tls, host: x.id}]"), "siaga.yaml")
    [peer] = loaded.peers.sites
    assert [c.check_id for c in peer.probes] == ["portal-http", "portal-tls"] and peer.agree == 2


def test_probes_belong_to_the_watching_side_and_work_from_outside() -> None:
    tcp = "{service: p, type: tcp, host: x, port: 1}"
    assert any("role: watches" in m for m in problems("watched_by", f"probes: [{tcp}]"))
    assert any("role: watches" in m for m in problems("watched_by", "agree: 1"))
    assert problems("watches", "probes: [{service: p, type: heartbeat}]")  # a heartbeat is pinged at the room
    assert any("duplicate probe ids" in m for m in problems(
        "watches", "probes: [{service: p, type: tcp, host: x, port: 1}, {service: p, type: tcp, host: y, port: 2}]"))
    assert problems("watches", "agree: 3")
