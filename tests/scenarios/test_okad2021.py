"""Scenarios for "Ökad tillgänglighet i hälso- och sjukvården 2021" (seed 002, kömiljarden 2021).

Edge cases and rules from notes/seed_002.md §8–§9 that concern money, deadlines or reclaim:
the action-plan tranche of block 2 (received by both SKR and Regeringskansliet by
31 March 2021, else forfeited), the regions' blocks paid by government decision with no
requisition, SKR's 10 MSEK (one requisition by 1 December 2021, else lapse; unspent due
back by 31 March 2022), and what the ledger knew when (known_at before and after
back-dated events). Amounts are öre.

The per-region amounts are not printed in the seed (Bilaga 1 rows are blank, L922–930);
the allocation events below stand in for the government's payment decisions.
"""

from __future__ import annotations

import pytest

from ledger.admission import LedgerValidationError
from ledger.application import Ledger
from ledger.catalogue import catalogue
from projections.reconciliation import reconcile
from tests.scenarios._builders_okad import OKAD, TRANCHE_A, TRANCHE_B, Scenario, kr

STOCKHOLM = "region-stockholm"
UPPSALA = "region-uppsala"
SKR = "skr"
RK = "regeringskansliet"

TRANCHE_A_STHLM = kr(172_516_944)
TRANCHE_B_STHLM = kr(172_632_120)
TRANCHE_A_UPPS = kr(27_714_480)
TRANCHE_B_UPPS = kr(27_733_007)
SKR_GRANT = kr(10_000_000)
BLOCK_TOTAL = kr(1_478_500_000)
REGION_DNR = "S2020/09999"  # fictional: no dnr is printed in the seed
SKR_DNR = "S2021/04242"


@pytest.fixture
def okad(ledger: Ledger) -> Scenario:
    """Agreement decided (SKR board 18 Dec 2020), the government's payment decision for the regions,
    and block 2 allocations for two regions: tranche A by population, tranche B tied to the action plan."""
    s = Scenario(ledger, OKAD)
    s.load("2020-12-22T09:00:00")
    s.record(
        "2021-01-15T09:00:00",
        s.payment_decision("2020-12-22", dnr=REGION_DNR, part_id="block-2"),
        s.allocation("2021-01-15", STOCKHOLM, "block-2", TRANCHE_A_STHLM, condition_id=TRANCHE_A, dnr=REGION_DNR),
        s.allocation("2021-01-15", UPPSALA, "block-2", TRANCHE_A_UPPS, condition_id=TRANCHE_A, dnr=REGION_DNR),
        s.allocation("2021-01-15", STOCKHOLM, "block-2", TRANCHE_B_STHLM, condition_id=TRANCHE_B, dnr=REGION_DNR),
        s.allocation("2021-01-15", UPPSALA, "block-2", TRANCHE_B_UPPS, condition_id=TRANCHE_B, dnr=REGION_DNR),
    )
    s.record(
        "2021-01-25T09:00:00",
        s.payout("2021-01-25", STOCKHOLM, "block-2", TRANCHE_A_STHLM, payment_reference="kömiljard tranche A"),
        s.payout("2021-01-25", UPPSALA, "block-2", TRANCHE_A_UPPS, payment_reference="kömiljard tranche A"),
    )
    return s


def plan(s: Scenario, day: str, region: str, received_by: str) -> dict:
    return s.report(day, region, "handlingsplan", received_by, part_id="block-2")


def action_plan_findings(view, region: str) -> list[dict]:
    return [f for f in view.findings(region) if f["rule"] == "action_plan_late_or_partial"]


# --- block 2, tranche B: the action plan -------------------------------------------------------------


