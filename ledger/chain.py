"""The hash-chain check behind ``Ledger.verify``, fast enough for a million entries.

A full check reads every stored journal record, decodes it, serialises its hashed content
canonically again and hashes it: about 11 µs of CPU per entry when nothing is in the way.
So this module

* reads (originator_version, topic, state) rows with one SQL statement per page straight
  from the events table (``JournalRows``), instead of the library building a StoredEvent
  and a UUID per record;
* checks a record first the quick way (``quick_hash``: orjson fields, no Entry object) and
  only when that fails works out what is wrong the careful way (``diagnose``, the mapper
  as fallback), so the reasons are those the ledger always gave;
* above ``PARALLEL_FROM`` entries splits the journal into segments of consecutive positions
  checked by worker processes (``verify_split``): each checks its segment without knowing
  the hash before it, and the parent checks the links between segments. A segment that is
  not perfect is walked again here, in order, from its first position, by the same code as
  the single-process check, so the first problem, its position and its reason are exactly
  what a single process reports.

Position p of the journal is stored at originator version p + 1 (version 1 is the
journal's "Opened" event).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import closing, contextmanager
from dataclasses import dataclass
from hashlib import sha256
from typing import Any

import orjson
from eventsourcing.persistence import InfrastructureFactory, StoredEvent
from eventsourcing.utils import Environment

from ledger.config import database_config
from ledger.journal import GENESIS_HASH, JOURNAL_ID, canonical_json, entry_hash
from ledger.stored import ENTRY_TOPIC, decode_entry, entry_fields

PAGE = 5000  # rows per fetch from SQLite
SEGMENT = 25_000  # positions per worker task: small enough to balance the workers and to walk again
PARALLEL_FROM = 200_000  # shorter journals are checked in-process: starting the workers costs ~1 s of wall time
MAX_WORKERS = 4

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Walk:
    """Where a walk along the chain stopped: the next position it expected, the hash of the
    last good entry, and the first problem (position, reason) if it found one."""

    expected: int
    prev_hash: str
    problem: tuple[int, str] | None = None


# --- reading ---------------------------------------------------------------------------------


Row = tuple[int, Any, Any]  # (originator_version, topic, state) as stored; topic and state may be NULL


class JournalRows:
    """The journal's stored rows, a page at a time, through the recorder's own datastore."""

    @staticmethod
    def of(recorder: Any) -> JournalRows:
        return JournalRows.on(recorder.datastore, recorder.events_table_name)

    @staticmethod
    def on(datastore: Any, table: str) -> JournalRows:
        postgres = hasattr(datastore, "schema")  # SQLiteDatastore has none
        return PostgresJournalRows(datastore, table) if postgres else SQLiteJournalRows(datastore, table)

    def rows(self, after: int, upto: int | None = None) -> Iterator[list[Row]]:
        """Pages of rows after version ``after`` up to ``upto`` (None: the end), in version order."""
        raise NotImplementedError

    def last_version(self) -> int:
        raise NotImplementedError


class SQLiteJournalRows(JournalRows):
    """One statement in one read transaction (a snapshot; in WAL mode it blocks no writer),
    about 30 % cheaper a row than a statement per page."""

    def __init__(self, datastore: Any, table: str):
        self.datastore = datastore
        self.table = table
        self.id = JOURNAL_ID.hex  # the library stores UUIDs as hex text in SQLite

    def rows(self, after: int, upto: int | None = None) -> Iterator[list[Row]]:
        where, params = "originator_version > ?", [self.id, after]
        if upto is not None:
            where += " AND originator_version <= ?"
            params.append(upto)
        with self.datastore.transaction(commit=False) as wrapper:
            cursor = wrapper.sqlite_cursor  # the library's wrapper has no fetchmany
            cursor.row_factory = None  # plain tuples: the library's sqlite3.Row costs ~1 µs a row
            cursor.execute(f"SELECT originator_version, topic, state FROM {self.table} "
                           f"WHERE originator_id = ? AND {where} ORDER BY originator_version", params)
            while page := cursor.fetchmany(PAGE):
                yield page

    def last_version(self) -> int:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute(f"SELECT MAX(originator_version) FROM {self.table} WHERE originator_id = ?", [self.id])
            return cursor.fetchone()[0] or 0


class PostgresJournalRows(JournalRows):
    """A statement per page, in binary (bytea arrives as bytes, not hex text to decode).

    A page is a range of 2000 versions rather than "the next 2000 rows": a LIMIT query's plan
    depends on the table's statistics, and with none or stale ones the planner scanned every
    row after the page for each page; a bounded range never does."""

    PAGE = 2000

    def __init__(self, datastore: Any, table: str):
        from psycopg.sql import SQL, Identifier

        self.datastore = datastore
        self.table = SQL("{}.{}").format(Identifier(datastore.schema), Identifier(table))
        self.select = SQL("SELECT originator_version, topic, state FROM {} WHERE originator_id = %s"
                          " AND originator_version > %s AND originator_version <= %s"
                          " ORDER BY originator_version").format(self.table)

    def rows(self, after: int, upto: int | None = None) -> Iterator[list[Row]]:
        # First seek the next stored version: at the head (a proof refreshing its tree)
        # that one index lookup is the whole read.
        following = self._next_version(after, upto)
        if following is None:
            return
        after = following - 1
        while upto is None or after < upto:
            end = after + self.PAGE if upto is None else min(after + self.PAGE, upto)
            page = self._fetch(self.select, [JOURNAL_ID, after, end])
            if page:
                yield page
                after = end
                continue
            following = self._next_version(end, upto)  # a gap of a page or more, or the end
            if following is None:
                return
            after = following - 1

    def last_version(self) -> int:
        from psycopg.sql import SQL

        statement = SQL("SELECT MAX(originator_version) FROM {} WHERE originator_id = %s").format(self.table)
        return self._fetch(statement, [JOURNAL_ID])[0][0] or 0

    def _next_version(self, after: int, upto: int | None) -> int | None:
        from psycopg.sql import SQL

        statement = SQL("SELECT MIN(originator_version) FROM {} WHERE originator_id = %s"
                        " AND originator_version > %s AND originator_version <= %s").format(self.table)
        return self._fetch(statement, [JOURNAL_ID, after, 2**63 - 1 if upto is None else upto])[0][0]

    def _fetch(self, statement: Any, params: list[Any]) -> list[Any]:
        from psycopg.rows import tuple_row

        with self.datastore.get_connection() as conn, conn.cursor(binary=True, row_factory=tuple_row) as cursor:
            cursor.execute(statement, params, prepare=True)
            return cursor.fetchall()


# --- one record ------------------------------------------------------------------------------


def quick_hash(version: int, topic: Any, state: Any, prev_hash: str) -> str | None:
    """The entry's hash when the record is a journal entry at its position, linked to
    ``prev_hash`` and matching its hash; None when anything is off (``diagnose`` says what).

    Reads the fields with orjson (ledger/stored.py) and never builds an Entry: this runs a
    million times in a full verify. Only for a mapper with no cipher and no compressor.
    """
    value = quick_fields(topic, state)
    if value is None or value["position"] != version - 1 or value["prev_hash"] != prev_hash:
        return None
    digest = value["hash"]
    return digest if sha256(prev_hash.encode("ascii") + content_bytes(value)).hexdigest() == digest else None


def quick_fields(topic: Any, state: Any) -> dict[str, Any] | None:
    """The stored entry's fields, type-checked, or None when the quick way does not apply."""
    return entry_fields(state) if topic == ENTRY_TOPIC and type(state) is bytes else None  # NULL, text: diagnose


