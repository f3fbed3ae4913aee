"""The independent verifier: checks the ledger's proofs with no database and no ledger code.

This module imports only the standard library and ``cryptography`` (for Ed25519), so an
auditor can copy it alone and run it where the ledger's database does not exist::

    python -m ledger.verifier PROOF.json --public-key KEY [--digest SAVED_DIGEST.json] [--event EVENT.json]
    python ledger/verifier.py ...                      # the file on its own works too

Everything it checks is specified in docs/verification.md:

* leaf hash  = SHA-256(0x00 || leaf bytes); node hash = SHA-256(0x01 || left || right);
  the empty tree's root is SHA-256 of no bytes (RFC 6962 §2.1);
* inclusion proofs are checked with RFC 9162 §2.1.3.2, consistency proofs with
  RFC 9162 §2.1.4.2;
* a digest is signed with Ed25519 over ``digest_signing_bytes`` (five ASCII lines).

Every failure raises ``VerificationError`` whose message says what failed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DIGEST_FORMAT = "grant-ledger-digest-v1"
INCLUSION_FORMAT = "grant-ledger-inclusion-proof-v1"
CONSISTENCY_FORMAT = "grant-ledger-consistency-proof-v1"
SIGNATURE_ALGORITHM = "Ed25519"
HASHED_FIELDS = ("position", "event_id", "kind", "recorded_at", "recorded_by", "payload")

EMPTY_ROOT = hashlib.sha256(b"").digest()
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


class VerificationError(Exception):
    """A proof, digest or signature that does not check out; the message says which and why."""


# --- hashing (RFC 6962 §2.1) ---------------------------------------------------------


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no whitespace, UTF-8 without escaping: the ledger's one hashed serialisation."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# --- proof verification (RFC 9162 §2.1.3.2 and §2.1.4.2) ---------------------------


def root_from_inclusion_proof(leaf_index: int, tree_size: int, leaf_hash_: bytes, path: Sequence[bytes]) -> bytes:
    """The root an inclusion proof leads to (RFC 9162 §2.1.3.2 steps 1-5)."""
    if not 0 <= leaf_index < tree_size:
        raise VerificationError(f"leaf index {leaf_index} is not inside a tree of {tree_size} leaves")
    fn, sn, r = leaf_index, tree_size - 1, leaf_hash_
    for p in path:
        if sn == 0:
            raise VerificationError(f"the audit path is too long for leaf {leaf_index} of a tree of {tree_size}")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError(f"the audit path is too short for leaf {leaf_index} of a tree of {tree_size}")
    return r


def verify_inclusion(leaf_index: int, tree_size: int, leaf_hash_: bytes, path: Sequence[bytes], root: bytes) -> None:
    computed = root_from_inclusion_proof(leaf_index, tree_size, leaf_hash_, path)
    if computed != root:
        raise VerificationError(
            f"inclusion proof fails: the audit path leads to root {computed.hex()}, "
            f"not to the signed root {root.hex()}"
        )


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> None:
    """RFC 9162 §2.1.4.2; equal sizes need an empty proof and equal roots, size 0 is consistent with all."""
    if not 0 <= old_size <= new_size:
        raise VerificationError(f"a consistency proof needs 0 <= old size <= new size, not {old_size} and {new_size}")
    if old_size == new_size:
        if proof:
            raise VerificationError("a consistency proof between equal sizes must be empty")
        if old_root != new_root:
            raise VerificationError(f"the two digests of size {old_size} sign different roots")
        return
    if old_size == 0:
        if proof:
            raise VerificationError("a consistency proof from the empty tree must be empty")
        return
    if not proof:
        raise VerificationError("the consistency proof is empty")
    path = list(proof)
    if old_size & (old_size - 1) == 0:
        path.insert(0, old_root)
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise VerificationError("consistency proof fails: it has more hashes than the sizes allow")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise VerificationError("consistency proof fails: it has fewer hashes than the sizes need")
    if fr != old_root:
        raise VerificationError(
            f"consistency proof fails: it rebuilds the old root {fr.hex()} of size {old_size}, "
            f"not the signed {old_root.hex()}: the first {old_size} entries changed"
        )
    if sr != new_root:
        raise VerificationError(
            f"consistency proof fails: it rebuilds the new root {sr.hex()} of size {new_size}, "
            f"not the signed {new_root.hex()}"
        )


# --- keys and signed digests -----------------------------------------------------------


def key_id(public_key_raw: bytes) -> str:
    """Lower-case hex SHA-256 of the raw 32-byte Ed25519 public key."""
    return hashlib.sha256(public_key_raw).hexdigest()


def load_public_key(value: str) -> bytes:
    """The raw 32-byte Ed25519 public key from a PEM file, a file holding base64 or hex, or the text itself."""
    text = value
    if "\n" not in value and len(value) < 4096:
        candidate = Path(value).expanduser()
        if candidate.is_file():
            text = candidate.read_text(encoding="ascii", errors="replace")
    text = text.strip()
    if text.startswith("-----BEGIN"):
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

        try:
            key = serialization.load_pem_public_key(text.encode("ascii"))
        except ValueError as exc:
            raise VerificationError(f"the public key PEM cannot be read: {exc}") from exc
        if not isinstance(key, Ed25519PublicKey):
            raise VerificationError("the public key is not an Ed25519 key")
        return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    raw: bytes | None = None
    if re.fullmatch(r"[0-9a-fA-F]{64}", text):
        raw = bytes.fromhex(text)
    else:
        try:
            raw = base64.b64decode(text, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != 32:
        raise VerificationError(
            "the public key must be a PEM file, or 32 raw bytes as 64 hex digits or base64 (44 characters)"
        )
    return raw


def digest_signing_bytes(tree_size: int, root_hash: str, timestamp: str, key_id_: str) -> bytes:
    """The exact bytes a digest's Ed25519 signature covers: five lines, ASCII, each ending in LF."""
    return (
        f"{DIGEST_FORMAT}\n"
        f"tree_size:{tree_size}\n"
        f"root_hash:{root_hash}\n"
        f"timestamp:{timestamp}\n"
        f"key_id:{key_id_}\n"
    ).encode("ascii")


