"""Every message an alert or incident can carry, worded in both languages: the catalog walk.

Fails when a message key has no Indonesian translation, when a field is of no known kind, when the
Indonesian text keeps a raw ISO timestamp or an English decimal point, or when code names a key the
table does not hold.
"""

from __future__ import annotations

import ast
import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import siaga
from siaga.i18n import translator
from siaga.i18n.formats import duration, measure, number, percent
from siaga.i18n.messages import MESSAGES, RULE_TITLES, WORDS, Message, field_kind, fields_of, render, rule_title

WITA = ZoneInfo("Asia/Makassar")
ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
AT = dt.datetime(2026, 12, 6, 1, 2, 3, tzinfo=dt.UTC)


def sample(name: str) -> object:
    """A value of the kind ``name`` holds, chosen so that a wrong format shows."""
    kind = field_kind(name)
    if kind == "time":
        return AT.isoformat()
    if kind == "duration":
        return 5400.0
    if kind in ("measure", "number"):
        return 23.6
    if kind == "word":
        return next(iter(WORDS[name]))
    return f"x-{name}"


def params_for(key: str) -> dict[str, object]:
    params = {name: sample(name) for name in fields_of(MESSAGES[key]) if field_kind(name) != "computed"}
    params.update({"unit": "°C", "rack": "R1", "zone": "floor"})
    return params


@pytest.mark.parametrize("key", sorted(MESSAGES))
def test_every_message_is_worded_in_both_languages(key: str) -> None:
    msg = Message(key, params_for(key))
    en, id_ = render(msg, "en", WITA), render(msg, "id", WITA)
    assert translator("id").gettext(MESSAGES[key]) != MESSAGES[key], f"{key}: no Indonesian translation"
    for text, own in ((en, MESSAGES[key]), (id_, translator("id").gettext(MESSAGES[key]))):
        # "?" is what a missing field shows; a question the text itself asks ("did you mean ...?") is fine
        assert text.count("?") == own.count("?") and "{" not in text, f"{key}: a field was left unfilled: {text}"
    assert not ISO.search(id_), f"{key}: a raw ISO timestamp in Indonesian: {id_}"
    assert "23.6" not in id_ and "5400" not in id_, f"{key}: an unformatted number in Indonesian: {id_}"
    if "time" in {field_kind(n) for n in fields_of(MESSAGES[key])}:
        assert "09:02 WITA" in id_ and "Des 2026" in id_, id_
    if "duration" in {field_kind(n) for n in fields_of(MESSAGES[key])}:
        assert "1 jam 30 menit" in id_ and "1 hour 30 minutes" in en


def test_every_word_and_rule_title_has_an_indonesian_translation() -> None:
    g = translator("id").gettext
    for table in (*WORDS.values(), RULE_TITLES):
        for english in table.values():
            assert g(english) != english or english in {"UPS"}, english
    assert rule_title("leak", "id") == "Kebocoran air" and rule_title("leak.x", "en") == "Water leak"
    assert rule_title("no.such.rule", "id") == "no.such.rule"


def test_numbers_percentages_and_durations_follow_the_reader() -> None:
    assert number(1234.5, "id") == "1.234,5" and number(1234.5, "en") == "1,234.5"
    assert measure(23.6, "°C", "id") == "23,6 °C" and measure(45, "%", "en") == "45%"
    assert percent(0.99954, "id", 3) == "99,954%" and percent(1.0, "id", 3) == "100%"
    assert duration(45, "id") == "45 detik" and duration(93784, "en") == "1 day 2 hours"


def test_an_alert_stored_before_keys_is_shown_as_it_was_written() -> None:
    legacy = Message.stored(None, None, "no reading from leak-r1-floor since 2026-12-06T01:02:03+00:00")
    assert render(legacy, "id", WITA) == legacy.text
    unknown = Message("from.a.newer.siaga", {"a": 1})
    assert render(unknown, "id", WITA) == "from.a.newer.siaga (a=1)"


def _keys_named_in_code() -> set[str]:
    """The literal first argument of every ``Message("...")`` in the package."""
    found: set[str] = set()
    for path in Path(siaga.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Message"
                    and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                found.add(node.args[0].value)
    return found


def test_every_key_the_code_names_is_in_the_table() -> None:
    named = _keys_named_in_code()
    assert named, "the scan found no Message(...) call"
    assert named <= set(MESSAGES), sorted(named - set(MESSAGES))
    # the rules build two families of keys from the rule: both halves exist for each
    from siaga.rules.engine import _ALARMS

    for rule in _ALARMS:
        assert f"sensor.{rule}.on" in MESSAGES and f"sensor.{rule}.off" in MESSAGES
    assert {"sensor.above", "sensor.below"} <= set(MESSAGES)
