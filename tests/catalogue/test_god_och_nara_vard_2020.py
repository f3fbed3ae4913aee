"""Catalogue checks for god-och-nara-vard-2020 (seed 003_ad7235b973aab0e1.txt).

Every figure is checked against the printed seed line it cites, never recomputed from a key.
"""

from __future__ import annotations

import datetime as dt
import re
from functools import lru_cache
from pathlib import Path

import pytest
import yaml

from ledger.terms import Agreement

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO.parent / "shared" / "domain" / "seeds"
SEED_FILE = "003_ad7235b973aab0e1.txt"
CATALOGUE = REPO / "ledger" / "data" / "agreements" / "god-och-nara-vard-2020.yaml"
RECIPIENTS = REPO / "ledger" / "data" / "recipients.yaml"


def _norm(text: str) -> str:
    return text.replace("\u00a0", " ").replace("\u202f", " ")


@lru_cache(maxsize=1)
def seed_lines() -> list[str]:
    path = SEEDS / SEED_FILE
    if not path.exists():
        pytest.fail(f"seed not found at {path}: the suite needs ../shared beside the repository")
    return [""] + [_norm(line) for line in path.read_text(encoding="utf-8").split("\n")]


def line(n: int) -> str:
    return seed_lines()[n]


def kr(amount: int) -> str:
    """1234567 -> '1 234 567', as the seed prints amounts."""
    return f"{amount:,}".replace(",", " ")


def cells(n: int) -> list[str]:
    return [re.sub(r"</?b>", "", c).strip() for c in line(n).split("\t")]


def first_line(source: str) -> int:
    match = re.match(r"L(\d+)", source)
    assert match, source
    return int(match.group(1))


@lru_cache(maxsize=1)
def agreement() -> Agreement:
    return Agreement.model_validate(yaml.safe_load(CATALOGUE.read_text(encoding="utf-8")))


def table(table_id: str):
    for part in agreement().parts:
        for t in part.tables:
            if t.table_id == table_id:
                return part, t
    raise KeyError(table_id)


# --- stated totals ----------------------------------------------------------------------------


def test_agreement_total():
    a = agreement()
    assert a.stated_totals.state_kr == 6_250_500_000
    assert a.stated_totals.total_kr == 6_250_500_000
    assert a.stated_totals.co_financing_kr == 0
    # L652: "Total – Överenskommelsen  6 250 500 000"
    assert "6 250 500 000" in line(652)
    # L156 / L676: "totalt 6 250,5 miljoner kronor"
    assert "6 250,5 miljoner kronor" in line(156)
    assert "6 250,5 miljoner kronor" in line(676)


@pytest.mark.parametrize(
    "part_id, amount, n",
    [
        ("nara-vard", 2_935_000_000, 641),  # L641 §8 row 3
        ("barnhalsovard", 114_500_000, 642),  # L642 §8 row 4
        ("medarbetare-regioner", 1_819_000_000, 643),  # L643 §8 row 5.4–5.5, Regionerna
        ("medarbetare-kommuner", 500_000_000, 643),  # L643 §8 row 5.4–5.5, Kommunerna via RSS
        ("vidareutbildning-sjukskoterskor", 500_000_000, 644),  # L644 §8 row 5.6
        ("karriartjanster", 100_000_000, 645),  # L645 §8 row 5.7
        ("skr-stod", 52_000_000, 651),  # L651 §8 Medel till SKR
    ],
)
def test_part_totals_printed_in_section_8(part_id, amount, n):
    part = agreement().part(part_id)
    assert part is not None
    assert part.stated_total_kr == amount
    assert first_line(part.source) == n
    assert kr(amount) in line(n)


def test_e_halsa_total_and_earmarks():
    part = agreement().part("e-halsa")
    assert part.stated_total_kr == 230_000_000
    # L561: "För utvecklingsområdet avsätts 230 miljoner kronor 2020 varav:"
    assert "230 miljoner kronor" in line(561)
    # L649 / L650: 6.1 1177 130 000 000 and 6.2–6.3 100 000 000
    earmarks = {first_line(e.source): e.amount_kr for e in part.earmarks}
    assert earmarks == {649: 130_000_000, 650: 100_000_000}
    assert "130 000 000" in line(649) and "SKR" in line(649)
    assert "100 000 000" in line(650)
    assert sum(earmarks.values()) == part.stated_total_kr


