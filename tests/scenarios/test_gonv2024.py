"""Scenarios for "God och nära vård 2024" (seed 001).

Edge cases and rules from notes/seed_001.md §8–§9 that concern money, deadlines or
reclaim: requisitions by Sunday 1 December 2024 under the agreement's strict deadline
policy (and a deadline_amended decision, and an amendment to the next-working-day policy),
lump sums, caps, the municipalities' money paid per county to the RSS and passed on, the
via-SKR rows, SKR's unspent money due back by 31 March 2025, the discretionary reclaim
after a late report, the SKR board decision dated after the signatures, the ±1 kr rows,
and the regions' co-financing that is never state money. Amounts are öre.
"""

from __future__ import annotations

import pytest

from ledger.admission import LedgerValidationError
from ledger.application import Ledger
from ledger.catalogue import catalogue
from ledger.events import EVENT_ADAPTER
from projections import queries
from projections.queries import Filters
from projections.reconciliation import reconcile
from projections.state import agreement_state
from tests.scenarios._builders_okad import AGREEMENT_DNR, GONV, PAYMENT_DNR, Scenario, kr, today

SKR = "skr"
GOTLAND = "region-gotland"
KRONOBERG = "region-kronoberg"
STOCKHOLM = "region-stockholm"
UPPSALA = "region-uppsala"
RSS_STOCKHOLM = "rss-stockholm"
RSS_UPPSALA = "rss-uppsala"

GOTLAND_NARA = kr(27_221_652)
GOTLAND_AMBULANS = kr(705_424)
KRONOBERG_NARA = kr(44_647_281)
STOCKHOLM_NARA = kr(500_798_626)
RSS_STOCKHOLM_AMOUNT = kr(109_737_356)
RSS_UPPSALA_AMOUNT = kr(29_107_434)
SKR_OWN = kr(34_250_000)  # 30 000 000 + 750 000 + 1 000 000 + 2 500 000


@pytest.fixture
def gonv(ledger: Ledger) -> Scenario:
    """Signed 15 and 20 December 2023, decided; the government's payment decision in January 2024.
    The SKR board's decision, printed as 15 December 2024, cannot be recorded yet."""
    s = Scenario(ledger, GONV)
    later = s.load("2023-12-21T09:00:00")
    assert [e.kind for e in later] == ["agreement_approved"]
    s.later = later  # type: ignore[attr-defined]
    s.record("2024-01-20T09:00:00", s.payment_decision("2024-01-19"))
    return s


def req(s: Scenario, day: str, recipient: str, part: str, amount: int, **fields) -> dict:
    return s.requisition(day, recipient, part, amount, **fields)


def rules_for(view, recipient: str, rule: str) -> list[dict]:
    return [f for f in view.findings(recipient) if f["rule"] == rule]


# --- 1 December 2024 is a Sunday ------------------------------------------------------------------------


def test_requisition_received_on_sunday_1_december_2024_is_in_time_under_strict_policy(gonv):
    s = gonv
    r = req(s, "2024-12-01", GOTLAND, "nara-vard", GOTLAND_NARA)
    s.record("2024-12-01T10:00:00", r)  # the e-service receives on a Sunday
    s.record("2024-12-10T10:00:00", s.payout("2024-12-10", GOTLAND, "nara-vard", GOTLAND_NARA,
                                             requisition_event_id=r["event_id"]))

    view = s.view("2024-12-31")
    line = view.balance(GOTLAND, "nara-vard")
    assert (line["allocated"], line["requisitioned"], line["paid"], line["lapsed"]) == (
        GOTLAND_NARA, GOTLAND_NARA, GOTLAND_NARA, 0)
    duty = view.obligation(GOTLAND, "requisition", "nara-vard")
    assert (duty["deadline"], duty["state"]) == ("2024-12-01", "met")
    assert rules_for(view, GOTLAND, "requisition_late") == []
    # The ambulance money was never requisitioned: it lapsed on Monday 2 December, not before.
    assert s.view("2024-12-01").balance(GOTLAND, "ambulans")["lapsed"] == 0
    assert s.view("2024-12-02").balance(GOTLAND, "ambulans")["lapsed"] == GOTLAND_AMBULANS


