"""What `config check` refuses or warns about beyond the schema: secrets this machine does not have, YAML
alias bombs, options nothing runs, a repeat shorter than the storm window. Each: file:line: field: message."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from siaga.cli.main import app
from siaga.config import ConfigError, load_config, parse_config
from siaga.config.docs import _models
from siaga.config.models import SiteConfig
from siaga.config.secret_refs import _field_use, secret_references
from siaga.config.types import SECRET_KEY

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "bontang.yaml"

BASE = """\
site: {name: Test}
services:
  - {id: web, name: Web}
"""


def problems_of(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(ConfigError) as info:
        parse_config(textwrap.dedent(text), "site.yaml")
    return [(p.line, p.field, p.message) for p in info.value.problems]


def check(path: Path, *args: str) -> Any:
    return CliRunner().invoke(app, ["--lang", "en", "config", "check", str(path), *args])


# --- secrets ----------------------------------------------------------------------------------------

SECRETS = """\
site: {name: Test}
notification:
  channels:
    tg: {type: telegram, bot_token_file: secrets/bot}
    hook: {type: webhook, url: "https://example.org/h", token: "${SIAGA_T_HOOK}"}
mqtt:
  password_file: /nonexistent/mqtt-password
"""


def test_check_warns_about_each_missing_secret_with_its_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIAGA_T_HOOK", raising=False)
    site = tmp_path / "siaga.yaml"
    site.write_text(SECRETS, encoding="utf-8")
    result = check(site)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        f"warning: {site}:4: notification.channels.tg.bot_token_file: file {tmp_path}/secrets/bot does not "
        "exist on this machine",
        f"warning: {site}:5: notification.channels.hook.token: environment variable SIAGA_T_HOOK is not set",
        f"warning: {site}:7: mqtt.password_file: file /nonexistent/mqtt-password does not exist on this machine",
    ]


def test_check_strict_turns_a_missing_secret_into_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "siaga.yaml"
    site.write_text(SECRETS, encoding="utf-8")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "bot").write_text("123:abc\n", encoding="utf-8")
    monkeypatch.setenv("SIAGA_T_HOOK", "x")
    result = check(site, "--strict")
    assert result.exit_code == 2
    assert result.stderr.strip() == (
        f"warning: {site}:7: mqtt.password_file: file /nonexistent/mqtt-password does not exist on this machine"
    )
    site.write_text(SECRETS.replace("mqtt:\n  password_file: /nonexistent/mqtt-password\n", ""), encoding="utf-8")
    result = check(site, "--strict")
    assert result.exit_code == 0, result.output
    assert "warning" not in result.stderr


def test_the_example_names_every_secret_the_check_resolves() -> None:
    """Every *_file path and ${ENV} of the example file is a reference the check looks up, and no other."""
    text = EXAMPLE.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    written: set[str] = set()

    def walk(node: Any, loc: str) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{loc}.{key}" if loc else str(key))
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{loc}[{i}]")
        elif isinstance(node, str) and (loc.endswith("_file") or "${" in node):
            written.add(loc)

    walk(data, "")
    from siaga.config.errors import dotted

    found = {dotted(ref.loc) for ref in secret_references(load_config(EXAMPLE).config)}
    assert found == written
    assert {"mqtt.password_file", "snmp.devices[0].community_file", "http_push.gateways[0].token_file",
            "targets[0].identity_file", "targets[0].password_file", "targets[1].password",
            "notification.channels.telegram.bot_token_file", "notification.channels.noc-webhook.token"} <= found


CREATED_NOT_READ = {("AckLinks", "key_file")}
"""Files siaga creates itself when absent: not a secret the machine must already have."""


def test_every_secret_option_of_the_schema_is_a_reference_the_check_resolves() -> None:
    """A new *_file, password or token option must be typed SecretFile / EnvRef, or config check misses it."""
    for model in _models(SiteConfig):
        for name in model.model_fields:
            use = _field_use(model, name)
            if name.endswith("_file") and (model.__name__, name) not in CREATED_NOT_READ:
                assert use == "file", f"{model.__name__}.{name} is not a SecretFile"
            if SECRET_KEY.search(name) and not name.endswith("_sha256"):
                assert use == "env", f"{model.__name__}.{name} is not an EnvRef"


# --- YAML alias bombs -----------------------------------------------------------------------------

BOMB = "site: {name: Bomb}\na: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n" + "".join(
    f"{b}: &{b} [{', '.join(['*' + a] * 9)}]\n" for a, b in zip("abcdefgh", "bcdefghi", strict=True)
)


def test_a_billion_laughs_file_is_refused_at_once(tmp_path: Path) -> None:
    site = tmp_path / "bomb.yaml"
    site.write_text(BOMB, encoding="utf-8")
    # a real process with a deadline far above the ~0.1 s it takes: a hang fails instead of blocking CI
    result = subprocess.run(
        [sys.executable, "-m", "siaga", "--lang", "en", "config", "check", str(site)],
        capture_output=True, text=True, timeout=60, env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 2
    # line 7 is `f:`, the first key whose aliases expand past the limit (9**6 values)
    assert result.stderr.startswith(f"{site}:7: YAML aliases (*name) repeat more than 100,000 values: refused")


def test_an_alias_inside_itself_is_refused() -> None:
    [(line, field, message)] = problems_of(BASE + "x: &x [1, *x]\n")
    assert (line, field) == (4, "")
    assert "refers to the node that holds it" in message


def test_modest_aliases_still_work() -> None:
    cfg = parse_config(BASE + "rooms: [{id: r1, name: One}]\nracks:\n  - &rack {id: R1, room: r1, height_u: 45}\n"
                       "  - {<<: *rack, id: R2}\n")
    assert [(r.id, r.height_u) for r in cfg.racks] == [("R1", 45), ("R2", 45)]


# --- options nothing runs -------------------------------------------------------------------------


def test_a_source_type_that_is_not_built_is_refused() -> None:
    text = BASE + "rooms: [{id: r1, name: One}]\nsensors:\n  - {id: t1, kind: temperature, room: r1, " \
                  "source: {type: modbus, address: 3}}\n"
    [(line, field, message)] = problems_of(text)
    assert (line, field) == (6, "sensors[0].source")
    assert message.startswith("source type 'modbus' is not built yet: bridge the device to MQTT")


def test_a_sensor_only_the_demo_feeds_is_a_warning_and_serve_refuses_it(tmp_path: Path) -> None:
    site = tmp_path / "siaga.yaml"
    site.write_text(BASE + "rooms: [{id: r1, name: One}]\nsensors:\n"
                    "  - {id: t1, kind: temperature, room: r1, source: {type: simulator}}\n", encoding="utf-8")
    result = check(site)
    assert result.exit_code == 0
    assert result.stderr == (
        f"warning: {site}:6: sensors[0].source.type: source type 'simulator' is fed only by `siaga demo`: "
        "under `siaga serve` this sensor would never get a reading (use mqtt, http or snmp)\n"
    )
    assert check(site, "--strict").exit_code == 2
    [problem] = load_config(site).start_problems()
    assert problem.field == "sensors[0].source.type"


READ_BY_NAME_PATTERN = {
    ("Retention", f"keep_{n}") for n in ("hourly", "daily", "weekly", "monthly", "yearly")
}  # getattr(policy, f"keep_{name}") in backup/retention.py
RECORDS_FOR_PEOPLE = {("Site", "currency"), ("Device", "serial"), ("Person", "office")}
"""Kept for the people reading the config (and shown by /api/v1/config): nothing has to run them."""
READ_THROUGH_A_METHOD = {("Sensor", "check_in")}
"""Read by a method of the model (``Sensor.silent_after_s()``), which the rules, the dashboard and siaga status call."""
BEING_BUILT: set[tuple[str, str]] = set()
"""Options declared by a part whose reader lands next: name them here until it does (none now)."""


def test_every_option_of_the_schema_is_read_by_some_part_of_siaga() -> None:
    """An option nothing outside siaga.config reads is one the schema accepts and nothing runs (as modbus
    was): build it, refuse it, or list it above with the reason."""
    sources = [p.read_text(encoding="utf-8") for p in (ROOT / "src" / "siaga").rglob("*")
               if p.suffix in (".py", ".html") and "config" not in p.relative_to(ROOT / "src" / "siaga").parts[:1]]
    unread = []
    for model in _models(SiteConfig):
        for name in model.model_fields:
            listed = READ_BY_NAME_PATTERN | RECORDS_FOR_PEOPLE | READ_THROUGH_A_METHOD | BEING_BUILT
            if (model.__name__, name) in listed:
                continue
            pairs = getattr(model, "secret_pairs", {})
            if name.endswith("_file") and name[: -len("_file")] in pairs:
                name = name[: -len("_file")]  # read_secret("x") reads x or x_file
            pattern = re.compile(rf"(\.{name}\b|[\"']{name}[\"'])")
            if not any(pattern.search(text) for text in sources):
                unread.append(f"{model.__name__}.{name}")
    assert unread == []


# --- repeat shorter than the storm window ---------------------------------------------------------

POLICY = """\
people:
  - {id: andi, name: Andi}
