"""Catalogue tests: halso-och-sjukvard-folkhalsa-2021 (seed 000).

Every number is asserted against the seed line it is printed on.
"""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest
import yaml

from ledger.terms import Agreement

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO.parent / "shared" / "domain" / "seeds"
SEED = SEEDS / "000_068383fcdce40681.txt"
CATALOGUE = REPO / "ledger" / "data" / "agreements" / "halso-och-sjukvard-folkhalsa-2021.yaml"


def _norm(text: str) -> str:
    return re.sub(r"[ \t]+", " ", text.replace("\u00a0", " ").replace("\u202f", " "))


@pytest.fixture(scope="module")
def lines() -> list[str]:
    return [_norm(line) for line in SEED.read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def agreement() -> Agreement:
    return Agreement.model_validate(yaml.safe_load(CATALOGUE.read_text(encoding="utf-8")))


def kr(amount: int) -> str:
    """Format as printed: 1 234 567."""
    return f"{amount:,}".replace(",", " ")


def line_range(source: str) -> tuple[int, int]:
    m = re.match(r"^L(\d+)(?:[–-](\d+))?$", source)
    assert m, f"not a single line or range: {source!r}"
    start = int(m.group(1))
    return start, int(m.group(2) or start)


def text_of(lines: list[str], source: str) -> str:
    start, end = line_range(source)
    return " ".join(lines[start - 1 : end])


# ---------------------------------------------------------------- stated totals


def test_loads(agreement: Agreement) -> None:
    assert agreement.agreement_id == "halso-och-sjukvard-folkhalsa-2021"
    assert agreement.year == 2021
    assert len(agreement.parts) == 5
    assert agreement.dnr == []  # no diarienummer printed anywhere


def test_state_total(agreement: Agreement, lines: list[str]) -> None:
    # L1644: "Total – Statens andel av satsningen 397 350 000"; L1702 "Total – Överenskommelsen 397 350 000"
    assert agreement.stated_totals.state_kr == 397_350_000
    assert "397 350 000" in lines[1644 - 1]
    assert "397 350 000" in lines[1702 - 1]
    assert "staten för 397 350 000" in lines[1624 - 1]


def test_co_financing_total(agreement: Agreement, lines: list[str]) -> None:
    # L1642: "Total – Regionernas andel av satsningen 100 000 000"
    assert agreement.stated_totals.co_financing_kr == 100_000_000
    assert "Regionernas andel" in lines[1642 - 1] and "100 000 000" in lines[1642 - 1]
    # L906: "Av dessa bidrar regionerna med 100 000 000 kronor och staten med 86 750 000 kronor."
    assert "regionerna med 100 000 000" in lines[906 - 1]
    cofin = [c for p in agreement.parts for c in p.co_financing]
    assert sum(c.amount_kr for c in cofin) == agreement.stated_totals.co_financing_kr


def test_grand_total(agreement: Agreement, lines: list[str]) -> None:
    # L1646: "Total 497 350 000"; L1622 "Totalt uppgår överenskommelsen för 2021 till 497 350 000 kronor"
    assert agreement.stated_totals.total_kr == 497_350_000
    assert "497 350 000" in lines[1646 - 1]
    assert "497 350 000" in lines[1622 - 1]
    assert agreement.stated_totals.total_kr == (
        agreement.stated_totals.state_kr + agreement.stated_totals.co_financing_kr
    )


PART_TOTALS = {
    # part_id: (amount, line in the §7 table)
    "kap2-sakrare-vard": (5_600_000, 1628),
    "kap3-kvalitetsregister": (86_750_000, 1634),  # 3.2 Statens insats
    "kap4-lakemedel": (5_000_000, 1636),
    "kap5-sallsynta-halsotillstand": (10_000_000, 1638),
    "kap6-psv": (290_000_000, 1640),
}


@pytest.mark.parametrize("part_id", sorted(PART_TOTALS))
def test_part_totals(agreement: Agreement, lines: list[str], part_id: str) -> None:
    amount, line_no = PART_TOTALS[part_id]
    part = agreement.part(part_id)
    assert part is not None
    assert part.stated_total_kr == amount
    assert part.source == f"L{line_no}"
    assert kr(amount) in lines[line_no - 1]


def test_parts_add_up_to_state_total(agreement: Agreement) -> None:
    assert sum(p.stated_total_kr for p in agreement.parts) == agreement.stated_totals.state_kr


def test_kap3_chapter_total_with_co_financing(agreement: Agreement, lines: list[str]) -> None:
    # L1630 "3. Nationella kvalitetsregister 186 750 000"; L902 "gemensamt avsätta 186 750 000 kronor"
    part = agreement.part("kap3-kvalitetsregister")
    assert part.stated_total_kr + sum(c.amount_kr for c in part.co_financing) == 186_750_000
    assert "186 750 000" in lines[1630 - 1]
    assert "186 750 000" in lines[902 - 1]
    # L1632 "3.1 Regionernas insats 100 000 000"
    assert "Regionernas insats 100 000 000" in lines[1632 - 1]


def test_route_totals_from_7_1(agreement: Agreement, lines: list[str]) -> None:
    """§7.1 totals per mottagare: SKR 52 350 000 (L1696), via SKR 70 000 000 (L1698)."""
    rows = [r for p in agreement.parts for r in p.allocation_rows()]
    skr_own = sum(r.amount_kr for r in rows if r.recipient_id == "skr" and r.route.value == "direct")
    via_skr = sum(r.amount_kr for r in rows if r.route.value == "via_skr")
    assert skr_own == 52_350_000 and "Total – SKR 52 350 000" in lines[1696 - 1]
    assert via_skr == 70_000_000 and "70 000 000" in lines[1698 - 1]
    # L1700 "Total - Regionerna via Kammarkollegiet 275 000 000": the two blank PSV tables
    psv = agreement.part("kap6-psv")
    blank = sum(t.blank_amount_kr for t in psv.tables if t.blank)
    assert blank == 275_000_000 and "275 000 000" in lines[1700 - 1]
    assert "275 000 000" in lines[1690 - 1] and "275 000 000" in lines[1555 - 1]
    assert skr_own + via_skr + blank == agreement.stated_totals.state_kr


# ---------------------------------------------------------------- tables


def _tables(agreement: Agreement):
    return [(p, t) for p in agreement.parts for t in p.tables]


def test_table_counts(agreement: Agreement) -> None:
    tables = _tables(agreement)
    assert len(tables) == 7
    assert sum(len(t.rows) for _, t in tables) == 11
    assert all(t.role == "allocation" for _, t in tables)


def test_tables_sum_to_stated_total(agreement: Agreement) -> None:
    listed = {
        (d.table_id, d.difference_kr)
        for d in agreement.known_discrepancies
        if d.difference_kr is not None
    }
    for _, table in _tables(agreement):
        if table.blank:
            assert table.rows == []
            assert table.blank_amount_kr == table.stated_total_kr
            continue
        diff = table.rows_total_kr() - table.stated_total_kr
        assert diff == 0 or (table.table_id, diff) in listed, table.table_id


def test_stated_table_totals_in_seed(agreement: Agreement, lines: list[str]) -> None:
    for _, table in _tables(agreement):
        start, _ = line_range(table.source)
        text = text_of(lines, table.source)
        assert kr(table.stated_total_kr) in text, table.table_id
        assert start >= 1


def test_part_allocations_cover_part_total(agreement: Agreement) -> None:
    """Rows + blank amounts of each part = the part's state total: no krona counted twice."""
    for part in agreement.parts:
        booked = sum(r.amount_kr for r in part.allocation_rows())
        blank = sum(t.blank_amount_kr for t in part.tables if t.blank and t.role == "allocation")
        assert booked + blank == part.stated_total_kr, part.part_id


def test_every_row_against_its_seed_line(agreement: Agreement, lines: list[str]) -> None:
    # All tables have fewer than 5 rows, so every row is checked.
    for _, table in _tables(agreement):
        for row in table.rows:
            start, end = line_range(row.source)
            assert start == end, f"{row.row_id}: cite the single line holding the amount"
            text = lines[start - 1]
            assert text.rstrip().endswith(("SKR", "Regionerna via SKR")), row.row_id
            assert kr(row.amount_kr) in text, row.row_id
            assert row.label.split(" (")[0][:20] in text, row.row_id
            if row.route.value == "via_skr":
                assert text.rstrip().endswith("Regionerna via SKR"), row.row_id
                assert row.recipient_id == "skr" and row.beneficiary
            else:
                assert not text.rstrip().endswith("via SKR"), row.row_id


ROWS = {
    "kap7-1-sakrare-vard-patientsakerhet": (2_000_000, 1656),
    "kap7-1-sakrare-vard-klagomal": (1_100_000, 1658),
    "kap7-1-sakrare-vard-strama": (2_500_000, 1660),
    "kap7-1-kvalitetsregister-stodfunktionen": (25_750_000, 1663),
    "kap7-1-kvalitetsregister-grundanslag-rco": (54_000_000, 1665),
    "kap7-1-kvalitetsregister-grundanslag-rco-psykiatri": (7_000_000, 1667),
    "kap7-1-lakemedel-skr": (5_000_000, 1671),
    "kap7-1-sallsynta-csd": (6_000_000, 1677),
    "kap7-1-sallsynta-samordning-regioner": (3_000_000, 1679),
    "kap7-1-sallsynta-samordning-skr": (1_000_000, 1681),
    "kap7-1-psv-skr": (15_000_000, 1692),
}


def test_rows_explicit(agreement: Agreement, lines: list[str]) -> None:
    rows = {r.row_id: r for p in agreement.parts for t in p.tables for r in t.rows}
    assert set(rows) == set(ROWS)
    for row_id, (amount, line_no) in ROWS.items():
        assert rows[row_id].amount_kr == amount
        assert rows[row_id].source == f"L{line_no}"
        assert kr(amount) in lines[line_no - 1]


def test_blank_psv_tables(agreement: Agreement, lines: list[str]) -> None:
    psv = agreement.part("kap6-psv")
    tables = {t.table_id: t for t in psv.tables}
    # L1557 "medel ska 60 000 000 kronor gå till ..."; L1561–1563 "lika belopp ... sex samverkansregionerna"
    t60 = tables["kap6-psv-samverkansregioner"]
    assert t60.blank and t60.blank_amount_kr == 60_000_000 and t60.source == "L1557–1563"
    assert "60 000 000" in lines[1557 - 1]
    assert "sex" in lines[1561 - 1] and "samverkansregionerna" in lines[1563 - 1]
    # L1565 "Resterande 215 000 000 kronor"; L1571 "baserat på befolkningsunderlaget"
    t215 = tables["kap6-psv-befolkning"]
    assert t215.blank and t215.blank_amount_kr == 215_000_000 and t215.source == "L1565–1571"
    assert "215 000 000" in lines[1565 - 1]
    assert "befolkningsunderlaget" in lines[1571 - 1]
    # L1573 "SKR tilldelas 15 000 000 kronor"
    assert "SKR tilldelas 15 000 000" in lines[1573 - 1]
    gap_sources = {g.source for g in agreement.gaps}
    assert {"L1557–1563", "L1565–1571"} <= gap_sources


def test_recipient_ids_known(agreement: Agreement) -> None:
    known = set(
        r["recipient_id"]
        for r in yaml.safe_load((REPO / "ledger/data/recipients.yaml").read_text(encoding="utf-8"))[
            "recipients"
        ]
    )
    assert agreement.recipient_ids() <= known
    for part in agreement.parts:
        t = part.terms
        assert t.requisition.receiver in known and t.repayment.receiver in known
        for report in t.reports:
            assert set(report.receivers) <= known


# ---------------------------------------------------------------- outside, appropriations


def test_outside_agreement(agreement: Agreement, lines: list[str]) -> None:
    outside = {o.amount_kr: o for o in agreement.outside_agreement}
    # L922: "Utöver detta, utanför överenskommelsen avsätter staten 3 000 000 kronor till Socialstyrelsen"
    assert outside[3_000_000].source == "L922–924"
    assert "utanför överenskommelsen" in lines[922 - 1] and "3 000 000" in lines[922 - 1]
    # L1549: "Av dessa medel används 10 000 000 kronor för statlig" (uppföljning, L1551)
    assert "10 000 000" in lines[1549 - 1] and "uppföljning" in lines[1551 - 1]
    assert outside[10_000_000].source == "L1547–1551"
    # 300 000 000 − 10 000 000 = 290 000 000 (chapter 6)
    assert "300 000 000" in lines[1549 - 1]
    assert 300_000_000 - 10_000_000 == agreement.part("kap6-psv").stated_total_kr


def test_appropriations(agreement: Agreement, lines: list[str]) -> None:
    for part in agreement.parts:
        tied = [a.amount_kr for a in part.appropriations if a.amount_kr is not None]
        if part.part_id == "kap6-psv":
            assert tied == []  # ap 40, no amount in §8
            assert "anslagsposten 40 Jämlik sjukvård" in text_of(lines, "L1778–1784")
            continue
        assert sum(tied) == part.stated_total_kr, part.part_id
        for a in part.appropriations:
            start, _ = line_range(a.source)
            assert kr(a.amount_kr) in lines[start - 1], a.source
            assert f"anslagspost {a.anslagspost} " in text_of(lines, a.source) + " "


# ---------------------------------------------------------------- terms


def test_requisition_deadline(agreement: Agreement, lines: list[str]) -> None:
    # L1788: "Rekvirering av medel ska ske senast den 1 december 2021. Rätten till" (bidrag förfaller L1790)
    assert "senast den 1 december 2021" in lines[1788 - 1]
    assert "förfaller" in lines[1790 - 1]
    # L1786: "utbetalas engångsvis efter rekvisition"
    assert "engångsvis efter rekvisition" in lines[1786 - 1]
    for part in agreement.parts:
        req = part.terms.requisition
        assert req.required and req.deadline == dt.date(2021, 12, 1)
        assert req.consequence.value == "lapse" and req.source == "L1786–1790"
        assert part.terms.lump_sum


def test_repayment_deadline(agreement: Agreement, lines: list[str]) -> None:
    # L1798–1800: "... ska återbetalas till Kammarkollegiet senast / den 31 mars 2022."
    assert "återbetalas till Kammarkollegiet senast" in lines[1798 - 1]
    assert "den 31 mars 2022" in lines[1800 - 1]
    for part in agreement.parts:
        rep = part.terms.repayment
        assert rep.required and rep.deadline == dt.date(2022, 3, 31) and rep.receiver == "kammarkollegiet"


def test_reclaim(agreement: Agreement, lines: list[str]) -> None:
    # L1811–1813: "Om redovisning inte inkommer i tid kan regeringen återkräva stödet."
    assert "Om redovisning inte inkommer i tid kan" in lines[1811 - 1]
    assert "regeringen återkräva stödet" in lines[1813 - 1]
    for part in agreement.parts:
        rc = part.terms.reclaim
        assert rc.exists and [t.value for t in rc.triggers] == ["report_late_or_missing"]
        assert rc.text == "Om redovisning inte inkommer i tid kan regeringen återkräva stödet."


# (part, kind, deadline, line holding the deadline)
REPORTS = [
    ("kap2-sakrare-vard", "slutrapport", dt.date(2022, 3, 31), 409),
    ("kap3-kvalitetsregister", "slutrapport", dt.date(2022, 3, 31), 950),
    ("kap4-lakemedel", "slutrapport", dt.date(2022, 3, 31), 1096),
    ("kap5-sallsynta-halsotillstand", "delrapport", dt.date(2021, 9, 30), 1224),
    ("kap5-sallsynta-halsotillstand", "slutrapport", dt.date(2022, 3, 31), 1234),
    ("kap6-psv", "delrapport", dt.date(2021, 9, 30), 1591),
    ("kap6-psv", "verksamhetsrapport", dt.date(2022, 3, 15), 1604),
]
MONTHS = {3: "mars", 9: "september", 12: "december"}


@pytest.mark.parametrize("part_id,kind,deadline,line_no", REPORTS)
def test_report_deadlines(
    agreement: Agreement, lines: list[str], part_id: str, kind: str, deadline: dt.date, line_no: int
) -> None:
    part = agreement.part(part_id)
    matches = [r for r in part.terms.reports if r.kind.value == kind]
    assert len(matches) == 1
    report = matches[0]
    assert report.deadline == deadline
    assert report.receivers == ["regeringskansliet"] and report.owed_by == "skr"
    start, end = line_range(report.source)
    assert start <= line_no <= end
    assert f"{deadline.day} {MONTHS[deadline.month]} {deadline.year}" in lines[line_no - 1]


def test_expense_report_every_part(agreement: Agreement, lines: list[str]) -> None:
    # L1802–1804: "En ekonomisk redovisning för kalenderåret ... lämnas till Kammarkollegiet senast den 31 mars 2022."
    assert "ekonomisk redovisning för kalenderåret" in lines[1802 - 1]
    assert "Kammarkollegiet senast den 31 mars 2022" in lines[1804 - 1]
    for part in agreement.parts:
        exp = [r for r in part.terms.reports if r.kind.value == "ekonomisk_redovisning"]
        assert len(exp) == 1
        assert exp[0].deadline == dt.date(2022, 3, 31)
        assert exp[0].receivers == ["kammarkollegiet"]
        assert exp[0].period_start == dt.date(2021, 1, 1) and exp[0].period_end == dt.date(2021, 12, 31)
        assert exp[0].consequence.value == "reclaim_possible"


def test_payment_decisions(agreement: Agreement, lines: list[str]) -> None:
    kinds = {p.part_id: p.terms.payment_decision.kind for p in agreement.parts}
    assert kinds.pop("kap6-psv") == "regeringsbeslut"
    assert set(kinds.values()) == {"regleringsbrev"}
    assert "särskilt" in lines[1778 - 1] and "regeringsbeslut" in lines[1780 - 1]


def test_signatures_and_dnr_terms(agreement: Agreement, lines: list[str]) -> None:
    # L1843: "Stockholm den 21 december 2020 Stockholm den 18 december 2020" (left column: the state)
    assert "21 december 2020" in lines[1843 - 1] and "18 december 2020" in lines[1843 - 1]
    sig = {s.party: s.date for s in agreement.signatures}
    assert sig == {"regeringen": dt.date(2020, 12, 21), "skr": dt.date(2020, 12, 18)}
    # L1815–1817 both dnr; L1819–1823 original signature
    assert "diarienummer" in lines[1815 - 1]
    assert "undertecknade i original" in lines[1821 - 1]
    for part in agreement.parts:
        assert part.terms.both_dnr_required and part.terms.signature_in_original
        assert part.terms.deadline_policy.value == "strict"
    gov = [d for d in agreement.decisions if d.body == "government"]
    assert len(gov) == 1 and gov[0].date is None and gov[0].dnr is None


def test_known_discrepancies_cite_real_text(agreement: Agreement, lines: list[str]) -> None:
    ids = {d.discrepancy_id for d in agreement.known_discrepancies}
    assert "d2-psv-budget-year" in ids
    # D1: "sju ledamöter" vs 3 + 4 + 1
    assert "sju ledamöter" in lines[681 - 1]
    assert "(tre)" in lines[683 - 1] and "(fyra)" in lines[683 - 1] and "(en)" in lines[683 - 1]
    # D2: "300 000 000 kronor för 2020"
    assert "300 000 000 kronor för 2020" in lines[1549 - 1]
    # no arithmetic discrepancy in this document
    assert all(d.difference_kr is None for d in agreement.known_discrepancies)
