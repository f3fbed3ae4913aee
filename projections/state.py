"""What the ledger knew about one agreement for an (as_of, known_at) pair.

Built from two SQL queries on the read models (visible postings summed per account, and
the visible documents), never from a replay of the journal. The report modules
(balances, due back, reclaims, obligations, findings) read this.
"""

from __future__ import annotations

import datetime as dt
import weakref
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from ledger.calendar import DeadlinePolicy, effective_deadline
from ledger.terms import Agreement, Part
from ledger.sql import chunks
from ledger.timeparams import format_recorded, parse_known_at
from projections.views import LedgerViews


@dataclass(frozen=True)
class Clock:
    """The two clocks of every query: as_of (effective date) and known_at (recorded time)."""

    as_of: dt.date
    known_at: dt.datetime  # UTC

    @classmethod
    def of(cls, as_of: dt.date | str | None = None, known_at: dt.datetime | str | None = None,
           now: dt.datetime | None = None) -> Clock:
        from ledger.calendar import stockholm_today
        from ledger.timeparams import parse_as_of

        moment = now or dt.datetime.now(tz=dt.timezone.utc)
        day = parse_as_of(as_of) if as_of else stockholm_today(moment)
        return cls(day, parse_known_at(known_at) if known_at else moment.astimezone(dt.timezone.utc))

    @property
    def params(self) -> tuple[str, str]:
        return self.as_of.isoformat(), format_recorded(self.known_at)


Key = tuple[str | None, str | None, str | None]  # part, recipient, route
#: One agreement's read: its visible documents and its summed postings (rows).
Read = tuple[list[dict[str, Any]], list[dict[str, Any]]]


