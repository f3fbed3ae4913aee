"""Proof endpoints: signed digests, inclusion and consistency proofs, the public key.

An outside auditor saves a digest, later asks for a consistency proof from that size to
the head, and checks both with ledger/verifier.py, which needs no database and trusts
nothing but the public key (docs/verification.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import FastAPI, Query

from api.problems import ApiProblem, problem_responses
from ledger.application import Ledger
from ledger.proofs import EventNotFound, ProofError, consistency, digest_at, inclusion
from ledger.signing import SigningKey, SigningKeyError

Size = Annotated[int | None, Query(ge=1, le=10**12, description="Tree size (number of entries); default the head")]


def load_signing_key(explicit: SigningKey | None = None) -> SigningKey | None:
    """The given key, else the configured key file (LEDGER_SIGNING_KEY), else None."""
    if explicit is not None:
        return explicit
    try:
        return SigningKey.load()
    except SigningKeyError:
        return None


def install_proofs(app: FastAPI, ledger: Ledger, reader: Any, signing_key: SigningKey | None) -> None:
    def key() -> SigningKey:
        if signing_key is None:
            raise ApiProblem(503, "no signing key is configured: run `ledger signing-key init` and restart")
        return signing_key

    def answer(function: Any, *args: Any) -> dict[str, Any]:
        ledger.catch_up()
        try:
            return function(ledger, *args)
        except EventNotFound as exc:
            raise ApiProblem(404, str(exc)) from exc
        except ProofError as exc:
            raise ApiProblem(422, str(exc)) from exc

    errors = problem_responses(401, 403, 404, 422, 503)

    @app.get("/v1/proofs/public-key", tags=["proofs"], responses=errors)
    def public_key(_: Any = reader) -> dict[str, str]:
        """The ledger's Ed25519 public key, which signs every digest."""
        return key().public_info()

    @app.get("/v1/proofs/digest", tags=["proofs"], responses=errors)
    def digest(size: Size = None, _: Any = reader) -> dict[str, Any]:
        """The signed digest (tree size, root hash, time) at the head or at an earlier size."""
        return answer(digest_at, size, key())

    @app.get("/v1/proofs/inclusion/{event_id}", tags=["proofs"], responses=errors)
    def inclusion_proof(event_id: str, size: Size = None, _: Any = reader) -> dict[str, Any]:
        """The audit path proving the event is in the tree of the given size, with that size's signed digest."""
        return answer(inclusion, event_id, size, key())

    @app.get("/v1/proofs/consistency", tags=["proofs"], responses=errors)
    def consistency_proof(old_size: Annotated[int, Query(ge=1, le=10**12)], new_size: Size = None,
                          _: Any = reader) -> dict[str, Any]:
        """The proof that the tree of new_size extends, unchanged, the tree of old_size."""
        return answer(consistency, old_size, new_size, key())
