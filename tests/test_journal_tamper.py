"""Tampering with the stored journal behind the application's back is caught by verify.

Ten events are recorded (positions 1-10, stored at originator versions 2-11: version 1 is
the journal's "Opened" event). Each test changes the events table with raw SQL, then a
fresh Ledger on the same database must report the first bad position.
"""

from __future__ import annotations

import json
import uuid

import pytest
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.cli import app
from ledger.config import database_config
from ledger.journal import JOURNAL_ID, entry_hash
from tests.conftest import raw_sql
from tests.tampering import delete, insert_row, set_state, state_at, table

N = 10


def name(i: int) -> str:
    return f"Mottagare nummer {i:02d}"


@pytest.fixture
def journal(ledger: Ledger) -> Ledger:
    for i in range(1, N + 1):
        ledger.append([{"kind": "recipient_registered", "event_id": str(uuid.uuid4()), "effective_date": "2020-01-01",
                        "recipient_id": f"mottagare-{i:02d}", "recipient_kind": "other", "name": name(i)}], "tester")
    assert ledger.head()[0] == N
    assert ledger.verify().ok
    return ledger


def reverify(ledger: Ledger):
    fresh = Ledger(database_config(ledger.config.url))
    try:
        return fresh.verify()
    finally:
        fresh.close()


def test_untouched_journal_verifies(journal: Ledger):
    result = reverify(journal)
    assert result.ok
    assert (result.length, result.head_hash) == journal.head()


def test_altered_name_is_caught_at_its_position(journal: Ledger):
    state = state_at(journal, 4)
    assert name(4).encode() in state
    set_state(journal, 4, state.replace(name(4).encode(), "Mottagare nummer 99".encode()))
    result = reverify(journal)
    assert result.problem.position == 4
    assert "altered" in result.problem.reason
    assert result.length == 3


def test_altered_recorded_by_is_caught(journal: Ledger):
    set_state(journal, 7, state_at(journal, 7).replace(b'"recorded_by":"tester"', b'"recorded_by":"mallory"'))
    assert reverify(journal).problem.position == 7


def test_altered_entry_with_recomputed_hash_breaks_the_next_link(journal: Ledger):
    record = json.loads(state_at(journal, 4))
    record["payload"]["name"] = "Mottagare nummer 99"
    content = {k: record[k] for k in ("position", "event_id", "kind", "recorded_at", "recorded_by", "payload")}
    record["hash"] = entry_hash(record["prev_hash"], content)
    set_state(journal, 4, json.dumps(record).encode())
    result = reverify(journal)
    assert result.problem.position == 5
    assert "previous-hash link broken" in result.problem.reason


def test_rewritten_chain_to_the_end_is_caught_by_the_indexed_head(journal: Ledger):
    prev_hash = json.loads(state_at(journal, 6))["prev_hash"]
    for position in range(6, N + 1):
        record = json.loads(state_at(journal, position))
        if position == 6:
            record["payload"]["name"] = "Mottagare nummer 99"
        record["prev_hash"] = prev_hash
        content = {k: record[k] for k in ("position", "event_id", "kind", "recorded_at", "recorded_by", "payload")}
        record["hash"] = prev_hash = entry_hash(prev_hash, content)
        set_state(journal, position, json.dumps(record).encode())
    result = reverify(journal)
    assert result.problem.position == N
    assert "head hash differs" in result.problem.reason


def test_removed_middle_entry_is_caught(journal: Ledger):
    delete(journal, 5)
    result = reverify(journal)
    assert result.problem.position == 5
    assert "missing" in result.problem.reason


def test_removed_first_entry_is_caught(journal: Ledger):
    delete(journal, 1)
    assert reverify(journal).problem.position == 1


def test_removed_last_entry_is_caught_by_the_indexed_head(journal: Ledger):
    delete(journal, N)
    result = reverify(journal)
    assert result.problem.position == N
    assert "removed at the end" in result.problem.reason
    assert result.length == N - 1


def test_removed_last_three_entries_are_caught(journal: Ledger):
    for position in (N, N - 1, N - 2):
        delete(journal, position)
    assert reverify(journal).problem.position == N - 2


def test_duplicated_entry_appended_at_the_end_is_caught(journal: Ledger):
    insert_row(journal, N + 1, state_at(journal, 3))
    result = reverify(journal)
    assert result.problem.position == N + 1
    assert "reordered or moved" in result.problem.reason


def test_entry_inserted_in_the_middle_is_caught(journal: Ledger):
    for position in range(N, 5, -1):  # make room at position 6, last first (unique key)
        raw_sql(journal, f"UPDATE {table(journal)} SET originator_version = ? WHERE originator_version = ?",
                (position + 2, position + 1))
    insert_row(journal, 6, state_at(journal, 2))
    assert reverify(journal).problem.position == 6


def test_swapped_entries_are_caught_at_the_first(journal: Ledger):
    third, eighth = state_at(journal, 3), state_at(journal, 8)
    set_state(journal, 3, eighth)
    set_state(journal, 8, third)
    result = reverify(journal)
    assert result.problem.position == 3
    assert "reordered" in result.problem.reason


def test_undecodable_state_is_caught(journal: Ledger):
    set_state(journal, 2, b"\x00 not json")
    result = reverify(journal)
    assert result.problem.position == 2
    assert "cannot be decoded" in result.problem.reason


def test_the_same_ledger_instance_sees_the_tampering(journal: Ledger):
    delete(journal, 5)
    assert journal.verify().problem.position == 5


# --- the CLI ----------------------------------------------------------------------------------


def test_verify_command_passes_on_an_intact_journal(journal: Ledger):
    result = CliRunner().invoke(app, ["verify", "--database-url", journal.config.url])
    assert result.exit_code == 0, result.output
    assert f"OK: {N} entries" in result.output


@pytest.mark.parametrize(
    ("tamper", "position"),
    [
        (lambda j: set_state(j, 4, state_at(j, 4).replace(name(4).encode(), name(99).encode())), 4),
        (lambda j: delete(j, 6), 6),
        (lambda j: delete(j, N), N),
    ],
    ids=["altered", "removed", "truncated"],
)
def test_verify_command_fails_naming_the_position(journal: Ledger, tamper, position):
    tamper(journal)
    result = CliRunner().invoke(app, ["verify", "--database-url", journal.config.url])
    assert result.exit_code == 1
    assert f"chain broken at position {position}:" in result.output


def test_journal_id_is_the_only_originator(journal: Ledger):
    # The tamper helpers address rows by version alone: there is exactly one journal.
    ids = {str(r[0]).replace("-", "") for r in raw_sql(journal, f"SELECT DISTINCT originator_id FROM {table(journal)}")}
    assert ids == {JOURNAL_ID.hex}
