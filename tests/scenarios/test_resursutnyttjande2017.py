"""Scenarios for Stöd till bättre resursutnyttjande 2017 (seed 004): money, deadlines and reclaim.

Each test covers one edge case of notes/seed_004.md §8–§9. The register and the agreement
are recorded on 23 January 2017 (signed 20 January); the renames the register dates later
(Region Västernorrland 2018-02-01, the 2019 regions, SKR 2019-11-27) are recorded on their
own dates when a test needs them. 31 March 2018 is Easter Saturday: under the agreement's
strict policy a report received Tuesday 3 April is late.
"""

from __future__ import annotations

import pytest

from ledger.application import Ledger
from ledger.calendar import DeadlinePolicy
from ledger.catalogue import catalogue
from ledger.events import EventBase
from projections.reconciliation import reconcile
from tests.scenarios.builders import (
    Book,
    allocation_kr,
    deadline_amended,
    expense_report,
    kr,
    load_catalogue,
    payment_decision,
    payout,
    reclaim_decided,
    reclaim_settled,
    record,
    repayment,
    report_received,
    requisition,
)

A = "resursutnyttjande-2017"
LOADED_AT = "2017-01-23T08:00"
P1, P2, P3 = "stimulansmedel", "specialistutbildning", "skl-stodinsatser"


@pytest.fixture
def deferred(ledger: Ledger) -> list[EventBase]:
    """The catalogue as of 23 January 2017; returns the renames dated later."""
    later = load_catalogue(ledger, A, LOADED_AT)
    record(ledger, "2017-02-15T09:00", payment_decision(A, "2017-02-15"))
    return later


@pytest.fixture
def book(ledger: Ledger, deferred: list[EventBase]) -> Book:
    return Book(ledger, A)


def paid_in_full(book: Book, recipient_id: str, part_id: str, amount_kr: int, day: str = "2017-03-15") -> None:
    """Requisitioned two weeks before ``day`` and paid on ``day`` (both recorded on their dates)."""
    assert allocation_kr(A, part_id, recipient_id) == amount_kr
    received = f"{day[:8]}01"
    record(book.ledger, f"{received}T09:00", requisition(A, part_id, recipient_id, kr(amount_kr), received))
    record(book.ledger, f"{day}T09:00", payout(A, part_id, recipient_id, kr(amount_kr), day))


def test_requisition_received_friday_1_december_2017_is_in_time_and_monday_4_december_lapses(book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2017-12-01T10:00", requisition(A, P1, "region-stockholm", kr(148_780_771), "2017-12-01"),
           requisition(A, P2, "region-stockholm", kr(68_143_865), "2017-12-01"))
    late = requisition(A, P1, "region-uppsala", kr(23_664_708), "2017-12-04", note="Avsänd fredag 1 december")
    record(ledger, "2017-12-04T10:00", late)

    for part, amount in ((P1, 148_780_771), (P2, 68_143_865)):
        line = book.balance("region-stockholm", part, "2017-12-04")
        assert (line["allocated"], line["requisitioned"], line["lapsed"]) == (kr(amount), kr(amount), 0)
    assert book.balance("region-uppsala", P1, "2017-12-01")["lapsed"] == 0
    uppsala = book.balance("region-uppsala", P1, "2017-12-04")
    assert (uppsala["requisitioned"], uppsala["lapsed"]) == (kr(23_664_708), kr(23_664_708))
    assert book.balance("region-uppsala", P2, "2017-12-02")["lapsed"] == kr(10_838_798)
    assert book.balance("skr", P3, "2017-12-02")["lapsed"] == kr(21_000_000)
    findings = book.findings("2017-12-04", rule="requisition_late")
    assert [(f["recipient_id"], f["amount"], f["events"]) for f in findings] == [
        ("region-uppsala", kr(23_664_708), [late["event_id"]])]
    # Lapsed money is never paid, so never due back.
    assert book.due_back("region-uppsala", "2018-04-30") == {}


