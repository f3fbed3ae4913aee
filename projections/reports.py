"""Reports: what the projections answer, as sections of rows, for any as_of / known_at.

A report is data (sections of rows with typed columns, amounts in öre) plus the facts
an auditor needs to trust it: the as_of and known_at it answers for, when it was made,
and the journal position and head hash it was made from. ``projections/render/`` turns
a report into HTML, PDF, XLSX or CSV; the web pages show the same sections.

Reports: recipient-statement, agreement-statement, due-back, reclaims, lapsed,
findings, obligations, overview and recipients.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ledger.index import EventFilter
from projections import queries
from projections.balances import due_back
from projections.labels import label
from projections.queries import Filters
from projections.reconciliation import reconcile
from projections.state import (BALANCE_KINDS, AgreementState, Clock, Read, agreement_reads, agreement_state,
                               changes, state_of)

if TYPE_CHECKING:
    from ledger.application import Ledger

KINDS = ("text", "money", "int", "date", "datetime", "bool", "code", "list", "hash")
MONEY_EVENT_KINDS = ("requisition_received", "payout_made", "onward_transfer_made", "expense_report_received",
                     "repayment_received", "reclaim_decided", "reclaim_settled")


class ReportError(ValueError):
    """An unknown report, or one asked for without what it needs (a recipient, an agreement).

    ``status`` is the HTTP status it maps to: 404 for what does not exist, 422 for what is missing."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Column:
    key: str
    kind: str = "text"

    @property
    def numeric(self) -> bool:
        return self.kind in ("money", "int")


def columns(spec: str) -> list[Column]:
    """Columns from "key key:kind ..." (kind defaults to text)."""
    out = []
    for item in spec.split():
        key, _, kind = item.partition(":")
        assert (kind or "text") in KINDS, kind
        out.append(Column(key, kind or "text"))
    return out


@dataclass
class Section:
    key: str  # a label key: "section.balances"
    columns: list[Column]
    rows: list[dict[str, Any]]
    total: bool = False  # show a total row of the money columns

    def totals(self) -> dict[str, int] | None:
        if not self.total or not self.rows:
            return None
        return {c.key: sum(r.get(c.key) or 0 for r in self.rows) for c in self.columns if c.kind == "money"}

    def column(self, key: str) -> Column | None:
        return next((c for c in self.columns if c.key == key), None)


@dataclass(frozen=True)
class ReportMeta:
    as_of: dt.date
    known_at: dt.datetime  # UTC
    generated_at: dt.datetime  # UTC
    position: int
    head_hash: str
    agreement_id: str | None = None
    recipient_id: str | None = None
    subject: str | None = None  # the recipient's name or the agreement's title
    digest: dict[str, Any] | None = None  # the signed Merkle digest of the journal at ``position``


@dataclass
class Report:
    name: str
    lang: str
    meta: ReportMeta
    sections: list[Section] = field(default_factory=list)

    @property
    def title(self) -> str:
        return label(f"report.{self.name}", self.lang)

    def section(self, key: str) -> Section:
        return next(s for s in self.sections if s.key == key)

    def filename(self, extension: str) -> str:
        subject = self.meta.recipient_id or self.meta.agreement_id
        parts = [self.name, subject, self.meta.as_of.isoformat()]
        return "_".join(p for p in parts if p) + f".{extension}"


