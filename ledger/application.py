"""The ledger application: the only way in for commands.

``append`` validates a batch of events against their schemas and against the journal,
stamps each with the recorded time and principal, and records the batch atomically in
the hash-chained journal. ``verify`` recomputes the chain. Reads go to the journal index.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, nullcontext, suppress
from dataclasses import dataclass
from typing import Any

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.persistence import IntegrityError, InterfaceError, JSONTranscoder, OperationalError, Tracking
from eventsourcing.postgres import PostgresFactory

from ledger import catalogue, chain
from ledger.admission import (
    FieldError,
    LedgerValidationError,
    check_references,
    duplicate_registration,
    named_recipients,
    parse_events,
)
from ledger.calendar import STOCKHOLM
from ledger.config import DatabaseConfig, database_config
from ledger.events import EventBase
from ledger.grouping import AppendQueue, AppendRequest, Receipt
from ledger.sql import sqlite_write_lock
from ledger.index import EventFilter, JournalIndex, PostgresJournalIndex, SQLiteJournalIndex
from ledger.terms import Agreement
from projections.views import LedgerViews, PostgresLedgerViews, SQLiteLedgerViews
from ledger.timeparams import format_recorded
from ledger.journal import GENESIS_HASH, JOURNAL_ID, Entry, Journal
from ledger.readahead import ReadAhead
from ledger.stored import JournalTranscoder, decode_entry
from ledger.walcheckpoint import WalCheckpointer

MAX_BATCH = 10_000
APPEND_ATTEMPTS = 20
#: A snapshot of the journal (length, head hash, last recorded time) every this many entries, so a process
#: that starts cold replays at most this many entries to load it.
SNAPSHOT_EVERY = 500
#: Up to this many entries, the read models' rows go to PostgreSQL in a pipeline (few round
#: trips); more go by COPY (ledger/sql.py, SqlView.transaction and insert_rows).
PIPELINE_UP_TO = 32
#: Journal records per transaction of a rebuild (see Ledger.rebuild).
REBUILD_PAGE_SQLITE, REBUILD_PAGE_POSTGRES = 20_000, 5_000


@dataclass(frozen=True)
class VerifyProblem:
    position: int
    reason: str


@dataclass(frozen=True)
class VerifyResult:
    length: int
    head_hash: str
    problem: VerifyProblem | None

    @property
    def ok(self) -> bool:
        return self.problem is None


class JournalBusy(RuntimeError):
    """Too many concurrent writers won the race for the next position; nothing was recorded."""


def _spans(requests: Sequence[AppendRequest]) -> Iterator[tuple[int, int]]:
    """Where each request's entries lie in its group's batch (start, stop)."""
    start = 0
    for request in requests:
        yield start, start + len(request.events)
        start += len(request.events)


class _ViewsMoved(IntegrityError):
    """The read models do not stand where this process last left them: a conflict, like
    another writer's tracking row, so whatever handles one handles the other."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(tz=dt.timezone.utc)