def test_requisition_deadline_moved_to_saturday_2_december_is_not_extended_to_monday_under_the_strict_policy(
        book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2017-11-20T10:00", deadline_amended(A, "requisition", "2017-12-02", "2017-11-20",
                                                        part_id=P1, recipient_id="region-kalmar"))
    kalmar = requisition(A, P1, "region-kalmar", kr(15_809_547), "2017-12-04")
    kronoberg = requisition(A, P1, "region-kronoberg", kr(12_742_080), "2017-12-02")
    record(ledger, "2017-12-04T10:00", kalmar, kronoberg)

    assert book.balance("region-kalmar", P1, "2017-12-02")["lapsed"] == 0  # the amended day itself
    assert book.balance("region-kalmar", P1, "2017-12-03", "2017-12-03")["lapsed"] == kr(15_809_547)
    line = book.balance("region-kalmar", P1, "2017-12-04")
    assert (line["requisitioned"], line["lapsed"]) == (kr(15_809_547), kr(15_809_547))
    duty = book.obligation("region-kalmar", "requisition", "2017-12-04", part_id=P1)
    assert (duty["printed_deadline"], duty["deadline"], duty["state"]) == ("2017-12-01", "2017-12-02", "met_late")
    # The amendment is Kalmar's, for P1 only.
    assert book.obligation("region-kalmar", "requisition", "2017-12-04", part_id=P2)["deadline"] == "2017-12-01"
    assert book.balance("region-kronoberg", P1, "2017-12-04")["lapsed"] == kr(12_742_080)
    late = {f["recipient_id"]: f["description"] for f in book.findings("2017-12-04", rule="requisition_late")}
    assert late == {
        "region-kalmar": "Requisition received after the deadline: the right to the grant had lapsed:"
                         " received 2017-12-04, deadline 2017-12-02",
        "region-kronoberg": "Requisition received after the deadline: the right to the grant had lapsed:"
                            " received 2017-12-02, deadline 2017-12-01",
    }


def _next_working_day_terms() -> dict:
    agreement = catalogue()[A]
    parts = [p.model_copy(update={"terms": p.terms.model_copy(
        update={"deadline_policy": DeadlinePolicy.NEXT_WORKING_DAY,
                "deadline_policy_source": "Beslut: lag (1930:173) tillämpas"})}) for p in agreement.parts]
    amended = agreement.model_copy(update={"parts": parts})
    return {"kind": "agreement_amended", "event_id": "5d0c1a2e-8f3b-4c7e-9a61-2b4e3c5d6f70",
            "effective_date": "2018-05-02", "agreement": amended.model_dump(mode="json"),
            "reason": "Tidsfrister som infaller på lördag, söndag eller helgdag flyttas till nästa vardag"}


def test_expense_report_received_tuesday_after_easter_2018_is_late_under_strict_policy_but_not_under_next_working_day(
        book: Book) -> None:
    ledger = book.ledger
    paid_in_full(book, "region-skane", P1, 86_718_574)
    record(ledger, "2018-04-03T10:00", expense_report(A, P1, "region-skane", kr(86_718_574), kr(80_000_000),
                                                      "2018-04-03"),
           repayment(A, P1, "region-skane", kr(6_718_574), "2018-04-03"))

    duty = book.obligation("region-skane", "ekonomisk_redovisning", "2018-04-03")
    assert (duty["deadline"], duty["state"], duty["received_on"]) == ("2018-03-31", "met_late", "2018-04-03")
    claim = book.reclaim("region-skane", "2018-04-03")
    assert (claim["reasons"], claim["eligible_amount"], claim["decided"]) == (
        ["expense report late (deadline 2018-03-31)"], kr(80_000_000), 0)
    owed = book.due_back("region-skane", "2018-04-03")
    assert (owed["due"], owed["repaid"], owed["outstanding"], owed["deadline"]) == (
        kr(6_718_574), kr(6_718_574), 0, "2018-03-31")
    assert book.obligation("region-skane", "repayment", "2018-04-03")["state"] == "met_late"

    # The parties decide that lag (1930:173) applies: Easter moves the deadline to Tuesday 3 April.
    record(ledger, "2018-05-02T10:00", _next_working_day_terms())
    duty = book.obligation("region-skane", "ekonomisk_redovisning", "2018-04-03")
    assert (duty["printed_deadline"], duty["deadline"], duty["state"]) == ("2018-03-31", "2018-04-03", "met")
    assert book.reclaim("region-skane", "2018-04-03") == {}
    assert book.obligation("region-skane", "repayment", "2018-04-03")["state"] == "met"
    assert book.due_back("region-skane", "2018-04-03")["deadline"] == "2018-04-03"
    # As known before the decision, the report was late.
    assert book.obligation("region-skane", "ekonomisk_redovisning", "2018-04-03", "2018-05-01")["state"] == "met_late"
    # The terms changed, not the money.
    line = book.balance("region-skane", P1, "2018-05-02")
    assert (line["allocated"], line["paid"], line["costs"], line["repaid"]) == (
        kr(86_718_574), kr(86_718_574), kr(80_000_000), kr(6_718_574))
    assert book.trial_balance("2018-05-02") == 0


