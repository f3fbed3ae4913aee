"""The government's right to reclaim (återkrav): who is eligible and why, what was decided.

Eligibility is not a debt. It follows from dates and documents under the agreement's
reclaim clause (an expense report late or missing, funds not used for their purpose as
an Alt 2 attestation says, an overpayment). A reclaim amount exists only once a reclaim
decision is recorded. What could be reclaimed never counts what was already repaid.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ledger.terms import ReclaimTrigger
from projections.balances import BalanceLine, claimable, reclaim_repayments
from projections.obligations import ObligationLine
from projections.state import AgreementState


@dataclass
class ReclaimLine:
    agreement_id: str
    recipient_id: str
    reasons: list[str] = field(default_factory=list)
    eligible_amount: int = 0  # what the clause would allow: received − repaid, or the overpayment
    decided: int = 0
    settled: int = 0
    outstanding: int = 0
    decisions: list[str] = field(default_factory=list)  # dnr of the decisions

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _triggers(state: AgreementState) -> set[ReclaimTrigger]:
    found: set[ReclaimTrigger] = set()
    for part in state.agreement.parts:
        if part.terms.reclaim.exists:
            found.update(part.terms.reclaim.triggers)
    return found


def reclaim_line(state: AgreementState, recipient_id: str, lines: list[BalanceLine],
                 duties: list[ObligationLine]) -> ReclaimLine:
    triggers = _triggers(state)
    mine = [b for b in lines if b.recipient_id == recipient_id]
    received = sum(b.paid - b.passed_on for b in mine)
    repaid = sum(b.repaid for b in mine)
    line = ReclaimLine(state.agreement.agreement_id, recipient_id)
    if ReclaimTrigger.REPORT_LATE_OR_MISSING in triggers:
        for duty in duties:
            if duty.recipient_id == recipient_id and duty.obligation == "ekonomisk_redovisning" \
                    and duty.state in ("missed", "met_late"):
                line.reasons.append(f"expense report {'missing' if duty.state == 'missed' else 'late'}"
                                    f" (deadline {duty.deadline})")
                line.eligible_amount = max(line.eligible_amount, max(0, received - repaid))
    if ReclaimTrigger.NOT_USED_FOR_PURPOSE in triggers:
        for doc in state.docs("expense_report_received", recipient_id):
            if doc["payload"]["attestation"] == "alt2":
                line.reasons.append("Alt 2 attestation: funds not used as the agreement says")
                line.eligible_amount = max(line.eligible_amount, max(0, received - repaid))
    overpaid = sum(max(0, b.paid - b.allocated) for b in mine)
    if overpaid:  # an overpayment can be reclaimed whatever the clause says
        line.reasons.append("overpayment: paid above the allocation")
        line.eligible_amount = max(line.eligible_amount, overpaid)
    decisions = state.docs("reclaim_decided", recipient_id)
    line.decisions = [d["payload"]["dnr"] for d in decisions]
    line.decided = sum(b.reclaim_decided for b in mine)
    # Settled by reclaim_settled events and by repayments naming the decision (both post reclaim_settled).
    line.settled = sum(b.reclaim_settled for b in mine)
    # A reclaim never claims back the unspent funds already repaid, however its own settlement
    # was recorded (a repayment naming the decision, or reclaim_settled).
    cap = claimable(received, repaid, reclaim_repayments(state, recipient_id))
    line.outstanding = max(0, min(line.decided, cap) - line.settled)
    return line


def reclaim_lines(state: AgreementState, lines: list[BalanceLine], duties: list[ObligationLine],
                  recipient_id: str | None = None) -> list[ReclaimLine]:
    recipients = [recipient_id] if recipient_id else sorted({b.recipient_id for b in lines})
    result = [reclaim_line(state, r, lines, duties) for r in recipients]
    return [r for r in result if r.reasons or r.decided]
