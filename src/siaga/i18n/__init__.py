"""Messages in Bahasa Indonesia (the default) and English, through gettext catalogs kept with Babel.

Write English in code and wrap it: ``_("Rack {rack} holds {count} devices").format(rack=..., count=...)``.
Use ``str.format`` fields (never f-strings) inside ``_()`` so the catalog holds one message per text.
``N_()`` marks a text for the catalog without translating it (for tables built at import time);
translate it later with ``_()``. After adding or changing texts run ``scripts/i18n.sh`` (``make i18n``)
and translate the new entries in ``locale/id/LC_MESSAGES/siaga.po``; the tests fail while the catalogs
are stale or an Indonesian translation is missing.

The current language lives in a context variable: ``set_language("en")`` for the rest of this context
(the CLI does it once from ``--lang`` or the config), ``using_language("en")`` for a block (a message
for one person), or ``translator("en").gettext(...)`` without touching the current language.
"""

from siaga.i18n.catalogs import (
    DEFAULT_LANGUAGE,
    LANGUAGES,
    N_,
    Translator,
    UnknownLanguage,
    _,
    get_language,
    ngettext,
    normalize_language,
    set_language,
    translator,
    using_language,
)

__all__ = [
    "DEFAULT_LANGUAGE",
    "LANGUAGES",
    "N_",
    "Translator",
    "UnknownLanguage",
    "_",
    "get_language",
    "ngettext",
    "normalize_language",
    "set_language",
    "translator",
    "using_language",
]
