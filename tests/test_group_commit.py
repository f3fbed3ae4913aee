"""Group commit: appends that wait for the journal together are recorded as one batch,
and each caller still gets exactly its own answer.

Each test holds the first append inside the journal (its clock waits on a gate) while
others queue behind it, so which requests share a group is decided, not timed.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from ledger.admission import LedgerValidationError
from ledger.application import Ledger
from ledger.config import database_config
from ledger.grouping import AppendQueue, AppendRequest
from tests.scenarios.builders import kr, payout, requisition

AGREEMENT, PART = "god-och-nara-vard-2020", "nara-vard"


class GatedClock:
    """Each call is one second after the last; the first call waits until ``open()``.

    It starts after the real "now" at which the loaded_ledger fixture records the
    catalogue: recorded times never go back along the journal, so an earlier clock would
    be overruled by the catalogue's time."""

    def __init__(self) -> None:
        self.start = dt.datetime.now(tz=dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=1)
        self.gate = threading.Event()
        self.calls = 0
        self.entered = threading.Event()

    def __call__(self) -> dt.datetime:
        self.calls += 1
        if self.calls == 1:
            self.entered.set()
            assert self.gate.wait(60), "the gate was never opened"
        return self.start + dt.timedelta(seconds=self.calls)


@pytest.fixture
def gated(loaded_ledger: Ledger) -> Any:
    clock = GatedClock()
    ledger = Ledger(database_config(loaded_ledger.config.url), clock=clock)
    yield ledger, clock
    ledger.close()


def _start(ledger: Ledger, events: list[dict], principal: str, results: dict[str, Any], name: str) -> threading.Thread:
    def run() -> None:
        try:
            results[name] = ledger.append(events, principal)
        except Exception as error:  # noqa: BLE001 - the test reads it
            results[name] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def _queue_behind_the_first(ledger: Ledger, clock: GatedClock,
                            requests: list[tuple[str, list[dict], str]]) -> dict[str, Any]:
    """Start "first", hold it in the journal, queue the others in order, then let all through."""
    results: dict[str, Any] = {}
    threads = [_start(ledger, [requisition(AGREEMENT, PART, "region-skane", kr(1), "2020-06-01")], "finance-0",
                      results, "first")]
    assert clock.entered.wait(60)
    for count, (name, events, principal) in enumerate(requests, start=1):
        threads.append(_start(ledger, events, principal, results, name))
        _wait_until(lambda: len(ledger._appends._waiting) == count)
    clock.gate.set()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive()
    return results


def _wait_until(condition: Callable[[], bool], what: str = "the condition") -> None:
    deadline = time.monotonic() + 30
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def test_appends_waiting_together_are_recorded_as_one_group_in_arrival_order(gated: Any) -> None:
    ledger, clock = gated
    requests = [(f"r{i}", [requisition(AGREEMENT, PART, "region-gotland", kr(100 + i * 10 + j), "2020-06-02")
                           for j in range(i + 1)], f"finance-{i}") for i in range(1, 4)]
    results = _queue_behind_the_first(ledger, clock, requests)

    first = results["first"]
    assert len(first) == 1
    grouped = [entry for name, _events, _p in requests for entry in results[name]]
    # one clock reading for the group: its events share their recorded time, after the first's
    assert {e.recorded_at for e in grouped} == {grouped[0].recorded_at} != {first[0].recorded_at}
    assert clock.calls == 2
    assert [e.position for e in grouped] == list(range(first[0].position + 1, first[0].position + 1 + len(grouped)))
    for name, events, principal in requests:
        entries = results[name]
        assert [e.event_id for e in entries] == [ev["event_id"] for ev in events]
        assert {e.recorded_by for e in entries} == {principal}
        assert [e.payload["amount"] for e in entries] == [ev["amount"] for ev in events]
    assert ledger.verify().ok
    assert ledger.views.trial_balance("2030-01-01", "2100-01-01T00:00:00Z") == 0
    assert len(ledger.list_events()) == ledger.head()[0]


def test_a_refused_request_in_a_group_fails_alone_and_the_others_are_recorded(gated: Any) -> None:
    ledger, clock = gated
    good = requisition(AGREEMENT, PART, "region-uppsala", kr(5000), "2020-06-03")
    bad = payout(AGREEMENT, PART, "region-uppsala", kr(10), "2020-06-03",
                 requisition_event_id="00000000-0000-4000-8000-000000000001")
    # names the good request's requisition: it may, as it comes after it
    after = payout(AGREEMENT, PART, "region-uppsala", kr(5000), "2020-06-04", requisition_event_id=good["event_id"])
    results = _queue_behind_the_first(ledger, clock, [("good", [good], "finance-a"),
                                                      ("bad", [requisition(AGREEMENT, PART, "region-uppsala",
                                                                           kr(7), "2020-06-03"), bad], "finance-b"),
                                                      ("after", [after], "finance-c")])

    refused = results["bad"]
    assert isinstance(refused, LedgerValidationError)
    assert [(e.item, e.field) for e in refused.errors] == [(1, "requisition_event_id")]  # its own numbering
    assert [e.event_id for e in results["good"]] == [good["event_id"]]
    assert [e.event_id for e in results["after"]] == [after["event_id"]]
    assert results["after"][0].position == results["good"][0].position + 1  # nothing of "bad" between
    recorded = {e["event_id"] for e in ledger.list_events()}
    assert good["event_id"] in recorded and after["event_id"] in recorded and bad["event_id"] not in recorded
    assert ledger.verify().ok


