"""Scenarios for God och nära vård 2020 (seed 003): money, deadlines and reclaim.

Each test covers one edge case of notes/seed_003.md §7–§8. The catalogue is recorded on
3 February 2020 (after the signatures of 30/31 January) so that views known at a date in
2020–2021 see the agreement; every later fact is appended with "today" frozen at the
instant it was recorded. Amounts are öre; figures come from the printed Bilagor.
"""

from __future__ import annotations

import pytest

from ledger.application import Ledger
from projections.reconciliation import reconcile
from tests.scenarios.builders import (
    Book,
    allocation_kr,
    correction,
    deadline_amended,
    expense_report,
    kr,
    load_catalogue,
    onward_transfer,
    payment_decision,
    payout,
    reclaim_decided,
    record,
    repayment,
    report_received,
    requisition,
)

A = "god-och-nara-vard-2020"
LOADED_AT = "2020-02-03T08:00"
MONEY_RULES = {"requisition_late", "second_requisition", "second_payout", "requisition_above_allocation",
               "payout_above_allocation", "payout_without_payment_decision", "payout_without_requisition"}

# Bilaga 1 (L746–766): Nära vård/primärvård + Generell resursförstärkning are one part.
BLEKINGE_NARA_VARD = 22_214_156 + 23_220_372  # 45 434 528 kr
DALARNA_NARA_VARD = 40_020_050 + 41_832_805  # 81 852 855 kr


@pytest.fixture
def book(ledger: Ledger) -> Book:
    load_catalogue(ledger, A, LOADED_AT)
    record(ledger, "2020-02-20T09:00", payment_decision(A, "2020-02-20"))
    return Book(ledger, A)


def money_rules(book: Book, as_of: str, known_at: str | None = None, recipient_id: str | None = None) -> list[str]:
    return [r for r in book.rules(as_of, known_at, recipient_id) if r in MONEY_RULES]


def test_printed_allocations_are_the_entitlements() -> None:
    assert allocation_kr(A, "nara-vard", "region-blekinge") == BLEKINGE_NARA_VARD == 45_434_528
    assert allocation_kr(A, "nara-vard", "region-dalarna") == DALARNA_NARA_VARD == 81_852_855


def test_requisition_received_on_1_december_is_in_time_and_on_2_december_lapses_the_right(book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2020-12-01T10:00",
           requisition(A, "nara-vard", "region-blekinge", kr(BLEKINGE_NARA_VARD), "2020-12-01"))
    late = requisition(A, "nara-vard", "region-dalarna", kr(DALARNA_NARA_VARD), "2020-12-02",
                       note="Poststämplad 2020-12-01, inkom 2020-12-02")
    record(ledger, "2020-12-02T10:00", late)

    # On 1 December nothing has lapsed: the deadline day itself is in time.
    day1 = book.balance("region-dalarna", "nara-vard", "2020-12-01", "2020-12-01")
    assert (day1["allocated"], day1["requisitioned"], day1["lapsed"]) == (kr(DALARNA_NARA_VARD), 0, 0)
    assert book.obligation("region-dalarna", "requisition", "2020-12-01", "2020-12-01",
                           part_id="nara-vard")["state"] == "upcoming"

    # On 2 December the right lapsed for every allocation not requisitioned by 1 December.
    dalarna = book.balance("region-dalarna", "nara-vard", "2020-12-02", "2020-12-02")
    assert (dalarna["requisitioned"], dalarna["lapsed"]) == (kr(DALARNA_NARA_VARD), kr(DALARNA_NARA_VARD))
    blekinge = book.balance("region-blekinge", "nara-vard", "2020-12-02", "2020-12-02")
    assert (blekinge["requisitioned"], blekinge["lapsed"]) == (kr(BLEKINGE_NARA_VARD), 0)
    gotland = book.balance("region-gotland", "nara-vard", "2020-12-02", "2020-12-02")
    assert gotland["lapsed"] == kr(8_292_832 + 8_668_466)

    late_findings = book.findings("2020-12-02", "2020-12-02", rule="requisition_late")
    assert [(f["recipient_id"], f["amount"], f["events"]) for f in late_findings] == [
        ("region-dalarna", kr(DALARNA_NARA_VARD), [late["event_id"]])]
    duty = book.obligation("region-dalarna", "requisition", "2020-12-02", part_id="nara-vard")
    assert (duty["state"], duty["deadline"], duty["received_on"]) == ("met_late", "2020-12-01", "2020-12-02")
    assert book.obligation("region-blekinge", "requisition", "2020-12-02", part_id="nara-vard")["state"] == "met"

    # Known before Dalarna's requisition was recorded: lapsed, nothing requisitioned, missed.
    before = book.balance("region-dalarna", "nara-vard", "2020-12-02", "2020-12-02T09:00")
    assert (before["requisitioned"], before["lapsed"]) == (0, kr(DALARNA_NARA_VARD))
    assert book.obligation("region-dalarna", "requisition", "2020-12-02", "2020-12-02T09:00",
                           part_id="nara-vard")["state"] == "missed"


