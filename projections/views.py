"""The read models' tables, kept by an eventsourcing projection with a tracking recorder.

``postings`` holds balanced double entries, ``documents`` the events the rules read
(requisitions, reports, decisions). Both are bitemporal: a row is visible for
(as_of, known_at) when ``effective_date <= as_of``, ``recorded_at <= known_at`` and it
was not superseded at or before ``known_at``. Queries are SQL over these tables; the
journal is never replayed to answer one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from ledger.journal import Entry, Journal, json_text, parse_json
from ledger.sql import PostgresSqlView, SQLiteSqlView, SqlView, chunks
from projections.postings import DOCUMENT_KINDS, agreement_of, event_postings, superseded_ids

# Both tables are keyed by journal position (postings by position and seq), not by event
# id: an append adds to the end of each key instead of writing one scattered page per row
# (a batch of 500 at 60 000 entries wrote 15 MB instead of 19.7, SQLite). A correction
# finds the corrected event's position in the journal index or documents_event
# (LedgerViews.positions_of).
VIEWS_DDL = (
    "CREATE TABLE IF NOT EXISTS {s}postings ("
    " event_id TEXT NOT NULL, seq INTEGER NOT NULL, position BIGINT NOT NULL, kind TEXT NOT NULL,"
    " agreement_id TEXT NOT NULL, part_id TEXT, recipient_id TEXT, route TEXT,"
    " account TEXT NOT NULL, amount BIGINT NOT NULL,"
    " effective_date TEXT NOT NULL, recorded_at TEXT NOT NULL, superseded_at TEXT,"
    " PRIMARY KEY (position, seq))",
    # Covers account_sums: the sums are read from the index alone, never from the table's
    # rows (the every-agreement report 15–25 % faster at 100 000 entries). The query indexes
    # are in journal order within their agreement, recipient or kind, not in effective-date
    # order: an append then adds to the end of each, where dates scattered its rows over
    # the whole index, one page each. A batch of 500 wrote 19 MB instead of 32 MB at 60 000
    # entries (SQLite). Older indexes (by date, or postings_agreement) are dropped.
    "DROP INDEX IF EXISTS {s}postings_agreement",
    "DROP INDEX IF EXISTS {s}postings_agreement_sums",
    "DROP INDEX IF EXISTS {s}postings_recipient",
    "DROP INDEX IF EXISTS {s}documents_kind",
    "DROP INDEX IF EXISTS {s}postings_recipient_in_order",
    "CREATE INDEX IF NOT EXISTS postings_agreement_in_order ON {s}postings (agreement_id, position, effective_date,"
    " recorded_at, superseded_at, part_id, recipient_id, route, account, amount)",
    # Covers a recipient's sums, agreement by agreement (a recipient statement): a seek per
    # agreement to that recipient's rows, where (recipient_id, position) read every posting of
    # the recipient for each slice of agreements (SKR's hundreds of thousands at 1M entries).
    "CREATE INDEX IF NOT EXISTS postings_recipient_sums ON {s}postings (recipient_id, agreement_id, position,"
    " effective_date, recorded_at, superseded_at, part_id, route, account, amount)",
    "CREATE TABLE IF NOT EXISTS {s}documents ("
    " event_id TEXT NOT NULL, position BIGINT PRIMARY KEY, kind TEXT NOT NULL,"
    " agreement_id TEXT NOT NULL, part_id TEXT, recipient_id TEXT,"
    " effective_date TEXT NOT NULL, recorded_at TEXT NOT NULL, superseded_at TEXT,"
    " supersedes TEXT, payload TEXT NOT NULL)",
    # A correction finds the position of the event it corrects here when the journal index
    # does not have it yet (positions_of). Every event with postings has a document.
    "CREATE UNIQUE INDEX IF NOT EXISTS documents_event ON {s}documents (event_id)",
    "CREATE INDEX IF NOT EXISTS documents_agreement ON {s}documents (agreement_id, kind)",
    "CREATE INDEX IF NOT EXISTS documents_recipient ON {s}documents (recipient_id, kind)",
    # agreement_ids(): the visible decisions, without scanning every document
    "CREATE INDEX IF NOT EXISTS documents_kind_in_order ON {s}documents (kind, position)",
    # a restated expense report finds the earlier ones of its recipient by a seek
    "CREATE INDEX IF NOT EXISTS documents_report ON {s}documents (agreement_id, recipient_id, kind)",
)

VISIBLE = "effective_date <= ? AND recorded_at <= ? AND (superseded_at IS NULL OR superseded_at > ?)"

POSTING_COLUMNS = ("event_id, seq, position, kind, agreement_id, part_id, recipient_id, route, account, amount,"
                   " effective_date, recorded_at, superseded_at")
DOCUMENT_COLUMNS = ("event_id, position, kind, agreement_id, part_id, recipient_id, effective_date, recorded_at,"
                    " superseded_at, supersedes, payload")
#: The same, with a decision's payload left out: its terms run to tens of kB, and a report
#: reads them once per decision (``terms_payload``), not on every query.
DOCUMENT_COLUMNS_NO_TERMS = DOCUMENT_COLUMNS.replace(
    "payload", "CASE WHEN kind IN ('agreement_decided', 'agreement_amended') THEN NULL ELSE payload END AS payload")


class LedgerViews(SqlView):
    """Postings and documents, written in one transaction with the tracking position."""

    ddl = VIEWS_DDL
    view_name = "ledger_views"
    waits_for_disk = False  # rebuilt from the journal
    tables = ("postings", "documents")
    # The documents' report index stays: restated reports read it, and amendments read its
    # agreement prefix. A correction finds its event's position through the journal index
    # (positions_of), so documents_event waits for the end of a rebuild too.
    query_indexes = ("postings_agreement_in_order", "postings_recipient_sums", "documents_recipient",
                     "documents_kind_in_order", "documents_agreement", "documents_event")

    #: True when opening found tables keyed by event id and dropped them (the Ledger then
    #: rebuilds the views at once).
    dropped_outdated = False

    def create_table(self) -> None:
        self._drop_outdated_tables()
        super().create_table()  # type: ignore[misc]

    def _drop_outdated_tables(self) -> None:
        """Tables written before the views were keyed by journal position (documents keyed
        by event id) are dropped with their tracking row: an upgrade rebuilds the views once."""
        if self.key_columns("documents") != ["event_id"]:
            return
        self.dropped_outdated = True
        with self.transaction(commit=True) as cursor:
            for table in self.tables:
                cursor.execute(self.sql(f"DROP TABLE {{s}}{table}"))
            cursor.execute(self.sql(f"DELETE FROM {{s}}{self.tracking_table} WHERE application_name LIKE ?"),
                           [f"%:{self.view_name}"])

    def apply_entries(self, entries: Sequence[Entry], tracking: Tracking) -> None:
        with self.transaction(commit=True) as cursor:
            self.write(cursor, entries, tracking)

    def write(self, cursor: Any, entries: Sequence[Entry], tracking: Tracking) -> None:
        """Apply entries and record the tracking position in the caller's transaction.

        What the entries need to read is fetched for all of them first (the positions of
        the events they supersede, the reports they may restate), and their rows are
        written in one go at the end: a page of a rebuild costs a few statements, not a
        few per correction or expense report (each a round trip on PostgreSQL).
        """
        page = _Page(self, cursor, entries)
        for entry in entries:
            self._apply(cursor, entry, page)
        page.flush()
        self._insert_tracking(cursor, tracking)

    def _apply(self, cursor: Any, entry: Entry, page: _Page) -> None:
        agreement_id = agreement_of(entry)
        if agreement_id is None:
            return  # recipient events move no money and bind no agreement
        payload = entry.payload
        for event_id in superseded_ids(entry):
            page.supersede(event_id, entry.recorded_at)
        if entry.kind == "agreement_amended":
            page.flush()  # the terms' rows are read and updated in the tables
            self._supersede_terms(cursor, agreement_id, entry.recorded_at)
        postings = event_postings(entry.kind, payload)
        if entry.kind == "expense_report_received":
            postings = page.reports.restate(entry, agreement_id, postings)
        effective = self._effective_date(cursor, entry, agreement_id)
        page.postings.extend(
            (entry.event_id, seq, entry.position, entry.kind, agreement_id, p.part_id, p.recipient_id, p.route,
             p.account, p.amount, effective, entry.recorded_at, None)
            for seq, p in enumerate(postings)
        )
        if entry.kind in DOCUMENT_KINDS:
            page.documents.append(
                (entry.event_id, entry.position, entry.kind, agreement_id, payload.get("part_id"),
                 payload.get("recipient_id"), effective, entry.recorded_at, None, payload.get("corrects"),
                 json_text(payload))
            )

    def _effective_date(self, cursor: Any, entry: Entry, agreement_id: str) -> str:
        """An amendment restates the agreement from its original decision date."""
        if entry.kind != "agreement_amended":
            return entry.payload["effective_date"]
        cursor.execute(self.sql("SELECT effective_date FROM {s}documents WHERE agreement_id = ?"
                                " AND kind = 'agreement_decided'"), [agreement_id], **self.planned_each_run)
        row = cursor.fetchone()
        return row["effective_date"] if row else entry.payload["effective_date"]

    def positions_of(self, cursor: Any, event_ids: Sequence[str]) -> dict[str, int]:
        """Where the events that entries supersede stand in the journal.

        The journal index is asked first: the ledger writes it before the views in the same
        transaction, so during a rebuild it holds every earlier event while
        documents_event, a query index then, is dropped (one index on random ids less to
        keep up: see docs/benchmarks.md). A ProjectionRunner's views may run ahead of its
        index; the documents answer then, through documents_event.
        """
        found: dict[str, int] = {}
        for table in ("journal_index", "documents"):
            for chunk in chunks([i for i in event_ids if i not in found]):
                cursor.execute(self.sql(f"SELECT event_id, position FROM {{s}}{table}"
                                        f" WHERE event_id IN ({','.join('?' * len(chunk))})"), chunk)
                found.update((row["event_id"], int(row["position"])) for row in cursor.fetchall())
        return found

    def supersede_positions(self, cursor: Any, superseded: Sequence[tuple[str, int]]) -> None:
        """(recorded_at, position) in order: the first supersession of a row stands."""
        for table in ("postings", "documents"):
            cursor.executemany(
                self.sql(f"UPDATE {{s}}{table} SET superseded_at = ? WHERE position = ? AND superseded_at IS NULL"),
                superseded,
            )

    def _supersede_terms(self, cursor: Any, agreement_id: str, recorded_at: str) -> None:
        """An amendment replaces the terms in force: their documents, and their postings found
        by the documents' positions (a seek on the postings' key, no agreement index)."""
        terms = "agreement_id = ? AND kind IN ('agreement_decided', 'agreement_amended') AND superseded_at IS NULL"
        cursor.execute(self.sql("UPDATE {s}postings SET superseded_at = ? WHERE superseded_at IS NULL"
                                f" AND position IN (SELECT position FROM {{s}}documents WHERE {terms})"),
                       [recorded_at, agreement_id], **self.planned_each_run)
        cursor.execute(self.sql(f"UPDATE {{s}}documents SET superseded_at = ? WHERE {terms}"),
                       [recorded_at, agreement_id], **self.planned_each_run)

    # --- queries -------------------------------------------------------------------

    def account_sums(self, as_of: str, known_at: str, agreement_id: str | None = None,
                     recipient_id: str | None = None, agreement_ids: Sequence[str] = (),
                     by_date: bool = False) -> list[dict[str, Any]]:
        """Visible postings summed per agreement, part, recipient, route and account (and
        effective date, ``by_date``)."""
        clauses, params = _where(as_of, known_at, agreement_id, recipient_id, agreement_ids)
        keys = "agreement_id, part_id, recipient_id, route, account" + (", effective_date" if by_date else "")
        return self.query(f"SELECT {keys}, SUM(amount) AS amount FROM {{s}}postings"
                          f" WHERE {' AND '.join(clauses)} GROUP BY {keys}", params)

    def trial_balance(self, as_of: str, known_at: str) -> int:
        total = self.scalar(f"SELECT COALESCE(SUM(amount), 0) FROM {{s}}postings WHERE {VISIBLE}",
                            [as_of, known_at, known_at])
        return int(total)

    def documents(self, as_of: str, known_at: str, agreement_id: str | None = None,
                  for_recipient: str | None = None, kinds: Sequence[str] = (),
                  agreement_ids: Sequence[str] = (), with_terms: bool = True) -> list[dict[str, Any]]:
        """Visible documents in journal order. ``for_recipient``: only what a recipient's rules
        read, its own documents and those that name no recipient (the agreement's terms,
        approvals, payment decisions, deadline amendments). Without ``with_terms`` a
        decision's payload is None (``terms_payload`` reads it)."""
        clauses, params = _where(as_of, known_at, agreement_id, None, agreement_ids)
        if kinds:
            clauses.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        columns = DOCUMENT_COLUMNS if with_terms else DOCUMENT_COLUMNS_NO_TERMS
        select = f"SELECT {columns} FROM {{s}}documents WHERE {' AND '.join(clauses)}"
        if for_recipient is None:
            rows = self.query(select + " ORDER BY position", params)
        else:
            # Two seeks on (agreement_id, recipient_id, kind), not an OR that a planner may
            # answer by reading every document of the agreements.
            rows = self.query(f"{select} AND recipient_id = ? UNION ALL {select} AND recipient_id IS NULL"
                              " ORDER BY position", [*params, for_recipient, *params])
        for row in rows:
            if row["payload"] is not None:
                row["payload"] = parse_json(row["payload"])
        return rows

    def terms_payload(self, position: int) -> dict[str, Any]:
        """The payload of the decision or amendment at ``position``."""
        return parse_json(self.scalar("SELECT payload FROM {s}documents WHERE position = ?", [position]))

    def agreement_ids(self, as_of: str, known_at: str) -> list[str]:
        """The agreements with a visible decision or amendment (an amendment supersedes the
        decision's document), without reading their terms."""
        rows = self.query("SELECT DISTINCT agreement_id FROM {s}documents WHERE " + VISIBLE
                          + " AND kind IN ('agreement_decided', 'agreement_amended') ORDER BY agreement_id",
                          [as_of, known_at, known_at])
        return [r["agreement_id"] for r in rows]

    def dump(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of both tables in a stable order: to compare a rebuild with incremental updates."""
        return {
            "postings": [tuple(r.values()) for r in self.query(
                f"SELECT {POSTING_COLUMNS} FROM {{s}}postings ORDER BY position, seq")],
            "documents": [tuple(r.values()) for r in self.query(
                f"SELECT {DOCUMENT_COLUMNS} FROM {{s}}documents ORDER BY position")],
        }


def _where(as_of: str, known_at: str, agreement_id: str | None, recipient_id: str | None,
           agreement_ids: Sequence[str]) -> tuple[list[str], list[Any]]:
    """The visibility clause for (as_of, known_at), and the filters given."""
    clauses, params = [VISIBLE], [as_of, known_at, known_at]
    for column, value in (("agreement_id", agreement_id), ("recipient_id", recipient_id)):
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    if agreement_ids:
        clauses.append(f"agreement_id IN ({','.join('?' * len(agreement_ids))})")
        params.extend(agreement_ids)
    return clauses, params


def _report_key(payload: dict[str, Any]) -> tuple[Any, ...]:
    """Expense reports with the same key restate one another."""
    return payload.get("part_id"), payload["period_start"], payload["period_end"]


class _Page:
    """One write's rows and supersessions, written when it ends or before something reads
    the tables (an amendment): the inserts first, then the supersessions, in order, so
    a correction may take out a row written by the same page."""

    def __init__(self, view: LedgerViews, cursor: Any, entries: Sequence[Entry]):
        self.view, self.cursor = view, cursor
        self.postings: list[tuple[Any, ...]] = []
        self.documents: list[tuple[Any, ...]] = []
        self.superseded: list[tuple[str, int]] = []  # (recorded_at, position)
        ids = sorted({i for e in entries for i in superseded_ids(e)})
        self.positions = {e.event_id: e.position for e in entries}
        self.positions.update(view.positions_of(cursor, [i for i in ids if i not in self.positions]))
        self.reports = _Reports(view, cursor, entries)

    def supersede(self, event_id: str, recorded_at: str) -> None:
        position = self.positions.get(event_id)
        if position is None:
            return  # an event with neither postings nor a document (a recipient's, say)
        self.superseded.append((recorded_at, position))
        self.reports.supersede(event_id)

    def flush(self) -> None:
        self.view.insert_rows(self.cursor, "postings", POSTING_COLUMNS, self.postings)
        self.view.insert_rows(self.cursor, "documents", DOCUMENT_COLUMNS, self.documents)
        if self.superseded:
            self.view.supersede_positions(self.cursor, self.superseded)
        self.postings, self.documents, self.superseded = [], [], []


@dataclass
class _Report:
    event_id: str
    key: tuple[Any, ...]
    costs: int  # what its postings put on the costs account


class _Reports:
    """The expense reports that stand (not superseded) for each recipient and agreement of
    a page's reports: those in the tables, read in one query, and the page's own.

    A second expense report for the same recipient, part and period restates the first.
    The earlier report is not superseded: it was received on its own date, and as of any
    day before the restatement it is the report that stands. The restatement posts only the
    change in costs, so from its effective date (and its recorded time) the costs are the
    restated ones. Which report is current, and which receipt met the deadline, is the
    rules' business (``AgreementState``).
    """

    def __init__(self, view: LedgerViews, cursor: Any, entries: Sequence[Entry]):
        self.standing: dict[tuple[str, str], list[_Report]] = {}
        self.pair_of: dict[str, tuple[str, str]] = {}  # event id -> its (agreement, recipient)
        pairs = sorted({(agreement_of(e), e.payload["recipient_id"]) for e in entries
                        if e.kind == "expense_report_received"})
        for pair in pairs:
            self.standing[pair] = []
        for chunk in chunks(pairs, 100):  # two parameters a pair
            cursor.execute(view.sql(
                "SELECT d.event_id, d.agreement_id, d.recipient_id, d.payload, (SELECT COALESCE(SUM(p.amount), 0)"
                " FROM {s}postings p WHERE p.position = d.position AND p.account = 'costs'"
                " AND p.superseded_at IS NULL) AS costs FROM {s}documents d"
                " WHERE d.kind = 'expense_report_received' AND d.superseded_at IS NULL AND ("
                + " OR ".join(["(d.agreement_id = ? AND d.recipient_id = ?)"] * len(chunk)) + ")"
                " ORDER BY d.position"), [v for pair in chunk for v in pair], **view.planned_each_run)
            for row in cursor.fetchall():
                pair = (row["agreement_id"], row["recipient_id"])
                self.standing[pair].append(_Report(row["event_id"], _report_key(parse_json(row["payload"])),
                                                   int(row["costs"])))
                self.pair_of[row["event_id"]] = pair

    def restate(self, entry: Entry, agreement_id: str, postings: list[Any]) -> list[Any]:
        """The report's postings: the change in costs from the reports it restates."""
        p = entry.payload
        pair = (agreement_id, p["recipient_id"])
        key, standing = _report_key(p), self.standing[pair]
        earlier = [r for r in standing if r.key == key]
        if earlier:
            postings = event_postings(entry.kind, {**p, "total_costs": p["total_costs"] - sum(r.costs for r in earlier)})
        standing.append(_Report(entry.event_id, key, sum(x.amount for x in postings if x.account == "costs")))
        self.pair_of[entry.event_id] = pair
        return postings

    def supersede(self, event_id: str) -> None:
        pair = self.pair_of.pop(event_id, None)
        if pair is not None:
            self.standing[pair] = [r for r in self.standing[pair] if r.event_id != event_id]


class SQLiteLedgerViews(LedgerViews, SQLiteSqlView):
    pass


class PostgresLedgerViews(LedgerViews, PostgresSqlView):
    pass


class LedgerViewsProjection(Projection[LedgerViews]):
    """Keeps postings and documents up to date from the journal."""

    name = "ledger_views"
    topics = ()

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        self.view.apply_entries([], tracking)

    @process_event.register
    def _(self, domain_event: Journal.EntryRecorded, tracking: Tracking) -> None:
        self.view.apply_entries([domain_event.entry()], tracking)

    def process_batch(self, entries: Sequence[Entry], tracking: Tracking) -> None:
        self.view.apply_entries(entries, tracking)
