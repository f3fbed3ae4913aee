"""Proofs an outside auditor can check without trusting the server.

The Merkle tree (ledger/merkle.py) is built from the journal's *stored* records, the
source of truth, not from a read model: leaf i is the i-th stored journal entry, its
leaf bytes ``canonical_json(entry.hashed_content())``. The tree is kept in memory per
Ledger instance and extended with the records appended since it was last read, so after
the first build a digest or proof costs a few hundred hashes at most.

Functions for the CLI and the API, each returning a JSON-ready dict:

* ``latest_digest(ledger, key)`` / ``digest_at(ledger, size, key)``: signed digests;
* ``inclusion(ledger, event_id, size=None, key=None)``: an audit path for one event;
* ``consistency(ledger, old_size, new_size=None, key=None)``: that a later tree extends
  an earlier one.

With a key, proofs carry the signed digest(s) of their tree size(s); without one only
the (unsigned) root hash. Check them with ledger/verifier.py, which needs no database.
"""

from __future__ import annotations

import threading
import weakref
from array import array
from bisect import bisect_left
from contextlib import closing
from typing import Any

from eventsourcing.persistence import StoredEvent

from ledger import chain
from ledger.journal import JOURNAL_ID, Entry, canonical_json
from ledger.stored import decode_entry
from ledger.merkle import MerkleError, MerkleTree
from ledger.signing import SigningKey
from ledger.verifier import CONSISTENCY_FORMAT, INCLUSION_FORMAT, leaf_hash


class ProofError(Exception):
    """A proof that cannot be made (a size outside the tree, a journal that cannot be read)."""


class EventNotFound(ProofError):
    """No event with this id is recorded."""


def leaf_bytes(entry: Entry) -> bytes:
    """The exact bytes a leaf hashes: the entry's canonical hashed content (UTF-8 JSON)."""
    return canonical_json(entry.hashed_content())


class JournalTree:
    """The Merkle tree of a ledger's stored journal, and which stored version each leaf is."""

    def __init__(self) -> None:
        self.tree = MerkleTree()
        self.versions = array("q")  # originator_version of leaf i; i + 2 unless records were removed
        self.last_version = 1  # version 1 is the journal's "Opened" event: no leaf
        self.lock = threading.RLock()

    @property
    def size(self) -> int:
        return self.tree.size

    def refresh(self, ledger: Any) -> int:
        """Add the journal records stored since the last read; returns the tree size.

        Reads rows and leaf bytes the way the chain check does (ledger/chain.py): the first
        build reads every stored record, so the per-record cost is most of its time."""
        quick = chain.quick_allowed(ledger.mapper)
        with self.lock, closing(chain.JournalRows.of(ledger.recorder).rows(after=self.last_version)) as pages:
            for page in pages:
                hashes = [leaf_hash(stored_leaf_bytes(ledger, row, quick)) for row in page]
                self.versions.extend(version for version, _, _ in page)
                self.tree.extend(hashes)
                self.last_version = page[-1][0]
            return self.tree.size

    def leaf_index_of_version(self, version: int) -> int | None:
        guess = version - 2
        if 0 <= guess < len(self.versions) and self.versions[guess] == version:
            return guess
        i = bisect_left(self.versions, version)
        return i if i < len(self.versions) and self.versions[i] == version else None


def stored_leaf_bytes(ledger: Any, row: chain.Row, quick: bool) -> bytes:
    """A stored row's leaf bytes: straight from its JSON fields, or through the decoder."""
    version, topic, state = row
    value = chain.quick_fields(topic, state) if quick else None
    if value is not None:
        return chain.content_bytes(value)
    return leaf_bytes(decode(ledger, StoredEvent(JOURNAL_ID, version, topic, state)))


def decode(ledger: Any, record: Any) -> Entry:
    try:
        entry = decode_entry(record, ledger.mapper)
    except Exception as exc:  # noqa: BLE001 - a record that cannot be decoded was tampered with
        raise ProofError(
            f"the stored journal record at position {record.originator_version - 1} cannot be decoded "
            f"({type(exc).__name__}): run `ledger verify`"
        ) from exc
    if entry is None:
        raise ProofError(f"the stored record at position {record.originator_version - 1} is not a journal entry")
    return entry


_trees: weakref.WeakKeyDictionary[Any, JournalTree] = weakref.WeakKeyDictionary()
_trees_lock = threading.Lock()


def journal_tree(ledger: Any) -> JournalTree:
    """The ledger's tree, brought up to the journal's head."""
    with _trees_lock:
        tree = _trees.get(ledger)
        if tree is None:
            tree = _trees[ledger] = JournalTree()
    tree.refresh(ledger)
    return tree


def forget(ledger: Any) -> None:
    """Drop the cached tree (the next call rebuilds it from the stored journal)."""
    with _trees_lock:
        _trees.pop(ledger, None)


