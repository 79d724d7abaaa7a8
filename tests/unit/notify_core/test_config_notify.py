import datetime as dt

import pytest

from siaga.config import ConfigError, parse_config
from siaga.config.notify import parse_duration

from .helpers import EXAMPLE, bontang

BASE = """
site: {name: X}
people:
  - {id: andi, name: Andi, contacts: {tg: "1"}}
"""


def test_bontang_example_has_escalation_and_channels() -> None:
    cfg = bontang()
    assert {"telegram", "whatsapp", "email"} <= set(cfg.notification.channels)
    first = cfg.escalation[0]
    assert [s.after for s in first.steps][:3] == [dt.timedelta(0), dt.timedelta(minutes=5), dt.timedelta(minutes=15)]
    assert first.stake is not None and first.stake.value_at_least == 1_000_000_000


@pytest.mark.parametrize(
    ("text", "seconds"), [("5m", 300), ("1h30m", 5400), ("90s", 90), ("2d", 172800), (15, 15), ("0.5s", 0.5)]
)
def test_durations_parse(text: object, seconds: float) -> None:
    assert parse_duration(text) == dt.timedelta(seconds=seconds)


@pytest.mark.parametrize("bad", ["soon", "", "5 minutes", -1, True])
def test_bad_durations_are_refused(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


def _problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as err:
        parse_config(text, "s.yaml")
    return [str(p) for p in err.value.problems]


def test_inline_bot_token_is_refused_with_its_line() -> None:
    text = BASE + "notification:\n  channels:\n    tg: {type: telegram, bot_token: 123:abc}\n"
    problems = _problems(text)
    assert any("s.yaml:7" in p and "bot_token" in p and "inline secret" in p for p in problems), problems


def test_telegram_channel_needs_a_token_source() -> None:
    problems = _problems(BASE + "notification:\n  channels:\n    tg: {type: telegram}\n")
    assert any("bot_token_file" in p for p in problems), problems


def test_slack_webhook_url_must_come_from_env_or_file() -> None:
    text = BASE + (
        "notification:\n  channels:\n    tg: {type: telegram, bot_token_file: /x}\n"
        "    sl: {type: slack, webhook_url: https://hooks.slack.com/services/A/B/C}\n"
    )
    assert any("webhook_url" in p and "secret" in p for p in _problems(text))


def test_unknown_person_and_channel_in_a_step_name_their_place() -> None:
    text = BASE + (
        "notification:\n  channels:\n    tg: {type: telegram, bot_token_file: /x}\n"
        "escalation:\n  - id: p\n    steps:\n      - {people: [budi], channels: [tgg]}\n"
    )
    problems = _problems(text)
    assert any("escalation[0].steps[0].people[0]: unknown person 'budi'" in p for p in problems), problems
    assert any("unknown channel 'tgg'; did you mean 'tg'?" in p for p in problems), problems


def test_contact_on_an_unknown_channel_is_an_error() -> None:
    problems = _problems(BASE)
    assert any("people[0].contacts.tg: unknown channel 'tg'" in p for p in problems), problems


def test_step_without_recipients_is_an_error() -> None:
    text = BASE + (
        "notification:\n  channels:\n    tg: {type: telegram, bot_token_file: /x}\n"
        "escalation:\n  - id: p\n    steps:\n      - {channels: [tg]}\n"
    )
    assert any("a step tells someone" in p for p in _problems(text))


def test_maintenance_place_must_exist() -> None:
    text = BASE.replace('contacts: {tg: "1"}', "contacts: {}") + (
        "maintenance:\n  - {id: m, title: t, starts_at: 2026-12-05T08:00:00, ends_at: 2026-12-05T12:00:00,"
        " places: [pac-9]}\n"
    )
    assert any("maintenance[0].places[0]: unknown room, rack or device 'pac-9'" in p for p in _problems(text))


def test_example_file_is_the_one_tests_use() -> None:
    assert EXAMPLE.exists()
