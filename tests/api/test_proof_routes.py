"""Proof endpoints: a digest, an inclusion proof and a consistency proof that verify offline."""

from fastapi.testclient import TestClient

from api.app import create_app, key_store_for
from ledger import verifier
from ledger.signing import SigningKey


def test_proofs_served_by_the_api_verify_without_the_database(loaded_ledger):
    signing = SigningKey.generate()
    client = TestClient(create_app(loaded_ledger, signing))
    _key, token = key_store_for(loaded_ledger).create("auditor", "auditor")
    headers = {"Authorization": f"Bearer {token}"}
    old = client.get("/v1/proofs/digest", params={"size": 10}, headers=headers).json()
    assert old["tree_size"] == 10
    event_id = loaded_ledger.list_events()[20]["event_id"]
    proof = client.get(f"/v1/proofs/inclusion/{event_id}", headers=headers).json()
    public = client.get("/v1/proofs/public-key", headers=headers).json()
    assert public["public_key_hex"] == signing.public_hex
    assert proof["event_id"] == event_id
    consistency = client.get("/v1/proofs/consistency", params={"old_size": 10}, headers=headers).json()
    assert consistency["old_size"] == 10
    # The auditor checks with nothing but the public key and what she saved.
    verifier.verify_document(proof, signing.public_raw)
    verifier.verify_document(consistency, signing.public_raw, [old])
    forged = dict(old, root_hash="00" * 32)
    try:
        verifier.verify_document(consistency, signing.public_raw, [forged])
    except verifier.VerificationError as exc:
        assert "signature" in str(exc) or "root" in str(exc)
    else:
        raise AssertionError("a forged saved digest verified")


def test_proof_endpoints_name_what_is_wrong(loaded_ledger):
    client = TestClient(create_app(loaded_ledger, SigningKey.generate()))
    _key, token = key_store_for(loaded_ledger).create("auditor", "auditor")
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/proofs/inclusion/00000000-0000-4000-8000-000000000000", headers=headers).status_code == 404
    too_big = client.get("/v1/proofs/consistency", params={"old_size": 10**9}, headers=headers)
    assert too_big.status_code == 422 and "fewer than the old size" in too_big.json()["detail"]
    assert client.get("/v1/proofs/digest", headers={}).status_code == 401