def test_action_plan_received_by_skr_and_regeringskansliet_on_31_march_tranche_b_paid_not_forfeited(okad):
    s = okad
    s.record("2021-03-31T15:00:00", plan(s, "2021-03-31", STOCKHOLM, SKR), plan(s, "2021-03-31", STOCKHOLM, RK))
    s.record("2021-03-31T16:00:00",
             s.payout("2021-03-31", STOCKHOLM, "block-2", TRANCHE_B_STHLM, payment_reference="tranche B"))

    for as_of in ("2021-03-31", "2021-04-01", "2021-12-31", "2022-06-30"):
        view = s.view(as_of)
        line = view.balance(STOCKHOLM, "block-2")
        assert line["allocated"] == TRANCHE_A_STHLM + TRANCHE_B_STHLM == kr(345_149_064)
        assert line["paid"] == kr(345_149_064)
        assert line["forfeited"] == 0
        assert line["lapsed"] == 0
        assert line["requisitioned"] == 0
        assert action_plan_findings(view, STOCKHOLM) == []
        assert view.obligation(STOCKHOLM, "handlingsplan")["state"] == "met"
    # The regions do not requisition: neither payout is a finding, and nothing is due back.
    assert "payout_without_requisition" not in s.view("2022-06-30").rules()
    assert s.view("2022-06-30").due_back(STOCKHOLM) == []


def test_action_plan_received_by_skr_only_tranche_b_forfeited_with_finding(okad):
    s = okad
    s.record("2021-03-29T10:00:00", plan(s, "2021-03-29", UPPSALA, SKR))

    before = s.view("2021-03-30")  # Regeringskansliet may still receive it until 31 March
    assert before.balance(UPPSALA, "block-2")["forfeited"] == 0
    assert action_plan_findings(before, UPPSALA) == []
    assert before.obligation(UPPSALA, "handlingsplan")["state"] == "upcoming"

    on_the_day = s.view("2021-03-31")
    assert on_the_day.balance(UPPSALA, "block-2")["forfeited"] == 0

    after = s.view("2021-04-01")
    line = after.balance(UPPSALA, "block-2")
    assert line["forfeited"] == TRANCHE_B_UPPS == kr(27_733_007)
    assert line["allocated"] == TRANCHE_A_UPPS + TRANCHE_B_UPPS
    assert line["paid"] == TRANCHE_A_UPPS
    found = action_plan_findings(after, UPPSALA)
    assert found, "received by one receiver only must be a finding"
    assert any("skr only" in f["description"] for f in found)
    assert after.obligation(UPPSALA, "handlingsplan")["state"] == "missed"


def test_action_plan_received_one_day_late_on_1_april_by_both_is_forfeited(okad):
    s = okad
    s.record("2021-04-01T12:00:00", plan(s, "2021-04-01", STOCKHOLM, SKR), plan(s, "2021-04-01", STOCKHOLM, RK))

    view = s.view("2021-04-01")
    line = view.balance(STOCKHOLM, "block-2")
    assert line["forfeited"] == TRANCHE_B_STHLM
    assert line["paid"] == TRANCHE_A_STHLM
    duty = view.obligation(STOCKHOLM, "handlingsplan")
    assert duty["state"] == "met_late"
    assert duty["received_on"] == "2021-04-01"
    assert sorted(duty["late_receivers"]) == [RK, SKR]
    assert len(action_plan_findings(view, STOCKHOLM)) >= 1
    # Where forfeited money goes is not stated (gap): it is not reallocated to another region and
    # the block's unallocated money does not change.
    other = view.balance(UPPSALA, "block-2")
    assert other["allocated"] == TRANCHE_A_UPPS + TRANCHE_B_UPPS
    assert view.total()["forfeited"] == TRANCHE_B_STHLM + TRANCHE_B_UPPS  # Uppsala sent none


def test_action_plan_on_time_at_skr_late_at_regeringskansliet_is_forfeited(okad):
    s = okad
    s.record("2021-03-30T10:00:00", plan(s, "2021-03-30", STOCKHOLM, SKR))
    s.record("2021-04-06T10:00:00", plan(s, "2021-04-06", STOCKHOLM, RK))

    view = s.view("2021-04-30")
    assert view.balance(STOCKHOLM, "block-2")["forfeited"] == TRANCHE_B_STHLM
    duty = view.obligation(STOCKHOLM, "handlingsplan")
    assert duty["state"] == "met_late"
    assert duty["late_receivers"] == [RK]
    assert duty["received_on"] == "2021-04-06"
    assert action_plan_findings(view, STOCKHOLM)
    # Between the two receipts, as of 5 April, the plan had reached only SKR.
    mid = s.view("2021-04-05")
    assert mid.obligation(STOCKHOLM, "handlingsplan")["state"] == "missed"
    assert mid.balance(STOCKHOLM, "block-2")["forfeited"] == TRANCHE_B_STHLM


