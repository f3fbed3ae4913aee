"""Shared fixtures: every ledger test runs once on SQLite and once on PostgreSQL.

PostgreSQL is required, not optional: if it cannot be reached the PostgreSQL half of
the suite fails (it never skips), so CI cannot pass without it. Each test gets its own
PostgreSQL schema, dropped afterwards. LEDGER_TEST_POSTGRES_URL overrides the server.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ledger.application import Ledger
from ledger.config import database_config

POSTGRES_URL = os.environ.get("LEDGER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BACKENDS = ("sqlite", "postgres")


def _postgres_conninfo() -> str:
    return POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database of the backend under test."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'ledger.sqlite'}"
        return
    schema = f"t_{uuid.uuid4().hex[:12]}"
    try:
        conn = psycopg.connect(_postgres_conninfo(), autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:  # fail, never skip: CI needs PostgreSQL
        pytest.fail(f"PostgreSQL is required for the test suite and is unreachable at {POSTGRES_URL}: {exc}")
    with conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}schema={schema}"
    with psycopg.connect(_postgres_conninfo(), autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


@pytest.fixture
def ledger(database_url: str) -> Iterator[Ledger]:
    app = Ledger(database_config(database_url))
    yield app
    app.close()


@pytest.fixture
def loaded_ledger(ledger: Ledger) -> Ledger:
    """A ledger with the recipients register and every catalogued agreement loaded."""
    ledger.load_agreements()
    return ledger


def raw_sql(ledger: Ledger, statement: str, params: tuple = ()) -> list[tuple]:
    """Run SQL directly against the ledger's database, bypassing the application (for tamper tests)."""
    if ledger.config.backend == "sqlite":
        import sqlite3

        conn = sqlite3.connect(ledger.config.env["SQLITE_DBNAME"])
        try:
            rows = conn.execute(statement, params).fetchall()
            conn.commit()
            return rows
        finally:
            conn.close()
    env = ledger.config.env
    with psycopg.connect(_postgres_conninfo(), autocommit=True) as conn:
        conn.execute(f'SET search_path TO "{env["POSTGRES_SCHEMA"]}"')
        cur = conn.execute(statement.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []
