"""Catalogue tests: State–SKL agreement "Stöd till bättre resursutnyttjande i hälso- och sjukvården" 2017.

Every number is checked against the seed line it cites (seeds/004_05101e6341c6b581.txt).
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
SEED = REPO.parent / "shared" / "domain" / "seeds" / "004_05101e6341c6b581.txt"
CATALOGUE = REPO / "ledger" / "data" / "agreements" / "resursutnyttjande-2017.yaml"
RECIPIENTS = REPO / "ledger" / "data" / "recipients.yaml"


@lru_cache(maxsize=1)
def agreement() -> Agreement:
    return Agreement.model_validate(yaml.safe_load(CATALOGUE.read_text(encoding="utf-8")))


@lru_cache(maxsize=1)
def seed_lines() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    return [line.replace("\u00a0", " ").replace("\u202f", " ") for line in text.split("\n")]


def line(n: int) -> str:
    """Seed line n (1-based), as `sed -n 'np'` shows it, with no-break spaces normalised."""
    return seed_lines()[n - 1]


def lines(a: int, b: int) -> str:
    return " ".join(line(n).strip() for n in range(a, b + 1))


def kr(amount: int) -> str:
    """1234567 -> '1 234 567', the printed form."""
    return f"{amount:,}".replace(",", " ")


def first_line(source: str) -> int:
    return int(re.match(r"L(\d+)", source).group(1))


def test_seed_is_the_expected_document() -> None:
    assert SEED.exists(), SEED
    assert len(seed_lines()) in (761, 762)
    assert line(1).strip() == "1 bilaga"
    assert "resursut-" in line(7)


def test_catalogue_validates_and_names_known_recipients() -> None:
    a = agreement()
    assert a.agreement_id == "resursutnyttjande-2017"
    assert a.year == 2017
    assert a.seed_file == SEED.name
    register = {r["recipient_id"] for r in yaml.safe_load(RECIPIENTS.read_text(encoding="utf-8"))["recipients"]}
    assert a.recipient_ids() <= register
    for part in a.parts:
        for report in part.terms.reports:
            assert set(report.receivers) <= register


# ---- stated totals ------------------------------------------------------------------------------


def test_agreement_total() -> None:
    a = agreement()
    # L21: "sammanlagt 976 000 000 kronor."; L454: "Totalt överenskommelsen 976 000 000 kronor"; L456
    assert "976 000 000 kronor" in line(21)
    assert "Totalt överenskommelsen 976 000 000 kronor" in line(454)
    assert "976 000 000 kronor" in line(456)
    assert a.stated_totals.state_kr == 976_000_000
    assert a.stated_totals.total_kr == 976_000_000
    assert a.stated_totals.co_financing_kr == 0
    assert a.stated_totals.source == "L454"


def test_part_totals() -> None:
    a = agreement()
    # L445: "Stimulansmedel till landstingen 655 000 000 kronor"
    assert "655 000 000 kronor" in line(445)
    assert a.part("stimulansmedel").stated_total_kr == 655_000_000
    # L450: "300 000 000 kronor" (nurse specialist training, label L446–448)
    assert "300 000 000 kronor" in line(450)
    assert "specialistutbildning" in line(448)
    assert a.part("specialistutbildning").stated_total_kr == 300_000_000
    # L452: "Medel till SKL för stödinsatser enl. 5 21 000 000 kronor"
    assert "21 000 000 kronor" in line(452)
    assert a.part("skl-stodinsatser").stated_total_kr == 21_000_000
    # the same amounts in the running text: L375, L378, L457, L461, L464
    assert "300 000 000 kronor" in line(375)
    assert "21 000 000 kronor tilldelas SKL" in line(378)
    assert "655 000 000 kronor" in line(457)
    assert "300 000 000 kronor" in line(461)
    assert "21 000 000 kronor till SKL" in line(464)


def test_parts_sum_to_agreement_total() -> None:
    a = agreement()
    assert sum(p.stated_total_kr for p in a.parts) == a.stated_totals.state_kr


def test_payment_decision_totals() -> None:
    a = agreement()
    # L505: "... utbetalning av medel om totalt 955 miljoner kronor till lands-" (one decision, both landsting parts)
    assert "955 miljoner kronor" in line(505)
    assert a.part("stimulansmedel").stated_total_kr + a.part("specialistutbildning").stated_total_kr == 955_000_000
    # L537: "... sammanlagt 21 miljoner kronor till SKL"
    assert "21 miljoner kronor till SKL" in line(537)
    assert a.part("skl-stodinsatser").stated_total_kr == 21_000_000


# ---- tables -------------------------------------------------------------------------------------


def all_tables():
    return [(p, t) for p in agreement().parts for t in p.tables]


@pytest.mark.parametrize("table_id", ["bilaga1-stimulansmedel", "bilaga1-specialistutbildning", "skl-stodinsatser"])
def test_table_rows_sum_to_stated_total(table_id: str) -> None:
    part, table = next((p, t) for p, t in all_tables() if t.table_id == table_id)
    difference = table.rows_total_kr() - table.stated_total_kr
    listed = sum(
        d.difference_kr or 0 for d in agreement().known_discrepancies if d.table_id == table_id
    )
    assert difference == listed == 0
    assert table.role == "allocation"
    assert table.stated_total_kr == part.stated_total_kr


def test_bilaga1_total_line() -> None:
    # L656: "Total 655 000 000 300 000 000"
    assert line(656).strip() == "Total 655 000 000 300 000 000"
    a = agreement()
    assert a.part("stimulansmedel").tables[0].stated_total_kr == 655_000_000
    assert a.part("specialistutbildning").tables[0].stated_total_kr == 300_000_000


def parse_bilaga1() -> dict[int, tuple[str, int, int]]:
    """Parse L614–L654 of the seed: line -> (län, Tabell 1, Tabell 2)."""
    parsed = {}
    for n in range(614, 655):
        m = re.fullmatch(r"(.+ län) (\d{1,3}(?: \d{3})*) (\d{1,3}(?: \d{3})*)", line(n).strip())
        if m:
            parsed[n] = (m.group(1), int(m.group(2).replace(" ", "")), int(m.group(3).replace(" ", "")))
    return parsed


@pytest.mark.parametrize("table_id, column", [("bilaga1-stimulansmedel", 1), ("bilaga1-specialistutbildning", 2)])
def test_every_bilaga1_row_matches_its_seed_line(table_id: str, column: int) -> None:
    parsed = parse_bilaga1()
    assert len(parsed) == 21
    _, table = next((p, t) for p, t in all_tables() if t.table_id == table_id)
    assert len(table.rows) == 21
    for row in table.rows:
        n = first_line(row.source)
        assert row.source == f"L{n}"
        label, t1, t2 = parsed[n]
        assert row.label == label
        assert row.amount_kr == (t1, t2)[column - 1]
        assert kr(row.amount_kr) in line(n)
        assert row.recipient_id.startswith("region-")
        assert row.route.value == "direct"
    # the seed's own column sums equal the printed totals
    assert sum(v[column] for v in parsed.values()) == table.stated_total_kr


@pytest.mark.parametrize(
    "row_id, amount, n",
    [
        ("bilaga1-stimulansmedel-stockholm", 148_780_771, 614),  # L614, includes the +1 kr rounding
        ("bilaga1-stimulansmedel-gotland", 3_800_426, 628),  # L628
        ("bilaga1-stimulansmedel-skane", 86_718_574, 632),  # L632
        ("bilaga1-stimulansmedel-vastra-gotaland", 109_634_289, 636),  # L636
        ("bilaga1-stimulansmedel-jamtland-harjedalen", 8_429_358, 650),  # L650
        ("bilaga1-stimulansmedel-norrbotten", 16_444_332, 654),  # L654
        ("bilaga1-specialistutbildning-stockholm", 68_143_865, 614),  # L614, includes the +1 kr rounding
        ("bilaga1-specialistutbildning-uppsala", 10_838_798, 616),  # L616
        ("bilaga1-specialistutbildning-sormland", 8_640_543, 618),  # L618
        ("bilaga1-specialistutbildning-orebro", 8_853_031, 640),  # L640
        ("bilaga1-specialistutbildning-vasternorrland", 7_375_850, 648),  # L648
        ("bilaga1-specialistutbildning-vasterbotten", 7_986_497, 652),  # L652
        ("skl-stodinsatser-skl", 21_000_000, 452),  # L452
    ],
)
def test_sample_rows(row_id: str, amount: int, n: int) -> None:
    row = next(r for _, t in all_tables() for r in t.rows if r.row_id == row_id)
    assert row.amount_kr == amount
    assert row.source == f"L{n}"
    assert kr(amount) in line(n)


def test_recipient_mapping_by_county() -> None:
    by_label = {r.label: r.recipient_id for r in agreement().part("stimulansmedel").tables[0].rows}
    assert by_label["Gotlands län"] == "region-gotland"
    assert by_label["Jämtlands län"] == "region-jamtland-harjedalen"
    assert by_label["Södermanlands län"] == "region-sormland"
    assert len(set(by_label.values())) == 21
    skl_row = agreement().part("skl-stodinsatser").tables[0].rows[0]
    assert skl_row.recipient_id == "skr"


def test_no_krona_counted_twice() -> None:
    a = agreement()
    entitlements = sum(r.amount_kr for p in a.parts for r in p.allocation_rows())
    assert entitlements == a.stated_totals.state_kr == 976_000_000


# ---- known discrepancies ------------------------------------------------------------------------


def test_stockholm_rounding_is_kept_and_listed() -> None:
    a = agreement()
    ids = {d.discrepancy_id: d for d in a.known_discrepancies}
    for did, table_id, printed in [
        ("stockholm-rounding-tabell1", "bilaga1-stimulansmedel", 148_780_771),
        ("stockholm-rounding-tabell2", "bilaga1-specialistutbildning", 68_143_865),
    ]:
        d = ids[did]
        assert d.table_id == table_id
        assert d.difference_kr == 0  # the rows still sum exactly to the printed total
        row = next(r for _, t in all_tables() if t.table_id == table_id for r in t.rows if r.label == "Stockholms län")
        assert row.amount_kr == printed
        # L614: "Stockholms län 148 780 771 68 143 865"
        assert kr(printed) in line(614)
    assert "nurse-money-classified-as-joint-work" in ids
    assert "validity-condition-wording" in ids


# ---- terms --------------------------------------------------------------------------------------


def test_requisition_deadlines() -> None:
    a = agreement()
    # L513: "Rekvireringen av medel ska ske senast den 1 december 2017." (landsting); L515 lapse
    assert "senast den 1 december 2017" in line(513)
    assert "förfaller om rekvisition inte inkommit" in line(515)
    # L545: same for SKL; L547 lapse
    assert "senast den 1 december 2017" in line(545)
    assert "förfaller om rekvisition inte inkommit" in line(547)
    for pid, src in [("stimulansmedel", "L512–515"), ("specialistutbildning", "L512–515"), ("skl-stodinsatser", "L544–547")]:
        req = a.part(pid).terms.requisition
        assert req.required is True
        assert req.deadline == dt.date(2017, 12, 1)
        assert req.receiver == "kammarkollegiet"
        assert req.consequence.value == "lapse"
        assert req.source == src
        assert a.part(pid).terms.lump_sum is True
        assert a.part(pid).terms.payment_decision.kind == "regeringsbeslut"
    # L512 / L544: "Medlen utbetalas engångsvis efter rekvisition ställd till Kammarkollegiet."
    assert "engångsvis" in line(512) and "engångsvis" in line(544)


def test_repayment_deadlines() -> None:
    a = agreement()
    # L517–518: "Medel som inte har utnyttjats ska återbetalas till Kammarkollegiet senast den 31 mars 2018"
    assert "återbetalas till Kammarkollegiet" in line(517) and "31 mars 2018" in line(518)
    # L549–550: the same for SKL
    assert "återbetalas till Kammarkollegiet" in line(549) and "31 mars 2018" in line(550)
    for pid in ("stimulansmedel", "specialistutbildning", "skl-stodinsatser"):
        rep = a.part(pid).terms.repayment
        assert rep.required is True
        assert rep.deadline == dt.date(2018, 3, 31)
        assert rep.receiver == "kammarkollegiet"


def test_report_deadlines_landsting() -> None:
    a = agreement()
    # L520–521: ekonomisk redovisning "ska lämnas till Kammarkollegiet senast den 31 mars 2018"
    assert "Kammarkollegiet senast den" in line(520) and "31 mars 2018" in line(521)
    # L436–437: redogörelser "ska ha inkommit till Socialstyrelsen senast den 31 mars 2018"
    assert "under 2017 ska ha inkommit till" in line(436)
    assert "Socialstyrelsen senast den 31 mars 2018" in line(437)
    for pid in ("stimulansmedel", "specialistutbildning"):
        reports = {r.kind.value: r for r in a.part(pid).terms.reports}
        eko = reports["ekonomisk_redovisning"]
        assert eko.receivers == ["kammarkollegiet"]
        assert eko.deadline == dt.date(2018, 3, 31)
        assert (eko.period_start, eko.period_end) == (dt.date(2017, 1, 1), dt.date(2017, 12, 31))
        assert eko.consequence.value == "reclaim_possible"
        red = reports["verksamhetsrapport"]
        assert red.receivers == ["socialstyrelsen"]
        assert red.deadline == dt.date(2018, 3, 31)
        assert red.consequence.value == "none_stated"


def test_report_deadlines_skl() -> None:
    a = agreement()
    reports = {r.kind.value: r for r in a.part("skl-stodinsatser").terms.reports}
    # L552–553: ekonomisk redovisning to Kammarkollegiet "senast den 31 mars 2018"
    assert "Kammarkollegiet senast den" in line(552) and "31 mars 2018" in line(553)
    assert reports["ekonomisk_redovisning"].deadline == dt.date(2018, 3, 31)
    assert reports["ekonomisk_redovisning"].receivers == ["kammarkollegiet"]
    assert reports["ekonomisk_redovisning"].owed_by == "skr"
    # L492–494: slutlig verksamhetsrapport to Regeringskansliet "senast den 31 mars 2018 ... om inte annat överenskoms"
    assert "Regeringskansliet (Socialdepartementet) senast den" in line(492)
    assert "31 mars 2018" in line(493)
    assert "om inte annat överenskoms" in line(494)
    assert reports["verksamhetsrapport"].deadline == dt.date(2018, 3, 31)
    assert reports["verksamhetsrapport"].receivers == ["regeringskansliet"]
    # L442: NKR IT proposal "ska vara klart senast den 1 oktober 2017"
    assert "senast den 1 oktober 2017" in line(442)
    assert reports["other"].deadline == dt.date(2017, 10, 1)


def test_reclaim_clause_is_verbatim() -> None:
    a = agreement()
    for pid, (start, end) in [("stimulansmedel", (524, 525)), ("skl-stodinsatser", (556, 557))]:
        reclaim = a.part(pid).terms.reclaim
        assert reclaim.exists is True
        assert [t.value for t in reclaim.triggers] == ["report_late_or_missing"]
        joined = lines(start, end).replace("redo- visning", "redovisning")
        assert reclaim.text in joined


def test_dnr_signature_and_policy_terms() -> None:
    a = agreement()
    # L527–528: both diarienummer on all documents; L528–530 original signature
    assert "diarienummer för överenskommelsen och för rege-" in line(527)
    assert "undertecknade i original" in line(530)
    for part in a.parts:
        assert part.terms.both_dnr_required is True
        assert part.terms.signature_in_original is True
        assert part.terms.deadline_policy.value == "strict"
        assert part.terms.deadline_policy_source.startswith("not stated")
        assert part.appropriations[0].utgiftsomrade == 9
        assert part.appropriations[0].anslag == "1:6"
    # L573: "anslag 1:6 Bidrag till folkhälsa och sjukvård, anslagspost 1,"
    assert "anslag 1:6" in line(573) and "anslagspost 1" in line(573)


def test_signatures_and_decisions() -> None:
    a = agreement()
    # L589: "Stockholm den 20 januari 2017 Stockholm den 20 januari 2017"
    assert line(589).count("den 20 januari 2017") == 2
    assert {s.date for s in a.signatures} == {dt.date(2017, 1, 20)}
    assert {s.party for s in a.signatures} == {"regeringen", "skr"}
    # L594: "Agneta Karlsson  Lena Dahl"
    assert "Agneta Karlsson" in line(594) and "Lena Dahl" in line(594)
    assert {d.body for d in a.decisions} == {"government", "skl_board"}
    assert all(d.date is None and d.dnr is None for d in a.decisions)
    assert a.dnr == []