def test_forfeited_tranche_b_is_never_due_back_and_not_lapsed(okad):
    s = okad
    for as_of in ("2021-04-01", "2021-12-31", "2022-04-01"):
        view = s.view(as_of)
        line = view.balance(UPPSALA, "block-2")
        assert line["forfeited"] == TRANCHE_B_UPPS
        assert line["lapsed"] == 0  # no requisition term: nothing lapses, it is forfeited
        assert line["unspent"] == TRANCHE_A_UPPS  # the paid tranche A, spent or not, no report due
        assert view.due_back(UPPSALA) == []
        assert view.reclaims(UPPSALA) == []
    assert s.view("2022-04-01").trial_balance() == 0


def test_tranche_b_paid_before_plan_then_plan_late_needs_a_reclaim_decision(okad):
    """Seed 002 edge 4: no reclaim clause, so only a recorded government decision creates a debt."""
    s = okad
    s.record("2021-03-26T10:00:00", s.payout("2021-03-26", UPPSALA, "block-2", TRANCHE_B_UPPS))
    s.record("2021-04-09T10:00:00", plan(s, "2021-04-08", UPPSALA, SKR), plan(s, "2021-04-09", UPPSALA, RK))

    view = s.view("2021-05-01")
    line = view.balance(UPPSALA, "block-2")
    assert line["paid"] == TRANCHE_A_UPPS + TRANCHE_B_UPPS
    assert line["forfeited"] == TRANCHE_B_UPPS
    assert view.reclaims(UPPSALA) == []  # eligibility is not a debt, and no clause gives one
    assert view.due_back(UPPSALA) == []

    decision = s.reclaim("2021-06-10", UPPSALA, "block-2", TRANCHE_B_UPPS, dnr="S2021/05555",
                         reason="other", reason_text="Handlingsplanen inkom för sent; tranche B återkrävs")
    s.record("2021-06-11T08:00:00", decision)
    s.record("2021-07-01T08:00:00",
             s.repayment("2021-06-30", UPPSALA, "block-2", TRANCHE_B_UPPS, reclaim_event_id=decision["event_id"]))

    # As the ledger knew it on 10 June: no decision yet.
    assert s.view("2021-06-30", "2021-06-10").reclaims(UPPSALA) == []
    # On 20 June: decided, not settled.
    [decided] = s.view("2021-06-30", "2021-06-20").reclaims(UPPSALA)
    assert (decided["decided"], decided["settled"], decided["outstanding"]) == (TRANCHE_B_UPPS, 0, TRANCHE_B_UPPS)
    assert decided["decisions"] == ["S2021/05555"]
    # Now: settled by the repayment that cites the decision; it is not unspent money due back.
    [now] = s.view("2021-07-01").reclaims(UPPSALA)
    assert (now["decided"], now["settled"], now["outstanding"]) == (TRANCHE_B_UPPS, TRANCHE_B_UPPS, 0)
    # (A due-back row may list the repayment, but nothing is due or outstanding: no report, no duty.)
    assert [(r["due"], r["outstanding"], r["overdue"]) for r in s.view("2021-07-01").due_back(UPPSALA)] in (
        [], [(0, 0, 0)])
    assert s.view("2021-07-01").balance(UPPSALA, "block-2")["repaid"] == TRANCHE_B_UPPS
    assert s.view("2021-07-01").trial_balance() == 0


def test_action_plan_receipt_backdated_to_31_march_restores_tranche_b(okad):
    """Regeringskansliet's receipt of 31 March is recorded on 12 April: known_at decides."""
    s = okad
    s.record("2021-03-31T09:00:00", plan(s, "2021-03-31", STOCKHOLM, SKR))
    s.record("2021-04-12T09:00:00", plan(s, "2021-03-31", STOCKHOLM, RK))

    as_known_before = s.view("2021-04-05", "2021-04-11T12:00:00")
    assert as_known_before.balance(STOCKHOLM, "block-2")["forfeited"] == TRANCHE_B_STHLM
    assert action_plan_findings(as_known_before, STOCKHOLM)

    as_known_after = s.view("2021-04-05", "2021-04-12T12:00:00")
    assert as_known_after.balance(STOCKHOLM, "block-2")["forfeited"] == 0
    assert action_plan_findings(as_known_after, STOCKHOLM) == []
    assert as_known_after.obligation(STOCKHOLM, "handlingsplan")["state"] == "met"