def test_aggregates_printed_in_text():
    a = agreement()
    regions = sum(
        r.amount_kr for p in a.parts for r in p.allocation_rows() if r.recipient_id.startswith("region-")
    )
    # L676: "5 698,5 miljoner kronor är avsedda som stimulansmedel till regionerna"
    assert regions == 5_698_500_000
    assert "5 698,5 miljoner kronor" in line(676)
    # L767: Bilaga 1 Summa Totalt (kr) 5 698 500 000
    assert cells(767)[9] == "5 698 500 000"
    # L175 / L411: area 5 "totalt 2 919 miljoner kronor" = 1 819 + 500 + 500 + 100
    area5 = sum(
        a.part(p).stated_total_kr
        for p in ("medarbetare-regioner", "medarbetare-kommuner", "vidareutbildning-sjukskoterskor", "karriartjanster")
    )
    assert area5 == 2_919_000_000
    assert "2 919 miljoner kronor" in line(411)


def test_parts_add_up_to_agreement_total():
    a = agreement()
    assert sum(p.stated_total_kr for p in a.parts) == a.stated_totals.state_kr


def test_allocation_rows_total_matches_state_total_minus_listed_discrepancies():
    a = agreement()
    rows = sum(r.amount_kr for p in a.parts for r in p.allocation_rows())
    listed = sum(d.difference_kr or 0 for d in a.known_discrepancies)
    assert rows == a.stated_totals.state_kr + listed == 6_250_499_999


# --- tables -------------------------------------------------------------------------------------


def test_every_table_sums_or_discrepancy_is_listed():
    a = agreement()
    listed = {(d.table_id, d.difference_kr) for d in a.known_discrepancies if d.difference_kr is not None}
    for part in a.parts:
        for t in part.tables:
            diff = t.rows_total_kr() - t.stated_total_kr
            assert diff == 0 or (t.table_id, diff) in listed, (t.table_id, diff)


def test_bilaga2_discrepancy_is_minus_one():
    a = agreement()
    _, t = table("bilaga2-kommuner")
    assert t.stated_total_kr == 500_000_000
    assert t.rows_total_kr() == 499_999_999
    d = next(d for d in a.known_discrepancies if d.discrepancy_id == "bilaga2-sum-minus-1")
    assert d.difference_kr == -1 and d.table_id == "bilaga2-kommuner"
    # L794: Summa ... 500 000 000
    assert cells(794)[5] == "500 000 000"


BILAGA1_COLUMNS = {
    "bilaga1-nara-vard": 2,
    "bilaga1-generell-resursforstarkning": 3,
    "bilaga1-barnhalsovard": 4,
    "bilaga1-vardens-medarbetare": 5,
    "bilaga1-e-halsa": 6,
    "bilaga1-sjukskoterskor-vidareutbildning": 7,
    "bilaga1-karriartjanster": 8,
}


@pytest.mark.parametrize("table_id, column", sorted(BILAGA1_COLUMNS.items()))
def test_bilaga1_columns_against_seed(table_id, column):
    part, t = table(table_id)
    assert t.role == "allocation"
    assert len(t.rows) == 21
    # L767: the Summa row prints each column total
    assert cells(767)[column] == kr(t.stated_total_kr)
    for row in t.rows:  # every row, each against its own cited line
        n = first_line(row.source)
        assert 746 <= n <= 766
        c = cells(n)
        assert c[0] == row.label
        assert c[column] == kr(row.amount_kr), (row.row_id, c[column])
        assert row.route.value == "direct"
        assert row.recipient_id.startswith("region-")
    assert len({r.recipient_id for r in t.rows}) == 21


def test_bilaga1_population_column_is_not_money():
    ids = {t.table_id for p in agreement().parts for t in p.tables}
    assert not any("befolkning" in i or "population" in i for i in ids)
    # L767 population total 10 319 473 is not any table's stated total
    assert cells(767)[1] == "10 319 473"
    assert all(t.stated_total_kr != 10_319_473 for p in agreement().parts for t in p.tables)


def test_bilaga1_row_totals_match_printed_totalt():
    by_line: dict[int, int] = {}
    for table_id in BILAGA1_COLUMNS:
        for row in table(table_id)[1].rows:
            n = first_line(row.source)
            by_line[n] = by_line.get(n, 0) + row.amount_kr
    assert len(by_line) == 21
    for n, total in by_line.items():
        assert cells(n)[9] == kr(total), n


def test_bilaga2_rows_against_seed():
    _, t = table("bilaga2-kommuner")
    assert len(t.rows) == 21
    for row in t.rows:
        n = first_line(row.source)
        assert 773 <= n <= 793
        c = cells(n)
        assert c[0] == row.label
        assert c[5] == kr(row.amount_kr)
        assert row.route.value == "via_rss"
        assert row.recipient_id.startswith("rss-")
        assert row.beneficiary and row.beneficiary.startswith("kommunerna i ")
    assert len({r.recipient_id for r in t.rows}) == 21


