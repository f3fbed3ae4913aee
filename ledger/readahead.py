"""Reading the journal's next page while the current one is written (catch-up, rebuild).

On PostgreSQL a page of the journal is the server's work and the wire's; on SQLite the
library's read runs in C with the GIL released. Either way the reading can overlap the
Python that projects the page before it, on the machine's other core.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

Page = list[tuple[int, Any]]  # (notification id, what was read)


class ReadAhead:
    """Pages of a long read, each read in a background thread while the caller works on
    the one before. Pages are asked for by the notification id they follow.

    The first page is read in the caller's thread, and the next one is read ahead only
    after a full page: a catch-up that finds little or nothing to do (every append starts
    with one) starts no thread.
    """

    def __init__(self, read: Callable[[int, int], Page], size: int):
        self.read, self.size = read, size
        self._pool: ThreadPoolExecutor | None = None
        self._next: tuple[int, Future[Page]] | None = None

    def after(self, start: int) -> Page:
        """The page after notification id ``start``."""
        ahead, self._next = self._next, None
        page = ahead[1].result() if ahead is not None and ahead[0] == start else self.read(start, self.size)
        if len(page) == self.size:  # a full page: more is likely to follow
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="journal-read-ahead")
            following = page[-1][0]
            self._next = (following, self._pool.submit(self.read, following, self.size))
        return page

    def __enter__(self) -> ReadAhead:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
