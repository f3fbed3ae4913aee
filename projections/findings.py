"""Findings (iakttagelser): every rule a recorded fact broke, with the events involved.

The ledger records facts as given; judging them happens here, for the query's as_of
and known_at. Each finding names its rule, the recipient and part, the amount where
there is one, and the event ids an auditor should open.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from projections.balances import BalanceLine
from projections.obligations import ObligationLine
from projections.state import AgreementState


@dataclass
class Finding:
    rule: str
    agreement_id: str
    recipient_id: str | None
    part_id: str | None
    description: str
    amount: int | None = None
    events: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


RULES = {
    "requisition_late": "Requisition received after the deadline: the right to the grant had lapsed",
    "second_requisition": "A second requisition against a lump-sum (engångsvis) part",
    "second_payout": "A second payout against a lump-sum (engångsvis) part",
    "requisition_above_allocation": "Requisitioned more than the allocation",
    "payout_above_allocation": "Paid more than the allocation",
    "payout_without_payment_decision": "Payout with no payment decision recorded",
    "payout_without_requisition": "Payout with no requisition where the part needs one",
    "document_missing_dnr": "Document does not cite both diarienummer",
    "document_not_original": "Document not signed in original",
    "attestation_alt2": "Finance director's attestation Alt 2: the report is not correct",
    "report_arithmetic": "Expense report arithmetic does not add up",
    "report_received_mismatch": "Expense report's received amount differs from what the ledger paid",
    "costs_outside_period": "Expense report period outside the grant year",
    "not_passed_on": "Pass-through money not passed on by year end",
    "allocation_above_blank": "Allocations decided above the money the agreement left unallocated",
    "action_plan_late_or_partial": "Action plan late, or received by only one of its receivers",
    "obligation_missed": "A report or repayment deadline was missed",
}


def _f(state: AgreementState, rule: str, doc_or_line: Any, detail: str, amount: int | None = None,
       events: list[str] | None = None) -> Finding:
    if isinstance(doc_or_line, dict):
        recipient, part, ids = doc_or_line.get("recipient_id"), doc_or_line.get("part_id"), [doc_or_line["event_id"]]
    else:
        recipient, part, ids = doc_or_line.recipient_id, doc_or_line.part_id, []
    return Finding(rule, state.agreement.agreement_id, recipient, part, f"{RULES[rule]}: {detail}", amount,
                   events if events is not None else ids)


def _requisition_findings(state: AgreementState) -> list[Finding]:
    out = []
    for part in state.agreement.parts:
        term = part.terms.requisition
        by_recipient: dict[str, list[dict[str, Any]]] = {}
        for doc in state.docs("requisition_received", part_id=part.part_id):
            by_recipient.setdefault(doc["recipient_id"], []).append(doc)
        for recipient, docs in by_recipient.items():
            deadline = state.deadline(part, "requisition", term.deadline, recipient)
            for doc in docs:
                if deadline and dt.date.fromisoformat(doc["effective_date"]) > deadline:
                    out.append(_f(state, "requisition_late", doc,
                                  f"received {doc['effective_date']}, deadline {deadline}", doc["payload"]["amount"]))
            if part.terms.lump_sum and len(docs) > 1:
                out.append(_f(state, "second_requisition", docs[1], f"{len(docs)} requisitions",
                              events=[d["event_id"] for d in docs]))
    return out


def _payout_findings(state: AgreementState) -> list[Finding]:
    out = []
    decisions = state.docs("payment_decision_made")
    for part in state.agreement.parts:
        by_recipient: dict[str, list[dict[str, Any]]] = {}
        for doc in state.docs("payout_made", part_id=part.part_id):
            by_recipient.setdefault(doc["recipient_id"], []).append(doc)
        for recipient, docs in by_recipient.items():
            if part.terms.lump_sum and len(docs) > 1:
                out.append(_f(state, "second_payout", docs[1], f"{len(docs)} payouts",
                              events=[d["event_id"] for d in docs]))
            for doc in docs:
                paid_on = doc["effective_date"]
                covering = [d for d in decisions if d["part_id"] in (None, part.part_id)
                            and d["payload"].get("recipient_id") in (None, recipient) and d["effective_date"] <= paid_on]
                if not covering:
                    out.append(_f(state, "payout_without_payment_decision", doc, f"paid {paid_on}",
                                  doc["payload"]["amount"]))
                if part.terms.requisition.required and not any(
                        r["effective_date"] <= paid_on for r in state.docs("requisition_received", recipient,
                                                                            part.part_id)):
                    out.append(_f(state, "payout_without_requisition", doc, f"paid {paid_on}",
                                  doc["payload"]["amount"]))
    return out


def _allocation_findings(state: AgreementState, lines: list[BalanceLine]) -> list[Finding]:
    out = []
    for line in lines:
        if line.requisitioned > line.allocated:
            out.append(_f(state, "requisition_above_allocation", line,
                          f"requisitioned {line.requisitioned} öre, allocated {line.allocated} öre",
                          line.requisitioned - line.allocated))
        if line.paid > line.allocated:
            out.append(_f(state, "payout_above_allocation", line,
                          f"paid {line.paid} öre, allocated {line.allocated} öre", line.paid - line.allocated))
        year_end = dt.date(state.agreement.year, 12, 31)
        if state.clock.as_of > year_end:
            # Judged on 31 December: a transfer in January does not undo money held over year end.
            paid, passed_on = _by_date(state, line, "payout_made", year_end), \
                _by_date(state, line, "onward_transfer_made", year_end)
            pass_through = _pass_through(state, line, paid)
            if pass_through and pass_through > passed_on:
                out.append(_f(state, "not_passed_on", line,
                              f"paid {paid} öre by {year_end}, of which {pass_through} öre to pass on,"
                              f" passed on {passed_on} öre", pass_through - passed_on))
    return out


def _blank_table_findings(state: AgreementState) -> list[Finding]:
    """Allocation events may only share out what a blank table left unallocated (six equal PSV shares
    of 60 000 000 kr: a seventh is a finding), table by table and for the part as a whole."""
    out = []
    for part in state.agreement.parts:
        blanks = {t.table_id: (t.blank_amount_kr or 0) * 100 for t in part.tables if t.blank and t.role == "allocation"}
        docs = state.docs("allocation_decided", part_id=part.part_id)
        checks = [(f"table {table_id}", room, [d for d in docs if d["payload"].get("table_id") == table_id])
                  for table_id, room in blanks.items()]
        checks.append((f"part {part.part_id}", sum(blanks.values()), docs))
        for where, room, rows in checks:
            decided = sum(d["payload"]["amount"] for d in rows)
            if rows and decided > room:
                out.append(Finding("allocation_above_blank", state.agreement.agreement_id, None, part.part_id,
                                   f"{RULES['allocation_above_blank']}: {where} left {room} öre,"
                                   f" allocations decided {decided} öre", decided - room,
                                   [d["event_id"] for d in rows]))
                break  # the part-wide check adds nothing once a table is over
    return out


def _by_date(state: AgreementState, line: BalanceLine, kind: str, day: dt.date) -> int:
    """The amounts of a recipient's visible events of one kind in one part, dated on or before ``day``."""
    return sum(d["payload"]["amount"] for d in state.docs(kind, line.recipient_id, line.part_id)
               if d["effective_date"] <= day.isoformat())