def test_requisition_received_monday_2_december_2024_lapses_under_strict_policy_until_deadline_amended(gonv):
    s = gonv
    s.record("2024-12-02T09:00:00", req(s, "2024-12-02", GOTLAND, "ambulans", GOTLAND_AMBULANS,
                                        note="Avsänd fredag 29 november, inkom måndag 2 december"))

    strict = s.view("2024-12-02")
    assert strict.balance(GOTLAND, "ambulans")["lapsed"] == GOTLAND_AMBULANS
    assert strict.obligation(GOTLAND, "requisition", "ambulans")["state"] == "met_late"
    assert [f["amount"] for f in rules_for(strict, GOTLAND, "requisition_late")] == [GOTLAND_AMBULANS]

    # Kammarkollegiet decides on 18 December that the last day moves to the next working day;
    # the decision is recorded on 20 December.
    s.record("2024-12-20T09:00:00",
             s.deadline_amended("2024-12-18", "requisition", "2024-12-02",
                                "Sista dag infaller en söndag: rekvisitioner som inkommit 2 december godtas",
                                dnr="2.4-1234/24"))

    known_before = s.view("2024-12-31", "2024-12-19T12:00:00")
    assert known_before.balance(GOTLAND, "ambulans")["lapsed"] == GOTLAND_AMBULANS
    assert rules_for(known_before, GOTLAND, "requisition_late")
    known_after = s.view("2024-12-31", "2024-12-21T12:00:00")
    assert known_after.balance(GOTLAND, "ambulans")["lapsed"] == 0
    assert rules_for(known_after, GOTLAND, "requisition_late") == []
    duty = known_after.obligation(GOTLAND, "requisition", "ambulans")
    assert (duty["printed_deadline"], duty["deadline"], duty["state"]) == ("2024-12-01", "2024-12-02", "met")
    # Before the decision's own date the right had lapsed, whatever we know now.
    assert s.view("2024-12-17").balance(GOTLAND, "ambulans")["lapsed"] == GOTLAND_AMBULANS
    # Nara-vård was not requisitioned at all: the amended deadline (2 December) has passed.
    assert known_after.balance(GOTLAND, "nara-vard")["lapsed"] == GOTLAND_NARA


def test_requisition_on_monday_2_december_is_in_time_once_the_agreement_takes_the_next_working_day_policy(gonv):
    s = gonv
    s.record("2024-12-02T09:00:00", req(s, "2024-12-02", GOTLAND, "ambulans", GOTLAND_AMBULANS))
    terms = catalogue()[GONV].model_dump(mode="json")
    for part in terms["parts"]:
        part["terms"]["deadline_policy"] = "next_working_day"
        part["terms"]["deadline_policy_source"] = "tilläggsöverenskommelse: lag (1930:173) tillämpas"
    amendment = {"kind": "agreement_amended", "event_id": "00000000-0000-4000-8000-000000002024",
                 "effective_date": "2024-12-05", "agreement": terms, "reason": "Fristberäkning enligt lag (1930:173)"}
    s.record("2024-12-06T09:00:00", amendment)

    before = s.view("2024-12-31", "2024-12-05T12:00:00")
    assert before.balance(GOTLAND, "ambulans")["lapsed"] == GOTLAND_AMBULANS
    after = s.view("2024-12-31")
    assert after.balance(GOTLAND, "ambulans")["lapsed"] == 0
    assert after.obligation(GOTLAND, "requisition", "ambulans")["deadline"] == "2024-12-02"
    # The amendment restates the agreement: the entitlements are the same, never doubled.
    assert after.balance(GOTLAND, "ambulans")["allocated"] == GOTLAND_AMBULANS
    assert after.total()["allocated"] == kr(3_330_250_000)
    assert after.trial_balance() == 0

    # The report over every agreement still holds the amended one (its decision is superseded).
    everything = queries.balances(s.ledger.views, after.clock, Filters(), totals=False)
    mine = [b for b in everything if b["agreement_id"] == GONV]
    assert mine == after.balances()
    assert sum(b["allocated"] for b in mine) == kr(3_330_250_000)


# --- requisitions and payouts: caps, lump sums, documents ---------------------------------------------------


def test_requisition_for_less_than_the_allocation_lapses_the_remainder(gonv):
    s = gonv
    r = req(s, "2024-06-03", KRONOBERG, "nara-vard", kr(40_000_000))
    s.record("2024-06-03T09:00:00", r)
    s.record("2024-06-20T09:00:00", s.payout("2024-06-20", KRONOBERG, "nara-vard", kr(40_000_000),
                                             requisition_event_id=r["event_id"]))

    assert s.view("2024-12-01").balance(KRONOBERG, "nara-vard")["lapsed"] == 0
    line = s.view("2024-12-02").balance(KRONOBERG, "nara-vard")
    assert (line["allocated"], line["paid"], line["lapsed"]) == (KRONOBERG_NARA, kr(40_000_000), kr(4_647_281))


