"""Event-dict builders and small query helpers for scenario tests.

Every builder returns a plain dict, as a finance system would send it, with a fresh
``event_id`` (uuid4) and sensible defaults: documents are signed in original and cite
both diarienummer. Amounts are öre (use ``kr()`` for whole kronor); dates are
``datetime.date`` or ISO strings. Any field can be overridden by keyword; an override of
``None`` leaves the field out (a document without a dnr, say).

Time: the ledger stamps ``recorded_at`` from its clock and refuses an effective date
after "today", so scenarios append under ``frozen(when)`` (freezegun; ``when`` is a UTC
instant). ``load_catalogue`` records the register and one agreement as of a fixed instant,
so views known at a realistic date see the agreement: the ``loaded_ledger`` fixture
records the catalogue at the real "now", after every scenario date.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from freezegun import freeze_time

from ledger import catalogue
from ledger.application import Ledger
from ledger.events import EventBase
from ledger.journal import Entry
from projections import queries
from projections.queries import Filters
from projections.state import Clock

# eventsourcing cannot transcode freezegun's FakeDatetime (its own event timestamps), and the
# PostgreSQL driver and pool keep real time; only the ledger's clock and "today" are frozen.
FREEZE_IGNORE = ["eventsourcing", "psycopg", "psycopg_pool"]

AGREEMENT_DNR = "S2019/05287/FS"
PAYMENT_DECISION_DNR = "S2020/01234/FS"
RECLAIM_DNR = "S2021/04321/FS"
PRINCIPAL = "kammarkollegiet-ekonomi"

Day = dt.date | str


def kr(amount: int) -> int:
    """Whole kronor to öre."""
    return amount * 100


def _day(value: Day) -> str:
    return value.isoformat() if isinstance(value, dt.date) else value


def _event(kind: str, date: Day, fields: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = {"kind": kind, "event_id": str(uuid.uuid4()), "effective_date": _day(date), **fields, **overrides}
    return {k: v for k, v in merged.items() if v is not None}


def _year(agreement_id: str) -> int:
    return catalogue.catalogue()[agreement_id].year


# --- decisions -------------------------------------------------------------------------


def payment_decision(agreement_id: str, date: Day, part_id: str | None = None, **overrides: Any) -> dict[str, Any]:
    """Beslut om utbetalning to Kammarkollegiet (regeringsbeslut by default); no part: every part."""
    return _event("payment_decision_made", date, {"agreement_id": agreement_id, "part_id": part_id,
                                                  "instrument": "regeringsbeslut", "dnr": PAYMENT_DECISION_DNR},
                  overrides)


def allocation_decided(agreement_id: str, part_id: str, recipient_id: str, amount_ore: int, date: Day,
                       **overrides: Any) -> dict[str, Any]:
    """An allocation row decided for a table the agreement left blank."""
    return _event("allocation_decided", date, {"agreement_id": agreement_id, "part_id": part_id,
                                               "recipient_id": recipient_id, "amount": amount_ore,
                                               "route": "direct"}, overrides)


def deadline_amended(agreement_id: str, obligation: str, new_deadline: Day, date: Day,
                     **overrides: Any) -> dict[str, Any]:
    """A decision moving a deadline (for every part and recipient unless part_id/recipient_id given)."""
    return _event("deadline_amended", date, {"agreement_id": agreement_id, "obligation": obligation,
                                             "new_deadline": _day(new_deadline),
                                             "reason": "Beslut om ändrad tidsfrist"}, overrides)


# --- the money chain -------------------------------------------------------------------


def requisition(agreement_id: str, part_id: str, recipient_id: str, amount_ore: int, date: Day,
                **overrides: Any) -> dict[str, Any]:
    """Rekvisition received by Kammarkollegiet on ``date``: original signature, both dnr."""
    return _event("requisition_received", date, {
        "agreement_id": agreement_id, "part_id": part_id, "recipient_id": recipient_id, "amount": amount_ore,
        "agreement_dnr": AGREEMENT_DNR, "payment_decision_dnr": PAYMENT_DECISION_DNR, "signature": "original",
    }, overrides)


def payout(agreement_id: str, part_id: str, recipient_id: str, amount_ore: int, date: Day,
           **overrides: Any) -> dict[str, Any]:
    """Utbetalning by Kammarkollegiet, value date ``date`` (route direct unless overridden)."""
    return _event("payout_made", date, {"agreement_id": agreement_id, "part_id": part_id,
                                        "recipient_id": recipient_id, "amount": amount_ore, "route": "direct"},
                  overrides)


def onward_transfer(agreement_id: str, part_id: str, recipient_id: str, amount_ore: int, date: Day,
                    **overrides: Any) -> dict[str, Any]:
    """SKR or an RSS passes money on (to a named beneficiary unless to_recipient_id is given)."""
    return _event("onward_transfer_made", date, {"agreement_id": agreement_id, "part_id": part_id,
                                                 "recipient_id": recipient_id, "amount": amount_ore,
                                                 "to_name": "Mottagande kommun"}, overrides)


def expense_report(agreement_id: str, part_id: str | None, recipient_id: str, received_ore: int, costs_ore: int,
                   date: Day, **overrides: Any) -> dict[str, Any]:
    """Ekonomisk redovisning for the agreement's calendar year, arithmetic consistent, Alt 1."""
    year = _year(agreement_id)
    return _event("expense_report_received", date, {
        "agreement_id": agreement_id, "part_id": part_id, "recipient_id": recipient_id,
        "period_start": f"{year}-01-01", "period_end": f"{year}-12-31", "received_amount": received_ore,
        "cost_items": [{"label": "Kostnader enligt huvudbok", "amount": costs_ore}], "total_costs": costs_ore,
        "stated_unspent": max(0, received_ore - costs_ore), "attestation": "alt1",
        "agreement_dnr": AGREEMENT_DNR, "payment_decision_dnr": PAYMENT_DECISION_DNR, "signature": "original",
    }, overrides)


