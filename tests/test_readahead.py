"""ReadAhead: the pages a catch-up reads, in order, the next one read in a background thread."""

from __future__ import annotations

import threading

import pytest

from ledger.readahead import ReadAhead

JOURNAL = [(n, f"entry {n}") for n in range(1, 24)]  # notification ids 1..23


def reader(log: list[tuple[int, str]]):
    def read(start: int, size: int) -> list[tuple[int, str]]:
        log.append((start, threading.current_thread().name))
        return [row for row in JOURNAL if row[0] > start][:size]

    return read


def pages(read_ahead: ReadAhead) -> list[list[tuple[int, str]]]:
    out, start = [], 0
    while page := read_ahead.after(start):
        out.append(page)
        start = page[-1][0]
    return out


def test_pages_come_in_order_and_the_ones_after_a_full_page_are_read_in_the_background() -> None:
    log: list[tuple[int, str]] = []
    with ReadAhead(reader(log), 5) as read_ahead:
        got = pages(read_ahead)
    assert [row for page in got for row in page] == JOURNAL
    assert [len(page) for page in got] == [5, 5, 5, 5, 3]
    assert [start for start, _ in log] == [0, 5, 10, 15, 20, 23]  # each page read once; 23: the end
    here = threading.current_thread().name
    assert [name == here for _, name in log] == [True, False, False, False, False, True]  # none after a short page
    assert all(name.startswith("journal-read-ahead") for _, name in log[1:5])


def test_a_short_first_page_starts_no_thread() -> None:
    log: list[tuple[int, str]] = []
    with ReadAhead(reader(log), 50) as read_ahead:
        assert read_ahead.after(20) == JOURNAL[20:]
        assert read_ahead.after(23) == []
    assert log == [(20, threading.current_thread().name), (23, threading.current_thread().name)]


def test_a_page_asked_for_from_elsewhere_is_read_afresh() -> None:
    log: list[tuple[int, str]] = []
    with ReadAhead(reader(log), 5) as read_ahead:
        read_ahead.after(0)  # reads 6..10 ahead
        assert read_ahead.after(2) == JOURNAL[2:7]
    assert [start for start, _ in log][-1] == 2


def test_an_error_in_the_background_read_reaches_the_caller() -> None:
    def read(start: int, size: int) -> list[tuple[int, str]]:
        if start:
            raise ConnectionError("the database went away")
        return JOURNAL[:size]

    with ReadAhead(read, 5) as read_ahead:
        read_ahead.after(0)
        with pytest.raises(ConnectionError, match="went away"):
            read_ahead.after(5)