def test_requisition_above_the_allocation_is_flagged_by_one_krona(gonv):
    s = gonv
    s.record("2024-06-03T09:00:00", req(s, "2024-06-03", KRONOBERG, "nara-vard", KRONOBERG_NARA + kr(1)))
    [finding] = rules_for(s.view("2024-06-03"), KRONOBERG, "requisition_above_allocation")
    assert finding["amount"] == kr(1)


def test_second_requisition_and_second_payout_are_flagged_engangsvis(gonv):
    s = gonv
    first = req(s, "2024-03-01", KRONOBERG, "nara-vard", kr(20_000_000))
    second = req(s, "2024-09-01", KRONOBERG, "nara-vard", kr(24_647_281))
    s.record("2024-03-01T09:00:00", first)
    s.record("2024-03-15T09:00:00", s.payout("2024-03-15", KRONOBERG, "nara-vard", kr(20_000_000)))
    s.record("2024-09-01T09:00:00", second)
    s.record("2024-09-15T09:00:00", s.payout("2024-09-15", KRONOBERG, "nara-vard", kr(24_647_281)))

    assert s.view("2024-08-31").rules(KRONOBERG) == []
    view = s.view("2024-09-15")
    assert sorted(view.rules(KRONOBERG)) == ["second_payout", "second_requisition"]
    line = view.balance(KRONOBERG, "nara-vard")
    assert (line["requisitioned"], line["paid"]) == (KRONOBERG_NARA, KRONOBERG_NARA)


def test_requisition_before_the_payment_decision_without_its_dnr_is_flagged(ledger):
    s = Scenario(ledger, GONV)
    s.load("2023-12-21T09:00:00")
    r = req(s, "2024-01-10", KRONOBERG, "nara-vard", KRONOBERG_NARA, payment_decision_dnr=None)
    s.record("2024-01-10T09:00:00", r)
    s.record("2024-01-12T09:00:00", s.payout("2024-01-12", KRONOBERG, "nara-vard", KRONOBERG_NARA))
    s.record("2024-01-20T09:00:00", s.payment_decision("2024-01-19"))

    view = s.view("2024-02-01")
    missing = rules_for(view, KRONOBERG, "document_missing_dnr")
    assert [f["events"] for f in missing] == [[r["event_id"]]]
    assert [f["amount"] for f in rules_for(view, KRONOBERG, "payout_without_payment_decision")] == [KRONOBERG_NARA]


def test_requisition_signed_on_a_copy_is_flagged(gonv):
    s = gonv
    r = req(s, "2024-05-02", KRONOBERG, "nara-vard", KRONOBERG_NARA, signature="copy")
    s.record("2024-05-02T09:00:00", r)
    [finding] = rules_for(s.view("2024-05-02"), KRONOBERG, "document_not_original")
    assert finding["events"] == [r["event_id"]]


def test_payout_without_requisition_is_flagged_where_the_part_needs_one(gonv):
    s = gonv
    s.record("2024-04-02T09:00:00", s.payout("2024-04-02", KRONOBERG, "nara-vard", KRONOBERG_NARA))
    [finding] = rules_for(s.view("2024-04-02"), KRONOBERG, "payout_without_requisition")
    assert finding["amount"] == KRONOBERG_NARA


def test_region_that_never_requisitions_lapses_and_the_totals_still_reconcile(gonv):
    """Seed 001 edge 12: lapsed money is not redistributed; allocated stays as printed."""
    s = gonv
    r = req(s, "2024-05-02", KRONOBERG, "nara-vard", KRONOBERG_NARA)
    s.record("2024-05-02T09:00:00", r)
    s.record("2024-05-10T09:00:00", s.payout("2024-05-10", KRONOBERG, "nara-vard", KRONOBERG_NARA))

    view = s.view("2024-12-02")
    gotland = {b["part_id"]: b for b in view.balances(GOTLAND)}
    assert gotland["nara-vard"]["lapsed"] == GOTLAND_NARA
    assert gotland["ambulans"]["lapsed"] == GOTLAND_AMBULANS
    assert view.balance(KRONOBERG, "nara-vard")["lapsed"] == 0
    assert view.balance(KRONOBERG, "nara-vard")["allocated"] == KRONOBERG_NARA
    total = view.total()
    assert total["allocated"] == kr(3_330_250_000)
    assert total["paid"] == KRONOBERG_NARA
    assert total["lapsed"] == kr(3_330_250_000) - KRONOBERG_NARA  # nobody else requisitioned
    assert view.trial_balance() == 0


