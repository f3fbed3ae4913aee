"""One SQL text for both backends.

Views (read models) are eventsourcing tracking recorders; each has a SQLite and a
PostgreSQL class that share their statements through ``SqlView``. Statements are written
with ``?`` placeholders and ``{s}`` before table names (the PostgreSQL schema); the same
column types (TEXT for ISO dates, BIGINT for öre and positions) work on both.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from typing import Any, TypeVar

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg import pq
from psycopg.sql import SQL


SQLITE_CACHE = "PRAGMA cache_size = -65536"  # KiB: 64 MB
# A read model's commit need not wait for the disk: if the machine loses power the last
# commits may be lost, rows and tracking position together (atomicity holds), and the
# next catch-up projects those entries again from the journal, whose own commits still
# wait for the disk. SQLite's setting is per connection: the read models have their own.
SQLITE_NO_WAIT = "PRAGMA synchronous = NORMAL"
SQLITE_WAIT = "PRAGMA synchronous = FULL"  # SQLite's default, which the journal's connections keep
# Many builds (Debian's among them) zero every deleted byte (secure_delete). The read
# models hold nothing the journal does not, and a rebuild empties them: zeroing their
# hundreds of MB cost a seventh of a rebuild. Tables that wait for the disk keep it on.
SQLITE_NO_WAIT_ERASE = "PRAGMA secure_delete = OFF"
SQLITE_WAIT_ERASE = "PRAGMA secure_delete = ON"
# The read models' commits never copy the write-ahead log into the file themselves: the
# ledger's background thread does (ledger/walcheckpoint.py), on the other core, so a
# rebuild's pages are not held up by it (100 000 entries: about 10 000 → 12 500 events/s). The
# journal's connections keep SQLite's own checkpoint as the safety net.
SQLITE_NO_WAIT_COPY = "PRAGMA wal_autocheckpoint = 0"
SQLITE_WAIT_COPY = "PRAGMA wal_autocheckpoint = 1000"  # SQLite's default
#: Each SQLite connection set up so far, and whether its commits wait for the disk.
_SQLITE_WAITS: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
POSTGRES_NO_WAIT = "SET LOCAL synchronous_commit TO OFF"


#: From this many rows, PostgreSQL inserts go by COPY (a rebuild's page, a large batch).
COPY_FROM = 100
#: Values per ``IN (...)`` list: well under SQLite's and psycopg's limits on parameters.
IN_LIST = 500

_READING = threading.local()
T = TypeVar("T")

# SQLite lets one connection write at a time; another that tries waits in SQLite's busy
# handler, which sleeps 1, 2, 5, 10, 15, 20, 25... ms between tries, and a writer that keeps
# losing the race can sleep for 100 ms or more. The ledger writes one file through two
# connection pools (the journal's and the read models'), and an API request writes its
# idempotency record beside other requests' appends, so writers of one process take this
# lock per file first and queue here, in arrival order, instead of in SQLite's sleeps.
_SQLITE_WRITE_LOCKS: dict[str, threading.RLock] = {}
_SQLITE_WRITE_LOCKS_GUARD = threading.Lock()


def sqlite_write_lock(path: str) -> threading.RLock:
    """The lock this process's writers to the SQLite file at ``path`` take first."""
    with _SQLITE_WRITE_LOCKS_GUARD:
        return _SQLITE_WRITE_LOCKS.setdefault(path, threading.RLock())


def chunks(values: Sequence[T], size: int = IN_LIST) -> Iterator[Sequence[T]]:
    """``values`` in consecutive slices of at most ``size``: one query's IN list each."""
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _open_cursors() -> dict[int, Any]:
    """This thread's cursors of open ``reading()`` blocks, by id(view)."""
    if not hasattr(_READING, "cursors"):
        _READING.cursors = {}
    return _READING.cursors  # type: ignore[no-any-return]


