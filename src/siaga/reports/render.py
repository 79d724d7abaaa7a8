"""Render a report template to HTML, and HTML to PDF. One place for the look of every report."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import Environment, PackageLoader, select_autoescape

from siaga.errors import SiagaError
from siaga.i18n import labels, translator, using_language
from siaga.i18n.formats import measure, number, percent
from siaga.i18n.messages import note_text, rule_title
from siaga.i18n.messages import render as render_message
from siaga.i18n.zones import zone_abbreviation
from siaga.money import format_rupiah


class PdfUnavailable(SiagaError):
    """WeasyPrint or the libraries it needs (Pango) are missing."""


def _env(lang: str, timezone: str) -> Environment:
    env = Environment(
        loader=PackageLoader("siaga", "reports/templates"),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    t = translator(lang)
    env.install_gettext_callables(t.gettext, t.ngettext, newstyle=True)  # type: ignore[attr-defined]
    zone = ZoneInfo(timezone)

    def local(value: dt.datetime | None, fmt: str = "%d-%m-%Y %H:%M") -> str:
        if value is None:
            return "-"
        return value.astimezone(zone).strftime(fmt) + " " + zone_abbreviation(value.astimezone(zone))

    env.filters["local"] = local
    env.filters["rupiah"] = lambda amount: format_rupiah(int(amount), lang)
    env.filters["message"] = lambda message: render_message(message, lang, zone)
    env.filters["note"] = lambda note: note_text(note, lang, zone) or ""
    env.filters["number"] = lambda value, digits=1: number(float(value), lang, digits)
    env.filters["measure"] = lambda value, unit, digits=1: measure(float(value), unit, lang, digits)
    env.filters["percent"] = lambda fraction, digits=2: percent(float(fraction), lang, digits)
    env.globals["rule_title"] = lambda rule: rule_title(rule, lang)
    env.globals["lang"] = lang
    env.globals["labels"] = labels
    return env


def render_html(template: str, context: Mapping[str, Any], *, lang: str, timezone: str) -> str:
    """The report ``template`` (a file in reports/templates) rendered with ``context``."""
    with using_language(lang):
        return _env(lang, timezone).get_template(template).render(**context)


def html_to_pdf(html: str) -> bytes:
    """A PDF of the HTML report (A4, print styles of the base template)."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: Pango missing
        raise PdfUnavailable(
            f"PDF needs WeasyPrint and Pango ({exc}); run scripts/setup.sh or apt-get install libpango-1.0-0"
        ) from None
    pdf = HTML(string=html).write_pdf()
    assert pdf is not None
    return bytes(pdf)
