"""Render a report as HTML, PDF, XLSX or CSV: ``render(report, fmt) -> Rendered``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from projections.reports import Report

FORMATS = ("html", "pdf", "xlsx", "csv")
MEDIA_TYPES = {
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


@dataclass(frozen=True)
class Rendered:
    body: bytes
    media_type: str
    filename: str


def _renderer(fmt: str) -> Callable[[Report], bytes]:
    if fmt == "html":
        from projections.render.html import render_html

        return render_html
    if fmt == "pdf":
        from projections.render.pdf import render_pdf

        return render_pdf
    if fmt == "xlsx":
        from projections.render.xlsx import render_xlsx

        return render_xlsx
    if fmt == "csv":
        from projections.render.csvfile import render_csv

        return render_csv
    raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")


def render(report: Report, fmt: str) -> Rendered:
    body = _renderer(fmt)(report)
    return Rendered(body, MEDIA_TYPES[fmt], report.filename(fmt))