@dataclass
class AgreementState:
    agreement: Agreement
    clock: Clock
    sums: dict[Key, dict[str, int]]
    documents: list[dict[str, Any]]
    by_kind: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    restated: list[dict[str, Any]] = field(default_factory=list)
    _accounts: dict[tuple[str | None, str | None], dict[str, int]] | None = field(default=None, repr=False)
    _by_recipient: dict[tuple[str, str, bool], list[dict[str, Any]]] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for doc in self.documents:
            grouped[doc["kind"]].append(doc)
        # Of the visible expense reports for one recipient, part and period the last one stands;
        # the earlier ones are restated (their receipt dates still count for the deadline).
        latest: dict[tuple[Any, ...], dict[str, Any]] = {}
        for doc in grouped.get("expense_report_received", []):
            p = doc["payload"]
            latest[(doc["recipient_id"], doc["part_id"], p["period_start"], p["period_end"])] = doc
        current = {d["event_id"] for d in latest.values()}
        reports = grouped.get("expense_report_received", [])
        self.restated = [d for d in reports if d["event_id"] not in current]
        if reports:
            grouped["expense_report_received"] = [d for d in reports if d["event_id"] in current]
        self.by_kind = dict(grouped)

    def docs(self, kind: str, recipient_id: str | None = None, part_id: str | None = "*",
             include_restated: bool = False) -> list[dict[str, Any]]:
        """Visible documents of a kind, optionally for one recipient and part ("*": any part).
        Restated expense reports are left out unless ``include_restated``."""
        restated = include_restated and kind == "expense_report_received"
        if recipient_id is None:
            found = self.by_kind.get(kind, []) + (self.restated if restated else [])
        else:  # the rules ask per recipient, over and over: look them up, not through every document
            if self._by_recipient is None:
                self._by_recipient = self._group_by_recipient()
            found = self._by_recipient.get((kind, recipient_id, restated), [])
        return list(found) if part_id == "*" else [d for d in found if d["part_id"] == part_id]

    def _group_by_recipient(self) -> dict[tuple[str, str, bool], list[dict[str, Any]]]:
        """(kind, recipient, with restated reports) -> documents, in the order docs() gives them."""
        out: dict[tuple[str, str, bool], list[dict[str, Any]]] = defaultdict(list)
        for kind, found in self.by_kind.items():
            for doc in found:
                out[(kind, doc["recipient_id"], False)].append(doc)
                out[(kind, doc["recipient_id"], True)].append(doc)
        for doc in self.restated:
            out[("expense_report_received", doc["recipient_id"], True)].append(doc)
        return out

    def account(self, account: str, recipient_id: str | None = None, part_id: str | None = "*") -> int:
        """An account's sum for one recipient (None: every recipient) and part ("*": every part)."""
        if self._accounts is None:
            self._accounts = self._sum_accounts()
        return self._accounts.get((recipient_id, part_id), {}).get(account, 0)

    def _sum_accounts(self) -> dict[tuple[str | None, str | None], dict[str, int]]:
        """Every (recipient or None, part or "*") an account can be asked for, summed once: the
        rules ask hundreds of thousands of times in an overview of every agreement, and a
        walk over the sums each time was half of that report's time."""
        out: dict[tuple[str | None, str | None], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        for (part, recipient, _route), amounts in self.sums.items():
            keys = [(None, part), (None, "*")] + ([(recipient, part), (recipient, "*")] if recipient else [])
            for key in keys:
                for name, amount in amounts.items():
                    out[key][name] += amount
        return out

    def recipients(self) -> list[str]:
        return sorted({r for (_p, r, _route) in self.sums if r})

    def policy(self, part: Part) -> DeadlinePolicy:
        return part.terms.deadline_policy

    def deadline(self, part: Part, obligation: str, printed: dt.date | None,
                 recipient_id: str | None) -> dt.date | None:
        """The printed deadline, or the latest visible amendment of it, under the part's policy."""
        amended = printed
        for doc in self.docs("deadline_amended"):
            p = doc["payload"]
            if p["obligation"] != obligation:
                continue
            if p.get("part_id") not in (None, part.part_id):
                continue
            if p.get("recipient_id") not in (None, recipient_id):
                continue
            amended = dt.date.fromisoformat(p["new_deadline"])
        return effective_deadline(amended, self.policy(part)) if amended else None


AGREEMENTS_PER_QUERY = 50

#: The documents the balance rules read (lapse, forfeiture, due back, deadlines). Payouts and
#: onward transfers, most of a ledger's documents, are already summed in the postings.
BALANCE_KINDS = ("agreement_decided", "agreement_amended", "allocation_decided", "requisition_received",
                 "report_received", "expense_report_received", "repayment_received", "deadline_amended")


def agreement_state(views: LedgerViews, agreement_id: str, clock: Clock,
                    recipient_id: str | None = None, kinds: Sequence[str] = ()) -> AgreementState | None:
    """The agreement as known at ``clock``; None when no decision of it is visible.

    ``kinds`` limits the documents loaded (every kind when empty); ``docs()`` of a kind not
    loaded returns nothing, so pass every kind the caller's rules read.
    """
    as_of, known_at = clock.params
    documents = views.documents(as_of, known_at, agreement_id=agreement_id, for_recipient=recipient_id, kinds=kinds,
                                with_terms=False)
    sums = views.account_sums(as_of, known_at, agreement_id=agreement_id, recipient_id=recipient_id)
    return state_of(views, clock, documents, sums)


def agreement_states(views: LedgerViews, clock: Clock, recipient_id: str | None = None,
                     kinds: Sequence[str] = ()) -> Iterator[AgreementState]:
    """Every agreement decided as known at ``clock``, by agreement id: two queries per
    AGREEMENTS_PER_QUERY agreements (not two per agreement), and only that many agreements'
    documents in memory at a time."""
    for documents, rows in agreement_reads(views, clock, recipient_id=recipient_id, kinds=kinds):
        state = state_of(views, clock, documents, rows)
        if state is not None:
            yield state


def agreement_reads(views: LedgerViews, clock: Clock, agreement_id: str | None = None,
                    recipient_id: str | None = None, kinds: Sequence[str] = (),
                    by_date: bool = False) -> Iterator[Read]:
    """Each agreement's (or the one given) visible documents and summed postings, as
    ``state_of`` and ``changes`` take them; ``by_date``: summed per effective date too, so
    that one read serves both the state as of the clock and its cuts at earlier days."""
    ids = [agreement_id] if agreement_id else agreement_ids(views, clock)
    return _read(views, clock, ids, recipient_id, kinds, by_date)


def changes(views: LedgerViews, clock: Clock, days: Sequence[dt.date], documents: list[dict[str, Any]],
            rows: list[dict[str, Any]], kinds: Sequence[str] = ()) -> list[tuple[int, AgreementState | None]]:
    """How one agreement's state runs over ``days`` (sorted, none after ``clock.as_of``) as
    known at ``clock.known_at``, from its read by date as of the last day: (index of a run's
    first day, the state as of that day) for each run of days on which nothing new took
    effect. None while no decision is visible. ``kinds``: only these documents are cut.

    The known_at is the same for every day, so what is visible on a day is what is visible
    on the last day with an effective date up to that day. A state's clock is its run's
    first day: a rule that reads the date itself (lapse, a deadline met or missed,
    overdue) holds for that day only; sums and documents hold for the whole run.
    """
    if kinds:
        documents = [d for d in documents if d["kind"] in kinds]
    runs: list[tuple[int, AgreementState | None]] = []
    seen: tuple[int, int] | None = None
    for index, day in enumerate(days):
        iso = day.isoformat()
        docs_then = [d for d in documents if d["effective_date"] <= iso]
        rows_then = [r for r in rows if r["effective_date"] <= iso]
        if (len(docs_then), len(rows_then)) != seen:  # something took effect since the day before
            seen = (len(docs_then), len(rows_then))
            runs.append((index, state_of(views, Clock(day, clock.known_at), docs_then, rows_then)))
    return runs


def _read(views: LedgerViews, clock: Clock, ids: Sequence[str], recipient_id: str | None, kinds: Sequence[str],
          by_date: bool = False) -> Iterator[Read]:
    """Each agreement's visible documents and summed postings, AGREEMENTS_PER_QUERY at a time."""
    as_of, known_at = clock.params
    for chunk in chunks(ids, AGREEMENTS_PER_QUERY):
        documents: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for doc in views.documents(as_of, known_at, for_recipient=recipient_id, kinds=kinds, agreement_ids=chunk,
                                   with_terms=False):
            documents[doc["agreement_id"]].append(doc)
        sums: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in views.account_sums(as_of, known_at, recipient_id=recipient_id, agreement_ids=chunk,
                                      by_date=by_date):
            sums[row["agreement_id"]].append(row)
        for agreement_id in chunk:
            yield documents[agreement_id], sums[agreement_id]


def state_of(views: LedgerViews, clock: Clock, documents: list[dict[str, Any]],
             rows: list[dict[str, Any]]) -> AgreementState | None:
    """The state of one agreement's read (rows summed per date or not); None without a visible decision."""
    decided = [d for d in documents if d["kind"] in ("agreement_decided", "agreement_amended")]
    if not decided:
        return None
    agreement = _terms(views, decided[-1])
    sums: dict[Key, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for row in rows:
        sums[(row["part_id"], row["recipient_id"], row["route"])][row["account"]] += int(row["amount"])
    return AgreementState(agreement, clock, {k: dict(v) for k, v in sums.items()}, documents)


#: Validated terms per read model and decision event id: an event id names one recorded
#: payload for ever, and validating an agreement's terms (~3 ms) was a tenth of a report.
_TERMS: weakref.WeakKeyDictionary[LedgerViews, dict[str, Agreement]] = weakref.WeakKeyDictionary()
_TERMS_PER_VIEW = 10_000


def _terms(views: LedgerViews, decision: dict[str, Any]) -> Agreement:
    """The decision's terms; its payload is read from the documents on the first call only."""
    cache = _TERMS.setdefault(views, {})
    agreement = cache.get(decision["event_id"])
    if agreement is None:
        payload = decision["payload"] or views.terms_payload(decision["position"])
        agreement = Agreement.model_validate(payload["agreement"])
        if len(cache) >= _TERMS_PER_VIEW:
            cache.clear()
        cache[decision["event_id"]] = agreement
    return agreement


def agreement_ids(views: LedgerViews, clock: Clock) -> list[str]:
    return views.agreement_ids(*clock.params)