def _pass_through(state: AgreementState, line: BalanceLine, paid: int) -> int:
    """What the recipient was paid to pass on (via SKR or via RSS), from the per-route sums.

    A balance line sums a recipient's routes within a part (SKR's own 1 000 000 and the
    9 000 000 it passes on in the same part), so its single ``route`` cannot say how much
    is pass-through money. The payout covers the recipient's own share first.
    """
    via_allocated = via_paid = own_allocated = 0
    for (part, recipient, route), amounts in state.sums.items():
        if part != line.part_id or recipient != line.recipient_id:
            continue
        if route in ("via_skr", "via_rss"):
            via_allocated += amounts.get("entitlement", 0)
            via_paid -= amounts.get("disbursed", 0)
        else:
            own_allocated += amounts.get("entitlement", 0)
    if via_allocated > 0:
        return min(via_allocated, max(0, paid - own_allocated))
    return min(via_paid, paid)


def _document_findings(state: AgreementState) -> list[Finding]:
    out = []
    for doc in state.docs("requisition_received") + state.docs("expense_report_received"):
        p = doc["payload"]
        part = state.agreement.part(doc["part_id"]) if doc["part_id"] else None
        terms = part.terms if part else state.agreement.parts[0].terms
        if terms.both_dnr_required and not (p.get("agreement_dnr") and p.get("payment_decision_dnr")):
            out.append(_f(state, "document_missing_dnr", doc, f"{doc['kind']} of {doc['effective_date']}"))
        if terms.signature_in_original and p.get("signature") != "original":
            out.append(_f(state, "document_not_original", doc, f"signature: {p.get('signature')}"))
    return out


