"""The Merkle tree and its verifiers: RFC 6962 shape, published vectors, every leaf, many size pairs.

These tests need no database: trees are built from synthetic leaf hashes.
"""

from __future__ import annotations

import hashlib
import random

import pytest

from ledger.merkle import MerkleError, MerkleTree, largest_power_of_two_below, reference_root
from ledger.verifier import (
    EMPTY_ROOT,
    VerificationError,
    leaf_hash,
    node_hash,
    root_from_inclusion_proof,
    verify_consistency,
    verify_inclusion,
)

# The Certificate Transparency reference data (the C++ merkle_tree_test vectors):
# eight leaves, the root of every prefix, and a few proofs. Leaf numbers there are 1-based.
CT_LEAVES = [bytes.fromhex(h) for h in
             ("", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f")]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_INCLUSION = [
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (3, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]),
    (2, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]
CT_CONSISTENCY = [
    (1, 1, []),
    (1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]),
    (6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]),
    (2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]),
]


def synthetic_leaf_hashes(n: int, seed: str = "leaf") -> list[bytes]:
    return [leaf_hash(f"{seed}-{i}".encode()) for i in range(n)]


# --- straight-from-the-RFC reference algorithms (RFC 6962 §2.1.1 and §2.1.2) ------------


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = largest_power_of_two_below(n)
    if m < k:
        return ref_path(m, leaves[:k]) + [reference_root(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [reference_root(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], complete: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if complete else [reference_root(leaves)]
    k = largest_power_of_two_below(n)
    if m <= k:
        return ref_subproof(m, leaves[:k], complete) + [reference_root(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [reference_root(leaves[:k])]


# --- the published vectors -------------------------------------------------------------------


@pytest.fixture(scope="module")
def ct_tree() -> MerkleTree:
    return MerkleTree.from_leaves(CT_LEAVES)


def test_hashes_have_the_rfc_6962_prefixes():
    assert EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert leaf_hash(b"abc") == hashlib.sha256(b"\x00abc").digest()
    assert node_hash(b"L" * 32, b"R" * 32) == hashlib.sha256(b"\x01" + b"L" * 32 + b"R" * 32).digest()


def test_roots_match_certificate_transparency_for_every_prefix(ct_tree: MerkleTree):
    for size in range(0, 9):
        assert ct_tree.root(size).hex() == CT_ROOTS[size], size
        assert reference_root([leaf_hash(x) for x in CT_LEAVES[:size]]).hex() == CT_ROOTS[size]


@pytest.mark.parametrize(("leaf", "size", "path"), CT_INCLUSION)
def test_inclusion_proofs_match_certificate_transparency(ct_tree: MerkleTree, leaf: int, size: int, path: list[str]):
    proof = ct_tree.inclusion_proof(leaf - 1, size)
    assert [p.hex() for p in proof] == path
    verify_inclusion(leaf - 1, size, leaf_hash(CT_LEAVES[leaf - 1]), proof, bytes.fromhex(CT_ROOTS[size]))


@pytest.mark.parametrize(("old", "new", "path"), CT_CONSISTENCY)
def test_consistency_proofs_match_certificate_transparency(ct_tree: MerkleTree, old: int, new: int, path: list[str]):
    proof = ct_tree.consistency_proof(old, new)
    assert [p.hex() for p in proof] == path
    verify_consistency(old, new, bytes.fromhex(CT_ROOTS[old]), bytes.fromhex(CT_ROOTS[new]), proof)


# --- the tree agrees with the RFC's recursive definitions ---------------------------------


def test_cached_tree_agrees_with_the_recursive_definitions_for_small_sizes():
    leaves = synthetic_leaf_hashes(40)
    tree = MerkleTree.from_leaf_hashes(leaves)
    for n in range(1, 41):
        assert tree.root(n) == reference_root(leaves[:n])
        for m in range(n):
            assert tree.inclusion_proof(m, n) == ref_path(m, leaves[:n]), (m, n)
        for m in range(1, n + 1):
            assert tree.consistency_proof(m, n) == ref_subproof(m, leaves[:n], True), (m, n)


def test_appending_one_leaf_at_a_time_equals_building_at_once():
    leaves = synthetic_leaf_hashes(777)
    grown = MerkleTree()
    for i, h in enumerate(leaves):
        grown.append(h)
        if i % 97 == 0:
            assert grown.root() == reference_root(leaves[: i + 1])
    batch = MerkleTree.from_leaf_hashes(b"".join(leaves))
    assert grown.root() == batch.root() == reference_root(leaves)
    assert grown.size == batch.size == 777


# --- every leaf of a 10 000-leaf tree; many size pairs ---------------------------------------


@pytest.fixture(scope="module")
def big() -> tuple[MerkleTree, list[bytes]]:
    leaves = synthetic_leaf_hashes(10_000)
    return MerkleTree.from_leaf_hashes(leaves), leaves


def test_inclusion_proof_verifies_for_every_leaf_of_10000(big):
    tree, leaves = big
    root = tree.root()
    for i in range(tree.size):
        verify_inclusion(i, tree.size, leaves[i], tree.inclusion_proof(i), root)


def test_inclusion_proofs_verify_at_earlier_sizes(big):
    tree, leaves = big
    rng = random.Random(6962)
    for size in [1, 2, 3, 1023, 1024, 1025, 4097, 9999, *rng.sample(range(1, 10_000), 30)]:
        root = tree.root(size)
        for i in {0, size - 1, size // 2, rng.randrange(size)}:
            verify_inclusion(i, size, leaves[i], tree.inclusion_proof(i, size), root)


def test_consistency_proofs_verify_across_many_size_pairs(big):
    tree, _ = big
    rng = random.Random(9162)
    pairs = [(m, n) for n in range(1, 65) for m in range(1, n + 1)]
    pairs += [(m, 10_000) for m in (1, 2, 3, 4, 5, 7, 8, 9, 511, 512, 513, 8192, 9999, 10_000)]
    pairs += [tuple(sorted(rng.sample(range(1, 10_001), 2))) for _ in range(500)]
    roots: dict[int, bytes] = {}
    for m, n in pairs:
        old = roots.setdefault(m, tree.root(m))
        new = roots.setdefault(n, tree.root(n))
        verify_consistency(m, n, old, new, tree.consistency_proof(m, n))


# --- what must fail ------------------------------------------------------------------------


def test_inclusion_fails_for_a_changed_leaf_path_index_or_size(big):
    tree, leaves = big
    i, n = 4321, tree.size
    root, path = tree.root(), tree.inclusion_proof(4321)
    failures = [
        (leaf_hash(b"forged"), i, n, path, root),  # altered leaf
        (leaves[i], i + 1, n, path, root),  # another index
        (leaves[i], i, 5000, path, root),  # another size (of another shape)
        (leaves[i], i, n, path[:-1], root),  # truncated path
        (leaves[i], i, n, [*path, path[0]], root),  # extended path
        (leaves[i], i, n, [path[1], path[0], *path[2:]], root),  # reordered path
        (leaves[i], i, n, path, tree.root(n - 1)),  # another root
        (leaves[i], n, n, path, root),  # index outside the tree
    ]
    for leaf, index, size, proof, signed_root in failures:
        with pytest.raises(VerificationError):
            verify_inclusion(index, size, leaf, proof, signed_root)


def test_inclusion_failure_says_which_root_was_reached(big):
    tree, _ = big
    with pytest.raises(VerificationError, match="leads to root .* not to the signed root"):
        verify_inclusion(7, tree.size, leaf_hash(b"forged"), tree.inclusion_proof(7), tree.root())
    with pytest.raises(VerificationError, match="too short"):
        root_from_inclusion_proof(7, tree.size, leaf_hash(b"x"), [])


def test_consistency_fails_for_changed_history_roots_or_proof(big):
    tree, leaves = big
    m, n = 6000, 9000
    proof, old, new = tree.consistency_proof(m, n), tree.root(m), tree.root(n)
    changed = MerkleTree.from_leaf_hashes([*leaves[:100], leaf_hash(b"forged"), *leaves[101:n]])
    with pytest.raises(VerificationError, match="first 6000 entries changed"):
        verify_consistency(m, n, old, changed.root(n), changed.consistency_proof(m, n))
    failures = [
        (m, n, old, tree.root(n - 1), proof),
        (m, n, tree.root(m - 1), new, proof),
        (m, n, old, new, proof[:-1]),
        (m, n, old, new, [*proof, proof[0]]),
        (m, n, old, new, [leaf_hash(b"x"), *proof[1:]]),
        (m, n, old, new, []),
        (m + 1, n, old, new, proof),
        (n, m, new, old, proof),
        (m, m, old, new, []),
        (m, m, old, old, proof),
    ]
    for args in failures:
        with pytest.raises(VerificationError):
            verify_consistency(*args)


def test_the_tree_refuses_sizes_and_indexes_outside_it():
    tree = MerkleTree.from_leaf_hashes(synthetic_leaf_hashes(5))
    with pytest.raises(MerkleError):
        tree.root(6)
    with pytest.raises(MerkleError):
        tree.inclusion_proof(5, 5)
    with pytest.raises(MerkleError):
        tree.consistency_proof(0, 5)
    with pytest.raises(MerkleError):
        tree.consistency_proof(3, 6)
    assert MerkleTree().root() == EMPTY_ROOT
