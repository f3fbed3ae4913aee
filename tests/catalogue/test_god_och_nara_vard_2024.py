"""Catalogue tests: God och nära vård 2024 (seed 001), checked against the seed text itself."""

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
SEED_FILE = "001_b1d80644a90e715d.txt"
CATALOGUE = REPO / "ledger" / "data" / "agreements" / "god-och-nara-vard-2024.yaml"
SOURCE = re.compile(r"^L(\d+)(?:–(\d+))?$")


@lru_cache(maxsize=1)
def seed_lines() -> list[str]:
    text = (SEEDS / SEED_FILE).read_text(encoding="utf-8")
    return [line.replace("\u00a0", " ").replace("\u202f", " ") for line in text.split("\n")]


def line(n: int) -> str:
    """Line n of the seed, as `sed -n 'np'` shows it, with non-breaking spaces normalised."""
    return seed_lines()[n - 1]


def lines(first: int, last: int) -> str:
    return re.sub(r"\s+", " ", " ".join(line(n) for n in range(first, last + 1)))


def kr(amount: int) -> str:
    """1234567 -> '1 234 567', as the document prints amounts."""
    return f"{amount:,}".replace(",", " ")


def printed(amount: int, text: str) -> bool:
    """The amount appears in the text as a whole space-grouped number (token sequence)."""
    tokens = re.findall(r"\d+", text)
    groups = kr(amount).split(" ")
    return any(tokens[i : i + len(groups)] == groups for i in range(len(tokens) - len(groups) + 1))


def source_range(source: str) -> tuple[int, int]:
    match = SOURCE.match(source)
    assert match, f"source {source!r} is not 'Lnnn' or 'Lnnn–mmm'"
    first = int(match.group(1))
    return first, int(match.group(2) or first)


@pytest.fixture(scope="module")
def agreement() -> Agreement:
    return Agreement.model_validate(yaml.safe_load(CATALOGUE.read_text(encoding="utf-8")))


def table(agreement: Agreement, table_id: str):
    return next(t for p in agreement.parts for t in p.tables if t.table_id == table_id)


def row(agreement: Agreement, row_id: str):
    return next(r for p in agreement.parts for t in p.tables for r in t.rows if r.row_id == row_id)


# --- identity -----------------------------------------------------------------------------


def test_loads_and_names_its_seed(agreement: Agreement) -> None:
    assert agreement.agreement_id == "god-och-nara-vard-2024"
    assert agreement.seed_file == SEED_FILE
    assert agreement.year == 2024
    assert len(agreement.parts) == 7  # L19–27: "sju delar"
    assert "sju delar" in line(19)


def test_recipient_ids_exist_in_register(agreement: Agreement) -> None:
    register = yaml.safe_load((REPO / "ledger" / "data" / "recipients.yaml").read_text(encoding="utf-8"))
    known = {r["recipient_id"] for r in register["recipients"]}
    assert agreement.recipient_ids() <= known
    for part in agreement.parts:
        for report in part.terms.reports:
            assert set(report.receivers) <= known, report.name_sv
        for table_ in part.tables:
            for row_ in table_.rows:
                if row_.beneficiary and re.fullmatch(r"(region|rss)-[a-z-]+", row_.beneficiary):
                    assert row_.beneficiary in known


def test_every_source_is_a_line_reference_or_not_stated(agreement: Agreement) -> None:
    data = yaml.safe_load(CATALOGUE.read_text(encoding="utf-8"))
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("source", "deadline_policy_source") and isinstance(value, str):
                    found.append(value)
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(data)
    assert found
    for source in found:
        if source.startswith("not stated"):
            continue
        first, last = source_range(source)
        assert 1 <= first <= last <= len(seed_lines()), source


# --- stated totals ------------------------------------------------------------------------


def test_stated_totals(agreement: Agreement) -> None:
    totals = agreement.stated_totals
    # L1924: "Totalt– Statens andel av överenskommelsen 3 330 250 000"
    assert totals.state_kr == 3_330_250_000 and printed(3_330_250_000, line(1924))
    # L1923: "Totalt – Regionernas andel av överenskommelsesatsningen 100 000 000"
    assert totals.co_financing_kr == 100_000_000 and printed(100_000_000, line(1923))
    # L1925: "Totalt 3 430 250 000"
    assert totals.total_kr == 3_430_250_000 and printed(3_430_250_000, line(1925))
    assert totals.state_kr + totals.co_financing_kr == totals.total_kr
    # L1883–1884: the same split in prose
    assert printed(3_430_250_000, line(1883)) and printed(3_330_250_000, line(1884))
    # L2014: table 11.2 "Totalt – Överenskommelsen 3 330 250 000" (the state total)
    assert printed(3_330_250_000, line(2014))


