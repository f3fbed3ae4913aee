"""Balances (saldon) per recipient × agreement × part × route, and funds due back.

Rules that follow from dates are applied here, for the query's as_of and known_at:
- lapse (rätten till bidrag förfaller): no requisition received by the deadline, under
  the part's deadline policy; the allocated amount not requisitioned in time lapses;
- forfeiture: a share tied to a performance condition (the 2021 action-plan tranche)
  is forfeited when the condition is not met by its deadline;
- due back (återbetalningsskyldighet): once an expense report is in, unspent funds
  (received − passed on − reported costs, floored at 0) are due by the repayment date.
A lapsed or forfeited amount is never paid, so never due back.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import field, asdict, dataclass
from typing import Any

from ledger.terms import Agreement, Part
from projections.state import AgreementState


@dataclass
class BalanceLine:
    agreement_id: str
    part_id: str | None
    recipient_id: str
    route: str | None
    allocated: int = 0
    requisitioned: int = 0
    paid: int = 0
    passed_on: int = 0
    held: int = 0
    costs: int = 0
    unspent: int = 0
    repaid: int = 0
    reclaim_decided: int = 0
    reclaim_settled: int = 0
    reclaim_outstanding: int = 0
    lapsed: int = 0
    forfeited: int = 0
    #: Allocated and paid per route (direct, via_skr, via_rss) when the line joins several.
    by_route: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = dict(vars(self))
        out["by_route"] = {route: dict(amounts) for route, amounts in self.by_route.items()}
        return out


@dataclass
class DueBack:
    """Funds due back by 31 March (or the agreement's own date) for one recipient and agreement."""

    agreement_id: str
    recipient_id: str
    report_received: bool
    received: int
    costs: int
    due: int
    repaid: int
    outstanding: int
    deadline: dt.date | None
    overdue: int

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["deadline"] = self.deadline.isoformat() if self.deadline else None
        return out


MONEY_FIELDS = ("allocated", "requisitioned", "paid", "passed_on", "held", "costs", "unspent", "repaid",
                "reclaim_decided", "reclaim_settled", "reclaim_outstanding", "lapsed", "forfeited")


def _line(state: AgreementState, key: tuple[str | None, str | None, str | None], amounts: dict[str, int]) -> BalanceLine:
    part_id, recipient_id, route = key
    paid = -amounts.get("disbursed", 0)
    passed_on = amounts.get("passed_on", 0)
    costs = amounts.get("costs", 0)
    repaid = amounts.get("repaid", 0)
    return BalanceLine(
        agreement_id=state.agreement.agreement_id,
        part_id=part_id,
        recipient_id=recipient_id or "",
        route=route,
        allocated=amounts.get("entitlement", 0),
        requisitioned=amounts.get("requisitioned", 0),
        paid=paid,
        passed_on=passed_on,
        held=paid - passed_on - costs - repaid,
        costs=costs,
        unspent=max(0, paid - passed_on - costs),
        repaid=repaid,
        reclaim_decided=-amounts.get("reclaim_decided", 0),
        reclaim_settled=amounts.get("reclaim_settled", 0),
        reclaim_outstanding=amounts.get("reclaim_receivable", 0),
    )


def _merge(lines: list[BalanceLine]) -> dict[tuple[str | None, str], BalanceLine]:
    """One line per part and recipient: routes of the same recipient and part are summed."""
    merged: dict[tuple[str | None, str], BalanceLine] = {}
    routes: dict[tuple[str | None, str], dict[str, dict[str, int]]] = {}
    for line in lines:
        key = (line.part_id, line.recipient_id)
        if line.route:
            per_route = routes.setdefault(key, {}).setdefault(line.route, {"allocated": 0, "paid": 0})
            per_route["allocated"] += line.allocated
            per_route["paid"] += line.paid
        if key not in merged:
            merged[key] = line
            continue
        target = merged[key]
        for name in MONEY_FIELDS:
            setattr(target, name, getattr(target, name) + getattr(line, name))
    for key, line in merged.items():
        line.unspent = max(0, line.paid - line.passed_on - line.costs)
        line.by_route = routes.get(key, {})
        # One route names the line; several are joined, in a stable order, and broken down in by_route.
        line.route = "+".join(sorted(line.by_route)) or None
    return merged


def reclaim_repayments(state: AgreementState, recipient_id: str, part_id: str | None = "*") -> int:
    """Repayments that name a reclaim decision (they settle it; they are not unspent funds)."""
    return sum(d["payload"]["amount"] for d in state.docs("repayment_received", recipient_id, part_id)
               if d["payload"].get("reclaim_event_id"))


def claimable(received: int, repaid: int, for_reclaims: int) -> int:
    """The most a reclaim can claim: what was received less the unspent funds already repaid."""
    return max(0, received - (repaid - for_reclaims))


def _cap_reclaims(state: AgreementState, merged: dict[tuple[str | None, str], BalanceLine]) -> None:
    """As in the reclaims view: a reclaim never claims money already repaid as unspent, however its
    settlement was recorded. A reclaim that names no part is judged against the whole agreement."""
    whole: dict[str, list[int]] = {}
    for line in merged.values():
        totals = whole.setdefault(line.recipient_id, [0, 0])
        totals[0] += line.paid - line.passed_on
        totals[1] += line.repaid
    for (part_id, recipient_id), line in merged.items():
        if not line.reclaim_decided:
            continue
        if part_id:
            cap = claimable(line.paid - line.passed_on, line.repaid, reclaim_repayments(state, recipient_id, part_id))
        else:
            received, repaid = whole[recipient_id]
            cap = claimable(received, repaid, reclaim_repayments(state, recipient_id))
        line.reclaim_outstanding = max(0, min(line.reclaim_decided, cap) - line.reclaim_settled)


def lapsed_amount(state: AgreementState, part: Part, recipient_id: str, allocated: int) -> int:
    """The allocation not requisitioned by the (policy-adjusted) deadline, once it has passed."""
    term = part.terms.requisition
    if not term.required or allocated <= 0:
        return 0
    deadline = state.deadline(part, "requisition", term.deadline, recipient_id)
    if deadline is None or state.clock.as_of <= deadline:
        return 0
    in_time = sum(d["payload"]["amount"] for d in state.docs("requisition_received", recipient_id, part.part_id)
                  if dt.date.fromisoformat(d["effective_date"]) <= deadline)
    return max(0, allocated - in_time)


def condition_met(state: AgreementState, part: Part, condition: Any, recipient_id: str) -> bool | None:
    """True when met, False when failed, None while its deadline has not passed."""
    deadline = state.deadline(part, condition.report_kind.value if condition.report_kind else "other",
                              condition.deadline, recipient_id)
    received_by = {
        d["payload"]["received_by"]
        for d in state.docs("report_received", recipient_id)
        if condition.report_kind and d["payload"]["report_kind"] == condition.report_kind.value
        and (deadline is None or dt.date.fromisoformat(d["effective_date"]) <= deadline)
    }
    if set(condition.receivers) <= received_by:
        return True
    if deadline is None or state.clock.as_of <= deadline:
        return None
    return False


def forfeited_amount(state: AgreementState, part: Part, recipient_id: str) -> int:
    """Shares allocated under a performance condition that failed."""
    total = 0
    for condition in part.terms.performance_conditions:
        if condition.requires != "report_received_by_all" or condition.consequence.value != "forfeit":
            continue
        tied = sum(d["payload"]["amount"] for d in state.docs("allocation_decided", recipient_id, part.part_id)
                   if d["payload"].get("condition_id") == condition.condition_id)
        if tied and condition_met(state, part, condition, recipient_id) is False:
            total += tied
    return total


def balance_lines(state: AgreementState) -> list[BalanceLine]:
    """Per part and recipient, with lapse and forfeiture applied for the as_of date."""
    raw = [_line(state, key, amounts) for key, amounts in state.sums.items() if key[1]]
    merged = _merge(raw)
    _cap_reclaims(state, merged)
    for (part_id, recipient_id), line in merged.items():
        part = state.agreement.part(part_id) if part_id else None
        if part is None:
            continue
        line.forfeited = forfeited_amount(state, part, recipient_id)
        line.lapsed = lapsed_amount(state, part, recipient_id, line.allocated - line.forfeited)
    return sorted(merged.values(), key=lambda b: (b.recipient_id, b.part_id or ""))


def repayment_deadline(state: AgreementState, recipient_id: str) -> dt.date | None:
    """The earliest repayment deadline of the parts the recipient has money in."""
    deadlines = []
    for part in state.agreement.parts:
        term = part.terms.repayment
        if term.required and state.account("entitlement", recipient_id, part.part_id) + \
                -state.account("disbursed", recipient_id, part.part_id):
            found = state.deadline(part, "repayment", term.deadline, recipient_id)
            if found:
                deadlines.append(found)
    return min(deadlines) if deadlines else None


def due_back(state: AgreementState, recipient_id: str) -> DueBack:
    """Unspent funds due back for one recipient: exists only once an expense report is in."""
    reports = state.docs("expense_report_received", recipient_id)
    received = -state.account("disbursed", recipient_id) - state.account("passed_on", recipient_id)
    costs = state.account("costs", recipient_id)
    due = max(0, received - costs) if reports else 0
    # Every krona paid back reduces what is due back, whether or not it answered a reclaim
    # decision: the due-back amount and a reclaim of the same money are never both counted.
    repaid = state.account("repaid", recipient_id)
    outstanding = max(0, due - repaid)
    deadline = repayment_deadline(state, recipient_id)
    overdue = outstanding if deadline and state.clock.as_of > deadline else 0
    return DueBack(state.agreement.agreement_id, recipient_id, bool(reports), received, costs, due, repaid,
                   outstanding, deadline, overdue)


def agreement_total(lines: list[BalanceLine], agreement: Agreement) -> BalanceLine:
    total = BalanceLine(agreement.agreement_id, None, "*", None)
    for line in lines:
        for name in MONEY_FIELDS:
            setattr(total, name, getattr(total, name) + getattr(line, name))
    return total
