"""Copying SQLite's write-ahead log into the database file off the request path.

In WAL mode SQLite copies the log back into the database file (a checkpoint) once the log
holds 1 000 pages, and does it inside whichever commit crossed the line: that commit then
writes and syncs the database file before it returns. At 100 appends a second this made
one append in a hundred or so take 40-160 ms instead of 3 (docs/benchmarks.md). So a
ledger on SQLite copies the log itself, in a thread of its own, a little after each of
its commits: the log stays well under SQLite's line and no append waits for the copy.

The copy is SQLite's PASSIVE checkpoint: it never blocks a reader or a writer, and copies
what no open read still needs. The read models' connections never copy the log themselves
(``ledger/sql.py``), so a rebuild's large pages don't wait for the copy either: it runs on
the other core. The journal's connections keep SQLite's own checkpoint as a safety net.
Nothing is lost if the thread stops: the log is part of the database, and the next
checkpoint or open copies it.
"""

from __future__ import annotations

import sqlite3
import threading

#: Seconds between two copies: at 100 appends a second about 120 pages, well under 1 000.
INTERVAL_S = 0.2


class WalCheckpointer:
    """Checkpoints one SQLite file in a background thread, when told there were writes."""

    def __init__(self, path: str, interval_s: float = INTERVAL_S):
        self.path, self.interval_s = path, interval_s
        self._written = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.checkpoints = 0  # copies made, for tests and curiosity

    def written(self) -> None:
        """Something was committed: copy the log soon (the thread starts on first use)."""
        if self._thread is None:
            with self._lock:
                if self._thread is None and not self._stopped.is_set():
                    self._thread = threading.Thread(target=self._run, name="wal-checkpoint", daemon=True)
                    self._thread.start()
        self._written.set()

    def stop(self) -> None:
        """Let the thread end (it closes its connection); returns at once."""
        self._stopped.set()
        self._written.set()

    def close(self) -> None:
        """Stop and wait for the thread to end."""
        self.stop()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=5)

    def _run(self) -> None:
        try:
            connection = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=5)
        except sqlite3.Error:
            return  # the file is gone: nothing to copy
        try:
            while not self._stopped.is_set():
                self._written.wait()
                self._written.clear()
                if self._stopped.is_set():
                    break
                try:
                    connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
                    self.checkpoints += 1
                except sqlite3.Error:
                    pass  # busy or gone: SQLite's own checkpoint still runs
                self._stopped.wait(self.interval_s)  # at most one copy per interval
        finally:
            connection.close()