class SqlView:
    """Mixin for a tracking recorder with its own tables.

    Several views share the datastore's one tracking table; each keeps its own row,
    named ``<application>:<view_name>``, so each resumes from its own position.
    """

    #: CREATE TABLE / CREATE INDEX statements, with {s} before each table name.
    ddl: Sequence[str] = ()
    #: Names this view's tracking row; the tables it empties on a rebuild.
    view_name: str = "view"
    tables: Sequence[str] = ()
    #: Indexes no write reads: dropped for a rebuild and built again after it.
    query_indexes: Sequence[str] = ()
    #: False for tables whose last commits may be lost in a power cut without harm (see
    #: SQLITE_NO_WAIT): the read models, rebuilt from the journal, and idempotency records.
    waits_for_disk: bool = True

    def tracking_name(self, application_name: str) -> str:
        # The library's own migration marker row must keep its name.
        if application_name == getattr(self, "table_migration_identifier", None):
            return application_name
        return f"{application_name}:{self.view_name}"

    def max_tracking_id(self, application_name: str) -> int | None:
        return super().max_tracking_id(self.tracking_name(application_name))  # type: ignore[misc]

    def positions(self, tracking_names: Sequence[str], cursor: Any = None) -> dict[str, int]:
        """The tracking positions of the named rows (0 for none yet): views that share this
        one's tracking table are read at once. With ``cursor``, as the caller's transaction
        sees them."""
        marks = ",".join("?" * len(tracking_names))
        statement = (f"SELECT application_name AS name, MAX(notification_id) AS n FROM {{s}}{self.tracking_table}"
                     f" WHERE application_name IN ({marks}) GROUP BY application_name")
        if cursor is None:
            rows = self.query(statement, tracking_names, stable_plan=True)
        else:
            cursor.execute(self.sql(statement), list(tracking_names))
            rows = cursor.fetchall()
        found = {row["name"]: row["n"] for row in rows}
        return {name: found.get(name) or 0 for name in tracking_names}

    def _insert_tracking(self, cursor: Any, tracking: Tracking) -> None:
        named = Tracking(self.tracking_name(tracking.application_name), tracking.notification_id)
        super()._insert_tracking(cursor, named)  # type: ignore[misc]

    def reset(self, application_name: str) -> None:
        """Empty this view's tables and forget its position, for a full rebuild.

        Also drops the indexes only queries use: filling a table and then building an
        index over it is faster than keeping the index up to date row by row.
        ``restore_indexes`` builds them again (and so does opening the ledger, should a
        rebuild stop half-way).
        """
        # PostgreSQL: TRUNCATE, not DELETE, which marked every row dead one by one (WAL for
        # each), left the kept indexes full of dead entries for the refill to wade through,
        # and left autovacuum to clean up after the rebuild. SQLite's DELETE of a whole
        # table already drops its pages.
        empty = "TRUNCATE {s}%s" if self.is_postgres else "DELETE FROM {s}%s"
        with self.transaction(commit=True) as cursor:
            for table in self.tables:
                cursor.execute(self.sql(empty % table))
            cursor.execute(self.sql(f"DELETE FROM {{s}}{self.tracking_table} WHERE application_name = ?"),
                           [self.tracking_name(application_name)])
            for name in self.query_indexes:
                cursor.execute(self.sql(f"DROP INDEX IF EXISTS {{s}}{name}"))

    def restore_indexes(self) -> None:
        """Create whatever index of the view is missing (every DDL statement is IF NOT EXISTS)."""
        with self.transaction(commit=True) as cursor:
            for statement in self.ddl:
                cursor.execute(self.sql(statement))

    @property
    def tracking_table(self) -> str:
        return getattr(self, "tracking_table_name", "tracking")

    @property
    def is_postgres(self) -> bool:
        return isinstance(self, PostgresTrackingRecorder)

    @property
    def schema_prefix(self) -> str:
        if self.is_postgres:
            return f'"{self.datastore.schema}".'  # type: ignore[attr-defined]
        return ""

    @property
    def planned_each_run(self) -> dict[str, Any]:
        """``cursor.execute`` arguments for a statement whose best plan depends on the data
        (see ``query``): on PostgreSQL it is never made a prepared statement."""
        return {"prepare": False} if self.is_postgres else {}

    def sql(self, statement: str) -> str:
        text = statement.format(s=self.schema_prefix)
        return text.replace("?", "%s") if self.is_postgres else text

    @contextmanager
    def transaction(self, *, commit: bool, pipelined: bool = False) -> Iterator[Any]:
        """A cursor in one transaction. ``pipelined`` (PostgreSQL, for a few rows): the
        statements are sent without waiting for each answer (psycopg's pipeline mode), so
        BEGIN, the settings, the inserts and COMMIT cost a few round trips, not one each; a
        single append's read-model write went from 14 waits on the server to 3. Reading a
        result waits for everything sent before it. No COPY in a pipeline (insert_rows)."""
        if self.is_postgres:
            with self.datastore.get_connection() as connection:  # type: ignore[attr-defined]
                with connection.pipeline() if pipelined else nullcontext():
                    with connection.transaction(force_rollback=not commit):
                        cursor = connection.cursor()
                        if not self.waits_for_disk and commit:
                            cursor.execute(POSTGRES_NO_WAIT)  # for this transaction only
                        yield cursor
            return
        lock = sqlite_write_lock(self.datastore.pool.db_name) if commit else nullcontext()  # type: ignore[attr-defined]
        with lock, self.datastore.get_connection(commit=commit) as connection:  # type: ignore[attr-defined]
            self._set_up(connection)
            with connection.transaction(commit=commit) as cursor:
                yield cursor

    def _set_up(self, connection: Any) -> None:
        """SQLite settings last as long as the connection, so they are set once per pooled
        connection (outside a transaction: SQLite refuses the safety level inside one).
        SQLite's default page cache is 2 MB; the read models' indexes on random event ids
        thrash it once the tables outgrow it."""
        if _SQLITE_WAITS.get(connection) is self.waits_for_disk:
            return
        settings = connection.cursor()
        settings.execute(SQLITE_CACHE)
        settings.execute(SQLITE_WAIT if self.waits_for_disk else SQLITE_NO_WAIT)
        settings.execute(SQLITE_WAIT_ERASE if self.waits_for_disk else SQLITE_NO_WAIT_ERASE)
        settings.execute(SQLITE_WAIT_COPY if self.waits_for_disk else SQLITE_NO_WAIT_COPY)
        _SQLITE_WAITS[connection] = self.waits_for_disk

    @contextmanager
    def _read_cursor(self) -> Iterator[Any]:
        """A cursor for reads only. SQLite: in one read transaction (one snapshot, and no
        lock or commit per query). PostgreSQL: on one pooled connection in autocommit,
        each query its own transaction, as it would be anyway at READ COMMITTED; a BEGIN
        and an end cost two more round trips, and an end by ROLLBACK made psycopg forget
        the connection's prepared statements (DEALLOCATE ALL, and every statement planned
        again)."""
        if self.is_postgres:
            with self.datastore.get_connection() as connection, connection.cursor() as cursor:  # type: ignore[attr-defined]
                yield cursor
            return
        with self.transaction(commit=False) as cursor:
            yield cursor

    @contextmanager
    def reading(self) -> Iterator[None]:
        """Run this thread's queries of the block on one connection (``_read_cursor``),
        not one pooled connection per query. Write nothing inside it. On SQLite the block
        sees the database as it was when it began; on PostgreSQL each query sees what was
        committed when it ran."""
        open_cursors = _open_cursors()
        if id(self) in open_cursors:
            yield  # already inside one
            return
        with self._read_cursor() as cursor:
            open_cursors[id(self)] = cursor
            try:
                yield
            finally:
                del open_cursors[id(self)]

    def query(self, statement: str, params: Sequence[Any] = (), *, stable_plan: bool = False) -> list[dict[str, Any]]:
        """Rows of one SELECT, inside this thread's ``reading()`` block if one is open.

        PostgreSQL plans each run for its own values unless ``stable_plan`` says the best
        plan never depends on the data (a lookup by a unique key): only those become
        prepared statements (psycopg's, from their fifth run on a connection). A prepared
        statement keeps the generic plan the server chose when it was made, often while
        the tables were small: the terms' position (agreement and kind) was then read by
        agreement alone and filtered by kind, every event of the agreement on every append
        (7 ms at 10 000 entries, growing), where planning it afresh takes a tenth of a ms.
        """
        execute = {} if stable_plan else self.planned_each_run
        cursor = _open_cursors().get(id(self))
        if cursor is not None:
            cursor.execute(self.sql(statement), list(params), **execute)
            return _dicts(cursor)
        # The library's connections are in autocommit mode: one SELECT on its own is its own
        # transaction, one statement instead of three (BEGIN, SELECT, ROLLBACK); on
        # PostgreSQL, one round trip instead of three.
        postgres = self.is_postgres
        getting = self.datastore.get_connection() if postgres else self.datastore.get_connection(commit=False)  # type: ignore[attr-defined]
        with getting as connection:
            if not postgres:
                self._set_up(connection)
            with connection.cursor() as cursor:
                cursor.execute(self.sql(statement), list(params), **execute)
                return _dicts(cursor)

    def insert_rows(self, cursor: Any, table: str, columns: str, rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows in the caller's transaction. On PostgreSQL many rows go by COPY, which
        took 27-30 ms for 5 000 postings where one INSERT per row took 126-214 ms."""
        if not rows:
            return
        if self.is_postgres and len(rows) >= COPY_FROM and not _in_pipeline(cursor):
            with cursor.copy(self.sql(f"COPY {{s}}{table} ({columns}) FROM STDIN")) as copy:
                for row in rows:
                    copy.write_row(row)
            return
        marks = ",".join("?" * len(rows[0]))
        cursor.executemany(self.sql(f"INSERT INTO {{s}}{table} ({columns}) VALUES ({marks})"), rows)

    def key_columns(self, table: str) -> list[str]:
        """The primary key's columns of one of this view's tables ([] if it does not exist)."""
        raise NotImplementedError

    def scalar(self, statement: str, params: Sequence[Any] = (), *, stable_plan: bool = False) -> Any:
        rows = self.query(statement, params, stable_plan=stable_plan)
        if not rows:
            return None
        return next(iter(rows[0].values()))


def _in_pipeline(cursor: Any) -> bool:
    """Whether a PostgreSQL cursor's connection is in pipeline mode (no COPY there)."""
    return cursor.connection.pgconn.pipeline_status != pq.PipelineStatus.OFF  # type: ignore[no-any-return]


def _dicts(cursor: Any) -> list[dict[str, Any]]:
    """A SELECT's rows as dicts of their own: psycopg's rows already are (not copied again);
    SQLite's rows are zipped with the column names, a third faster than dict(row), which
    was a seventh of a report over every agreement."""
    rows = cursor.fetchall()
    if not rows or isinstance(rows[0], dict):
        return rows
    names = rows[0].keys()  # sqlite3.Row
    return [dict(zip(names, row)) for row in rows]


class SQLiteSqlView(SqlView, SQLiteTrackingRecorder):
    def key_columns(self, table: str) -> list[str]:
        rows = self.query("SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk", [table])
        return [row["name"] for row in rows]

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        return statements + [self.sql(s) for s in self.ddl]


class PostgresSqlView(SqlView, PostgresTrackingRecorder):
    #: Every view shares the ledger's tracking table, whichever factory built it (the
    #: library names it after the environment, which differs for a ProjectionRunner).
    TRACKING_TABLE = "ledger_tracking"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["tracking_table_name"] = self.TRACKING_TABLE
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(SQL(self.sql(s)) for s in self.ddl)  # type: ignore[arg-type]

    def key_columns(self, table: str) -> list[str]:
        rows = self.query("SELECT a.attname AS name FROM pg_index i JOIN pg_attribute a"
                          " ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)"
                          " WHERE i.indrelid = to_regclass(?) AND i.indisprimary"
                          " ORDER BY array_position(i.indkey::int2[], a.attnum)",
                          [f"{self.schema_prefix}{table}"])
        return [row["name"] for row in rows]