def test_partial_requisition_lapses_the_remainder_after_1_december(book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2020-06-15T10:00", requisition(A, "nara-vard", "region-blekinge", kr(30_000_000), "2020-06-15"))
    record(ledger, "2020-06-30T10:00", payout(A, "nara-vard", "region-blekinge", kr(30_000_000), "2020-06-30"))

    dec1 = book.balance("region-blekinge", "nara-vard", "2020-12-01")
    assert (dec1["requisitioned"], dec1["paid"], dec1["lapsed"]) == (kr(30_000_000), kr(30_000_000), 0)
    dec2 = book.balance("region-blekinge", "nara-vard", "2020-12-02")
    assert (dec2["allocated"], dec2["paid"], dec2["lapsed"]) == (kr(45_434_528), kr(30_000_000), kr(15_434_528))
    assert money_rules(book, "2020-12-02", recipient_id="region-blekinge") == []
    # A lapsed amount was never paid, so it is never due back.
    record(ledger, "2021-03-20T10:00",
           expense_report(A, "nara-vard", "region-blekinge", kr(30_000_000), kr(30_000_000), "2021-03-20"))
    assert book.due_back("region-blekinge", "2021-04-01") == {}


def test_second_requisition_and_payout_for_the_remainder_break_the_lump_sum_rule(book: Book) -> None:
    ledger = book.ledger
    first = requisition(A, "nara-vard", "region-blekinge", kr(30_000_000), "2020-06-15")
    second = requisition(A, "nara-vard", "region-blekinge", kr(15_434_528), "2020-11-20")
    record(ledger, "2020-06-15T10:00", first)
    pay1 = payout(A, "nara-vard", "region-blekinge", kr(30_000_000), "2020-06-30")
    record(ledger, "2020-06-30T10:00", pay1)
    record(ledger, "2020-11-20T10:00", second)
    pay2 = payout(A, "nara-vard", "region-blekinge", kr(15_434_528), "2020-11-30")
    record(ledger, "2020-11-30T10:00", pay2)

    assert money_rules(book, "2020-11-19") == []
    assert money_rules(book, "2020-11-20") == ["second_requisition"]
    line = book.balance("region-blekinge", "nara-vard", "2020-12-02")
    assert (line["requisitioned"], line["paid"], line["lapsed"]) == (kr(45_434_528), kr(45_434_528), 0)
    found = {f["rule"]: f["events"] for f in book.findings("2020-12-02") if f["rule"] in MONEY_RULES}
    assert found == {"second_requisition": [first["event_id"], second["event_id"]],
                     "second_payout": [pay1["event_id"], pay2["event_id"]]}


def test_barnhalsovard_paid_twice_is_a_second_payout_above_the_allocation(book: Book) -> None:
    # Kammarkollegiet distributes BHV money by Bilaga 3 (L668) and the region also requisitions it.
    ledger = book.ledger
    assert allocation_kr(A, "barnhalsovard", "region-halland") == 2_729_413
    record(ledger, "2020-03-02T10:00", requisition(A, "barnhalsovard", "region-halland", kr(2_729_413), "2020-03-02"))
    record(ledger, "2020-03-16T10:00", payout(A, "barnhalsovard", "region-halland", kr(2_729_413), "2020-03-16"),
           payout(A, "barnhalsovard", "region-halland", kr(2_729_413), "2020-03-16", note="Fördelning enligt bilaga 3"))

    line = book.balance("region-halland", "barnhalsovard", "2020-03-16")
    assert (line["allocated"], line["paid"]) == (kr(2_729_413), kr(5_458_826))
    assert money_rules(book, "2020-03-16") == ["payout_above_allocation", "second_payout"]
    above = book.findings("2020-03-16", rule="payout_above_allocation")[0]
    assert above["amount"] == kr(2_729_413)
    assert book.reclaim("region-halland", "2020-03-16")["eligible_amount"] == kr(2_729_413)


def test_requisition_and_payout_above_the_allocation_are_findings_and_the_overpayment_is_reclaimable(
        book: Book) -> None:
    ledger = book.ledger
    assert allocation_kr(A, "karriartjanster", "region-gotland") == 577_898
    record(ledger, "2020-05-04T10:00", requisition(A, "karriartjanster", "region-gotland", kr(600_000), "2020-05-04"))
    record(ledger, "2020-05-20T10:00", payout(A, "karriartjanster", "region-gotland", kr(600_000), "2020-05-20"))

    assert money_rules(book, "2020-05-19") == ["requisition_above_allocation"]
    assert book.findings("2020-05-19", rule="requisition_above_allocation")[0]["amount"] == kr(22_102)
    assert money_rules(book, "2020-05-20") == ["payout_above_allocation", "requisition_above_allocation"]
    assert book.findings("2020-05-20", rule="payout_above_allocation")[0]["amount"] == kr(22_102)
    claim = book.reclaim("region-gotland", "2020-05-20")
    assert (claim["reasons"], claim["eligible_amount"], claim["decided"]) == (
        ["overpayment: paid above the allocation"], kr(22_102), 0)
    assert book.reclaim("region-gotland", "2020-05-19") == {}


def test_payout_without_payment_decision_or_requisition_until_both_are_recorded_back_dated(ledger: Ledger) -> None:
    load_catalogue(ledger, A, LOADED_AT)
    book = Book(ledger, A)
    paid = payout(A, "barnhalsovard", "region-halland", kr(2_729_413), "2020-03-02")
    record(ledger, "2020-03-02T10:00", paid)
    assert money_rules(book, "2020-03-02") == ["payout_without_payment_decision", "payout_without_requisition"]
    assert {f["amount"] for f in book.findings("2020-03-02", recipient_id="region-halland")
            if f["rule"] in MONEY_RULES} == {kr(2_729_413)}

    # Recorded on 10 March: the decision of 27 February and the requisition received 28 February.
    record(ledger, "2020-03-10T10:00", payment_decision(A, "2020-02-27", part_id="barnhalsovard"),
           requisition(A, "barnhalsovard", "region-halland", kr(2_729_413), "2020-02-28"))
    assert money_rules(book, "2020-03-02", "2020-03-09") == [
        "payout_without_payment_decision", "payout_without_requisition"]
    assert money_rules(book, "2020-03-02", "2020-03-10T11:00") == []

    # A decision dated after the payout does not cover it.
    other = payout(A, "karriartjanster", "region-halland", kr(3_228_866), "2020-03-03")
    record(ledger, "2020-03-11T10:00", requisition(A, "karriartjanster", "region-halland", kr(3_228_866), "2020-03-01"),
           other)
    record(ledger, "2020-03-12T10:00", payment_decision(A, "2020-03-12", part_id="karriartjanster"))
    assert [f["events"] for f in book.findings("2020-03-31", rule="payout_without_payment_decision")] == [
        [other["event_id"]]]


def test_late_expense_report_makes_reclaim_eligible_not_a_debt_then_a_reclaim_is_decided_and_settled(
        book: Book) -> None:
    # SKR's 52 000 000 kr (L651). Report due 31 March 2021 (L694); reclaim is discretionary.
    ledger = book.ledger
    record(ledger, "2020-03-02T10:00", requisition(A, "skr-stod", "skr", kr(52_000_000), "2020-03-02"))
    record(ledger, "2020-03-16T10:00", payout(A, "skr-stod", "skr", kr(52_000_000), "2020-03-16"))

    assert book.reclaim("skr", "2021-03-31") == {}
    assert book.obligation("skr", "ekonomisk_redovisning", "2021-03-31")["state"] == "upcoming"
    eligible = book.reclaim("skr", "2021-04-01")
    assert (eligible["reasons"], eligible["eligible_amount"], eligible["decided"], eligible["outstanding"]) == (
        ["expense report missing (deadline 2021-03-31)"], kr(52_000_000), 0, 0)
    line = book.balance("skr", "skr-stod", "2021-04-01")
    assert (line["reclaim_decided"], line["reclaim_outstanding"], line["repaid"]) == (0, 0, 0)
    assert book.due_back("skr", "2021-04-01") == {}  # eligibility is not a debt

    record(ledger, "2021-04-12T10:00", expense_report(A, "skr-stod", "skr", kr(52_000_000), kr(48_000_000),
                                                      "2021-04-12"))
    owed = book.due_back("skr", "2021-04-12")
    assert (owed["due"], owed["repaid"], owed["outstanding"], owed["overdue"]) == (
        kr(4_000_000), 0, kr(4_000_000), kr(4_000_000))
    record(ledger, "2021-04-20T10:00", repayment(A, "skr-stod", "skr", kr(4_000_000), "2021-04-20"))
    late = book.reclaim("skr", "2021-04-20")
    assert (late["reasons"], late["eligible_amount"]) == (
        ["expense report late (deadline 2021-03-31)"], kr(48_000_000))

    # The government reclaims "stödet" net of the unspent funds already repaid.
    decision = reclaim_decided(A, "skr-stod", "skr", kr(48_000_000), "2021-06-01")
    record(ledger, "2021-06-01T10:00", decision)
    decided = book.reclaim("skr", "2021-06-01")
    assert (decided["decided"], decided["settled"], decided["outstanding"], decided["decisions"]) == (
        kr(48_000_000), 0, kr(48_000_000), [decision["dnr"]])
    line = book.balance("skr", "skr-stod", "2021-06-01")
    assert (line["reclaim_decided"], line["reclaim_settled"], line["reclaim_outstanding"]) == (
        kr(48_000_000), 0, kr(48_000_000))

    record(ledger, "2021-06-30T10:00", repayment(A, "skr-stod", "skr", kr(48_000_000), "2021-06-30",
                                                 reclaim_event_id=decision["event_id"]))
    settled = book.reclaim("skr", "2021-06-30")
    assert (settled["decided"], settled["settled"], settled["outstanding"], settled["eligible_amount"]) == (
        kr(48_000_000), kr(48_000_000), 0, 0)
    line = book.balance("skr", "skr-stod", "2021-06-30")
    assert (line["repaid"], line["reclaim_decided"], line["reclaim_settled"], line["reclaim_outstanding"]) == (
        kr(52_000_000), kr(48_000_000), kr(48_000_000), 0)
    # Every krona repaid counts once: due back stays settled, nothing is owed twice.
    owed = book.due_back("skr", "2021-06-30")
    assert (owed["due"], owed["repaid"], owed["outstanding"], owed["overdue"]) == (
        kr(4_000_000), kr(52_000_000), 0, 0)
    assert book.trial_balance("2021-06-30") == 0


def test_unspent_zero_but_report_late_is_still_reclaim_eligible(book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2020-04-01T10:00", requisition(A, "karriartjanster", "region-gotland", kr(577_898), "2020-04-01"))
    record(ledger, "2020-04-15T10:00", payout(A, "karriartjanster", "region-gotland", kr(577_898), "2020-04-15"))
    # One ekonomisk redovisning for the year, covering every part (part_id None).
    record(ledger, "2021-04-06T10:00", expense_report(A, None, "region-gotland", kr(577_898),
                                                      kr(577_898), "2021-04-06"))
    assert book.due_back("region-gotland", "2021-04-06") == {}
    claim = book.reclaim("region-gotland", "2021-04-06")
    assert (claim["reasons"], claim["eligible_amount"], claim["decided"]) == (
        ["expense report late (deadline 2021-03-31)"], kr(577_898), 0)


def test_unspent_funds_are_due_back_by_31_march_partly_repaid_and_overdue_after(book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2020-03-20T10:00", requisition(A, "nara-vard", "region-blekinge", kr(45_434_528), "2020-03-20"))
    record(ledger, "2020-04-01T10:00", payout(A, "nara-vard", "region-blekinge", kr(45_434_528), "2020-04-01"))
    record(ledger, "2021-03-15T10:00", expense_report(A, "nara-vard", "region-blekinge", kr(45_434_528),
                                                      kr(40_000_000), "2021-03-15"))
    record(ledger, "2021-03-25T10:00", repayment(A, "nara-vard", "region-blekinge", kr(2_000_000), "2021-03-25"))
    record(ledger, "2021-04-14T10:00", repayment(A, "nara-vard", "region-blekinge", kr(3_434_528), "2021-04-14"))

    assert book.due_back("region-blekinge", "2021-03-14") == {}  # nothing is due before the report
    on_time = book.due_back("region-blekinge", "2021-03-31")
    assert (on_time["received"], on_time["costs"], on_time["due"], on_time["repaid"], on_time["outstanding"],
            on_time["deadline"], on_time["overdue"]) == (
        kr(45_434_528), kr(40_000_000), kr(5_434_528), kr(2_000_000), kr(3_434_528), "2021-03-31", 0)
    assert book.obligation("region-blekinge", "repayment", "2021-03-31")["state"] == "upcoming"
    after = book.due_back("region-blekinge", "2021-04-01")
    assert (after["outstanding"], after["overdue"]) == (kr(3_434_528), kr(3_434_528))
    assert book.obligation("region-blekinge", "repayment", "2021-04-01")["state"] == "missed"
    settled = book.due_back("region-blekinge", "2021-04-14")
    assert (settled["repaid"], settled["outstanding"], settled["overdue"]) == (kr(5_434_528), 0, 0)
    duty = book.obligation("region-blekinge", "repayment", "2021-04-14")
    assert (duty["state"], duty["received_on"]) == ("met_late", "2021-04-14")
    line = book.balance("region-blekinge", "nara-vard", "2021-04-14")
    assert (line["paid"], line["costs"], line["unspent"], line["repaid"], line["held"]) == (
        kr(45_434_528), kr(40_000_000), kr(5_434_528), kr(5_434_528), 0)
    # The report was in time: no reclaim eligibility.
    assert book.reclaim("region-blekinge", "2021-04-14") == {}


def test_costs_above_the_grant_leave_nothing_due_back_and_no_top_up(book: Book) -> None:
    ledger = book.ledger
    assert allocation_kr(A, "e-halsa", "region-dalarna") == 6_414_363
    record(ledger, "2020-04-01T10:00", requisition(A, "e-halsa", "region-dalarna", kr(6_414_363), "2020-04-01"))
    record(ledger, "2020-04-15T10:00", payout(A, "e-halsa", "region-dalarna", kr(6_414_363), "2020-04-15"))
    record(ledger, "2021-03-30T10:00", expense_report(A, "e-halsa", "region-dalarna", kr(6_414_363), kr(7_000_000),
                                                      "2021-03-30"))
    line = book.balance("region-dalarna", "e-halsa", "2021-04-30")
    assert (line["paid"], line["costs"], line["unspent"], line["repaid"]) == (
        kr(6_414_363), kr(7_000_000), 0, 0)
    assert line["paid"] <= line["allocated"]  # the overspend is not paid by the state
    assert book.due_back("region-dalarna", "2021-04-30") == {}
    assert book.obligation("region-dalarna", "repayment", "2021-04-30") == {}
    assert "report_arithmetic" not in book.rules("2021-04-30", recipient_id="region-dalarna")


def test_expense_report_arithmetic_errors_alt2_and_received_mismatch_are_findings_until_restated(
        book: Book) -> None:
    ledger = book.ledger
    assert allocation_kr(A, "karriartjanster", "region-halland") == 3_228_866
    record(ledger, "2020-04-01T10:00",
           requisition(A, "karriartjanster", "region-halland", kr(3_228_866), "2020-04-01"))
    record(ledger, "2020-04-15T10:00", payout(A, "karriartjanster", "region-halland", kr(3_228_866), "2020-04-15"))
    wrong = expense_report(A, "karriartjanster", "region-halland", kr(3_300_000), kr(2_600_000), "2021-03-20",
                           cost_items=[{"label": "Lönekostnader", "amount": kr(2_000_000)},
                                       {"label": "Utbildning", "amount": kr(500_000)}],
                           stated_unspent=kr(500_000), attestation="alt2",
                           deviations="Periodiseringsfel i lönekostnader", actions="Rättad redovisning lämnas")
    record(ledger, "2021-03-20T10:00", wrong)
    report_rules = {"attestation_alt2", "report_arithmetic", "report_received_mismatch"}
    found = [f for f in book.findings("2021-03-25", recipient_id="region-halland") if f["rule"] in report_rules]
    assert sorted(f["rule"] for f in found) == [
        "attestation_alt2", "report_arithmetic", "report_arithmetic", "report_received_mismatch"]
    descriptions = sorted(f["description"] for f in found if f["rule"] == "report_arithmetic")
    assert descriptions == [
        "Expense report arithmetic does not add up: items sum to 250000000, total costs 260000000",
        "Expense report arithmetic does not add up: stated unspent 50000000, received − costs = 70000000",
    ]
    mismatch = next(f for f in found if f["rule"] == "report_received_mismatch")
    assert mismatch["amount"] == kr(71_134)
    # Alt 2 is not a reclaim trigger in this agreement (only a late report is, L694).
    assert book.reclaim("region-halland", "2021-03-25") == {}

    restated = expense_report(A, "karriartjanster", "region-halland", kr(3_228_866), kr(2_600_000), "2021-03-30")
    record(ledger, "2021-03-30T10:00", restated)
    assert not [f for f in book.findings("2021-03-31", recipient_id="region-halland") if f["rule"] in report_rules]
    known_before = [f for f in book.findings("2021-03-31", "2021-03-29", recipient_id="region-halland")
                    if f["rule"] in report_rules]
    assert len(known_before) == 4
    owed = book.due_back("region-halland", "2021-03-31")
    assert (owed["costs"], owed["due"]) == (kr(2_600_000), kr(628_866))


def test_documents_not_signed_in_original_or_missing_a_dnr_are_findings_but_still_count(book: Book) -> None:
    ledger = book.ledger
    copy = requisition(A, "karriartjanster", "region-gotland", kr(577_898), "2020-10-01", signature="copy",
                       payment_decision_dnr=None)
    record(ledger, "2020-10-01T10:00", copy)
    record(ledger, "2020-10-15T10:00", payout(A, "karriartjanster", "region-gotland", kr(577_898), "2020-10-15"))
    scanned = expense_report(A, "karriartjanster", "region-gotland", kr(577_898), kr(577_898), "2021-03-29",
                             signature="electronic", agreement_dnr=None)
    record(ledger, "2021-03-29T10:00", scanned)

    doc_rules = sorted((f["rule"], f["events"][0]) for f in book.findings("2021-03-31", recipient_id="region-gotland")
                       if f["rule"] in ("document_missing_dnr", "document_not_original"))
    assert doc_rules == sorted([("document_missing_dnr", copy["event_id"]), ("document_not_original", copy["event_id"]),
                                ("document_missing_dnr", scanned["event_id"]),
                                ("document_not_original", scanned["event_id"])])
    # The requisition is a recorded fact: it was received in time, so nothing lapsed.
    line = book.balance("region-gotland", "karriartjanster", "2020-12-02")
    assert (line["requisitioned"], line["lapsed"]) == (kr(577_898), 0)


def test_costs_outside_calendar_year_2020_are_a_finding(book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2020-04-01T10:00", requisition(A, "karriartjanster", "region-gotland", kr(577_898), "2020-04-01"))
    record(ledger, "2020-04-15T10:00", payout(A, "karriartjanster", "region-gotland", kr(577_898), "2020-04-15"))
    report = expense_report(A, "karriartjanster", "region-gotland", kr(577_898), kr(577_898), "2021-03-29",
                            period_end="2021-03-31")
    record(ledger, "2021-03-29T10:00", report)
    outside = book.findings("2021-03-31", rule="costs_outside_period")
    assert [(f["recipient_id"], f["events"]) for f in outside] == [("region-gotland", [report["event_id"]])]
    assert outside[0]["description"].endswith("period 2020-01-01–2021-03-31")
    assert book.findings("2021-03-28", rule="costs_outside_period") == []


def test_rss_requisition_after_1_december_does_not_lapse_unless_a_deadline_is_decided(book: Book) -> None:
    # L686 sets 1 December for SKR and the regions; L688 restates no deadline for RSS money.
    ledger = book.ledger
    assert allocation_kr(A, "medarbetare-kommuner", "rss-stockholm") == 70_784_831
    record(ledger, "2020-12-10T10:00", requisition(A, "medarbetare-kommuner", "rss-stockholm", kr(70_784_831),
                                                   "2020-12-10"))
    line = book.balance("rss-stockholm", "medarbetare-kommuner", "2020-12-31")
    assert (line["requisitioned"], line["lapsed"]) == (kr(70_784_831), 0)
    assert book.findings("2020-12-31", rule="requisition_late") == []
    duty = book.obligation("rss-stockholm", "requisition", "2020-12-31")
    assert (duty["deadline"], duty["state"]) == (None, "met")

    # Configured later: the 1 December deadline applies to the RSS too.
    record(ledger, "2021-01-15T10:00", deadline_amended(A, "requisition", "2020-12-01", "2021-01-15",
                                                        part_id="medarbetare-kommuner"))
    assert book.balance("rss-stockholm", "medarbetare-kommuner", "2021-01-20")["lapsed"] == kr(70_784_831)
    assert [f["amount"] for f in book.findings("2021-01-20", rule="requisition_late")] == [kr(70_784_831)]
    other_rss = book.balance("rss-uppsala", "medarbetare-kommuner", "2021-01-20")
    assert other_rss["lapsed"] == kr(20_219_259)
    # As of 31 December, or as known before the decision was recorded, nothing had lapsed.
    assert book.balance("rss-stockholm", "medarbetare-kommuner", "2020-12-31")["lapsed"] == 0
    assert book.balance("rss-stockholm", "medarbetare-kommuner", "2021-01-20", "2021-01-14")["lapsed"] == 0


def test_via_rss_money_not_passed_on_by_year_end_is_a_finding_that_stays(book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2020-03-01T10:00", requisition(A, "medarbetare-kommuner", "rss-stockholm", kr(70_784_831),
                                                   "2020-03-01"))
    record(ledger, "2020-03-20T10:00", payout(A, "medarbetare-kommuner", "rss-stockholm", kr(70_784_831),
                                              "2020-03-20", route="via_rss"))
    record(ledger, "2020-09-01T10:00", onward_transfer(A, "medarbetare-kommuner", "rss-stockholm", kr(50_000_000),
                                                       "2020-09-01", to_name="Stockholms stad"))
    assert book.findings("2020-12-31", rule="not_passed_on") == []
    held = book.findings("2021-01-01", rule="not_passed_on")
    assert [(f["recipient_id"], f["amount"]) for f in held] == [("rss-stockholm", kr(20_784_831))]
    line = book.balance("rss-stockholm", "medarbetare-kommuner", "2021-01-01")
    assert (line["paid"], line["passed_on"], line["held"]) == (kr(70_784_831), kr(50_000_000), kr(20_784_831))

    # Passed on in January: still not passed on by year end, as of any later date.
    record(ledger, "2021-01-20T10:00", onward_transfer(A, "medarbetare-kommuner", "rss-stockholm", kr(20_784_831),
                                                       "2021-01-20", to_name="Solna stad"))
    later = book.findings("2021-06-30", rule="not_passed_on")
    assert [(f["recipient_id"], f["amount"]) for f in later] == [("rss-stockholm", kr(20_784_831))]
    assert book.balance("rss-stockholm", "medarbetare-kommuner", "2021-06-30")["held"] == 0


def test_bilaga2_one_krona_gap_shows_in_reconciliation_and_in_the_allocations(book: Book) -> None:
    agreement = book.ledger.agreement(A)
    assert agreement is not None
    result = reconcile(agreement)
    gaps = [f for f in result.findings if f.kind != "known_discrepancy"]
    assert [(f.kind, f.table_id, f.difference, f.known) for f in gaps] == [
        ("table_total", "bilaga2-kommuner", -100, True)]
    part = next(p for p in result.parts if p.part_id == "medarbetare-kommuner")
    assert (part.stated_total, part.allocated_rows, part.difference) == (kr(500_000_000), kr(499_999_999), -100)
    assert (result.stated_state, result.parts_total, result.difference) == (kr(6_250_500_000), kr(6_250_500_000), 0)
    assert any(f.kind == "known_discrepancy" and f.table_id == "bilaga2-kommuner" and f.difference == -100
               for f in result.findings)

    # Paying every RSS its printed amount totals 499 999 999 kr: the rows are never patched.
    rss = [b for b in book.balances("2020-02-03") if b["part_id"] == "medarbetare-kommuner"]
    assert len(rss) == 21
    assert sum(b["allocated"] for b in rss) == kr(499_999_999)
    total = sum(b["allocated"] for b in book.balances("2020-02-03"))
    assert total == kr(6_250_499_999)


def test_back_dated_requisition_recorded_after_the_deadline_changes_as_of_views_but_not_earlier_known_at_views(
        book: Book) -> None:
    ledger = book.ledger
    seen_then = book.balance("region-blekinge", "nara-vard", "2020-12-02", "2020-12-02")
    assert (seen_then["requisitioned"], seen_then["lapsed"]) == (0, kr(45_434_528))

    # Received by Kammarkollegiet on 30 November, registered on 8 December.
    record(ledger, "2020-12-08T10:00", requisition(A, "nara-vard", "region-blekinge", kr(45_434_528), "2020-11-30"))
    now = book.balance("region-blekinge", "nara-vard", "2020-12-02")
    assert (now["requisitioned"], now["lapsed"]) == (kr(45_434_528), 0)
    assert book.obligation("region-blekinge", "requisition", "2020-12-02", part_id="nara-vard")["state"] == "met"
    assert book.findings("2020-12-02", rule="requisition_late") == []
    # What the ledger said on 2 December does not change.
    then = book.balance("region-blekinge", "nara-vard", "2020-12-02", "2020-12-02")
    assert (then["requisitioned"], then["lapsed"]) == (0, kr(45_434_528))
    assert book.obligation("region-blekinge", "requisition", "2020-12-02", "2020-12-02",
                           part_id="nara-vard")["state"] == "missed"
    assert book.balance("region-blekinge", "nara-vard", "2020-11-29")["requisitioned"] == 0


def test_correction_of_a_payout_amount_supersedes_it_from_its_recording_on(book: Book) -> None:
    ledger = book.ledger
    assert allocation_kr(A, "karriartjanster", "region-dalarna") == 2_788_854
    record(ledger, "2020-04-01T10:00", requisition(A, "karriartjanster", "region-dalarna", kr(2_788_854), "2020-04-01"))
    wrong = payout(A, "karriartjanster", "region-dalarna", kr(27_888_540), "2020-04-15")
    record(ledger, "2020-04-15T10:00", wrong)
    record(ledger, "2020-04-20T10:00", correction(wrong, amount=kr(2_788_854)))

    before = book.balance("region-dalarna", "karriartjanster", "2020-04-30", "2020-04-16")
    assert before["paid"] == kr(27_888_540)
    assert money_rules(book, "2020-04-30", "2020-04-16") == ["payout_above_allocation"]
    assert book.findings("2020-04-30", "2020-04-16", rule="payout_above_allocation")[0]["amount"] == kr(25_099_686)
    assert book.reclaim("region-dalarna", "2020-04-30", "2020-04-16")["eligible_amount"] == kr(25_099_686)

    after = book.balance("region-dalarna", "karriartjanster", "2020-04-30")
    assert after["paid"] == kr(2_788_854)
    assert money_rules(book, "2020-04-30") == []  # neither above the allocation nor a second payout
    assert book.reclaim("region-dalarna", "2020-04-30") == {}
    assert book.trial_balance("2020-04-30", "2020-04-16") == 0
    assert book.trial_balance("2020-04-30") == 0


def test_missed_delredovisning_on_30_september_changes_no_2020_balance(book: Book) -> None:
    # L678: a missed delredovisning bears on 2021 eligibility, not on the 2020 money.
    ledger = book.ledger
    record(ledger, "2020-03-20T10:00", requisition(A, "nara-vard", "region-blekinge", kr(45_434_528), "2020-03-20"))
    record(ledger, "2020-04-01T10:00", payout(A, "nara-vard", "region-blekinge", kr(45_434_528), "2020-04-01"))
    record(ledger, "2020-09-30T10:00", report_received(A, "region-dalarna", "delrapport", "socialstyrelsen",
                                                       "2020-09-30"))
    assert book.obligation("region-blekinge", "delrapport", "2020-09-30")["state"] == "upcoming"
    assert book.obligation("region-blekinge", "delrapport", "2020-10-01")["state"] == "missed"
    assert book.obligation("region-dalarna", "delrapport", "2020-10-01")["state"] == "met"
    missed = book.findings("2020-10-01", recipient_id="region-blekinge", rule="obligation_missed")
    assert len(missed) == 1 and missed[0]["description"].endswith("due 2020-09-30")
    line = book.balance("region-blekinge", "nara-vard", "2020-10-01")
    assert (line["paid"], line["lapsed"], line["reclaim_decided"]) == (kr(45_434_528), 0, 0)
    assert book.reclaim("region-blekinge", "2020-10-01") == {}
    assert book.due_back("region-blekinge", "2020-10-01") == {}


def test_one_late_expense_report_among_per_part_reports_makes_the_recipient_reclaim_eligible(book: Book) -> None:
    # Dalarna reports each part separately: nära vård in time, karriärtjänster six days late.
    ledger = book.ledger
    record(ledger, "2020-04-01T10:00", requisition(A, "nara-vard", "region-dalarna", kr(81_852_855), "2020-04-01"),
           requisition(A, "karriartjanster", "region-dalarna", kr(2_788_854), "2020-04-01"))
    record(ledger, "2020-04-15T10:00", payout(A, "nara-vard", "region-dalarna", kr(81_852_855), "2020-04-15"),
           payout(A, "karriartjanster", "region-dalarna", kr(2_788_854), "2020-04-15"))
    parts = ("barnhalsovard", "medarbetare-regioner", "vidareutbildning-sjukskoterskor", "e-halsa")
    record(ledger, "2021-03-30T10:00",
           expense_report(A, "nara-vard", "region-dalarna", kr(81_852_855), kr(81_852_855), "2021-03-30"),
           *[expense_report(A, p, "region-dalarna", 0, 0, "2021-03-30") for p in parts])
    assert book.obligation("region-dalarna", "ekonomisk_redovisning", "2021-04-05")["state"] == "missed"
    assert book.reclaim("region-dalarna", "2021-04-05")["reasons"] == ["expense report missing (deadline 2021-03-31)"]
    record(ledger, "2021-04-06T10:00", expense_report(A, "karriartjanster", "region-dalarna", kr(2_788_854),
                                                      kr(2_788_854), "2021-04-06"))
    duty = book.obligation("region-dalarna", "ekonomisk_redovisning", "2021-04-06")
    assert (duty["state"], duty["received_on"]) == ("met_late", "2021-04-06")
    claim = book.reclaim("region-dalarna", "2021-04-06")
    assert (claim["reasons"], claim["eligible_amount"]) == (
        ["expense report late (deadline 2021-03-31)"], kr(81_852_855 + 2_788_854))