def test_a_request_that_repeats_an_earlier_one_of_its_group_is_refused_as_already_recorded(gated: Any) -> None:
    ledger, clock = gated
    event = requisition(AGREEMENT, PART, "region-skane", kr(42), "2020-06-05")
    results = _queue_behind_the_first(ledger, clock, [("once", [event], "finance-a"), ("twice", [event], "finance-a")])

    assert [e.event_id for e in results["once"]] == [event["event_id"]]
    refused = results["twice"]
    assert isinstance(refused, LedgerValidationError)
    assert [(e.item, e.field) for e in refused.errors] == [(0, "event_id")]
    assert sum(e["event_id"] == event["event_id"] for e in ledger.list_events()) == 1


def test_a_failure_while_recording_a_group_reaches_every_caller_in_it() -> None:
    recorded: list[list[str]] = []

    def record(group: list[AppendRequest]) -> None:
        recorded.append([r.principal for r in group])
        if len(group) > 1:
            raise RuntimeError("the database went away")
        group[0].entries = ["ok"]

    queue = AppendQueue(record, limit=10)
    gate, entered = threading.Event(), threading.Event()
    slow = AppendRequest(["e"], "first")
    original = queue._record

    def first_waits(group: list[AppendRequest]) -> None:
        if group[0] is slow:
            entered.set()
            gate.wait(30)
        original(group)

    queue._record = first_waits  # type: ignore[method-assign]
    answers: dict[str, Any] = {}

    def submit(request: AppendRequest) -> None:
        try:
            answers[request.principal] = queue.submit(request)
        except RuntimeError as error:
            answers[request.principal] = error

    threads = [threading.Thread(target=submit, args=(slow,))]
    threads[0].start()
    assert entered.wait(30)
    for name in ("a", "b"):
        threads.append(threading.Thread(target=submit, args=(AppendRequest(["e"], name),)))
        threads[-1].start()
        _wait_until(lambda n=len(threads) - 1: len(queue._waiting) == n)
    gate.set()
    for thread in threads:
        thread.join(30)
    assert answers["first"] == ["ok"]
    assert isinstance(answers["a"], RuntimeError) and answers["a"] is answers["b"]
    assert recorded == [["first"], ["a", "b"]]


def test_a_group_holds_at_most_the_batch_limit_of_events() -> None:
    groups: list[list[int]] = []

    def record(group: list[AppendRequest]) -> None:
        groups.append([len(r.events) for r in group])
        for request in group:
            request.entries = list(request.events)

    queue = AppendQueue(record, limit=5)
    for size in (3, 2, 4, 1, 6):
        queue._waiting.append(AppendRequest(["e"] * size, "p"))
    last = AppendRequest(["e"], "p")
    assert queue.submit(last) == ["e"]
    assert groups == [[3, 2], [4, 1], [6], [1]]


def test_a_recorded_group_wakes_its_own_callers_and_the_next_recorder_not_every_waiting_thread(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Eight callers queue behind a slow first one, and each group holds one request. Woken
    all at once after every group, they would wake 8 + 7 + ... + 1 = 36 times; each may wake
    at most twice (to record, and should another thread take that turn first, when done)."""
    wakeups = []

    class Counted(threading.Condition):
        def wait(self, timeout: float | None = None) -> bool:
            woke = super().wait(timeout)
            wakeups.append(threading.get_ident())
            return woke

    import types

    import ledger.grouping

    # Only the queue's own conditions are counted (threading's Events use Conditions too).
    monkeypatch.setattr(ledger.grouping, "threading", types.SimpleNamespace(Condition=Counted, Lock=threading.Lock))
    gate, entered = threading.Event(), threading.Event()

    def record(group: list[AppendRequest]) -> None:
        if group[0].principal == "first":
            entered.set()
            gate.wait(30)
        time.sleep(0.005)  # like a commit: the other threads run meanwhile
        for request in group:
            request.entries = [request.principal]

    queue = AppendQueue(record, limit=1)
    answers: dict[str, Any] = {}

    def submit(name: str) -> None:
        answers[name] = queue.submit(AppendRequest(["e"], name))

    threads = [threading.Thread(target=submit, args=("first",))]
    threads[0].start()
    assert entered.wait(30)
    for n in range(8):
        threads.append(threading.Thread(target=submit, args=(f"caller-{n}",)))
        threads[-1].start()
        _wait_until(lambda n=n: len(queue._waiting) == n + 1, f"caller-{n} to queue")
    gate.set()
    for thread in threads:
        thread.join(30)
        assert not thread.is_alive()
    assert answers == {name: [name] for name in ["first", *(f"caller-{n}" for n in range(8))]}
    assert len(wakeups) <= 16, len(wakeups)
