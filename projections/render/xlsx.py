"""XLSX: a real spreadsheet. One sheet per section, numbers as numbers in kronor with a
kronor number format, dates as dates, the header row frozen, and a first sheet that says
what the report is and what it was made from."""

from __future__ import annotations

import io
import re
from decimal import Decimal
from typing import Any

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from projections.labels import label
from projections.render.cells import display, neutralise, sheet_value
from projections.render.meta import meta_lines
from projections.reports import Column, Report, Section

#: "#,##0" is the file format's way of writing digit grouping; Excel and LibreOffice show the
#: locale's separator, so Swedish users see "1 234 567 kr" (displayed as '# ##0 "kr"').
KRONOR_FORMAT = '#,##0 "kr";-#,##0 "kr"'
KRONOR_ORE_FORMAT = '#,##0.00 "kr";-#,##0.00 "kr"'
DATE_FORMAT = "yyyy-mm-dd"
HEADER_FILL = PatternFill("solid", fgColor="DDE3EA")
BOLD = Font(bold=True)


def render_xlsx(report: Report) -> bytes:
    book = Workbook()
    _about_sheet(book.active, report)
    used: set[str] = set()
    for section in report.sections:
        _section_sheet(book.create_sheet(_sheet_title(label(section.key, report.lang), used)), section, report.lang)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _sheet_title(text: str, used: set[str]) -> str:
    """Excel's rules: at most 31 characters, none of []:*?/\\, unique in the book."""
    base = re.sub(r"[\[\]:*?/\\]", " ", text)[:31].strip() or "Sheet"
    title, n = base, 2
    while title.lower() in used:
        title = f"{base[:28]} {n}"
        n += 1
    used.add(title.lower())
    return title


def _about_sheet(sheet: Worksheet, report: Report) -> None:
    sheet.title = label("meta.about", report.lang)[:31]
    sheet.append([neutralise(report.title)])
    sheet["A1"].font = Font(bold=True, size=14)
    for name, value in meta_lines(report):
        sheet.append([neutralise(name), neutralise(value)])
    sheet.column_dimensions["A"].width = 42
    sheet.column_dimensions["B"].width = 70


def _section_sheet(sheet: Worksheet, section: Section, lang: str) -> None:
    sheet.append([label(c.key, lang) for c in section.columns])
    for cell in sheet[1]:
        cell.font, cell.fill = BOLD, HEADER_FILL
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    for row in section.rows:
        sheet.append([sheet_value(row.get(c.key), c, lang) for c in section.columns])
    totals = section.totals()
    if totals is not None:
        sheet.append([label("total", lang) if i == 0 else totals.get(c.key) for i, c in enumerate(section.columns)])
        for cell in sheet[sheet.max_row]:
            cell.font = BOLD
    _formats(sheet, section.columns)
    sheet.freeze_panes = "A2"
    if section.rows:
        sheet.auto_filter.ref = f"A1:{get_column_letter(len(section.columns))}{len(section.rows) + 1}"


def _formats(sheet: Worksheet, cols: list[Column]) -> None:
    for index, column in enumerate(cols, start=1):
        letter = get_column_letter(index)
        for (cell,) in sheet.iter_rows(min_row=2, min_col=index, max_col=index):
            _format_cell(cell, column)
        sheet.column_dimensions[letter].width = _width(sheet, index, column)


def _format_cell(cell: Any, column: Column) -> None:
    if column.kind == "money" and isinstance(cell.value, Decimal):
        cell.number_format = KRONOR_ORE_FORMAT  # kronor and öre
    elif column.kind == "money":
        cell.number_format = KRONOR_FORMAT
    elif column.kind == "date":
        cell.number_format = DATE_FORMAT


def _width(sheet: Worksheet, index: int, column: Column) -> float:
    if column.kind == "money":
        return 18
    if column.kind == "date":
        return 12
    longest = max((len(display(c.value, column)) if c.value is not None else 0
                   for (c,) in sheet.iter_rows(min_row=1, min_col=index, max_col=index)), default=8)
    return min(max(10, longest + 2), 60)
