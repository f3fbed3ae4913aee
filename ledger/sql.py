"""One SQL text for both backends.

Views (read models) are eventsourcing tracking recorders; each has a SQLite and a
PostgreSQL class that share their statements through ``SqlView``. Statements are written
with ``?`` placeholders and ``{s}`` before table names (the PostgreSQL schema); the same
column types (TEXT for ISO dates, BIGINT for öre and positions) work on both.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL


class SqlView:
    """Mixin for a tracking recorder with its own tables.

    Several views share the datastore's one tracking table; each keeps its own row,
    named ``<application>:<view_name>``, so each resumes from its own position.
    """

    #: CREATE TABLE / CREATE INDEX statements, with {s} before each table name.
    ddl: Sequence[str] = ()
    #: Names this view's tracking row; the tables it drops on a rebuild.
    view_name: str = "view"
    tables: Sequence[str] = ()

    def tracking_name(self, application_name: str) -> str:
        # The library's own migration marker row must keep its name.
        if application_name == getattr(self, "table_migration_identifier", None):
            return application_name
        return f"{application_name}:{self.view_name}"

    def max_tracking_id(self, application_name: str) -> int | None:
        return super().max_tracking_id(self.tracking_name(application_name))  # type: ignore[misc]

    def _insert_tracking(self, cursor: Any, tracking: Tracking) -> None:
        named = Tracking(self.tracking_name(tracking.application_name), tracking.notification_id)
        super()._insert_tracking(cursor, named)  # type: ignore[misc]

    def reset(self, application_name: str) -> None:
        """Empty this view's tables and forget its position, for a full rebuild."""
        with self.transaction(commit=True) as cursor:
            for table in self.tables:
                cursor.execute(self.sql(f"DELETE FROM {{s}}{table}"))
            cursor.execute(self.sql(f"DELETE FROM {{s}}{self.tracking_table} WHERE application_name = ?"),
                           [self.tracking_name(application_name)])

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

    def sql(self, statement: str) -> str:
        text = statement.format(s=self.schema_prefix)
        return text.replace("?", "%s") if self.is_postgres else text

    @contextmanager
    def transaction(self, *, commit: bool) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as cursor:  # type: ignore[attr-defined]
            yield cursor

    def query(self, statement: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        with self.transaction(commit=False) as cursor:
            cursor.execute(self.sql(statement), list(params))
            return [dict(row) for row in cursor.fetchall()]

    def scalar(self, statement: str, params: Sequence[Any] = ()) -> Any:
        rows = self.query(statement, params)
        if not rows:
            return None
        return next(iter(rows[0].values()))


class SQLiteSqlView(SqlView, SQLiteTrackingRecorder):
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
