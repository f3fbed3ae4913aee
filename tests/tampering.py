"""Raw SQL on the stored journal, behind the application's back, for the tampering tests.

Position p of the journal is stored at originator version p + 1 (version 1 is the
journal's "Opened" event).
"""

from __future__ import annotations

from ledger.application import Ledger
from tests.conftest import raw_sql


def table(ledger: Ledger) -> str:
    return ledger.recorder.events_table_name


def state_at(ledger: Ledger, position: int) -> bytes:
    [(state,)] = raw_sql(ledger, f"SELECT state FROM {table(ledger)} WHERE originator_version = ?", (position + 1,))
    return bytes(state)


def set_state(ledger: Ledger, position: int, state: bytes) -> None:
    raw_sql(ledger, f"UPDATE {table(ledger)} SET state = ? WHERE originator_version = ?", (state, position + 1))


def delete(ledger: Ledger, position: int) -> None:
    raw_sql(ledger, f"DELETE FROM {table(ledger)} WHERE originator_version = ?", (position + 1,))


def insert_row(ledger: Ledger, position: int, state: bytes) -> None:
    """Store ``state`` at ``position`` with the journal's originator id and topic."""
    [(originator_id, topic)] = raw_sql(
        ledger, f"SELECT originator_id, topic FROM {table(ledger)} WHERE originator_version = 2"
    )
    raw_sql(ledger, f"INSERT INTO {table(ledger)} (originator_id, originator_version, topic, state) VALUES (?,?,?,?)",
            (originator_id, position + 1, topic, state))
