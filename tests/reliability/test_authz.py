"""The authorisation matrix: every operation in the app's OpenAPI × every caller.

Callers: no key, a malformed token, another scheme (Basic), an unknown key id, a wrong
secret for a real key id, a revoked key, and the four working kinds of key (appender,
appender scoped to one agreement, auditor, admin). For each operation the table below
says which roles may call it and how to make a good and a bad request; the expected
status of every cell follows from it:

- a caller with no working key: 401 (with ``WWW-Authenticate: Bearer``) on every protected operation;
- a working key whose role may not call it (or a scoped key outside its scope): 403;
- a role that may: the success status for the good request, and for the bad request the
  input error (400/404/422), never 401/403.

An operation in the OpenAPI without a row in the table fails the test: a new endpoint
must be classified before it ships.
"""

from __future__ import annotations

import inspect
import uuid
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from ledger.examples import EXAMPLES
from tests.reliability.harness import A2020, A2021, make_keys, report

PUBLIC = "public"
READ = ("auditor", "admin")
APPEND = ("appender", "scoped", "admin")
ADMIN = ("admin",)
ROLES = ("appender", "scoped", "auditor", "admin")
NO_KEY = ("none", "malformed", "basic", "unknown", "wrong-secret", "revoked")


def _payout(agreement: str = A2020) -> dict[str, Any]:
    if agreement == A2021:
        event = dict(EXAMPLES["report_received"])
    else:
        event = dict(EXAMPLES["payout_made"])
        event.pop("requisition_event_id")
    event["event_id"] = str(uuid.uuid4())
    return event


@dataclass(frozen=True)
class Request:
    url: str
    body: Callable[[], Any] | None = None  # built per request (fresh event ids)
    idempotency: bool = True


@dataclass(frozen=True)
class Row:
    allowed: tuple[str, ...] | str
    good: Request
    good_status: int
    bad: Request | None = None  # a malformed request from a caller who may call it
    bad_status: int | None = None
    scoped_good: Request | None = None  # what a scoped appender may do (inside its scope)


TABLE: dict[tuple[str, str], Row] = {
    ("GET", "/health"): Row(PUBLIC, Request("/health"), 200),
    ("GET", "/ready"): Row(PUBLIC, Request("/ready"), 200),
    ("POST", "/v1/events"): Row(
        APPEND, Request("/v1/events", _payout), 201,
        Request("/v1/events", _payout, idempotency=False), 400,
        scoped_good=Request("/v1/events", lambda: _payout(A2021))),
    ("POST", "/v1/events/batch"): Row(
        APPEND, Request("/v1/events/batch", lambda: {"events": [_payout(), _payout()]}), 201,
        Request("/v1/events/batch", lambda: {"events": [_payout() | {"amount": -1}]}), 422,
        scoped_good=Request("/v1/events/batch", lambda: {"events": [_payout(A2021)]})),
    ("GET", "/v1/events"): Row(READ, Request("/v1/events?limit=5"), 200, Request("/v1/events?as_of=soon"), 422),
    ("GET", "/v1/events/{event_id}"): Row(READ, Request("/v1/events/{event_id}"), 200,
                                          Request(f"/v1/events/{uuid.uuid4()}"), 404),
    **{("GET", f"/v1/{view}"): Row(READ, Request(f"/v1/{view}?agreement_id={A2021}"), 200,
                                   Request(f"/v1/{view}?known_at=never"), 422)
       for view in ("balances", "due-back", "reclaims", "obligations", "findings")},
    ("GET", "/v1/agreements"): Row(READ, Request("/v1/agreements"), 200),
    ("GET", "/v1/agreements/{agreement_id}"): Row(READ, Request(f"/v1/agreements/{A2021}"), 200,
                                                  Request("/v1/agreements/no-such-agreement"), 404),
    ("GET", "/v1/recipients"): Row(READ, Request("/v1/recipients"), 200),
    ("GET", "/v1/recipients/{recipient_id}"): Row(READ, Request("/v1/recipients/region-skane"), 200,
                                                  Request("/v1/recipients/no-such-recipient"), 404),
    ("POST", "/v1/admin/agreements/load"): Row(ADMIN, Request("/v1/admin/agreements/load", lambda: {"names": []}), 200,
                                               Request("/v1/admin/agreements/load", lambda: {"names": ["nope"]}), 422),
    ("GET", "/v1/admin/keys"): Row(ADMIN, Request("/v1/admin/keys"), 200),
    ("GET", "/v1/proofs/public-key"): Row(READ, Request("/v1/proofs/public-key"), 200),
    ("GET", "/v1/proofs/digest"): Row(READ, Request("/v1/proofs/digest"), 200,
                                      Request("/v1/proofs/digest?size=0"), 422),
    ("GET", "/v1/proofs/inclusion/{event_id}"): Row(READ, Request("/v1/proofs/inclusion/{event_id}"), 200,
                                                    Request(f"/v1/proofs/inclusion/{uuid.uuid4()}"), 404),
    ("GET", "/v1/proofs/consistency"): Row(READ, Request("/v1/proofs/consistency?old_size=1"), 200,
                                           Request("/v1/proofs/consistency"), 422),
    ("GET", "/v1/reports/{name}"): Row(READ, Request(f"/v1/reports/due-back?format=csv&agreement_id={A2021}"), 200,
                                       Request("/v1/reports/no-such-report?format=csv"), 404),
}