def test_bilaga3_is_breakdown_matching_bilaga1_barnhalsovard():
    _, b3 = table("bilaga3-cni")
    _, b1 = table("bilaga1-barnhalsovard")
    assert b3.role == "breakdown"
    # L824: Riket ... 114 500 000 kr
    assert "114 500 000 kr" in line(824)
    assert b3.stated_total_kr == 114_500_000 == b3.rows_total_kr()
    for row in b3.rows:
        n = first_line(row.source)
        assert 803 <= n <= 823
        assert cells(n)[0] == row.label
        assert cells(n)[10] == f"{kr(row.amount_kr)} kr"
    assert {r.recipient_id: r.amount_kr for r in b3.rows} == {r.recipient_id: r.amount_kr for r in b1.rows}
    # no krona counted twice: Bilaga 3 contributes no entitlements
    assert all(r.row_id.startswith("bilaga1-") for r in agreement().part("barnhalsovard").allocation_rows())


def test_skr_fixed_sum():
    _, t = table("skr-stod")
    assert [(r.recipient_id, r.amount_kr, r.source) for r in t.rows] == [("skr", 52_000_000, "L651")]
    # L183: "SKR tilldelas totalt 52 miljoner kronor"
    assert "52 miljoner kronor" in line(183)


@pytest.mark.parametrize(
    "label, n, recipient",
    [
        ("Norrbottnen", 755, "region-norrbotten"),
        ("Sörmland", 758, "region-sormland"),
        ("Jämtland Härjedalen", 751, "region-jamtland-harjedalen"),
        ("Västra Götaland", 764, "region-vastra-gotaland"),
        ("Gotland", 748, "region-gotland"),
    ],
)
def test_region_name_aliases_bilaga1(label, n, recipient):
    row = next(r for r in table("bilaga1-nara-vard")[1].rows if r.source == f"L{n}")
    assert row.label == label == cells(n)[0]
    assert row.recipient_id == recipient


@pytest.mark.parametrize(
    "table_id, n, recipient",
    [
        ("bilaga2-kommuner", 793, "rss-norrbotten"),
        ("bilaga2-kommuner", 775, "rss-sormland"),
        ("bilaga2-kommuner", 791, "rss-jamtland-harjedalen"),
        ("bilaga2-kommuner", 784, "rss-vastra-gotaland"),
        ("bilaga2-kommuner", 780, "rss-gotland"),
        ("bilaga3-cni", 823, "region-norrbotten"),
        ("bilaga3-cni", 805, "region-sormland"),
        ("bilaga3-cni", 821, "region-jamtland-harjedalen"),
    ],
)
def test_region_name_aliases_other_bilagor(table_id, n, recipient):
    row = next(r for r in table(table_id)[1].rows if r.source == f"L{n}")
    assert row.recipient_id == recipient


def test_recipient_ids_exist():
    known = {r["recipient_id"] for r in yaml.safe_load(RECIPIENTS.read_text(encoding="utf-8"))["recipients"]}
    a = agreement()
    assert a.recipient_ids() <= known
    for part in a.parts:
        for report in part.terms.reports:
            assert set(report.receivers) <= known, report.receivers


def test_row_ids_unique_and_sources_cited():
    a = agreement()
    ids = [r.row_id for p in a.parts for t in p.tables for r in t.rows]
    assert len(ids) == len(set(ids)) == 9 * 21 + 1
    assert all(re.fullmatch(r"L\d+", r.source) for p in a.parts for t in p.tables for r in t.rows)


# --- terms --------------------------------------------------------------------------------------


def test_requisition_deadline_for_skr_and_regions():
    # L686: "Rekvisering av medel ska ske senast den 1 december 2020. Rätten till bidrag förfaller ..."
    assert "senast den 1 december 2020" in line(686)
    assert "Rätten till bidrag förfaller" in line(686)
    for part in agreement().parts:
        req = part.terms.requisition
        assert req.required and req.receiver == "kammarkollegiet"
        assert part.terms.lump_sum
        if part.part_id == "medarbetare-kommuner":
            # L688: RSS requisition, no deadline printed (gap)
            assert "RSS" in line(688) and "engångsvis" in line(688) and "december" not in line(688)
            assert req.deadline is None and req.source == "L688"
        else:
            assert req.deadline == dt.date(2020, 12, 1)
            assert req.consequence.value == "lapse"
            assert req.source == "L686"


