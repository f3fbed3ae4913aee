"""The chain check split over worker processes gives exactly the single-process answer.

Journals of 100 000 entries and more are verified by worker processes, each checking a
segment of consecutive positions (ledger/chain.py). Here the split is forced on a journal
of ten entries cut into segments of three positions (1-3, 4-6, 7-9, 10-), so tampering
lands inside a segment, on its first entry, on the link between two segments and at the
end; for every case the split check must return the same VerifyResult (length, head hash,
position and reason) as the in-process walk. Both run on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ledger import chain
from ledger.application import Ledger, VerifyResult
from ledger.cli import app
from ledger.config import database_config
from ledger.journal import canonical_json, entry_hash, hashed_content
from tests.conftest import raw_sql
from tests.tampering import delete, insert_row, set_state, state_at, table

ROOT = Path(__file__).resolve().parents[1]
N = 10
SEGMENT = 3
HASHED = ("position", "event_id", "kind", "recorded_at", "recorded_by", "payload")


def name(i: int) -> str:
    return f"Mottagare nummer {i:02d}"


@pytest.fixture
def journal(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> Ledger:
    for i in range(1, N + 1):
        ledger.append([{"kind": "recipient_registered", "event_id": str(uuid.uuid4()), "effective_date": "2020-01-01",
                        "recipient_id": f"mottagare-{i:02d}", "recipient_kind": "other", "name": name(i)}], "tester")
    monkeypatch.setattr(chain, "SEGMENT", SEGMENT)
    return ledger


def verify(ledger: Ledger, split: bool, progress: Callable[[int], None] | None = None) -> VerifyResult:
    """A fresh Ledger's verify, split over workers or in this process."""
    fresh = Ledger(database_config(ledger.config.url))
    fresh.verify_parallel_from = 0 if split else 10**12
    try:
        return fresh.verify(progress)
    finally:
        fresh.close()


# --- tampering -------------------------------------------------------------------------------


def alter_name(position: int) -> Callable[[Ledger], None]:
    def tamper(j: Ledger) -> None:
        set_state(j, position, state_at(j, position).replace(name(position).encode(), name(99).encode()))
    return tamper


def rehash(position: int) -> Callable[[Ledger], None]:
    """Alter an entry and recompute its own hash: the next entry's link breaks."""
    def tamper(j: Ledger) -> None:
        record = json.loads(state_at(j, position))
        record["payload"]["name"] = name(99)
        record["hash"] = entry_hash(record["prev_hash"], {k: record[k] for k in HASHED})
        set_state(j, position, json.dumps(record).encode())
    return tamper


def rewrite_from(position: int) -> Callable[[Ledger], None]:
    """Alter an entry and rewrite every hash after it: only the indexed head tells."""
    def tamper(j: Ledger) -> None:
        prev_hash = json.loads(state_at(j, position))["prev_hash"]
        for p in range(position, N + 1):
            record = json.loads(state_at(j, p))
            if p == position:
                record["payload"]["name"] = name(99)
            record["prev_hash"] = prev_hash
            record["hash"] = prev_hash = entry_hash(prev_hash, {k: record[k] for k in HASHED})
            set_state(j, p, json.dumps(record).encode())
    return tamper


def remove(*positions: int) -> Callable[[Ledger], None]:
    def tamper(j: Ledger) -> None:
        for position in positions:
            delete(j, position)
    return tamper


def swap(a: int, b: int) -> Callable[[Ledger], None]:
    def tamper(j: Ledger) -> None:
        first, second = state_at(j, a), state_at(j, b)
        set_state(j, a, second)
        set_state(j, b, first)
    return tamper


def insert_copy(position: int, of: int) -> Callable[[Ledger], None]:
    def tamper(j: Ledger) -> None:
        copy = state_at(j, of)
        for p in range(N, position - 1, -1):  # make room, last first (unique key)
            raw_sql(j, f"UPDATE {table(j)} SET originator_version = ? WHERE originator_version = ?", (p + 2, p + 1))
        insert_row(j, position, copy)
    return tamper


def other_topic(position: int) -> Callable[[Ledger], None]:
    def tamper(j: Ledger) -> None:
        raw_sql(j, f"UPDATE {table(j)} SET topic = ? WHERE originator_version = ?",
                ("ledger.journal:Journal.Opened", position + 1))
    return tamper


