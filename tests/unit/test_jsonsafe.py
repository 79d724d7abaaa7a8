"""JSON from outside: nesting measured without recursing, too deep refused as a ValueError."""

from __future__ import annotations

import json
import sys
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from siaga.jsonsafe import MAX_DEPTH, TooDeep, loads, nesting

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\ab,:', max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=3), inner,
                                                               max_size=3),
    max_leaves=30,
)


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    return 0


@given(JSON, st.integers(min_value=0, max_value=6))
@settings(max_examples=300, deadline=None)
def test_nesting_says_whether_a_document_is_deeper_than_the_limit(value: Any, limit: int) -> None:
    text = json.dumps(value)  # brackets and quotes inside strings must not count
    assert (nesting(text, limit) > limit) == (depth(value) > limit)
    assert (nesting(text.encode(), limit) > limit) == (depth(value) > limit)


@pytest.mark.parametrize("body", [
    "[" * 100_000 + "]" * 100_000,
    '{"a":' * 100_000 + "1" + "}" * 100_000,
    "[" * 100_000,  # never closed
    "[{" * 50_000 + "}]" * 50_000,
    "[1," * 100_000,
])
def test_a_document_nested_100k_deep_is_refused_as_a_value_error(body: str) -> None:
    limit = sys.getrecursionlimit()
    with pytest.raises(TooDeep) as info:
        loads(body)
    assert isinstance(info.value, ValueError) and str(MAX_DEPTH) in str(info.value)
    assert sys.getrecursionlimit() == limit


def test_ordinary_documents_load() -> None:
    assert loads(b'{"readings": [{"sensor": "t1", "value": 21.5, "note": "[[[{{{"}]}') == {
        "readings": [{"sensor": "t1", "value": 21.5, "note": "[[[{{{"}]}
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
    with pytest.raises(TooDeep):
        loads("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1))
    with pytest.raises(ValueError):
        loads("[}")  # not JSON: json.loads says so
