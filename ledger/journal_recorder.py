"""The journal's recorders: the library's, with a faster way to send a batch.

SQLite: the library inserts a batch one statement per entry, to read each entry's rowid
(its notification id) back; this recorder inserts it with one executemany and reads the
last rowid. The batch's rowids are consecutive: SQLite gives a new row one more than the
largest rowid, and the transaction holds the file's write lock throughout.

PostgreSQL:

With ``POSTGRES_ENABLE_DB_FUNCTIONS`` (ledger/config.py says why) the library sends a
batch to its insert function as one array of composite values, which psycopg builds in
Python, field by field: about a third of a 1 000-event append's own time. This recorder
sends the same rows as four plain arrays (ids, versions, topics, states) in PostgreSQL's
binary format (``%b``: the states are not written out as escaped hex text) and has
PostgreSQL make the composite values; the function, its lock timeout, its NOTIFY, the
insert and the notification ids it returns are the library's, unchanged. Saving a batch of
500 entries took ~24 ms with the library's array, ~17 ms this way.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier


class SQLiteJournalRecorder(SQLiteApplicationRecorder):
    def _insert_events(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int]:
        if len(stored_events) < 2:
            return super()._insert_events(c, stored_events, **kwargs)  # type: ignore[no-any-return]
        SQLiteAggregateRecorder._insert_events(self, c, stored_events, **kwargs)  # one executemany
        c.execute("SELECT last_insert_rowid()")
        last = int(c.fetchone()[0])
        return list(range(last - len(stored_events) + 1, last + 1))


class PostgresJournalRecorder(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # WITH ORDINALITY ... ORDER BY keeps the batch's order, so the notification ids
        # follow the versions exactly as with the library's own array.
        self.sql_insert_arrays = SQL(
            "SELECT * FROM {schema}.{function}(ARRAY("
            "SELECT ROW(o, v, t, s)::{schema}.{event_type}"
            " FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[])"
            " WITH ORDINALITY AS batch(o, v, t, s, n) ORDER BY n))"
        ).format(
            schema=Identifier(self.datastore.schema),
            function=Identifier(self.pg_function_name_insert_events),
            event_type=Identifier(self.stored_event_type_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )

    def insert_events(self, stored_events: Sequence[StoredEvent], **kwargs: Any) -> Sequence[int] | None:
        if not self.datastore.enable_db_functions or not stored_events:
            return super().insert_events(stored_events, **kwargs)  # type: ignore[no-any-return]
        return self._insert_arrays(stored_events)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def _insert_arrays(self, stored_events: Sequence[StoredEvent]) -> Sequence[int]:
        columns = (
            [e.originator_id for e in stored_events],
            [e.originator_version for e in stored_events],
            [e.topic for e in stored_events],
            [e.state for e in stored_events],
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.sql_insert_arrays, columns, prepare=True)
            return [row[self.pg_function_name_insert_events] for row in curs.fetchall()]