escalation:
  - id: p
    steps: [{people: [andi]}]
    repeat_every: 20s
"""


def test_a_repeat_shorter_than_the_storm_window_is_an_error() -> None:
    [(line, field, message)] = problems_of(BASE + POLICY)
    assert (line, field) == (9, "escalation[0].repeat_every")
    assert message.startswith("repeat_every 20s is shorter than notification.storm.group_window 30s")


def test_a_repeat_as_long_as_a_shorter_window_is_fine() -> None:
    parse_config(BASE + POLICY + "notification: {storm: {group_window: 20s}}\n")


def test_check_exits_2_on_a_short_repeat(tmp_path: Path) -> None:
    site = tmp_path / "siaga.yaml"
    site.write_text(BASE + POLICY, encoding="utf-8")
    result = check(site)
    assert result.exit_code == 2
    assert re.match(rf"{re.escape(str(site))}:9: escalation\[0\]\.repeat_every: repeat_every 20s", result.stderr)


# --- schedules: empty means on demand ---------------------------------------------------------------

ON_DEMAND = """\
site: {name: Test}
services:
  - {id: portal, name: Portal}
targets:
  - id: colo
    type: local
    path: /r
    password_file: /p
    retention: {keep_daily: 7, schedule: ""}
    check: {schedule: " "}
