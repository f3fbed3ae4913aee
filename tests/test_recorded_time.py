"""Recorded times never go back along the journal.

An auditor's "as known at" view is the journal up to a recorded time. That is only a
prefix of the journal if recorded times never decrease with position: a clock stepped
back (NTP), or two servers with skewed clocks appending to one PostgreSQL journal, would
otherwise record a later entry as known before an earlier one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from ledger.application import Ledger
from ledger.config import database_config
from ledger.index import EventFilter
from ledger.journal import Journal
from ledger.timeparams import known_at_text
from tests.scenarios.builders import kr, requisition

AGREEMENT, PART = "god-och-nara-vard-2020", "nara-vard"
# After the real "now" at which the loaded_ledger fixture records the catalogue.
NOON = dt.datetime.now(tz=dt.timezone.utc).replace(microsecond=0) + dt.timedelta(days=2)


class SetClock:
    """A clock that reads whatever the test last set."""

    def __init__(self, moment: dt.datetime) -> None:
        self.moment = moment

    def __call__(self) -> dt.datetime:
        return self.moment


@pytest.fixture
def clocked(loaded_ledger: Ledger) -> Iterator[tuple[Ledger, SetClock]]:
    clock = SetClock(NOON)
    ledger = Ledger(database_config(loaded_ledger.config.url), clock=clock)
    yield ledger, clock
    ledger.close()


def _req(recipient: str) -> dict:
    return requisition(AGREEMENT, PART, recipient, kr(10), "2020-06-01")


def _known_ids(ledger: Ledger, known_at: dt.datetime) -> list[str]:
    return [row["event_id"] for row in ledger.list_events(EventFilter(known_at=known_at_text(known_at)))]


def test_a_clock_stepped_back_records_the_last_entrys_time_again(clocked: tuple[Ledger, SetClock]) -> None:
    ledger, clock = clocked
    [first] = ledger.append([_req("region-skane")], "f")
    clock.moment = NOON - dt.timedelta(hours=1)  # the clock is stepped back an hour
    [second] = ledger.append([_req("region-gotland")], "f")
    clock.moment = NOON + dt.timedelta(minutes=5)
    [third] = ledger.append([_req("region-uppsala")], "f")

    assert first.recorded_at == known_at_text(NOON)
    assert second.recorded_at == first.recorded_at
    assert third.recorded_at > second.recorded_at
    # Known half an hour before noon, by the stepped-back clock: neither entry, not the second alone.
    known = _known_ids(ledger, NOON - dt.timedelta(minutes=30))
    assert first.event_id not in known and second.event_id not in known
    assert {first.event_id, second.event_id} <= set(_known_ids(ledger, NOON))
    assert ledger.verify().ok  # the hash covers the recorded time as stamped


def test_two_servers_with_skewed_clocks_keep_recorded_times_in_journal_order(
        clocked: tuple[Ledger, SetClock]) -> None:
    ahead, ahead_clock = clocked
    behind = Ledger(database_config(ahead.config.url), clock=SetClock(NOON - dt.timedelta(minutes=10)))
    try:
        ahead_clock.moment = NOON
        [a] = ahead.append([_req("region-skane")], "server-a")
        [b] = behind.append([_req("region-gotland")], "server-b")  # its clock is ten minutes slow
    finally:
        behind.close()
    assert b.position > a.position
    assert b.recorded_at == a.recorded_at
    rows = ahead.list_events()
    times = [row["recorded_at"] for row in rows]
    assert times == sorted(times)  # every "known at" view is a prefix of the journal
    known = _known_ids(ahead, NOON - dt.timedelta(minutes=5))
    assert b.event_id not in known


def test_a_journal_snapshot_from_before_recorded_times_were_kept_loads_without_one() -> None:
    # A snapshot restores an aggregate's __dict__; one taken before the journal kept its
    # last recorded time has no such key, like this state.
    state = {k: v for k, v in vars(Journal()).items() if k != "last_recorded_at"}
    journal = object.__new__(Journal)
    journal.__dict__.update(state)
    assert journal.recorded_time("2026-01-01T00:00:00.000000+00:00") == "2026-01-01T00:00:00.000000+00:00"
    journal.record("e1", "requisition_received", "2026-01-02T00:00:00.000000+00:00", "f", {})
    assert journal.recorded_time("2026-01-01T00:00:00.000000+00:00") == "2026-01-02T00:00:00.000000+00:00"