@pytest.mark.parametrize(
    ("part_id", "amount", "seed_line"),
    [
        ("nara-vard", 3_200_000_000, 1888),  # L1888 table 11.1, avsnitt 4
        ("ambulans", 46_750_000, 1889),  # L1889
        ("sallsynta", 10_000_000, 1893),  # L1893
        ("kvalitetsregister", 68_000_000, 1916),  # L1916 "7.2 Statens medel"
        ("antibiotika", 3_000_000, 1917),  # L1917
        ("lakemedel", 2_500_000, 1921),  # L1921
    ],
)
def test_part_totals(agreement: Agreement, part_id: str, amount: int, seed_line: int) -> None:
    part = agreement.part(part_id)
    assert part is not None
    assert part.stated_total_kr == amount
    assert part.source == f"L{seed_line}"
    assert printed(amount, line(seed_line))


def test_medarbetare_has_no_money_of_its_own(agreement: Agreement) -> None:
    part = agreement.part("medarbetare")
    assert part is not None and part.stated_total_kr == 0 and not part.tables
    # L31–33: "regeringen inte avsatt riktade medel för arbetet med goda förutsättningar"
    assert "inte avsatt riktade medel" in lines(31, 33)


def test_parts_add_up_to_the_state_total(agreement: Agreement) -> None:
    assert sum(p.stated_total_kr for p in agreement.parts) == agreement.stated_totals.state_kr


def test_kvalitetsregister_co_financing(agreement: Agreement) -> None:
    part = agreement.part("kvalitetsregister")
    assert part is not None
    amounts = {c.source: c.amount_kr for c in part.co_financing}
    assert amounts == {"L1898": 70_465_000, "L1914": 29_535_000}
    assert printed(70_465_000, line(1898)) and printed(29_535_000, line(1914))
    assert sum(amounts.values()) == agreement.stated_totals.co_financing_kr
    # L1895: 11.1 prints 168 000 000 for the part including the regions' money
    assert printed(168_000_000, line(1895))
    assert table(agreement, "t11-1-kvalitetsregister").stated_total_kr == 168_000_000


# --- tables -------------------------------------------------------------------------------


def test_every_table_sums_or_has_a_listed_discrepancy(agreement: Agreement) -> None:
    listed = {
        (d.table_id, d.difference_kr) for d in agreement.known_discrepancies if d.difference_kr is not None
    }
    for part in agreement.parts:
        for table_ in part.tables:
            assert table_.stated_total_kr is not None, table_.table_id
            difference = table_.rows_total_kr() - table_.stated_total_kr
            assert difference == 0 or (table_.table_id, difference) in listed, table_.table_id


def test_every_row_amount_is_printed_on_its_cited_line(agreement: Agreement) -> None:
    for part in agreement.parts:
        for table_ in part.tables:
            for row_ in table_.rows:
                first, last = source_range(row_.source)
                assert first == last, f"{row_.row_id}: a row cites one line"
                assert printed(row_.amount_kr, line(first)), row_.row_id


def test_table_stated_totals_are_printed(agreement: Agreement) -> None:
    where = {
        "t11-1-nara-vard": 1888,
        "t11-2-nara-vard": 1939,  # header row "3 200 000 000 Regionerna, kommunerna och SKR"
        "bilaga3-nara-vard": 2422,
        "bilaga2-kommuner": 2369,
        "skr-nara-vard": 1954,
        "bilaga4-landsbygd": 2455,
        "t11-1-ambulans": 1889,
        "t11-2-ambulans": 1959,
        "bilaga3-ambulans": 2422,
        "skr-ambulans": 1969,
        "t11-1-sallsynta": 1893,
        "t11-2-sallsynta": 1974,
        "t11-1-kvalitetsregister": 1895,
        "t11-2-kvalitetsregister": 1992,
        "t11-1-antibiotika": 1917,
        "t11-2-antibiotika": 1997,
        "t11-1-lakemedel": 1921,
        "t11-2-lakemedel": 2003,
    }
    ids = {t.table_id for p in agreement.parts for t in p.tables}
    assert ids == set(where)
    for table_id, seed_line in where.items():
        total = table(agreement, table_id).stated_total_kr
        assert total is not None and printed(total, line(seed_line)), table_id