# --- routes: via RSS, via SKR -------------------------------------------------------------------------------


MUNICIPALITIES = {  # onward split within Stockholms län (the key is not given; these are test figures)
    "Stockholms stad": kr(40_000_000),
    "Huddinge kommun": kr(9_737_356),
    "Södertälje kommun": kr(60_000_000),
}


def test_via_rss_county_money_is_paid_to_the_rss_and_passed_on_to_municipalities(gonv):
    s = gonv
    r = req(s, "2024-04-02", RSS_STOCKHOLM, "nara-vard", RSS_STOCKHOLM_AMOUNT, signed_by="RSS Stockholms län")
    s.record("2024-04-02T09:00:00", r)
    s.record("2024-04-15T09:00:00", s.payout("2024-04-15", RSS_STOCKHOLM, "nara-vard", RSS_STOCKHOLM_AMOUNT,
                                             route="via_rss", requisition_event_id=r["event_id"]))
    s.record("2024-06-01T09:00:00", *[s.onward("2024-06-01", RSS_STOCKHOLM, "nara-vard", amount, to_name=name)
                                      for name, amount in MUNICIPALITIES.items()])

    mid = s.view("2024-05-01").balance(RSS_STOCKHOLM, "nara-vard")
    assert (mid["route"], mid["paid"], mid["passed_on"], mid["held"]) == (
        "via_rss", RSS_STOCKHOLM_AMOUNT, 0, RSS_STOCKHOLM_AMOUNT)
    view = s.view("2025-01-01")
    line = view.balance(RSS_STOCKHOLM, "nara-vard")
    assert sum(MUNICIPALITIES.values()) == RSS_STOCKHOLM_AMOUNT
    assert (line["allocated"], line["paid"], line["passed_on"], line["held"], line["unspent"]) == (
        RSS_STOCKHOLM_AMOUNT, RSS_STOCKHOLM_AMOUNT, RSS_STOCKHOLM_AMOUNT, 0, 0)
    assert view.rules(RSS_STOCKHOLM) == []
    # The RSS owes its report on the municipalities' money to Socialstyrelsen by 31 March 2025.
    duty = [o for o in view.obligations(RSS_STOCKHOLM) if o["obligation"] == "verksamhetsrapport"]
    assert [(o["receivers"], o["deadline"], o["state"]) for o in duty] == [
        (["socialstyrelsen"], "2025-03-31", "upcoming")]


def test_rss_retaining_county_money_after_year_end_is_flagged(gonv):
    s = gonv
    s.record("2024-04-02T09:00:00", req(s, "2024-04-02", RSS_UPPSALA, "nara-vard", RSS_UPPSALA_AMOUNT))
    s.record("2024-04-15T09:00:00", s.payout("2024-04-15", RSS_UPPSALA, "nara-vard", RSS_UPPSALA_AMOUNT,
                                             route="via_rss"))
    s.record("2024-11-01T09:00:00", s.onward("2024-11-01", RSS_UPPSALA, "nara-vard", kr(20_000_000),
                                             to_name="Uppsala kommun"))

    assert rules_for(s.view("2024-12-31"), RSS_UPPSALA, "not_passed_on") == []  # still within the year
    [finding] = rules_for(s.view("2025-01-01"), RSS_UPPSALA, "not_passed_on")
    assert finding["amount"] == kr(9_107_434)
    assert s.view("2025-01-01").balance(RSS_UPPSALA, "nara-vard")["held"] == kr(9_107_434)


def test_via_skr_strama_money_passed_to_region_uppsala_partly_then_late(gonv):
    """Seed 001 edge 6: SKR passes Region Uppsala's 3 000 000 on late and in two parts; Strama owes no report."""
    s = gonv
    strama = kr(3_000_000)
    s.record("2024-03-01T09:00:00", req(s, "2024-03-01", SKR, "antibiotika", strama))
    s.record("2024-03-20T09:00:00", s.payout("2024-03-20", SKR, "antibiotika", strama, route="via_skr"))
    s.record("2024-12-20T09:00:00", s.onward("2024-12-20", SKR, "antibiotika", kr(2_000_000),
                                             to_recipient_id=UPPSALA))
    s.record("2025-02-03T09:00:00", s.onward("2025-02-03", SKR, "antibiotika", kr(1_000_000),
                                             to_recipient_id=UPPSALA))

    [finding] = rules_for(s.view("2025-01-31"), SKR, "not_passed_on")
    assert (finding["part_id"], finding["amount"]) == ("antibiotika", kr(1_000_000))
    view = s.view("2025-02-03")
    # Passed on in February: the money is no longer held, but it was not passed on by year end,
    # and that finding stays, as of any later date.
    [still] = rules_for(view, SKR, "not_passed_on")
    assert still["amount"] == kr(1_000_000)
    line = view.balance(SKR, "antibiotika")
    assert (line["route"], line["paid"], line["passed_on"], line["held"]) == ("via_skr", strama, strama, 0)
    # No report of any kind is owed for the antibiotics part.
    assert [o["obligation"] for o in view.obligations(SKR) if o["part_id"] == "antibiotika"] == ["requisition"]
    # Region Uppsala's own balance holds only its direct money: the via-SKR money is SKR's line.
    assert {b["part_id"] for b in view.balances(UPPSALA)} == {"nara-vard", "ambulans"}