def report_received(agreement_id: str, recipient_id: str, report_kind: str, received_by: str, date: Day,
                    **overrides: Any) -> dict[str, Any]:
    """An activity/interim/final report or action plan received by ``received_by``."""
    return _event("report_received", date, {"agreement_id": agreement_id, "recipient_id": recipient_id,
                                            "report_kind": report_kind, "received_by": received_by,
                                            "signature": "original"}, overrides)


def repayment(agreement_id: str, part_id: str | None, recipient_id: str, amount_ore: int, date: Day,
              **overrides: Any) -> dict[str, Any]:
    """Återbetalning received by Kammarkollegiet (of unspent funds unless reclaim_event_id is given)."""
    return _event("repayment_received", date, {"agreement_id": agreement_id, "part_id": part_id,
                                               "recipient_id": recipient_id, "amount": amount_ore}, overrides)


def reclaim_decided(agreement_id: str, part_id: str | None, recipient_id: str, amount_ore: int, date: Day,
                    **overrides: Any) -> dict[str, Any]:
    """Återkrav decided by the government (late or missing report unless reason is given)."""
    return _event("reclaim_decided", date, {"agreement_id": agreement_id, "part_id": part_id,
                                            "recipient_id": recipient_id, "amount": amount_ore,
                                            "dnr": RECLAIM_DNR, "reason": "report_late_or_missing"}, overrides)


def reclaim_settled(decision: dict[str, Any], amount_ore: int, date: Day, **overrides: Any) -> dict[str, Any]:
    """A reclaim decision settled (paid unless ``how`` says set_off or waived)."""
    return _event("reclaim_settled", date, {
        "agreement_id": decision["agreement_id"], "part_id": decision.get("part_id"),
        "recipient_id": decision["recipient_id"], "amount": amount_ore, "reclaim_event_id": decision["event_id"],
        "how": "paid"}, overrides)


def correction(original: dict[str, Any], date: Day | None = None, **changes: Any) -> dict[str, Any]:
    """The original event restated with ``changes``, superseding it (``corrects``)."""
    fields = {k: v for k, v in original.items() if k not in ("event_id", "corrects")}
    if date is not None:
        fields["effective_date"] = _day(date)
    merged = {**fields, **changes, "event_id": str(uuid.uuid4()), "corrects": original["event_id"]}
    return {k: v for k, v in merged.items() if v is not None}


def retraction(original: dict[str, Any], date: Day, reason: str = "Registrerad av misstag") -> dict[str, Any]:
    return _event("event_retracted", date, {"agreement_id": original["agreement_id"],
                                            "retracted_event_id": original["event_id"], "reason": reason}, {})


# --- time --------------------------------------------------------------------------------


@contextmanager
def frozen(when: str) -> Iterator[None]:
    """Fix "now" at a UTC instant ("2020-12-02T09:00") for the ledger's clock and today's date."""
    with freeze_time(when, ignore=FREEZE_IGNORE):
        yield


