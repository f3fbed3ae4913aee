"""Reports in every format, from the projections, for any as_of / known_at.

The seeds are loaded and a scripted year recorded for Region Gotland in
god-och-nara-vard-2020 (tests/web/year.py). Spreadsheets must hold numbers as numbers
(kronor, with a kronor number format) and a frozen header row; PDFs must carry the right
figures as text; names and references carrying HTML or formulas must come out escaped
(HTML, PDF) or neutralised (CSV, XLSX) while amounts stay numbers.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pypdf
from markupsafe import escape
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import ledger.cli as cli
from api.app import create_app, key_store_for
from ledger.application import Ledger
from ledger.timeparams import format_recorded
from projections.render import FORMATS, render
from projections.render.cells import neutralise
from projections.reports import REPORTS, Report, ReportError, balance_series, build_report
from projections.state import Clock
from tests.web.year import (AGREEMENT, COSTS_KR, HOSTILE_ID, HOSTILE_NAME, HOSTILE_NOTE_REFERENCE, HOSTILE_REFERENCE,
                            NARA_VARD_KR, PAYOUT_REFERENCE, REGION, RECLAIM_KR, REPAID_KR, UNSPENT_KR, record_year)

AFTER = "2021-10-01"  # after the whole scripted year
SUBJECTS = {"recipient-statement": {"recipient_id": REGION}, "agreement-statement": {"agreement_id": AGREEMENT}}


def report(ledger: Ledger, name: str, as_of: str = AFTER, known_at: str | None = None, lang: str = "sv",
           **subject: Any) -> Report:
    return build_report(ledger, name, Clock.of(as_of, known_at), lang=lang, **(subject or SUBJECTS.get(name, {})))


def pdf_text(body: bytes) -> str:
    return "\n".join(page.extract_text() for page in pypdf.PdfReader(io.BytesIO(body)).pages)


def workbook(body: bytes) -> openpyxl.Workbook:
    return openpyxl.load_workbook(io.BytesIO(body))


def csv_rows(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))


def sheet_rows(sheet: Any) -> list[dict[str, Any]]:
    header = [c.value for c in sheet[1]]
    return [dict(zip(header, (c.value for c in row), strict=True)) for row in sheet.iter_rows(min_row=2)]


# --- every report, every format ---------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(REPORTS))
def test_every_report_renders_in_every_format(year_ledger: Ledger, name: str):
    built = report(year_ledger, name)
    position, head_hash = year_ledger.head()
    assert (built.meta.position, built.meta.head_hash) == (position, head_hash)
    for fmt in FORMATS:
        made = render(built, fmt)
        assert made.filename.endswith(f".{fmt}") and AFTER in made.filename
        if fmt == "html":
            page = made.body.decode()
            assert page.startswith("<!DOCTYPE html>") and built.title in page and head_hash in page
            assert "<caption>" in page and 'scope="col"' in page
        elif fmt == "pdf":
            text = pdf_text(made.body)
            assert built.title in text and head_hash in text and AFTER in text
        elif fmt == "xlsx":
            book = workbook(made.body)
            assert len(book.sheetnames) == len(built.sections) + 1  # "Om rapporten" and one per section
            about = [row for row in book.worksheets[0].iter_rows(values_only=True)]
            assert ("Kedjans huvudhash", head_hash) in about and ("Huvudbokens position", str(position)) in about
            assert all(sheet.freeze_panes == "A2" for sheet in book.worksheets[1:])
        else:
            rows = csv_rows(made.body)
            assert rows[0] == [built.title] and ["Kedjans huvudhash", head_hash] in rows


def test_every_report_states_its_clocks_when_it_was_made_and_from_what(year_ledger: Ledger):
    made_at = dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.timezone.utc)
    built = build_report(year_ledger, "due-back", Clock.of("2021-03-30", "2025-06-01T12:00:00+00:00"), now=made_at)
    page = render(built, "html").body.decode()
    for text in ("2021-03-30", "2025-06-01T12:00:00Z", "2026-01-02T03:04:05Z", str(year_ledger.head()[0]),
                 year_ledger.head()[1], "Per dag (as_of)", "Som huvudboken kände till det (known_at)", "Skapad"):
        assert text in page


# --- the figures -----------------------------------------------------------------------------------


def test_due_back_xlsx_holds_numbers_in_kronor_with_a_kronor_format(year_ledger: Ledger):
    book = workbook(render(report(year_ledger, "due-back"), "xlsx").body)
    sheet = book["Medel att återbetala"]
    assert sheet.freeze_panes == "A2"
    row = next(r for r in sheet_rows(sheet) if r["Mottagar-id"] == REGION)
    assert (row["Erhållet"], row["Redovisade kostnader"], row["Att återbetala"]) == (NARA_VARD_KR, COSTS_KR, UNSPENT_KR)
    assert (row["Återbetalt"], row["Utestående"], row["Försenat"]) == (REPAID_KR, UNSPENT_KR - REPAID_KR,
                                                                       UNSPENT_KR - REPAID_KR)
    assert row["Sista dag"] == dt.datetime(2021, 3, 31)  # a date, not text
    cell = next(c for c in sheet["E"][1:] if c.value == NARA_VARD_KR)
    assert cell.data_type == "n" and '"kr"' in cell.number_format and "#,##0" in cell.number_format


def test_recipient_statement_xlsx_has_a_sheet_per_section_with_the_year_in_it(year_ledger: Ledger):
    book = workbook(render(report(year_ledger, "recipient-statement"), "xlsx").body)
    assert book.sheetnames == ["Om rapporten", "Namnhistorik", "Saldon", "Medel att återbetala", "Saldon över tid",
                               "Åtaganden", "Iakttagelser", "Händelser"]
    balances = {r["Del"]: r for r in sheet_rows(book["Saldon"]) if r["Överenskommelse"] == AGREEMENT}
    assert balances["nara-vard"]["Utbetalt"] == NARA_VARD_KR and balances["nara-vard"]["Återbetalt"] == REPAID_KR
    assert balances["nara-vard"]["Återkrav beslutat"] == RECLAIM_KR
    assert balances["barnhalsovard"]["Förfallet"] == 417_184  # requisitioned after 1 December: lapsed
    events = sheet_rows(book["Händelser"])
    payout = next(e for e in events if e["Händelse"] == "Utbetalning")
    assert (payout["Belopp"], payout["Referens"], payout["Händelsedag"]) == (NARA_VARD_KR, PAYOUT_REFERENCE,
                                                                             dt.datetime(2020, 4, 1))
    assert len(payout["Hash"]) == 64 and payout["Registrerad av"] == "kammarkollegiet-ekonomi"
    total = list(book["Saldon"].iter_rows(values_only=True))[-1]
    assert total[0] == "Summa" and all(isinstance(v, (int, type(None))) for v in total[2:])


def test_recipient_statement_pdf_carries_the_figures(year_ledger: Ledger):
    built = report(year_ledger, "recipient-statement")
    text = pdf_text(render(built, "pdf").body)
    for figure in ("16 961 298 kr", "16 461 298 kr", "500 000 kr", "300 000 kr", "200 000 kr", "417 184 kr"):
        assert figure in text, figure
    assert "Region Gotland" in text and built.meta.head_hash in text
    assert PAYOUT_REFERENCE in text.replace("\n", "")  # a narrow cell may wrap it
    event_hash = built.section("section.events").rows[-1]["hash"]
    assert event_hash in text.replace("\n", "")  # long words break, with nothing inserted


def test_the_statement_chart_gives_the_recipients_figures_at_each_month_end(year_ledger: Ledger):
    """Each point of the chart is what the balances and due-back lists say for the region as
    of that month end: the money it was paid, its costs, what it repaid and what is still due."""
    from projections import queries

    points = balance_series(year_ledger, REGION, Clock.of(AFTER))
    assert [p["month_end"] for p in points][-1] == AFTER
    assert len(points) >= 12
    for point in points:
        clock = Clock.of(point["month_end"])
        region = queries.Filters(recipient_id=REGION)
        lines = [b for b in queries.balances(year_ledger.views, clock, region, totals=False)]
        owed = queries.due_back_list(year_ledger.views, clock, region)
        assert point == {"month_end": point["month_end"], "paid": sum(b["paid"] for b in lines),
                         "costs": sum(b["costs"] for b in lines), "repaid": sum(b["repaid"] for b in lines),
                         "outstanding": sum(o["outstanding"] for o in owed)}
    last = points[-1]
    assert (last["paid"], last["costs"], last["repaid"]) == (NARA_VARD_KR * 100, COSTS_KR * 100, REPAID_KR * 100)
    assert last["outstanding"] == (UNSPENT_KR - REPAID_KR) * 100
    march_2021 = next(p for p in points if p["month_end"] == "2021-03-31")
    assert (march_2021["costs"], march_2021["repaid"], march_2021["outstanding"]) == (
        COSTS_KR * 100, 0, UNSPENT_KR * 100)


@pytest.mark.parametrize("as_of", ["2020-06-30", "2021-03-31", "2021-04-01", AFTER])
def test_overview_and_recipients_pages_add_up_the_lists(year_ledger: Ledger, as_of: str):
    """The overview reads each agreement once; its figures are the balances, due-back and
    reclaims lists summed per agreement, and the recipients page the same per recipient."""
    from projections import queries

    clock, everyone = Clock.of(as_of), queries.Filters()
    balances = queries.balances(year_ledger.views, clock, everyone)
    owed = queries.due_back_list(year_ledger.views, clock, everyone)
    claims = queries.reclaims(year_ledger.views, clock, everyone)
    overview = report(year_ledger, "overview", as_of=as_of).sections[0].rows
    assert [r["agreement_id"] for r in overview] == sorted({r["agreement_id"] for r in balances})
    for row in overview:
        aid = row["agreement_id"]
        total = next(r for r in balances if r["agreement_id"] == aid and r["recipient_id"] == "*")
        assert [row[k] for k in ("allocated", "paid", "costs", "lapsed")] == \
            [total[k] for k in ("allocated", "paid", "costs", "lapsed")]
        assert (row["due"], row["outstanding"]) == (sum(o["due"] for o in owed if o["agreement_id"] == aid),
                                                    sum(o["outstanding"] for o in owed if o["agreement_id"] == aid))
        assert (row["eligible_amount"], row["reclaim_outstanding"]) == (
            sum(c["eligible_amount"] for c in claims if c["agreement_id"] == aid),
            sum(c["outstanding"] for c in claims if c["agreement_id"] == aid))
    gonv = next(r for r in overview if r["agreement_id"] == AGREEMENT)
    assert gonv["title"] and gonv["year"] == 2020

    recipients = {r["recipient_id"]: r for r in report(year_ledger, "recipients", as_of=as_of).sections[0].rows}
    lines = [b for b in balances if b["recipient_id"] != "*"]
    assert set(recipients) == {b["recipient_id"] for b in lines}
    gotland = recipients[REGION]
    assert gotland["paid"] == sum(b["paid"] for b in lines if b["recipient_id"] == REGION)
    assert gotland["outstanding"] == sum(o["outstanding"] for o in owed if o["recipient_id"] == REGION)


@pytest.mark.parametrize(("as_of", "outstanding", "overdue"), [
    ("2021-03-30", "500 000 kr", "0 kr"),  # reported, not yet due
    ("2021-04-01", "500 000 kr", "500 000 kr"),  # 31 March passed: all overdue
    ("2021-05-01", "200 000 kr", "200 000 kr"),  # 300 000 kr repaid on 20 April
])
def test_due_back_pdf_moves_across_31_march(year_ledger: Ledger, as_of: str, outstanding: str, overdue: str):
    built = report(year_ledger, "due-back", as_of=as_of)
    row = next(r for r in built.sections[0].rows if r["recipient_id"] == REGION)
    text = pdf_text(render(built, "pdf").body)
    line = next(line for line in text.splitlines() if "Region Gotland" in line or "region-gotland" in line)
    assert line and f"Per dag (as_of) {as_of}" in text.replace("\n", " ")
    assert (row["outstanding"], row["overdue"]) == (int(outstanding[:-3].replace(" ", "")) * 100,
                                                    int(overdue[:-3].replace(" ", "")) * 100)
    assert outstanding in text and overdue in text


def test_agreement_statement_reconciles_against_the_printed_totals(year_ledger: Ledger):
    built = report(year_ledger, "agreement-statement")
    parts = {r["part_id"]: r for r in built.section("section.parts").rows}
    assert parts["nara-vard"]["stated_total"] == 2_935_000_000 * 100
    assert parts["nara-vard"]["rows_total"] + parts["nara-vard"]["blank"] - parts["nara-vard"]["stated_total"] \
        == parts["nara-vard"]["difference"]
    book = workbook(render(built, "xlsx").body)
    assert "Avvikelser i avstämningen" in book.sheetnames and "Summor per del" in book.sheetnames
    totals = {r["Del"]: r for r in sheet_rows(book["Summor per del"])}
    assert totals["nara-vard"]["Utbetalt"] == NARA_VARD_KR + 1_000  # Gotland and the test recipient
    assert totals["nara-vard"]["Tilldelat"] == 2_935_000_000


def test_lapsed_reclaims_findings_and_obligations_name_the_year(year_ledger: Ledger):
    lapsed = report(year_ledger, "lapsed").sections[0].rows
    assert any(r["recipient_id"] == REGION and r["part_id"] == "barnhalsovard" and r["lapsed"] == 41_718_400
               for r in lapsed)
    reclaims = report(year_ledger, "reclaims").sections[0].rows
    assert any(r["recipient_id"] == REGION and r["decided"] == RECLAIM_KR * 100 for r in reclaims)
    findings = report(year_ledger, "findings").sections[0].rows
    assert any(r["recipient_id"] == REGION and r["rule"] == "requisition_late" for r in findings)
    duties = report(year_ledger, "obligations", recipient_id=REGION).sections[0].rows
    assert any(d["obligation"] == "delrapport" and d["state"] == "met_late" for d in duties)
    assert [d["deadline"] for d in duties] == sorted(d["deadline"] or "9999" for d in duties)


def test_known_at_shows_what_the_ledger_knew_then(loaded_ledger: Ledger):
    time.sleep(0.01)
    before = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.01)
    record_year(loaded_ledger)
    then = report(loaded_ledger, "recipient-statement", known_at=before.isoformat())
    now = report(loaded_ledger, "recipient-statement")
    assert sum(r["paid"] for r in then.section("section.balances").rows) == 0
    assert not then.section("section.events").rows or all(
        e["recorded_at"] <= format_recorded(before) for e in then.section("section.events").rows)
    assert sum(r["paid"] for r in now.section("section.balances").rows) == NARA_VARD_KR * 100


def test_english_keeps_the_swedish_terms_beside_the_english_ones(year_ledger: Ledger):
    built = report(year_ledger, "due-back", lang="en")
    page = render(built, "html").body.decode()
    assert '<html lang="en">' in page and "Funds due back by 31 March (återbetalning)" in page
    assert "Due back (att återbetala)" in page and "As of, effective date (as_of)" in page
    book = workbook(render(built, "xlsx").body)
    assert book.sheetnames == ["About this report", "Funds due back (återbetalning)"]
    assert any("Outstanding (utestående) (kr)" in row for row in csv_rows(render(built, "csv").body))


def test_amounts_are_shown_as_kronor_with_grouped_digits(year_ledger: Ledger):
    page = render(report(year_ledger, "recipient-statement"), "html").body.decode()
    assert re.search(r'<td class="money col-paid">16 961 298 kr</td>', page)
    assert '<td class="date col-effective_date">2020-04-01</td>' in page


# --- escaping and formula injection ---------------------------------------------------------------


def test_html_escapes_names_and_references(year_ledger: Ledger):
    for name in ("recipient-statement", "findings", "agreement-statement", "recipients"):
        page = render(report(year_ledger, name, **({"recipient_id": HOSTILE_ID} if name == "recipient-statement"
                                                    else SUBJECTS.get(name, {}))), "html").body.decode()
        assert "<script>" not in page and "<img" not in page, name
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, name
    statement = render(report(year_ledger, "recipient-statement", recipient_id=HOSTILE_ID), "html").body.decode()
    assert str(escape(HOSTILE_NOTE_REFERENCE)) in statement and HOSTILE_REFERENCE in statement


def test_pdf_prints_hostile_text_as_text(year_ledger: Ledger):
    text = pdf_text(render(report(year_ledger, "recipient-statement", recipient_id=HOSTILE_ID), "pdf").body)
    assert "<script>alert(1)</script>" in text.replace("\n", "") and "1 000 kr" in text


def test_csv_neutralises_formulas_and_keeps_amounts_numeric(year_ledger: Ledger):
    rows = csv_rows(render(report(year_ledger, "recipient-statement", recipient_id=HOSTILE_ID), "csv").body)
    cells = [c for row in rows for c in row]
    assert "'" + HOSTILE_NAME in cells and "'" + HOSTILE_REFERENCE in cells
    assert HOSTILE_NAME not in cells and HOSTILE_REFERENCE not in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "@") or (c[:1] == "-" and not _number(c))]
    payout = next(row for row in rows if HOSTILE_REFERENCE[1:] in "".join(row))
    assert "1000" in payout  # the amount, in kronor, a plain number


def test_xlsx_neutralises_formulas_and_keeps_amounts_numeric(year_ledger: Ledger):
    book = workbook(render(report(year_ledger, "recipient-statement", recipient_id=HOSTILE_ID), "xlsx").body)
    cells = [c for sheet in book.worksheets for row in sheet.iter_rows() for c in row if c.value is not None]
    assert not [c.coordinate for c in cells if c.data_type == "f"]  # not one formula in the book
    texts = [c.value for c in cells if c.data_type == "s"]
    assert "'" + HOSTILE_NAME in texts and "'" + HOSTILE_REFERENCE in texts
    assert not [t for t in texts if t[:1] in ("=", "+", "-", "@")]
    events = sheet_rows(book["Händelser"])
    payout = next(e for e in events if e["Händelse"] == "Utbetalning")
    assert payout["Belopp"] == 1_000 and isinstance(payout["Belopp"], int)
    findings = report(year_ledger, "findings")
    book = workbook(render(findings, "xlsx").body)
    names = [r["Mottagare"] for r in sheet_rows(book["Iakttagelser"])]
    assert "'" + HOSTILE_NAME in names


def test_neutralise():
    assert [neutralise(t) for t in ("=1+1", "+1", "-1", "@A1", "\tx", "ok", "")] == [
        "'=1+1", "'+1", "'-1", "'@A1", "'\tx", "ok", ""]


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


# --- errors ----------------------------------------------------------------------------------------


def test_a_report_needs_its_subject_and_a_known_name(year_ledger: Ledger):
    with pytest.raises(ReportError, match="unknown report"):
        report(year_ledger, "balance-sheet")
    with pytest.raises(ReportError, match="needs a recipient"):
        build_report(year_ledger, "recipient-statement", Clock.of(AFTER))
    with pytest.raises(ReportError, match="unknown recipient") as unknown:
        report(year_ledger, "recipient-statement", recipient_id="region-atlantis")
    assert unknown.value.status == 404


# --- the API and the command line ----------------------------------------------------------------


@pytest.fixture
def api(year_ledger: Ledger) -> Iterator[tuple[TestClient, dict[str, str]]]:
    store = key_store_for(year_ledger)
    tokens = {role: store.create(f"test {role}", role)[1] for role in ("auditor", "admin", "appender")}
    with TestClient(create_app(year_ledger)) as client:
        yield client, tokens


def test_api_serves_every_format_to_auditors_and_admins(api: tuple[TestClient, dict[str, str]]):
    client, tokens = api
    for role in ("auditor", "admin"):
        for fmt, media in (("html", "text/html"), ("pdf", "application/pdf"), ("csv", "text/csv"),
                           ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")):
            response = client.get(f"/v1/reports/recipient-statement?format={fmt}&recipient_id={REGION}&as_of={AFTER}",
                                  headers={"Authorization": f"Bearer {tokens[role]}"})
            assert response.status_code == 200, response.text
            assert response.headers["content-type"].startswith(media)
            assert f"recipient-statement_{REGION}_{AFTER}.{fmt}" in response.headers["content-disposition"]
            assert len(response.headers["x-head-hash"]) == 64
    xlsx = client.get(f"/v1/reports/due-back?format=xlsx&as_of={AFTER}&lang=en",
                      headers={"Authorization": f"Bearer {tokens['auditor']}"})
    assert workbook(xlsx.content).sheetnames == ["About this report", "Funds due back (återbetalning)"]


def test_api_refuses_what_it_should(api: tuple[TestClient, dict[str, str]]):
    client, tokens = api
    auth = {"Authorization": f"Bearer {tokens['auditor']}"}
    assert client.get("/v1/reports/due-back").status_code == 401
    assert client.get("/v1/reports/due-back", headers={"Authorization": "Bearer lk_nope.nope"}).status_code == 401
    assert client.get("/v1/reports/due-back", headers={"Authorization": f"Bearer {tokens['appender']}"}
                      ).status_code == 403
    assert client.get("/v1/reports/balance-sheet", headers=auth).status_code == 404
    assert client.get("/v1/reports/recipient-statement", headers=auth).status_code == 422
    assert client.get("/v1/reports/due-back?as_of=31/3/2021", headers=auth).status_code == 422
    assert client.get("/v1/reports/due-back?format=docx", headers=auth).status_code == 422
    html = client.get(f"/v1/reports/recipient-statement?recipient_id={HOSTILE_ID}", headers=auth)
    assert "default-src 'none'" in html.headers["content-security-policy"] and "<script>" not in html.text


@pytest.fixture
def cli_ledgers(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    opened: list[Ledger] = []
    real_open = cli.open_ledger

    def tracking_open(url: str | None) -> Ledger:
        opened.append(real_open(url))
        return opened[-1]

    monkeypatch.setattr(cli, "open_ledger", tracking_open)
    yield
    for app in opened:
        app.close()


def test_cli_report_writes_every_format(year_ledger: Ledger, database_url: str, tmp_path: Path, cli_ledgers: None):
    runner = CliRunner()
    for fmt in FORMATS:
        target = tmp_path / f"gotland.{fmt}"
        result = runner.invoke(cli.app, ["report", "recipient-statement", "--recipient", REGION, "--as-of", AFTER,
                                         "--format", fmt, "--lang", "en", "--output", str(target),
                                         "--database-url", database_url])
        assert result.exit_code == 0, result.output
        assert target.stat().st_size > 500
    assert workbook((tmp_path / "gotland.xlsx").read_bytes()).sheetnames[0] == "About this report"
    assert "16 961 298 kr" in pdf_text((tmp_path / "gotland.pdf").read_bytes())
    result = runner.invoke(cli.app, ["report", "due-back", "--as-of", "2021-04-01", "--format", "csv",
                                     "--database-url", database_url])
    assert result.exit_code == 0 and "500000" in result.stdout
    result = runner.invoke(cli.app, ["report", "recipient-statement", "--database-url", database_url])
    assert result.exit_code == 2 and "needs a recipient" in result.output


def test_every_report_carries_the_merkle_digest_it_was_made_from(year_ledger: Ledger, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch):
    from ledger.proofs import root_hash
    from ledger.signing import SigningKey
    from ledger.verifier import verify_digest

    signing = SigningKey.generate()
    signing.save(tmp_path / "key.pem")
    monkeypatch.setenv("LEDGER_SIGNING_KEY", str(tmp_path / "key.pem"))
    built = report(year_ledger, "due-back")
    size, root = root_hash(year_ledger, built.meta.position)
    assert built.meta.digest["tree_size"] == size == year_ledger.head()[0]
    assert built.meta.digest["root_hash"] == root.hex()
    verify_digest(built.meta.digest, signing.public_raw)  # raises if the signature is wrong
    page = render(built, "html").body.decode()
    assert root.hex() in page and built.meta.digest["signature"] in page