def test_sallsynta_via_skr_rows_passed_on_and_skr_own_million_kept(gonv):
    """Table 11.2 avsnitt 6: 6 000 000 CSD and 3 000 000 Region Stockholm via SKR, 1 000 000 to SKR itself.
    One lump-sum payout of 10 000 000; SKR passes the 9 000 000 on and keeps its own 1 000 000."""
    s = gonv
    s.record("2024-03-01T09:00:00", req(s, "2024-03-01", SKR, "sallsynta", kr(10_000_000)))
    s.record("2024-03-20T09:00:00", s.payout("2024-03-20", SKR, "sallsynta", kr(10_000_000), route="via_skr"))
    s.record("2024-09-02T09:00:00",
             s.onward("2024-09-02", SKR, "sallsynta", kr(3_000_000), to_recipient_id=STOCKHOLM),
             *[s.onward("2024-09-02", SKR, "sallsynta", kr(1_000_000), to_name=f"CSD sjukvårdsregion {n}")
               for n in ("Norr", "Mellansverige", "Stockholm-Gotland", "Sydöst", "Väst", "Syd")])

    view = s.view("2025-01-02")
    line = view.balance(SKR, "sallsynta")
    assert (line["allocated"], line["paid"], line["passed_on"], line["held"]) == (
        kr(10_000_000), kr(10_000_000), kr(9_000_000), kr(1_000_000))
    assert rules_for(view, SKR, "not_passed_on") == []  # the million left is SKR's own


def test_sallsynta_via_skr_money_not_passed_on_is_flagged_but_not_skr_own(gonv):
    s = gonv
    s.record("2024-03-01T09:00:00", req(s, "2024-03-01", SKR, "sallsynta", kr(10_000_000)))
    s.record("2024-03-20T09:00:00", s.payout("2024-03-20", SKR, "sallsynta", kr(10_000_000), route="via_skr"))
    s.record("2024-09-02T09:00:00", s.onward("2024-09-02", SKR, "sallsynta", kr(8_000_000),
                                             to_name="CSD vid universitetssjukhusen och Region Stockholm"))
    [finding] = rules_for(s.view("2025-01-02"), SKR, "not_passed_on")
    assert finding["amount"] == kr(1_000_000)


def test_region_stockholm_direct_money_and_its_via_skr_money_are_kept_apart(gonv):
    """Seed 001 edge 13: per (recipient, part, route); the via-SKR 3 000 000 is SKR's to pass on."""
    s = gonv
    s.record("2024-03-01T09:00:00", req(s, "2024-03-01", STOCKHOLM, "nara-vard", STOCKHOLM_NARA))
    s.record("2024-03-20T09:00:00", s.payout("2024-03-20", STOCKHOLM, "nara-vard", STOCKHOLM_NARA))
    s.record("2024-10-01T09:00:00", s.onward("2024-10-01", SKR, "sallsynta", kr(3_000_000), to_recipient_id=STOCKHOLM))

    view = s.view("2024-10-01")
    stockholm = {b["part_id"]: b for b in view.balances(STOCKHOLM)}
    assert set(stockholm) == {"nara-vard", "ambulans"}
    assert (stockholm["nara-vard"]["route"], stockholm["nara-vard"]["paid"]) == ("direct", STOCKHOLM_NARA)
    skr = view.balance(SKR, "sallsynta")
    assert (skr["allocated"], skr["passed_on"]) == (kr(10_000_000), kr(3_000_000))
    state = agreement_state(s.ledger.views, GONV, view.clock)
    assert state.account("entitlement", SKR, "sallsynta") == kr(10_000_000)
    routes = {key[2]: amounts.get("entitlement", 0) for key, amounts in state.sums.items()
              if key[:2] == ("sallsynta", SKR) and amounts.get("entitlement")}
    assert routes == {"via_skr": kr(9_000_000), "direct": kr(1_000_000)}


