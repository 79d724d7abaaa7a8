"""The catalogs: loaded at run time, in step with the code, Indonesian complete."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from siaga.i18n import (
    DEFAULT_LANGUAGE,
    UnknownLanguage,
    _,
    get_language,
    labels,
    ngettext,
    normalize_language,
    set_language,
    translator,
    using_language,
)
from siaga.i18n.catalogs import po_path
from siaga.i18n.tools import extract, msgids, pot_path, write_template

FIELD = re.compile(r"\{([^{}]*)\}")


@pytest.fixture(autouse=True)
def _reset_language():
    set_language(None)
    yield
    set_language(None)


def _read(path: Path, lang: str | None = None):
    with path.open("rb") as fh:
        return read_po(fh, locale=lang, domain="siaga")


def test_default_language_is_indonesian():
    assert DEFAULT_LANGUAGE == "id"
    assert get_language() == "id"
    assert _("water leak") == "kebocoran air"


def test_set_language_switches_underscore_to_english():
    set_language("en")
    assert _("water leak") == "water leak"
    set_language("id")
    assert _("water leak") == "kebocoran air"


def test_using_language_restores_the_previous_language():
    set_language("en")
    with using_language("id") as t:
        assert _("rack") == "rak"
        assert t.gettext("rack") == "rak"
    assert _("rack") == "rack"


def test_translator_does_not_touch_the_current_language():
    assert translator("en").gettext("room") == "room"
    assert translator("id").gettext("room") == "ruang"
    assert get_language() == "id"


def test_unknown_text_comes_back_unchanged():
    assert _("a text nobody translated") == "a text nobody translated"
    assert ngettext("{n} thing", "{n} things", 2) == "{n} things"


@pytest.mark.parametrize(("given", "code"), [("ID", "id"), ("en_US", "en"), ("id-ID", "id"), (None, "id"), ("", "id")])
def test_normalize_language_accepts_what_people_type(given, code):
    assert normalize_language(given) == code


def test_unknown_language_is_a_clear_error():
    with pytest.raises(UnknownLanguage, match="choose one of id, en"):
        set_language("fr")


def test_labels_fall_back_to_the_value():
    assert labels.criticality("vital") == "vital"
    assert labels.criticality("high") == "tinggi"
    assert labels.zone("ceiling-above") == "plafon di atas"
    assert labels.sensor_kind("no-such-kind") == "no-such-kind"


def test_every_msgid_of_the_template_has_an_indonesian_translation():
    pot = msgids(_read(pot_path()))
    catalog = _read(po_path("id"), "id")
    assert pot, "the template is empty"
    translated: set[str] = set()
    for message in catalog:
        if not message.id or message.fuzzy:
            continue
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        if all(strings):
            translated.add(message.id[0] if isinstance(message.id, tuple | list) else message.id)
    assert sorted(pot - translated) == []


def test_english_catalog_holds_every_msgid():
    assert msgids(_read(pot_path())) <= msgids(_read(po_path("en"), "en"))


def test_translations_keep_the_format_fields_of_the_msgid():
    for message in _read(po_path("id"), "id"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple | list) else (message.id,)
        strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
        want = set(FIELD.findall(ids[-1])) | set(FIELD.findall(ids[0]))
        for text in strings:
            if text:
                assert set(FIELD.findall(text)) <= want, (message.id, text)


def test_template_is_not_stale(tmp_path):
    fresh = tmp_path / "siaga.pot"
    write_template(extract(), fresh)
    assert msgids(_read(fresh)) == msgids(_read(pot_path())), "run scripts/i18n.sh"


def test_extraction_finds_underscore_calls(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "templates").mkdir(parents=True)
    (pkg / "mod.py").write_text('from siaga.i18n import _\nx = _("Hello from Python")\n', encoding="utf-8")
    (pkg / "templates" / "page.html").write_text("<p>{{ _('Hello from Jinja') }}</p>", encoding="utf-8")
    assert {"Hello from Python", "Hello from Jinja"} <= msgids(extract(pkg))
