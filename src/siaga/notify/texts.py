"""Text in the reader's language through ``siaga.i18n`` (gettext catalogs) and rupiah through ``siaga.money``.

"""

from __future__ import annotations

from collections.abc import Callable

from siaga.i18n import N_, translator
from siaga.money import format_rupiah


def gettext_for(lang: str) -> Callable[[str], str]:
    """The gettext function of ``lang`` ("id" or "en")."""
    return translator(lang).gettext


def ngettext_for(lang: str) -> Callable[[str, str, int], str]:
    return translator(lang).ngettext


__all__ = ["N_", "format_rupiah", "gettext_for", "ngettext_for"]
