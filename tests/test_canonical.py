"""The canonical serialisation is the standard library's, whichever encoder writes it, and
the fast stored-record decoder gives the mapper's entries or defers to the mapper."""

from __future__ import annotations

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


@settings(max_examples=3000)
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
