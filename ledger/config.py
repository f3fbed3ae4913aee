"""Where the ledger keeps its journal: ``LEDGER_DATABASE_URL`` or ``--database-url``.

``sqlite:///path/to/file.sqlite`` (the embedded default, ``sqlite:///ledger.sqlite`` in the
working directory) or ``postgresql://user:password@host:port/dbname?schema=name``.
The same code runs on both; this module turns the URL into the eventsourcing settings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from urllib.parse import parse_qs, unquote, urlparse

ENV_VAR = "LEDGER_DATABASE_URL"
DEFAULT_URL = "sqlite:///ledger.sqlite"


#: Keep the journal aggregate in memory between appends; the library fast-forwards it
#: with entries other writers recorded since, and the (id, version) key still refuses a
#: stale writer. Without it every append re-reads up to 500 entries since the last snapshot.
CACHE = {"AGGREGATE_CACHE_MAXSIZE": "16", "AGGREGATE_CACHE_FASTFORWARD": "y"}


class ConfigError(ValueError):
    """A database URL the ledger cannot use."""


@dataclass(frozen=True)
class DatabaseConfig:
    url: str
    backend: str  # "sqlite" or "postgres"
    env: dict[str, str]

    @property
    def display_url(self) -> str:
        """The URL with any password masked: safe to print and log."""
        parsed = urlparse(self.url)
        if parsed.password:
            return self.url.replace(f":{parsed.password}@", ":***@")
        return self.url


def resolve_url(explicit: str | None = None) -> str:
    return explicit or os.environ.get(ENV_VAR) or DEFAULT_URL


def database_config(url: str | None = None) -> DatabaseConfig:
    url = resolve_url(url)
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = unquote(parsed.path[1:] if parsed.path.startswith("/") else parsed.path)
        if not path:
            raise ConfigError(f"{ENV_VAR}: a SQLite URL needs a file path, e.g. sqlite:///ledger.sqlite")
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": path,
            "SQLITE_LOCK_TIMEOUT": "30",
            # A batch's entries inserted with one executemany (ledger/journal_recorder.py).
            "APPLICATION_RECORDER_TOPIC": "ledger.journal_recorder:SQLiteJournalRecorder",
            **CACHE,
        }
        return DatabaseConfig(url, "sqlite", env)
    if parsed.scheme in ("postgresql", "postgres"):
        query = parse_qs(parsed.query)
        env = {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(parsed.path.lstrip("/")) or "postgres",
            "POSTGRES_HOST": parsed.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parsed.port or 5432),
            "POSTGRES_USER": unquote(parsed.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parsed.password or ""),
            "POSTGRES_SCHEMA": query.get("schema", ["public"])[0],
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": "5",
            "POSTGRES_MAX_OVERFLOW": "10",
            "POSTGRES_LOCK_TIMEOUT": "10",
            # Insert a batch with one statement (the library's insert function over an
            # array) instead of a pipelined executemany, which stalls for good once a batch
            # is large enough (~10 000 events here; psycopg issue 685). Without the
            # library's table lock notification ids still commit in order: every entry is a
            # version of the one journal aggregate, so a writer waits for the one before it.
            "POSTGRES_ENABLE_DB_FUNCTIONS": "y",
            # ...sent to that function as plain arrays (ledger/journal_recorder.py).
            "APPLICATION_RECORDER_TOPIC": "ledger.journal_recorder:PostgresJournalRecorder",
            **CACHE,
        }
        return DatabaseConfig(url, "postgres", env)
    raise ConfigError(f"{ENV_VAR}: unsupported database URL scheme {parsed.scheme!r}; use sqlite:/// or postgresql://")
