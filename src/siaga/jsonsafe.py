"""JSON from outside with its nesting bounded, checked without recursing (pure, no I/O).

``json.loads`` recurses once per level: a body nested 100,000 deep ends in ``RecursionError`` (not a
``ValueError``), which slipped past every ``except ValueError`` and answered 500. :func:`loads` first
measures the nesting without recursing (:func:`nesting`) and refuses anything deeper than ``max_depth``
with :class:`TooDeep`, a ``ValueError``, so the callers' "not valid JSON" handling covers it.
"""

from __future__ import annotations

import json
import re
from typing import Any

from siaga.errors import SiagaError

MAX_DEPTH = 64  # far beyond any payload siaga reads (readings, notes, windows are 1-3 levels)

_STRING_B = re.compile(rb'"(?:[^"\\]++|\\.)*+"', re.DOTALL)
_PAIR = re.compile(rb"\[\]|\{\}")
_OTHER_BYTES = bytes(b for b in range(256) if b not in b"[]{}")


class TooDeep(SiagaError, ValueError):
    """JSON nested deeper than allowed."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"JSON nested deeper than {limit} levels")
        self.limit = limit


def nesting(data: str | bytes, limit: int = MAX_DEPTH) -> int:
    """How deep ``data`` nests arrays and objects, as far as ``limit + 1`` (then it stops counting).

    Brackets inside strings do not count. No recursion and no Python loop per character: strings are cut
    out by one regular expression, the other characters by ``translate``, then each round removes every
    innermost ``[]`` and ``{}`` pair at once (a round per level). Brackets that do not pair up (not JSON)
    are bounded by the openings left, so ``json.loads`` never goes deeper than the answer either.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return raw.count(b"[") + raw.count(b"{")  # at most this deep: no need to look closer
    brackets = _STRING_B.sub(b"", raw).translate(None, _OTHER_BYTES)
    if re.search(rb"[\[{]{%d}" % (limit + 1), brackets):
        return limit + 1  # a run of openings alone is too deep (the usual attack: found at once)
    depth = 0
    while brackets and depth <= limit:
        shorter = _PAIR.sub(b"", brackets)  # one pass: what a removal brings together waits for the next round
        if len(shorter) == len(brackets):  # brackets that do not pair up: not JSON; bound what is left
            return depth + brackets.count(b"[") + brackets.count(b"{")
        brackets = shorter
        depth += 1
    return depth + (1 if brackets else 0)


def check_depth(data: str | bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise :class:`TooDeep` when ``data`` nests deeper than ``max_depth``."""
    if nesting(data, max_depth) > max_depth:
        raise TooDeep(max_depth)


def loads(data: str | bytes, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for text from outside: :class:`TooDeep` (a ValueError) past ``max_depth`` levels."""
    check_depth(data, max_depth)
    return json.loads(data)