def test_region_passing_money_to_a_private_provider_keeps_it_out_of_unspent(gonv):
    """Seed 001 edge 18: sub-grants to private or non-profit providers."""
    s = gonv
    s.record("2024-03-01T09:00:00", req(s, "2024-03-01", KRONOBERG, "nara-vard", KRONOBERG_NARA))
    s.record("2024-03-20T09:00:00", s.payout("2024-03-20", KRONOBERG, "nara-vard", KRONOBERG_NARA))
    s.record("2024-05-02T09:00:00", s.onward("2024-05-02", KRONOBERG, "nara-vard", kr(2_500_000),
                                             to_name="Vårdcentralen Kronan AB"))
    line = s.view("2025-01-02").balance(KRONOBERG, "nara-vard")
    assert (line["passed_on"], line["held"]) == (kr(2_500_000), KRONOBERG_NARA - kr(2_500_000))
    assert rules_for(s.view("2025-01-02"), KRONOBERG, "not_passed_on") == []  # direct money: no pass-through duty


# --- SKR: report, unspent funds, reclaim ----------------------------------------------------------------------


@pytest.fixture
def skr_paid(gonv: Scenario) -> Scenario:
    """SKR requisitions and is paid its own 34 250 000 across four parts."""
    s = gonv
    own = {"nara-vard": kr(30_000_000), "ambulans": kr(750_000), "lakemedel": kr(2_500_000)}
    s.record("2024-02-01T09:00:00", *[req(s, "2024-02-01", SKR, part, amount) for part, amount in own.items()],
             req(s, "2024-02-01", SKR, "sallsynta", kr(1_000_000)))
    s.record("2024-02-20T09:00:00", *[s.payout("2024-02-20", SKR, part, amount) for part, amount in own.items()],
             s.payout("2024-02-20", SKR, "sallsynta", kr(1_000_000)))
    return s


def skr_report(s: Scenario, day: str, costs: int, **fields) -> dict:
    return s.expense_report(day, SKR, received=SKR_OWN, costs=costs, year=2024, **fields)


def test_skr_financial_report_late_opens_a_reclaim_right_and_only_a_decision_makes_a_debt(skr_paid):
    """Seed 001 edge 7: report on 1 April 2025; the government decides a partial reclaim."""
    s = skr_paid
    s.record("2025-04-01T09:00:00", skr_report(s, "2025-04-01", costs=SKR_OWN))

    in_time = s.view("2025-03-31")
    assert in_time.reclaims(SKR) == []
    [right] = s.view("2025-04-01").reclaims(SKR)
    assert right["reasons"] == ["expense report late (deadline 2025-03-31)"]
    assert (right["eligible_amount"], right["decided"], right["outstanding"]) == (SKR_OWN, 0, 0)
    assert s.view("2025-04-01").obligation(SKR, "ekonomisk_redovisning")["state"] == "met_late"

    decision = s.reclaim("2025-05-15", SKR, None, kr(5_000_000), dnr="S2025/01111")
    s.record("2025-05-16T09:00:00", decision)
    s.record("2025-06-02T09:00:00", s.settle("2025-06-02", decision, kr(5_000_000)))

    [known_before] = s.view("2025-06-30", "2025-05-15T23:00:00").reclaims(SKR)
    assert (known_before["decided"], known_before["settled"]) == (0, 0)
    [decided] = s.view("2025-05-31").reclaims(SKR)
    assert (decided["decided"], decided["settled"], decided["outstanding"]) == (kr(5_000_000), 0, kr(5_000_000))
    assert decided["decisions"] == ["S2025/01111"]
    [settled] = s.view("2025-06-02").reclaims(SKR)
    assert (settled["decided"], settled["settled"], settled["outstanding"]) == (kr(5_000_000), kr(5_000_000), 0)
    assert s.view("2025-06-02").trial_balance() == 0


def test_skr_financial_report_missing_the_government_chooses_not_to_reclaim(skr_paid):
    s = skr_paid
    view = s.view("2025-04-01")
    [right] = view.reclaims(SKR)
    assert right["reasons"] == ["expense report missing (deadline 2025-03-31)"]
    assert (right["eligible_amount"], right["decided"]) == (SKR_OWN, 0)
    assert view.due_back(SKR) == []  # with no report, nothing is computed as due back