def _report_findings(state: AgreementState) -> list[Finding]:
    out = []
    for doc in state.docs("expense_report_received"):
        p, recipient = doc["payload"], doc["recipient_id"]
        if p["attestation"] == "alt2":
            out.append(_f(state, "attestation_alt2", doc, p.get("deviations") or "no deviations stated"))
        items = sum(i["amount"] for i in p.get("cost_items", []))
        if p.get("cost_items") and items != p["total_costs"]:
            out.append(_f(state, "report_arithmetic", doc, f"items sum to {items}, total costs {p['total_costs']}"))
        expected_unspent = max(0, p["received_amount"] - p["total_costs"])
        if p["stated_unspent"] != expected_unspent:
            out.append(_f(state, "report_arithmetic", doc,
                          f"stated unspent {p['stated_unspent']}, received − costs = {expected_unspent}"))
        paid = -state.account("disbursed", recipient, doc["part_id"] if doc["part_id"] else "*")
        passed = state.account("passed_on", recipient, doc["part_id"] if doc["part_id"] else "*")
        if p["received_amount"] not in (paid, paid - passed):
            out.append(_f(state, "report_received_mismatch", doc,
                          f"report says {p['received_amount']}, ledger paid {paid}", p["received_amount"] - paid))
        year = state.agreement.year
        if p["period_start"] < f"{year}-01-01" or p["period_end"] > f"{year}-12-31":
            out.append(_f(state, "costs_outside_period", doc, f"period {p['period_start']}–{p['period_end']}"))
    return out


def _obligation_findings(state: AgreementState, duties: list[ObligationLine]) -> list[Finding]:
    out = []
    for duty in duties:
        if duty.obligation == "handlingsplan" and (duty.state in ("missed", "met_late") or duty.late_receivers):
            detail = f"state {duty.state}; late at {', '.join(duty.late_receivers) or 'none'}"
            out.append(_f(state, "action_plan_late_or_partial", duty, detail))
        elif duty.obligation != "requisition" and duty.state == "missed":
            out.append(_f(state, "obligation_missed", duty, f"{duty.name_sv} due {duty.deadline}"))
    for part in state.agreement.parts:
        for condition in part.terms.performance_conditions:
            if condition.requires != "report_received_by_all" or not condition.report_kind:
                continue
            for recipient in state.recipients():
                deadline = state.deadline(part, condition.report_kind.value, condition.deadline, recipient)
                if deadline is not None and state.clock.as_of <= deadline:
                    continue  # the other receivers may still receive it: not partial yet
                got = {d["payload"]["received_by"] for d in state.docs("report_received", recipient)
                       if d["payload"]["report_kind"] == condition.report_kind.value}
                if got and not set(condition.receivers) <= got:
                    out.append(Finding("action_plan_late_or_partial", state.agreement.agreement_id, recipient,
                                       part.part_id, f"{RULES['action_plan_late_or_partial']}: received by "
                                       f"{', '.join(sorted(got))} only"))
    return out


def findings(state: AgreementState, lines: list[BalanceLine], duties: list[ObligationLine],
             recipient_id: str | None = None) -> list[Finding]:
    found = (_requisition_findings(state) + _payout_findings(state) + _allocation_findings(state, lines)
             + _blank_table_findings(state) + _document_findings(state) + _report_findings(state)
             + _obligation_findings(state, duties))
    if recipient_id:
        found = [f for f in found if f.recipient_id == recipient_id]
    return found