def test_action_plan_receipt_recorded_for_the_wrong_region_retracted_forfeits_tranche_b(okad):
    s = okad
    wrong = plan(s, "2021-03-30", UPPSALA, RK)
    s.record("2021-03-30T09:00:00", plan(s, "2021-03-30", UPPSALA, SKR), wrong)
    s.record("2021-04-20T09:00:00", s.retraction("2021-04-20", wrong, "registrerad på fel region"))

    assert s.view("2021-04-10", "2021-04-19T00:00:00").balance(UPPSALA, "block-2")["forfeited"] == 0
    after = s.view("2021-04-10", "2021-04-21T00:00:00")
    assert after.balance(UPPSALA, "block-2")["forfeited"] == TRANCHE_B_UPPS
    assert action_plan_findings(after, UPPSALA)


def test_action_plan_deadline_amended_for_one_region_is_not_forfeited(okad):
    s = okad
    s.record("2021-03-25T09:00:00",
             s.deadline_amended("2021-03-25", "handlingsplan", "2021-04-15", "Anstånd beviljat (covid-19)",
                                part_id="block-2", recipient_id=UPPSALA, dnr="S2021/03001"))
    s.record("2021-04-14T09:00:00", plan(s, "2021-04-14", UPPSALA, SKR), plan(s, "2021-04-14", UPPSALA, RK))

    view = s.view("2021-04-20")
    assert view.balance(UPPSALA, "block-2")["forfeited"] == 0
    assert view.obligation(UPPSALA, "handlingsplan")["state"] == "met"
    assert view.obligation(UPPSALA, "handlingsplan")["deadline"] == "2021-04-15"
    # Stockholm, with no amendment and no plan, is forfeited from 1 April.
    assert view.balance(STOCKHOLM, "block-2")["forfeited"] == TRANCHE_B_STHLM


def test_status_report_missed_has_no_money_consequence(okad):
    s = okad
    s.record("2021-03-31T09:00:00", plan(s, "2021-03-31", STOCKHOLM, SKR), plan(s, "2021-03-31", STOCKHOLM, RK))
    s.record("2021-03-31T10:00:00", s.payout("2021-03-31", STOCKHOLM, "block-2", TRANCHE_B_STHLM))

    view = s.view("2021-10-16")
    assert view.obligation(STOCKHOLM, "nulagesrapport")["state"] == "missed"
    assert "obligation_missed" in view.rules(STOCKHOLM)
    line = view.balance(STOCKHOLM, "block-2")
    assert (line["forfeited"], line["lapsed"], line["paid"]) == (0, 0, TRANCHE_A_STHLM + TRANCHE_B_STHLM)
    assert view.reclaims(STOCKHOLM) == []


# --- the regions' blocks: government decision, no requisition -------------------------------------------


def test_regions_blocks_paid_without_requisition_raise_no_payout_without_requisition(okad):
    s = okad
    view = s.view("2021-02-01")
    assert view.balance(STOCKHOLM, "block-2")["paid"] == TRANCHE_A_STHLM
    rules = view.rules()
    assert "payout_without_requisition" not in rules
    assert "payout_without_payment_decision" not in rules
    assert [o for o in view.obligations() if o["obligation"] == "requisition" and o["part_id"] == "block-2"] == []


def test_region_payout_before_any_payment_decision_is_flagged(ledger):
    s = Scenario(ledger, OKAD)
    s.load("2020-12-22T09:00:00")
    s.record("2021-01-15T09:00:00",
             s.allocation("2021-01-15", STOCKHOLM, "block-2", TRANCHE_A_STHLM, condition_id=TRANCHE_A))
    s.record("2021-01-20T09:00:00", s.payout("2021-01-20", STOCKHOLM, "block-2", TRANCHE_A_STHLM))
    s.record("2021-01-28T09:00:00", s.payment_decision("2021-01-28", dnr=REGION_DNR, part_id="block-2"))

    found = [f for f in s.view("2021-02-01").findings(STOCKHOLM) if f["rule"] == "payout_without_payment_decision"]
    assert [f["amount"] for f in found] == [TRANCHE_A_STHLM]  # the decision came after the value date
    assert "payout_without_requisition" not in s.view("2021-02-01").rules()


