"""One config vocabulary: one duration grammar everywhere, one secret pair check, no import cycle."""

from __future__ import annotations

import ast
import datetime as dt
import textwrap
from pathlib import Path

import pytest

from siaga.config import ConfigError, load_config, parse_config
from siaga.config.types import format_duration, parse_duration

ROOT = Path(__file__).parents[2]
CONFIG_DIR = ROOT / "src" / "siaga" / "config"


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("5m", 300),
        ("5min", 300),
        ("1h30m", 5400),
        ("1h 30m", 5400),
        ("2d", 172800),
        ("1w", 604800),
        ("1w2d", 777600),
        ("1.5h", 5400),
        ("500ms", 0.5),
        ("90", 90),
        (90, 90),
        (2.5, 2.5),
        (dt.timedelta(minutes=2), 120),
    ],
)
def test_one_grammar_reads_every_duration(text: object, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize("text", ["", "soon", "5 minutes", "30m1h", "1h1h", "-5s", -5, True, "1x", None, float("nan")])
def test_it_refuses_what_is_not_a_duration(text: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


def test_format_duration_writes_what_the_grammar_reads() -> None:
    for seconds in (42, 900, 3600 * 28, 86400 * 9 + 61):
        delta = dt.timedelta(seconds=seconds)
        assert parse_duration(format_duration(delta)) == delta


BASE = """\
site: {name: Test}
services:
  - {id: web, name: Web}
"""


def test_every_section_reads_the_same_grammar() -> None:
    """Rules, readings, checks, notify and backup: 1h30m and 1w mean the same everywhere."""
    cfg = parse_config(
        BASE
        + textwrap.dedent("""\
        rules: {flapping: {window: 1h30m}}
        readings: {raw_retention: 1w}
        checks:
          - {service: web, type: http, url: "https://example.org", interval_s: 1h30m, timeout_s: 1.5s}
        notification: {storm: {group_window: 1m30s}, ack: {ttl: 1w}}
        targets:
          - {id: t, type: local, path: /srv/r, password: "${RESTIC_PW}"}
        backups:
          - {id: b, target: t, paths: [/etc], rpo: 1w, rto: 1h30m, hooks: {timeout: 90s}}
        """)
    )
    assert cfg.rules.flapping is not None and cfg.rules.flapping.window == 5400
    assert cfg.readings.raw_retention == 604800
    assert cfg.checks[0].interval_s == 5400 and cfg.checks[0].timeout_s == 1.5
    assert cfg.notification.storm.group_window == dt.timedelta(seconds=90)
    assert cfg.notification.ack.ttl == dt.timedelta(weeks=1)
    job = cfg.backups[0]
    assert (job.rpo, job.rto, job.hooks.timeout) == (
        dt.timedelta(weeks=1), dt.timedelta(minutes=90), dt.timedelta(seconds=90)
    )


def test_a_bad_duration_names_its_line_and_field() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + "backups: []\ntargets: []\nnotification:\n  storm: {group_window: soon}\n", "s.yaml")
    [problem] = info.value.problems
    assert (problem.line, problem.field) == (7, "notification.storm.group_window")
    assert "not a duration: 'soon'" in problem.message


@pytest.mark.parametrize(
    ("channel", "message"),
    [
        ("{type: slack}", "webhook_url_file (a file holding it) or webhook_url: ${ENV_VAR} is required"),
        ("{type: ntfy, token: '${A}', token_file: /x}", "set token or token_file, not both"),
        ("{type: apprise, url: 'tgram://secret'}", "url holds a secret"),
    ],
)
def test_every_channel_checks_its_secret_pair_the_same_way(channel: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + f"notification:\n  channels:\n    c: {channel}\n", "s.yaml")
    [problem] = info.value.problems
    assert problem.line == 6
    assert message in problem.message


def test_config_modules_do_not_import_back_up_to_models() -> None:
    """No cycle: the sections build on types.py; only models.py (and the loader) put them together."""
    for name in ("types", "site", "sources", "rules", "readings", "checks", "backup", "notify"):
        path = CONFIG_DIR / f"{name}.py"
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        assert "siaga.config.models" not in imported, f"{path.name} imports siaga.config.models"
        assert "noqa: E402" not in path.read_text(encoding="utf-8"), path.name


@pytest.mark.parametrize(
    "path",
    sorted(p for p in [*(ROOT / "examples").glob("*.yaml"), *(ROOT / "src/siaga/examples").glob("*.yaml")]
           if not p.name.endswith("-scenario.yaml")),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_every_example_config_loads(path: Path) -> None:
    load_config(path)


def test_sources_take_their_secrets_the_same_way_as_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    """MQTT, SNMP and HTTP push accept `x: ${ENV}` beside `x_file`, and their readers read either."""
    from siaga.sources.http.tokens import TokenTable
    from siaga.sources.mqtt.receiver import ClientSettings
    from siaga.sources.snmp.poller import auth_data

    for name, value in {"T_MQTT": "broker-pw", "T_COMM": "rahasia", "T_GW": "gw-token", "T_AUTH": "authpass1",
                        "T_PRIV": "privpass1"}.items():
        monkeypatch.setenv(name, value)
    cfg = parse_config(BASE + textwrap.dedent("""\
        mqtt: {password: "${T_MQTT}"}
        snmp:
          devices:
            - {id: ups, host: 192.0.2.1, community: "${T_COMM}"}
            - {id: ups3, host: 192.0.2.2, version: v3,
               v3: {user: u, auth_protocol: sha, auth_password: "${T_AUTH}", priv_protocol: aes,
                    priv_password: "${T_PRIV}"}}
        http_push: {gateways: [{id: gw, token: "${T_GW}"}]}
        """))
    assert cfg.mqtt is not None and cfg.snmp is not None
    assert ClientSettings.resolve(cfg.mqtt, None).password == "broker-pw"
    assert auth_data(cfg.snmp.devices[0], None).communityName == "rahasia"
    v3 = auth_data(cfg.snmp.devices[1], None)
    assert (v3.authentication_key, v3.privacy_key) == ("authpass1", "privpass1")
    table, problems = TokenTable.from_config(cfg.http_push, [], None)
    assert problems == [] and table.find("gw-token") is not None


def test_an_inline_secret_is_told_once() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(BASE + "mqtt: {password: hunter2}\n", "s.yaml")
    [problem] = info.value.problems
    assert (problem.line, problem.field) == (4, "mqtt.password")
    assert problem.message.startswith("inline secret")
