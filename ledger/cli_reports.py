"""``ledger report NAME``: a report for any as_of / known_at, as HTML, PDF, XLSX or CSV."""

from __future__ import annotations

import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from ledger.timeparams import TimeParamError


class ReportFormat(str, Enum):
    html = "html"
    pdf = "pdf"
    xlsx = "xlsx"
    csv = "csv"


class Lang(str, Enum):
    sv = "sv"
    en = "en"


REPORT_HELP = ("recipient-statement (needs --recipient), agreement-statement (needs --agreement), due-back, "
               "reclaims, lapsed, findings, obligations, overview, recipients")


def report(
    name: Annotated[str, typer.Argument(help=REPORT_HELP)],
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Business date (YYYY-MM-DD); default today")] = None,
    known_at: Annotated[Optional[str], typer.Option("--known-at", help="What the ledger knew then; default now")] = None,
    agreement: Annotated[Optional[str], typer.Option("--agreement", help="Only this agreement id")] = None,
    recipient: Annotated[Optional[str], typer.Option("--recipient", help="Only this recipient id")] = None,
    fmt: Annotated[ReportFormat, typer.Option("--format", help="html, pdf, xlsx or csv")] = ReportFormat.html,
    lang: Annotated[Lang, typer.Option("--lang", help="sv (default) or en")] = Lang.sv,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="File to write; default: stdout for "
                                                   "html and csv, a file named after the report otherwise")] = None,
    database_url: Annotated[Optional[str], typer.Option("--database-url", envvar="LEDGER_DATABASE_URL",
                                                        help="sqlite:///path or postgresql://...")] = None,
) -> None:
    """Rapport — a report from the projections, stating its as_of, known_at, journal position and head hash."""
    from ledger import cli
    from projections.render import render
    from projections.reports import ReportError, build_report
    from projections.state import Clock

    try:
        clock = Clock.of(as_of, known_at)
    except TimeParamError as exc:
        raise cli.fail(str(exc), 2) from exc
    ledger = cli.open_ledger(database_url)
    try:
        made = render(build_report(ledger, name, clock, agreement, recipient, lang.value), fmt.value)
    except ReportError as exc:
        raise cli.fail(str(exc), 2) from exc
    if output is None and fmt in (ReportFormat.html, ReportFormat.csv):
        sys.stdout.buffer.write(made.body)
        sys.stdout.flush()
        return
    target = output or Path(made.filename)
    target.write_bytes(made.body)
    cli.errors.print(f"Wrote {target} ({len(made.body)} bytes).")


def report_commands(app: typer.Typer) -> None:
    app.command("report")(report)
