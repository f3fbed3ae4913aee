"""The event catalogue at the ledger's door: what is recorded and what is refused.

Every event kind has a valid example that is recorded on both backends. Malformed or
impossible input is refused with the field named, and the journal does not move. A fact
that merely breaks an agreement's rule is recorded (the projections raise the finding).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from freezegun import freeze_time

from ledger.admission import LedgerValidationError
from ledger.application import Ledger
from ledger.catalogue import catalogue
from ledger.events import EVENT_CLASSES
from tests.scenarios.builders import load_catalogue

AGREEMENT = "god-och-nara-vard-2020"  # signed 2020-01-30/31; requisitions by 2020-12-01
PART = "nara-vard"
REGION = "region-skane"
PRINCIPAL = "kammarkollegiet-ekonomi"
DROP = object()  # marks a field to leave out


def new_id() -> str:
    return str(uuid.uuid4())


def event(kind: str, /, **fields: Any) -> dict[str, Any]:
    payload = {"kind": kind, "event_id": new_id(), "effective_date": "2020-06-15", **fields}
    return {k: v for k, v in payload.items() if v is not DROP}


def money(kind: str, /, **fields: Any) -> dict[str, Any]:
    base = {"agreement_id": AGREEMENT, "part_id": PART, "recipient_id": REGION, "amount": 19_143_474_300}
    return event(kind, **{**base, **fields})


def payout(**fields: Any) -> dict[str, Any]:
    return money("payout_made", **fields)


def agreement_payload(agreement_id: str = AGREEMENT) -> dict[str, Any]:
    return {**catalogue()[AGREEMENT].model_dump(mode="json"), "agreement_id": agreement_id}


# --- one valid example per kind: (events to record first, the example) ----------------------

Example = Callable[[], tuple[list[dict[str, Any]], dict[str, Any]]]


def _reclaim() -> dict[str, Any]:
    return money("reclaim_decided", effective_date="2021-09-01", dnr="S2021/01234", reason="report_late_or_missing")


def _settled() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    reclaim = _reclaim()
    return [reclaim], money("reclaim_settled", effective_date="2021-10-01", reclaim_event_id=reclaim["event_id"])


def _retracted() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    wrong = payout()
    return [wrong], event("event_retracted", agreement_id=AGREEMENT, retracted_event_id=wrong["event_id"],
                          reason="registrerad på fel region")


EXAMPLES: dict[str, Example] = {
    "agreement_decided": lambda: ([], event("agreement_decided", effective_date="2022-01-15",
                                            agreement=agreement_payload("prov-overenskommelse-2022"),
                                            decided_by="government", dnr="S2022/00001")),
    "agreement_amended": lambda: ([], event("agreement_amended", effective_date="2020-05-01",
                                            agreement=agreement_payload(), reason="tilläggsöverenskommelse")),
    "agreement_approved": lambda: ([], event("agreement_approved", agreement_id=AGREEMENT, body="government",
                                             dnr="S2020/00555")),
    "allocation_decided": lambda: ([], money("allocation_decided", route="via_skr", table_id="bilaga-1",
                                             basis="fördelning efter befolkning")),
    "payment_decision_made": lambda: ([], event("payment_decision_made", agreement_id=AGREEMENT,
                                                instrument="regeringsbeslut", dnr="S2020/04321",
                                                amount=293_500_000_000)),
    "requisition_received": lambda: ([], money("requisition_received", signature="original",
                                               agreement_dnr="S2020/00555", payment_decision_dnr="S2020/04321",
                                               signed_by="Regiondirektör")),
    "payout_made": lambda: ([], payout(payment_reference="KAM-2020-0042")),
    "onward_transfer_made": lambda: ([], money("onward_transfer_made", recipient_id="skr", amount=5_000_000,
                                               to_recipient_id=REGION)),
    "expense_report_received": lambda: ([], event(
        "expense_report_received", effective_date="2021-03-25", agreement_id=AGREEMENT, part_id=PART,
        recipient_id=REGION, period_start="2020-01-01", period_end="2020-12-31", received_amount=1_000_000,
        cost_items=[{"label": "Personal", "amount": 800_000}], total_costs=800_000, stated_unspent=200_000,
        attestation="alt1", signature="original")),
    "report_received": lambda: ([], event("report_received", effective_date="2020-09-28", agreement_id=AGREEMENT,
                                          report_kind="delrapport", recipient_id=REGION,
                                          received_by="socialstyrelsen")),
    "repayment_received": lambda: ([], money("repayment_received", effective_date="2021-03-30", amount=200_000)),
    "reclaim_decided": lambda: ([], _reclaim()),
    "reclaim_settled": _settled,
    "deadline_amended": lambda: ([], event("deadline_amended", agreement_id=AGREEMENT, part_id=PART,
                                           recipient_id=REGION, obligation="requisition",
                                           new_deadline="2020-12-15", reason="beslut om förlängd frist")),
    "event_retracted": _retracted,
    "recipient_registered": lambda: ([], event("recipient_registered", effective_date="2019-01-01",
                                               recipient_id="region-prov", recipient_kind="region",
                                               name="Region Prov", county="Provlän", org_number="232100-0016")),
    "recipient_renamed": lambda: ([], event("recipient_renamed", effective_date="2021-01-01",
                                            recipient_id="region-skane", name="Region Skåne (nytt namn)")),
}


def test_every_event_kind_has_an_example():
    assert set(EXAMPLES) == set(EVENT_CLASSES)


@pytest.mark.parametrize("kind", sorted(EVENT_CLASSES))
def test_valid_example_is_recorded(loaded_ledger: Ledger, kind: str):
    before, example = EXAMPLES[kind]()
    if before:
        loaded_ledger.append(before, PRINCIPAL)
    position, _ = loaded_ledger.head()
    [entry] = loaded_ledger.append([example], PRINCIPAL)
    assert entry.position == position + 1
    assert loaded_ledger.head() == (position + 1, entry.hash)
    stored = loaded_ledger.index.event(example["event_id"])
    assert stored["kind"] == kind
    assert stored["recorded_by"] == PRINCIPAL
    assert stored["effective_date"] == example["effective_date"]
    assert {k: stored["payload"][k] for k in example} == example
    assert loaded_ledger.verify().ok


# --- refusals ---------------------------------------------------------------------------------


def refused(ledger: Ledger, events: list[dict[str, Any]]) -> list[tuple[int, str]]:
    """Append, expect a refusal, check nothing was recorded; return (item, field) pairs."""
    head = ledger.head()
    with pytest.raises(LedgerValidationError) as caught:
        ledger.append(events, PRINCIPAL)
    assert ledger.head() == head
    ledger.catch_up()
    assert ledger.head() == head
    assert ledger.index.existing_event_ids(e["event_id"] for e in events if "event_id" in e) == set()
    return [(e.item, e.field) for e in caught.value.errors]


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (payout(agreement_id="okand-overenskommelse"), "agreement_id"),
        (payout(part_id="okand-del"), "part_id"),
        (payout(recipient_id="region-atlantis"), "recipient_id"),
        (money("onward_transfer_made", recipient_id="skr", to_recipient_id="region-atlantis"), "to_recipient_id"),
        (event("report_received", agreement_id=AGREEMENT, report_kind="delrapport", recipient_id=REGION,
               received_by="okand-myndighet"), "received_by"),
        (payout(amount=-100), "amount"),
        (payout(amount=1.5), "amount"),
        (payout(amount="100"), "amount"),
        (payout(amount=True), "amount"),
        (payout(currency="EUR"), "currency"),
        (payout(corrects=new_id()), "corrects"),
        (event("event_retracted", agreement_id=AGREEMENT, retracted_event_id=new_id(), reason="fel"),
         "retracted_event_id"),
        (money("reclaim_settled", reclaim_event_id=new_id()), "reclaim_event_id"),
        (payout(requisition_event_id=new_id()), "requisition_event_id"),
        (payout(kind="payout_cancelled"), "kind"),
        (payout(kind=DROP), "kind"),
        (payout(amount=DROP), "amount"),
        (payout(recipient_id=DROP), "recipient_id"),
        (payout(colour="red"), "colour"),
        (payout(recorded_by="mallory"), "recorded_by"),  # the ledger stamps it, never the caller
        (payout(effective_date="2020-02-30"), "effective_date"),
        (payout(event_id="not-a-uuid"), "event_id"),
        (event("recipient_registered", recipient_id="region-prov", recipient_kind="region", name="Region Prov",
               org_number="232100-0017"), "org_number"),
        (event("recipient_registered", recipient_id="region-prov", recipient_kind="landsting", name="X"),
         "recipient_kind"),
        (event("agreement_approved", agreement_id="okand-overenskommelse", body="government"), "agreement_id"),
        (event("agreement_amended", agreement=agreement_payload("okand-overenskommelse"), reason="x"),
         "agreement.agreement_id"),
        (event("agreement_decided", agreement=agreement_payload()), "agreement.agreement_id"),  # already decided
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_invalid_input_is_refused_naming_the_field(loaded_ledger: Ledger, bad: dict[str, Any], field: str):
    assert refused(loaded_ledger, [bad]) == [(0, field)]


def test_error_message_names_the_unknown_agreement(loaded_ledger: Ledger):
    with pytest.raises(LedgerValidationError, match="unknown agreement 'okand'"):
        loaded_ledger.append([payout(agreement_id="okand")], PRINCIPAL)


def test_unknown_part_error_lists_the_agreements_parts(loaded_ledger: Ledger):
    with pytest.raises(LedgerValidationError) as caught:
        loaded_ledger.append([payout(part_id="okand-del")], PRINCIPAL)
    assert "barnhalsovard" in caught.value.errors[0].reason and "nara-vard" in caught.value.errors[0].reason


def test_duplicate_event_id_in_the_journal_is_refused(loaded_ledger: Ledger):
    first = payout()
    loaded_ledger.append([first], PRINCIPAL)
    again = payout(event_id=first["event_id"], amount=1)
    head = loaded_ledger.head()
    with pytest.raises(LedgerValidationError) as caught:
        loaded_ledger.append([again], PRINCIPAL)
    assert [(e.item, e.field) for e in caught.value.errors] == [(0, "event_id")]
    assert loaded_ledger.head() == head
    assert loaded_ledger.index.event(first["event_id"])["payload"]["amount"] == first["amount"]


def test_duplicate_event_id_inside_one_batch_is_refused(loaded_ledger: Ledger):
    first = payout()
    assert refused(loaded_ledger, [first, payout(event_id=first["event_id"], amount=1)]) == [(1, "event_id")]


def test_every_problem_of_a_batch_is_reported_with_its_item(loaded_ledger: Ledger):
    batch = [payout(), payout(amount=-1), payout(), payout(currency="EUR", colour="red")]
    assert refused(loaded_ledger, batch) == [(1, "amount"), (3, "currency"), (3, "colour")]


def test_batch_with_one_bad_reference_records_nothing(loaded_ledger: Ledger):
    batch = [payout(), money("requisition_received", signature="original"), payout(recipient_id="region-atlantis")]
    assert refused(loaded_ledger, batch) == [(2, "recipient_id")]


def test_empty_batch_and_missing_principal_are_refused(loaded_ledger: Ledger):
    head = loaded_ledger.head()
    with pytest.raises(LedgerValidationError, match="empty"):
        loaded_ledger.append([], PRINCIPAL)
    with pytest.raises(LedgerValidationError, match="principal"):
        loaded_ledger.append([payout()], "")
    assert loaded_ledger.head() == head


def test_later_event_of_a_batch_may_refer_to_an_earlier_one(loaded_ledger: Ledger):
    registered = event("recipient_registered", recipient_id="rss-prov", recipient_kind="regional_support_structure",
                       name="Regional stödstruktur Provlän")
    wrong = payout(recipient_id="rss-prov", amount=100)
    right = payout(recipient_id="rss-prov", amount=90, corrects=wrong["event_id"])
    entries = loaded_ledger.append([registered, wrong, right], PRINCIPAL)
    assert [e.kind for e in entries] == ["recipient_registered", "payout_made", "payout_made"]
    assert loaded_ledger.index.event(right["event_id"])["corrects"] == wrong["event_id"]


def test_correction_referring_to_a_later_event_of_the_batch_is_refused(loaded_ledger: Ledger):
    later = payout()
    assert refused(loaded_ledger, [payout(corrects=later["event_id"]), later]) == [(0, "corrects")]


# --- effective date against Stockholm's today ---------------------------------------------------


@freeze_time("2022-04-01 10:00:00")  # 12:00 in Stockholm
def test_effective_date_after_today_is_refused_under_frozen_time(loaded_ledger: Ledger):
    assert refused(loaded_ledger, [payout(effective_date="2022-04-02")]) == [(0, "effective_date")]
    assert refused(loaded_ledger, [payout(effective_date="2030-01-01")]) == [(0, "effective_date")]


def fixed_clock(text: str) -> Callable[[], dt.datetime]:
    # freezegun's FakeDatetime cannot be stored by eventsourcing, so appends get a clock instead.
    return lambda: dt.datetime.fromisoformat(text)


def test_effective_date_today_is_accepted(ledger: Ledger):
    # The agreement is known before the clock's day: recorded times never go back along
    # the journal, so a catalogue recorded at the real "now" would move this entry's time.
    load_catalogue(ledger, AGREEMENT, "2022-03-01T09:00:00")
    ledger.clock = fixed_clock("2022-04-01T10:00:00+00:00")
    [entry] = ledger.append([payout(effective_date="2022-04-01")], PRINCIPAL)
    assert entry.recorded_at == "2022-04-01T10:00:00.000000+00:00"
    assert refused(ledger, [payout(effective_date="2022-04-02")]) == [(0, "effective_date")]


def test_today_is_stockholms_date_not_utcs(loaded_ledger: Ledger):
    # Still 31 March in UTC, already 1 April 00:30 in Stockholm.
    loaded_ledger.clock = fixed_clock("2022-03-31T22:30:00+00:00")
    loaded_ledger.append([payout(effective_date="2022-04-01")], PRINCIPAL)
    assert refused(loaded_ledger, [payout(effective_date="2022-04-02")]) == [(0, "effective_date")]


# --- facts that break a rule are recorded --------------------------------------------------------


def recorded(ledger: Ledger, events: list[dict[str, Any]]) -> None:
    position, _ = ledger.head()
    ledger.append(events, PRINCIPAL)
    assert ledger.head()[0] == position + len(events)
    assert ledger.index.existing_event_ids(e["event_id"] for e in events) == {e["event_id"] for e in events}


def test_payout_above_the_allocation_is_recorded(loaded_ledger: Ledger):
    # Skåne's printed nära-vård row is 191 434 743 kr; pay a thousand million kronor.
    recorded(loaded_ledger, [payout(amount=100_000_000_000)])


def test_second_payout_of_a_lump_sum_is_recorded(loaded_ledger: Ledger):
    recorded(loaded_ledger, [payout(), payout(effective_date="2020-07-01")])


def test_requisition_after_the_deadline_is_recorded(loaded_ledger: Ledger):
    recorded(loaded_ledger, [money("requisition_received", effective_date="2020-12-02", signature="original")])


def test_second_requisition_on_a_copy_without_dnr_is_recorded(loaded_ledger: Ledger):
    recorded(loaded_ledger, [money("requisition_received", signature="original"),
                             money("requisition_received", effective_date="2020-06-20", signature="copy")])


def test_event_dated_before_the_agreement_was_decided_is_recorded(loaded_ledger: Ledger):
    recorded(loaded_ledger, [payout(effective_date="2019-06-01")])


def test_expense_report_with_alt2_and_wrong_arithmetic_is_recorded(loaded_ledger: Ledger):
    recorded(loaded_ledger, [event(
        "expense_report_received", effective_date="2021-04-15", agreement_id=AGREEMENT, recipient_id=REGION,
        period_start="2019-07-01", period_end="2020-12-31", received_amount=1_000_000, total_costs=900_000,
        stated_unspent=500_000, attestation="alt2", signature="copy", deviations="kostnader utanför perioden")])


def _schema_types(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        kind = node.get("type")
        found.update(kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else [])
        for value in node.values():
            found |= _schema_types(value)
    elif isinstance(node, list):
        for value in node:
            found |= _schema_types(value)
    return found


def test_no_event_schema_admits_a_float_or_untyped_data():
    """Money is öre and kronor in integers; and journal entries are stored with orjson
    (ledger/stored.py), which would write an infinite float as null."""
    from ledger.events import EVENT_ADAPTER

    types = _schema_types(EVENT_ADAPTER.json_schema())
    assert "number" not in types
    assert types <= {"string", "integer", "boolean", "null", "object", "array"}
    assert "{}" not in str(EVENT_ADAPTER.json_schema()).replace(" ", "")  # no field of any type