def test_block_1_stays_unallocated_without_supplementary_agreement_and_a_payout_is_flagged(okad):
    """Seed 002 edge 8 and rule 5: no tilläggsöverenskommelse by 1 June 2021, block 1 stays unallocated."""
    s = okad
    s.record("2021-06-15T09:00:00", s.payout("2021-06-15", STOCKHOLM, "block-1", kr(50_000_000)))

    view = s.view("2021-06-15")
    line = view.balance(STOCKHOLM, "block-1")
    assert line["allocated"] == 0
    assert line["paid"] == kr(50_000_000)
    over = [f for f in view.findings(STOCKHOLM) if f["rule"] == "payout_above_allocation"]
    assert [f["amount"] for f in over] == [kr(50_000_000)]
    [reclaim] = view.reclaims(STOCKHOLM)
    assert reclaim["eligible_amount"] == kr(50_000_000)
    assert reclaim["decided"] == 0
    # The whole block 1 is still unallocated money in the ledger.
    from projections.state import agreement_state
    state = agreement_state(s.ledger.views, OKAD, view.clock)
    assert state.account("unallocated", None, "block-1") == BLOCK_TOTAL


def test_block_2_tranches_739_000_000_and_739_500_000_reconcile_exactly_with_the_block_total(ledger):
    """Seed 002 edge 9: "ca 739" is never halved; the decided amounts must add up to 1 478 500 000."""
    s = Scenario(ledger, OKAD)
    s.load("2020-12-22T09:00:00")
    s.record(
        "2021-01-15T09:00:00",
        s.allocation("2021-01-15", STOCKHOLM, "block-2", kr(600_000_000), condition_id=TRANCHE_A),
        s.allocation("2021-01-15", UPPSALA, "block-2", kr(139_000_000), condition_id=TRANCHE_A),
        s.allocation("2021-01-15", STOCKHOLM, "block-2", kr(600_250_000), condition_id=TRANCHE_B),
        s.allocation("2021-01-15", UPPSALA, "block-2", kr(139_250_000), condition_id=TRANCHE_B),
    )
    from projections.state import agreement_state
    state = agreement_state(ledger.views, OKAD, s.view("2021-01-15").clock)
    assert state.account("entitlement", None, "block-2") == BLOCK_TOTAL
    assert state.account("unallocated", None, "block-2") == 0
    assert s.view("2021-01-15").trial_balance() == 0
    # Reconciliation still reports the printed "ca 739 + ca 739" shortfall of 500 000 kr as known.
    report = reconcile(catalogue()[OKAD])
    [known] = [f for f in report.findings if f.kind == "known_discrepancy" and f.part_id == "block-2"
               and f.difference is not None]
    assert known.difference == -kr(500_000)
    assert report.stated_state == kr(2_967_000_000) == report.parts_total


def test_money_outside_the_agreement_cannot_be_posted_to_it(okad):
    """Seed 002 edge 19: the 4 bn for deferred care is not a part of this agreement."""
    s = okad
    position = s.ledger.head()[0]
    with pytest.raises(LedgerValidationError, match="no part 'uppdamd-vard'"):
        s.record("2021-02-01T09:00:00", s.payout("2021-02-01", STOCKHOLM, "uppdamd-vard", kr(190_000_000)))
    assert s.ledger.head()[0] == position


# --- SKR's 10 MSEK ----------------------------------------------------------------------------------------


@pytest.fixture
def skr(ledger: Ledger) -> Scenario:
    s = Scenario(ledger, OKAD)
    s.load("2020-12-22T09:00:00")
    s.record("2021-02-01T09:00:00", s.payment_decision("2021-02-01", dnr=SKR_DNR, part_id="skr"))
    return s


def skr_req(s: Scenario, day: str, amount: int = SKR_GRANT, **fields) -> dict:
    return s.requisition(day, SKR, "skr", amount, agreement_dnr="S2020/09780", payment_decision_dnr=SKR_DNR,
                         **fields)