def test_partial_requisition_lapses_the_rest_and_a_second_requisition_after_the_payout_is_flagged(
        book: Book) -> None:
    ledger = book.ledger
    record(ledger, "2017-05-02T10:00", requisition(A, P1, "region-ostergotland", kr(20_000_000), "2017-05-02"),
           requisition(A, P1, "region-jonkoping", kr(10_000_000), "2017-05-02"))
    record(ledger, "2017-05-15T10:00", payout(A, P1, "region-ostergotland", kr(20_000_000), "2017-05-15"),
           payout(A, P1, "region-jonkoping", kr(10_000_000), "2017-05-15"))
    second = requisition(A, P1, "region-jonkoping", kr(13_130_990), "2017-11-28")
    record(ledger, "2017-11-28T10:00", second)
    record(ledger, "2017-11-30T10:00", payout(A, P1, "region-jonkoping", kr(13_130_990), "2017-11-30"))

    ostergotland = book.balance("region-ostergotland", P1, "2017-12-02")
    assert (ostergotland["allocated"], ostergotland["paid"], ostergotland["lapsed"]) == (
        kr(29_634_638), kr(20_000_000), kr(9_634_638))
    jonkoping = book.balance("region-jonkoping", P1, "2017-12-02")
    assert (jonkoping["allocated"], jonkoping["paid"], jonkoping["lapsed"]) == (kr(23_130_990), kr(23_130_990), 0)
    rules = {(f["recipient_id"], f["rule"]) for f in book.findings("2017-12-02")
             if f["rule"] in ("second_requisition", "second_payout", "requisition_late")}
    assert rules == {("region-jonkoping", "second_requisition"), ("region-jonkoping", "second_payout")}
    assert book.findings("2017-11-27", rule="second_requisition") == []


def test_payout_before_the_payment_decision_is_a_finding_and_a_requisition_before_it_counts(
        ledger: Ledger, deferred: list[EventBase]) -> None:
    book = Book(ledger, A)
    # The fixture's payment decision is dated 15 February 2017.
    record(ledger, "2017-02-01T10:00", requisition(A, P1, "region-halland", kr(20_982_383), "2017-02-01"))
    early = payout(A, P1, "region-halland", kr(20_982_383), "2017-02-10")
    record(ledger, "2017-02-10T10:00", early)
    found = book.findings("2017-03-01", recipient_id="region-halland")
    assert [(f["rule"], f["events"]) for f in found if f["rule"].startswith("payout")] == [
        ("payout_without_payment_decision", [early["event_id"]])]
    assert book.balance("region-halland", P1, "2017-12-02")["lapsed"] == 0


