"""Proofs an outside auditor checks without trusting the server, on both backends.

A journal of ten entries (positions 1-10, stored at originator versions 2-11) is proven
and then tampered with through raw SQL, as in test_journal_tamper.py; a fresh Ledger on
the same database then makes its proofs from what is stored, and the verifier, given a
digest saved before the tampering, must refuse them and say why. The command-line
verifier runs in a subprocess with LEDGER_DATABASE_URL pointing nowhere.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import importlib.util
import json
import os
import shutil
import stat
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ledger import journal as journal_module
from ledger import proofs
from ledger.application import Ledger
from ledger.cli import app
from ledger.config import database_config
from ledger.journal import canonical_json, entry_hash
from ledger.signing import SigningKey
from ledger.verifier import VerificationError, leaf_hash, verify_document
from ledger.verifier import canonical_json as verifier_canonical_json
from tests.conftest import raw_sql
from tests.tampering import delete, insert_row, set_state, state_at, table

ROOT = Path(__file__).resolve().parents[1]
N = 10
SEED = bytes.fromhex("4c" * 32)
NOWHERE = "sqlite:////nonexistent/dir/x.sqlite"


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey.from_seed(SEED)


def name(i: int) -> str:
    return f"Mottagare nummer {i:02d}"


def register(ledger: Ledger, i: int) -> str:
    event_id = str(uuid.uuid4())
    ledger.append([{"kind": "recipient_registered", "event_id": event_id, "effective_date": "2020-01-01",
                    "recipient_id": f"mottagare-{i:02d}", "recipient_kind": "other", "name": name(i)}], "tester")
    return event_id


@pytest.fixture
def journal(ledger: Ledger) -> Ledger:
    for i in range(1, N + 1):
        register(ledger, i)
    assert ledger.head()[0] == N
    return ledger


def event_ids(ledger: Ledger) -> list[str]:
    """Event ids by position (index 0 = position 1)."""
    return [row["event_id"] for row in ledger.list_events()]


# --- raw tampering (as tests/test_journal_tamper.py) --------------------------------------


def insert_before(ledger: Ledger, position: int, state: bytes) -> None:
    """Shift the entries from ``position`` on one place later and put ``state`` at ``position``."""
    for version in range(N + 1, position, -1):
        raw_sql(ledger, f"UPDATE {table(ledger)} SET originator_version = ? WHERE originator_version = ?",
                (version + 1, version))
    insert_row(ledger, position, state)


def fresh(ledger: Ledger) -> Ledger:
    return Ledger(database_config(ledger.config.url))


def check(document: dict[str, Any], key: SigningKey, saved: list[dict[str, Any]] | None = None,
          event: Any = None) -> list[str]:
    return verify_document(document, key.public_raw, saved or [], event).lines


def refused(document: dict[str, Any], key: SigningKey, saved: list[dict[str, Any]] | None = None,
            event: Any = None) -> str:
    with pytest.raises(VerificationError) as caught:
        check(document, key, saved, event)
    return str(caught.value)


# --- honest ledgers ---------------------------------------------------------------------------


def test_leaves_are_the_canonical_hashed_content_of_the_recorded_entries(journal: Ledger):
    tree = proofs.journal_tree(journal)
    assert tree.size == journal.head()[0] == N
    prev = journal_module.GENESIS_HASH
    for position in range(1, N + 1):
        row = journal.index.event_at(position)
        content = journal_module.hashed_content(position, row["event_id"], row["kind"], row["recorded_at"],
                                                row["recorded_by"], row["payload"])
        assert tree.tree.leaf_hash(position - 1) == hashlib.sha256(b"\x00" + canonical_json(content)).digest()
        assert entry_hash(prev, content) == row["hash"]  # the same bytes the hash chain hashes
        prev = row["hash"]


def test_every_event_of_a_loaded_ledger_has_an_inclusion_proof_that_verifies(loaded_ledger: Ledger, key: SigningKey):
    saved = proofs.latest_digest(loaded_ledger, key)
    rows = loaded_ledger.list_events()
    assert saved["tree_size"] == len(rows) > 50
    for row in rows:
        proof = proofs.inclusion(loaded_ledger, row["event_id"], key=key)
        lines = check(proof, key, [saved], event=row)
        assert f"is leaf {row['position'] - 1}" in lines[-2]
    earlier = proofs.digest_at(loaded_ledger, 20, key)
    for row in rows[:20]:
        check(proofs.inclusion(loaded_ledger, row["event_id"], 20, key), key, [earlier], event=row["payload"])
    with pytest.raises(proofs.ProofError, match="after the tree size 20"):
        proofs.inclusion(loaded_ledger, rows[20]["event_id"], 20, key)
    with pytest.raises(proofs.EventNotFound):
        proofs.inclusion(loaded_ledger, str(uuid.uuid4()), key=key)


def test_consistency_proofs_verify_for_every_pair_of_sizes(journal: Ledger, key: SigningKey):
    saved = {m: proofs.digest_at(journal, m, key) for m in range(1, N + 1)}
    for old in range(1, N + 1):
        for new in range(old, N + 1):
            document = proofs.consistency(journal, old, new, key)
            check(document, key)
            check(document, key, [saved[old], saved[new]])
    with pytest.raises(proofs.ProofError):
        proofs.consistency(journal, 0, N, key)
    with pytest.raises(proofs.ProofError):
        proofs.consistency(journal, 3, N + 1, key)


def test_the_tree_follows_appends_and_a_fresh_process_agrees(journal: Ledger, key: SigningKey):
    saved = proofs.latest_digest(journal, key)
    for i in range(N + 1, N + 6):
        register(journal, i)
    head = proofs.latest_digest(journal, key)
    assert head["tree_size"] == N + 5
    check(proofs.consistency(journal, N, None, key), key, [saved])
    other = fresh(journal)
    try:
        assert proofs.digest_at(other, N, key)["root_hash"] == saved["root_hash"]
        assert proofs.latest_digest(other, key)["root_hash"] == head["root_hash"]
    finally:
        other.close()


def test_the_empty_journal_has_the_empty_root(ledger: Ledger, key: SigningKey):
    digest = proofs.latest_digest(ledger, key)
    assert digest["tree_size"] == 0
    assert digest["root_hash"] == hashlib.sha256(b"").hexdigest()
    check(digest, key)


# --- tampered journals ------------------------------------------------------------------------


@pytest.fixture
def saved(journal: Ledger, key: SigningKey) -> dict[int, dict[str, Any]]:
    """Digests the auditor saved before anything was tampered with."""
    return {m: proofs.digest_at(journal, m, key) for m in (4, 8, N)}


def test_an_altered_event_fails_against_the_saved_digest(journal: Ledger, key: SigningKey, saved):
    ids = event_ids(journal)
    honest = proofs.inclusion(journal, ids[3], key=key)
    my_copy = journal.index.event_at(4)
    set_state(journal, 4, state_at(journal, 4).replace(name(4).encode(), b"Mottagare nummer 99"))
    tampered = fresh(journal)
    try:
        proof = proofs.inclusion(tampered, ids[3], N, key)
        assert "Mottagare nummer 99" in proof["leaf"]
        message = refused(proof, key, [saved[N]])
        assert "saved digest of tree size 10" in message and "were changed" in message
        # Even trusting the server's fresh signature, the auditor's own copy of the event disagrees.
        assert "differs from the included entry in: payload" in refused(proof, key, event=my_copy)
        # Other events' proofs and the consistency proof from an older saved digest fail too.
        assert "were changed" in refused(proofs.inclusion(tampered, ids[0], N, key), key, [saved[N]])
        assert "first 8 entries were changed" in refused(proofs.consistency(tampered, 8, N, key), key, [saved[8]])
        # The first three entries are untouched: a proof about them alone still verifies.
        check(proofs.consistency(tampered, 3, 3, key), key)
        # The honest proof, replayed with its old leaf, no longer matches what the server signs now.
        assert "were changed" in refused(honest, key, [proofs.digest_at(tampered, N, key)])
    finally:
        tampered.close()


def test_an_altered_event_with_a_recomputed_chain_hash_still_fails(journal: Ledger, key: SigningKey, saved):
    ids = event_ids(journal)
    record = json.loads(state_at(journal, 4))
    record["payload"]["name"] = "Mottagare nummer 99"
    content = {k: record[k] for k in ("position", "event_id", "kind", "recorded_at", "recorded_by", "payload")}
    record["hash"] = entry_hash(record["prev_hash"], content)
    set_state(journal, 4, json.dumps(record).encode())
    tampered = fresh(journal)
    try:
        assert "were changed" in refused(proofs.inclusion(tampered, ids[3], N, key), key, [saved[N]])
        message = refused(proofs.consistency(tampered, 4, N, key), key, [saved[4]])
        assert "first 4 entries were changed" in message
    finally:
        tampered.close()


def test_a_removed_event_fails(journal: Ledger, key: SigningKey, saved):
    ids = event_ids(journal)
    delete(journal, 5)
    tampered = fresh(journal)
    try:
        with pytest.raises(proofs.ProofError, match="removed"):
            proofs.inclusion(tampered, ids[4], key=key)
        # Every later entry moved one leaf up: its own position gives it away ...
        later = proofs.inclusion(tampered, ids[6], key=key)
        assert "says journal position 7, but the proof places it at leaf 5" in refused(later, key)
        # ... and the saved digest of 8 entries no longer matches the first 8 stored.
        assert "were changed" in refused(proofs.inclusion(tampered, ids[1], 8, key), key, [saved[8]])
        assert "first 8 entries were changed" in refused(proofs.consistency(tampered, 8, None, key), key, [saved[8]])
        # Nothing before the removal changed: the digest of 4 still extends to the new head.
        check(proofs.consistency(tampered, 4, None, key), key, [saved[4]])
        with pytest.raises(proofs.ProofError, match="fewer than the old size 10"):
            proofs.consistency(tampered, N, None, key)
    finally:
        tampered.close()


def test_a_removed_last_event_fails(journal: Ledger, key: SigningKey, saved):
    ids = event_ids(journal)
    delete(journal, N)
    tampered = fresh(journal)
    try:
        with pytest.raises(proofs.ProofError, match="fewer than the old size 10: entries were removed"):
            proofs.consistency(tampered, N, None, key)
        with pytest.raises(proofs.ProofError, match="the journal has 9 entries"):
            proofs.inclusion(tampered, ids[0], N, key)
        # A proof at the size the server still has cannot stand in for the saved one.
        message = refused(proofs.inclusion(tampered, ids[0], N - 1, key), key, [saved[N]])
        assert "saved digest is for tree size 10, but the proof is for tree size 9" in message
    finally:
        tampered.close()


def test_an_inserted_event_fails(journal: Ledger, key: SigningKey, saved):
    ids = event_ids(journal)
    forged = json.loads(state_at(journal, 6))
    forged_id = str(uuid.uuid4())
    forged.update(event_id=forged_id)
    forged["payload"].update(event_id=forged_id, name="Mottagare nummer 66", recipient_id="mottagare-66")
    insert_before(journal, 6, json.dumps(forged).encode())
    tampered = fresh(journal)
    try:
        assert proofs.journal_tree(tampered).size == N + 1
        assert "were changed" in refused(proofs.inclusion(tampered, ids[0], N, key), key, [saved[N]])
        assert "first 8 entries were changed" in refused(proofs.consistency(tampered, 8, None, key), key, [saved[8]])
        # Asking for event 6 by id gets the forged entry that now stands at position 6 ...
        at_six = proofs.inclusion(tampered, ids[5], key=key)
        assert f"its leaf holds event {forged_id}" in refused(at_six, key)
        # ... and the genuine entries after it stand one place later than they say.
        assert "the journal's order was changed" in refused(proofs.inclusion(tampered, ids[7], key=key), key)
        check(proofs.consistency(tampered, 4, None, key), key, [saved[4]])
    finally:
        tampered.close()


def test_reordered_events_fail(journal: Ledger, key: SigningKey, saved):
    ids = event_ids(journal)
    third, sixth = state_at(journal, 3), state_at(journal, 6)
    set_state(journal, 3, sixth)
    set_state(journal, 6, third)
    tampered = fresh(journal)
    try:
        proof = proofs.inclusion(tampered, ids[2], N, key)
        assert "says journal position 6, but the proof places it at leaf 2" in refused(proof, key)
        assert "were changed" in refused(proof, key, [saved[N]])
        assert "first 4 entries were changed" in refused(proofs.consistency(tampered, 4, N, key), key, [saved[4]])
    finally:
        tampered.close()


# --- altered digests, signatures and proofs -----------------------------------------------------


def test_an_altered_digest_or_signature_fails(journal: Ledger, key: SigningKey, saved):
    ids = event_ids(journal)
    proof = proofs.inclusion(journal, ids[2], N, key)
    check(proof, key, [saved[N]])

    def altered(digest: dict[str, Any], **changes: Any) -> dict[str, Any]:
        return {**digest, **changes}

    other_root = hashlib.sha256(b"another journal").hexdigest()
    for bad in (
        altered(saved[N], root_hash=other_root),
        altered(saved[N], timestamp="2001-01-01T00:00:00Z"),
    ):
        assert "saved digest's signature is invalid" in refused(proof, key, [bad])
    signature = bytearray(base64.b64decode(saved[N]["signature"]))
    signature[0] ^= 1
    flipped = altered(saved[N], signature=base64.b64encode(bytes(signature)).decode())
    assert "saved digest's signature is invalid" in refused(proof, key, [flipped])
    assert "signature is not base64" in refused(proof, key, [altered(saved[N], signature="not base64!")])
    assert "signed with another key" in refused(proof, key, [altered(saved[N], key_id="0" * 64)])
    assert "root_hash must be" in refused(proof, key, [altered(saved[N], root_hash="XYZ")])

    # The digest inside the proof: altered root, size or signature.
    inner = copy.deepcopy(proof)
    inner["digest"]["root_hash"] = other_root
    assert "proof's digest's signature is invalid" in refused(inner, key)
    inner = copy.deepcopy(proof)
    inner["digest"]["signature"] = saved[8]["signature"]
    assert "proof's digest's signature is invalid" in refused(inner, key)

    # A digest with a changed size and a matching forged signature needs the private key:
    # signed with another key, it is refused for its key id, and for its signature if the id is copied.
    impostor = SigningKey.from_seed(b"\x01" * 32)
    forged = impostor.sign_digest(N, bytes.fromhex(other_root))
    assert "signed with another key" in refused(proof, key, [forged])
    assert "signature is invalid" in refused(proof, key, [altered(forged, key_id=key.key_id)])

    # The bare digest file.
    check(saved[N], key)
    assert "signature is invalid" in refused(altered(saved[N], tree_size=N - 1), key)


def test_an_altered_proof_fails(journal: Ledger, key: SigningKey, saved):
    ids = event_ids(journal)
    proof = proofs.inclusion(journal, ids[2], N, key)
    bad = copy.deepcopy(proof)
    bad["audit_path"][1] = "0" * 64
    assert "inclusion proof fails" in refused(bad, key, [saved[N]])
    bad = copy.deepcopy(proof)
    bad["audit_path"] = bad["audit_path"][:-1]
    assert "too short" in refused(bad, key, [saved[N]])
    bad = copy.deepcopy(proof)
    bad["leaf"] = bad["leaf"].replace(name(3), "Mottagare nummer 99")
    assert "the leaf was altered" in refused(bad, key, [saved[N]])
    del bad["leaf_hash"]
    assert "inclusion proof fails" in refused(bad, key, [saved[N]])
    bad = copy.deepcopy(proof)
    bad["leaf_index"] = 3
    assert "order was changed" in refused(bad, key, [saved[N]])
    bad = copy.deepcopy(proof)
    bad["root_hash"] = "0" * 64
    assert "root_hash" in refused(bad, key, [saved[N]])

    consistency = proofs.consistency(journal, 4, N, key)
    bad = copy.deepcopy(consistency)
    bad["proof"][0] = "0" * 64
    assert "consistency proof fails" in refused(bad, key, [saved[4]])
    assert "saved digest is for tree size 8" in refused(consistency, key, [saved[8]])


# --- the command line, with no database for the verifier ---------------------------------------


def test_signing_key_init_creates_a_private_key_and_refuses_to_overwrite(tmp_path: Path, monkeypatch):
    runner = CliRunner()
    path = tmp_path / "key.pem"
    result = runner.invoke(app, ["signing-key", "init", "--path", str(path)])
    assert result.exit_code == 0, result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    key = SigningKey.load(path)
    assert key.public_hex in result.stdout and key.public_base64 in result.stdout and key.key_id in result.stdout
    before = path.read_bytes()
    again = runner.invoke(app, ["signing-key", "init", "--path", str(path)])
    assert again.exit_code == 2
    assert "refusing to overwrite" in again.output
    assert path.read_bytes() == before
    monkeypatch.setenv("LEDGER_SIGNING_KEY", str(tmp_path / "from-env.pem"))
    assert runner.invoke(app, ["signing-key", "init"]).exit_code == 0
    assert (tmp_path / "from-env.pem").exists()
    shown = runner.invoke(app, ["signing-key", "show", "--pem"])
    assert shown.stdout.startswith("-----BEGIN PUBLIC KEY-----")


def test_digest_without_a_signing_key_says_how_to_make_one(journal: Ledger, tmp_path: Path):
    result = CliRunner().invoke(app, ["digest", "--key", str(tmp_path / "missing.pem"),
                                      "--database-url", journal.config.url])
    assert result.exit_code == 2
    assert "ledger signing-key init" in result.output


def run_without_database(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LEDGER_", "POSTGRES", "PG"))}
    env["LEDGER_DATABASE_URL"] = NOWHERE
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


def test_the_command_line_verifier_needs_no_database(journal: Ledger, key: SigningKey, tmp_path: Path):
    runner = CliRunner()
    auditor = tmp_path / "auditor"  # the auditor's files; the verifier runs here
    auditor.mkdir()
    key_file = tmp_path / "signing.pem"
    key.save(key_file)
    url = ["--database-url", journal.config.url, "--key", str(key_file)]
    ids = event_ids(journal)

    def save(name: str, args: list[str]) -> Path:
        result = runner.invoke(app, [*args, *url])
        assert result.exit_code == 0, result.output
        path = auditor / name
        path.write_text(result.stdout, encoding="utf-8")
        return path

    digest8 = save("digest-8.json", ["digest", "--size", "8"])
    head = save("digest-head.json", ["digest"])
    inclusion = save("inclusion.json", ["proof", "inclusion", ids[6], "--size", "8"])
    consistency = save("consistency.json", ["proof", "consistency", "8", str(N)])
    public = auditor / "ledger.pub"
    public.write_text(key.public_pem, encoding="ascii")
    event = auditor / "event.json"
    event.write_text(json.dumps(journal.index.event_at(7)), encoding="utf-8")

    cli = [sys.executable, "-m", "ledger.cli", "verify-proof"]
    ok = run_without_database([*cli, str(inclusion), "--public-key", str(public), "--digest", str(digest8),
                               "--event", str(event)], auditor)
    assert ok.returncode == 0, ok.stderr
    assert "VERIFIED inclusion: tree size 8" in ok.stdout
    assert "the event you hold is exactly the included entry" in ok.stdout
    ok = run_without_database([*cli, str(consistency), "--public-key", key.public_hex, "--digest", str(digest8),
                               "--digest", str(head)], auditor)
    assert ok.returncode == 0, ok.stderr
    assert "extends the tree of size 8" in ok.stdout

    document = json.loads(digest8.read_text())
    document["root_hash"] = "0" * 64
    altered = auditor / "altered.json"
    altered.write_text(json.dumps(document))
    failed = run_without_database([*cli, str(inclusion), "--public-key", key.public_base64, "--digest",
                                   str(altered)], auditor)
    assert failed.returncode == 1
    assert "FAILED" in failed.stderr and "saved digest's signature is invalid" in failed.stderr
    assert not Path("/nonexistent").exists()
    assert sorted(p.name for p in auditor.iterdir()) == sorted(  # no database file appeared
        ["digest-8.json", "digest-head.json", "inclusion.json", "consistency.json", "ledger.pub", "event.json",
         "altered.json"])


def test_the_verifier_file_runs_alone_without_any_database_module(journal: Ledger, key: SigningKey,
                                                                  tmp_path: Path):
    ids = event_ids(journal)
    (tmp_path / "proof.json").write_text(json.dumps(proofs.inclusion(journal, ids[0], key=key)))
    (tmp_path / "digest.json").write_text(json.dumps(proofs.latest_digest(journal, key)))
    shutil.copy(ROOT / "ledger" / "verifier.py", tmp_path / "verifier.py")
    blocked = ["ledger", "eventsourcing", "psycopg", "psycopg_pool", "sqlite3", "projections", "api"]
    runner = (
        "import runpy, sys\n"
        f"for name in {blocked!r}: sys.modules[name] = None\n"
        "sys.argv = ['verifier.py', 'proof.json', '--public-key', sys.argv[1], '--digest', 'digest.json']\n"
        "runpy.run_path('verifier.py', run_name='__main__')\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEDGER_")}
    env["LEDGER_DATABASE_URL"] = NOWHERE
    done = subprocess.run([sys.executable, "-I", "-c", runner, key.public_hex], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "VERIFIED inclusion" in done.stdout


# --- docs/verification.md -------------------------------------------------------------------------


def _vectors():
    spec = importlib.util.spec_from_file_location("generate_verification_vectors",
                                                  ROOT / "docs" / "generate_verification_vectors.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_documented_test_vectors_are_recomputed_exactly():
    vectors = _vectors()
    text = (ROOT / "docs" / "verification.md").read_text(encoding="utf-8")
    assert vectors.current_section(text) == vectors.render(), (
        "docs/verification.md's test vectors are out of date: run python docs/generate_verification_vectors.py"
    )
    key = vectors.test_key()
    # RFC 8032 §7.1 test 1: the published public key of the published secret key.
    assert key.public_hex == "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
    for name, document in vectors.documents().items():
        check(document, key)
        assert json.dumps(document, ensure_ascii=False, indent=2) in text, name
    # The documented leaf hashes, recomputed from the documented bytes with nothing but hashlib.
    for leaf in vectors.leaves():
        expected = hashlib.sha256(b"\x00" + leaf).hexdigest()
        assert f"`{expected}`" in text
        assert leaf.decode("utf-8") in text


def test_the_verifier_serialises_exactly_as_the_journal_does():
    tricky = {"ö": "Region Skåne", "b": [1, -2, None, True], "a": {"z": "\n\t\"\\\x01", "y": "€𝄞"}, "n": 10**15}
    assert verifier_canonical_json(tricky) == journal_module.canonical_json(tricky)
    assert verifier_canonical_json(tricky) == (
        '{"a":{"y":"€𝄞","z":"\\n\\t\\"\\\\\\u0001"},"b":[1,-2,null,true],"n":1000000000000000,"ö":"Region Skåne"}'
    ).encode("utf-8")
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
