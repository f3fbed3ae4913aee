"""The canonical serialisation is the standard library's, whichever encoder writes it, and
the fast stored-record decoder gives the mapper's entries or defers to the mapper."""

from __future__ import annotations

import datetime as dt
import json
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.journal import JOURNAL_ID, Entry, Journal, canonical_json
from ledger.stored import ENTRY_TOPIC, decode_entry


def standard(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.text() | st.floats(allow_nan=False),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=1000)
@given(JSON_VALUES)
def test_canonical_json_equals_the_standard_encoder(value: object) -> None:
    try:
        expected = standard(value)
    except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8: both refuse it
        with pytest.raises(UnicodeEncodeError):
            canonical_json(value)
        return
    assert canonical_json(value) == expected


def test_floats_take_the_standard_path_where_orjson_writes_them_differently() -> None:
    assert canonical_json({"x": [1e16]}) == b'{"x":[1e+16]}'
    assert canonical_json({"big": 2**70}) == b'{"big":1180591620717411303424}'


def _stored(state: bytes, topic: str = ENTRY_TOPIC) -> SimpleNamespace:
    return SimpleNamespace(topic=topic, state=state, originator_version=2)


class _Mapper:
    """Stands in for the library's mapper: counts the records it is asked to decode."""

    cipher = None
    compressor = None

    def __init__(self) -> None:
        self.calls = 0

    def to_domain_event(self, stored: SimpleNamespace) -> object:
        self.calls += 1
        raise ValueError("not decodable")


ENTRY = {"timestamp": {"_type_": "datetime_iso", "_data_": "2026-01-01T00:00:00+00:00"}, "position": 1,
         "event_id": "e1", "kind": "payout_made", "recorded_at": "2026-01-01T00:00:00.000000+00:00",
         "recorded_by": "k", "payload": {"amount": 5, "note": "å"}, "prev_hash": "0" * 64, "hash": "a" * 64}


def test_a_plain_entry_is_decoded_without_the_mapper() -> None:
    mapper = _Mapper()
    entry = decode_entry(_stored(json.dumps(ENTRY).encode()), mapper)
    assert entry == Entry(1, "e1", "payout_made", ENTRY["recorded_at"], "k", {"amount": 5, "note": "å"},
                          "0" * 64, "a" * 64)
    assert mapper.calls == 0


@pytest.mark.parametrize("state", [
    b"{not json",
    json.dumps({**ENTRY, "position": "1"}).encode(),
    json.dumps({k: v for k, v in ENTRY.items() if k != "hash"}).encode(),
    json.dumps({**ENTRY, "payload": []}).encode(),
])
def test_anything_unusual_is_left_to_the_mapper(state: bytes) -> None:
    mapper = _Mapper()
    with pytest.raises(ValueError, match="not decodable"):
        decode_entry(_stored(state), mapper)
    assert mapper.calls == 1


def test_another_topic_is_left_to_the_mapper() -> None:
    mapper = _Mapper()
    with pytest.raises(ValueError):
        decode_entry(_stored(json.dumps(ENTRY).encode(), topic="ledger.journal:Journal.Opened"), mapper)
    assert mapper.calls == 1


def test_decoded_entries_equal_the_mappers_on_a_real_journal(ledger) -> None:  # noqa: ANN001
    ledger.load_agreements(["god-och-nara-vard-2020"])
    records = ledger.recorder.select_events(JOURNAL_ID, gt=1)
    assert records
    for record in records:
        event = ledger.mapper.to_domain_event(record)
        assert isinstance(event, Journal.EntryRecorded)
        assert decode_entry(record, ledger.mapper) == event.entry()


def _library_transcoder() -> object:
    from eventsourcing.persistence import DatetimeAsISO, DecimalAsStr, JSONTranscoder, UUIDAsHex

    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return transcoder


def _journal_transcoder() -> object:
    from ledger.application import Ledger
    from ledger.stored import JournalTranscoder

    transcoder = JournalTranscoder()
    Ledger.register_transcodings(None, transcoder)  # type: ignore[arg-type]
    return transcoder


def _has_float(value: object) -> bool:
    if isinstance(value, float):
        return True
    if isinstance(value, dict):
        return any(_has_float(v) for v in value.values())
    return isinstance(value, list) and any(_has_float(v) for v in value)


PAYLOAD_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**80), 2**80) | st.text() | st.floats(allow_nan=False,
                                                                                     allow_infinity=False),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(st.text(), inner, max_size=5),
    max_leaves=25,
)


@settings(max_examples=500)
@given(st.dictionaries(st.text(), PAYLOAD_VALUES, max_size=6), st.datetimes(timezones=st.just(dt.timezone.utc)))
def test_journal_entries_are_stored_as_the_library_would_store_them(payload: dict, timestamp: dt.datetime) -> None:
    """Same bytes as the library's stdlib encoder for every float-free entry, and the same
    values read back with finite floats (orjson writes 1e16 where the stdlib writes 1e+16).
    No event schema has a float (test_no_event_schema_admits_a_float): orjson would write
    infinity as null."""
    state = {"timestamp": timestamp, "position": 7, "event_id": "e", "kind": "payout_made",
             "recorded_at": "2026-11-22T12:00:00+00:00", "recorded_by": "finance", "payload": payload,
             "prev_hash": "0" * 64, "hash": "1" * 64}
    library, ours = _library_transcoder(), _journal_transcoder()
    try:
        expected = library.encode(state)  # type: ignore[attr-defined]
    except UnicodeEncodeError:  # a lone surrogate cannot be UTF-8: both refuse it
        with pytest.raises(UnicodeEncodeError):
            ours.encode(state)  # type: ignore[attr-defined]
        return
    written = ours.encode(state)  # type: ignore[attr-defined]
    if not _has_float(payload):
        assert written == expected
    assert library.decode(written) == library.decode(expected) == state  # type: ignore[attr-defined]


def test_other_states_are_written_by_the_library_encoder() -> None:
    snapshot_like = {"timestamp": dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc), "length": 3, "x": 1e16}
    assert _journal_transcoder().encode(snapshot_like) == _library_transcoder().encode(snapshot_like)  # type: ignore[attr-defined]
    assert b"1e+16" in _journal_transcoder().encode(snapshot_like)  # type: ignore[attr-defined]


def test_the_ledger_writes_its_journal_with_the_journal_transcoder(ledger: object) -> None:
    from ledger.stored import JournalTranscoder

    assert type(ledger.mapper.transcoder) is JournalTranscoder  # type: ignore[attr-defined]