def null(column: str, position: int) -> Callable[[Ledger], None]:
    def tamper(j: Ledger) -> None:
        raw_sql(j, f"UPDATE {table(j)} SET {column} = NULL WHERE originator_version = ?", (position + 1,))
    return tamper


def both(*tampers: Callable[[Ledger], None]) -> Callable[[Ledger], None]:
    def tamper(j: Ledger) -> None:
        for t in tampers:
            t(j)
    return tamper


CASES = {
    "altered inside a segment": (alter_name(5), 5, "altered"),
    "altered first of a segment": (alter_name(4), 4, "altered"),
    "altered first entry": (alter_name(1), 1, "altered"),
    "altered last entry": (alter_name(N), N, "altered"),
    "rehashed: link into the next segment": (rehash(3), 4, "previous-hash link broken"),
    "rehashed: link inside a segment": (rehash(7), 8, "previous-hash link broken"),
    "rewritten to the end": (rewrite_from(6), N, "head hash differs"),
    "removed first of a segment": (remove(7), 7, "missing"),
    "removed last of a segment": (remove(6), 6, "missing"),
    "removed a whole segment": (remove(4, 5, 6), 4, "missing (next stored entry is 7)"),
    "removed the last entry": (remove(N), N, "removed at the end"),
    "removed the last four": (remove(7, 8, 9, N), 7, "removed at the end"),
    "duplicated at the end": (lambda j: insert_row(j, N + 1, state_at(j, 3)), N + 1, "reordered or moved"),
    "inserted across a boundary": (insert_copy(4, of=2), 4, "reordered or moved"),
    "swapped across segments": (swap(2, 8), 2, "reordered"),
    "undecodable": (lambda j: set_state(j, 5, b"\x00 not json"), 5, "cannot be decoded"),
    "not an entry": (other_topic(4), 4, "not a journal entry"),
    "state emptied (NULL)": (null("state", 6), 6, "cannot be decoded"),
    "topic emptied (NULL)": (null("topic", 3), 3, "cannot be decoded"),
    "two problems: the first is named": (both(alter_name(8), remove(2)), 2, "missing"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_split_check_names_the_same_first_problem(journal: Ledger, case: str):
    tamper, position, reason = CASES[case]
    tamper(journal)
    in_process = verify(journal, split=False)
    assert in_process.problem is not None and in_process.problem.position == position, in_process
    assert reason in in_process.problem.reason
    assert verify(journal, split=True) == in_process


def test_split_check_passes_an_intact_journal_segment_by_segment(journal: Ledger):
    steps: list[int] = []
    result = verify(journal, split=True, progress=steps.append)
    assert result.ok
    assert (result.length, result.head_hash) == journal.head()
    assert steps == [3, 3, 3, 1]  # one report per segment: the workers did the checking
    steps.clear()
    assert verify(journal, split=False, progress=steps.append) == result
    assert sum(steps) == N


def test_progress_counts_only_checked_entries(journal: Ledger):
    alter_name(8)(journal)
    for split in (True, False):
        steps: list[int] = []
        assert verify(journal, split=split, progress=steps.append).problem.position == 8
        assert sum(steps) == 7


UNGUARDED_SCRIPT = """
import sys
from ledger.application import Ledger
from ledger.config import database_config
print("top level ran", flush=True)
ledger = Ledger(database_config(sys.argv[1]))
ledger.verify_parallel_from = 0
result = ledger.verify()
print(result.ok, result.length, flush=True)
ledger.close()
"""


def test_workers_do_not_run_the_callers_script_again(journal: Ledger, tmp_path: Path):
    # A spawned worker would import the caller's main module again: here a script without an
    # `if __name__ == "__main__":` guard, whose top level would run once more in every worker.
    script = tmp_path / "unguarded.py"
    script.write_text(UNGUARDED_SCRIPT, encoding="utf-8")
    done = subprocess.run([sys.executable, str(script), journal.config.url], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["top level ran", f"True {N}"], done.stdout + done.stderr


def test_main_module_is_restored_after_the_workers_start():
    main = sys.modules["__main__"]
    before = (main.__dict__.get("__spec__"), main.__dict__.get("__file__"))
    with chain._main_left_alone():  # noqa: SLF001
        assert main.__spec__ is None and not hasattr(main, "__file__")
    assert (main.__dict__.get("__spec__"), main.__dict__.get("__file__")) == before


def test_reading_in_pages_smaller_than_a_gap(journal: Ledger, monkeypatch: pytest.MonkeyPatch):
    # Two rows (SQLite) or two versions (PostgreSQL) a page: the removed 4-6 span more than a page.
    monkeypatch.setattr(chain, "PAGE", 2)
    monkeypatch.setattr(chain.PostgresJournalRows, "PAGE", 2)
    rows = chain.JournalRows.of(journal.recorder)
    assert [version for page in rows.rows(after=1) for version, _, _ in page] == list(range(2, N + 2))
    assert [version for page in rows.rows(after=3, upto=6) for version, _, _ in page] == [4, 5, 6]
    assert verify(journal, split=False).ok
    remove(4, 5, 6)(journal)
    assert [version for page in rows.rows(after=1) for version, _, _ in page] == [2, 3, 4, 8, 9, 10, 11]
    result = verify(journal, split=False)
    assert (result.problem.position, result.problem.reason) == (4, "entry 4 is missing (next stored entry is 7): removed")


# --- one segment ----------------------------------------------------------------------------


def test_segment_claims_its_first_link_and_checks_the_rest(journal: Ledger):
    rows = chain.JournalRows.of(journal.recorder)
    segment = chain.check_segment(rows, 4, 6)
    assert segment.whole and segment.checked == 3
    assert segment.first_prev_hash == json.loads(state_at(journal, 3))["hash"]
    assert segment.last_hash == json.loads(state_at(journal, 6))["hash"]
    open_ended = chain.check_segment(rows, 7, None)
    assert open_ended.whole and open_ended.checked == N - 6


def test_segment_with_a_gap_or_an_altered_entry_is_not_whole(journal: Ledger):
    rows = chain.JournalRows.of(journal.recorder)
    remove(6)(journal)
    assert not chain.check_segment(rows, 4, 6).whole  # short: the parent walks it again
    alter_name(2)(journal)
    segment = chain.check_segment(rows, 1, 3)
    assert not segment.whole and segment.checked == 1


PAYLOADS = {
    "scalars": {"kind": "x", "amount": 100, "corrects": None, "final": True, "name": "Å\u2028\"\\\n"},
    "nested": {"kind": "x", "rows": [{"b": 1, "a": [2, None]}], "terms": {"z": "1", "y": {"x": 0}}},
    "float": {"kind": "x", "rate": 0.1, "big": 1e16},
    "int beyond 64 bits": {"kind": "x", "amount": 2**70},
}


@pytest.mark.parametrize("payload", list(PAYLOADS))
@pytest.mark.parametrize("extra", [{"timestamp": {"_type_": "datetime_iso", "_data_": "2025-01-01"}}, {},
                                   {"timestamp": 1, "more": "ignored"}], ids=["as stored", "no timestamp", "extra key"])
def test_content_bytes_are_the_canonical_bytes(payload: str, extra: dict):
    content = hashed_content(7, "e", "k", "2025-01-01T00:00:00.000000+00:00", "tester", PAYLOADS[payload])
    stored = {**extra, **content, "prev_hash": "0" * 64, "hash": "1" * 64}
    assert chain.content_bytes(json.loads(json.dumps(stored))) == canonical_json(content)


def test_plan_covers_every_position_once():
    assert chain.plan(10, 3) == [(1, 3), (4, 6), (7, 9), (10, None)]
    assert chain.plan(9, 3) == [(1, 3), (4, 6), (7, None)]
    assert chain.plan(0, 3) == [(1, None)]


# --- the CLI ---------------------------------------------------------------------------------


def test_verify_command_split_names_the_position(journal: Ledger, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(Ledger, "verify_parallel_from", 0)
    ok = CliRunner().invoke(app, ["verify", "--database-url", journal.config.url])
    assert ok.exit_code == 0, ok.output
    assert f"OK: {N} entries" in ok.output
    remove(5)(journal)
    broken = CliRunner().invoke(app, ["verify", "--database-url", journal.config.url])
    assert broken.exit_code == 1
    assert "chain broken at position 5:" in broken.output