class Ledger(Application[Any]):
    """Huvudboken: records grant events and answers what was recorded."""

    name = "ledger"
    # Snapshots are taken from the journal in memory after each append (see _keep): the
    # library's own interval snapshots would replay up to 500 entries from the store each time.
    is_snapshotting_enabled = True

    def __init__(self, config: DatabaseConfig | None = None, clock: Callable[[], dt.datetime] = utc_now):
        self.config = config or database_config()
        super().__init__(env=dict(self.config.env))
        postgres = isinstance(self.factory, PostgresFactory)
        # On SQLite the read models get connections of their own, whose commits don't wait
        # for the disk (ledger/sql.py); the journal's connections keep waiting.
        self.read_factory = self.factory if postgres else type(self.factory)(self.factory.env)
        self.index: JournalIndex = self.read_factory.tracking_recorder(  # type: ignore[assignment]
            PostgresJournalIndex if postgres else SQLiteJournalIndex  # type: ignore[arg-type]
        )
        self.views: LedgerViews = self.read_factory.tracking_recorder(  # type: ignore[assignment]
            PostgresLedgerViews if postgres else SQLiteLedgerViews  # type: ignore[arg-type]
        )
        #: The read models an append or a catch-up writes (ProjectionRunner, projections/runner.py,
        #: drives the same ones through their eventsourcing Projection classes).
        self.read_models: list[JournalIndex | LedgerViews] = [self.index, self.views]
        self.clock = clock
        #: Concurrent appends wait here; whoever holds the journal records them as one group.
        self._appends = AppendQueue(self._record_group, MAX_BATCH)
        self._catch_up_lock = threading.RLock()
        self._reached = 0  # the notification id the read models stood at after the last catch-up
        #: The journal this process saved last, and the notification id of its last entry
        #: (see _current_journal).
        self._kept: Journal | None = None
        self._kept_at = 0
        #: On SQLite: the log is copied into the file off the request path (ledger/walcheckpoint.py),
        #: and the journal's writes queue with the read models' (ledger/sql.py, sqlite_write_lock).
        self._wal: WalCheckpointer | None = None
        self._write_lock: AbstractContextManager[Any] = nullcontext()
        if not postgres:
            path = self.config.env["SQLITE_DBNAME"]
            self._wal, self._write_lock = WalCheckpointer(path), sqlite_write_lock(path)
            weakref.finalize(self, self._wal.stop)  # a ledger dropped without close() leaves no thread behind
        if self.views.dropped_outdated:
            self.rebuild(models=[self.views])  # an upgrade: see LedgerViews._drop_outdated_tables

    def construct_transcoder(self) -> Any:
        """The library's JSON transcoder, or ours (ledger/stored.py) that writes journal
        entries with orjson; a transcoder configured by topic is left as it is."""
        transcoder = self.factory.transcoder()
        if type(transcoder) is JSONTranscoder:
            transcoder = JournalTranscoder()
        if isinstance(transcoder, JSONTranscoder):
            self.register_transcodings(transcoder)
        return transcoder

    def close(self) -> None:
        if self._wal is not None:
            self._wal.close()
        if self.read_factory is not self.factory:
            self.read_factory.close()
        super().close()

    # --- commands ----------------------------------------------------------------

    def append(self, raw_events: Sequence[Any], principal: str, receipt: Receipt | None = None) -> list[Entry]:
        """Record a batch of events, all or nothing. Raises LedgerValidationError.

        ``receipt`` is kept in the same transaction as the read models' rows for these
        entries, when it can be (ledger/grouping.py, Receipt)."""
        if not raw_events:
            raise LedgerValidationError([FieldError(0, "events", "the batch is empty")])
        if len(raw_events) > MAX_BATCH:
            raise LedgerValidationError([FieldError(0, "events", f"a batch holds at most {MAX_BATCH} events")])
        if not principal:
            raise LedgerValidationError([FieldError(0, "principal", "who records the events must be known")])
        events, errors = parse_events(raw_events)
        if errors:
            raise LedgerValidationError(errors)
        parsed = [e for e in events if e is not None]
        return self._appends.submit(AppendRequest(parsed, principal, receipt))

    def _record_group(self, group: list[AppendRequest]) -> None:
        """Record the waiting requests (ledger/grouping.py) as one batch; if the journal
        refuses any event, record each request on its own, so each gets its own answer.
        Checking the group as one batch is checking each request after the ones before
        it: the checks read the journal and the batch's earlier events alike."""
        if len(group) > 1:
            try:
                self._record_events(group)
            except LedgerValidationError:
                pass  # someone's events are refused: find whose
            else:
                return
        for request in group:
            try:
                self._record_events([request])
            except Exception as error:  # noqa: BLE001 - the caller's answer
                request.error = error

    def _record_events(self, requests: list[AppendRequest]) -> None:
        """Check and record the requests' events as one batch, all or nothing; give each
        request its own entries and keep its receipt with the read models' rows."""
        events = [(event, r.principal) for r in requests for event in r.events]
        parsed = [event for event, _principal in events]
        # The catch-up lock too: the read models stay where this append found them until
        # its own entries are projected straight into them.
        with self._catch_up_lock:
            for _attempt in range(APPEND_ATTEMPTS):
                journal = self._current_journal()
                now = self.clock()
                self.check(parsed, now)
                try:
                    recorded = format_recorded(now)  # once for the batch: it is the same instant
                    entries = [self._stamp(journal, event, recorded, principal) for event, principal in events]
                    with self._write_lock:
                        recordings = self.save(journal)
                except IntegrityError:
                    self._forget_journal()
                    continue  # another writer took the position: reload and check again
                except BaseException:
                    self._forget_journal()  # stamped but not saved: no longer the head
                    raise
                before = journal.version - len(entries)
                self._kept, self._kept_at = journal, recordings[-1].notification.id
                self._copy_log_soon()
                for request, (start, stop) in zip(requests, _spans(requests)):
                    request.entries = entries[start:stop]
                try:
                    with self._write_lock:  # a snapshot may be written
                        self._keep(journal, before)
                    receipts = [(r.receipt, r.entries) for r in requests if r.receipt is not None]
                    self._project_recorded(entries, recordings, receipts)
                except (OperationalError, InterfaceError, IntegrityError):
                    pass  # recorded: the read models catch up on the next read or append
                return
        raise JournalBusy("the journal is too busy: could not append after repeated conflicts; retry")

    def record_missing(self, events: Sequence[EventBase], principal: str) -> list[Entry]:
        """Append the events whose ids are not yet recorded: loading twice changes nothing."""
        self.catch_up()
        taken = self.index.existing_event_ids(str(e.event_id) for e in events)
        missing = [e for e in events if str(e.event_id) not in taken]
        return self.append(missing, principal) if missing else []

    def load_agreements(self, names: list[str] | None = None) -> list[Entry]:
        """Append the catalogue's agreements (and the recipients they need)."""
        return self.record_missing(catalogue.load_events(catalogue.select(names)), catalogue.LOADER_PRINCIPAL)

    def check(self, events: list[EventBase], now: dt.datetime | None = None) -> None:
        """Raise LedgerValidationError for every event the journal would refuse (append checks
        each batch the same way); ``events`` are already parsed. Records nothing."""
        now = now or self.clock()
        today = now.astimezone(STOCKHOLM).date()
        with self.index.reading():  # all the checks' queries on one connection
            recipients = self.index.registered_recipients(named_recipients(events))
            errors = check_references(events, self.index, today, recipients)
            errors += duplicate_registration(events, recipients)
        if errors:
            raise LedgerValidationError(sorted(errors, key=lambda e: e.item))

    @staticmethod
    def _stamp(journal: Journal, event: EventBase, recorded: str, principal: str) -> Entry:
        payload = event.model_dump(mode="json")
        recorded_at = journal.recorded_time(recorded)
        return journal.record(payload["event_id"], payload["kind"], recorded_at, principal, payload)

    def _keep(self, journal: Journal, version_before: int) -> None:
        """Keep the journal just saved as the cached one (the next append then reads only
        what other writers recorded since), and snapshot it when it passed a multiple of
        SNAPSHOT_EVERY. Both are shortcuts: the stored entries are the truth."""
        if self.repository.cache is not None:
            self.repository.cache.put(journal.id, journal)
        if self.snapshots is not None and journal.version // SNAPSHOT_EVERY > version_before // SNAPSHOT_EVERY:
            self.snapshots.put([Journal.Snapshot.take(journal)])

    def _project_recorded(self, entries: list[Entry], recordings: Sequence[Any],
                          receipts: Sequence[tuple[Receipt, list[Entry]]] = ()) -> None:
        """Bring the read models up to the entries just recorded without reading them back.

        Only when the views stand right before them: the catch-up just before the save
        brought them to ``_reached`` and nothing was recorded between. ``_write_views``
        checks that against the stored positions (a crash may have undone that catch-up);
        in every other case the ordinary catch-up reads the journal.
        """
        first, last = recordings[0].notification.id, recordings[-1].notification.id
        if first != self._reached + 1:  # PostgreSQL's ids may skip: look for what lies between
            following = self.recorder.select_notifications(self._reached, 1, inclusive_of_start=False)
            if not following or following[0].id != first:
                self.catch_up()
                return
        since = {view.tracking_name(self.name): self._reached for view in self.read_models}
        try:
            self._write_views([(view, entries) for view in self.read_models], Tracking(self.name, last), since,
                              receipts)
        except _ViewsMoved:
            self.catch_up()
            return
        self._reached = last

    def _current_journal(self) -> Journal:
        """The journal at its head, with the read models brought at least as far (the
        checks read them, so they must know every entry the new ones follow).

        When the catch-up found nothing recorded after this process's last save, the
        journal kept from that save is the head: no query and no copy (the library's
        cache would read the entries after it and deep-copy it). Otherwise the library's
        repository loads it, and the read models catch up again after that. Either way
        the database's unique position key refuses a save on a journal someone passed.
        """
        seen = self.catch_up()
        if self._kept is not None and seen == 0 and self._reached == self._kept_at:
            return self._kept
        self._kept = None  # saved, so still the cached one: the library brings it forward
        journal = self._journal()
        self.catch_up()
        return journal

    def _forget_journal(self) -> None:
        """Drop the kept journal (it is also the library's cached one): it may hold
        entries that were stamped but not saved."""
        if self._kept is not None and self.repository.cache is not None:
            with suppress(KeyError):
                self.repository.cache.get(JOURNAL_ID, evict=True)
        self._kept = None

    def _journal(self) -> Journal:
        try:
            journal = self.repository.get(JOURNAL_ID)
        except AggregateNotFoundError:
            return Journal()
        assert isinstance(journal, Journal)
        return journal

    # --- projections -----------------------------------------------------------

    def catch_up(self, batch_size: int = 1000, progress: Callable[[int], None] | None = None) -> int:
        """Bring every read model up to the journal's head; returns how many notifications it read.

        Each view records its tracking position in the same transaction as its rows, so
        a crash mid-way resumes where the view stopped, never applying an entry twice.
        """
        with self._catch_up_lock:
            for _attempt in range(5):
                try:
                    return self._catch_up(batch_size, progress)
                except IntegrityError:
                    continue  # another process indexed the same entries first: start again from its position
            return self._catch_up(batch_size, progress)

    def _catch_up(self, batch_size: int, progress: Callable[[int], None] | None) -> int:
        models = [(view.tracking_name(self.name), view) for view in self.read_models]
        positions = self.index.positions([name for name, _ in models])  # one query, by tracking name
        start, seen = min(positions.values()), 0
        with ReadAhead(self._read_page, batch_size) as pages:
            while True:
                self._reached = start
                decoded = pages.after(start)
                if not decoded:
                    return seen
                last = decoded[-1][0]
                behind = [(name, view) for name, view in models if last > positions[name]]
                pending = [(view, [e for nid, e in decoded if nid > positions[name] and e is not None])
                           for name, view in behind]
                self._write_views(pending, Tracking(self.name, last),
                                  {name: positions[name] for name, _ in behind})
                positions.update((name, last) for name, _ in behind)
                start = last
                seen += len(decoded)
                if progress:
                    progress(len(decoded))

    def _read_page(self, start: int, size: int) -> list[tuple[int, Entry | None]]:
        notifications = self.recorder.select_notifications(start, size, inclusive_of_start=False)
        return [(n.id, decode_entry(n, self.mapper)) for n in notifications]

    def _write_views(self, pending: list[tuple[Any, list[Entry]]], tracking: Tracking,
                     since: dict[str, int], receipts: Sequence[tuple[Receipt, list[Entry]]] = ()) -> None:
        """Write each read model's entries and its tracking position in one transaction (they
        share the read factory's database), so a page costs one commit, not one per model.

        ``since`` says where each model (by tracking name) stood when its entries were
        chosen. If one stands elsewhere now, writing would leave a gap or a repeat: roll
        back and raise _ViewsMoved. A PostgreSQL crash can lose the models' last commits
        (they don't wait for the disk, ledger/sql.py) while this process lives on; another
        process may also have moved them.
        """
        few = sum(len(entries) for _view, entries in pending) <= PIPELINE_UP_TO
        with self.index.transaction(commit=True, pipelined=few) as cursor:
            if self.index.positions(list(since), cursor) != since:
                raise _ViewsMoved
            for view, entries in pending:
                view.write(cursor, entries, tracking)
            kept = [(receipt, receipt.keep(cursor, entries)) for receipt, entries in receipts]
        for receipt, inserted in kept:
            receipt.kept = inserted  # committed
        self._copy_log_soon()

    def _copy_log_soon(self) -> None:
        """SQLite: something was committed; the background thread copies the log into the file."""
        if self._wal is not None:
            self._wal.written()

    def rebuild(self, progress: Callable[[int], None] | None = None, page: int | None = None,
                models: Sequence[JournalIndex | LedgerViews] = ()) -> int:
        """Empty every read model (or the ones named) and rebuild it from the journal.

        A page is one transaction. On SQLite every commit writes each page of the indexes
        on random event ids that it touched, and a page of 5 000 records touches nearly all
        of them at 1 000 000 entries: pages of 20 000 wrote 16 GB instead of 31 GB and ran
        13 % faster (298 MB peak). On PostgreSQL larger pages gained nothing and cost
        memory (225 MB instead of 98 at 100 000 entries)."""
        models = models or self.read_models
        for view in models:
            view.reset(self.name)
        page = page or (REBUILD_PAGE_POSTGRES if self.config.backend == "postgres" else REBUILD_PAGE_SQLITE)
        seen = self.catch_up(batch_size=page, progress=progress)
        for view in models:
            view.restore_indexes()
        return seen

    # --- reads ---------------------------------------------------------------------

    def notifications_behind(self) -> dict[str, int]:
        """How far each read model (by view name) is behind the journal. Counted in
        notifications: their ids may skip numbers on PostgreSQL (a writer that lost a race
        used one), so the journal's length is not the measure."""
        head = self.recorder.max_notification_id() or 0
        names = {view.tracking_name(self.name): view.view_name for view in self.read_models}
        positions = self.index.positions(list(names))  # one query: the models share a tracking table
        return {view_name: head - positions[name] for name, view_name in names.items()}

    def entries(self, batch_size: int = 1000) -> Iterator[tuple[int, Any]]:
        """Every stored journal record in version order: (originator_version, stored event)."""
        after = 1  # version 1 is the journal's "Opened" event
        while True:
            stored = self.recorder.select_events(JOURNAL_ID, gt=after, limit=batch_size)
            if not stored:
                return
            for record in stored:
                yield record.originator_version, record
            after = stored[-1].originator_version

    def list_events(self, flt: EventFilter | None = None) -> list[dict[str, Any]]:
        return self.index.events(flt or EventFilter())

    def agreement(self, agreement_id: str) -> Agreement | None:
        """The agreement's terms in force (as last decided or amended)."""
        payload = self.index.agreement(agreement_id)
        return Agreement.model_validate(payload) if payload else None

    def agreements(self) -> list[Agreement]:
        return [a for a in (self.agreement(i) for i in self.index.agreement_ids()) if a is not None]

    def head(self) -> tuple[int, str]:
        position, digest = self.index.head()
        return position, digest or GENESIS_HASH

    # --- verification --------------------------------------------------------------

    #: Journals at least this long are checked by worker processes on every core (ledger/chain.py).
    verify_parallel_from = chain.PARALLEL_FROM

    def verify(self, progress: Callable[[int], None] | None = None) -> VerifyResult:
        """Recompute the hash chain over every stored entry, in journal order.

        ``progress`` is called with the number of entries checked since its last call."""
        journal = chain.JournalRows.of(self.recorder)
        if chain.can_split(self) and journal.last_version() - 1 >= self.verify_parallel_from:
            walk = chain.verify_split(self, journal, progress)
        else:
            walk = chain.walk(journal, 1, GENESIS_HASH, self.mapper, progress)
        if walk.problem:
            return VerifyResult(walk.expected - 1, walk.prev_hash, VerifyProblem(*walk.problem))
        return self._verify_tail(walk.expected - 1, walk.prev_hash)

    def _verify_tail(self, length: int, head_hash: str) -> VerifyResult:
        """The index keeps its own copy of the head: a shorter journal lost entries at the end."""
        indexed_length, indexed_hash = self.index.head()
        if indexed_length > length:
            reason = f"journal ends at {length} but {indexed_length} entries were recorded: entries removed at the end"
            return VerifyResult(length, head_hash, VerifyProblem(length + 1, reason))
        if indexed_length == length and indexed_hash not in (None, head_hash):
            return VerifyResult(length, head_hash, VerifyProblem(length, "head hash differs from the one recorded"))
        return VerifyResult(length, head_hash, None)
