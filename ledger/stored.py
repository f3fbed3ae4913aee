"""Stored journal records read back as entries, without the library's general decoder.

A journal entry is stored by eventsourcing's JSON transcoder as a plain JSON object (only
its timestamp is wrapped as ``{"_type_": ..., "_data_": ...}``, and the ledger does not
read it). Decoding it with orjson straight into an ``Entry`` is several times faster than
the mapper's ``to_domain_event``, which rebuilds the event object through JSON hooks; a
full verify, a rebuild and a first Merkle tree build read every stored record, so this is
most of their time. Anything unusual (a cipher or compressor configured, another topic,
JSON orjson refuses, a field missing or of the wrong type) falls back to the mapper, which
decides exactly as before.
"""

from __future__ import annotations

from typing import Any

import orjson
from eventsourcing.persistence import JSONTranscoder
from eventsourcing.utils import get_topic

from ledger.journal import Entry, Journal

ENTRY_TOPIC = get_topic(Journal.EntryRecorded)


def decode_entry(stored: Any, mapper: Any) -> Entry | None:
    """The stored record as an Entry; None when it is not a journal entry (the "Opened"
    event). Raises whatever the mapper raises for a record it cannot decode."""
    if stored.topic == ENTRY_TOPIC and mapper.cipher is None and mapper.compressor is None:
        entry = _fast(stored.state)
        if entry is not None:
            return entry
    event = mapper.to_domain_event(stored)
    return event.entry() if isinstance(event, Journal.EntryRecorded) else None


def _fast(state: bytes) -> Entry | None:
    value = entry_fields(state)
    if value is None:
        return None
    return Entry(value["position"], value["event_id"], value["kind"], value["recorded_at"], value["recorded_by"],
                 value["payload"], value["prev_hash"], value["hash"])


def entry_fields(state: bytes) -> dict[str, Any] | None:
    """The stored JSON object when it has every entry field with the right type, else None.

    The chain check (ledger/chain.py) reads the fields straight from this dict: building an
    Entry per record is measurable at a million records. Written out rather than looped
    over the field names for the same reason.
    """
    try:
        value = orjson.loads(state)
    except orjson.JSONDecodeError:
        return None
    if type(value) is not dict:
        return None
    get = value.get
    if (type(get("position")) is not int or type(get("payload")) is not dict or type(get("event_id")) is not str
            or type(get("kind")) is not str or type(get("recorded_at")) is not str
            or type(get("recorded_by")) is not str or type(get("prev_hash")) is not str
            or type(get("hash")) is not str):
        return None
    return value


#: The state the library stores for a journal entry: the event's fields and its timestamp.
ENTRY_STATE_KEYS = frozenset(("timestamp", "position", "event_id", "kind", "recorded_at", "recorded_by", "payload",
                              "prev_hash", "hash"))
#: Everything orjson would write its own way (datetimes, dataclasses, subclasses of str,
#: int, dict, list) goes to the library's transcodings instead, as the stdlib encoder does.
_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS


class JournalTranscoder(JSONTranscoder):
    """The library's JSON transcoder, writing journal entries with orjson.

    Writing a batch spent about a tenth of its time in the stdlib encoder. For an entry's
    state orjson writes the same bytes: compact, UTF-8, keys in insertion order, the
    timestamp through the library's datetime transcoding (a hypothesis test holds it to
    that). The payload is JSON data already (the event's ``model_dump(mode="json")``),
    hashed as canonical JSON. Whatever orjson refuses (a huge int, a surrogate, a non-string
    key), and every other state (the "Opened" event, snapshots), goes the library's way.
    Reading is unchanged: the stored bytes are plain JSON either way.
    """

    def encode(self, obj: Any) -> bytes:
        if type(obj) is dict and obj.keys() == ENTRY_STATE_KEYS:
            try:
                return orjson.dumps(obj, default=self._encode_obj, option=_PASSTHROUGH)
            except (TypeError, orjson.JSONEncodeError):
                pass
        return super().encode(obj)