def _size(tree: JournalTree, size: int | None, what: str = "tree size") -> int:
    if size is None:
        return tree.size
    if not 0 <= size <= tree.size:
        raise ProofError(f"{what} {size} is outside 0..{tree.size}: the journal has {tree.size} entries")
    return size


# --- digests -----------------------------------------------------------------------------


def root_hash(ledger: Any, size: int | None = None) -> tuple[int, bytes]:
    tree = journal_tree(ledger)
    size = _size(tree, size)
    return size, tree.tree.root(size)


def digest_at(ledger: Any, size: int | None, key: SigningKey) -> dict[str, Any]:
    """The signed digest of the tree of the first ``size`` entries (the head when None)."""
    size, root = root_hash(ledger, size)
    return key.sign_digest(size, root)


def latest_digest(ledger: Any, key: SigningKey) -> dict[str, Any]:
    return digest_at(ledger, None, key)


# --- inclusion -------------------------------------------------------------------------


def _position_of(ledger: Any, event_id: str) -> int:
    position = ledger.index.position_of(event_id)
    if position is None:
        ledger.catch_up()
        position = ledger.index.position_of(event_id)
    if position is None:
        raise EventNotFound(f"no event {event_id} is recorded")
    return int(position)


def inclusion(ledger: Any, event_id: str, size: int | None = None, key: SigningKey | None = None) -> dict[str, Any]:
    """The proof that event ``event_id`` is in the tree of ``size`` entries (the head when None).

    The leaf is the entry as the journal stores it at the event's position; if that was
    changed behind the ledger's back, the proof carries the changed entry and fails to verify.
    """
    position = _position_of(ledger, event_id)
    tree = journal_tree(ledger)
    size = _size(tree, size)
    index = tree.leaf_index_of_version(position + 1)
    if index is None:
        raise ProofError(f"event {event_id} is indexed at position {position}, but the stored journal has no "
                         "entry there: it was removed; run `ledger verify`")
    if index >= size:
        raise ProofError(f"event {event_id} is at position {position}, after the tree size {size}: "
                         f"ask for a size of at least {index + 1}")
    [record] = ledger.recorder.select_events(JOURNAL_ID, gt=tree.versions[index] - 1, lte=tree.versions[index])
    return inclusion_document(tree.tree, index, size, leaf_bytes(decode(ledger, record)), event_id, key)


def inclusion_document(tree: MerkleTree, index: int, size: int, leaf: bytes, event_id: str,
                       key: SigningKey | None = None, timestamp: str | None = None) -> dict[str, Any]:
    """The inclusion proof document for leaf ``index`` (whose bytes are ``leaf``) in the tree of ``size``."""
    try:
        path = tree.inclusion_proof(index, size)
        root = tree.root(size)
    except MerkleError as exc:
        raise ProofError(str(exc)) from exc
    proof: dict[str, Any] = {
        "format": INCLUSION_FORMAT,
        "event_id": event_id,
        "leaf_index": index,
        "tree_size": size,
        "leaf": leaf.decode("utf-8"),
        "leaf_hash": leaf_hash(leaf).hex(),
        "audit_path": [h.hex() for h in path],
        "root_hash": root.hex(),
    }
    if key is not None:
        proof["digest"] = key.sign_digest(size, root, timestamp=timestamp)
    return proof


# --- consistency -----------------------------------------------------------------------


def consistency(ledger: Any, old_size: int, new_size: int | None = None,
                key: SigningKey | None = None) -> dict[str, Any]:
    """The proof that the tree of ``new_size`` entries (the head when None) extends the one of ``old_size``."""
    tree = journal_tree(ledger)
    if old_size > tree.size:
        raise ProofError(f"the journal now has {tree.size} entries, fewer than the old size {old_size}: "
                         "entries were removed, or the old size was never reached")
    new_size = _size(tree, new_size, "new size")
    if not 1 <= old_size <= new_size:
        raise ProofError(f"old size {old_size} must be between 1 and the new size {new_size}")
    return consistency_document(tree.tree, old_size, new_size, key)


def consistency_document(tree: MerkleTree, old_size: int, new_size: int, key: SigningKey | None = None,
                         timestamp: str | None = None) -> dict[str, Any]:
    """The consistency proof document between two sizes of ``tree``, with both digests when a key is given."""
    try:
        path = tree.consistency_proof(old_size, new_size)
        old_root, new_root = tree.root(old_size), tree.root(new_size)
    except MerkleError as exc:
        raise ProofError(str(exc)) from exc
    proof: dict[str, Any] = {
        "format": CONSISTENCY_FORMAT,
        "old_size": old_size,
        "new_size": new_size,
        "proof": [h.hex() for h in path],
        "old_root_hash": old_root.hex(),
        "new_root_hash": new_root.hex(),
    }
    if key is not None:
        proof["old_digest"] = key.sign_digest(old_size, old_root, timestamp=timestamp)
        proof["new_digest"] = key.sign_digest(new_size, new_root, timestamp=proof["old_digest"]["timestamp"])
    return proof