def test_late_report_without_reclaim_decision_is_no_debt_then_a_partial_reclaim_is_decided_and_set_off(
        book: Book) -> None:
    ledger = book.ledger
    paid_in_full(book, "region-gavleborg", P1, 18_659_440)
    nothing = book.reclaim("region-gavleborg", "2018-04-01")
    assert (nothing["reasons"], nothing["eligible_amount"], nothing["decided"], nothing["outstanding"]) == (
        ["expense report missing (deadline 2018-03-31)"], kr(18_659_440), 0, 0)
    line = book.balance("region-gavleborg", P1, "2018-04-01")
    assert (line["reclaim_decided"], line["reclaim_outstanding"]) == (0, 0)
    assert book.due_back("region-gavleborg", "2018-04-01") == {}

    record(ledger, "2018-05-15T10:00", expense_report(A, None, "region-gavleborg", kr(18_659_440), kr(18_000_000),
                                                      "2018-05-15"))
    decision = reclaim_decided(A, P1, "region-gavleborg", kr(5_000_000), "2018-09-03",
                               reason_text="Redovisningen inkom 2018-05-15; del av stödet återkrävs")
    record(ledger, "2018-09-03T10:00", decision)
    decided = book.reclaim("region-gavleborg", "2018-09-03")
    assert (decided["reasons"], decided["decided"], decided["settled"], decided["outstanding"]) == (
        ["expense report late (deadline 2018-03-31)"], kr(5_000_000), 0, kr(5_000_000))
    assert book.reclaim("region-gavleborg", "2018-09-03", "2018-09-02")["decided"] == 0

    record(ledger, "2018-10-01T10:00", reclaim_settled(decision, kr(5_000_000), "2018-10-01", how="set_off"))
    settled = book.reclaim("region-gavleborg", "2018-10-01")
    assert (settled["decided"], settled["settled"], settled["outstanding"]) == (kr(5_000_000), kr(5_000_000), 0)
    line = book.balance("region-gavleborg", P1, "2018-10-01")
    assert (line["reclaim_decided"], line["reclaim_settled"], line["reclaim_outstanding"], line["repaid"]) == (
        kr(5_000_000), kr(5_000_000), 0, 0)
    # The reclaim does not settle the unspent funds: they are still due, and overdue.
    owed = book.due_back("region-gavleborg", "2018-10-01")
    assert (owed["due"], owed["repaid"], owed["outstanding"], owed["overdue"]) == (
        kr(659_440), 0, kr(659_440), kr(659_440))


def test_repayment_after_31_march_is_overdue_partial_and_an_over_repayment_leaves_nothing_outstanding(
        book: Book) -> None:
    ledger = book.ledger
    paid_in_full(book, "region-ostergotland", P2, 13_573_117)
    record(ledger, "2018-03-20T10:00", expense_report(A, P2, "region-ostergotland", kr(13_573_117),
                                                      kr(12_000_000), "2018-03-20"))
    record(ledger, "2018-03-29T10:00", repayment(A, P2, "region-ostergotland", kr(1_000_000), "2018-03-29"))
    record(ledger, "2018-04-10T10:00", repayment(A, P2, "region-ostergotland", kr(800_000), "2018-04-10"))

    on_time = book.due_back("region-ostergotland", "2018-03-31")
    assert (on_time["due"], on_time["repaid"], on_time["outstanding"], on_time["overdue"]) == (
        kr(1_573_117), kr(1_000_000), kr(573_117), 0)
    assert book.due_back("region-ostergotland", "2018-04-01")["overdue"] == kr(573_117)
    over = book.due_back("region-ostergotland", "2018-04-10")
    assert (over["repaid"], over["outstanding"], over["overdue"]) == (kr(1_800_000), 0, 0)
    duty = book.obligation("region-ostergotland", "repayment", "2018-04-10")
    assert (duty["state"], duty["received_on"]) == ("met_late", "2018-04-10")
    line = book.balance("region-ostergotland", P2, "2018-04-10")
    assert (line["unspent"], line["repaid"], line["held"]) == (kr(1_573_117), kr(1_800_000), -kr(226_883))
    assert book.reclaim("region-ostergotland", "2018-04-10") == {}  # report in time, nothing overpaid