def _token(caller: str, tokens: dict[str, str]) -> dict[str, str]:
    key_id = tokens["appender"].split(".")[0]
    header = {
        "none": None,
        "malformed": "Bearer not-a-key",
        "basic": "Basic YWRtaW46YWRtaW4=",
        "unknown": "Bearer lk_000000000000.secret",
        "wrong-secret": f"Bearer {key_id}.wrong-secret",
        "revoked": f"Bearer {tokens['revoked']}",
    }.get(caller, f"Bearer {tokens.get(caller, '')}")
    return {"Authorization": header} if header else {}


def _call(client: TestClient, method: str, request: Request, caller: str, tokens: dict[str, str],
          event_id: str) -> Any:
    headers = _token(caller, tokens)
    if request.idempotency and method == "POST":
        headers["Idempotency-Key"] = str(uuid.uuid4())
    url = request.url.replace("{event_id}", event_id)
    if method == "GET":
        return client.get(url, headers=headers)
    return client.post(url, json=request.body() if request.body else None, headers=headers)


def expected(row: Row, caller: str, variant: str) -> int:
    """The status a cell must answer: the matrix's rule, written once."""
    if row.allowed == PUBLIC:
        return row.good_status if variant == "good" else row.bad_status  # type: ignore[return-value]
    if caller in NO_KEY:
        return 401
    if caller not in row.allowed:
        return 403
    if caller == "scoped" and variant == "good":
        return 403  # the good request is for an agreement outside the scoped key's one agreement
    if variant == "scoped_good":
        return row.good_status
    return row.good_status if variant == "good" else row.bad_status  # type: ignore[return-value]


def _app(ledger: Any) -> Any:
    """The app, with a signing key for the proof endpoints when the app takes one."""
    if "signing_key" in inspect.signature(create_app).parameters:
        from ledger.signing import SigningKey

        return create_app(ledger, signing_key=SigningKey.generate())
    return create_app(ledger)


@pytest.fixture
def client_and_tokens(loaded_ledger):
    tokens = make_keys(loaded_ledger.config.url, load=False)
    return TestClient(_app(loaded_ledger), raise_server_exceptions=False), tokens, loaded_ledger


def test_every_operation_in_the_openapi_has_a_row():
    operations = _operations()
    missing = sorted(set(operations) - set(TABLE))
    assert not missing, f"classify these operations in TABLE (tests/reliability/test_authz.py): {missing}"
    stale = sorted(set(TABLE) - set(operations))
    assert not stale, f"TABLE rows for operations the API no longer has: {stale}"


def _operations() -> list[tuple[str, str]]:
    import tempfile

    from ledger.application import Ledger
    from ledger.config import database_config

    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(database_config(f"sqlite:///{folder}/openapi.sqlite"))
        try:
            spec = _app(ledger).openapi()
        finally:
            ledger.close()
    return [(method.upper(), path) for path, ops in spec["paths"].items() for method in ops]


def test_authorisation_matrix(client_and_tokens, backend):
    client, tokens, ledger = client_and_tokens
    event_id = ledger.list_events()[0]["event_id"]
    cells, wrong = 0, []
    for (method, path), row in TABLE.items():
        variants = [("good", row.good)]
        if row.bad is not None:
            variants.append(("bad", row.bad))
        if row.scoped_good is not None:
            variants.append(("scoped_good", row.scoped_good))
        for caller in (*NO_KEY, *ROLES):
            for variant, request in variants:
                if variant == "scoped_good" and caller != "scoped":
                    continue
                want = expected(row, caller, variant)
                response = _call(client, method, request, caller, tokens, event_id)
                cells += 1
                got = response.status_code
                if got != want:
                    wrong.append(f"{method} {path} [{caller}, {variant}]: expected {want}, got {got} "
                                 f"{response.text[:160]}")
                    continue
                if got in (401, 403) or got >= 400:
                    assert response.headers["content-type"].startswith("application/problem+json"), (path, caller)
                if got == 401:
                    assert response.headers.get("www-authenticate") == "Bearer", (path, caller)
                for token in tokens.values():  # no secret ever comes back
                    assert token.split(".")[1] not in response.text
    assert not wrong, "\n".join(wrong)
    report("authz_matrix", backend=backend, operations=len(TABLE), callers=len(NO_KEY) + len(ROLES), cells=cells)
