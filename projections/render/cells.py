"""One cell of a report, as text for people (HTML, PDF) or as a value for a spreadsheet (XLSX, CSV).

Amounts are öre in the rows. People read kronor, "1 234 567 kr"; spreadsheets get numbers
in kronor, never text, so they add up. Text that a spreadsheet would run as a formula
(starting with =, +, -, @, a tab or a carriage return) is neutralised with a leading quote.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from ledger.money import ORE_PER_KRONA, format_kronor
from projections.labels import code, label
from projections.reports import Column

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(text: str) -> str:
    """Text a spreadsheet would take for a formula, prefixed with a quote so it stays text."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def display(value: Any, column: Column, lang: str = "sv") -> str:
    """The cell as people read it: kronor with grouped digits, ISO dates, labels for codes."""
    if value is None or value == "":
        return ""
    kind = column.kind
    if kind == "money":
        return format_kronor(int(value))
    if kind == "bool":
        return label("yes" if value else "no", lang)
    if kind == "code":
        return code(str(value), lang)
    if kind == "list":
        return ", ".join(code(str(v), lang) for v in value)
    if kind == "datetime":
        return str(value).replace("T", " ")
    return str(value)


def kronor_number(ore: int) -> int | Decimal:
    """Öre as a number of kronor: an integer when whole, else an exact decimal."""
    whole, frac = divmod(int(ore), ORE_PER_KRONA)
    return whole if frac == 0 else Decimal(int(ore)) / ORE_PER_KRONA


def sheet_value(value: Any, column: Column, lang: str = "sv") -> Any:
    """The cell for a spreadsheet: kronor and counts as numbers, dates as dates, text neutralised."""
    if value is None or value == "":
        return None
    if column.kind == "money":
        return kronor_number(value)
    if column.kind == "int":
        return int(value)
    if column.kind == "date":
        return dt.date.fromisoformat(str(value))
    return neutralise(display(value, column, lang))


def csv_value(value: Any, column: Column, lang: str = "sv") -> str:
    """The cell for CSV: numbers plain (kronor, "." for decimals), dates ISO, text neutralised."""
    cell = sheet_value(value, column, lang)
    if cell is None:
        return ""
    if isinstance(cell, dt.date):
        return cell.isoformat()
    return str(cell)