def test_reclaim_of_the_whole_grant_after_a_partial_unspent_repayment_never_claims_the_repayment_twice(
        book: Book) -> None:
    ledger = book.ledger
    paid_in_full(book, "skr", P3, 21_000_000)
    record(ledger, "2018-04-16T10:00", expense_report(A, None, "skr", kr(21_000_000), kr(19_000_000), "2018-04-16"))
    record(ledger, "2018-04-20T10:00", repayment(A, P3, "skr", kr(1_500_000), "2018-04-20"))
    assert book.reclaim("skr", "2018-04-20")["eligible_amount"] == kr(19_500_000)

    # The government reclaims "stödet", the whole 21 000 000 kr.
    decision = reclaim_decided(A, P3, "skr", kr(21_000_000), "2018-06-01")
    record(ledger, "2018-06-01T10:00", decision)
    decided = book.reclaim("skr", "2018-06-01")
    assert (decided["decided"], decided["settled"], decided["outstanding"]) == (
        kr(21_000_000), 0, kr(19_500_000))
    line = book.balance("skr", P3, "2018-06-01")
    assert (line["reclaim_decided"], line["reclaim_outstanding"]) == (kr(21_000_000), kr(19_500_000))

    record(ledger, "2018-06-29T10:00", repayment(A, P3, "skr", kr(19_500_000), "2018-06-29",
                                                 reclaim_event_id=decision["event_id"]))
    settled = book.reclaim("skr", "2018-06-29")
    assert (settled["decided"], settled["settled"], settled["outstanding"], settled["eligible_amount"]) == (
        kr(21_000_000), kr(19_500_000), 0, 0)
    line = book.balance("skr", P3, "2018-06-29")
    assert (line["repaid"], line["reclaim_settled"], line["reclaim_outstanding"]) == (
        kr(21_000_000), kr(19_500_000), 0)
    owed = book.due_back("skr", "2018-06-29")
    assert (owed["due"], owed["outstanding"], owed["overdue"]) == (kr(2_000_000), 0, 0)


def test_landstinget_vasternorrland_renamed_region_vasternorrland_keeps_one_balance(
        book: Book, deferred: list[EventBase]) -> None:
    ledger = book.ledger
    record(ledger, "2017-11-15T10:00", requisition(A, P1, "region-vasternorrland", kr(16_103_940), "2017-11-15",
                                                   filed_name="Landstinget Västernorrland"))
    record(ledger, "2017-11-30T10:00", payout(A, P1, "region-vasternorrland", kr(16_103_940), "2017-11-30"))
    rename = [e for e in deferred if getattr(e, "recipient_id", None) == "region-vasternorrland"]
    assert [e.effective_date.isoformat() for e in rename] == ["2018-02-01"]
    record(ledger, "2018-02-01T10:00", *rename)
    record(ledger, "2018-03-28T10:00", expense_report(A, P1, "region-vasternorrland", kr(16_103_940),
                                                      kr(15_000_000), "2018-03-28",
                                                      filed_name="Region Västernorrland"))
    record(ledger, "2018-03-29T10:00", repayment(A, P1, "region-vasternorrland", kr(1_103_940), "2018-03-29"))

    names = [h["payload"]["name"] for h in ledger.index.recipient_history("region-vasternorrland")]
    assert names == ["Landstinget Västernorrland", "Region Västernorrland"]
    lines = [b for b in book.balances("2018-04-01", recipient_id="region-vasternorrland") if b["part_id"] == P1]
    assert len(lines) == 1
    line = lines[0]
    assert (line["requisitioned"], line["paid"], line["costs"], line["repaid"], line["held"]) == (
        kr(16_103_940), kr(16_103_940), kr(15_000_000), kr(1_103_940), 0)
    owed = book.due_back("region-vasternorrland", "2018-04-01")
    assert (owed["due"], owed["repaid"], owed["outstanding"]) == (kr(1_103_940), kr(1_103_940), 0)
    assert book.obligation("region-vasternorrland", "ekonomisk_redovisning", "2018-04-01")["state"] == "met"

    # SKL became SKR on 2019-11-27: a reclaim decided in 2020 continues against the same recipient.
    paid_in_full(book, "skr", P3, 21_000_000)
    for event in sorted((e for e in deferred if e.effective_date.year == 2019), key=lambda e: e.effective_date):
        record(ledger, f"{event.effective_date.isoformat()}T10:00", event)
    assert [h["payload"]["name"] for h in ledger.index.recipient_history("skr")] == [
        "Sveriges Kommuner och Landsting", "Sveriges Kommuner och Regioner"]
    decision = reclaim_decided(A, P3, "skr", kr(21_000_000), "2020-02-03")
    record(ledger, "2020-02-03T10:00", decision)
    claim = book.reclaim("skr", "2020-02-03")
    assert (claim["reasons"], claim["decided"], claim["outstanding"]) == (
        ["expense report missing (deadline 2018-03-31)"], kr(21_000_000), kr(21_000_000))
    assert [b["recipient_id"] for b in book.balances("2020-02-03") if b["part_id"] == P3] == ["skr"]