def test_skr_costs_above_the_grant_give_nothing_due_back_and_no_top_up(skr_paid):
    """Seed 001 edge 9: negative unspent is floored at 0."""
    s = skr_paid
    s.record("2025-03-20T09:00:00", skr_report(s, "2025-03-20", costs=kr(36_000_000), unspent=0))
    view = s.view("2025-04-01")
    assert view.due_back(SKR) == []  # nothing due, nothing repaid
    assert [o for o in view.obligations(SKR) if o["obligation"] == "repayment"] == []
    # The report covers every part: its costs sit on SKR's part-less line, never as a negative due.
    [whole] = [b for b in view.balances(SKR) if b["part_id"] is None]
    assert (whole["costs"], whole["unspent"]) == (kr(36_000_000), 0)
    assert "report_arithmetic" not in view.rules(SKR)


def test_skr_costs_equal_to_the_grant_give_nothing_due_back(skr_paid):
    s = skr_paid
    s.record("2025-03-20T09:00:00", skr_report(s, "2025-03-20", costs=SKR_OWN))
    view = s.view("2025-04-01")
    assert view.due_back(SKR) == []
    assert [o for o in view.obligations(SKR) if o["obligation"] == "repayment"] == []


def test_skr_unspent_partly_repaid_and_the_rest_after_31_march_2025(skr_paid):
    """Seed 001 edge 10, the report covering every part (part_id none)."""
    s = skr_paid
    s.record("2025-03-20T09:00:00", skr_report(s, "2025-03-20", costs=kr(33_000_000)))
    s.record("2025-03-28T09:00:00", s.repayment("2025-03-28", SKR, None, kr(1_000_000)))
    s.record("2025-04-08T09:00:00", s.repayment("2025-04-07", SKR, None, kr(250_000)))

    [by_deadline] = s.view("2025-03-31").due_back(SKR)
    assert (by_deadline["due"], by_deadline["repaid"], by_deadline["outstanding"], by_deadline["deadline"]) == (
        kr(1_250_000), kr(1_000_000), kr(250_000), "2025-03-31")
    [overdue] = s.view("2025-04-01").due_back(SKR)
    assert overdue["overdue"] == kr(250_000)
    [known_then] = s.view("2025-04-07", "2025-04-07T12:00:00").due_back(SKR)
    assert known_then["overdue"] == kr(250_000)
    [settled] = s.view("2025-04-07").due_back(SKR)
    assert (settled["outstanding"], settled["overdue"]) == (0, 0)
    duty = s.view("2025-04-07").obligation(SKR, "repayment")
    assert (duty["state"], duty["received_on"]) == ("met_late", "2025-04-07")


def test_skr_expense_report_alt2_is_flagged(skr_paid):
    """Seed 001 edge 8: Alt 2 with deviations and actions."""
    s = skr_paid
    r = skr_report(s, "2025-03-20", costs=kr(34_000_000), attestation="alt2",
                   deviations="Kostnader för 2025 ingår med 400 000 kr", actions="Beloppet återbetalas")
    s.record("2025-03-20T09:00:00", r)
    [finding] = rules_for(s.view("2025-03-31"), SKR, "attestation_alt2")
    assert finding["events"] == [r["event_id"]]
    assert "Kostnader för 2025" in finding["description"]


def test_expense_report_with_costs_outside_the_calendar_year_is_flagged(skr_paid):
    """Seed 001 edge 19: costs in early 2025 reported for the 2024 grant."""
    s = skr_paid
    s.record("2025-03-20T09:00:00", skr_report(s, "2025-03-20", costs=SKR_OWN, period_end="2025-02-28"))
    [finding] = rules_for(s.view("2025-03-31"), SKR, "costs_outside_period")
    assert "2024-01-01–2025-02-28" in finding["description"]


def test_region_missing_its_socialstyrelsen_report_is_a_finding_but_opens_no_reclaim(gonv):
    """Seed 001 edge 11 under the catalogue's policy: only the expense report triggers the reclaim clause."""
    s = gonv
    s.record("2024-03-01T09:00:00", req(s, "2024-03-01", KRONOBERG, "nara-vard", KRONOBERG_NARA))
    s.record("2024-03-20T09:00:00", s.payout("2024-03-20", KRONOBERG, "nara-vard", KRONOBERG_NARA))
    view = s.view("2025-04-01")
    missed = [o for o in view.obligations(KRONOBERG) if o["obligation"] == "verksamhetsrapport"]
    assert [(o["receivers"], o["state"]) for o in missed] == [(["socialstyrelsen"], "missed")]
    assert "obligation_missed" in view.rules(KRONOBERG)
    assert view.reclaims(KRONOBERG) == []


