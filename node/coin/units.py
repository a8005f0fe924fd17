"""Token amounts: grams written as decimal strings, and the base units the contracts count.

One whole token is one gram of gold and has 18 decimals, so 1 gram is 10**18 base units. Amounts
typed by people are parsed with :mod:`decimal`, never through ``float``, so ``12.5`` becomes
exactly 12_500_000_000_000_000_000 base units.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, Inexact

from node.coin.errors import InvalidAmount

DECIMALS = 18
#: One gram of gold in token base units.
GRAM = 10**DECIMALS
UINT256_MAX = 2**256 - 1

#: Digits with an optional fractional part: no sign, exponent, spaces or thousands separators.
_PLAIN_DECIMAL = re.compile(r"[0-9]+(\.[0-9]+)?")
_NEGATIVE_DECIMAL = re.compile(r"-[0-9]+(\.[0-9]+)?")


def parse_grams(text: str, *, allow_zero: bool = False) -> int:
    """Parse an amount in grams such as ``"12.5"`` and return it in base units.

    Raises InvalidAmount, whose ``reason`` is ``"format"`` for anything but plain decimal digits
    (``1e3``, ``0x10``, ``1,000``, ``nan``), ``"negative"``, ``"precision"`` for more than 18
    digits after the decimal point, ``"zero"`` for zero unless ``allow_zero`` is set, and
    ``"too_large"`` above the uint256 range.
    """
    stripped = text.strip()
    if _NEGATIVE_DECIMAL.fullmatch(stripped):
        raise InvalidAmount(text, "negative")
    if not _PLAIN_DECIMAL.fullmatch(stripped):
        raise InvalidAmount(text, "format")

    _, _, fraction = stripped.partition(".")
    if len(fraction) > DECIMALS:
        raise InvalidAmount(text, "precision")

    # The pattern admits only digits and one point, so the Decimal is exact. The context keeps
    # every digit of the shifted value and raises Inexact rather than round one away.
    context = Context(prec=len(stripped) + DECIMALS, traps=[Inexact])
    base_units = int(Decimal(stripped).scaleb(DECIMALS, context=context))
    if base_units == 0 and not allow_zero:
        raise InvalidAmount(text, "zero")
    if base_units > UINT256_MAX:
        raise InvalidAmount(text, "too_large")
    return base_units


def format_grams(base_units: int) -> str:
    """Write base units as grams with no trailing zeros, e.g. 12_500_000_000_000_000_000 as ``"12.5"``."""
    sign = "-" if base_units < 0 else ""
    whole, fraction = divmod(abs(base_units), GRAM)
    if fraction == 0:
        return f"{sign}{whole}"
    return f"{sign}{whole}.{fraction:0{DECIMALS}d}".rstrip("0")
