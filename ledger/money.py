"""Money as integer öre (SEK). Never a float.

Amounts are parsed from kronor as people write them ("1 234 567 kr", "1234567,50",
"1 478,5 miljoner" is *not* accepted: prose estimates are not amounts) and shown
as kronor with a thin space grouping, the way Swedish finance documents print them.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import Field, StrictInt

ORE_PER_KRONA = 100
CURRENCY = "SEK"

#: An amount in öre: a strict integer, never negative. Pydantic rejects floats,
#: strings and booleans for it, so a fractional öre cannot slip in.
Ore = Annotated[StrictInt, Field(ge=0, le=10**15, description="Amount in öre (1 kr = 100 öre)")]

_KRONOR = re.compile(r"^(?P<sign>-)?(?P<int>\d{1,3}(?:[ \u00a0\u202f]\d{3})*|\d+)(?:[,.](?P<frac>\d{1,2}))?$")


class MoneyError(ValueError):
    """A text that is not an amount of kronor."""


def kronor(amount_kr: int) -> int:
    """Whole kronor to öre."""
    if isinstance(amount_kr, bool) or not isinstance(amount_kr, int):
        raise MoneyError(f"kronor must be an integer, got {amount_kr!r}")
    return amount_kr * ORE_PER_KRONA


def parse_kronor(text: str) -> int:
    """Parse "1 234 567 kr", "1234567", "1 234,50 kr" into öre.

    Raises MoneyError with the reason when the text is not an exact amount.
    """
    cleaned = text.strip()
    for suffix in ("kronor", "kr", "SEK"):
        if cleaned.endswith(suffix):
            cleaned = cleaned[: -len(suffix)].strip()
            break
    match = _KRONOR.match(cleaned)
    if not match:
        raise MoneyError(f"not an amount in kronor: {text!r}")
    whole = int(re.sub(r"\D", "", match["int"]))
    frac = (match["frac"] or "0").ljust(2, "0")
    ore = whole * ORE_PER_KRONA + int(frac)
    return -ore if match["sign"] else ore


def parse_decimal_kronor(value: str | int | Decimal) -> int:
    """Exact conversion of a decimal kronor value into öre; refuses fractions of an öre."""
    try:
        amount = Decimal(str(value))
    except InvalidOperation as exc:
        raise MoneyError(f"not a number: {value!r}") from exc
    if not amount.is_finite():
        raise MoneyError(f"not a number: {value!r}")
    ore = amount * ORE_PER_KRONA
    if ore != ore.to_integral_value():
        raise MoneyError(f"{value!r} kr is not a whole number of öre")
    return int(ore)


def format_kronor(ore: int, *, decimals: bool | None = None) -> str:
    """Show öre as kronor: 123456700 -> "1 234 567 kr"; 150 -> "1,50 kr".

    Decimals are shown only when the amount has öre, unless asked for.
    """
    sign = "-" if ore < 0 else ""
    whole, frac = divmod(abs(ore), ORE_PER_KRONA)
    grouped = f"{whole:,}".replace(",", " ")
    show = decimals if decimals is not None else frac != 0
    return f"{sign}{grouped},{frac:02d} kr" if show else f"{sign}{grouped} kr"
