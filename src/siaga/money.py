"""Rupiah the way people write them.

Indonesian: ``Rp750.000`` below a million, then ``Rp920 juta``, ``Rp5,5 miliar``, ``Rp1,25 triliun``
(at most two decimals, trailing zeros dropped, a value that rounds to 1000 of a unit moves up to the
next unit: ``Rp1 miliar``, never ``Rp1000 juta``). English: every digit, ``Rp5,500,000,000``.
Amounts are integer rupiah. Pure.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

_UNITS: tuple[tuple[int, str], ...] = (
    (10**6, "juta"),
    (10**9, "miliar"),
    (10**12, "triliun"),
)
_CENT = Decimal("0.01")


def _group(digits: int, sep: str) -> str:
    return f"{digits:,}".replace(",", sep)


def rupiah_digits(amount: int, lang: str = "id") -> str:
    """Every digit: ``Rp5.500.000.000`` (id) or ``Rp5,500,000,000`` (en)."""
    sign = "-" if amount < 0 else ""
    sep = "," if _is_english(lang) else "."
    return f"{sign}Rp{_group(abs(amount), sep)}"


def format_rupiah(amount: int, lang: str = "id") -> str:
    """``amount`` rupiah for people reading ``lang`` (``id`` or ``en``)."""
    if _is_english(lang):
        return rupiah_digits(amount, "en")
    sign = "-" if amount < 0 else ""
    value = abs(amount)
    if value < _UNITS[0][0]:
        return f"{sign}Rp{_group(value, '.')}"
    for index, (size, name) in enumerate(_UNITS):
        scaled = (Decimal(value) / Decimal(size)).quantize(_CENT, rounding=ROUND_HALF_UP)
        last = index == len(_UNITS) - 1
        if scaled < 1000 or last:
            return f"{sign}Rp{_decimal_id(scaled)} {name}"
    raise AssertionError("unreachable")  # pragma: no cover


def _decimal_id(value: Decimal) -> str:
    """``5.50`` -> ``5,5``; ``1234.00`` -> ``1.234``: Indonesian separators, no trailing zeros."""
    whole, _, frac = f"{value:.2f}".partition(".")
    frac = frac.rstrip("0")
    text = _group(int(whole), ".")
    return f"{text},{frac}" if frac else text


def _is_english(lang: str) -> bool:
    return str(lang).lower().startswith("en")
