"""Group commit (gruppvis bokföring): appends that arrive together share one journal transaction.

A single append pays a fixed price whatever its size: reading what other writers
recorded, the checks' queries, the journal's commit (which waits for the disk) and the
read models' commit. When several requests wait for the journal at once, the thread that
gets it records every waiting request in one batch, in the order they arrived, and hands
each its own entries. Under load the price is paid once per group, not once per request,
so throughput grows with concurrency instead of queueing; a lone request is recorded
exactly as before.

Each request keeps its own all-or-nothing answer: the recorder is given the whole group
and decides (ledger/application.py records the group as one batch and, if any event is
refused, each request on its own, so a bad request never fails a good one).
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol


class Receipt(Protocol):
    """Something a caller keeps beside its entries, in the read models' transaction: the
    API's idempotency record (the answer a retry gets, api/keys.py). Keeping it there
    saves the request a transaction of its own, and lets nobody else's write come between.
    If the ledger cannot keep it there (the read models fell behind), ``kept`` stays False
    and the caller keeps it itself."""

    #: Set by the ledger once the transaction that wrote it has committed.
    kept: bool

    def keep(self, cursor: Any, entries: list[Any]) -> bool:
        """Write it with ``cursor``; False if one is already kept under the same key
        (never raise for that: it would roll back the read models' rows)."""


@dataclass(eq=False)
class AppendRequest:
    """One caller's batch, waiting for the journal."""

    events: list[Any]
    principal: str
    receipt: Receipt | None = None
    entries: list[Any] = field(default_factory=list)
    error: BaseException | None = None
    done: bool = False
    wake: threading.Condition | None = None  # set by the queue: notified when done, or to record next

    def answer(self) -> list[Any]:
        if self.error is not None:
            raise self.error
        return self.entries


class AppendQueue:
    """Requests in arrival order; one thread at a time records the waiting ones.

    ``record(group)`` must set ``entries`` or ``error`` on every request of the group;
    the queue marks them done. A group holds at most ``limit`` events (a larger request
    goes alone). A caller whose request another thread recorded returns at once: it never
    waits for the journal itself.
    """

    def __init__(self, record: Callable[[list[AppendRequest]], None], limit: int):
        self._record, self._limit = record, limit
        self._waiting: deque[AppendRequest] = deque()
        # One lock; each waiting caller has its own condition on it, so a recorded group
        # wakes its own callers and the next recorder only. Woken all at once, every
        # waiting caller would take the lock (and the GIL) after every group just to go
        # back to sleep: with 16 API clients that took ~6 % of the server's throughput.
        self._lock = threading.Lock()
        self._recording = False  # a thread is recording a group

    def submit(self, request: AppendRequest) -> list[Any]:
        with self._lock:
            request.wake = wake = threading.Condition(self._lock)
            self._waiting.append(request)
            while self._recording and not request.done:
                wake.wait()
            if request.done:
                return request.answer()
            self._recording = True
        try:
            # This request is still in the queue, behind at most those that came before
            # it: each turn records the oldest, so this ends with its own.
            while not request.done:
                self._record_group(self._take())
        finally:
            with self._lock:
                self._recording = False
                if self._waiting:  # the oldest waiting caller records next
                    _wake(self._waiting[0])
        return request.answer()

    def _take(self) -> list[AppendRequest]:
        with self._lock:
            group = [self._waiting.popleft()]
            size = len(group[0].events)
            while self._waiting and size + len(self._waiting[0].events) <= self._limit:
                size += len(self._waiting[0].events)
                group.append(self._waiting.popleft())
        return group

    def _record_group(self, group: list[AppendRequest]) -> None:
        try:
            self._record(group)
        except BaseException as error:  # noqa: BLE001 - every waiting caller must get an answer
            # Not raised here: the thread recording may be another caller, whose own
            # request still waits in the queue.
            for request in group:
                if request.error is None and not request.entries:
                    request.error = error
        finally:
            with self._lock:
                for request in group:
                    request.done = True
                    _wake(request)


def _wake(request: AppendRequest) -> None:
    """Wake the caller waiting for ``request``; call with the queue's lock held."""
    if request.wake is not None:
        request.wake.notify()
