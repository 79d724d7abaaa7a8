"""Load the .po catalogs at run time (no build step) and keep the current language in a contextvar."""

from __future__ import annotations

import contextlib
import functools
import gettext
import io
from collections.abc import Iterator
from contextvars import ContextVar
from importlib import resources
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from siaga.errors import SiagaError

DOMAIN = "siaga"
LANGUAGES: tuple[str, ...] = ("id", "en")
DEFAULT_LANGUAGE = "id"

_current: ContextVar[str] = ContextVar("siaga_language", default=DEFAULT_LANGUAGE)


class UnknownLanguage(SiagaError, ValueError):
    """A language siaga has no catalog for."""

    def __init__(self, lang: str) -> None:
        super().__init__(f"unknown language {lang!r}: choose one of {', '.join(LANGUAGES)}")
        self.lang = lang


def locale_dir() -> Path:
    """The folder holding ``<lang>/LC_MESSAGES/siaga.po`` and ``siaga.pot``."""
    return Path(str(resources.files("siaga.i18n") / "locale"))


def po_path(lang: str) -> Path:
    return locale_dir() / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def normalize_language(lang: str | None) -> str:
    """``"id"``, ``"en"`` from what people type (``ID``, ``en_US``, ``id-ID``); raise UnknownLanguage."""
    if lang is None or not str(lang).strip():
        return DEFAULT_LANGUAGE
    value = str(getattr(lang, "value", lang)).strip().lower().replace("-", "_").split("_")[0]
    if value not in LANGUAGES:
        raise UnknownLanguage(str(lang))
    return value


class Translator:
    """The messages of one language: ``gettext`` and ``ngettext`` as in the standard library."""

    def __init__(self, language: str, translations: gettext.NullTranslations) -> None:
        self.language = language
        self._t = translations

    def gettext(self, message: str) -> str:
        return self._t.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self._t.ngettext(singular, plural, n)

    def __repr__(self) -> str:
        return f"Translator({self.language!r})"


@functools.cache
def translator(lang: str | None = None) -> Translator:
    """The translator for ``lang`` (default: Indonesian), read from its .po file once per process."""
    code = normalize_language(lang)
    path = po_path(code)
    if not path.is_file():  # a broken install: speak English rather than fail
        return Translator(code, gettext.NullTranslations())
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=code, domain=DOMAIN)
    buf = io.BytesIO()
    write_mo(buf, catalog, use_fuzzy=False)  # a fuzzy guess is no translation
    buf.seek(0)
    return Translator(code, gettext.GNUTranslations(buf))


def set_language(lang: str | None) -> str:
    """Make ``lang`` the language of ``_()`` in the current context; returns the normalised code."""
    code = normalize_language(lang)
    _current.set(code)
    return code


def get_language() -> str:
    return _current.get()


@contextlib.contextmanager
def using_language(lang: str | None) -> Iterator[Translator]:
    """Speak ``lang`` inside the block (a message for one person), then go back."""
    token = _current.set(normalize_language(lang))
    try:
        yield translator(_current.get())
    finally:
        _current.reset(token)


def _(message: str) -> str:
    """``message`` in the current language."""
    return translator(_current.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    """The singular or plural form for ``n``, in the current language."""
    return translator(_current.get()).ngettext(singular, plural, n)


def N_(message: str) -> str:
    """Mark ``message`` for the catalog without translating it now."""
    return message