@dataclass
class Context:
    """What every report builder reads: the ledger, the clock, the filters, the names."""

    ledger: Ledger
    clock: Clock
    flt: Filters
    names: dict[str, str]
    _kept_reads: list[Read] | None = field(default=None, repr=False)
    _kept_states: list[AgreementState] | None = field(default=None, repr=False)

    @property
    def views(self) -> Any:
        return self.ledger.views

    def states(self, kinds: tuple[str, ...] = ()) -> Iterable[AgreementState]:
        """The agreements' states the filters select. One recipient's or one agreement's are
        read once per report (every kind: each section's rules find theirs) and kept, so
        the sections of a statement share one read; every agreement's are streamed (all of
        them at once would hold every document in memory), ``kinds`` only."""
        if not self.scoped:
            return queries.states(self.views, self.clock, self.flt, kinds)
        if self._kept_states is None:
            made = (state_of(self.views, self.clock, docs, rows) for docs, rows in self.reads())
            self._kept_states = [state for state in made if state is not None]
        return self._kept_states

    @property
    def scoped(self) -> bool:
        return bool(self.flt.recipient_id or self.flt.agreement_id)

    def reads(self) -> list[Read]:
        """One recipient's or one agreement's read, by date (``state.agreement_reads``): the
        states as of the clock and the chart's month ends are both made from it."""
        assert self.scoped, "every agreement's read is streamed, not kept"
        if self._kept_reads is None:
            self._kept_reads = list(agreement_reads(self.views, self.clock, self.flt.agreement_id,
                                                    self.flt.recipient_id, by_date=True))
        return self._kept_reads

    def rows(self, per_state: Callable[[AgreementState, Filters], list[dict[str, Any]]],
             kinds: tuple[str, ...] = ()) -> list[dict[str, Any]]:
        """A list's rows (queries.balance_rows, due_back_rows...) over the states, with names."""
        return self.named([row for state in self.states(kinds) for row in per_state(state, self.flt)])

    def named(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for row in rows:
            row["recipient_name"] = self.names.get(row.get("recipient_id") or "", "")
        return rows


# --- names -------------------------------------------------------------------------------


def recipient_names(ledger: Ledger, clock: Clock) -> dict[str, str]:
    """Each recipient's name on the as_of date, as known at known_at (SKL before 2019-11-27, SKR after)."""
    as_of, known_at = clock.params
    registered = ledger.list_events(EventFilter(kind="recipient_registered", known_at=known_at))
    renamed = ledger.list_events(EventFilter(kind="recipient_renamed", known_at=known_at, as_of=as_of))
    names = {r["recipient_id"]: r["payload"]["name"] for r in registered}
    for row in sorted(renamed, key=lambda r: (r["effective_date"], r["position"])):
        names[row["recipient_id"]] = row["payload"]["name"]
    return names


def name_history(ledger: Ledger, recipient_id: str, clock: Clock) -> list[dict[str, Any]]:
    known_at = clock.params[1]
    return [{"valid_from": h["effective_date"], "name": h["payload"]["name"],
             "org_number": h["payload"].get("org_number"), "kind": h["kind"]}
            for h in ledger.index.recipient_history(recipient_id) if h["recorded_at"] <= known_at]


# --- sections shared by several reports ----------------------------------------------------

BALANCE_MONEY = ("allocated:money requisitioned:money paid:money passed_on:money costs:money unspent:money"
                 " repaid:money reclaim_decided:money reclaim_outstanding:money lapsed:money forfeited:money")


def _lines(state: AgreementState, flt: Filters) -> list[dict[str, Any]]:
    """An agreement's balance lines without its total line."""
    return queries.balance_rows(state, flt, totals=False)


def balances_section(ctx: Context, spec: str) -> Section:
    rows = ctx.rows(_lines, BALANCE_KINDS)
    return Section("section.balances", columns(f"{spec} {BALANCE_MONEY}"), rows, total=True)


def due_back_section(ctx: Context, spec: str) -> Section:
    rows = ctx.rows(queries.due_back_rows, BALANCE_KINDS)
    return Section("section.due_back", columns(f"{spec} report_received:bool received:money costs:money due:money"
                                               " repaid:money outstanding:money deadline:date overdue:money"),
                   rows, total=True)


def obligations_section(ctx: Context, spec: str) -> Section:
    rows = ctx.rows(queries.obligation_rows)
    rows.sort(key=lambda r: (r.get("deadline") or "9999", r["recipient_id"], r["obligation"]))
    return Section("section.obligations", columns(spec), rows)


def findings_section(ctx: Context, spec: str) -> Section:
    rows = ctx.rows(queries.finding_rows)
    return Section("section.findings", columns(spec), rows)


def reclaims_section(ctx: Context) -> Section:
    rows = ctx.rows(queries.reclaim_rows)
    return Section("section.reclaims", columns(
        "agreement_id recipient_id recipient_name reasons:list eligible_amount:money decided:money"
        " settled:money outstanding:money decisions:list"), rows, total=True)


def events_section(ctx: Context) -> Section:
    as_of, known_at = ctx.clock.params
    found = ctx.ledger.list_events(EventFilter(agreement_id=ctx.flt.agreement_id, recipient_id=ctx.flt.recipient_id,
                                               as_of=as_of, known_at=known_at))
    rows = [_event_row(e) for e in found]
    return Section("section.events", columns(
        "position:int effective_date:date recorded_at:datetime recorded_by kind:code agreement_id part_id"
        " amount:money reference corrects hash:hash"), rows)


def _event_row(event: dict[str, Any]) -> dict[str, Any]:
    payload = event["payload"]
    amount = payload.get("amount", payload.get("total_costs"))
    return {**{k: event[k] for k in ("position", "effective_date", "recorded_at", "recorded_by", "kind",
                                     "agreement_id", "part_id", "corrects", "hash", "event_id")},
            "amount": amount, "reference": payload.get("reference")}


# --- balances over time (the recipient page's chart) ---------------------------------------


def month_ends(start: dt.date, end: dt.date, limit: int = 36) -> list[dt.date]:
    """Month ends from start's month up to end, then end itself; at most ``limit`` points."""
    points, year, month = [], start.year, start.month
    while True:
        day = dt.date(year, month, calendar.monthrange(year, month)[1])
        if day >= end:
            break
        points.append(day)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    points.append(end)
    step = -(-len(points) // limit)
    return points[::-1][::step][::-1]


def balance_series(ledger: Ledger, recipient_id: str, clock: Clock, agreement_id: str | None = None,
                   reads: Iterable[Read] | None = None) -> list[dict[str, Any]]:
    """Paid, costs, repaid and due back outstanding at each month end, as known at known_at.
    ``reads``: the recipient's agreements read by date as of the clock (``agreement_reads``),
    if the caller has them; read here otherwise."""
    as_of, known_at = clock.params
    moves = [e for e in ledger.list_events(EventFilter(agreement_id=agreement_id, recipient_id=recipient_id,
                                                       as_of=as_of, known_at=known_at))
             if e["kind"] in MONEY_EVENT_KINDS]
    if not moves:
        return []
    first = dt.date.fromisoformat(min(e["effective_date"] for e in moves))
    days = month_ends(first.replace(day=1) - dt.timedelta(days=1), clock.as_of)
    points = [{"month_end": day.isoformat(), "paid": 0, "costs": 0, "repaid": 0, "outstanding": 0} for day in days]
    # One read as of the last day, cut at each month end (state.changes), and the figures
    # worked out again only for the months in which something took effect: a region is in
    # every agreement, 36 points × 1 500 agreements at 1 000 000 entries. The figures are
    # sums and documents only, none reads the date itself, so each holds for its run.
    if reads is None:
        reads = agreement_reads(ledger.views, clock, agreement_id, recipient_id, BALANCE_KINDS, by_date=True)
    for documents, sums in reads:
        runs = changes(ledger.views, clock, days, documents, sums, BALANCE_KINDS)
        ends = [start for start, _state in runs[1:]] + [len(days)]
        for (start, state), end in zip(runs, ends):
            if state is None:
                continue
            figures = _series_figures(state, recipient_id)
            for point in points[start:end]:
                for key, amount in figures.items():
                    point[key] += amount
    return points


def _series_figures(state: AgreementState, recipient_id: str) -> dict[str, int]:
    """The recipient's paid, costs, repaid (its balance lines' sums) and due back outstanding."""
    return {"paid": -state.account("disbursed", recipient_id), "costs": state.account("costs", recipient_id),
            "repaid": state.account("repaid", recipient_id), "outstanding": due_back(state, recipient_id).outstanding}


def series_section(ctx: Context) -> Section:
    assert ctx.flt.recipient_id
    rows = balance_series(ctx.ledger, ctx.flt.recipient_id, ctx.clock, ctx.flt.agreement_id, ctx.reads())
    return Section("section.chart", columns("month_end:date paid:money costs:money repaid:money outstanding:money"),
                   rows)


# --- the reports ------------------------------------------------------------------------------


def recipient_statement(ctx: Context) -> list[Section]:
    assert ctx.flt.recipient_id
    names = Section("section.names", columns("valid_from:date name org_number kind:code"),
                    name_history(ctx.ledger, ctx.flt.recipient_id, ctx.clock))
    return [
        names,
        balances_section(ctx, "agreement_id part_id"),
        due_back_section(ctx, "agreement_id"),
        series_section(ctx),
        obligations_section(ctx, "deadline:date agreement_id part_id obligation:code state:code received_on:date"),
        findings_section(ctx, "agreement_id part_id rule:code description amount:money"),
        events_section(ctx),
    ]


def agreement_statement(ctx: Context) -> list[Section]:
    assert ctx.flt.agreement_id
    state = agreement_state(ctx.views, ctx.flt.agreement_id, ctx.clock)
    assert state is not None
    later: dict[str, int] = {}
    for doc in state.docs("allocation_decided"):
        later[doc["part_id"]] = later.get(doc["part_id"], 0) + doc["payload"]["amount"]
    checked = reconcile(state.agreement, later)
    names = {p.part_id: p.name for p in state.agreement.parts}
    balances = balances_section(ctx, "part_id recipient_id recipient_name")
    return [
        Section("section.parts", columns("part_id part_name stated_total:money rows_total:money blank:money"
                                         " allocated_later:money difference:money"),
                [{"part_id": p.part_id, "part_name": p.name, "stated_total": p.stated_total,
                  "rows_total": p.allocated_rows, "blank": p.unallocated_blank,
                  "allocated_later": p.allocated_later, "difference": p.difference} for p in checked.parts],
                total=True),
        Section("section.part_totals", columns(f"part_id part_name {BALANCE_MONEY}"),
                _per_part(balances.rows, names), total=True),
        balances,
        Section("section.reconciliation_findings", columns(
            "check:code known:bool description difference:money part_id table_id source"),
            [{"check": f.kind, "known": f.known, "description": f.description, "difference": f.difference,
              "part_id": f.part_id, "table_id": f.table_id, "source": f.source} for f in checked.findings]),
        findings_section(ctx, "rule:code part_id recipient_id recipient_name description amount:money"),
    ]


def _per_part(rows: list[dict[str, Any]], names: dict[str, str]) -> list[dict[str, Any]]:
    money = [c.key for c in columns(BALANCE_MONEY)]
    parts: dict[str, dict[str, Any]] = {}
    for row in rows:
        part = parts.setdefault(row["part_id"] or "", {"part_id": row["part_id"], "part_name": names.get(
            row["part_id"] or "", ""), **{k: 0 for k in money}})
        for key in money:
            part[key] += row[key]
    return list(parts.values())


def due_back_report(ctx: Context) -> list[Section]:
    return [due_back_section(ctx, "agreement_id recipient_id recipient_name")]


def reclaims_report(ctx: Context) -> list[Section]:
    return [reclaims_section(ctx)]


def lapsed_report(ctx: Context) -> list[Section]:
    rows = ctx.rows(_lines, BALANCE_KINDS)
    rows = [r for r in rows if r["lapsed"] or r["forfeited"]]
    return [Section("section.lapsed", columns("agreement_id part_id recipient_id recipient_name allocated:money"
                                              " requisitioned:money paid:money lapsed:money forfeited:money"),
                    rows, total=True)]


def findings_report(ctx: Context) -> list[Section]:
    return [findings_section(ctx, "agreement_id recipient_id recipient_name part_id rule:code description"
                                  " amount:money events:list")]


def obligations_report(ctx: Context) -> list[Section]:
    return [obligations_section(ctx, "deadline:date agreement_id part_id recipient_id recipient_name"
                                     " obligation:code name_sv receivers:list state:code received_on:date")]


def overview_report(ctx: Context) -> list[Section]:
    """One row per agreement; each agreement's state is read once for its balances, due back
    and reclaims (three passes over every agreement, and a fourth for the titles, before)."""
    rows = []
    for state in ctx.states():
        total = next((r for r in queries.balance_rows(state, ctx.flt) if r["recipient_id"] == "*"), {})
        owed = _sums(queries.due_back_rows(state, ctx.flt), ("due", "outstanding"))
        claims = _sums(queries.reclaim_rows(state, ctx.flt), ("eligible_amount", "outstanding"))
        rows.append({"agreement_id": state.agreement.agreement_id, "title": state.agreement.title,
                     "year": state.agreement.year, **{k: total.get(k, 0) for k in ("allocated", "paid", "costs", "lapsed")},
                     "due": owed["due"], "outstanding": owed["outstanding"],
                     "eligible_amount": claims["eligible_amount"], "reclaim_outstanding": claims["outstanding"]})
    return [Section("section.agreements", columns(
        "agreement_id title year:int allocated:money paid:money costs:money due:money outstanding:money"
        " eligible_amount:money reclaim_outstanding:money lapsed:money"), rows, total=True)]


def recipients_report(ctx: Context) -> list[Section]:
    money = ("allocated", "paid", "costs", "unspent", "repaid", "lapsed")
    totals: dict[str, dict[str, Any]] = {}
    owed: list[dict[str, Any]] = []
    for state in ctx.states(BALANCE_KINDS):
        for row in _lines(state, ctx.flt):
            target = totals.setdefault(row["recipient_id"], {"recipient_id": row["recipient_id"], "due": 0,
                                                             "outstanding": 0, **{k: 0 for k in money}})
            for key in money:
                target[key] += row[key]
        owed.extend(queries.due_back_rows(state, ctx.flt))
    # After every agreement's lines: a recipient's due back counts wherever it has lines
    # (with a part filter, they may be in another agreement than the due back).
    for row in owed:
        if row["recipient_id"] in totals:
            totals[row["recipient_id"]]["due"] += row["due"]
            totals[row["recipient_id"]]["outstanding"] += row["outstanding"]
    rows = ctx.named(sorted(totals.values(), key=lambda r: r["recipient_id"]))
    return [Section("section.recipients", columns(
        "recipient_id recipient_name allocated:money paid:money costs:money unspent:money repaid:money due:money"
        " outstanding:money lapsed:money"), rows, total=True)]


def _sums(rows: list[dict[str, Any]], keys: tuple[str, ...]) -> dict[str, int]:
    return {key: sum(row.get(key) or 0 for row in rows) for key in keys}


Builder = Callable[[Context], list[Section]]

REPORTS: dict[str, Builder] = {
    "recipient-statement": recipient_statement,
    "agreement-statement": agreement_statement,
    "due-back": due_back_report,
    "reclaims": reclaims_report,
    "lapsed": lapsed_report,
    "findings": findings_report,
    "obligations": obligations_report,
    "overview": overview_report,
    "recipients": recipients_report,
}


def build_report(ledger: Ledger, name: str, clock: Clock, agreement_id: str | None = None,
                 recipient_id: str | None = None, lang: str = "sv", now: dt.datetime | None = None,
                 part_id: str | None = None) -> Report:
    """Build a report for the clock; raises ReportError for an unknown report or a missing subject."""
    if name not in REPORTS:
        raise ReportError(f"unknown report {name!r}; reports: {', '.join(REPORTS)}", 404)
    if name == "recipient-statement" and not recipient_id:
        raise ReportError("the recipient statement needs a recipient")
    if name == "agreement-statement" and not agreement_id:
        raise ReportError("the agreement statement needs an agreement")
    ledger.catch_up()
    position, head_hash = ledger.head()
    ctx = Context(ledger, clock, Filters(agreement_id, part_id, recipient_id), recipient_names(ledger, clock))
    subject = _subject(ctx)
    meta = ReportMeta(clock.as_of, clock.known_at, now or dt.datetime.now(tz=dt.timezone.utc), position, head_hash,
                      agreement_id, recipient_id, subject, report_digest(ledger, position))
    return Report(name, "en" if lang == "en" else "sv", meta, REPORTS[name](ctx))


def report_digest(ledger: Any, position: int) -> dict[str, Any] | None:
    """The digest the report was made from: signed when the ledger has a signing key,
    else the bare Merkle root, so a printed report can be checked against a later proof."""
    from ledger.proofs import digest_at, root_hash
    from ledger.signing import SigningKey, SigningKeyError

    if position == 0:
        return None
    try:
        return digest_at(ledger, position, SigningKey.load())
    except SigningKeyError:
        size, root = root_hash(ledger, position)
        return {"tree_size": size, "root_hash": root.hex(), "signature": None}


def _subject(ctx: Context) -> str | None:
    """The recipient's name or the agreement's title; ReportError when the ledger does not know it."""
    flt = ctx.flt
    title = None
    if flt.agreement_id:
        state = agreement_state(ctx.views, flt.agreement_id, ctx.clock)
        if state is None:
            raise ReportError(f"no agreement {flt.agreement_id!r} as of {ctx.clock.as_of}, as known then", 404)
        title = state.agreement.title
    if flt.recipient_id:
        if flt.recipient_id not in ctx.names:
            raise ReportError(f"unknown recipient {flt.recipient_id!r}", 404)
        return ctx.names[flt.recipient_id]
    return title
