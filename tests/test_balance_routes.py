"""A recipient with money by several routes in one part gets one line, broken down by route."""

from projections import queries
from projections.state import Clock


def test_skr_own_and_pass_through_money_in_one_part_are_told_apart(loaded_ledger):
    flt = queries.Filters("god-och-nara-vard-2024", "sallsynta", "skr")
    [line] = queries.balances(loaded_ledger.views, Clock.of("2024-06-30"), flt, totals=False)
    # Table 11.2 (seed 001 L1976, L1978, L1990): 6 000 000 + 3 000 000 via SKR, 1 000 000 to SKR itself.
    assert line["allocated"] == 10_000_000_00
    assert line["route"] == "direct+via_skr"
    assert line["by_route"] == {"direct": {"allocated": 1_000_000_00, "paid": 0},
                                "via_skr": {"allocated": 9_000_000_00, "paid": 0}}


def test_a_single_route_names_the_line(loaded_ledger):
    flt = queries.Filters("god-och-nara-vard-2020", "nara-vard", "region-gotland")
    [line] = queries.balances(loaded_ledger.views, Clock.of("2020-06-30"), flt, totals=False)
    assert line["route"] == "direct" and set(line["by_route"]) == {"direct"}


def test_balances_need_only_the_documents_they_load(loaded_ledger):
    """Balances read a subset of document kinds; with every kind loaded they are the same."""
    from ledger.examples import EXAMPLES
    from projections.balances import balance_lines
    from projections.state import BALANCE_KINDS, agreement_state

    order = ["payment_decision_made", "deadline_amended", "requisition_received", "payout_made",
             "onward_transfer_made", "expense_report_received", "repayment_received", "reclaim_decided",
             "reclaim_settled"]
    loaded_ledger.append([EXAMPLES[k] for k in order], "test")
    for day in ("2020-06-30", "2021-04-30", "2021-12-31"):
        clock = Clock.of(day)
        full = agreement_state(loaded_ledger.views, "god-och-nara-vard-2020", clock)
        lean = agreement_state(loaded_ledger.views, "god-och-nara-vard-2020", clock, kinds=BALANCE_KINDS)
        assert [b.as_dict() for b in balance_lines(lean)] == [b.as_dict() for b in balance_lines(full)]
        assert len(lean.documents) < len(full.documents)