# --- the board decision, the ±1 kr rows, co-financing ---------------------------------------------------------


def test_skr_board_decision_dated_after_the_signatures_is_recorded_and_earlier_events_count(gonv):
    """Seed 001 edge 14: the board decision printed as 15 December 2024 (after the signatures and the
    requisition deadline). It cannot be recorded before that day; events dated before it still count."""
    s = gonv
    [approval] = s.later
    assert approval.effective_date.isoformat() == "2024-12-15"
    with today("2024-06-01T09:00:00"), pytest.raises(LedgerValidationError, match="effective_date"):
        s.ledger.append([approval], "catalogue-loader")

    s.record("2024-03-01T09:00:00", req(s, "2024-03-01", KRONOBERG, "nara-vard", KRONOBERG_NARA))
    s.record("2024-03-20T09:00:00", s.payout("2024-03-20", KRONOBERG, "nara-vard", KRONOBERG_NARA))
    s.record("2024-12-16T09:00:00", approval)

    approvals = [e for e in s.ledger.list_events() if e["kind"] == "agreement_approved"]
    assert [(e["effective_date"], e["payload"]["body"]) for e in approvals] == [("2024-12-15", "skr_board")]
    for known_at in ("2024-12-15T12:00:00", "2024-12-16T12:00:00"):
        line = s.view("2024-06-30", known_at).balance(KRONOBERG, "nara-vard")
        assert (line["requisitioned"], line["paid"], line["lapsed"]) == (KRONOBERG_NARA, KRONOBERG_NARA, 0)
    assert rules_for(s.view("2024-12-31"), KRONOBERG, "requisition_late") == []
    # Reconciliation reports the anomaly as a known discrepancy; nothing is patched.
    known = {f.source for f in reconcile(catalogue()[GONV]).findings if f.kind == "known_discrepancy"}
    assert "L2–3" in known
    # The JSON form of the stored approval is the catalogue's event, unchanged.
    stored = [e for e in s.ledger.list_events() if e["kind"] == "agreement_approved"][0]["payload"]
    assert EVENT_ADAPTER.validate_python(stored) == approval


def test_reconciliation_reports_the_plus_minus_1_kr_rows_and_the_ledger_keeps_printed_amounts(gonv):
    """Seed 001 edge 16: Örebro −1 (Bilaga 2), VGR ambulans +1, Norrbotten nära vård +1."""
    report = reconcile(catalogue()[GONV])
    plus_minus = {f.table_id: f for f in report.findings if f.kind == "known_discrepancy"
                  and f.description.split(":")[0].startswith("Bilaga")
                  and "balancing adjustment" in f.description}
    assert set(plus_minus) == {"bilaga2-kommuner", "bilaga3-ambulans", "bilaga3-nara-vard"}
    assert all(f.known and f.difference is None for f in plus_minus.values())
    # The tables still sum exactly to their printed totals: no table_total finding.
    assert [f for f in report.findings if f.kind == "table_total"] == []

    view = gonv.view("2024-01-31")
    assert view.balance("rss-orebro", "nara-vard")["allocated"] == kr(26_788_066)
    assert view.balance("region-vastra-gotaland", "ambulans")["allocated"] == kr(6_443_659)
    assert view.balance("region-norrbotten", "nara-vard")["allocated"] == kr(65_026_470)
    rss = sum(b["allocated"] for b in view.balances() if b["recipient_id"].startswith("rss-"))
    regions = sum(b["allocated"] for b in view.balances() if b["recipient_id"].startswith("region-"))
    assert (rss, regions) == (kr(750_000_000), kr(2_466_000_000))


def test_co_financing_is_never_state_money_and_never_paid_out(gonv):
    """Rule 15: the regions' 100 000 000 for quality registers is outside the state's balance."""
    s = gonv
    view = s.view("2024-12-31")
    assert view.total()["allocated"] == kr(3_330_250_000)
    assert view.balance(SKR, "kvalitetsregister")["allocated"] == kr(68_000_000)
    skr_total = sum(b["allocated"] for b in view.balances(SKR))
    assert skr_total == SKR_OWN + kr(80_000_000)
    state = agreement_state(s.ledger.views, GONV, view.clock)
    assert state.account("appropriation") == -kr(3_330_250_000)
    report = reconcile(catalogue()[GONV])
    assert (report.stated_state, report.stated_co_financing, report.stated_total, report.parts_total) == (
        kr(3_330_250_000), kr(100_000_000), kr(3_430_250_000), kr(3_330_250_000))
    assert view.trial_balance() == 0
