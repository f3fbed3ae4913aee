"""A Merkle tree over the journal in the style of RFC 6962 (Certificate Transparency).

Hashing (RFC 6962 §2.1, SHA-256):

* leaf hash  = SHA-256(0x00 || leaf bytes)
* node hash  = SHA-256(0x01 || left child hash || right child hash)
* the root of the empty tree is SHA-256 of no bytes.

Tree shape (RFC 6962 §2.1): for n > 1 leaves, with k the largest power of two smaller
than n, MTH(D[0:n]) = node(MTH(D[0:k]), MTH(D[k:n])). Leaf i of the journal's tree is the
entry at journal position i + 1; its leaf bytes are ``canonical_json(hashed_content)``
(see ledger/journal.py and docs/verification.md).

``MerkleTree`` keeps every *complete* aligned subtree hash in memory: level 0 holds the
leaf hashes, level h holds the hash of each full block of 2**h leaves, each level one
``bytearray`` of 32-byte hashes (about 64 bytes per leaf in all). The root of any size
m <= n and every node a proof needs is then at most log2(n) cached hashes folded
together, so proofs cost O(log² n) hash operations at worst, never a pass over leaves.
Appending a leaf updates the levels in O(log n). One writer at a time (the caller locks);
readers may read while it appends, as ``size`` grows only when every level is complete.

The verifiers live in ledger/verifier.py, which imports nothing from the ledger, so an
auditor can run them without the database; they are re-exported here for convenience.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from ledger.verifier import (  # noqa: F401 - re-exported
    EMPTY_ROOT,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

HASH_SIZE = 32


class MerkleError(ValueError):
    """A size or index outside the tree."""


def largest_power_of_two_below(n: int) -> int:
    """The largest power of two strictly smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleTree:
    """An append-only RFC 6962 tree with every complete subtree's hash cached."""

    def __init__(self) -> None:
        self._levels: list[bytearray] = [bytearray()]
        self._size = 0  # raised only once every level holds the new leaves: readers never see a half-built tree

    @classmethod
    def from_leaf_hashes(cls, hashes: Iterable[bytes] | bytes) -> MerkleTree:
        tree = cls()
        tree.extend(hashes)
        return tree

    @classmethod
    def from_leaves(cls, leaves: Iterable[bytes]) -> MerkleTree:
        return cls.from_leaf_hashes(leaf_hash(leaf) for leaf in leaves)

    # --- growing ---------------------------------------------------------------------

    @property
    def size(self) -> int:
        return self._size

    def __len__(self) -> int:
        return self.size

    def append(self, leaf_hash_: bytes) -> None:
        self.extend((leaf_hash_,))

    def extend(self, hashes: Iterable[bytes] | bytes) -> None:
        """Add leaf hashes (an iterable of 32-byte hashes, or their concatenation)."""
        if isinstance(hashes, (bytes, bytearray, memoryview)):
            block = bytes(hashes)
        else:
            block = b"".join(hashes)
        if len(block) % HASH_SIZE:
            raise MerkleError("leaf hashes must be 32 bytes each")
        self._levels[0] += block
        self._rebuild_upper_levels()
        self._size = len(self._levels[0]) // HASH_SIZE

    def _rebuild_upper_levels(self) -> None:
        sha256 = hashlib.sha256
        level = 0
        while len(self._levels[level]) >= 2 * HASH_SIZE:
            below = self._levels[level]
            if len(self._levels) == level + 1:
                self._levels.append(bytearray())
            above = self._levels[level + 1]
            have = len(above) // HASH_SIZE
            want = len(below) // (2 * HASH_SIZE)
            if want > have:
                view = memoryview(below)
                parts = []
                for i in range(have, want):
                    start = 2 * i * HASH_SIZE
                    parts.append(sha256(b"\x01" + view[start : start + 2 * HASH_SIZE]).digest())
                above += b"".join(parts)
            level += 1

    # --- reading ---------------------------------------------------------------------

    def leaf_hash(self, index: int) -> bytes:
        if not 0 <= index < self.size:
            raise MerkleError(f"leaf index {index} is outside the tree of {self.size} leaves")
        return bytes(self._levels[0][index * HASH_SIZE : (index + 1) * HASH_SIZE])

    def _cached(self, level: int, index: int) -> bytes:
        start = index * HASH_SIZE
        return bytes(self._levels[level][start : start + HASH_SIZE])

    def subtree_hash(self, start: int, end: int) -> bytes:
        """MTH(D[start:end]) for a range the RFC 6962 recursion produces.

        Such a range starts at a multiple of the largest power of two not larger than
        its size, so it splits into complete aligned subtrees, each one cached hash.
        """
        if not 0 <= start < end <= self.size:
            raise MerkleError(f"range [{start}, {end}) is outside the tree of {self.size} leaves")
        n = end - start
        if n & (n - 1) == 0 and start % n == 0:
            return self._cached(n.bit_length() - 1, start // n)
        k = largest_power_of_two_below(n)
        return node_hash(self.subtree_hash(start, start + k), self.subtree_hash(start + k, end))

    def root(self, size: int | None = None) -> bytes:
        """MTH of the first ``size`` leaves (all of them when None)."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise MerkleError(f"tree size {size} is outside 0..{self.size}")
        if size == 0:
            return EMPTY_ROOT
        return self.subtree_hash(0, size)

    def inclusion_proof(self, index: int, size: int | None = None) -> list[bytes]:
        """PATH(index, D[0:size]) of RFC 6962 §2.1.1: sibling hashes, leaf to root."""
        size = self.size if size is None else size
        if not 0 <= size <= self.size:
            raise MerkleError(f"tree size {size} is outside 0..{self.size}")
        if not 0 <= index < size:
            raise MerkleError(f"leaf index {index} is outside a tree of {size} leaves")
        path: list[bytes] = []
        self._path(index, 0, size, path)
        return path

    def _path(self, m: int, start: int, end: int, out: list[bytes]) -> None:
        n = end - start
        if n == 1:
            return
        k = largest_power_of_two_below(n)
        if m < k:
            self._path(m, start, start + k, out)
            out.append(self.subtree_hash(start + k, end))
        else:
            self._path(m - k, start + k, end, out)
            out.append(self.subtree_hash(start, start + k))

    def consistency_proof(self, old_size: int, new_size: int | None = None) -> list[bytes]:
        """PROOF(old_size, D[0:new_size]) of RFC 6962 §2.1.2 (empty when the sizes are equal)."""
        new_size = self.size if new_size is None else new_size
        if not 0 <= new_size <= self.size:
            raise MerkleError(f"tree size {new_size} is outside 0..{self.size}")
        if not 1 <= old_size <= new_size:
            raise MerkleError(f"a consistency proof needs 1 <= old size <= new size, not {old_size} and {new_size}")
        out: list[bytes] = []
        self._subproof(old_size, 0, new_size, True, out)
        return out

    def _subproof(self, m: int, start: int, end: int, complete: bool, out: list[bytes]) -> None:
        n = end - start
        if m == n:
            if not complete:
                out.append(self.subtree_hash(start, end))
            return
        k = largest_power_of_two_below(n)
        if m <= k:
            self._subproof(m, start, start + k, complete, out)
            out.append(self.subtree_hash(start + k, end))
        else:
            self._subproof(m - k, start + k, end, False, out)
            out.append(self.subtree_hash(start, start + k))


# --- reference definitions (straight from the RFC, for tests) -----------------------


def reference_root(leaf_hashes: list[bytes]) -> bytes:
    """MTH straight from RFC 6962 §2.1's recursive definition (slow; for tests)."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = largest_power_of_two_below(n)
    return node_hash(reference_root(leaf_hashes[:k]), reference_root(leaf_hashes[k:]))
