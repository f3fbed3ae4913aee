"""Scenarios for Hälso- och sjukvård och folkhälsa 2021 (seed 000): money, deadlines and reclaim.

Each test covers one edge case of notes/seed_000.md §7–§8. The catalogue is recorded on
21 December 2020 (the state's signature); payment is decided in the regleringsbrev for
chapters 2–5 and by a särskilt regeringsbeslut for chapter 6 (PSV). The PSV region money
(60 000 000 + 215 000 000 kr) has no printed rows: it stays unallocated until an
``allocation_decided`` event.
"""

from __future__ import annotations

import pytest

from ledger.application import Ledger
from projections.reconciliation import reconcile
from tests.scenarios.builders import (
    Book,
    allocation_decided,
    allocation_kr,
    clock,
    expense_report,
    kr,
    load_catalogue,
    onward_transfer,
    payment_decision,
    payout,
    reclaim_decided,
    reclaim_settled,
    record,
    repayment,
    report_received,
    requisition,
)

A = "halso-och-sjukvard-folkhalsa-2021"
LOADED_AT = "2020-12-21T08:00"
KAP2, KAP3, KAP4, KAP5, KAP6 = ("kap2-sakrare-vard", "kap3-kvalitetsregister", "kap4-lakemedel",
                                "kap5-sallsynta-halsotillstand", "kap6-psv")
SAMVERKANSREGIONER = ("region-stockholm", "region-uppsala", "region-ostergotland", "region-skane",
                      "region-vastra-gotaland", "region-vasterbotten")


@pytest.fixture
def book(ledger: Ledger) -> Book:
    load_catalogue(ledger, A, LOADED_AT)
    record(ledger, "2020-12-22T09:00",
           *[payment_decision(A, "2020-12-22", part_id=p, instrument="regleringsbrev", dnr="S2020/09876")
             for p in (KAP2, KAP3, KAP4, KAP5)])
    record(ledger, "2021-02-01T09:00", payment_decision(A, "2021-02-01", part_id=KAP6, dnr="S2021/00777"))
    return Book(ledger, A)


def skr_paid(book: Book, part_id: str, amount_kr: int, route: str = "direct") -> None:
    assert allocation_kr(A, part_id, "skr") == amount_kr
    record(book.ledger, "2021-03-01T09:00", requisition(A, part_id, "skr", kr(amount_kr), "2021-03-01"))
    record(book.ledger, "2021-03-15T09:00", payout(A, part_id, "skr", kr(amount_kr), "2021-03-15", route=route))


def unallocated(book: Book, as_of: str, known_at: str | None = None) -> int:
    as_of_text, known_text = clock(as_of, known_at).params
    rows = book.ledger.views.account_sums(as_of_text, known_text, agreement_id=A)
    return sum(int(r["amount"]) for r in rows if r["account"] == "unallocated")


