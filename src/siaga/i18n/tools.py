"""Keep the catalogs in step with the code: extract into siaga.pot, update the .po files.

``python -m siaga.i18n.tools update`` (what ``scripts/i18n.sh`` and ``make i18n`` run) extracts every
``_()``/``N_()``/``ngettext()`` text of ``src/siaga`` (Python and Jinja2 templates, see ``babel.cfg``)
with Babel into ``locale/siaga.pot`` and merges it into ``locale/<lang>/LC_MESSAGES/siaga.po``.
``check`` exits 1 when the .pot is stale or an Indonesian translation is missing.

Output is sorted and carries no source locations and fixed dates, so two branches that each add a
few texts merge without conflicts in the catalog headers.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po, write_po

from siaga.i18n.catalogs import DOMAIN, LANGUAGES, locale_dir

PACKAGE_DIR = Path(__file__).resolve().parent.parent
MAPPING = Path(__file__).resolve().parent / "babel.cfg"
FIXED_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
KEYWORDS = dict(DEFAULT_KEYWORDS)


def pot_path() -> Path:
    return locale_dir() / f"{DOMAIN}.pot"


def _header(catalog: Catalog) -> None:
    catalog.project = "siaga"
    catalog.version = ""
    catalog.copyright_holder = "the siaga authors"
    catalog.msgid_bugs_address = ""
    catalog.creation_date = FIXED_DATE
    catalog.revision_date = FIXED_DATE
    catalog.last_translator = "siaga <siaga@localhost>"
    catalog.language_team = "siaga"


def extract(source_dir: Path = PACKAGE_DIR) -> Catalog:
    """Every translatable text under ``source_dir``, as a template catalog."""
    with MAPPING.open(encoding="utf-8") as fh:
        method_map, options_map = parse_mapping_cfg(fh)  # type: ignore[no-untyped-call]
    catalog = Catalog(project="siaga", domain=DOMAIN, charset="utf-8", fuzzy=False)
    _header(catalog)
    for _filename, lineno, message, comments, context in extract_from_dir(
        str(source_dir), method_map, options_map, keywords=KEYWORDS, comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    ):
        catalog.add(message, None, [], auto_comments=comments, context=context)
        del lineno
    return catalog


def msgids(catalog: Iterable[Message]) -> set[str]:
    """The msgids of a catalog (a plural entry by its singular)."""
    out: set[str] = set()
    for message in catalog:
        if not message.id:
            continue
        out.add(message.id[0] if isinstance(message.id, tuple | list) else message.id)
    return out


def _write(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as fh:
        write_po(fh, catalog, no_location=True, sort_output=True, ignore_obsolete=True, width=100)


def write_template(catalog: Catalog, path: Path | None = None) -> Path:
    target = path or pot_path()
    _write(catalog, target)
    return target


def update(languages: Sequence[str] = LANGUAGES) -> list[Path]:
    """Extract into the .pot and merge it into each language's .po; return the files written."""
    template = extract()
    written = [write_template(template)]
    for lang in languages:
        po = locale_dir() / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        if po.is_file():
            with po.open("rb") as fh:
                catalog = read_po(fh, locale=lang, domain=DOMAIN)
        else:
            catalog = Catalog(locale=lang, domain=DOMAIN, charset="utf-8", fuzzy=False)
        catalog.update(template, no_fuzzy_matching=True)
        _header(catalog)
        catalog.fuzzy = False
        _write(catalog, po)
        written.append(po)
    return written


def problems() -> list[str]:
    """Why the catalogs are not in step with the code (empty when they are)."""
    out: list[str] = []
    current = extract()
    with pot_path().open("rb") as fh:
        pot = read_po(fh, domain=DOMAIN)
    missing = sorted(msgids(current) - msgids(pot))
    extra = sorted(msgids(pot) - msgids(current))
    out += [f"not in siaga.pot (run scripts/i18n.sh): {m!r}" for m in missing]
    out += [f"in siaga.pot but no longer in the code (run scripts/i18n.sh): {m!r}" for m in extra]
    for lang in LANGUAGES:
        path = locale_dir() / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=lang, domain=DOMAIN)
        gone = sorted(msgids(pot) - msgids(catalog))
        out += [f"{lang}: not in {path.name} (run scripts/i18n.sh): {m!r}" for m in gone]
        if lang == "id":
            for message in catalog:
                if not message.id:
                    continue
                strings = message.string if isinstance(message.string, tuple | list) else (message.string,)
                if message.fuzzy or not all(strings):
                    out.append(f"id: no Indonesian translation for {message.id!r}")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else "update"
    if command == "update":
        for path in update():
            print(f"i18n: wrote {path}")
        todo = [p for p in problems() if p.startswith("id:")]
        for line in todo:
            print(f"i18n: {line}")
        return 0
    if command == "check":
        found = problems()
        for line in found:
            print(f"i18n: {line}", file=sys.stderr)
        return 1 if found else 0
    print("usage: python -m siaga.i18n.tools [update|check]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
