"""CSV: the report's metadata, then each section (its title, header row, rows, total), with
a blank line between. Amounts are plain numbers in kronor; text cells are neutralised."""

from __future__ import annotations

import csv
import io

from projections.labels import label
from projections.render.cells import csv_value, neutralise
from projections.render.meta import meta_lines
from projections.reports import Report, Section


def render_csv(report: Report) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(report.title)])
    for name, value in meta_lines(report):
        writer.writerow([neutralise(name), neutralise(value)])
    for section in report.sections:
        writer.writerow([])
        _section(writer, section, report.lang)
    return buffer.getvalue().encode("utf-8-sig")  # the BOM lets Excel read å, ä and ö


def _section(writer: csv.writer, section: Section, lang: str) -> None:  # type: ignore[valid-type]
    writer.writerow([neutralise(label(section.key, lang))])
    writer.writerow([_header(c.key, c.kind, lang) for c in section.columns])
    for row in section.rows:
        writer.writerow([csv_value(row.get(c.key), c, lang) for c in section.columns])
    totals = section.totals()
    if totals is not None:
        writer.writerow([label("total", lang) if i == 0 else csv_value(totals.get(c.key), c, lang)
                         for i, c in enumerate(section.columns)])


def _header(key: str, kind: str, lang: str) -> str:
    return f"{label(key, lang)} (kr)" if kind == "money" else label(key, lang)