# Samples (at least 5 per table, or all rows) typed in from the paper, checked against YAML and seed.
SAMPLES = {
    "bilaga3-nara-vard": [
        ("stockholm", 500_798_626, 2380),
        ("gotland", 27_221_652, 2394),
        ("vastra-gotaland", 392_757_745, 2402),
        ("orebro", 68_598_079, 2406),
        ("jamtland-harjedalen", 41_520_914, 2416),
        ("norrbotten", 65_026_470, 2420),
    ],
    "bilaga3-ambulans": [
        ("stockholm", 8_757_963, 2380),
        ("ostergotland", 2_089_310, 2386),
        ("skane", 5_282_416, 2398),
        ("vastra-gotaland", 6_443_659, 2402),
        ("jamtland-harjedalen", 945_414, 2416),
    ],
    "bilaga2-kommuner": [
        ("stockholm", 109_737_356, 2327),
        ("gotland", 4_806_635, 2341),
        ("skane", 128_724_464, 2345),
        ("orebro", 26_788_066, 2353),
        ("norrbotten", 23_355_220, 2367),
    ],
    "bilaga4-landsbygd": [
        ("stockholm", 7_647_035, 2434),
        ("jonkoping", 20_304_750, 2438),
        ("gotland", 14_954_077, 2441),
        ("vastmanland", 1_619_803, 2448),
        ("norrbotten", 15_096_536, 2454),
    ],
}


@pytest.mark.parametrize("table_id", sorted(SAMPLES))
def test_sample_rows_against_the_seed(agreement: Agreement, table_id: str) -> None:
    prefix = {"bilaga2-kommuner": "rss", "bilaga4-landsbygd": "region"}.get(table_id, "region")
    for slug, amount, seed_line in SAMPLES[table_id]:
        row_ = row(agreement, f"{table_id}-{slug}")
        assert row_.amount_kr == amount
        assert row_.source == f"L{seed_line}"
        assert row_.recipient_id == f"{prefix}-{slug}"
        assert line(seed_line).rstrip().endswith(kr(amount)) or printed(amount, line(seed_line))


def test_small_tables_all_rows(agreement: Agreement) -> None:
    expected = {
        "t11-2-nara-vard": [(2_420_000_000, 1944), (750_000_000, 1949), (30_000_000, 1954)],
        "skr-nara-vard": [(30_000_000, 1954)],
        "t11-2-ambulans": [(46_000_000, 1964), (750_000, 1969)],
        "skr-ambulans": [(750_000, 1969)],
        "t11-2-sallsynta": [(6_000_000, 1976), (3_000_000, 1978), (1_000_000, 1990)],
        "t11-1-kvalitetsregister": [(100_000_000, 1901), (68_000_000, 1916)],
        "t11-2-kvalitetsregister": [(68_000_000, 1992)],
        "t11-2-antibiotika": [(3_000_000, 1997)],
        "t11-2-lakemedel": [(2_500_000, 2003)],
    }
    for table_id, rows in expected.items():
        got = [(r.amount_kr, r.source) for r in table(agreement, table_id).rows]
        assert got == [(a, f"L{n}") for a, n in rows], table_id
        for amount, seed_line in rows:
            assert printed(amount, line(seed_line))


def test_bilaga3_rows_match_their_printed_line_and_totalt_column(agreement: Agreement) -> None:
    # L2380–2420: "<Region> <befolkning> <Nära vård> <Ambulans> <Totalt>"
    nara = {r.row_id.removeprefix("bilaga3-nara-vard-"): r for r in table(agreement, "bilaga3-nara-vard").rows}
    amb = {r.row_id.removeprefix("bilaga3-ambulans-"): r for r in table(agreement, "bilaga3-ambulans").rows}
    assert nara.keys() == amb.keys() and len(nara) == 21
    for slug, nv in nara.items():
        am = amb[slug]
        assert nv.source == am.source
        text = line(source_range(nv.source)[0]).rstrip()
        assert text.endswith(f"{kr(nv.amount_kr)} {kr(am.amount_kr)} {kr(nv.amount_kr + am.amount_kr)}"), slug
    # L2422: "Totalt 10 557 682 2 420 000 000 46 000 000 2 466 000 000"
    assert line(2422).rstrip().endswith("2 420 000 000 46 000 000 2 466 000 000")


def test_bilaga2_and_bilaga4_rows_end_their_lines(agreement: Agreement) -> None:
    for table_id in ("bilaga2-kommuner", "bilaga4-landsbygd"):
        rows = table(agreement, table_id).rows
        assert len(rows) == 21
        for row_ in rows:
            assert line(source_range(row_.source)[0]).rstrip().endswith(kr(row_.amount_kr)), row_.row_id


# --- no double counting -------------------------------------------------------------------


