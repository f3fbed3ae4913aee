"""Postings (konteringar): every monetary event as balanced double entries.

Each event becomes postings that sum to zero, all with the event's effective date and
recorded time. Accounts (debit positive, credit negative):

| event | debit | credit |
|---|---|---|
| allocation row of an agreement, allocation decided | entitlement (recipient) | appropriation / unallocated |
| blank table (money not yet allocated) | unallocated | appropriation |
| requisition received (rekvisition) | requisitioned | requisition_claims |
| payout made (utbetalning) | funds (recipient) | disbursed (state) |
| onward transfer (vidareförmedling) | passed_on | funds (the pass-through recipient) |
| expense report (ekonomisk redovisning): total costs | costs | funds |
| repayment received (återbetalning) | repaid (state) | funds |
| repayment naming a reclaim decision, also | reclaim_settled | reclaim_receivable |
| reclaim decided (återkrav) | reclaim_receivable | reclaim_decided |
| reclaim settled | reclaim_settled | reclaim_receivable |

A correction or retraction never deletes a posting: it stamps the superseded event's
postings with ``superseded_at`` (its own recorded time), so a view known before the
correction still sees them. A restated expense report for the same recipient, part and
period posts only the change in costs (see ``LedgerViews``): the earlier report stands as
of the days before the restatement.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ledger.journal import Entry


@dataclass(frozen=True)
class Posting:
    account: str
    amount: int  # öre; debit positive
    part_id: str | None
    recipient_id: str | None
    route: str | None = None


def _pair(debit: str, credit: str, amount: int, part: str | None, recipient: str | None,
          route: str | None = None, credit_recipient: str | None = "same") -> list[Posting]:
    other = recipient if credit_recipient == "same" else credit_recipient
    return [Posting(debit, amount, part, recipient, route), Posting(credit, -amount, part, other, route)]


def agreement_postings(agreement: dict[str, Any]) -> Iterator[Posting]:
    """Entitlements from every allocation table; blank tables leave money unallocated."""
    for part in agreement["parts"]:
        for table in part.get("tables", []):
            if table.get("role", "allocation") != "allocation":
                continue
            if table.get("blank"):
                yield from _pair("unallocated", "appropriation", table["blank_amount_kr"] * 100, part["part_id"], None)
            for row in table.get("rows", []):
                yield from _pair("entitlement", "appropriation", row["amount_kr"] * 100, part["part_id"],
                                 row["recipient_id"], row.get("route", "direct"))


def event_postings(kind: str, payload: dict[str, Any]) -> list[Posting]:
    """The postings of one event; empty for events that move no money."""
    part, recipient = payload.get("part_id"), payload.get("recipient_id")
    amount = payload.get("amount")
    if kind in ("agreement_decided", "agreement_amended"):
        return list(agreement_postings(payload["agreement"]))
    if kind == "allocation_decided":
        return _pair("entitlement", "unallocated", amount, part, recipient, payload.get("route"), credit_recipient=None)
    if kind == "requisition_received":
        return _pair("requisitioned", "requisition_claims", amount, part, recipient)
    if kind == "payout_made":
        return _pair("funds", "disbursed", amount, part, recipient, payload.get("route"))
    if kind == "onward_transfer_made":
        return _pair("passed_on", "funds", amount, part, recipient)
    if kind == "expense_report_received":
        return _pair("costs", "funds", payload["total_costs"], part, recipient)
    if kind == "repayment_received":
        postings = _pair("repaid", "funds", amount, part, recipient)
        if payload.get("reclaim_event_id"):  # it also settles the reclaim decision it names
            postings += _pair("reclaim_settled", "reclaim_receivable", amount, part, recipient)
        return postings
    if kind == "reclaim_decided":
        return _pair("reclaim_receivable", "reclaim_decided", amount, part, recipient)
    if kind == "reclaim_settled":
        return _pair("reclaim_settled", "reclaim_receivable", amount, part, recipient)
    return []


#: Events kept as documents for the rules (deadlines, lump sums, attestations...).
DOCUMENT_KINDS = frozenset({
    "agreement_decided", "agreement_amended", "agreement_approved", "allocation_decided",
    "payment_decision_made", "requisition_received", "payout_made", "onward_transfer_made",
    "expense_report_received", "report_received", "repayment_received", "reclaim_decided",
    "reclaim_settled", "deadline_amended",
})


def agreement_of(entry: Entry) -> str | None:
    payload = entry.payload
    return payload.get("agreement_id") or (payload.get("agreement") or {}).get("agreement_id")


def superseded_ids(entry: Entry) -> list[str]:
    """Events this entry takes out of every view known from its recorded time on."""
    payload = entry.payload
    ids = [payload["corrects"]] if payload.get("corrects") else []
    if entry.kind == "event_retracted":
        ids.append(payload["retracted_event_id"])
    return ids
