"""Small builders for the 2021 waiting-time (seed 002) and 2024 God och nära vård (seed 001) scenarios.

``Scenario`` wraps a ledger: ``record(when, *events)`` appends a batch with "today" fixed
by freezegun at ``when`` (the ledger refuses effective dates after today, and stamps the
batch with that recorded time); ``view(as_of, known_at)`` answers the auditors' questions
for one agreement through ``projections.queries``. Events are plain dicts, as callers send
them; amounts are öre.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from freezegun import freeze_time

from ledger import catalogue
from ledger.application import Ledger
from ledger.journal import Entry
from projections import queries
from projections.queries import Filters
from projections.state import Clock

OKAD = "okad-tillganglighet-2021"
GONV = "god-och-nara-vard-2024"
TRANCHE_A = "block-2-tranche-a-befolkning"
TRANCHE_B = "block-2-tranche-b-handlingsplan"

# eventsourcing cannot store freezegun's FakeDatetime (its own event timestamps), and the
# PostgreSQL pool must keep real time; only the ledger's clock and "today" are frozen.
FREEZE_IGNORE = ["eventsourcing", "psycopg", "psycopg_pool"]

AGREEMENT_DNR = "S2023/03456"
PAYMENT_DNR = "S2024/00123"


def kr(amount: int) -> int:
    """Whole kronor to öre."""
    return amount * 100


@contextmanager
def today(when: str) -> Iterator[None]:
    """Fix "now" (UTC instant, ISO 8601) for appends."""
    with freeze_time(when, ignore=FREEZE_IGNORE):
        yield


def utc(when: str) -> str:
    """An ISO instant with an explicit UTC offset, as known_at."""
    moment = dt.datetime.fromisoformat(when)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.timezone.utc)
    return moment.astimezone(dt.timezone.utc).isoformat()


def event(kind: str, effective_date: str, /, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "event_id": str(uuid.uuid4()), "effective_date": effective_date,
            **{k: v for k, v in fields.items() if v is not None}}


@dataclass
class View:
    """What the ledger said about one agreement for an (as_of, known_at) pair."""

    ledger: Ledger
    agreement_id: str
    clock: Clock

    def _flt(self, recipient_id: str | None = None) -> Filters:
        return Filters(agreement_id=self.agreement_id, recipient_id=recipient_id)

    def balances(self, recipient_id: str | None = None) -> list[dict[str, Any]]:
        return [b for b in queries.balances(self.ledger.views, self.clock, self._flt(recipient_id), totals=False)]

    def balance(self, recipient_id: str, part_id: str) -> dict[str, Any]:
        rows = [b for b in self.balances(recipient_id) if b["part_id"] == part_id]
        assert len(rows) == 1, f"expected one balance line for {recipient_id}/{part_id}, got {rows}"
        return rows[0]

    def total(self) -> dict[str, Any]:
        rows = [b for b in queries.balances(self.ledger.views, self.clock, self._flt()) if b["recipient_id"] == "*"]
        assert len(rows) == 1
        return rows[0]

    def findings(self, recipient_id: str | None = None) -> list[dict[str, Any]]:
        return queries.finding_list(self.ledger.views, self.clock, self._flt(recipient_id))

    def rules(self, recipient_id: str | None = None) -> list[str]:
        return sorted(f["rule"] for f in self.findings(recipient_id))

    def obligations(self, recipient_id: str | None = None) -> list[dict[str, Any]]:
        return queries.obligation_list(self.ledger.views, self.clock, self._flt(recipient_id))

    def obligation(self, recipient_id: str, obligation: str, part_id: str | None = "*") -> dict[str, Any]:
        rows = [o for o in self.obligations(recipient_id) if o["obligation"] == obligation
                and (part_id == "*" or o["part_id"] == part_id)]
        assert len(rows) == 1, f"expected one {obligation} obligation for {recipient_id}, got {rows}"
        return rows[0]

    def due_back(self, recipient_id: str | None = None) -> list[dict[str, Any]]:
        return queries.due_back_list(self.ledger.views, self.clock, self._flt(recipient_id))

    def reclaims(self, recipient_id: str | None = None) -> list[dict[str, Any]]:
        return queries.reclaims(self.ledger.views, self.clock, self._flt(recipient_id))

    def trial_balance(self) -> int:
        as_of, known_at = self.clock.params
        return self.ledger.views.trial_balance(as_of, known_at)


class Scenario:
    """One agreement's history on a fresh ledger, appended batch by batch at fixed times."""

    def __init__(self, ledger: Ledger, agreement_id: str, principal: str = "kammarkollegiet-ekonomi"):
        self.ledger = ledger
        self.agreement_id = agreement_id
        self.principal = principal

    def record(self, when: str, *events: dict[str, Any], principal: str | None = None) -> list[Entry]:
        with today(when):
            return self.ledger.append(list(events), principal or self.principal)

    def load(self, when: str) -> list[Any]:
        """Register the recipients and decide the agreement as of ``when``; returns the catalogue
        events dated after that day (they cannot be recorded yet)."""
        events = catalogue.load_events(catalogue.select([self.agreement_id]))
        day = dt.datetime.fromisoformat(when).date()
        now = [e for e in events if e.effective_date <= day]
        later = [e for e in events if e.effective_date > day]
        with today(when):
            self.ledger.append(now, catalogue.LOADER_PRINCIPAL)
        return later

    def view(self, as_of: str, known_at: str | None = None) -> View:
        clock = Clock.of(as_of, utc(known_at) if known_at and len(known_at) > 10 else known_at)
        return View(self.ledger, self.agreement_id, clock)

    # --- event builders --------------------------------------------------------------

    def money(self, kind: str, day: str, recipient_id: str, part_id: str, amount: int, **fields: Any) -> dict[str, Any]:
        return event(kind, day, agreement_id=self.agreement_id, part_id=part_id, recipient_id=recipient_id,
                     amount=amount, **fields)

    def allocation(self, day: str, recipient_id: str, part_id: str, amount: int, **fields: Any) -> dict[str, Any]:
        return self.money("allocation_decided", day, recipient_id, part_id, amount, **fields)

    def payment_decision(self, day: str, dnr: str = PAYMENT_DNR, **fields: Any) -> dict[str, Any]:
        return event("payment_decision_made", day, agreement_id=self.agreement_id, instrument="regeringsbeslut",
                     dnr=dnr, **fields)

    def requisition(self, day: str, recipient_id: str, part_id: str, amount: int, *,
                    agreement_dnr: str | None = AGREEMENT_DNR, payment_decision_dnr: str | None = PAYMENT_DNR,
                    signature: str = "original", **fields: Any) -> dict[str, Any]:
        return self.money("requisition_received", day, recipient_id, part_id, amount, agreement_dnr=agreement_dnr,
                          payment_decision_dnr=payment_decision_dnr, signature=signature, **fields)

    def payout(self, day: str, recipient_id: str, part_id: str, amount: int, **fields: Any) -> dict[str, Any]:
        return self.money("payout_made", day, recipient_id, part_id, amount, **fields)

    def onward(self, day: str, recipient_id: str, part_id: str, amount: int, **fields: Any) -> dict[str, Any]:
        return self.money("onward_transfer_made", day, recipient_id, part_id, amount, **fields)

    def expense_report(self, day: str, recipient_id: str, *, received: int, costs: int, year: int,
                       part_id: str | None = None, unspent: int | None = None, attestation: str = "alt1",
                       period_start: str | None = None, period_end: str | None = None,
                       agreement_dnr: str | None = AGREEMENT_DNR, payment_decision_dnr: str | None = PAYMENT_DNR,
                       signature: str = "original", **fields: Any) -> dict[str, Any]:
        return event("expense_report_received", day, agreement_id=self.agreement_id, part_id=part_id,
                     recipient_id=recipient_id, period_start=period_start or f"{year}-01-01",
                     period_end=period_end or f"{year}-12-31", received_amount=received, total_costs=costs,
                     stated_unspent=max(0, received - costs) if unspent is None else unspent,
                     attestation=attestation, agreement_dnr=agreement_dnr,
                     payment_decision_dnr=payment_decision_dnr, signature=signature, **fields)

    def report(self, day: str, recipient_id: str, report_kind: str, received_by: str, part_id: str | None = None,
               **fields: Any) -> dict[str, Any]:
        return event("report_received", day, agreement_id=self.agreement_id, part_id=part_id,
                     recipient_id=recipient_id, report_kind=report_kind, received_by=received_by, **fields)

    def repayment(self, day: str, recipient_id: str, part_id: str | None, amount: int, **fields: Any) -> dict[str, Any]:
        return event("repayment_received", day, agreement_id=self.agreement_id, part_id=part_id,
                     recipient_id=recipient_id, amount=amount, **fields)

    def reclaim(self, day: str, recipient_id: str, part_id: str | None, amount: int, dnr: str,
                reason: str = "report_late_or_missing", **fields: Any) -> dict[str, Any]:
        return event("reclaim_decided", day, agreement_id=self.agreement_id, part_id=part_id,
                     recipient_id=recipient_id, amount=amount, dnr=dnr, reason=reason, **fields)

    def settle(self, day: str, decision: dict[str, Any], amount: int, how: str = "paid") -> dict[str, Any]:
        return event("reclaim_settled", day, agreement_id=self.agreement_id, part_id=decision.get("part_id"),
                     recipient_id=decision["recipient_id"], amount=amount, reclaim_event_id=decision["event_id"],
                     how=how)

    def deadline_amended(self, day: str, obligation: str, new_deadline: str, reason: str, **fields: Any) -> dict[str, Any]:
        return event("deadline_amended", day, agreement_id=self.agreement_id, obligation=obligation,
                     new_deadline=new_deadline, reason=reason, **fields)

    def retraction(self, day: str, wrong: dict[str, Any], reason: str) -> dict[str, Any]:
        return event("event_retracted", day, agreement_id=self.agreement_id, retracted_event_id=wrong["event_id"],
                     reason=reason)
