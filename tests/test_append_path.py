"""The append path's shortcuts change nothing a reader can see.

An append keeps its journal in memory, snapshots it from memory, projects its own entries
straight into the read models, and caches an agreement's part ids. Each test checks the
outcome against what a fresh process reading the database would find.
"""

from __future__ import annotations

import pytest
from eventsourcing.persistence import Tracking

from api.app import key_store_for
from ledger import catalogue
from ledger.admission import LedgerValidationError
from ledger.application import SNAPSHOT_EVERY, Ledger
from ledger.config import database_config
from ledger.journal import JOURNAL_ID
from ledger.stored import decode_entry
from tests.conftest import raw_sql
from tests.scenarios.builders import correction, kr, payout, requisition

AGREEMENT, PART = "god-och-nara-vard-2020", "nara-vard"
REGIONS = ("region-skane", "region-gotland", "region-uppsala")


def _requisitions(count: int) -> list[dict]:
    return [requisition(AGREEMENT, PART, REGIONS[i % 3], kr(1000 + i), "2020-06-01") for i in range(count)]


def _reads(ledger: Ledger) -> tuple:
    return ledger.head(), ledger.views.dump(), ledger.list_events()


def test_a_fresh_process_loads_the_journal_from_a_snapshot_taken_in_memory(loaded_ledger: Ledger) -> None:
    ledger = loaded_ledger
    for _ in range(3):
        ledger.append(_requisitions(SNAPSHOT_EVERY // 2 + 7), "finance")
    length, head = ledger.head()
    [snapshot] = ledger.snapshots.get(JOURNAL_ID, desc=True, limit=1)
    assert snapshot.originator_version > SNAPSHOT_EVERY
    assert snapshot.state["length"] == snapshot.originator_version - 1  # version 1 opened the journal

    other = Ledger(database_config(ledger.config.url))
    try:
        journal = other._journal()
        assert (journal.length, journal.head_hash) == (length, head)
        assert other.verify().ok
    finally:
        other.close()


def test_two_writers_interleaving_leave_each_ones_read_models_complete(loaded_ledger: Ledger) -> None:
    first = loaded_ledger
    second = Ledger(database_config(first.config.url))
    try:
        for round_ in range(3):
            first.append(_requisitions(3 + round_), "finance-a")
            second.append(_requisitions(2), "finance-b")  # the second writer's entries lie between
        first.append(_requisitions(1), "finance-a")
        length, _ = first.head()
        assert length == first._journal().length
        recorded = {e["recorded_by"] for e in first.list_events()}
        assert {"finance-a", "finance-b"} <= recorded
        incremental = _reads(first)
        first.rebuild()
        assert _reads(first) == incremental
    finally:
        second.close()


def test_an_append_refused_after_a_rival_took_the_position_is_checked_again(loaded_ledger: Ledger) -> None:
    ledger = loaded_ledger
    rival = Ledger(database_config(ledger.config.url))
    try:
        ledger.append(_requisitions(1), "finance")  # the journal is now cached in `ledger`
        rival.append(_requisitions(2), "rival")  # ...and is stale there
        entries = ledger.append(_requisitions(1), "finance")
        assert entries[0].position == ledger.head()[0]
        assert [e["recorded_by"] for e in ledger.list_events()][-4:] == ["finance", "rival", "rival", "finance"]
        assert ledger.verify().ok
    finally:
        rival.close()


def test_a_rival_appending_between_the_check_and_the_save_makes_the_kept_journal_reload(
        loaded_ledger: Ledger, monkeypatch) -> None:
    """The journal kept from the last save is used without reading the store when nothing
    was recorded since; a rival that slips in after that look makes the save conflict, and
    the append is checked again on the journal as stored, never on the stamped copy."""
    ledger = loaded_ledger
    rival = Ledger(database_config(ledger.config.url))
    try:
        ledger.append(_requisitions(1), "finance")
        check, slipped = ledger.check, []

        def check_then_rival(*args, **kwargs):
            check(*args, **kwargs)
            if not slipped:
                slipped.append(rival.append(_requisitions(2), "rival"))

        monkeypatch.setattr(ledger, "check", check_then_rival)
        [entry] = ledger.append(_requisitions(1), "finance")
        assert entry.position == ledger.head()[0] == slipped[0][-1].position + 1
        assert [e["recorded_by"] for e in ledger.list_events()][-4:] == ["finance", "rival", "rival", "finance"]
        assert ledger.verify().ok
    finally:
        rival.close()


def test_a_save_that_fails_after_stamping_leaves_no_trace_in_the_kept_journal(
        loaded_ledger: Ledger, monkeypatch) -> None:
    from eventsourcing.persistence import OperationalError

    ledger = loaded_ledger
    ledger.append(_requisitions(1), "finance")
    length, head = ledger.head()
    save = ledger.save
    monkeypatch.setattr(ledger, "save", lambda *a, **k: (_ for _ in ()).throw(OperationalError("connection lost")))
    with pytest.raises(OperationalError):
        ledger.append(_requisitions(3), "finance")
    monkeypatch.setattr(ledger, "save", save)
    assert ledger.head() == (length, head)
    [entry] = ledger.append(_requisitions(1), "finance")
    assert (entry.position, entry.prev_hash) == (length + 1, head)
    assert ledger.verify().ok
    other = Ledger(database_config(ledger.config.url))
    try:
        assert (other._journal().length, other._journal().head_hash) == ledger.head()
    finally:
        other.close()


def test_an_amendment_that_drops_a_part_refuses_events_for_it_afterwards(loaded_ledger: Ledger) -> None:
    ledger = loaded_ledger
    ledger.append([requisition(AGREEMENT, PART, "region-skane", kr(10), "2020-06-01")], "finance")  # parts cached
    terms = catalogue.catalogue()[AGREEMENT].model_dump(mode="json")
    kept = [p for p in terms["parts"] if p["part_id"] != PART]
    assert kept and len(kept) < len(terms["parts"])
    amendment = {"kind": "agreement_amended", "event_id": "00000000-0000-4000-8000-0000000a2020",
                 "effective_date": "2020-07-01", "agreement": {**terms, "parts": kept}, "reason": "test"}
    ledger.append([amendment], "admin")
    length = ledger.head()[0]
    with pytest.raises(LedgerValidationError) as refused:
        ledger.append([requisition(AGREEMENT, PART, "region-skane", kr(10), "2020-07-02")], "finance")
    assert [(e.field, e.reason.split(" (")[0]) for e in refused.value.errors] == [
        ("part_id", f"agreement {AGREEMENT!r} has no part {PART!r}")]
    assert ledger.head()[0] == length


def test_read_models_lost_in_a_database_crash_after_the_catch_up_are_projected_again(
        loaded_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL can lose the read models' last commits in a crash (they don't wait for
    the disk) while the ledger's process lives on. When the commit lost is the catch-up an
    append made just before saving, the append must not project its own entries over the
    gap: every recorded event id stays known, so a retried request is refused, never
    recorded twice."""
    ledger = loaded_ledger
    before = ledger.recorder.max_notification_id()
    [lost] = ledger.append(_requisitions(1), "finance")
    check = ledger.check

    def crash_after_the_catch_up(events: list, now: object = None) -> None:
        check(events, now)  # type: ignore[arg-type]
        for view in ledger.read_models:  # what the crash undoes: `lost`'s rows and the positions
            for table in view.tables:
                raw_sql(ledger, f"DELETE FROM {table} WHERE position = ?", (lost.position,))
            raw_sql(ledger, f"UPDATE {view.tracking_table} SET notification_id = ? WHERE application_name = ?",
                    (before, view.tracking_name(ledger.name)))

    monkeypatch.setattr(ledger, "check", crash_after_the_catch_up)
    [after] = ledger.append(_requisitions(1), "finance")
    monkeypatch.undo()
    assert ledger.index.existing_event_ids([lost.event_id, after.event_id]) == {lost.event_id, after.event_id}
    with pytest.raises(LedgerValidationError, match="already recorded"):
        ledger.append([lost.payload], "finance")
    incremental = _reads(ledger)
    ledger.rebuild()
    assert _reads(ledger) == incremental


def test_a_catch_up_page_lost_in_a_database_crash_is_read_again(
        loaded_ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    """A crash that loses one page of a catch-up while the process goes on reading must
    not let the next page be written over the gap."""
    ledger = loaded_ledger
    ledger.append(_requisitions(30), "finance")
    expected = _reads(ledger)
    for view in ledger.read_models:
        view.reset(ledger.name)
        view.restore_indexes()
    write, pages = ledger._write_views, []

    def lose_the_first_page(pending: list, tracking: Tracking, since: dict[str, int]) -> None:
        write(pending, tracking, since)
        pages.append(tracking.notification_id)
        if len(pages) == 1:
            for view in ledger.read_models:
                for table in view.tables:
                    raw_sql(ledger, f"DELETE FROM {table}")
                raw_sql(ledger, f"DELETE FROM {view.tracking_table} WHERE application_name = ?",
                        (view.tracking_name(ledger.name),))

    monkeypatch.setattr(ledger, "_write_views", lose_the_first_page)
    ledger.catch_up(batch_size=20)
    assert pages.count(pages[0]) == 2  # the lost page was written again
    assert _reads(ledger) == expected


def test_read_models_written_by_the_append_equal_a_rebuild_on_both_backends(loaded_ledger: Ledger) -> None:
    ledger = loaded_ledger
    ledger.append(_requisitions(40), "finance")
    for i in range(5):
        ledger.append([payout(AGREEMENT, PART, REGIONS[i % 3], kr(500 + i), "2020-06-15")], "finance")
    before = _reads(ledger)
    ledger.rebuild()
    assert _reads(ledger) == before


def _index_names(ledger: Ledger) -> set[str]:
    if ledger.config.backend == "sqlite":
        rows = raw_sql(ledger, "SELECT name FROM sqlite_master WHERE type = 'index'")
    else:
        rows = raw_sql(ledger, "SELECT indexname FROM pg_indexes WHERE schemaname = %s",
                       (ledger.config.env["POSTGRES_SCHEMA"],))
    return {r[0] for r in rows}


def test_a_rebuild_drops_the_query_indexes_and_builds_them_again(loaded_ledger: Ledger) -> None:
    ledger = loaded_ledger
    query_indexes = {*ledger.index.query_indexes, *ledger.views.query_indexes}
    assert query_indexes <= _index_names(ledger)
    ledger.views.reset(ledger.name)
    assert not query_indexes & _index_names(ledger) - set(ledger.index.query_indexes)
    ledger.rebuild()
    assert query_indexes <= _index_names(ledger)
    assert ledger.views.trial_balance("2030-01-01", "2100-01-01T00:00:00Z") == 0


def test_balance_sums_are_read_from_an_index_in_journal_order_and_older_indexes_are_dropped(
        loaded_ledger: Ledger) -> None:
    ledger = loaded_ledger
    older = {"postings_agreement": "postings (agreement_id, effective_date)",
             "postings_agreement_sums": "postings (agreement_id, effective_date, recorded_at, amount)",
             "postings_recipient": "postings (recipient_id, effective_date)",
             "postings_recipient_in_order": "postings (recipient_id, position)",
             "documents_kind": "documents (kind, effective_date)"}
    for name, columns in older.items():
        raw_sql(ledger, f"CREATE INDEX {name} ON {columns}")
    assert set(older) <= _index_names(ledger)
    reopened = Ledger(database_config(ledger.config.url))  # as after an upgrade
    try:
        assert not set(older) & _index_names(ledger)
        assert set(ledger.views.query_indexes) <= _index_names(ledger)
        if ledger.config.backend == "sqlite":
            plan = raw_sql(ledger, "EXPLAIN QUERY PLAN SELECT agreement_id, part_id, recipient_id, route, account,"
                                   " SUM(amount) FROM postings WHERE effective_date <= '2030-01-01'"
                                   " AND recorded_at <= 'z' AND (superseded_at IS NULL OR superseded_at > 'z')"
                                   " AND agreement_id = 'god-och-nara-vard-2020'"
                                   " GROUP BY agreement_id, part_id, recipient_id, route, account")
            assert "COVERING INDEX postings_agreement_in_order" in " ".join(str(r) for r in plan)
            # a recipient's sums, agreement by agreement: a seek each, from the index alone
            plan = raw_sql(ledger, "EXPLAIN QUERY PLAN SELECT agreement_id, part_id, recipient_id, route, account,"
                                   " SUM(amount) FROM postings WHERE effective_date <= '2030-01-01'"
                                   " AND recorded_at <= 'z' AND (superseded_at IS NULL OR superseded_at > 'z')"
                                   " AND recipient_id = 'region-gotland' AND agreement_id IN ('a', 'b')"
                                   " GROUP BY agreement_id, part_id, recipient_id, route, account")
            assert "COVERING INDEX postings_recipient_sums (recipient_id=? AND agreement_id=?)" in \
                " ".join(str(r) for r in plan)
        assert reopened.views.account_sums("2030-01-01", "2100-01-01T00:00:00Z", agreement_id=AGREEMENT) == \
            ledger.views.account_sums("2030-01-01", "2100-01-01T00:00:00Z", agreement_id=AGREEMENT) != []
    finally:
        reopened.close()


OLD_VIEWS = {  # the read models' tables as sessions before the position keys wrote them
    "postings": "event_id TEXT NOT NULL, seq INTEGER NOT NULL, position BIGINT NOT NULL, kind TEXT NOT NULL,"
                " agreement_id TEXT NOT NULL, part_id TEXT, recipient_id TEXT, route TEXT,"
                " account TEXT NOT NULL, amount BIGINT NOT NULL, effective_date TEXT NOT NULL,"
                " recorded_at TEXT NOT NULL, superseded_at TEXT, PRIMARY KEY (event_id, seq)",
    "documents": "event_id TEXT PRIMARY KEY, position BIGINT NOT NULL, kind TEXT NOT NULL,"
                 " agreement_id TEXT NOT NULL, part_id TEXT, recipient_id TEXT,"
                 " effective_date TEXT NOT NULL, recorded_at TEXT NOT NULL, superseded_at TEXT,"
                 " supersedes TEXT, payload TEXT NOT NULL",
}


def test_views_are_keyed_by_position_and_tables_keyed_by_event_id_are_rebuilt_when_opened(
        loaded_ledger: Ledger) -> None:
    ledger = loaded_ledger
    paid = payout(AGREEMENT, PART, REGIONS[0], kr(700), "2020-06-15")
    ledger.append([*_requisitions(6), paid], "finance")
    ledger.append([correction(paid, amount=kr(600))], "finance")  # a correction finds its event by id
    before = ledger.views.dump()
    assert ledger.views.key_columns("postings") == ["position", "seq"]
    assert ledger.views.key_columns("documents") == ["position"]
    for table, columns in OLD_VIEWS.items():  # the same rows, under the old keys
        raw_sql(ledger, f"ALTER TABLE {table} RENAME TO {table}_was")  # raw_sql: in the ledger's schema
        raw_sql(ledger, f"CREATE TABLE {table} ({columns})")
        raw_sql(ledger, f"INSERT INTO {table} SELECT * FROM {table}_was")
        raw_sql(ledger, f"DROP TABLE {table}_was")
    assert ledger.views.key_columns("documents") == ["event_id"]
    reopened = Ledger(database_config(ledger.config.url))  # as after an upgrade
    try:
        assert reopened.views.key_columns("postings") == ["position", "seq"]
        assert reopened.views.key_columns("documents") == ["position"]
        assert reopened.notifications_behind()["ledger_views"] == 0  # projected again on open...
        assert reopened.views.dump() == before  # ...to the same rows
        assert set(reopened.views.query_indexes) <= _index_names(reopened)  # documents_event among them
    finally:
        reopened.close()


def test_a_correction_finds_its_event_through_the_documents_when_the_journal_index_lags(
        loaded_ledger: Ledger) -> None:
    ledger = loaded_ledger
    paid = payout(AGREEMENT, PART, REGIONS[1], kr(900), "2020-06-15")
    ledger.append([*_requisitions(3), paid], "finance")
    ledger.append([correction(paid, amount=kr(800))], "finance")
    expected = ledger.views.dump()
    assert any(row[-1] is not None for row in expected["postings"])  # the payout's postings were superseded
    # As a ProjectionRunner's views may: project the journal into the views alone while
    # the journal index holds nothing yet.
    raw_sql(ledger, "DELETE FROM journal_index")
    ledger.views.reset(ledger.name)
    ledger.views.restore_indexes()
    notifications = ledger.recorder.select_notifications(0, 10_000)
    entries = [e for e in (decode_entry(n, ledger.mapper) for n in notifications) if e is not None]
    # The correction in a page of its own: the payout it corrects is found in the tables.
    ledger.views.apply_entries(entries[:-1], Tracking(ledger.name, notifications[-2].id))
    ledger.views.apply_entries(entries[-1:], Tracking(ledger.name, notifications[-1].id))
    assert ledger.views.dump() == expected


def test_a_rebuild_pages_by_its_backends_default_unless_told(loaded_ledger: Ledger, monkeypatch) -> None:
    ledger, pages = loaded_ledger, []
    catch_up = ledger.catch_up
    monkeypatch.setattr(ledger, "catch_up", lambda batch_size, progress=None: pages.append(batch_size)
                        or catch_up(batch_size, progress))
    ledger.rebuild()
    ledger.rebuild(page=7)
    assert pages == [5000 if ledger.config.backend == "postgres" else 20000, 7]
    assert ledger.views.trial_balance("2030-01-01", "2100-01-01T00:00:00Z") == 0


def _setting(transaction: object, statement: str) -> object:
    with transaction as cursor:  # type: ignore[attr-defined]
        cursor.execute(statement)
        row = cursor.fetchone()
        return row[0] if not isinstance(row, dict) else next(iter(row.values()))


def test_the_journal_waits_for_the_disk_and_only_the_read_models_do_not(ledger: Ledger) -> None:
    if ledger.config.backend == "sqlite":
        statement, waits, does_not = "PRAGMA synchronous", 2, 1  # FULL, NORMAL
    else:
        statement, waits, does_not = "SHOW synchronous_commit", "on", "off"
    assert _setting(ledger.recorder.datastore.transaction(commit=True), statement) == waits
    for view in ledger.read_models:
        assert _setting(view.transaction(commit=True), statement) == does_not
    assert _setting(ledger.recorder.datastore.transaction(commit=True), statement) == waits
    keys = key_store_for(ledger)  # keys are created and revoked for good; answers can be re-derived
    assert _setting(keys.transaction(commit=True), statement) == waits
    assert _setting(keys.records.transaction(commit=True), statement) == does_not


def test_only_the_read_models_skip_zeroing_what_they_delete_on_sqlite(ledger: Ledger) -> None:
    """A rebuild empties the read models; zeroing those pages (secure_delete, on in many
    builds) was a seventh of its time. What waits for the disk keeps zeroing."""
    if ledger.config.backend != "sqlite":
        pytest.skip("secure_delete is SQLite's")
    for view in ledger.read_models:
        assert _setting(view.transaction(commit=True), "PRAGMA secure_delete") == 0
    keys = key_store_for(ledger)
    assert _setting(keys.transaction(commit=True), "PRAGMA secure_delete") == 1
    assert _setting(keys.records.transaction(commit=True), "PRAGMA secure_delete") == 0


def test_a_batch_of_the_largest_size_is_recorded(loaded_ledger: Ledger) -> None:
    """A pipelined insert of this many events stalled for good on PostgreSQL; the batch is
    now one statement. Run in a thread, so a stall fails the test instead of hanging it."""
    import threading

    from ledger.application import MAX_BATCH

    events = _requisitions(MAX_BATCH)
    length = loaded_ledger.head()[0]
    outcome: list[object] = []
    worker = threading.Thread(target=lambda: outcome.append(loaded_ledger.append(events, "finance")), daemon=True)
    worker.start()
    worker.join(timeout=300)
    assert not worker.is_alive(), "the append did not finish within 300 s"
    [entries] = outcome
    assert len(entries) == MAX_BATCH  # type: ignore[arg-type]
    assert loaded_ledger.head()[0] == length + MAX_BATCH
    assert loaded_ledger.verify().ok


def test_queries_in_a_reading_block_share_one_cursor_and_only_in_their_thread(loaded_ledger: Ledger) -> None:
    import threading

    from ledger.sql import _open_cursors

    index = loaded_ledger.index
    outside = index.recipient_ids()
    with index.reading():
        cursor = _open_cursors()[id(index)]
        with index.reading():  # nested: the same cursor
            assert _open_cursors()[id(index)] is cursor
            inside = index.recipient_ids()
        seen_elsewhere: list[bool] = []
        thread = threading.Thread(target=lambda: seen_elsewhere.append(id(index) in _open_cursors()))
        thread.start()
        thread.join()
    assert inside == outside
    assert seen_elsewhere == [False]
    assert id(index) not in _open_cursors()


def test_an_append_on_postgres_keeps_its_prepared_statements_and_sends_no_rollback(
        loaded_ledger: Ledger, monkeypatch) -> None:
    """psycopg forgets a connection's prepared statements on every ROLLBACK (DEALLOCATE ALL,
    one more round trip, each statement planned again by the server). The append's checks
    used to end their read transaction that way, once per append. Watched at psycopg's own
    command and execute calls (private names: no public hook shows them)."""
    if loaded_ledger.config.backend != "postgres":
        pytest.skip("PostgreSQL's prepared statements")
    from psycopg import _connection_base, _cursor_base

    sent: list[str] = []
    command, prepared = _connection_base.BaseConnection._exec_command, _cursor_base.BaseCursor._send_query_prepared
    monkeypatch.setattr(_connection_base.BaseConnection, "_exec_command",
                        lambda self, cmd, *a, **k: (sent.append(bytes(cmd).decode()), command(self, cmd, *a, **k))[1])
    monkeypatch.setattr(_cursor_base.BaseCursor, "_send_query_prepared",
                        lambda self, *a, **k: (sent.append("prepared"), prepared(self, *a, **k))[1])
    for _ in range(3 * 5):  # psycopg prepares a statement on its 5th run on a connection
        loaded_ledger.append(_requisitions(1), "finance")
    sent.clear()
    for _ in range(10):
        loaded_ledger.append(_requisitions(1), "finance")
    assert not [c for c in sent if c.startswith(("ROLLBACK", "DEALLOCATE"))]
    assert sent.count("BEGIN") == 10  # the save's transaction of the read models; the checks need none
    # The catch-up's two reads, the check's event-id lookup, the save, the read models'
    # positions, rows and tracking run prepared; the lookups whose plan depends on the data
    # (the terms' position, the registered recipients) are planned afresh each time.
    assert sent.count("prepared") >= 10 * 8


def test_lookups_whose_plan_depends_on_the_data_are_never_prepared_on_postgres(
        loaded_ledger: Ledger, monkeypatch) -> None:
    """A prepared statement keeps the generic plan PostgreSQL made when the tables were
    small: the terms' position was then found by agreement alone and filtered by kind, a
    walk over every event of the agreement on each append (ledger/sql.py, SqlView.query)."""
    if loaded_ledger.config.backend != "postgres":
        pytest.skip("PostgreSQL's prepared statements")
    from psycopg import Cursor

    runs: list[tuple[str, object]] = []
    execute = Cursor.execute
    monkeypatch.setattr(Cursor, "execute", lambda self, query, params=None, **kw: (
        runs.append((str(query), kw.get("prepare"))), execute(self, query, params, **kw))[1])
    for _ in range(8):
        loaded_ledger.append(_requisitions(1), "finance")
    terms = [prepare for query, prepare in runs if "MAX(position)" in query]
    recipients = [prepare for query, prepare in runs if "recipient_registered" in query]
    by_id = [prepare for query, prepare in runs if "WHERE event_id IN" in query]
    assert len(terms) == len(recipients) == len(by_id) == 8
    assert set(terms) == set(recipients) == {False}
    assert set(by_id) == {None}  # a unique key: psycopg prepares it from its fifth run


def test_a_large_batch_written_by_copy_gives_the_rows_that_row_by_row_inserts_give(loaded_ledger: Ledger) -> None:
    """On PostgreSQL 100 rows or more go by COPY (ledger/sql.py); fewer, and on SQLite, by
    INSERT. Text that COPY must escape comes through unchanged (the payload's JSON text
    holds backslashes), and so do empty fields (None)."""
    from ledger.sql import COPY_FROM

    tricky = "back\\slash, 'quote' \"dq\" åäö € \\N"
    events = [requisition(AGREEMENT, PART, REGIONS[i % 3], kr(100 + i), "2020-06-01",
                          reference=f"{tricky} {i}") for i in range(COPY_FROM + 20)]
    loaded_ledger.append(events, "finance")  # one batch: its rows go by COPY on PostgreSQL
    copied = _reads(loaded_ledger)
    assert [e["payload"]["reference"] for e in loaded_ledger.list_events() if "reference" in e["payload"]
            ][-len(events):] == [f"{tricky} {i}" for i in range(len(events))]
    loaded_ledger.rebuild(page=10)  # pages of 10: row by row
    assert _reads(loaded_ledger) == copied


def test_the_journal_recorder_keeps_a_batch_in_order_and_refuses_a_taken_version(ledger: Ledger) -> None:
    """On PostgreSQL a batch goes to the insert function as plain arrays, on SQLite by one
    executemany whose rowids are worked out from the last (ledger/journal_recorder.py): the
    rows, their order, their notification ids and the conflicts stay the library's."""
    import uuid

    from eventsourcing.persistence import IntegrityError, StoredEvent

    from ledger.journal_recorder import PostgresJournalRecorder, SQLiteJournalRecorder

    recorder = ledger.recorder
    expected = PostgresJournalRecorder if ledger.config.backend == "postgres" else SQLiteJournalRecorder
    assert type(recorder) is expected
    recorder.insert_events([StoredEvent(uuid.uuid4(), 1, "before", b"one")])  # the batch does not start at 1
    originator = uuid.uuid4()
    batch = [StoredEvent(originator, version, f"topic-{version}", b"\\x00'\"{state}" + bytes([version % 256, 0]))
             for version in range(1, 301)]  # bytes that need escaping in text, and a NUL
    ids = recorder.insert_events(batch)
    assert ids is not None and len(ids) == 300 and ids == sorted(ids)
    stored = recorder.select_events(originator)
    assert [(s.originator_version, s.topic, s.state) for s in stored] == \
        [(e.originator_version, e.topic, e.state) for e in batch]
    notifications = recorder.select_notifications(ids[0], 300)
    assert [n.id for n in notifications] == ids
    assert [n.originator_version for n in notifications] == list(range(1, 301))
    with pytest.raises(IntegrityError):
        recorder.insert_events([StoredEvent(originator, 301, "t", b"new"), StoredEvent(originator, 7, "t", b"taken")])
    assert len(recorder.select_events(originator)) == 300  # all or nothing


def test_a_large_batch_finds_its_recorded_ids_and_recipients_as_a_small_one_does(loaded_ledger: Ledger) -> None:
    """More than FEW ids go to PostgreSQL as one array joined to the index, fewer as an IN
    list (ledger/index.py, _present): both find exactly the recorded ones."""
    from ledger.index import FEW

    ledger = loaded_ledger
    recorded = ledger.append(_requisitions(3), "finance")
    batch = _requisitions(FEW + 10)
    batch[FEW + 5] = dict(batch[FEW + 5], event_id=recorded[1].event_id)
    with pytest.raises(LedgerValidationError) as refused:
        ledger.append(batch, "finance")
    assert [(e.item, e.field) for e in refused.value.errors] == [(FEW + 5, "event_id")]
    ids = [e["event_id"] for e in batch]
    assert ledger.index.existing_event_ids(ids) == {recorded[1].event_id}
    assert ledger.index.existing_event_ids(ids[:3] + [recorded[0].event_id]) == {recorded[0].event_id}
    assert ledger.index.registered_recipients(list(REGIONS) + [f"region-none-{i}" for i in range(FEW)]) == set(REGIONS)


def test_whether_recipients_are_registered_is_read_from_the_registrations_alone(loaded_ledger: Ledger) -> None:
    """Every append asks whether its recipients are registered. A partial index holds one
    entry per registration, so the answer does not read a region's payouts (PostgreSQL
    combined the kind index with the recipient index, which grows with every event)."""
    ledger = loaded_ledger
    ledger.append(_requisitions(30), "finance")
    assert ledger.index.registered_recipients(["region-skane", "region-none"]) == {"region-skane"}
    statement = ("SELECT recipient_id FROM journal_index WHERE kind = 'recipient_registered'"
                 " AND recipient_id IN ('region-skane')")
    if ledger.config.backend == "sqlite":
        plan = " ".join(str(row) for row in raw_sql(ledger, "EXPLAIN QUERY PLAN " + statement))
    else:  # on tables this small PostgreSQL would rather scan; asked to seek, it takes the partial index
        import psycopg

        from tests.conftest import _postgres_conninfo

        with psycopg.connect(_postgres_conninfo(), autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{ledger.config.env["POSTGRES_SCHEMA"]}"')
            conn.execute("SET enable_seqscan = off")
            plan = " ".join(str(row) for row in conn.execute("EXPLAIN " + statement).fetchall())
    assert "journal_index_registrations" in plan