_SCALARS = frozenset((str, int, bool, type(None)))


def content_bytes(value: dict[str, Any]) -> bytes:
    """The bytes the entry's hash (and its Merkle leaf) covers: ``canonical_json`` of its
    hashed content, from ``quick_fields``. Consumes ``value``: read what else you need first.

    Sooner than canonical_json for the usual entry, about 1.5 µs of the ~11 µs an entry
    costs: a stored entry is its eight fields and the library's timestamp, so deleting the
    timestamp and the two hashes leaves exactly the hashed content, without building a
    dict; the other fields are known to be str and int, so a payload of scalars has no
    float, and for values without floats orjson writes the canonical bytes
    (journal.canonical_json; its hypothesis test), which one C-level pass over the
    payload's value types shows instead of the general float walk.
    """
    payload = value["payload"]
    if len(value) == 9 and "timestamp" in value:
        del value["timestamp"], value["prev_hash"], value["hash"]
        content = value
    else:  # a key more or less than the library writes: take the hashed fields by name
        content = {"position": value["position"], "event_id": value["event_id"], "kind": value["kind"],
                   "recorded_at": value["recorded_at"], "recorded_by": value["recorded_by"], "payload": payload}
    if _SCALARS.issuperset(map(type, payload.values())):
        try:
            return orjson.dumps(content, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # an int beyond 64 bits, a lone surrogate: the general path decides
    return canonical_json(content)


def diagnose(version: int, topic: Any, state: Any, prev_hash: str, mapper: Any) -> tuple[str | None, str]:
    """(what is wrong with the stored record or None, the hash it claims), decoded the way the
    rest of the ledger decodes it (orjson, the mapper as fallback)."""
    position = version - 1
    try:
        entry = decode_entry(StoredEvent(JOURNAL_ID, version, topic, state), mapper)
    except Exception as exc:  # noqa: BLE001 - any decoding failure is tampering
        return f"stored event cannot be decoded ({type(exc).__name__})", ""
    if entry is None:
        return "stored record is not a journal entry", ""
    if entry.position != position:
        return f"entry says position {entry.position} but is stored at {position}: reordered or moved", entry.hash
    if entry.prev_hash != prev_hash:
        return "previous-hash link broken: an entry before it was altered, removed or inserted", entry.hash
    if entry_hash(prev_hash, entry.hashed_content()) != entry.hash:
        return "content does not match its hash: the stored event was altered", entry.hash
    return None, entry.hash


def gap_reason(expected: int, found: int) -> str:
    if found > expected:
        return f"entry {expected} is missing (next stored entry is {found}): removed"
    return f"entry {found} stored again after {expected - 1}: inserted or duplicated"


def quick_allowed(mapper: Any) -> bool:
    """The quick check reads the stored bytes as plain JSON: not with a cipher or compressor."""
    return mapper.cipher is None and mapper.compressor is None


# --- in order, in this process -------------------------------------------------------------


def walk(journal: JournalRows, expected: int, prev_hash: str, mapper: Any, progress: Progress | None = None) -> Walk:
    """Check the chain from position ``expected`` (whose predecessor's hash is ``prev_hash``)
    to the end of the stored journal, in order; stop at the first problem."""
    quick = quick_allowed(mapper)
    with closing(journal.rows(after=expected)) as pages:  # position p is stored at version p + 1
        for page in pages:
            checked = 0
            for version, topic, state in page:
                position = version - 1
                if position != expected:
                    problem = (expected, gap_reason(expected, position))
                    return _stopped(progress, checked, Walk(expected, prev_hash, problem))
                digest = quick_hash(version, topic, state, prev_hash) if quick else None
                if digest is None:
                    reason, digest = diagnose(version, topic, state, prev_hash, mapper)
                    if reason:
                        return _stopped(progress, checked, Walk(expected, prev_hash, (position, reason)))
                prev_hash = digest
                expected += 1
                checked += 1
            if progress:
                progress(checked)
    return Walk(expected, prev_hash)


def _stopped(progress: Progress | None, checked: int, result: Walk) -> Walk:
    if progress and checked:
        progress(checked)
    return result


# --- in segments, on every core ----------------------------------------------------------------


@dataclass(frozen=True)
class Segment:
    """What a worker found in positions first..last (last None: to the end of the journal).

    ``whole`` is true only if every position of the segment is stored, in order, each record
    a journal entry at its position whose hash matches, each linked to the one before; the
    first entry's link (``first_prev_hash``) is for the parent to check.
    """

    first: int
    checked: int
    first_prev_hash: str | None
    last_hash: str | None
    whole: bool


def can_split(ledger: Any) -> bool:
    """Workers open the database themselves and read the bytes as plain JSON."""
    if not quick_allowed(ledger.mapper) or workers() < 2:
        return False
    name = ledger.config.env.get("SQLITE_DBNAME", "")
    return ":memory:" not in name and "mode=memory" not in name  # another process cannot see it


def workers() -> int:
    return min(os.cpu_count() or 1, MAX_WORKERS)


def plan(last_position: int, size: int) -> list[tuple[int, int | None]]:
    """Segments of ``size`` positions from 1; the last one runs to whatever the journal holds then."""
    starts = list(range(1, max(last_position, 1) + 1, size))
    return [(start, start + size - 1) for start in starts[:-1]] + [(starts[-1], None)]


def verify_split(ledger: Any, journal: JournalRows, progress: Progress | None = None,
                 size: int | None = None) -> Walk:
    """The same answer as ``walk(journal, 1, GENESIS_HASH, ...)``, with the segments checked
    by worker processes.

    Workers are spawned (nothing inherited: each opens its own connection from the ledger's
    URL) without importing the caller's main module (``_main_left_alone``). If a worker
    cannot start or dies, the rest is checked in this process.
    """
    segments = plan(journal.last_version() - 1, size or SEGMENT)
    source = (ledger.name, ledger.config.url, ledger.recorder.events_table_name)
    expected, prev_hash = 1, GENESIS_HASH
    pool = ProcessPoolExecutor(min(workers(), len(segments)), mp_context=multiprocessing.get_context("spawn"),
                               initializer=_open, initargs=source)
    try:
        with _main_left_alone():  # the workers start as the tasks are submitted, all of them here
            checked = pool.map(_check_segment, segments)
        for segment in checked:
            if not (segment.whole and (segment.checked == 0 or segment.first_prev_hash == prev_hash)):
                break
            expected += segment.checked
            prev_hash = segment.last_hash or prev_hash
            if progress and segment.checked:
                progress(segment.checked)
        else:
            pool.shutdown()
            return Walk(expected, prev_hash)
    except BrokenProcessPool:
        pass  # a worker could not start or died: check the rest here
    finally:
        pool.shutdown(wait=False, cancel_futures=True)  # not needed any more: free the cores for the walk
    # Something is wrong in this segment or at its first link (or the workers failed): walk
    # from its first position in order, exactly as a single process does, to name the problem.
    return walk(journal, expected, prev_hash, ledger.mapper, progress)


@contextmanager
def _main_left_alone() -> Iterator[None]:
    """Start workers without the caller's ``__main__``.

    A spawned worker imports the parent's main module again unless it is a package's
    ``__main__``: for the ``ledger`` command that is the whole CLI, about a second of CPU per
    worker, and a script without an ``if __name__ == "__main__":`` guard would run its top
    level again in every worker. The workers need nothing from it (their functions are this
    module's, their arguments plain values), so while they start the main module shows
    multiprocessing neither a spec nor a file to import it from.
    """
    main = sys.modules["__main__"]
    saved = {name: main.__dict__.get(name, _MISSING) for name in ("__spec__", "__file__")}
    main.__dict__["__spec__"] = None
    main.__dict__.pop("__file__", None)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is _MISSING:
                main.__dict__.pop(name, None)
            else:
                main.__dict__[name] = value


_MISSING = object()
_rows: JournalRows | None = None  # the worker's reader, opened once per process


def _open(name: str, url: str, table: str) -> None:
    """Worker start: a datastore of the same database the parent's ledger reads."""
    global _rows  # noqa: PLW0603 - one reader per worker process
    env = Environment(name, {**os.environ, **database_config(url).env})
    _rows = JournalRows.on(InfrastructureFactory.construct(env).datastore, table)  # type: ignore[attr-defined]


def _check_segment(segment: tuple[int, int | None]) -> Segment:
    assert _rows is not None
    return check_segment(_rows, *segment)


def check_segment(journal: JournalRows, first: int, last: int | None) -> Segment:
    """Check positions first..last without knowing the hash before ``first``: the first
    entry is checked against the previous hash it claims (the parent checks that claim)."""
    expected, prev_hash, first_prev_hash = first, None, None
    upto = None if last is None else last + 1
    with closing(journal.rows(after=first, upto=upto)) as pages:
        for page in pages:
            for version, topic, state in page:
                if version - 1 != expected:
                    return Segment(first, expected - first, first_prev_hash, prev_hash, whole=False)
                if prev_hash is None:
                    first_prev_hash = prev_hash = _claimed_prev_hash(topic, state)
                digest = quick_hash(version, topic, state, prev_hash) if prev_hash is not None else None
                if digest is None:
                    return Segment(first, expected - first, first_prev_hash, prev_hash, whole=False)
                prev_hash = digest
                expected += 1
    whole = last is None or expected == last + 1
    return Segment(first, expected - first, first_prev_hash, prev_hash, whole)


def _claimed_prev_hash(topic: Any, state: Any) -> str | None:
    value = quick_fields(topic, state)
    claimed = value["prev_hash"] if value else None
    return claimed if claimed is not None and claimed.isascii() else None  # hashed as ASCII