backups:
  - {id: web, target: colo, services: [portal], paths: [/srv], schedule: "", drill: {schedule: ""}}
standbys:
  - {service: portal, web_root: /var/www/portal, schedule: ""}
"""


def test_an_empty_schedule_is_accepted_and_runs_on_demand_only() -> None:
    from siaga.backup.component import scheduled_tasks

    cfg = parse_config(ON_DEMAND, "site.yaml")
    assert cfg.standbys[0].schedule is None and cfg.backups[0].schedule is None
    assert cfg.backups[0].drill.schedule is None and cfg.targets[0].retention is not None
    assert cfg.targets[0].retention.schedule is None and cfg.targets[0].check is not None
    assert cfg.targets[0].check.schedule is None
    assert scheduled_tasks(cfg) == []  # nothing is run by the clock: only `siaga backup ...` / `siaga standby ...`
    with_clock = ON_DEMAND.replace('/var/www/portal, schedule: ""', '/var/www/portal, schedule: "0 1 * * *"')
    assert {t.name for t in scheduled_tasks(parse_config(with_clock, "site.yaml"))} == {"standby portal"}


def test_a_schedule_that_is_not_cron_is_still_refused() -> None:
    bad = ON_DEMAND.replace('web_root: /var/www/portal, schedule: ""', "web_root: /var/www/portal, schedule: often")
    [(line, field, message)] = problems_of(bad)
    assert (line, field) == (14, "standbys[0].schedule") and "not a cron expression" in message


# --- in the reader's language, keeping file:line: field -------------------------------------------------

WORDED = """\
site: {name: Test, language: LANG}
rooms:
  - {id: ruang, name: Ruang, buildng: A}
services:
  - {id: web, name: Web}
standbys:
  - {service: web, web_root: /w, schedule: often}
