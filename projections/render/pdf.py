"""PDF with reportlab (pure Python): landscape A4, the report's metadata first, then each
section as a table whose header row repeats on every page; a footer names the report,
its as_of and the head hash on every page. Text is escaped before reportlab reads it."""

from __future__ import annotations

import io
from functools import lru_cache
from html import escape
from typing import Any

from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import CondPageBreak, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from projections.labels import label
from projections.render.cells import display
from projections.render.meta import meta_lines
from projections.reports import Column, Report, Section

PAGE = landscape(A4)
MARGIN = 12 * mm
FIXED = ("money", "int", "date", "bool")  # never broken: as wide as their longest cell
WEIGHTS = {"datetime": 1.6, "hash": 2.4, "code": 1.3, "list": 1.6}


@lru_cache(maxsize=1)
def _fonts() -> tuple[str, str]:
    """Bitstream Vera, shipped with reportlab: it has å, ä, ö and embeds, so text extracts."""
    pdfmetrics.registerFont(TTFont("Vera", "Vera.ttf"))
    pdfmetrics.registerFont(TTFont("VeraBd", "VeraBd.ttf"))
    return "Vera", "VeraBd"


def _styles(size: float) -> dict[str, ParagraphStyle]:
    regular, bold = _fonts()
    return {
        "title": ParagraphStyle("title", fontName=bold, fontSize=16, leading=20, spaceAfter=4),
        "subject": ParagraphStyle("subject", fontName=regular, fontSize=11, leading=14, spaceAfter=6),
        "h2": ParagraphStyle("h2", fontName=bold, fontSize=11.5, leading=15, spaceBefore=10, spaceAfter=4),
        "meta": ParagraphStyle("meta", fontName=regular, fontSize=8.5, leading=11),
        "cell": ParagraphStyle("cell", fontName=regular, fontSize=size, leading=size * 1.25),
        "num": ParagraphStyle("num", fontName=regular, fontSize=size, leading=size * 1.25, alignment=TA_RIGHT),
        "head": ParagraphStyle("head", fontName=bold, fontSize=size, leading=size * 1.25),
        "headnum": ParagraphStyle("headnum", fontName=bold, fontSize=size, leading=size * 1.25, alignment=TA_RIGHT),
    }


def render_pdf(report: Report) -> bytes:
    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=PAGE, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN,
                            bottomMargin=MARGIN + 4 * mm, title=report.title, author="grant-ledger",
                            subject=report.meta.subject or report.title)
    story: list[Any] = _heading(report)
    for section in report.sections:
        styles, widths = _fit(section, report.lang, doc.width)
        story.append(CondPageBreak(35 * mm))  # no heading alone at the foot of a page
        story.append(Paragraph(escape(label(section.key, report.lang)), styles["h2"]))
        story.append(_table(section, report.lang, styles, widths))
    doc.build(story, onFirstPage=_footer(report), onLaterPages=_footer(report))
    return buffer.getvalue()


def _heading(report: Report) -> list[Any]:
    styles = _styles(8)
    story: list[Any] = [Paragraph(escape(report.title), styles["title"])]
    if report.meta.subject:
        story.append(Paragraph(escape(report.meta.subject), styles["subject"]))
    rows = [[Paragraph(f"<b>{escape(name)}</b>", styles["meta"]), Paragraph(escape(value), styles["meta"])]
            for name, value in meta_lines(report)]
    table = Table(rows, colWidths=[75 * mm, 150 * mm], hAlign="LEFT")
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
                               ("TOPPADDING", (0, 0), (-1, -1), 1)]))
    return [*story, table, Spacer(1, 4 * mm)]