def record(ledger: Ledger, when: str, *events: dict[str, Any] | EventBase, principal: str = PRINCIPAL) -> list[Entry]:
    """Append one batch as recorded at ``when`` (UTC)."""
    with frozen(when):
        return ledger.append(list(events), principal)


def load_catalogue(ledger: Ledger, agreement_id: str, when: str) -> list[EventBase]:
    """Record the register and one agreement as known at ``when``; return the catalogue events
    dated later (renames after that day), which cannot be recorded yet."""
    events = catalogue.load_events(catalogue.select([agreement_id]))
    day = dt.datetime.fromisoformat(when).date()
    with frozen(when):
        ledger.record_missing([e for e in events if e.effective_date <= day], catalogue.LOADER_PRINCIPAL)
    return [e for e in events if e.effective_date > day]


def clock(as_of: Day, known_at: str | None = None) -> Clock:
    """as_of a Stockholm date; known_at a date (end of that Stockholm day) or a UTC instant."""
    if known_at is not None and len(known_at) > 10 and known_at[-1] != "Z" and "+" not in known_at[10:]:
        known_at += "+00:00"
    return Clock.of(_day(as_of), known_at)


def allocation_kr(agreement_id: str, part_id: str, recipient_id: str) -> int:
    """The printed allocation of one recipient in one part (all allocation tables), in kronor."""
    part = catalogue.catalogue()[agreement_id].part(part_id)
    assert part is not None, part_id
    return sum(r.amount_kr for r in part.allocation_rows() if r.recipient_id == recipient_id)


# --- queries -----------------------------------------------------------------------------


class Book:
    """The auditors' questions about one agreement on one ledger, for an (as_of, known_at)."""

    def __init__(self, ledger: Ledger, agreement_id: str):
        self.ledger = ledger
        self.agreement_id = agreement_id

    def _flt(self, recipient_id: str | None = None) -> Filters:
        return Filters(agreement_id=self.agreement_id, recipient_id=recipient_id)

    def balance(self, recipient_id: str, part_id: str, as_of: Day, known_at: str | None = None) -> dict[str, Any]:
        rows = [b for b in queries.balances(self.ledger.views, clock(as_of, known_at), self._flt(recipient_id),
                                            totals=False) if b["part_id"] == part_id]
        assert len(rows) <= 1, rows
        return rows[0] if rows else {}

    def balances(self, as_of: Day, known_at: str | None = None,
                 recipient_id: str | None = None) -> list[dict[str, Any]]:
        return queries.balances(self.ledger.views, clock(as_of, known_at), self._flt(recipient_id), totals=False)

    def findings(self, as_of: Day, known_at: str | None = None, recipient_id: str | None = None,
                 rule: str | None = None) -> list[dict[str, Any]]:
        rows = queries.finding_list(self.ledger.views, clock(as_of, known_at), self._flt(recipient_id))
        return [f for f in rows if rule is None or f["rule"] == rule]

    def rules(self, as_of: Day, known_at: str | None = None, recipient_id: str | None = None) -> list[str]:
        return sorted(f["rule"] for f in self.findings(as_of, known_at, recipient_id))

    def due_back(self, recipient_id: str, as_of: Day, known_at: str | None = None) -> dict[str, Any]:
        rows = queries.due_back_list(self.ledger.views, clock(as_of, known_at), self._flt(recipient_id))
        assert len(rows) <= 1, rows
        return rows[0] if rows else {}

    def reclaim(self, recipient_id: str, as_of: Day, known_at: str | None = None) -> dict[str, Any]:
        rows = queries.reclaims(self.ledger.views, clock(as_of, known_at), self._flt(recipient_id))
        assert len(rows) <= 1, rows
        return rows[0] if rows else {}

    def obligation(self, recipient_id: str, obligation: str, as_of: Day, known_at: str | None = None,
                   part_id: str | None = "*") -> dict[str, Any]:
        rows = [o for o in queries.obligation_list(self.ledger.views, clock(as_of, known_at), self._flt(recipient_id))
                if o["obligation"] == obligation and (part_id == "*" or o["part_id"] == part_id)]
        assert len(rows) <= 1, rows
        return rows[0] if rows else {}

    def trial_balance(self, as_of: Day, known_at: str | None = None) -> int:
        as_of_text, known_text = clock(as_of, known_at).params
        return self.ledger.views.trial_balance(as_of_text, known_text)
