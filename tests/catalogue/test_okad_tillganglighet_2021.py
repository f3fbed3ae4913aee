"""Catalogue checks for okad-tillganglighet-2021 against seed 002 (kömiljarden 2021)."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from ledger.recipients import seed_register
from ledger.terms import Agreement

REPO = Path(__file__).resolve().parents[2]
CATALOGUE = REPO / "ledger" / "data" / "agreements" / "okad-tillganglighet-2021.yaml"
SEEDS = REPO.parent / "shared" / "domain" / "seeds"
SEED_FILE = "002_adf4a416005f2511.txt"


def _norm(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


@pytest.fixture(scope="module")
def agreement() -> Agreement:
    return Agreement.model_validate(yaml.safe_load(CATALOGUE.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def seed_lines() -> list[str]:
    path = SEEDS / SEED_FILE
    if not path.exists():
        pytest.fail(f"seed not found at {path}: the suite needs ../shared beside the repository")
    return [_norm(line) for line in path.read_text(encoding="utf-8").splitlines()]


def line(seed_lines: list[str], n: int) -> str:
    """Line n (1-based, as `sed -n 'np'` shows it)."""
    return seed_lines[n - 1]


def lines(seed_lines: list[str], first: int, last: int) -> str:
    return " ".join(seed_lines[first - 1 : last])


def kr(amount: int) -> str:
    """1234567 -> '1 234 567' as amounts are printed."""
    return f"{amount:,}".replace(",", " ")


def first_line(source: str) -> int:
    match = re.match(r"L(\d+)", source)
    assert match, f"source {source!r} does not start with a line reference"
    return int(match.group(1))


def test_seed_file_and_ids(agreement: Agreement) -> None:
    assert agreement.agreement_id == "okad-tillganglighet-2021"
    assert agreement.seed_file == SEED_FILE
    assert agreement.year == 2021
    assert [p.part_id for p in agreement.parts] == ["block-1", "block-2", "skr"]


def test_recipient_ids_exist(agreement: Agreement) -> None:
    known = {r.recipient_id for r in seed_register()}
    assert agreement.recipient_ids() <= known
    for part in agreement.parts:
        for report in part.terms.reports:
            assert set(report.receivers) <= known
        for cond in part.terms.performance_conditions:
            assert set(cond.receivers) <= known
        assert part.terms.requisition.receiver in known
        assert part.terms.repayment.receiver in known


# ---------------------------------------------------------------- stated totals


def test_agreement_total(agreement: Agreement, seed_lines: list[str]) -> None:
    # L949: "Totalt för överenskommelsen 2 967 000 000"
    assert agreement.stated_totals.state_kr == 2_967_000_000
    assert agreement.stated_totals.co_financing_kr == 0
    assert agreement.stated_totals.total_kr == 2_967_000_000
    assert agreement.stated_totals.source == "L949"
    assert "Totalt för överenskommelsen 2 967 000 000" in line(seed_lines, 949)
    # L37 and L480: "Överenskommelsen omfattar 2 967 miljoner kronor."; L518 (Figure 1)
    for n in (37, 480, 518):
        assert "2 967 miljoner kronor" in line(seed_lines, n)


def test_block_totals(agreement: Agreement, seed_lines: list[str]) -> None:
    # L483: "Medel inom block 1, 1 478,5 miljoner kronor"
    b1 = agreement.part("block-1")
    assert b1.stated_total_kr == 1_478_500_000 and b1.source == "L483"
    assert "block 1, 1 478,5 miljoner kronor" in line(seed_lines, 483)
    # L486: "Medel inom block 2, 1 478,5 miljoner kronor"
    b2 = agreement.part("block-2")
    assert b2.stated_total_kr == 1_478_500_000 and b2.source == "L486"
    assert "block 2, 1 478,5 miljoner kronor" in line(seed_lines, 486)
    # L590: "Medlen i block 2 uppgår till totalt 1 478,5 miljoner kronor."
    assert "1 478,5 miljoner kronor" in line(seed_lines, 590)
    # L931: Bilaga 1 "Medel till regionerna ... Totalt 2 957 000 000" = block 1 + block 2
    assert "Totalt 2 957 000 000" in line(seed_lines, 931)
    assert b1.stated_total_kr + b2.stated_total_kr == 2_957_000_000


def test_skr_total(agreement: Agreement, seed_lines: list[str]) -> None:
    # L943: Bilaga 1 "Medel till SKR ... Totalt 10 000 000"
    skr = agreement.part("skr")
    assert skr.stated_total_kr == 10_000_000 and skr.source == "L943"
    assert "Totalt 10 000 000" in line(seed_lines, 943)
    # L495: "Därutöver fördelas 10 miljoner kronor till SKR"; L730: "SKR tilldelas 10 miljoner kronor"
    assert "10 miljoner kronor till SKR" in line(seed_lines, 495)
    assert "SKR tilldelas 10 miljoner kronor" in line(seed_lines, 730)


def test_parts_add_up_to_state_total(agreement: Agreement) -> None:
    assert sum(p.stated_total_kr for p in agreement.parts) == agreement.stated_totals.state_kr


def test_earmarks(agreement: Agreement, seed_lines: list[str]) -> None:
    # L531: "Av dessa fördelas 190 miljoner" (block 1, Figure 1)
    (e1,) = agreement.part("block-1").earmarks
    assert e1.amount_kr == 190_000_000 and e1.source == "L531–533"
    assert "190 miljoner" in line(seed_lines, 531)
    # L600: "Av de totala medlen i block 2 fördelas 190 miljoner kronor" (also L547 öronmärks)
    (e2,) = agreement.part("block-2").earmarks
    assert e2.amount_kr == 190_000_000 and e2.source == "L600–601"
    assert "block 2 fördelas 190 miljoner kronor" in line(seed_lines, 600)
    assert "öronmärks 190 miljoner" in line(seed_lines, 547)


# ---------------------------------------------------------------- tables


def test_tables_sum_or_discrepancy(agreement: Agreement) -> None:
    listed = {(d.table_id, d.difference_kr) for d in agreement.known_discrepancies if d.table_id}
    for part in agreement.parts:
        for table in part.tables:
            if table.blank:
                assert table.rows == []
                assert table.rows_total_kr() + table.blank_amount_kr == table.stated_total_kr
                continue
            diff = table.rows_total_kr() - table.stated_total_kr
            assert diff == 0 or (table.table_id, diff) in listed, table.table_id


def test_blank_region_tables(agreement: Agreement, seed_lines: list[str]) -> None:
    for part_id in ("block-1", "block-2"):
        (table,) = agreement.part(part_id).tables
        assert table.blank and table.role == "allocation"
        assert table.blank_amount_kr == 1_478_500_000 == agreement.part(part_id).stated_total_kr
        assert table.source == "L922–931"
    # L922 heading, L923–930 carry no amount, L931 the total
    assert "Medel till regionerna" in line(seed_lines, 922)
    assert not re.search(r"\d", lines(seed_lines, 923, 930))
    gaps = " ".join(g.description for g in agreement.gaps)
    assert "Bilaga 1 per-region rows" in gaps


def test_skr_table_rows(agreement: Agreement, seed_lines: list[str]) -> None:
    (table,) = agreement.part("skr").tables
    assert table.role == "allocation" and not table.blank
    assert table.stated_total_kr == 10_000_000
    (row,) = table.rows
    assert (row.recipient_id, row.route.value, row.amount_kr) == ("skr", "direct", 10_000_000)
    assert kr(row.amount_kr) in line(seed_lines, first_line(row.source))


def test_every_row_amount_on_its_line(agreement: Agreement, seed_lines: list[str]) -> None:
    for part in agreement.parts:
        for table in part.tables:
            for row in table.rows:
                assert kr(row.amount_kr) in line(seed_lines, first_line(row.source)), row.row_id


def test_no_krona_counted_twice(agreement: Agreement) -> None:
    entitled = sum(r.amount_kr for p in agreement.parts for r in p.allocation_rows())
    unallocated = sum(
        t.blank_amount_kr for p in agreement.parts for t in p.tables if t.blank and t.role == "allocation"
    )
    assert entitled + unallocated == agreement.stated_totals.state_kr


# ---------------------------------------------------------------- terms


def test_block_terms_no_requisition(agreement: Agreement, seed_lines: list[str]) -> None:
    # L881–883: payment to the regions by särskilda regeringsbeslut to Kammarkollegiet
    assert "särskilda regeringsbeslut" in line(seed_lines, 882)
    for part_id in ("block-1", "block-2"):
        terms = agreement.part(part_id).terms
        assert terms.requisition.required is False
        assert terms.requisition.deadline is None
        assert terms.payment_decision.kind == "regeringsbeslut"
        assert terms.repayment.required is False
        assert terms.reclaim.exists is False
        assert terms.lump_sum is False


def test_action_plan_tranche(agreement: Agreement, seed_lines: list[str]) -> None:
    conds = {c.condition_id: c for c in agreement.part("block-2").terms.performance_conditions}
    tb = conds["block-2-tranche-b-handlingsplan"]
    assert tb.requires == "report_received_by_all"
    assert tb.report_kind.value == "handlingsplan"
    assert tb.receivers == ["skr", "regeringskansliet"]
    assert tb.deadline == dt.date(2021, 3, 31)
    assert tb.consequence.value == "forfeit"
    assert tb.amount_kr is None
    assert tb.approximate_amount_text == "Ca 739 miljoner kronor"
    # L595: "Ca 739 miljoner kronor av medlen i block 2 avsätts för ... handlingsplaner"
    assert "Ca 739 miljoner kronor" in line(seed_lines, 595)
    # L675–678: "SKR och Regeringskansliet ... tillhanda senast den 31 mars 2021 ... inte ... ta del"
    text = lines(seed_lines, 675, 678)
    assert "SKR och Regeringskansliet" in text
    assert "tillhanda senast den 31 mars 2021" in text
    assert "inte att kunna ta del av de medel" in text
    assert tb.source == "L675–678"

    ta = conds["block-2-tranche-a-befolkning"]
    assert ta.amount_kr is None and ta.approximate_amount_text == "Ca 739 miljoner"
    # L592: "Ca 739 miljoner fördelas till regionerna utifrån befolkningsmängd"
    assert "Ca 739 miljoner fördelas till regionerna utifrån befolkningsmängd" in line(seed_lines, 592)

    vr = conds["block-2-vantetidsrapportering"]
    assert vr.consequence.value == "next_year_eligibility"
    # L726–727: "... inte att kunna ta del av de medel som avses avsättas för 2022."
    assert "avses avsättas för 2022" in line(seed_lines, 727)


def test_block_1_conditions(agreement: Agreement, seed_lines: list[str]) -> None:
    conds = {c.condition_id: c for c in agreement.part("block-1").terms.performance_conditions}
    assert conds["block-1-prestationskrav"].amount_kr == 1_478_500_000
    assert conds["block-1-prestationskrav"].requires == "performance_measured"
    assert conds["block-1-bup"].amount_kr == 190_000_000
    # L33–35: requirements fixed by tilläggsöverenskommelse senast 1 juni 2021, from 1 juli 2021
    text = lines(seed_lines, 33, 35)
    assert "tilläggsöverenskommelse senast 1 juni 2021" in text
    assert "den 1 juli 2021" in text


def test_region_reports(agreement: Agreement, seed_lines: list[str]) -> None:
    reports = {r.kind.value: r for r in agreement.part("block-2").terms.reports}
    plan = reports["handlingsplan"]
    assert plan.deadline == dt.date(2021, 3, 31) and plan.receivers == ["skr", "regeringskansliet"]
    assert plan.consequence.value == "forfeit"
    assert "senast den 31 mars 2021" in line(seed_lines, 676)
    status = reports["nulagesrapport"]
    assert status.deadline == dt.date(2021, 10, 15) and status.receivers == ["skr", "regeringskansliet"]
    assert status.consequence.value == "none_stated"
    # L687–688: "Nulägesrapporten ska vara SKR och Regeringskansliet ... tillhanda senast den 15 oktober 2021."
    assert "Nulägesrapporten ska vara SKR och Regeringskansliet" in line(seed_lines, 687)
    assert "senast den 15 oktober 2021" in line(seed_lines, 688)


def test_skr_requisition(agreement: Agreement, seed_lines: list[str]) -> None:
    terms = agreement.part("skr").terms
    req = terms.requisition
    assert req.required is True
    assert req.deadline == dt.date(2021, 12, 1)
    assert req.receiver == "kammarkollegiet" and req.consequence.value == "lapse"
    assert terms.lump_sum is True
    # L889: "Medel till SKR utbetalas engångsvis efter rekvisition ställd till Kammar-"
    assert "engångsvis efter rekvisition" in line(seed_lines, 889)
    # L892–894: "Rekvirering av medel ska ske senast den 1 december 2021. Rätten till bidrag förfaller"
    text = lines(seed_lines, 892, 894)
    assert "senast den 1 december 2021" in text
    assert "Rätten till bidrag förfaller" in text


def test_skr_reports(agreement: Agreement, seed_lines: list[str]) -> None:
    reports = {r.kind.value: r for r in agreement.part("skr").terms.reports}
    # L863–864: delrapport to Regeringskansliet senast den 30 september 2021
    d = reports["delrapport"]
    assert d.deadline == dt.date(2021, 9, 30) and d.receivers == ["regeringskansliet"]
    assert (d.period_start, d.period_end) == (dt.date(2021, 1, 1), dt.date(2021, 6, 30))
    assert "delrapport till Regeringskansliet" in line(seed_lines, 863)
    assert "senast den 30 september 2021" in line(seed_lines, 864)
    assert "första halvåret 2021" in line(seed_lines, 865)
    # L871–872: verksamhetsrapport till regeringen senast den 31 mars 2022
    v = reports["verksamhetsrapport"]
    assert v.deadline == dt.date(2022, 3, 31) and v.receivers == ["regeringskansliet"]
    assert "verksamhetsrapport till regeringen" in line(seed_lines, 871)
    assert "senast den 31 mars 2022" in line(seed_lines, 872)
    # L897–899: ekonomisk redovisning to Kammarkollegiet senast den 31 mars 2022
    e = reports["ekonomisk_redovisning"]
    assert e.deadline == dt.date(2022, 3, 31) and e.receivers == ["kammarkollegiet"]
    assert "ekonomisk redovisning för kalenderåret" in line(seed_lines, 897)
    assert "Kammarkollegiet senast den 31" in line(seed_lines, 898)
    assert "mars 2022" in line(seed_lines, 899)
    for r in reports.values():
        assert r.owed_by == "skr"


def test_skr_repayment_and_formalities(agreement: Agreement, seed_lines: list[str]) -> None:
    terms = agreement.part("skr").terms
    assert terms.repayment.required is True
    assert terms.repayment.deadline == dt.date(2022, 3, 31)
    assert terms.repayment.receiver == "kammarkollegiet"
    # L896–897: "Medel som SKR inte har utnyttjat ska återbetalas till Kammarkollegiet senast den 31 mars 2022."
    assert "återbetalas till Kammarkollegiet senast" in line(seed_lines, 896)
    assert "den 31 mars 2022" in line(seed_lines, 897)
    assert terms.signature_in_original is True and terms.both_dnr_required is True
    # L901–902: "... ska vara undertecknade i original av behörig företrädare för SKR."
    assert "undertecknade i original" in line(seed_lines, 902)
    assert terms.reclaim.exists is False


def test_appropriations(agreement: Agreement, seed_lines: list[str]) -> None:
    for part in agreement.parts:
        (app,) = part.appropriations
        assert (app.utgiftsomrade, app.anslag, app.anslagspost) == (9, "1:11", "1")
    assert "anslag 1:11 Prestationsbundna insatser" in line(seed_lines, 884)
    assert "anslagspost 1 Insatser för att korta vårdköerna" in line(seed_lines, 885)


def test_decisions_and_signatures(agreement: Agreement, seed_lines: list[str]) -> None:
    board = next(d for d in agreement.decisions if d.body == "skr_board")
    assert board.date == dt.date(2020, 12, 18)
    assert "sammanträde den 18" in line(seed_lines, 2) and "december 2020" in line(seed_lines, 3)
    gov = next(d for d in agreement.decisions if d.body == "government")
    assert gov.date is None and gov.dnr is None
    sigs = {s.party: s for s in agreement.signatures}
    assert sigs["regeringen"].date == dt.date(2020, 12, 21)
    assert sigs["skr"].date is None
    assert "Stockholm den 21 december 2020" in line(seed_lines, 912)
    assert "Stockholm den X december 2020" in line(seed_lines, 912)
    assert agreement.dnr == []


def test_known_discrepancies(agreement: Agreement, seed_lines: list[str]) -> None:
    ids = {d.discrepancy_id: d for d in agreement.known_discrepancies}
    ca = ids["block-2-tranches-ca-739"]
    assert ca.difference_kr == 2 * 739_000_000 - 1_478_500_000 == -500_000
    assert "ca 739 miljoner" in line(seed_lines, 488) and "ca 739 miljoner" in line(seed_lines, 491)
    assert "till SKL" in line(seed_lines, 51)
    assert "strategiskt utvecklingsarbete" in line(seed_lines, 536)
    assert "strategiskt tillgänglighetsarbete" in line(seed_lines, 585)


def test_every_source_is_a_line_reference_or_not_stated(agreement: Agreement, seed_lines: list[str]) -> None:
    def check(source: str) -> None:
        if source.startswith("not stated"):
            return
        match = re.fullmatch(r"L(\d+)(?:–(\d+))?", source)
        assert match, source
        first, last = int(match.group(1)), int(match.group(2) or match.group(1))
        assert 1 <= first <= last <= len(seed_lines), source

    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("source", "deadline_policy_source") and isinstance(value, str):
                    check(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