def test_roles_and_no_double_counting(agreement: Agreement) -> None:
    roles = {t.table_id: t.role for p in agreement.parts for t in p.tables}
    assert roles["bilaga4-landsbygd"] == "breakdown"  # L2426 "medlen ingår i bilaga 3"
    assert "ingår i bilaga 3" in line(2426)
    assert roles["t11-2-nara-vard"] == roles["t11-2-ambulans"] == "summary"
    assert all(roles[t] == "summary" for t in roles if t.startswith("t11-1-"))
    allocation = [r for p in agreement.parts for r in p.allocation_rows()]
    assert sum(r.amount_kr for r in allocation) == agreement.stated_totals.state_kr
    for part in agreement.parts:
        assert sum(r.amount_kr for r in part.allocation_rows()) == part.stated_total_kr, part.part_id
    # each rural amount sits inside the same region's Nära vård row
    nara = {r.recipient_id: r.amount_kr for r in table(agreement, "bilaga3-nara-vard").rows}
    for rural in table(agreement, "bilaga4-landsbygd").rows:
        assert rural.amount_kr <= nara[rural.recipient_id]
    part = agreement.part("nara-vard")
    assert part is not None and part.earmarks[0].amount_kr == 300_000_000
    assert "300 miljoner" in lines(192, 193)  # L192–193


def test_section_13_1_split_and_skr_total(agreement: Agreement) -> None:
    allocation = [r for p in agreement.parts for r in p.allocation_rows()]
    skr_own = sum(r.amount_kr for r in allocation if r.recipient_id == "skr" and r.route.value == "direct")
    regions = sum(r.amount_kr for r in allocation if r.recipient_id.startswith("region-")) + sum(
        r.amount_kr for r in allocation if r.route.value == "via_skr"
    )
    rss = sum(r.amount_kr for r in allocation if r.route.value == "via_rss")
    # L2009: "Totalt - Medel till SKR ... 34 250 000"; L229 in prose
    assert skr_own == 34_250_000 and printed(34_250_000, line(2009)) and printed(34_250_000, line(229))
    # L2060–2062: "2 546 000 000 kronor till regionerna, 750 000 000 kronor till kommunerna, 34 250 000 kronor till SKR"
    assert regions == 2_546_000_000 and printed(2_546_000_000, line(2061))
    assert rss == 750_000_000 and printed(750_000_000, line(2061))
    assert printed(34_250_000, line(2062))
    assert all(r.recipient_id.startswith("rss-") for r in allocation if r.route.value == "via_rss")
    assert all(r.recipient_id == "skr" for r in allocation if r.route.value == "via_skr")


# --- discrepancies ------------------------------------------------------------------------


def test_plus_minus_one_rows_kept_as_printed(agreement: Agreement) -> None:
    ids = {d.discrepancy_id: d for d in agreement.known_discrepancies}
    cases = [
        ("bilaga2-orebro-minus-1", "bilaga2-kommuner-orebro", 26_788_066, 2353),
        ("bilaga3-ambulans-vastra-gotaland-plus-1", "bilaga3-ambulans-vastra-gotaland", 6_443_659, 2402),
        ("bilaga3-nara-vard-norrbotten-plus-1", "bilaga3-nara-vard-norrbotten", 65_026_470, 2420),
    ]
    for discrepancy_id, row_id, amount, seed_line in cases:
        discrepancy = ids[discrepancy_id]
        assert discrepancy.source == f"L{seed_line}"
        assert row(agreement, row_id).amount_kr == amount
        assert printed(amount, line(seed_line))
        assert discrepancy.table_id == row_id.rsplit("-", 1)[0] or row_id.startswith(discrepancy.table_id)


def test_board_decision_and_signature_dates_as_printed(agreement: Agreement) -> None:
    board = next(d for d in agreement.decisions if d.body == "skr_board")
    assert board.date == dt.date(2024, 12, 15)
    assert "15 december 2024" in lines(2, 3)  # L2–3
    government = next(d for d in agreement.decisions if d.body == "government")
    assert government.date is None
    signed = {s.party: s.date for s in agreement.signatures}
    assert signed == {"regeringen": dt.date(2023, 12, 20), "skr": dt.date(2023, 12, 15)}
    # L2206: "Stockholm den 20 december 2023 Stockholm den 15 december 2023"
    assert "20 december 2023" in line(2206) and "15 december 2023" in line(2206)
    assert board.date > max(signed.values())
    assert "board-date-after-signatures" in {d.discrepancy_id for d in agreement.known_discrepancies}


# --- terms --------------------------------------------------------------------------------


