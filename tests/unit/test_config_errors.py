"""Every broken config gives one message naming file, line and field, and `config check` exits 2."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from siaga.cli.main import app
from siaga.config import ConfigError, load_config, parse_config

EXAMPLE = Path(__file__).parents[2] / "examples" / "bontang.yaml"

BASE = """\
site: {name: Test}
rooms:
  - {id: room1, name: Room one}
racks:
  - {id: R1, room: room1, height_u: 42}
devices:
  - {id: srv1, kind: server, rack: R1, u: 10, height_u: 2, value: 100}
services:
  - {id: web, name: Web, runs_on: [srv1]}
"""


def problems_of(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), "site.yaml")
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_the_example_site_is_valid() -> None:
    cfg = load_config(EXAMPLE).config
    assert sum(d.value for d in cfg.devices if d.rack == "R1" and d.kind.value == "server") == 5_500_000_000


def test_base_fixture_is_valid() -> None:
    parse_config(BASE)


def test_it_reports_malformed_yaml_with_its_line() -> None:
    [(line, field, message)] = problems_of(BASE + "people:\n  - {id: a, name: [unclosed\n")
    assert line in (11, 12)
    assert field == ""
    assert "not valid YAML" in message


def test_it_suggests_the_key_meant_for_an_unknown_key() -> None:
    text = BASE.replace("{id: room1, name: Room one}", "{id: room1, name: Room one, buildng: B}")
    assert problems_of(text) == [(3, "rooms[0].buildng", "unknown key 'buildng'; did you mean 'building'?")]


def test_it_refuses_an_unknown_top_level_section() -> None:
    [(line, field, message)] = problems_of(BASE + "sensorz: []\n")
    assert (line, field) == (10, "sensorz")
    assert "did you mean 'sensors'" in message


def test_it_names_a_wrong_type() -> None:
    [(line, field, message)] = problems_of(BASE.replace("height_u: 42", "height_u: tall"))
    assert (line, field) == (5, "racks[0].height_u")
    assert "whole number" in message and "'tall'" in message


def test_it_refuses_a_negative_value() -> None:
    [(line, field, message)] = problems_of(BASE.replace("value: 100", "value: -5"))
    assert (line, field) == (7, "devices[0].value")
    assert "must be at least 0" in message


def test_it_refuses_duplicate_ids() -> None:
    text = BASE + "  - {id: web, name: Web again}\n"
    [(line, field, message)] = problems_of(text)
    assert (line, field) == (10, "services[1].id")
    assert "duplicate id 'web'" in message


def test_it_refuses_runs_on_an_unknown_device() -> None:
    [(line, field, message)] = problems_of(BASE.replace("runs_on: [srv1]", "runs_on: [srv2]"))
    assert (line, field) == (9, "services[0].runs_on[0]")
    assert message == "unknown device 'srv2'; did you mean 'srv1'?"


def test_it_refuses_a_sensor_on_an_unknown_rack() -> None:
    text = BASE + "sensors:\n  - {id: t1, kind: temperature, rack: R9, zone: inlet-top}\n"
    [(line, field, message)] = problems_of(text)
    assert (line, field) == (11, "sensors[0].rack")
    assert "unknown rack 'R9'" in message


def test_it_refuses_two_devices_in_the_same_unit() -> None:
    text = BASE.replace(
        "services:", "  - {id: srv2, kind: server, rack: R1, u: 11, value: 1}\nservices:"
    )
    [(line, field, message)] = problems_of(text)
    assert (line, field) == (8, "devices[1].u")
    assert message == "U11 of rack R1 is already taken by srv1"


def test_it_refuses_a_device_taller_than_its_rack() -> None:
    [(_, field, message)] = problems_of(BASE.replace("u: 10, height_u: 2", "u: 42, height_u: 2"))
    assert field == "devices[0].u"
    assert "do not fit" in message


def test_it_refuses_a_dependency_cycle() -> None:
    text = BASE.replace("runs_on: [srv1]}", "runs_on: [srv1], depends_on: [db]}") + (
        "  - {id: db, name: DB, depends_on: [cache]}\n  - {id: cache, name: Cache, depends_on: [web]}\n"
    )
    [(line, field, message)] = problems_of(text)
    assert (line, field) == (9, "services[0].depends_on")
    assert message == "dependency cycle: web -> db -> cache -> web"


def test_it_refuses_an_inline_secret() -> None:
    text = BASE + "people:\n  - {id: a, name: A, contacts: {telegram_token: '123:abc'}}\n"
    [(line, field, message)] = problems_of(text)
    assert (line, field) == (11, "people[0].contacts.telegram_token")
    assert "inline secret" in message


def test_it_accepts_a_secret_from_the_environment() -> None:
    parse_config(BASE + "people:\n  - {id: a, name: A, contacts: {telegram_token: '${TG_TOKEN}'}}\n")


def test_it_refuses_a_password_inside_a_database_url() -> None:
    text = BASE + "store: {database_url: 'postgresql+psycopg://siaga:hunter2@db/siaga'}\n"
    [(line, field, message)] = problems_of(text)
    assert (line, field) == (10, "store.database_url")
    assert "inline password" in message


def test_it_refuses_a_key_given_twice() -> None:
    text = BASE.replace("height_u: 42}", "height_u: 42, height_u: 40}")
    [(line, field, message)] = problems_of(text)
    assert (line, field) == (5, "racks[0].height_u")
    assert "appears twice" in message


def test_it_refuses_an_unknown_time_zone() -> None:
    [(line, field, message)] = problems_of(BASE.replace("{name: Test}", "{name: Test, timezone: Asia/Bontang}"))
    assert (line, field) == (1, "site.timezone")
    assert "unknown time zone" in message


def test_it_suggests_a_sensor_kind() -> None:
    text = BASE + "sensors:\n  - {id: w1, kind: leek, rack: R1, zone: floor}\n"
    [(_, field, message)] = problems_of(text)
    assert field == "sensors[0].kind"
    assert "did you mean 'leak'" in message


def test_it_reports_every_problem_at_once() -> None:
    text = BASE.replace("value: 100", "value: -5").replace("height_u: 42", "height_u: tall")
    assert len(problems_of(text)) == 2


@pytest.mark.parametrize(
    "broken",
    [
        BASE.replace("runs_on: [srv1]", "runs_on: [nope]"),
        BASE.replace("value: 100", "value: -1"),
        BASE + "unknown_section: 1\n",
        "site: {name: x\n",
    ],
)
def test_config_check_exits_2_with_file_line_and_field(tmp_path: Path, broken: str) -> None:
    path = tmp_path / "siaga.yaml"
    path.write_text(broken)
    result = CliRunner().invoke(app, ["config", "check", str(path)])
    assert result.exit_code == 2
    first = result.output.strip().splitlines()[0]
    assert first.startswith(f"{path}:")
    assert first.split(":")[1].isdigit()


def test_config_check_exits_0_on_the_example() -> None:
    result = CliRunner().invoke(app, ["config", "check", str(EXAMPLE)])
    assert result.exit_code == 0, result.output