def test_stockholm_plus_one_krona_is_kept_as_printed_and_listed_by_reconciliation(book: Book) -> None:
    agreement = book.ledger.agreement(A)
    assert agreement is not None
    result = reconcile(agreement)
    assert [f for f in result.findings if f.kind != "known_discrepancy"] == []
    rounding = {f.table_id: f for f in result.findings
                if f.kind == "known_discrepancy" and "Stockholm" in f.description}
    assert set(rounding) == {"bilaga1-stimulansmedel", "bilaga1-specialistutbildning"}
    assert all(f.difference == 0 and f.known for f in rounding.values())
    assert (result.stated_state, result.parts_total, result.difference) == (kr(976_000_000), kr(976_000_000), 0)

    # Replay uses the printed amounts: Stockholm's extra krona is in its entitlement, nowhere else.
    stockholm = {b["part_id"]: b["allocated"] for b in book.balances("2017-02-01", recipient_id="region-stockholm")}
    assert stockholm == {P1: kr(148_780_771), P2: kr(68_143_865)}
    lines = book.balances("2017-02-01")
    assert sum(b["allocated"] for b in lines if b["part_id"] == P1) == kr(655_000_000)
    assert sum(b["allocated"] for b in lines if b["part_id"] == P2) == kr(300_000_000)
    assert sum(b["allocated"] for b in lines) == kr(976_000_000)


def test_january_to_march_2018_costs_reported_against_the_2017_grant_are_outside_the_period(book: Book) -> None:
    ledger = book.ledger
    paid_in_full(book, "region-orebro", P1, 19_329_118)
    report = expense_report(A, None, "region-orebro", kr(19_329_118), kr(19_329_118), "2018-03-29",
                            period_end="2018-03-31", cost_items=[
                                {"label": "Kostnader 2017", "amount": kr(17_000_000)},
                                {"label": "Kostnader januari–mars 2018", "amount": kr(2_329_118)}])
    record(ledger, "2018-03-29T10:00", report)
    outside = book.findings("2018-04-01", rule="costs_outside_period")
    assert [(f["recipient_id"], f["events"]) for f in outside] == [("region-orebro", [report["event_id"]])]
    assert outside[0]["description"].endswith("period 2017-01-01–2018-03-31")
    # Still a report received in time: no reclaim eligibility, and nothing due back.
    assert book.reclaim("region-orebro", "2018-04-01") == {}
    assert book.due_back("region-orebro", "2018-04-01") == {}


