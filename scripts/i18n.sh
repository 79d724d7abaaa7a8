#!/usr/bin/env bash
# Extract every translatable text of src/siaga into src/siaga/i18n/locale/siaga.pot (Babel, see
# src/siaga/i18n/babel.cfg) and merge it into the id and en catalogs. Then translate the new, empty
# entries of src/siaga/i18n/locale/id/LC_MESSAGES/siaga.po into Bahasa Indonesia.
#   scripts/i18n.sh          update the catalogs
#   scripts/i18n.sh check    exit 1 when they are stale or a translation is missing
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" exec "$PY" -m siaga.i18n.tools "${1:-update}"