def test_repayment_and_reclaim():
    # L690: "... ska återbetalas till Kammarkollegiet senast den 31 mars 2021."
    assert "återbetalas till Kammarkollegiet senast den 31 mars 2021" in line(690)
    # L694: "Om redovisning inte inkommer i tid kan regeringen återkräva stödet."
    for part in agreement().parts:
        t = part.terms
        assert t.repayment.required and t.repayment.deadline == dt.date(2021, 3, 31) and t.repayment.source == "L690"
        assert t.reclaim.exists and t.reclaim.source == "L694"
        assert t.reclaim.text in line(694)
        assert t.payment_decision.kind == "regeringsbeslut" and t.payment_decision.source == "L684"
        assert "särskilt regeringsbeslut, ställt till Kammarkollegiet" in line(684)
        assert t.both_dnr_required and t.signature_in_original
        assert t.deadline_policy.value == "strict"


def test_expense_report_every_part():
    # L694: ekonomisk redovisning för kalenderåret till Kammarkollegiet senast den 31 mars 2021
    assert "Kammarkollegiet senast den 31 mars 2021" in line(694)
    for part in agreement().parts:
        econ = [r for r in part.terms.reports if r.kind.value == "ekonomisk_redovisning"]
        assert len(econ) == 1
        assert econ[0].receivers == ["kammarkollegiet"]
        assert econ[0].deadline == dt.date(2021, 3, 31)
        assert (econ[0].period_start, econ[0].period_end) == (dt.date(2020, 1, 1), dt.date(2020, 12, 31))
        assert econ[0].consequence.value == "reclaim_possible"


def test_region_and_rss_reports_to_socialstyrelsen():
    # L632: delredovisning senast den 30 september 2020, slutredovisning senast den 31 mars 2021
    assert "Socialstyrelsen senast den 30 september 2020" in line(632)
    assert "Socialstyrelsen senast den 31 mars 2021" in line(632)
    # L634: the same applies to the municipalities' money, reported by the RSS
    assert "RSS" in line(634)
    for part in agreement().parts:
        if part.part_id == "skr-stod":
            continue
        by_kind = {r.kind.value: r for r in part.terms.reports}
        assert by_kind["delrapport"].deadline == dt.date(2020, 9, 30)
        assert by_kind["delrapport"].receivers == ["socialstyrelsen"]
        assert by_kind["slutrapport"].deadline == dt.date(2021, 3, 31)
        assert by_kind["slutrapport"].receivers == ["socialstyrelsen"]
        expected = "none_stated" if part.part_id == "medarbetare-kommuner" else "next_year_eligibility"
        assert by_kind["delrapport"].consequence.value == expected
    # L678: the 30 September 2020 delredovisning conditions the 2021 money
    assert "30 september 2020" in line(678) and "2021" in line(678)


def test_skr_reports_to_regeringskansliet():
    by_kind = {r.kind.value: r for r in agreement().part("skr-stod").terms.reports}
    # L706: delrapport senast den 30 september 2020
    assert "delrapport till Regeringskansliet (Socialdepartementet) senast den 30 september 2020" in line(706)
    assert by_kind["delrapport"].deadline == dt.date(2020, 9, 30)
    assert by_kind["delrapport"].receivers == ["regeringskansliet"]
    # L708: verksamhetsrapport senast den 31 mars 2021
    assert "verksamhetsrapport till Regeringskansliet (Socialdepartementet) senast den 31 mars 2021" in line(708)
    assert by_kind["verksamhetsrapport"].deadline == dt.date(2021, 3, 31)
    assert by_kind["verksamhetsrapport"].receivers == ["regeringskansliet"]


def test_patientkontrakt_condition():
    cond = agreement().part("nara-vard").terms.performance_conditions
    assert len(cond) == 1
    assert cond[0].deadline == dt.date(2020, 5, 31)
    # L307: "senast den 31 maj 2020 ha upprättat handlingsplaner"
    assert "senast den 31 maj 2020 ha upprättat handlingsplaner" in line(307)


def test_appropriations_bilaga1():
    # L768: Ap. 1 461 000 000, Ap. 7 1 358 000 000 (vårdens medarbetare); Ap. 38/7/1 (e-hälsa)
    row = line(768)
    for text in ("Ap. 1 461 000 000", "Ap. 7 1 358 000 000", "Ap. 38 65 000 000", "Ap. 7 65 000 000", "Ap. 1 100 000 000"):
        assert text in row
    a = agreement()
    for part in a.parts:
        tagged = [ap.amount_kr for ap in part.appropriations if ap.amount_kr is not None]
        if tagged:
            assert sum(tagged) == part.stated_total_kr, part.part_id


def test_signatures():
    sigs = {s.party: s for s in agreement().signatures}
    # L729 / L731: "Stockholm den 30 januari 2020", "Stockholm den 31 januari 2020"
    assert "30 januari 2020" in line(729) and "31 januari 2020" in line(731)
    assert sigs["regeringen"].date == dt.date(2020, 1, 30)
    assert sigs["skr"].date == dt.date(2020, 1, 31)
    assert "Maja Fjaestad" in line(735) and "Staffan Isling" in line(740)
