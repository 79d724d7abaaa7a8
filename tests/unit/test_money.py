"""Rupiah as people write them."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siaga.money import format_rupiah, rupiah_digits

UNITS = {"juta": 10**6, "miliar": 10**9, "triliun": 10**12}
ID_SHORT = re.compile(r"^Rp(?P<whole>\d{1,3}(?:\.\d{3})*)(?:,(?P<frac>\d{1,2}))? (?P<unit>juta|miliar|triliun)$")


def parse_id(text: str) -> Decimal:
    if text.startswith("-"):
        return -parse_id(text[1:])
    m = ID_SHORT.match(text)
    if m is None:
        assert re.fullmatch(r"Rp\d{1,3}(?:\.\d{3})*", text), text
        return Decimal(text[2:].replace(".", ""))
    number = Decimal(m["whole"].replace(".", "") + ("." + m["frac"] if m["frac"] else ""))
    return number * UNITS[m["unit"]]


@pytest.mark.parametrize(
    ("amount", "text"),
    [
        (0, "Rp0"),
        (750_000, "Rp750.000"),
        (999_999, "Rp999.999"),
        (1_000_000, "Rp1 juta"),
        (920_000_000, "Rp920 juta"),
        (5_500_000_000, "Rp5,5 miliar"),
        (5_535_000_000, "Rp5,54 miliar"),
        (1_250_000_000_000, "Rp1,25 triliun"),
        (999_999_999, "Rp1 miliar"),
        (999_994_999, "Rp999,99 juta"),
        (999_995_000, "Rp1 miliar"),
        (1_500_000_000_000_000, "Rp1.500 triliun"),
        (-5_000, "-Rp5.000"),
    ],
)
def test_indonesian(amount, text):
    assert format_rupiah(amount, "id") == text


@pytest.mark.parametrize(
    ("amount", "text"),
    [(0, "Rp0"), (750_000, "Rp750,000"), (5_500_000_000, "Rp5,500,000,000"), (-1_000, "-Rp1,000")],
)
def test_english_is_plain_digits(amount, text):
    assert format_rupiah(amount, "en") == text


def test_full_digits_in_indonesian():
    assert rupiah_digits(5_500_000_000, "id") == "Rp5.500.000.000"


amounts = st.integers(min_value=0, max_value=10**16)


@given(amounts)
def test_indonesian_is_within_half_a_hundredth_of_its_unit(amount):
    text = format_rupiah(amount, "id")
    value = parse_id(text)
    m = ID_SHORT.match(text)
    unit = UNITS[m["unit"]] if m else 1
    assert abs(value - amount) <= Decimal(unit) / 200


@given(amounts)
def test_indonesian_never_shows_a_thousand_of_a_smaller_unit_or_trailing_zeros(amount):
    text = format_rupiah(amount, "id")
    m = ID_SHORT.match(text)
    if m is None:
        assert amount < 10**6
        return
    whole = int(m["whole"].replace(".", ""))
    assert whole >= 1
    if m["unit"] != "triliun":
        assert whole < 1000, text
    assert not (m["frac"] or "").endswith("0"), text


@given(amounts, amounts)
def test_indonesian_keeps_order(a, b):
    lo, hi = sorted((a, b))
    assert parse_id(format_rupiah(lo, "id")) <= parse_id(format_rupiah(hi, "id"))


@given(st.integers(min_value=-(10**18), max_value=10**18))
def test_english_reads_back_exactly(amount):
    text = format_rupiah(amount, "en")
    assert re.fullmatch(r"-?Rp\d{1,3}(,\d{3})*", text)
    assert int(text.replace("Rp", "").replace(",", "")) == amount
