"""Obligations (åtaganden): every deadline per recipient, and its state on the as_of date.

States: ``upcoming`` (deadline not passed, not yet received), ``met`` (received on or
before the policy-adjusted deadline), ``met_late`` (received after it), ``missed``
(deadline passed, nothing received). "Received by" deadlines: the receipt date (the
event's effective date) counts, not the sending date.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from ledger.terms import Part, ReportKind, ReportTerm
from projections.balances import due_back
from projections.state import AgreementState


@dataclass
class ObligationLine:
    agreement_id: str
    part_id: str | None
    recipient_id: str
    obligation: str  # requisition | repayment | a report kind
    name_sv: str
    receivers: list[str]
    printed_deadline: dt.date | None
    deadline: dt.date | None  # after policy and amendments
    state: str
    received_on: dt.date | None
    late_receivers: list[str]

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for key in ("printed_deadline", "deadline", "received_on"):
            out[key] = out[key].isoformat() if out[key] else None
        return out


def owes(term_owed_by: str, recipient_id: str, routes: set[str]) -> bool:
    """Does the report term bind this recipient? ``owed_by`` is a recipient id or "each region/RSS/recipient"."""
    owed_by = term_owed_by.lower()
    if owed_by == recipient_id:
        return True
    if not owed_by.startswith("each"):
        return False
    if "rss" in owed_by:
        return recipient_id.startswith("rss-")
    if "region" in owed_by:
        return recipient_id.startswith("region-")
    return "recipient" in owed_by


def state_of(deadline: dt.date | None, received: dt.date | None, as_of: dt.date) -> str:
    if received is not None:
        return "met" if deadline is None or received <= deadline else "met_late"
    if deadline is not None and as_of > deadline:
        return "missed"
    return "upcoming"


def _report_line(state: AgreementState, part: Part, term: ReportTerm, recipient_id: str) -> ObligationLine:
    deadline = state.deadline(part, term.kind.value, term.deadline, recipient_id)
    kind = "expense_report_received" if term.kind.value == "ekonomisk_redovisning" else "report_received"
    received_at: dict[str, dt.date] = {}
    for doc in state.docs(kind, recipient_id, include_restated=True):  # a restatement keeps the first receipt
        if doc["part_id"] not in (None, part.part_id):
            continue
        payload = doc["payload"]
        if kind == "report_received" and payload["report_kind"] != term.kind.value:
            continue
        receiver = payload.get("received_by", "kammarkollegiet")
        day = dt.date.fromisoformat(doc["effective_date"])
        received_at[receiver] = min(day, received_at.get(receiver, day))
    receivers = term.receivers or sorted(received_at) or ["(not stated)"]
    got = [received_at[r] for r in receivers if r in received_at]
    # Received only when every receiver has it; the last receipt is the date that counts.
    received = max(got) if len(got) == len(receivers) else None
    late = [r for r in receivers if r in received_at and deadline and received_at[r] > deadline]
    return ObligationLine(state.agreement.agreement_id, part.part_id, recipient_id, term.kind.value, term.name_sv,
                          list(receivers), term.deadline, deadline, state_of(deadline, received, state.clock.as_of),
                          received, late)


def _requisition_line(state: AgreementState, part: Part, recipient_id: str) -> ObligationLine:
    term = part.terms.requisition
    deadline = state.deadline(part, "requisition", term.deadline, recipient_id)
    docs = state.docs("requisition_received", recipient_id, part.part_id)
    received = min((dt.date.fromisoformat(d["effective_date"]) for d in docs), default=None)
    return ObligationLine(state.agreement.agreement_id, part.part_id, recipient_id, "requisition", "Rekvisition",
                          [term.receiver], term.deadline, deadline, state_of(deadline, received, state.clock.as_of),
                          received, [])


def _repayment_line(state: AgreementState, recipient_id: str) -> ObligationLine | None:
    owed = due_back(state, recipient_id)
    if owed.due <= 0:
        return None
    repaid_on = None
    if owed.outstanding == 0:
        days = [dt.date.fromisoformat(d["effective_date"]) for d in state.docs("repayment_received", recipient_id)]
        repaid_on = max(days) if days else None
    return ObligationLine(state.agreement.agreement_id, None, recipient_id, "repayment", "Återbetalning",
                          ["kammarkollegiet"], owed.deadline, owed.deadline,
                          state_of(owed.deadline, repaid_on, state.clock.as_of), repaid_on, [])


def obligations(state: AgreementState, recipient_id: str | None = None) -> list[ObligationLine]:
    lines: list[ObligationLine] = []
    recipients = [recipient_id] if recipient_id else state.recipients()
    for recipient in recipients:
        for part in state.agreement.parts:
            allocated = state.account("entitlement", recipient, part.part_id)
            paid = -state.account("disbursed", recipient, part.part_id)
            if allocated <= 0 and paid <= 0:
                continue
            if part.terms.requisition.required:
                lines.append(_requisition_line(state, part, recipient))
            for term in part.terms.reports:
                if term.kind is ReportKind.EXPENSE_REPORT and paid <= 0:
                    continue  # an expense report accounts for money received: none in this part
                if owes(term.owed_by, recipient, set()):
                    lines.append(_report_line(state, part, term, recipient))
        repayment = _repayment_line(state, recipient)
        if repayment:
            lines.append(repayment)
    return _one_per_deadline(lines)


def _one_per_deadline(lines: list[ObligationLine]) -> list[ObligationLine]:
    """An agreement-wide report repeated in every part's terms is one obligation, not five."""
    seen: dict[tuple[Any, ...], ObligationLine] = {}
    for line in lines:
        key = (line.recipient_id, line.obligation, line.printed_deadline, tuple(line.receivers))
        if line.obligation == "requisition":
            key += (line.part_id,)
        if key in seen:
            _merge_into(seen[key], line)
            continue
        seen[key] = line
    return list(seen.values())


#: When one obligation spans several parts, the least fulfilled part decides its state.
_SEVERITY = {"met": 0, "upcoming": 1, "met_late": 2, "missed": 3}


def _merge_into(target: ObligationLine, line: ObligationLine) -> None:
    """Fold another part's line into one obligation: worst state, last receipt, every late receiver."""
    if target.part_id != line.part_id:
        target.part_id = None  # covers several parts
    if _SEVERITY.get(line.state, 0) > _SEVERITY.get(target.state, 0):
        target.state = line.state
    # Received only once every part's report is in: the last receipt is the date that counts.
    if target.received_on is None or line.received_on is None:
        target.received_on = None
    else:
        target.received_on = max(target.received_on, line.received_on)
    target.late_receivers = sorted(set(target.late_receivers) | set(line.late_receivers))
