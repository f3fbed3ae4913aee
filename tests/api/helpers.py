"""Small helpers shared by the API tests."""

from __future__ import annotations

import copy
import uuid
from typing import Any

from fastapi.testclient import TestClient
from httpx import Response

from ledger.application import Ledger
from ledger.examples import EXAMPLES

PROBLEM = "application/problem+json"
A2020 = "god-och-nara-vard-2020"


def auth(token: str, idempotency_key: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if idempotency_key is not None:
        headers["Idempotency-Key"] = idempotency_key
    return headers


def event(example: str = "requisition_received", **changes: Any) -> dict[str, Any]:
    """A valid event like the example of a kind (ledger/examples.py) with a fresh id, changed as asked.

    Kinds that must refer to another recorded event (reclaim_settled, event_retracted) need
    their reference set by the caller."""
    body = copy.deepcopy(EXAMPLES[example])
    body["event_id"] = str(uuid.uuid4())
    body.pop("requisition_event_id", None)  # the example's requisition need not be recorded
    body.update(changes)
    return body


def post(client: TestClient, token: str, body: Any, key: str | None = None, batch: bool = False) -> Response:
    """Append one event (or a batch) with an Idempotency-Key (a fresh one unless given)."""
    path = "/v1/events/batch" if batch else "/v1/events"
    return client.post(path, json=body, headers=auth(token, key if key is not None else str(uuid.uuid4())))


def journal_length(ledger: Ledger) -> int:
    """How many entries the journal holds, counted in the event store itself (not the index).

    Not ``max_notification_id``: on PostgreSQL a write that lost a race still used up an id."""
    return sum(1 for _ in ledger.entries())


def assert_problem(response: Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body = response.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"] == "about:blank"
    return body


def fields(problem: dict[str, Any]) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


def record_examples(client: TestClient, token: str) -> None:
    """Record the documented example of every kind, in order: a whole money chain for 2020."""
    for kind, body in EXAMPLES.items():
        response = post(client, token, body, key=f"example-{kind}")
        assert response.status_code == 201, (kind, response.text)
