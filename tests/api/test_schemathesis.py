"""Property-based tests of the API against its own OpenAPI document (schemathesis, in process).

Schemathesis loads ``/openapi.json`` from the ASGI app and, for every operation, generates
requests from the document. With each key (appender, auditor, admin) no answer may be a
5xx, every answer must be a status the document lists, with a documented content type and
a body that fits the documented schema; and no answer may contain a key's secret. Invalid
requests (negative mode, with the admin key so they reach every route) must never give a
5xx either. The documented examples are then sent as they are: each is recorded (201). Bounded for CI: ``MAX_EXAMPLES``
per operation, on SQLite and PostgreSQL.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from ledger.examples import EXAMPLES, agreement_example
from ledger.signing import SigningKey
from tests.api.conftest import Keys
from tests.api.helpers import A2020

MAX_EXAMPLES = 10
CONFORMANCE = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def _no_secret_check(keys: Keys) -> Any:
    def no_secret_in_response(ctx: Any, response: Any, case: Any) -> None:
        for token in keys.tokens:
            assert token.split(".", 1)[1].encode() not in response.content, "a key's secret is in the response"

    return no_secret_in_response


def _fuzz(schema: Any, token: str, checks: list[Any], mode: schemathesis.GenerationMode) -> list[str]:
    """Run every operation; return one report per operation that failed."""
    failures = []
    for result in schema.get_all_operations():
        operation = result.ok()

        @settings(max_examples=MAX_EXAMPLES, deadline=None, database=None, phases=[Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(generation_mode=mode))
        def run(case: Any) -> None:
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=checks)

        try:
            run()
        except Unsatisfiable:
            continue  # nothing to negate (no parameters, no body): the positive run covers it
        except Exception as exc:  # noqa: BLE001 - collect every operation's failure, then fail once
            failures.append(f"{operation.label} ({mode.value}):\n{exc}")
    return failures


@pytest.fixture
def schema(loaded_ledger: Any) -> Any:
    # A signing key of its own, as `ledger serve` makes one: the proof endpoints answer, whatever
    # key file the working directory may hold.
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(loaded_ledger, SigningKey.generate()))


@pytest.mark.parametrize("role", ["appender", "auditor", "admin"])
def test_generated_requests_get_documented_answers_and_no_5xx(schema, keys, role):
    token = getattr(keys, role)
    failures = _fuzz(schema, token, [*CONFORMANCE, _no_secret_check(keys)], schemathesis.GenerationMode.POSITIVE)
    assert not failures, "\n\n".join(failures)


def test_invalid_requests_never_get_a_5xx(schema, keys):
    """With the admin key, which may append and read, so that invalid input reaches every route."""
    failures = _fuzz(schema, keys.admin, [not_a_server_error, _no_secret_check(keys)],
                     schemathesis.GenerationMode.NEGATIVE)
    assert not failures, "\n\n".join(failures)


def test_the_documented_examples_are_accepted_and_answered_as_documented(schema, keys):
    """Every example body in the document is recorded (201, fitting the schema), then read back."""
    append = schema["/v1/events"]["POST"]
    checks = [*CONFORMANCE, _no_secret_check(keys)]
    bodies = [*EXAMPLES.values(), agreement_example("agreement_amended")]
    for number, body in enumerate(bodies):
        headers = {"Authorization": f"Bearer {keys.appender}", "Idempotency-Key": f"example-{number}"}
        for _ in range(2):  # the second is a replay: the same documented 201
            response = append.Case(body=body, headers=headers, media_type="application/json").call_and_validate(
                checks=checks)
            assert response.status_code == 201, response.text
    batch = schema["/v1/events/batch"]["POST"]
    body = {"events": [dict(EXAMPLES["recipient_renamed"], event_id="6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4eff",
                            effective_date="2020-01-01")]}
    response = batch.Case(body=body, media_type="application/json",
                          headers={"Authorization": f"Bearer {keys.appender}", "Idempotency-Key": "batch"}
                          ).call_and_validate(checks=checks)
    assert response.status_code == 201

    reads = {
        "/v1/events/{event_id}": {"event_id": EXAMPLES["payout_made"]["event_id"]},
        "/v1/agreements/{agreement_id}": {"agreement_id": A2020},
        "/v1/recipients/{recipient_id}": {"recipient_id": "skr"},
    }
    for path, parameters in reads.items():
        response = schema[path]["GET"].Case(path_parameters=parameters,
                                            headers={"Authorization": f"Bearer {keys.auditor}"}
                                            ).call_and_validate(checks=checks)
        assert response.status_code == 200, (path, response.text)
    for path in ("/v1/events", "/v1/balances", "/v1/due-back", "/v1/reclaims", "/v1/obligations", "/v1/findings"):
        for fmt in ("json", "csv"):
            response = schema[path]["GET"].Case(query={"format": fmt, "as_of": "2021-12-31"},
                                                headers={"Authorization": f"Bearer {keys.auditor}"}
                                                ).call_and_validate(checks=checks)
            assert response.status_code == 200, (path, fmt)