def test_requisition_received_1_december_2021_is_in_time_and_2_december_lapses(book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2021-12-01T10:00", requisition(A, KAP2, "skr", kr(5_600_000), "2021-12-01"))
    late = requisition(A, KAP4, "skr", kr(5_000_000), "2021-12-02", note="Avsänd 2021-11-30, inkom 2021-12-02")
    record(ledger, "2021-12-02T10:00", late)

    assert [book.balance("skr", p, "2021-12-01")["lapsed"] for p in (KAP2, KAP3, KAP4, KAP5, KAP6)] == [0] * 5
    lapsed = {p: book.balance("skr", p, "2021-12-02")["lapsed"] for p in (KAP2, KAP3, KAP4, KAP5, KAP6)}
    assert lapsed == {KAP2: 0, KAP3: kr(86_750_000), KAP4: kr(5_000_000), KAP5: kr(10_000_000),
                      KAP6: kr(15_000_000)}
    assert [(f["part_id"], f["amount"], f["events"]) for f in book.findings("2021-12-02", rule="requisition_late")] == [
        (KAP4, kr(5_000_000), [late["event_id"]])]
    duty = book.obligation("skr", "requisition", "2021-12-02", part_id=KAP4)
    assert (duty["deadline"], duty["state"], duty["received_on"]) == ("2021-12-01", "met_late", "2021-12-02")


def test_blank_psv_tables_stay_unallocated_until_allocation_decided(book: Book) -> None:
    ledger = book.ledger
    assert unallocated(book, "2021-01-04") == kr(275_000_000)
    psv = [b for b in book.balances("2021-01-04") if b["part_id"] == KAP6]
    assert [(b["recipient_id"], b["allocated"]) for b in psv] == [("skr", kr(15_000_000))]
    assert sum(b["allocated"] for b in book.balances("2021-01-04")) == kr(122_350_000)

    shares = [allocation_decided(A, KAP6, r, kr(10_000_000), "2021-02-10", table_id="kap6-psv-samverkansregioner",
                                 beneficiary=f"Samverkansregion med {r}", basis="Lika belopp, L1557–1563")
              for r in SAMVERKANSREGIONER]
    skane = allocation_decided(A, KAP6, "region-skane", kr(28_500_000), "2021-02-10", table_id="kap6-psv-befolkning",
                               basis="Befolkningsunderlag 2020-11-01")
    record(ledger, "2021-02-15T10:00", *shares, skane)

    assert unallocated(book, "2021-02-15") == kr(275_000_000 - 60_000_000 - 28_500_000)
    line = book.balance("region-skane", KAP6, "2021-02-15")
    assert (line["allocated"], line["requisitioned"], line["paid"]) == (kr(38_500_000), 0, 0)
    assert sum(b["allocated"] for b in book.balances("2021-02-15")) == kr(122_350_000 + 88_500_000)
    # Before the decision took effect, or as known before it was recorded: still unallocated.
    assert book.balance("region-skane", KAP6, "2021-02-09") == {}
    assert book.balance("region-skane", KAP6, "2021-02-15", "2021-02-14") == {}
    assert unallocated(book, "2021-02-15", "2021-02-14") == kr(275_000_000)
    assert book.trial_balance("2021-02-15") == 0

    # Allocated rows lapse like printed ones when not requisitioned by 1 December.
    record(ledger, "2021-11-15T10:00", requisition(A, KAP6, "region-uppsala", kr(10_000_000), "2021-11-15"))
    assert book.balance("region-uppsala", KAP6, "2021-12-02")["lapsed"] == 0
    assert book.balance("region-skane", KAP6, "2021-12-02")["lapsed"] == kr(38_500_000)

    agreement = ledger.agreement(A)
    assert agreement is not None
    part = next(p for p in reconcile(agreement, {KAP6: kr(88_500_000)}).parts if p.part_id == KAP6)
    assert (part.stated_total, part.allocated_rows, part.unallocated_blank, part.allocated_later, part.difference) == (
        kr(290_000_000), kr(15_000_000), kr(275_000_000), kr(88_500_000), 0)


def test_region_requisitioning_psv_money_before_its_allocation_is_decided_is_above_allocation_until_then(
        book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2021-02-01T10:00", requisition(A, KAP6, "region-skane", kr(38_500_000), "2021-02-01"))
    [early] = book.findings("2021-02-01", rule="requisition_above_allocation")
    assert (early["recipient_id"], early["part_id"], early["amount"]) == ("region-skane", KAP6, kr(38_500_000))
    record(ledger, "2021-02-10T10:00",
           allocation_decided(A, KAP6, "region-skane", kr(10_000_000), "2021-02-10",
                              table_id="kap6-psv-samverkansregioner"),
           allocation_decided(A, KAP6, "region-skane", kr(28_500_000), "2021-02-10", table_id="kap6-psv-befolkning"))
    assert book.findings("2021-02-10", rule="requisition_above_allocation") == []
    assert len(book.findings("2021-02-10", "2021-02-09", rule="requisition_above_allocation")) == 1


def test_region_requisitioning_via_skr_money_directly_is_above_its_allocation(book: Book) -> None:
    # Chapter 5 money is paid only via SKR (L1222): Region Stockholm has no row of its own.
    ledger = book.ledger
    record(ledger, "2021-04-01T10:00", requisition(A, KAP5, "region-stockholm", kr(3_000_000), "2021-04-01"))
    record(ledger, "2021-04-15T10:00", payout(A, KAP5, "region-stockholm", kr(3_000_000), "2021-04-15"))
    rules = sorted((f["rule"], f["amount"]) for f in book.findings("2021-04-15", recipient_id="region-stockholm")
                   if f["rule"].endswith("above_allocation"))
    assert rules == [("payout_above_allocation", kr(3_000_000)), ("requisition_above_allocation", kr(3_000_000))]
    assert book.reclaim("region-stockholm", "2021-04-15")["eligible_amount"] == kr(3_000_000)
    assert allocation_kr(A, KAP5, "skr") == 10_000_000


def test_via_skr_money_not_passed_on_by_year_end_counts_only_the_pass_through_share(book: Book) -> None:
    ledger = book.ledger
    skr_paid(book, KAP5, 10_000_000, route="via_skr")  # 6 000 000 + 3 000 000 via SKR, 1 000 000 SKR's own
    skr_paid(book, KAP3, 86_750_000)  # 25 750 000 SKR's own, 54 000 000 + 7 000 000 via SKR
    record(ledger, "2021-06-01T10:00",
           onward_transfer(A, KAP5, "skr", kr(6_000_000), "2021-06-01", to_recipient_id="region-stockholm",
                           to_name=None),
           onward_transfer(A, KAP3, "skr", kr(61_000_000), "2021-06-01", to_name="Sex RCO:s värdregioner"))

    assert book.findings("2021-12-31", rule="not_passed_on") == []
    [held] = book.findings("2022-01-01", rule="not_passed_on")
    assert (held["recipient_id"], held["part_id"], held["amount"]) == ("skr", KAP5, kr(3_000_000))
    line = book.balance("skr", KAP5, "2022-01-01")
    assert (line["paid"], line["passed_on"], line["held"]) == (kr(10_000_000), kr(6_000_000), kr(4_000_000))
    # Passed on in January 2022: the money was still held over the year end.
    record(ledger, "2022-01-20T10:00", onward_transfer(A, KAP5, "skr", kr(3_000_000), "2022-01-20",
                                                       to_name="Samverkansregionerna, samordning"))
    [still] = book.findings("2022-02-01", rule="not_passed_on")
    assert (still["part_id"], still["amount"]) == (KAP5, kr(3_000_000))
    assert book.balance("skr", KAP5, "2022-02-01")["held"] == kr(1_000_000)
    # The receiving region's own balance does not hold SKR's pass-through money.
    assert [b["part_id"] for b in book.balances("2022-02-01", recipient_id="region-stockholm")] == []


def test_expense_report_received_1_april_2022_is_reclaim_eligible_but_no_debt_until_a_reclaim_is_decided(
        book: Book) -> None:
    ledger = book.ledger
    skr_paid(book, KAP2, 5_600_000)
    skr_paid(book, KAP4, 5_000_000)
    record(ledger, "2022-03-31T10:00", repayment(A, KAP2, "skr", kr(300_000), "2022-03-31"))
    record(ledger, "2022-04-01T10:00", expense_report(A, None, "skr", kr(10_600_000), kr(10_000_000), "2022-04-01"),
           repayment(A, KAP2, "skr", kr(300_000), "2022-04-01"))

    on_time = book.due_back("skr", "2022-03-31")
    assert (on_time["report_received"], on_time["due"], on_time["repaid"], on_time["outstanding"]) == (
        False, 0, kr(300_000), 0)
    assert book.reclaim("skr", "2022-03-31") == {}
    owed = book.due_back("skr", "2022-04-01")
    assert (owed["due"], owed["repaid"], owed["outstanding"], owed["overdue"]) == (kr(600_000), kr(600_000), 0, 0)
    assert book.obligation("skr", "repayment", "2022-04-01")["state"] == "met_late"
    eligible = book.reclaim("skr", "2022-04-01")
    assert (eligible["reasons"], eligible["eligible_amount"], eligible["decided"], eligible["outstanding"]) == (
        ["expense report late (deadline 2022-03-31)"], kr(10_000_000), 0, 0)
    assert sum(b["reclaim_decided"] + b["reclaim_outstanding"] for b in book.balances("2022-04-01")) == 0

    # The government reclaims "stödet" in full: what was repaid as unspent is not claimed again.
    decision = reclaim_decided(A, None, "skr", kr(10_600_000), "2022-06-01")
    record(ledger, "2022-06-01T10:00", decision)
    decided = book.reclaim("skr", "2022-06-01")
    assert (decided["decided"], decided["settled"], decided["outstanding"]) == (kr(10_600_000), 0, kr(10_000_000))
    whole = book.balance("skr", None, "2022-06-01")
    assert (whole["reclaim_decided"], whole["reclaim_outstanding"]) == (kr(10_600_000), kr(10_000_000))
    assert book.reclaim("skr", "2022-06-01", "2022-05-31")["decided"] == 0

    record(ledger, "2022-07-01T10:00", reclaim_settled(decision, kr(10_000_000), "2022-07-01"))
    settled = book.reclaim("skr", "2022-07-01")
    assert (settled["decided"], settled["settled"], settled["outstanding"]) == (
        kr(10_600_000), kr(10_000_000), 0)
    assert book.balance("skr", None, "2022-07-01")["reclaim_outstanding"] == 0
    assert book.trial_balance("2022-07-01") == 0


def test_psv_verksamhetsrapport_received_20_march_is_late_but_only_the_expense_report_opens_a_reclaim(
        book: Book) -> None:
    ledger = book.ledger
    skr_paid(book, KAP6, 15_000_000)
    record(ledger, "2022-03-20T10:00", report_received(A, "skr", "verksamhetsrapport", "regeringskansliet",
                                                       "2022-03-20", part_id=KAP6))
    record(ledger, "2022-03-30T10:00", expense_report(A, KAP6, "skr", kr(15_000_000), kr(15_000_000), "2022-03-30"))

    assert book.obligation("skr", "verksamhetsrapport", "2022-03-15")["state"] == "upcoming"
    assert book.obligation("skr", "verksamhetsrapport", "2022-03-16")["state"] == "missed"
    duty = book.obligation("skr", "verksamhetsrapport", "2022-03-20")
    assert (duty["deadline"], duty["state"], duty["received_on"]) == ("2022-03-15", "met_late", "2022-03-20")
    assert book.obligation("skr", "ekonomisk_redovisning", "2022-04-01")["state"] == "met"
    assert book.reclaim("skr", "2022-04-01") == {}
    assert book.due_back("skr", "2022-04-01") == {}


def test_alt2_without_deviations_and_unspent_not_matching_grant_minus_costs_are_findings(book: Book) -> None:
    ledger = book.ledger
    skr_paid(book, KAP4, 5_000_000)
    report = expense_report(A, KAP4, "skr", kr(5_000_000), kr(4_500_000), "2022-03-25", attestation="alt2",
                            stated_unspent=0)
    record(ledger, "2022-03-25T10:00", report)
    found = {f["rule"]: f["description"] for f in book.findings("2022-03-25", recipient_id="skr")
             if f["rule"] in ("attestation_alt2", "report_arithmetic")}
    assert found == {
        "attestation_alt2": "Finance director's attestation Alt 2: the report is not correct: no deviations stated",
        "report_arithmetic": "Expense report arithmetic does not add up: stated unspent 0,"
                             " received − costs = 50000000",
    }
    # Due back follows the ledger's figures (paid − costs), not the stated unspent.
    owed = book.due_back("skr", "2022-03-25")
    assert (owed["due"], owed["outstanding"]) == (kr(500_000), kr(500_000))
    assert book.due_back("skr", "2022-04-01")["overdue"] == kr(500_000)
    # Alt 2 is no reclaim trigger here (only a late report is, L1811–1813).
    assert book.reclaim("skr", "2022-04-01") == {}


def test_costs_incurred_in_2022_reported_as_2021_use_are_outside_the_period(book: Book) -> None:
    ledger = book.ledger
    skr_paid(book, KAP2, 5_600_000)
    report = expense_report(A, KAP2, "skr", kr(5_600_000), kr(5_600_000), "2022-03-28", period_end="2022-02-28")
    record(ledger, "2022-03-28T10:00", report)
    [outside] = book.findings("2022-03-28", rule="costs_outside_period")
    assert (outside["recipient_id"], outside["events"]) == ("skr", [report["event_id"]])
    assert outside["description"].endswith("period 2021-01-01–2022-02-28")


def test_co_financing_and_money_outside_the_agreement_are_never_booked(book: Book) -> None:
    agreement = book.ledger.agreement(A)
    assert agreement is not None
    result = reconcile(agreement)
    assert (result.stated_state, result.stated_co_financing, result.stated_total) == (
        kr(397_350_000), kr(100_000_000), kr(497_350_000))
    assert (result.parts_total, result.difference) == (kr(397_350_000), 0)
    assert [f for f in result.findings if f.kind != "known_discrepancy"] == []
    # State money only: printed rows plus the blank PSV tables, never the regions' 100 000 000,
    # the 3 000 000 to Socialstyrelsen or the 10 000 000 for state follow-up.
    allocated = sum(b["allocated"] for b in book.balances("2021-01-04"))
    assert allocated + unallocated(book, "2021-01-04") == kr(397_350_000)
    assert {b["recipient_id"] for b in book.balances("2021-01-04")} == {"skr"}
    assert book.trial_balance("2021-01-04") == 0


def test_a_seventh_psv_share_above_the_sixty_million_for_six_samverkansregioner_is_a_finding(book: Book) -> None:
    ledger = book.ledger
    shares = [allocation_decided(A, KAP6, r, kr(10_000_000), "2021-02-10", table_id="kap6-psv-samverkansregioner")
              for r in SAMVERKANSREGIONER]
    record(ledger, "2021-02-10T10:00", *shares)
    assert book.findings("2021-02-10", rule="allocation_above_blank") == []
    seventh = allocation_decided(A, KAP6, "region-orebro", kr(10_000_000), "2021-03-01",
                                 table_id="kap6-psv-samverkansregioner")
    record(ledger, "2021-03-01T10:00", seventh)
    [over] = book.findings("2021-03-01", rule="allocation_above_blank")
    assert (over["part_id"], over["amount"], over["events"]) == (
        KAP6, kr(10_000_000), [s["event_id"] for s in shares] + [seventh["event_id"]])
    # The part as a whole still has money left (275 000 000 − 70 000 000): the table is what is over.
    assert unallocated(book, "2021-03-01") == kr(205_000_000)
    assert book.findings("2021-02-28", rule="allocation_above_blank") == []
    # An allocation naming no table counts against the part's blank money only.
    record(ledger, "2021-03-02T10:00", allocation_decided(A, KAP6, "region-skane", kr(205_000_000), "2021-03-02"))
    assert unallocated(book, "2021-03-02") == 0
    assert [f["amount"] for f in book.findings("2021-03-02", rule="allocation_above_blank")] == [kr(10_000_000)]


def test_psv_allocations_naming_no_table_above_the_275_million_left_blank_are_a_finding(book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2021-02-10T10:00", allocation_decided(A, KAP6, "region-stockholm", kr(200_000_000), "2021-02-10"),
           allocation_decided(A, KAP6, "region-skane", kr(75_000_000), "2021-02-10"))
    assert book.findings("2021-02-10", rule="allocation_above_blank") == []
    extra = allocation_decided(A, KAP6, "region-uppsala", kr(1), "2021-02-11")
    record(ledger, "2021-02-11T10:00", extra)
    [over] = book.findings("2021-02-11", rule="allocation_above_blank")
    assert (over["amount"], over["events"][-1]) == (kr(1), extra["event_id"])
    assert unallocated(book, "2021-02-11") == -kr(1)