def test_amended_skl_verksamhetsrapport_deadline_is_met_instead_of_missed(book: Book) -> None:
    ledger = book.ledger
    paid_in_full(book, "skr", P3, 21_000_000)
    record(ledger, "2018-03-20T10:00", deadline_amended(A, "verksamhetsrapport", "2018-04-30", "2018-03-20",
                                                        recipient_id="skr",
                                                        reason="Annat överenskommet (L494): senast 30 april 2018"))
    record(ledger, "2018-04-20T10:00", report_received(A, "skr", "verksamhetsrapport", "regeringskansliet",
                                                       "2018-04-20"))
    assert book.obligation("skr", "verksamhetsrapport", "2018-04-01")["state"] == "upcoming"
    duty = book.obligation("skr", "verksamhetsrapport", "2018-04-20")
    assert (duty["printed_deadline"], duty["deadline"], duty["state"]) == ("2018-03-31", "2018-04-30", "met")
    # As known before the amendment was recorded, it was missed.
    assert book.obligation("skr", "verksamhetsrapport", "2018-04-01", "2018-03-19")["state"] == "missed"
    name = next(t.name_sv for t in catalogue()[A].part(P3).terms.reports if t.kind.value == "verksamhetsrapport")
    assert [f["description"] for f in book.findings("2018-04-01", "2018-03-19", rule="obligation_missed")
            if name in f["description"]] == [f"A report or repayment deadline was missed: {name} due 2018-03-31"]
    assert [f for f in book.findings("2018-04-20", rule="obligation_missed") if name in f["description"]] == []
    # Only the missing expense report, never an activity report, opens the right to reclaim.
    assert book.reclaim("skr", "2018-04-20")["reasons"] == ["expense report missing (deadline 2018-03-31)"]


def test_restated_expense_report_after_the_deadline_keeps_the_first_receipt_in_time(book: Book) -> None:
    ledger = book.ledger
    paid_in_full(book, "region-dalarna", P1, 18_632_366)
    first = expense_report(A, None, "region-dalarna", kr(18_632_366), kr(18_000_000), "2018-03-28")
    record(ledger, "2018-03-28T10:00", first)
    restated = expense_report(A, None, "region-dalarna", kr(18_632_366), kr(18_200_000), "2018-04-20",
                              note="Rättad ekonomisk redovisning")
    record(ledger, "2018-04-20T10:00", restated)

    # Between the two receipts the first report stands, as the ledger knows it now.
    owed = book.due_back("region-dalarna", "2018-04-01")
    assert (owed["report_received"], owed["costs"], owed["due"]) == (True, kr(18_000_000), kr(632_366))
    duty = book.obligation("region-dalarna", "ekonomisk_redovisning", "2018-04-01")
    assert (duty["state"], duty["received_on"]) == ("met", "2018-03-28")
    assert book.reclaim("region-dalarna", "2018-04-01") == {}
    # From the restatement on, its figures count; the report still arrived in time on 28 March.
    owed = book.due_back("region-dalarna", "2018-04-20")
    assert (owed["costs"], owed["due"]) == (kr(18_200_000), kr(432_366))
    duty = book.obligation("region-dalarna", "ekonomisk_redovisning", "2018-04-20")
    assert (duty["state"], duty["received_on"]) == ("met", "2018-03-28")
    assert book.reclaim("region-dalarna", "2018-04-20") == {}
    assert book.balance("region-dalarna", None, "2018-04-20")["costs"] == kr(18_200_000)
    assert book.trial_balance("2018-04-01") == 0 and book.trial_balance("2018-04-20") == 0


def test_gotland_municipality_with_regional_tasks_is_paid_and_reports_like_a_landsting(book: Book) -> None:
    ledger = book.ledger
    paid_in_full(book, "region-gotland", P1, 3_800_426)
    record(ledger, "2018-03-27T10:00", expense_report(A, P1, "region-gotland", kr(3_800_426), kr(3_500_000),
                                                      "2018-03-27"))
    line = book.balance("region-gotland", P1, "2018-04-01")
    assert (line["allocated"], line["paid"], line["unspent"]) == (kr(3_800_426), kr(3_800_426), kr(300_426))
    owed = book.due_back("region-gotland", "2018-04-01")
    assert (owed["due"], owed["outstanding"], owed["overdue"]) == (kr(300_426), kr(300_426), kr(300_426))
    assert book.obligation("region-gotland", "ekonomisk_redovisning", "2018-04-01")["state"] == "met"
