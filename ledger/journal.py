"""The journal: one hash-chained sequence of every recorded event.

The journal is an eventsourcing aggregate whose version is the journal position, so the
database's unique (originator_id, originator_version) key serialises appends: two
writers that both read position N cannot both record N+1. Each entry's hash is SHA-256
over the previous entry's hash and the entry's canonical serialisation, so altering,
removing, inserting or reordering a stored entry breaks the chain at that position.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

import orjson
from eventsourcing.domain import Aggregate, event

JOURNAL_ID = uuid5(NAMESPACE_URL, "urn:grant-ledger:journal")
GENESIS_HASH = "0" * 64


def canonical_json(value: Any) -> bytes:
    """The one serialisation that is hashed: sorted keys, no spaces, UTF-8.

    Defined as ``json.dumps(value, sort_keys=True, separators=(",", ":"),
    ensure_ascii=False)``. orjson writes the same bytes for every value without floats
    (strings, ints, booleans, null, lists, objects with string keys: a hypothesis test
    holds it to that) at about twice the speed, which is most of a full verify's time;
    floats (which no event schema has) and whatever orjson refuses go the standard way.
    """
    if _floatless(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except (TypeError, orjson.JSONEncodeError):
            pass  # a huge int, a surrogate, a non-string key: the standard encoder decides
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def json_text(value: Any) -> str:
    """Compact JSON text with sorted keys for the read models' payload columns. Not hashed,
    so its exact bytes don't matter: orjson, or the standard encoder for what it refuses."""
    try:
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")
    except (TypeError, orjson.JSONEncodeError):
        return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def parse_json(text: str | bytes) -> Any:
    """JSON text the ledger wrote back into values: orjson, or the standard parser for what
    orjson refuses (integers beyond 64 bits)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _floatless(value: Any) -> bool:
    """True when no float is nested anywhere in a dict or list (orjson and json differ on floats)."""
    kind = type(value)
    if kind is dict:
        items = value.values()
    elif kind is list or kind is tuple:
        items = value
    else:
        return kind is not float
    for item in items:
        kind = type(item)
        if kind is float:
            return False
        if (kind is dict or kind is list or kind is tuple) and not _floatless(item):
            return False
    return True


def entry_hash(prev_hash: str, entry: dict[str, Any]) -> str:
    """SHA-256 over the previous hash (hex, ASCII) and the entry's canonical JSON."""
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(entry)).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One recorded event as the journal holds it."""

    position: int
    event_id: str
    kind: str
    recorded_at: str  # ISO 8601 with offset, UTC
    recorded_by: str
    payload: dict[str, Any]
    prev_hash: str
    hash: str

    def hashed_content(self) -> dict[str, Any]:
        return hashed_content(self.position, self.event_id, self.kind, self.recorded_at, self.recorded_by, self.payload)


def hashed_content(
    position: int, event_id: str, kind: str, recorded_at: str, recorded_by: str, payload: dict[str, Any]
) -> dict[str, Any]:
    return {
        "position": position,
        "event_id": event_id,
        "kind": kind,
        "recorded_at": recorded_at,
        "recorded_by": recorded_by,
        "payload": payload,
    }


class Journal(Aggregate):
    """Huvudbok: the ledger's journal. Its state is its length, head hash and last recorded time."""

    #: The last entry's recorded time. A class default, so that a snapshot taken before the
    #: journal kept it loads as a journal that has none yet (the next entry sets it).
    last_recorded_at = ""

    @event("Opened")
    def __init__(self) -> None:
        self.length = 0
        self.head_hash = GENESIS_HASH

    @classmethod
    def create_id(cls) -> UUID:
        return JOURNAL_ID

    def recorded_time(self, now: str) -> str:
        """The recorded time for the next entry at clock reading ``now``: never before the
        last entry's. A clock stepped back (by NTP, or another server's clock writing to the
        same PostgreSQL journal) would otherwise record a later entry as known earlier, and
        a ``known_at`` query between the two would see the later entry without the earlier.
        The text form is fixed-width UTC (ledger/timeparams.py), so it compares as text."""
        return max(now, self.last_recorded_at)

    def record(self, event_id: str, kind: str, recorded_at: str, recorded_by: str, payload: dict[str, Any]) -> Entry:
        """Append one entry at the next position, chained to the head."""
        position = self.length + 1
        prev_hash = self.head_hash
        digest = entry_hash(prev_hash, hashed_content(position, event_id, kind, recorded_at, recorded_by, payload))
        self.trigger_event(
            self.EntryRecorded,
            position=position,
            event_id=event_id,
            kind=kind,
            recorded_at=recorded_at,
            recorded_by=recorded_by,
            payload=payload,
            prev_hash=prev_hash,
            hash=digest,
        )
        return Entry(position, event_id, kind, recorded_at, recorded_by, payload, prev_hash, digest)

    class EntryRecorded(Aggregate.Event):
        position: int
        event_id: str
        kind: str
        recorded_at: str
        recorded_by: str
        payload: dict[str, Any]
        prev_hash: str
        hash: str

        def apply(self, aggregate: Aggregate) -> None:
            journal = aggregate
            assert isinstance(journal, Journal)
            journal.length = self.position
            journal.head_hash = self.hash
            journal.last_recorded_at = self.recorded_at

        def entry(self) -> Entry:
            return Entry(
                self.position,
                self.event_id,
                self.kind,
                self.recorded_at,
                self.recorded_by,
                self.payload,
                self.prev_hash,
                self.hash,
            )
