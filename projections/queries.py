"""The questions auditors ask, for any as_of and known_at, over one or every agreement.

Each function returns plain rows (dicts, amounts in öre) that the CLI, the API and
the reports render. Filters: agreement, part, recipient.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from projections.balances import agreement_total, balance_lines, due_back
from projections.findings import findings
from projections.obligations import obligations
from projections.reclaims import reclaim_lines
from projections.state import BALANCE_KINDS, AgreementState, Clock, agreement_state, agreement_states
from projections.views import LedgerViews


@dataclass(frozen=True)
class Filters:
    agreement_id: str | None = None
    part_id: str | None = None
    recipient_id: str | None = None


def states(views: LedgerViews, clock: Clock, flt: Filters, kinds: tuple[str, ...] = ()) -> Iterable[AgreementState]:
    """One agreement's state, or every agreement's, a few agreements at a time; for one
    recipient, only that recipient's rows and the agreement's own documents."""
    if not flt.agreement_id:
        return agreement_states(views, clock, flt.recipient_id, kinds)
    state = agreement_state(views, flt.agreement_id, clock, flt.recipient_id, kinds)
    return [state] if state is not None else []


def _part_ok(row: dict[str, Any], flt: Filters) -> bool:
    return flt.part_id is None or row.get("part_id") in (flt.part_id, None)


def balances(views: LedgerViews, clock: Clock, flt: Filters = Filters(), totals: bool = True) -> list[dict[str, Any]]:
    return [row for state in states(views, clock, flt, BALANCE_KINDS) for row in balance_rows(state, flt, totals)]


def due_back_list(views: LedgerViews, clock: Clock, flt: Filters = Filters()) -> list[dict[str, Any]]:
    return [row for state in states(views, clock, flt, BALANCE_KINDS) for row in due_back_rows(state, flt)]


def reclaims(views: LedgerViews, clock: Clock, flt: Filters = Filters()) -> list[dict[str, Any]]:
    return [row for state in states(views, clock, flt) for row in reclaim_rows(state, flt)]


def obligation_list(views: LedgerViews, clock: Clock, flt: Filters = Filters()) -> list[dict[str, Any]]:
    return [row for state in states(views, clock, flt) for row in obligation_rows(state, flt)]


def finding_list(views: LedgerViews, clock: Clock, flt: Filters = Filters()) -> list[dict[str, Any]]:
    return [row for state in states(views, clock, flt) for row in finding_rows(state, flt)]


# --- one agreement's rows: a report that needs several lists reads each state once ------------


def balance_rows(state: AgreementState, flt: Filters = Filters(), totals: bool = True) -> list[dict[str, Any]]:
    """Balance lines (and the agreement's total line, recipient "*")."""
    lines = [b for b in balance_lines(state) if flt.part_id is None or b.part_id == flt.part_id]
    if flt.recipient_id:
        lines = [b for b in lines if b.recipient_id == flt.recipient_id]
    rows = [b.as_dict() for b in lines]
    if totals and lines:
        rows.append(agreement_total(lines, state.agreement).as_dict())
    return rows


def due_back_rows(state: AgreementState, flt: Filters = Filters()) -> list[dict[str, Any]]:
    rows = []
    for recipient in [flt.recipient_id] if flt.recipient_id else state.recipients():
        owed = due_back(state, recipient)
        if owed.due or owed.repaid:
            rows.append(owed.as_dict())
    return rows


def reclaim_rows(state: AgreementState, flt: Filters = Filters()) -> list[dict[str, Any]]:
    duties = obligations(state, flt.recipient_id)
    return [r.as_dict() for r in reclaim_lines(state, balance_lines(state), duties, flt.recipient_id)]


def obligation_rows(state: AgreementState, flt: Filters = Filters()) -> list[dict[str, Any]]:
    return [r for r in (o.as_dict() for o in obligations(state, flt.recipient_id)) if _part_ok(r, flt)]


def finding_rows(state: AgreementState, flt: Filters = Filters()) -> list[dict[str, Any]]:
    duties = obligations(state, flt.recipient_id)
    found = findings(state, balance_lines(state), duties, flt.recipient_id)
    return [r for r in (f.as_dict() for f in found) if _part_ok(r, flt)]
