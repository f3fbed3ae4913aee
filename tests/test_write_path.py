"""What keeps an append's latency steady: the idempotency answer kept in the read models'
transaction (a receipt), SQLite's log copied in the background, and one queue per SQLite
file for this process's writers.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from api.app import key_store_for
from ledger.application import Ledger
from ledger.config import database_config
from ledger.sql import sqlite_write_lock
from ledger.walcheckpoint import WalCheckpointer
from tests.scenarios.builders import kr, requisition
from tests.test_group_commit import GatedClock, _wait_until

AGREEMENT, PART = "god-och-nara-vard-2020", "nara-vard"


def _answer(entries: list[Any]) -> list[dict[str, Any]]:
    return [{"event_id": e.event_id, "position": e.position} for e in entries]


# --- receipts -------------------------------------------------------------------------


def test_an_append_keeps_its_receipt_with_its_read_model_rows(loaded_ledger: Ledger) -> None:
    keys = key_store_for(loaded_ledger)
    receipt = keys.receipt("k1", "idem-1", "hash-1", _answer)
    [entry] = loaded_ledger.append([requisition(AGREEMENT, PART, "region-skane", kr(10), "2020-06-01")], "f", receipt)

    assert receipt.kept
    stored = keys.stored_response("k1", "idem-1")
    assert stored is not None
    assert (stored.body_hash, stored.status) == ("hash-1", 201)
    assert stored.response == [{"event_id": entry.event_id, "position": entry.position}]


def test_a_receipt_under_a_key_already_kept_is_not_kept_and_the_first_answer_stands(loaded_ledger: Ledger) -> None:
    keys = key_store_for(loaded_ledger)
    first = keys.receipt("k1", "idem-1", "hash-1", _answer)
    loaded_ledger.append([requisition(AGREEMENT, PART, "region-skane", kr(10), "2020-06-01")], "f", first)
    second = keys.receipt("k1", "idem-1", "hash-2", _answer)
    loaded_ledger.append([requisition(AGREEMENT, PART, "region-skane", kr(20), "2020-06-02")], "f", second)

    assert first.kept and not second.kept
    stored = keys.stored_response("k1", "idem-1")
    assert stored is not None and stored.body_hash == "hash-1"
    # the entries and the read models are whole: a receipt never rolls back its transaction
    assert loaded_ledger.notifications_behind() == {"journal_index": 0, "ledger_views": 0}


def test_each_request_of_a_group_keeps_its_own_receipt_with_its_own_entries(loaded_ledger: Ledger) -> None:
    clock = GatedClock()
    ledger = Ledger(database_config(loaded_ledger.config.url), clock=clock)
    keys = key_store_for(ledger)
    receipts = {name: keys.receipt("k1", name, f"hash-{name}", _answer) for name in ("first", "a", "b")}
    results: dict[str, Any] = {}

    def append(name: str, amounts: list[int]) -> threading.Thread:
        events = [requisition(AGREEMENT, PART, "region-gotland", kr(a), "2020-06-03") for a in amounts]
        thread = threading.Thread(target=lambda: results.__setitem__(
            name, ledger.append(events, "f", receipts[name])), daemon=True)
        thread.start()
        return thread

    try:
        threads = [append("first", [1])]
        assert clock.entered.wait(60)
        threads.append(append("a", [2, 3]))
        _wait_until(lambda: len(ledger._appends._waiting) == 1, "a to queue")
        threads.append(append("b", [4]))
        _wait_until(lambda: len(ledger._appends._waiting) == 2, "b to queue")
        clock.gate.set()
        for thread in threads:
            thread.join(60)
        assert clock.calls == 2  # "a" and "b" were recorded as one group
        for name, receipt in receipts.items():
            assert receipt.kept
            stored = keys.stored_response("k1", name)
            assert stored is not None
            assert stored.response == _answer(results[name])
        assert [len(results[n]) for n in ("first", "a", "b")] == [1, 2, 1]
    finally:
        ledger.close()


def test_when_the_read_models_are_not_written_with_the_append_the_receipt_is_left_to_the_caller(
        loaded_ledger: Ledger) -> None:
    keys = key_store_for(loaded_ledger)
    receipt = keys.receipt("k1", "idem-9", "hash-9", _answer)
    saved = loaded_ledger.save

    def save_then_lose_track(*args: Any) -> Any:
        # As if the read models were not where the catch-up before the save left them
        # (a crash undid their last commit): the append catches up instead of projecting
        # its own entries, and keeps no receipt.
        recordings = saved(*args)
        loaded_ledger._reached -= 1
        return recordings

    loaded_ledger.save = save_then_lose_track  # type: ignore[method-assign]
    loaded_ledger.append([requisition(AGREEMENT, PART, "region-skane", kr(6), "2020-06-01")], "f", receipt)

    assert not receipt.kept
    assert keys.stored_response("k1", "idem-9") is None
    assert loaded_ledger.notifications_behind() == {"journal_index": 0, "ledger_views": 0}


# --- SQLite: the log copied in the background, one queue of writers per file ----------


@pytest.mark.parametrize("backend", ["sqlite"])
def test_appends_on_sqlite_have_their_log_copied_in_the_background(loaded_ledger: Ledger) -> None:
    wal = loaded_ledger._wal
    assert wal is not None
    before = wal.checkpoints
    loaded_ledger.append([requisition(AGREEMENT, PART, "region-skane", kr(7), "2020-06-01")], "f")
    _wait_until(lambda: wal.checkpoints > before, "a checkpoint")


def test_a_checkpointer_stops_with_its_ledger_closed_or_dropped(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'l.sqlite'}"

    def threads() -> int:
        return sum(t.name == "wal-checkpoint" and t.is_alive() for t in threading.enumerate())

    start = threads()
    ledger = Ledger(database_config(url))
    ledger.load_agreements()
    assert threads() == start + 1
    ledger.close()
    assert threads() == start

    dropped = Ledger(database_config(url))
    dropped.append([requisition(AGREEMENT, PART, "region-skane", kr(9), "2020-06-01")], "f")
    thread = dropped._wal._thread
    assert thread is not None and thread.is_alive()
    del dropped
    gc.collect()
    thread.join(10)
    assert not thread.is_alive()


def test_a_closed_checkpointer_starts_no_thread(tmp_path: Any) -> None:
    wal = WalCheckpointer(str(tmp_path / "none.sqlite"))
    wal.close()
    wal.written()
    assert wal._thread is None


@pytest.mark.parametrize("backend", ["sqlite"])
def test_sqlite_appends_and_read_model_writes_queue_behind_one_writer_lock(loaded_ledger: Ledger) -> None:
    lock = sqlite_write_lock(loaded_ledger.config.env["SQLITE_DBNAME"])
    keys = key_store_for(loaded_ledger)
    done: dict[str, Any] = {}

    def run(name: str, work: Callable[[], Any]) -> threading.Thread:
        thread = threading.Thread(target=lambda: done.__setitem__(name, work()), daemon=True)
        thread.start()
        return thread

    with lock:  # another writer of this process holds the file
        appending = run("append", lambda: loaded_ledger.append(
            [requisition(AGREEMENT, PART, "region-skane", kr(11), "2020-06-01")], "f"))
        storing = run("store", lambda: keys.store_response("k", "i", "h", 201, []))
        time.sleep(0.3)
        assert done == {}  # both wait here, not inside SQLite
    appending.join(30)
    storing.join(30)
    assert len(done["append"]) == 1 and done["store"] is True


@pytest.mark.parametrize("backend", ["sqlite"])
def test_read_model_commits_leave_the_log_copy_to_the_background_thread(loaded_ledger: Ledger) -> None:
    with loaded_ledger.views.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 0  # a rebuild's pages never wait for the copy
    with loaded_ledger.factory.datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA wal_autocheckpoint")
        assert cursor.fetchone()[0] == 1000  # the journal's connections keep SQLite's own, as a safety net
    wal = loaded_ledger._wal
    assert wal is not None
    before = wal.checkpoints
    loaded_ledger.rebuild(page=50)
    _wait_until(lambda: wal.checkpoints > before, "a checkpoint after the rebuild's pages")
