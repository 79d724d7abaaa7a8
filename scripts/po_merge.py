#!/usr/bin/env python3
"""A git merge driver for gettext catalogs: the union of both sides' messages, translations kept.

Two branches that each add texts to the catalogs conflict line by line, never in meaning. This
driver merges by message: every msgid of either side, with the non-empty translation. Set it up
once per clone:

    git config merge.pocatalog.driver ".venv/bin/python scripts/po_merge.py %O %A %B"

(.gitattributes already routes *.po and *.pot to it). Run scripts/i18n.sh after a merge.
"""

from __future__ import annotations

import sys

from babel.messages.pofile import read_po, write_po


def main(base: str, ours: str, theirs: str) -> int:
    with open(ours, "rb") as fh:
        merged = read_po(fh)
    with open(theirs, "rb") as fh:
        other = read_po(fh)
    for message in other:
        if not message.id:
            continue
        mine = merged.get(message.id, message.context)
        if mine is None:
            merged[message.id] = message
        elif not mine.string or (isinstance(mine.string, tuple) and not any(mine.string)):
            mine.string = message.string
    with open(ours, "wb") as fh:
        write_po(fh, merged, no_location=True, sort_output=True, ignore_obsolete=True, width=100)
    return 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))