def test_requisition_terms(agreement: Agreement) -> None:
    # L2072–2074 (regions, via SKR, RSS) and L2087–2089 (SKR): "senast den 1 december 2024",
    # "Rätten till bidrag förfaller om rekvisition inte inkommit inom denna tid"
    assert "1 december" in line(2072) and "2024" in line(2073) and "förfaller" in line(2073)
    assert "1 december 2024" in line(2088) and "förfaller" in line(2088)
    assert "engångsvis" in line(2072) and "engångsvis" in line(2087)
    for part in agreement.parts:
        terms = part.terms
        assert terms.requisition.required and terms.requisition.deadline == dt.date(2024, 12, 1)
        assert terms.requisition.receiver == "kammarkollegiet"
        assert terms.requisition.consequence.value == "lapse"
        assert terms.lump_sum and terms.payment_decision.kind == "regeringsbeslut"
        assert terms.both_dnr_required and terms.signature_in_original
        assert terms.deadline_policy.value == "strict"
        assert terms.reclaim.exists and "kan regeringen återkräva stödet" in lines(2114, 2115)


def test_report_deadlines(agreement: Agreement) -> None:
    # L1865–1866 regions (and RSS, L1870–1873) to Socialstyrelsen "senast den 31 mars 2025"
    assert "31 mars" in line(1865) and "2025" in line(1866) and "RSS" in line(1872)
    # L2124–2125 SKR delrapport "senast den 30 september 2024"
    assert "30 september 2024" in line(2125)
    # L2132 verksamhetsrapport, L2142 / L2153 / L2178 slutrapporter, L2098 ekonomisk redovisning
    for seed_line in (2132, 2142, 2153, 2178, 2098):
        assert "31 mars 2025" in line(seed_line), seed_line
    expected = {
        "nara-vard": {("verksamhetsrapport", "socialstyrelsen", "each region"): dt.date(2025, 3, 31),
                      ("verksamhetsrapport", "socialstyrelsen", "each county RSS"): dt.date(2025, 3, 31),
                      ("delrapport", "regeringskansliet", "skr"): dt.date(2024, 9, 30),
                      ("verksamhetsrapport", "regeringskansliet", "skr"): dt.date(2025, 3, 31),
                      ("ekonomisk_redovisning", "kammarkollegiet", "skr"): dt.date(2025, 3, 31)},
        "ambulans": {("verksamhetsrapport", "socialstyrelsen", "each region"): dt.date(2025, 3, 31),
                     ("delrapport", "regeringskansliet", "skr"): dt.date(2024, 9, 30),
                     ("verksamhetsrapport", "regeringskansliet", "skr"): dt.date(2025, 3, 31),
                     ("ekonomisk_redovisning", "kammarkollegiet", "skr"): dt.date(2025, 3, 31)},
        "sallsynta": {("slutrapport", "regeringskansliet", "skr"): dt.date(2025, 3, 31),
                      ("ekonomisk_redovisning", "kammarkollegiet", "skr"): dt.date(2025, 3, 31)},
        "kvalitetsregister": {("slutrapport", "regeringskansliet", "skr"): dt.date(2025, 3, 31)},
        "antibiotika": {},
        "lakemedel": {("slutrapport", "regeringskansliet", "skr"): dt.date(2025, 3, 31),
                      ("ekonomisk_redovisning", "kammarkollegiet", "skr"): dt.date(2025, 3, 31)},
    }
    for part_id, reports in expected.items():
        part = agreement.part(part_id)
        assert part is not None
        got = {(r.kind.value, r.receivers[0], r.owed_by): r.deadline for r in part.terms.reports}
        assert got == reports, part_id
    sources = {r.source for p in agreement.parts for r in p.terms.reports}
    for source in sources:
        first, last = source_range(source)
        assert re.search(r"senast den (31 mars|30 september)", lines(first, last)), source


def test_repayment_terms(agreement: Agreement) -> None:
    # L2094–2096: "Medel som inte har använts för avsett ändamål ska återbetalas till Kammarkollegiet
    # senast den 31 mars 2025" (SKR's own-funds paragraph only)
    assert "återbetalas till Kammarkollegiet senast den 31" in lines(2094, 2096)
    assert "mars 2025" in line(2096)
    for part in agreement.parts:
        repayment = part.terms.repayment
        if part.part_id in ("kvalitetsregister", "antibiotika"):
            assert not repayment.required and repayment.deadline is None
        else:
            assert repayment.required and repayment.deadline == dt.date(2025, 3, 31)
            assert repayment.source == "L2094–2096"
