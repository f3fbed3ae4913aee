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

from eventsourcing.postgres import PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteTrackingRecorder
from psycopg.sql import SQL


class SqlView:
    """Mixin for a tracking recorder with its own tables."""

    #: CREATE TABLE / CREATE INDEX statements, with {s} before each table name.
    ddl: Sequence[str] = ()

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
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(SQL(self.sql(s)) for s in self.ddl)  # type: ignore[arg-type]