def test_skr_requisition_received_on_1_december_2021_is_in_time(skr):
    s = skr
    req = skr_req(s, "2021-12-01")
    s.record("2021-12-01T15:00:00", req)
    s.record("2021-12-10T09:00:00", s.payout("2021-12-10", SKR, "skr", SKR_GRANT, requisition_event_id=req["event_id"]))

    view = s.view("2022-01-10")
    line = view.balance(SKR, "skr")
    assert (line["allocated"], line["requisitioned"], line["paid"], line["lapsed"]) == (SKR_GRANT,) * 3 + (0,)
    assert view.obligation(SKR, "requisition")["state"] == "met"
    # The only finding is the interim report (delrapport, due 30 September) nobody recorded.
    [missed] = view.findings(SKR)
    assert missed["rule"] == "obligation_missed" and "Delrapport" in missed["description"]


def test_skr_requisition_received_2_december_2021_lapses_and_is_flagged(skr):
    """Seed 002 edge 10."""
    s = skr
    s.record("2021-12-02T10:00:00", skr_req(s, "2021-12-02", note="Poststämplad 30 november"))

    on_deadline = s.view("2021-12-01")
    assert on_deadline.balance(SKR, "skr")["lapsed"] == 0
    assert on_deadline.obligation(SKR, "requisition")["state"] == "upcoming"

    view = s.view("2021-12-02")
    line = view.balance(SKR, "skr")
    assert line["lapsed"] == SKR_GRANT
    assert line["requisitioned"] == SKR_GRANT
    assert view.obligation(SKR, "requisition")["state"] == "met_late"
    late = [f for f in view.findings(SKR) if f["rule"] == "requisition_late"]
    assert [f["amount"] for f in late] == [SKR_GRANT]


def test_skr_no_requisition_right_lapses_after_1_december_2021(skr):
    s = skr
    assert s.view("2021-12-01").balance(SKR, "skr")["lapsed"] == 0
    view = s.view("2021-12-02")
    assert view.balance(SKR, "skr")["lapsed"] == SKR_GRANT
    assert view.total()["lapsed"] == SKR_GRANT
    assert view.obligation(SKR, "requisition")["state"] == "missed"
    # A lapsed right is not money paid: nothing due back, nothing to reclaim.
    later = s.view("2022-04-30")
    assert later.due_back(SKR) == []
    assert later.reclaims(SKR) == []


def test_skr_second_requisition_is_flagged_engangsvis(skr):
    """Seed 002 edge 11: recorded as a fact, raised as a finding."""
    s = skr
    first, second = skr_req(s, "2021-06-01", kr(6_000_000)), skr_req(s, "2021-09-01", kr(4_000_000))
    s.record("2021-06-01T10:00:00", first)
    s.record("2021-09-01T10:00:00", second)

    view = s.view("2021-09-01")
    [finding] = [f for f in view.findings(SKR) if f["rule"] == "second_requisition"]
    assert sorted(finding["events"]) == sorted([first["event_id"], second["event_id"]])
    assert view.balance(SKR, "skr")["requisitioned"] == SKR_GRANT
    assert "second_requisition" not in s.view("2021-08-31").rules(SKR)


def test_skr_requisition_of_10_000_001_kr_is_flagged_above_allocation(skr):
    """Seed 002 edge 12."""
    s = skr
    s.record("2021-06-01T10:00:00", skr_req(s, "2021-06-01", kr(10_000_001)))
    [finding] = [f for f in s.view("2021-06-01").findings(SKR) if f["rule"] == "requisition_above_allocation"]
    assert finding["amount"] == kr(1)


