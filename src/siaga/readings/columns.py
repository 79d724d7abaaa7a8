"""A flush's columns for PostgreSQL: array literals made by ``str.join``, and each sensor's latest reading."""

from __future__ import annotations

import re
from collections.abc import Sequence

from siaga.sources.ingest import Row

_PLAIN = re.compile(r"[A-Za-z0-9_.:-]+")
"""A sensor id written as it is, between double quotes, in an array literal (siaga's ids are slugs)."""


def pg_arrays(sensors: Sequence[str], stamps: Sequence[int], values: Sequence[float]) -> tuple[str, str, str] | None:
    """The three columns as PostgreSQL array literals, made by ``str.join`` (psycopg's list dumper adapts each
    element in Python: the most CPU of a flush); ``None`` when an id would need escaping."""
    if not all(_PLAIN.fullmatch(s) for s in set(sensors)):
        return None
    return ('{"' + '","'.join(sensors) + '"}', "{" + ",".join(map(str, stamps)) + "}",
            "{" + ",".join(map(str, values)) + "}")


def plain_array(words: Sequence[str]) -> str | None:
    """``words`` as a PostgreSQL text array literal, each between double quotes as it is; ``None`` when one
    would need escaping."""
    if not all(_PLAIN.fullmatch(w) for w in words):
        return None
    return '{"' + '","'.join(words) + '"}' if words else "{}"


def latest_of(rows: Sequence[Row]) -> dict[str, tuple[int, float]]:
    """Each sensor's newest (ts, value) in ``rows`` (the later of two at one ts)."""
    out: dict[str, tuple[int, float]] = {}
    for s, t, v in rows:
        cur = out.get(s)
        if cur is None or t >= cur[0]:
            out[s] = (t, v)
    return out
