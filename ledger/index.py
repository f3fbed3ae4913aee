"""The journal index: a read model of every recorded event, queried with SQL.

It answers what the ledger must know before it records an event (is this event id
taken, is this agreement decided, is this recipient registered) and what ``ledger
events`` lists. It is a projection of the journal with an eventsourcing tracking
recorder, so it resumes after a crash without indexing an entry twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from ledger.journal import Entry, Journal, json_text, parse_json
from ledger.sql import PostgresSqlView, SQLiteSqlView, SqlView, chunks

INDEX_DDL = (
    "CREATE TABLE IF NOT EXISTS {s}journal_index ("
    " position BIGINT PRIMARY KEY,"
    " event_id TEXT NOT NULL UNIQUE,"
    " kind TEXT NOT NULL,"
    " agreement_id TEXT,"
    " part_id TEXT,"
    " recipient_id TEXT,"
    " effective_date TEXT NOT NULL,"
    " recorded_at TEXT NOT NULL,"
    " recorded_by TEXT NOT NULL,"
    " corrects TEXT,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL,"
    " payload TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS journal_index_agreement ON {s}journal_index (agreement_id, position)",
    "CREATE INDEX IF NOT EXISTS journal_index_recipient ON {s}journal_index (recipient_id, position)",
    "CREATE INDEX IF NOT EXISTS journal_index_kind ON {s}journal_index (kind, position)",
    "CREATE INDEX IF NOT EXISTS journal_index_recorded_by ON {s}journal_index (recorded_by, position)",
    # the terms in force: a seek, where (agreement_id, position) walked back over every event
    "CREATE INDEX IF NOT EXISTS journal_index_terms ON {s}journal_index (agreement_id, kind, position)",
    # whether recipients are registered (every append's check): one entry per registration.
    # PostgreSQL otherwise combined the kind index with the recipient index, whose rows for
    # a region grow with every payout to it.
    "CREATE INDEX IF NOT EXISTS journal_index_registrations ON {s}journal_index (recipient_id)"
    " WHERE kind = 'recipient_registered'",
)

#: Up to this many values a lookup on PostgreSQL is an IN list; more go as one array.
FEW = 50
#: The position of the agreement's terms in force (its last decision or amendment).
TERMS_POSITION = ("SELECT MAX(position) FROM {s}journal_index WHERE agreement_id = ?"
                  " AND kind IN ('agreement_decided', 'agreement_amended')")

COLUMNS = (
    "position, event_id, kind, agreement_id, part_id, recipient_id, effective_date,"
    " recorded_at, recorded_by, corrects, prev_hash, hash, payload"
)


@dataclass(frozen=True)
class EventFilter:
    """Filters for listing events; every one optional."""

    agreement_id: str | None = None
    recipient_id: str | None = None
    kind: str | None = None
    recorded_by: str | None = None
    as_of: str | None = None  # effective_date <= as_of (ISO date)
    known_at: str | None = None  # recorded_at <= known_at (ISO datetime, UTC)
    after_position: int = 0
    limit: int | None = None


def _row(entry: Entry) -> tuple[Any, ...]:
    payload = entry.payload
    agreement = payload.get("agreement_id") or (payload.get("agreement") or {}).get("agreement_id")
    return (
        entry.position,
        entry.event_id,
        entry.kind,
        agreement,
        payload.get("part_id"),
        payload.get("recipient_id"),
        payload["effective_date"],
        entry.recorded_at,
        entry.recorded_by,
        payload.get("corrects"),
        entry.prev_hash,
        entry.hash,
        json_text(payload),
    )


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """An index row as the API and CLI show it."""
    out = dict(row)
    out["payload"] = parse_json(out["payload"])
    return out


class JournalIndex(SqlView):
    """Queries shared by both backends' index tables."""

    ddl = INDEX_DDL
    view_name = "journal_index"
    waits_for_disk = False  # rebuilt from the journal
    tables = ("journal_index",)
    query_indexes = ("journal_index_agreement", "journal_index_recipient", "journal_index_kind",
                     "journal_index_recorded_by", "journal_index_terms")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parts: dict[str, tuple[int, frozenset[str]]] = {}  # agreement -> (terms' position, part ids)

    def index_entries(self, entries: Sequence[Entry], tracking: Tracking) -> None:
        """Index entries and record the tracking position in one transaction."""
        with self.transaction(commit=True) as cursor:
            self.write(cursor, entries, tracking)

    def write(self, cursor: Any, entries: Sequence[Entry], tracking: Tracking) -> None:
        """Index entries and record the tracking position in the caller's transaction."""
        self.insert_rows(cursor, "journal_index", COLUMNS, [_row(e) for e in entries])
        self._insert_tracking(cursor, tracking)

    def existing_event_ids(self, event_ids: Iterable[str]) -> set[str]:
        return self._present("event_id", event_ids)

    def registered_recipients(self, recipient_ids: Iterable[str]) -> set[str]:
        """Those of ``recipient_ids`` that are registered."""
        return self._present("recipient_id", recipient_ids, "kind = 'recipient_registered' AND ")

    def _present(self, column: str, values: Iterable[str], condition: str = "") -> set[str]:
        """Those of ``values`` found in ``column`` (of the rows meeting ``condition``)."""
        found = set()
        values = list(values)
        stable = not condition  # by a unique key: any plan is a seek per value
        if self.is_postgres and len(values) > FEW:
            # A batch's ids as one array: one statement to plan and prepare, not an IN list
            # per 500 (a third of a 1000-event batch's checks), joined so that each value is a
            # seek ("= ANY(?)" got a generic plan that scanned the whole table).
            rows = self.query(f"SELECT j.{column} FROM unnest(?::text[]) AS v(value)"
                              f" JOIN {{s}}journal_index j ON j.{column} = v.value WHERE {condition}true",
                              [values], stable_plan=stable)
            return {r[column] for r in rows}
        for chunk in chunks(values):
            rows = self.query(f"SELECT {column} FROM {{s}}journal_index WHERE {condition}"
                              f"{column} IN ({','.join('?' * len(chunk))})", chunk, stable_plan=stable)
            found.update(r[column] for r in rows)
        return found

    def event(self, event_id: str) -> dict[str, Any] | None:
        rows = self.query(f"SELECT {COLUMNS} FROM {{s}}journal_index WHERE event_id = ?", [event_id],
                          stable_plan=True)
        return decode_row(rows[0]) if rows else None

    def position_of(self, event_id: str) -> int | None:
        """The event's journal position (None if it is not indexed), without its payload."""
        return self.scalar("SELECT position FROM {s}journal_index WHERE event_id = ?", [event_id],  # type: ignore[no-any-return]
                           stable_plan=True)

    def event_at(self, position: int) -> dict[str, Any] | None:
        rows = self.query(f"SELECT {COLUMNS} FROM {{s}}journal_index WHERE position = ?", [position],
                          stable_plan=True)
        return decode_row(rows[0]) if rows else None

    def agreement(self, agreement_id: str) -> dict[str, Any] | None:
        """The agreement as last decided or amended (the terms in force), or None."""
        rows = self.query(f"SELECT payload FROM {{s}}journal_index WHERE position = ({TERMS_POSITION})",
                          [agreement_id])
        return parse_json(rows[0]["payload"])["agreement"] if rows else None

    def part_ids(self, agreement_id: str) -> set[str] | None:
        """The part ids of the agreement's terms in force, or None if it is not decided.

        Every append checks its events' parts; decoding the whole agreement (tens of kB)
        each time was a tenth of an append, so the parts are kept per terms' position.
        """
        position = self.scalar(TERMS_POSITION, [agreement_id])
        if position is None:
            return None
        cached = self._parts.get(agreement_id)
        if cached is None or cached[0] != position:
            terms = self.event_at(position)["payload"]["agreement"]  # type: ignore[index]
            cached = (position, frozenset(p["part_id"] for p in terms["parts"]))
            self._parts[agreement_id] = cached
        return set(cached[1])

    def agreement_ids(self) -> list[str]:
        rows = self.query(
            "SELECT DISTINCT agreement_id FROM {s}journal_index WHERE kind = 'agreement_decided' ORDER BY agreement_id"
        )
        return [r["agreement_id"] for r in rows]

    def recipient_ids(self) -> set[str]:
        rows = self.query("SELECT recipient_id FROM {s}journal_index WHERE kind = 'recipient_registered'")
        return {r["recipient_id"] for r in rows}

    def recipient_history(self, recipient_id: str) -> list[dict[str, Any]]:
        rows = self.query(
            f"SELECT {COLUMNS} FROM {{s}}journal_index WHERE recipient_id = ?"
            " AND kind IN ('recipient_registered', 'recipient_renamed') ORDER BY position",
            [recipient_id],
        )
        return [decode_row(r) for r in rows]

    def head(self) -> tuple[int, str | None]:
        rows = self.query("SELECT position, hash FROM {s}journal_index ORDER BY position DESC LIMIT 1",
                          stable_plan=True)
        return (rows[0]["position"], rows[0]["hash"]) if rows else (0, None)

    def events(self, flt: EventFilter) -> list[dict[str, Any]]:
        clauses, params = ["position > ?"], [flt.after_position]
        for column in ("agreement_id", "recipient_id", "kind", "recorded_by"):
            value = getattr(flt, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if flt.as_of is not None:
            clauses.append("effective_date <= ?")
            params.append(flt.as_of)
        if flt.known_at is not None:
            clauses.append("recorded_at <= ?")
            params.append(flt.known_at)
        statement = f"SELECT {COLUMNS} FROM {{s}}journal_index WHERE {' AND '.join(clauses)} ORDER BY position"
        if flt.limit is not None:
            statement += " LIMIT ?"
            params.append(flt.limit)
        return [decode_row(r) for r in self.query(statement, params)]


class SQLiteJournalIndex(JournalIndex, SQLiteSqlView):
    pass


class PostgresJournalIndex(JournalIndex, PostgresSqlView):
    pass


class JournalIndexProjection(Projection[JournalIndex]):
    """Keeps the journal index up to date, one entry or a batch at a time."""

    name = "journal_index"
    topics = ()

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        # The journal's "Opened" event: nothing to index, but track it.
        self.view.index_entries([], tracking)

    @process_event.register
    def _(self, domain_event: Journal.EntryRecorded, tracking: Tracking) -> None:
        self.view.index_entries([domain_event.entry()], tracking)

    def process_batch(self, entries: Sequence[Entry], tracking: Tracking) -> None:
        self.view.index_entries(entries, tracking)