def check_digest_fields(digest: Any, what: str = "digest") -> None:
    if not isinstance(digest, dict):
        raise VerificationError(f"the {what} is not a JSON object")
    if digest.get("format", DIGEST_FORMAT) != DIGEST_FORMAT:
        raise VerificationError(f"the {what} has format {digest.get('format')!r}, not {DIGEST_FORMAT!r}")
    size = digest.get("tree_size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise VerificationError(f"the {what}'s tree_size must be a whole number >= 0")
    for name, pattern, shape in (
        ("root_hash", _HEX64, "64 lower-case hex digits"),
        ("key_id", _HEX64, "64 lower-case hex digits"),
        ("timestamp", _TIMESTAMP, "UTC time as YYYY-MM-DDTHH:MM:SSZ"),
    ):
        if not isinstance(digest.get(name), str) or not pattern.match(digest[name]):
            raise VerificationError(f"the {what}'s {name} must be {shape}")
    if digest.get("algorithm", SIGNATURE_ALGORITHM) != SIGNATURE_ALGORITHM:
        raise VerificationError(f"the {what} is signed with {digest.get('algorithm')!r}, not {SIGNATURE_ALGORITHM}")
    if not isinstance(digest.get("signature"), str):
        raise VerificationError(f"the {what} has no signature")


def verify_digest(digest: Any, public_key_raw: bytes, what: str = "digest") -> bytes:
    """Check a signed digest against the public key; returns its root hash (bytes)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    check_digest_fields(digest, what)
    expected_id = key_id(public_key_raw)
    if digest["key_id"] != expected_id:
        raise VerificationError(
            f"the {what} names signing key {digest['key_id'][:16]}…, but the public key given is "
            f"{expected_id[:16]}…: it was signed with another key"
        )
    try:
        signature = base64.b64decode(digest["signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise VerificationError(f"the {what}'s signature is not base64") from exc
    message = digest_signing_bytes(digest["tree_size"], digest["root_hash"], digest["timestamp"], digest["key_id"])
    try:
        Ed25519PublicKey.from_public_bytes(public_key_raw).verify(signature, message)
    except InvalidSignature as exc:
        raise VerificationError(
            f"the {what}'s signature is invalid: the digest (size {digest['tree_size']}, root "
            f"{digest['root_hash'][:16]}…, time {digest['timestamp']}) or its signature was altered, "
            "or it was not signed by this key"
        ) from exc
    return bytes.fromhex(digest["root_hash"])


# --- whole documents -------------------------------------------------------------------


@dataclass
class Verified:
    """What was checked; ``lines`` are printed by the command line."""

    kind: str
    tree_size: int
    root_hash: str
    lines: list[str] = field(default_factory=list)


def _hashes(value: Any, what: str) -> list[bytes]:
    if not isinstance(value, list) or not all(isinstance(h, str) and _HEX64.match(h) for h in value):
        raise VerificationError(f"the {what} must be a list of 64-digit lower-case hex hashes")
    return [bytes.fromhex(h) for h in value]


def _int(document: dict[str, Any], name: str) -> int:
    value = document.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise VerificationError(f"the proof's {name} must be a whole number >= 0")
    return value


def _trusted_digest(size: int, embedded: Any, saved: Sequence[dict[str, Any]], public_key_raw: bytes,
                    what: str, out: list[str]) -> bytes:
    """The root to trust for a tree size: the auditor's saved digest when one is for this size."""
    root: bytes | None = None
    if embedded is not None:
        name = f"proof's {what} digest" if what else "proof's digest"
        root = verify_digest(embedded, public_key_raw, name)
        if embedded["tree_size"] != size:
            raise VerificationError(f"the {name} is for tree size {embedded['tree_size']}, not {size}")
        out.append(f"signature of the {name} (size {size}) is valid")
    for digest in saved:
        if digest["tree_size"] != size:
            continue
        saved_root = bytes.fromhex(digest["root_hash"])
        if root is not None and saved_root != root:
            raise VerificationError(
                f"the saved digest of tree size {size} (signed {digest['timestamp']}) has root "
                f"{digest['root_hash'][:16]}…, but the server now signs root {root.hex()[:16]}… for that size: "
                f"the journal's first {size} entries were changed after the saved digest was made"
            )
        out.append(f"the saved digest (size {size}, signed {digest['timestamp']}) is the trusted root")
        return saved_root
    if root is None:
        raise VerificationError(f"no digest for tree size {size}: give one with --digest")
    return root


def _same_root(document: dict[str, Any], name: str, trusted: bytes) -> None:
    """The proof's unsigned copy of a root, when it has one, must be the signed root."""
    if name in document and document[name] != trusted.hex():
        raise VerificationError(f"the proof's {name} {str(document[name])[:16]}… is not the signed root "
                                f"{trusted.hex()[:16]}…")


def verify_inclusion_document(document: dict[str, Any], public_key_raw: bytes,
                              saved_digests: Sequence[dict[str, Any]] = (), event: Any = None) -> Verified:
    lines: list[str] = []
    index, size = _int(document, "leaf_index"), _int(document, "tree_size")
    for digest in saved_digests:
        if digest["tree_size"] != size:
            raise VerificationError(
                f"the saved digest is for tree size {digest['tree_size']}, but the proof is for tree size {size}: "
                f"ask for the proof at that size (ledger proof inclusion EVENT_ID --size {digest['tree_size']})"
            )
    root = _trusted_digest(size, document.get("digest"), saved_digests, public_key_raw, "", lines)
    leaf_text = document.get("leaf")
    if not isinstance(leaf_text, str):
        raise VerificationError("the proof has no leaf (the entry's canonical JSON as a string)")
    leaf = leaf_text.encode("utf-8")
    computed_leaf_hash = leaf_hash(leaf)
    if "leaf_hash" in document and document["leaf_hash"] != computed_leaf_hash.hex():
        raise VerificationError(
            f"the proof's leaf_hash {str(document['leaf_hash'])[:16]}… is not SHA-256(0x00 || leaf) = "
            f"{computed_leaf_hash.hex()[:16]}…: the leaf was altered"
        )
    try:
        entry = json.loads(leaf_text)
    except json.JSONDecodeError as exc:
        raise VerificationError(f"the leaf is not JSON: {exc}") from exc
    if not isinstance(entry, dict) or set(entry) != set(HASHED_FIELDS):
        raise VerificationError(f"the leaf must be a JSON object with exactly the fields {', '.join(HASHED_FIELDS)}")
    if canonical_json(entry) != leaf:
        raise VerificationError("the leaf is not in canonical form (sorted keys, no whitespace, UTF-8)")
    if entry["position"] != index + 1:
        raise VerificationError(
            f"the entry says journal position {entry['position']}, but the proof places it at leaf {index} "
            f"(position {index + 1}): the journal's order was changed"
        )
    if "event_id" in document and document["event_id"] != entry["event_id"]:
        raise VerificationError(
            f"the proof is for event {document['event_id']}, but its leaf holds event {entry['event_id']}"
        )
    computed = root_from_inclusion_proof(index, size, computed_leaf_hash, _hashes(document.get("audit_path"),
                                                                                   "audit_path"))
    if computed != root:
        raise VerificationError(
            f"inclusion proof fails: the event and audit path lead to root {computed.hex()[:16]}…, not to the "
            f"signed root {root.hex()[:16]}… of size {size}: the event or the journal differs from what was signed"
        )
    _same_root(document, "root_hash", root)
    lines.append(f"event {entry['event_id']} ({entry['kind']}) is leaf {index} (position {index + 1}) "
                 f"of the tree of size {size}")
    if event is not None:
        compare_event(entry, event)
        lines.append("the event you hold is exactly the included entry")
    return Verified("inclusion", size, root.hex(), lines)


def compare_event(entry: dict[str, Any], event: Any) -> None:
    """The auditor's copy of the event: an entry (with ``payload``) or the bare event payload."""
    if not isinstance(event, dict):
        raise VerificationError("the event to compare must be a JSON object")
    if "payload" in event:
        theirs = {k: event.get(k) for k in HASHED_FIELDS}
        ours = entry
    else:
        theirs, ours = event, entry["payload"]
    differing = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
    if differing:
        raise VerificationError(f"the event you hold differs from the included entry in: {', '.join(differing)}")


def verify_consistency_document(document: dict[str, Any], public_key_raw: bytes,
                                saved_digests: Sequence[dict[str, Any]] = ()) -> Verified:
    lines: list[str] = []
    old, new = _int(document, "old_size"), _int(document, "new_size")
    for digest in saved_digests:
        if digest["tree_size"] not in (old, new):
            raise VerificationError(
                f"the saved digest is for tree size {digest['tree_size']}, but the proof is between sizes "
                f"{old} and {new}: ask for `ledger proof consistency {digest['tree_size']} NEW_SIZE`"
            )
    old_root = _trusted_digest(old, document.get("old_digest"), saved_digests, public_key_raw, "old", lines)
    new_root = _trusted_digest(new, document.get("new_digest"), saved_digests, public_key_raw, "new", lines)
    verify_consistency(old, new, old_root, new_root, _hashes(document.get("proof"), "proof"))
    _same_root(document, "old_root_hash", old_root)
    _same_root(document, "new_root_hash", new_root)
    lines.append(f"the tree of size {new} extends the tree of size {old}: the first {old} entries are unchanged")
    return Verified("consistency", new, new_root.hex(), lines)


def verify_document(document: Any, public_key_raw: bytes, saved_digests: Sequence[Any] = (),
                    event: Any = None) -> Verified:
    """Verify an inclusion proof, a consistency proof or a bare digest."""
    if not isinstance(document, dict):
        raise VerificationError("the proof is not a JSON object")
    for i, digest in enumerate(saved_digests):
        verify_digest(digest, public_key_raw, "saved digest" if len(saved_digests) == 1 else f"saved digest {i + 1}")
    kind = document.get("format")
    if kind == INCLUSION_FORMAT:
        result = verify_inclusion_document(document, public_key_raw, saved_digests, event)
    elif kind == CONSISTENCY_FORMAT:
        result = verify_consistency_document(document, public_key_raw, saved_digests)
    elif kind == DIGEST_FORMAT or ("root_hash" in document and "signature" in document):
        root = verify_digest(document, public_key_raw)
        result = Verified("digest", document["tree_size"], root.hex(),
                          [f"signature of the digest (size {document['tree_size']}) is valid"])
        for digest in saved_digests:
            if digest["tree_size"] == document["tree_size"] and digest["root_hash"] != document["root_hash"]:
                raise VerificationError(f"the saved digest and this digest sign different roots for size "
                                        f"{document['tree_size']}")
    else:
        raise VerificationError(f"unknown proof format {kind!r}")
    if saved_digests:
        result.lines.insert(0, "signature of the saved digest is valid" if len(saved_digests) == 1
                            else f"signatures of the {len(saved_digests)} saved digests are valid")
    return result


def read_json(path: str | Path, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise VerificationError(f"cannot read the {what} {path}: {exc.strerror}") from exc
    except json.JSONDecodeError as exc:
        raise VerificationError(f"the {what} {path} is not JSON: {exc}") from exc


def verify_files(proof: str | Path, public_key: str, digests: Sequence[str | Path] = (),
                 event: str | Path | None = None) -> Verified:
    return verify_document(
        read_json(proof, "proof"),
        load_public_key(public_key),
        [read_json(d, "saved digest") for d in digests],
        read_json(event, "event") if event is not None else None,
    )


def main(argv: Sequence[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="verifier", description="Check a grant-ledger proof with no database.")
    parser.add_argument("proof", help="inclusion proof, consistency proof or digest (JSON file)")
    parser.add_argument("--public-key", required=True, help="PEM file, or the key as hex or base64")
    parser.add_argument("--digest", action="append", default=[], help="a digest you saved earlier (repeatable)")
    parser.add_argument("--event", help="your copy of the event (JSON) to compare with the included entry")
    args = parser.parse_args(argv)
    try:
        result = verify_files(args.proof, args.public_key, args.digest, args.event)
    except VerificationError as exc:
        print(f"FAILED: {exc}", file=sys.stderr)
        return 1
    for line in result.lines:
        print(f"ok: {line}")
    print(f"VERIFIED {result.kind}: tree size {result.tree_size}, root {result.root_hash}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