def _table(section: Section, lang: str, styles: dict[str, ParagraphStyle], widths: list[float]) -> Table:
    head = [Paragraph(escape(label(c.key, lang)), styles["headnum" if c.numeric else "head"]) for c in section.columns]
    body = [[_cell(row.get(c.key), c, lang, styles) for c in section.columns] for row in section.rows]
    if not body:
        body = [[Paragraph(escape(label("meta.none", lang)), styles["cell"])] + [""] * (len(section.columns) - 1)]
    totals = section.totals()
    if totals is not None:
        body.append([Paragraph(f"<b>{escape(label('total', lang))}</b>", styles["cell"])] + [
            _cell(totals.get(c.key), c, lang, styles, bold=True) for c in section.columns[1:]])
    table = Table([head, *body], colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(_table_style(totals is not None))
    return table


def _cell(value: Any, column: Column, lang: str, styles: dict[str, ParagraphStyle], bold: bool = False) -> Paragraph:
    text = escape(display(value, column, lang))
    if bold:
        text = f"<b>{text}</b>"
    return Paragraph(text, styles["num" if column.numeric else "cell"])


def _fit(section: Section, lang: str, width: float) -> tuple[dict[str, ParagraphStyle], list[float]]:
    """The largest font size at which amounts and dates fit unbroken, and the column widths."""
    for size in (8, 7.5, 7, 6.5, 6, 5.5):
        styles = _styles(size)
        widths = _widths(section, lang, width, styles)
        if widths is not None:
            return styles, widths
    return styles, [width / len(section.columns)] * len(section.columns)


def _widths(section: Section, lang: str, width: float, styles: dict[str, ParagraphStyle]) -> list[float] | None:
    """Amounts, counts and dates get the width of their longest cell (and longest header word);
    text shares what is left by its length. None when the fixed columns leave too little."""
    # Every cell is measured in bold: the totals row is bold, and bold is never narrower.
    bold, size = styles["head"].fontName, styles["cell"].fontSize
    fixed: dict[int, float] = {}
    weights: dict[int, float] = {}
    totals = section.totals() or {}
    for i, column in enumerate(section.columns):
        words = label(column.key, lang).split()
        head = max(stringWidth(w, bold, size) for w in words) if words else 0
        if column.kind in FIXED:
            texts = [display(r.get(column.key), column, lang) for r in section.rows] + [
                display(totals.get(column.key), column, lang)]
            fixed[i] = max([head, *(stringWidth(t, bold, size) for t in texts)]) + 7
        else:
            longest = max((len(display(r.get(column.key), column, lang)) for r in section.rows), default=8)
            weights[i] = WEIGHTS.get(column.kind, min(3.5, max(0.9, longest / 11)))
            fixed[i] = head + 7 if column.kind != "hash" else 0  # a text column is at least its longest header word
    spare = width - sum(fixed[i] for i in fixed if i not in weights)
    minimum = {i: max(fixed[i], 64) for i in weights}
    if spare < sum(minimum.values()):
        return None
    share = sum(weights.values()) or 1
    out = [fixed[i] if i not in weights else max(minimum[i], spare * weights[i] / share) for i in range(len(section.columns))]
    scale = (width - sum(fixed[i] for i in fixed if i not in weights)) / sum(out[i] for i in weights) if weights else 1
    return [w * scale if i in weights else w for i, w in enumerate(out)]


def _table_style(has_total: bool) -> TableStyle:
    commands: list[Any] = [
        ("GRID", (0, 0), (-1, -1), 0.3, colors.HexColor("#9aa5b1")),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#dde3ea")),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LEFTPADDING", (0, 0), (-1, -1), 2.5),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2.5),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 1.5),
    ]
    if has_total:
        commands.append(("BACKGROUND", (0, -1), (-1, -1), colors.HexColor("#f1f4f7")))
    return TableStyle(commands)


def _footer(report: Report) -> Any:
    regular, _bold = _fonts()
    text = (f"{report.title} · {label('meta.as_of', report.lang)} {report.meta.as_of.isoformat()} · "
            f"{label('meta.position', report.lang)} {report.meta.position} · {report.meta.head_hash[:16]}…")

    def draw(canvas: Any, doc: Any) -> None:
        canvas.saveState()
        canvas.setFont(regular, 7)
        canvas.drawString(MARGIN, 7 * mm, text)
        canvas.drawRightString(PAGE[0] - MARGIN, 7 * mm, f"{label('meta.page', report.lang)} {doc.page}")
        canvas.restoreState()

    return draw