def test_skr_unspent_800_000_due_back_by_31_march_2022_partly_repaid_then_late(skr):
    """Seed 002 edge 13: costs 9 200 000 against 10 000 000; 300 000 repaid on time, 500 000 on 1 April."""
    s = skr
    req = skr_req(s, "2021-03-01")
    s.record("2021-03-01T10:00:00", req)
    s.record("2021-03-15T10:00:00", s.payout("2021-03-15", SKR, "skr", SKR_GRANT, requisition_event_id=req["event_id"]))
    s.record("2022-03-20T10:00:00",
             s.expense_report("2022-03-20", SKR, part_id="skr", received=SKR_GRANT, costs=kr(9_200_000), year=2021,
                              agreement_dnr="S2020/09780", payment_decision_dnr=SKR_DNR))
    s.record("2022-03-30T10:00:00", s.repayment("2022-03-30", SKR, "skr", kr(300_000)))
    s.record("2022-04-04T10:00:00", s.repayment("2022-04-01", SKR, "skr", kr(500_000)))

    [on_time] = s.view("2022-03-31").due_back(SKR)
    assert (on_time["due"], on_time["repaid"], on_time["outstanding"], on_time["overdue"]) == (
        kr(800_000), kr(300_000), kr(500_000), 0)
    assert on_time["deadline"] == "2022-03-31"

    # 1 April as known on 2 April: the late repayment is not recorded yet, 500 000 overdue.
    [known_then] = s.view("2022-04-01", "2022-04-02T12:00:00").due_back(SKR)
    assert (known_then["outstanding"], known_then["overdue"]) == (kr(500_000), kr(500_000))
    assert s.view("2022-04-01", "2022-04-02T12:00:00").obligation(SKR, "repayment")["state"] == "missed"

    view = s.view("2022-04-01")
    [now] = view.due_back(SKR)
    assert (now["due"], now["repaid"], now["outstanding"], now["overdue"]) == (kr(800_000), kr(800_000), 0, 0)
    repayment = view.obligation(SKR, "repayment")
    assert (repayment["state"], repayment["received_on"]) == ("met_late", "2022-04-01")
    line = view.balance(SKR, "skr")
    assert (line["costs"], line["unspent"], line["repaid"], line["held"]) == (kr(9_200_000), kr(800_000),
                                                                              kr(800_000), 0)
    assert view.trial_balance() == 0


def test_skr_expense_report_alt2_is_flagged_and_a_restated_report_supersedes_it(skr):
    """Seed 002 edges 14 and 17: Alt 2 with deviations, then a corrected report for the same period."""
    s = skr
    req = skr_req(s, "2021-03-01")
    s.record("2021-03-01T10:00:00", req)
    s.record("2021-03-15T10:00:00", s.payout("2021-03-15", SKR, "skr", SKR_GRANT))
    first = s.expense_report("2022-03-25", SKR, part_id="skr", received=SKR_GRANT, costs=kr(9_600_000), year=2021,
                             attestation="alt2", deviations="Lönekostnader för 2022 ingår",
                             actions="Redovisningen rättas", agreement_dnr="S2020/09780",
                             payment_decision_dnr=SKR_DNR)
    s.record("2022-03-25T10:00:00", first)
    second = s.expense_report("2022-03-30", SKR, part_id="skr", received=SKR_GRANT, costs=kr(9_100_000), year=2021,
                              agreement_dnr="S2020/09780", payment_decision_dnr=SKR_DNR, corrects=first["event_id"])
    s.record("2022-03-30T10:00:00", second)

    before = s.view("2022-03-31", "2022-03-29T00:00:00")
    assert "attestation_alt2" in before.rules(SKR)
    [owed] = before.due_back(SKR)
    assert owed["due"] == kr(400_000)

    after = s.view("2022-03-31")
    assert "attestation_alt2" not in after.rules(SKR)
    [owed] = after.due_back(SKR)
    assert (owed["costs"], owed["due"], owed["outstanding"]) == (kr(9_100_000), kr(900_000), kr(900_000))
    assert s.view("2022-04-01").due_back(SKR)[0]["overdue"] == kr(900_000)
    assert after.trial_balance() == 0


def test_skr_documents_without_dnr_or_not_signed_in_original_are_flagged(skr):
    """Seed 002 edge 15."""
    s = skr
    req = s.requisition("2021-05-01", SKR, "skr", SKR_GRANT, agreement_dnr=None, payment_decision_dnr=SKR_DNR,
                        signature="electronic")
    s.record("2021-05-01T10:00:00", req)
    rules = [f["rule"] for f in s.view("2021-05-01").findings(SKR) if f["events"] == [req["event_id"]]]
    assert sorted(rules) == ["document_missing_dnr", "document_not_original"]