"""


@pytest.mark.parametrize(("args", "site_language", "lang"), [
    (["--lang", "id"], "en", "id"),  # --lang wins
    (["--lang", "en"], "id", "en"),
    ([], "en", "en"),  # no --lang: the language the file gives its site
    ([], "id", "id"),
])
def test_config_check_words_each_problem_in_the_clis_language(
        tmp_path: Path, args: list[str], site_language: str, lang: str) -> None:
    site = tmp_path / "siaga.yaml"
    site.write_text(WORDED.replace("LANG", site_language), encoding="utf-8")
    result = CliRunner().invoke(app, [*args, "config", "check", str(site)])
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines == {
        "id": [f"{site}:3: rooms[0].buildng: kunci 'buildng' tidak dikenal; mungkin maksudnya 'building'?",
               f"{site}:7: standbys[0].schedule: bukan ekspresi cron: 'often' (lima kolom: menit jam tanggal "
               "bulan hari)"],
        "en": [f"{site}:3: rooms[0].buildng: unknown key 'buildng'; did you mean 'building'?",
               f"{site}:7: standbys[0].schedule: not a cron expression: 'often' (five fields: minute hour day month "
               "weekday)"],
    }[lang]


def test_a_missing_secret_is_a_warning_in_the_clis_language(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SIAGA_T_HOOK", raising=False)
    site = tmp_path / "siaga.yaml"
    site.write_text(SECRETS, encoding="utf-8")
    result = CliRunner().invoke(app, ["--lang", "id", "config", "check", str(site)])
    assert result.exit_code == 0, result.output
    assert f"{site}:5: notification.channels.hook.token: variabel lingkungan SIAGA_T_HOOK belum diisi" in (
        result.stderr)


def test_a_reference_to_nothing_is_worded_for_each_reader() -> None:
    text = BASE + "racks:\n  - {id: R1, room: ruang-servr}\nrooms:\n  - {id: ruang-server, name: Ruang}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.yaml")
    [problem] = info.value.problems
    assert problem.worded("en") == (
        "site.yaml:5: racks[0].room: unknown room 'ruang-servr'; did you mean 'ruang-server'?")
    assert problem.worded("id") == (
        "site.yaml:5: racks[0].room: ruang 'ruang-servr' tidak dikenal; mungkin maksudnya 'ruang-server'?")
    assert str(problem) == problem.worded("en") and problem.message.startswith("unknown room")


def test_a_validators_refusal_is_worded_for_each_reader() -> None:
    text = BASE + ("targets:\n  - {id: colo, type: local, path: /r, password_file: /p}\n"
                   "backups:\n  - {id: web, target: colo}\n")
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.yaml")
    [problem] = info.value.problems
    assert problem.said is not None and problem.said.key == "config.job.what"
    assert problem.worded("id") == "site.yaml:7: backups[0]: sebutkan apa yang dicadangkan: paths, atau basis data"
    assert problem.message == "say what to back up: paths, or a database"


@pytest.mark.parametrize(("text", "key", "indonesian"), [
    ("sensors:\n  - {id: t1, kind: temperature, source: {type: mqtt, topic: ruang/+/suhu}}\n",
     "config.topic.wildcards", "topik sebuah sensor tidak boleh memuat wildcard + atau # (pakai gateway)"),
    ("sensors:\n  - {id: t1, kind: temperature, source: {type: modbus}}\n",
     "config.source.not_built.modbus", "jenis sumber 'modbus' belum dibuat: jembatani perangkatnya ke MQTT"),
    ("sensors:\n  - {id: t1, kind: temperature, source: {type: mqt, topic: a/b}}\n",
     "config.source.type_unknown.close", "jenis sumber 'mqt' tidak dikenal; maksudnya 'mqtt'?"),
    ("peers:\n  site_id: colo\n  sites:\n"
     "    - {id: colo, url: https://colo.example/, role: watches, secret_file: /s}\n",
     "config.peer.own_id", "id peer 'colo' adalah site_id siaga ini sendiri"),
])
def test_the_sources_and_peers_refusals_are_worded_for_each_reader(text: str, key: str, indonesian: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + text, "site.yaml")
    said = [p for p in info.value.problems if p.said is not None and p.said.key == key]
    assert said, [p.message for p in info.value.problems]
    assert indonesian in said[0].worded("id")
