"""The HTTP API, end to end through FastAPI's TestClient, on SQLite and on PostgreSQL.

Every endpoint and every error status: appends (single, batch, atomic), idempotency
(replay, conflict, across a restart), problem details (400, 401, 403, 404, 409, 413, 415,
422, 503), reads for any as_of / known_at, CSV, pagination, and the admin endpoints. The
``client`` fixture fails any test whose responses contain a key's secret.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import time
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import OperationalError
from fastapi.testclient import TestClient

from api.app import create_app
from api.problems import MAX_BODY_BYTES
from ledger.application import Ledger
from ledger.calendar import stockholm_today
from ledger.config import database_config
from ledger.examples import EXAMPLES
from tests.api.conftest import SCOPED_AGREEMENT, Keys, SecretCheckingClient, make_keys
from tests.api.helpers import (A2020, PROBLEM, assert_problem, auth, event, fields, journal_length, post,
                               record_examples)

VIEWS = ("balances", "due-back", "reclaims", "obligations", "findings")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def _listed(client: TestClient, token: str, **params: object) -> list[dict]:
    response = client.get("/v1/events", params={"limit": 1000, **params}, headers=auth(token))
    assert response.status_code == 200, response.text
    return response.json()["events"]


# --- appending -------------------------------------------------------------------------


def test_append_one_event_answers_with_position_time_and_hash(client, keys, loaded_ledger):
    before = loaded_ledger.head()[0]
    body = event()
    response = post(client, keys.appender, body)
    assert response.status_code == 201, response.text
    assert "Idempotent-Replayed" not in response.headers
    answer = response.json()
    assert answer["replayed"] is False
    [recorded] = answer["events"]
    assert recorded["event_id"] == body["event_id"]
    assert recorded["position"] == before + 1
    assert dt.datetime.fromisoformat(recorded["recorded_at"]).tzinfo is not None
    assert HEX64.match(recorded["hash"])

    stored = client.get(f"/v1/events/{body['event_id']}", headers=auth(keys.auditor)).json()
    assert (stored["position"], stored["hash"], stored["recorded_at"]) == (
        recorded["position"], recorded["hash"], recorded["recorded_at"])
    assert stored["recorded_by"] == f"key:{keys.ids['appender']}"
    assert stored["payload"]["amount"] == body["amount"]


def test_append_a_batch_records_every_event_in_order(client, keys, loaded_ledger):
    before = loaded_ledger.head()[0]
    requisition = event("requisition_received")
    payout = event("payout_made", requisition_event_id=requisition["event_id"])  # refers within the batch
    response = post(client, keys.appender, {"events": [requisition, payout]}, batch=True)
    assert response.status_code == 201, response.text
    recorded = response.json()["events"]
    assert [e["event_id"] for e in recorded] == [requisition["event_id"], payout["event_id"]]
    assert [e["position"] for e in recorded] == [before + 1, before + 2]
    assert all(HEX64.match(e["hash"]) and e["recorded_at"] for e in recorded)
    assert client.get(f"/v1/events/{payout['event_id']}", headers=auth(keys.auditor)).json()["prev_hash"] == \
        recorded[0]["hash"]


@pytest.mark.parametrize("bad, field", [
    ({"amount": -1}, "events.2.amount"),  # refused by the schema
    ({"agreement_id": "no-such-agreement"}, "agreement_id"),  # refused by the ledger (item 2)
])
def test_a_batch_with_one_bad_event_records_nothing(client, keys, loaded_ledger, bad, field):
    head = journal_length(loaded_ledger)
    good = [event(), event("payout_made")]
    response = post(client, keys.appender, {"events": [*good, event(**bad)]}, batch=True)
    problem = assert_problem(response, 422)
    assert field in fields(problem)
    if "item" in problem["errors"][0]:
        assert problem["errors"][0]["item"] == 2
    assert journal_length(loaded_ledger) == head
    for sent in good:
        assert_problem(client.get(f"/v1/events/{sent['event_id']}", headers=auth(keys.auditor)), 404)


# --- idempotency -------------------------------------------------------------------------


def test_an_append_without_a_usable_idempotency_key_is_400(client, keys, loaded_ledger):
    head = journal_length(loaded_ledger)
    for header in [None, "", "   ", "x" * 201, "a\x00b"]:
        headers = auth(keys.appender)
        if header is not None:
            headers["Idempotency-Key"] = header
        problem = assert_problem(client.post("/v1/events", json=event(), headers=headers), 400)
        assert fields(problem) == {"Idempotency-Key"}
        problem = assert_problem(client.post("/v1/events/batch", json={"events": [event()]}, headers=headers), 400)
        assert fields(problem) == {"Idempotency-Key"}
    assert journal_length(loaded_ledger) == head


@pytest.mark.parametrize("batch", [False, True])
def test_a_retry_with_the_same_key_and_body_replays_the_answer(client, keys, loaded_ledger, batch):
    body = {"events": [event(), event("payout_made")]} if batch else event()
    first = post(client, keys.appender, body, key="retry-1", batch=batch)
    assert first.status_code == 201
    head = journal_length(loaded_ledger)
    for _ in range(2):
        again = post(client, keys.appender, body, key="retry-1", batch=batch)
        assert again.status_code == 201
        assert again.headers["Idempotent-Replayed"] == "true"
        assert again.json() == {**first.json(), "replayed": True}
    assert journal_length(loaded_ledger) == head == loaded_ledger.head()[0]


def test_an_append_keeps_its_answer_in_the_read_models_transaction_not_its_own(client, keys, loaded_ledger,
                                                                                monkeypatch):
    from api.keys import IdempotencyRecords

    own_transactions = []
    monkeypatch.setattr(IdempotencyRecords, "store_response",
                        lambda self, *args: own_transactions.append(args) or True)
    body = event()
    first = post(client, keys.appender, body, key="kept-by-ledger")
    assert first.status_code == 201
    assert own_transactions == []  # the ledger kept it, with the entries' read-model rows
    again = post(client, keys.appender, body, key="kept-by-ledger")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "replayed": True}


def test_when_the_ledger_cannot_keep_the_answer_the_api_keeps_it_and_a_retry_replays_it(
        client, keys, loaded_ledger, monkeypatch):
    saved = loaded_ledger.save

    def save_then_lose_track(*args):
        recordings = saved(*args)
        loaded_ledger._reached -= 1  # the read models are caught up, not written with the append
        return recordings

    monkeypatch.setattr(loaded_ledger, "save", save_then_lose_track)
    body = event()
    first = post(client, keys.appender, body, key="kept-by-api")
    assert first.status_code == 201
    monkeypatch.undo()
    head = journal_length(loaded_ledger)
    again = post(client, keys.appender, body, key="kept-by-api")
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json() == {**first.json(), "replayed": True}
    assert journal_length(loaded_ledger) == head

def test_an_append_checks_its_key_and_idempotency_key_in_the_thread_that_appends(client, keys, loaded_ledger,
                                                                               monkeypatch):
    """One hop to a worker thread per append, not one for the key check and another for
    the append (each hop costs the event loop about as much as a query), and one query for
    the key and the idempotency record."""
    import threading

    import anyio.to_thread

    threads: dict[str, list[int]] = {}
    hops = []

    def spy(name, method):
        def called(*args, **kwargs):
            threads.setdefault(name, []).append(threading.get_ident())
            return method(*args, **kwargs)
        return called

    async def counted(function, *args, **kwargs):
        hops.append(function)
        return await run_sync(function, *args, **kwargs)

    run_sync = anyio.to_thread.run_sync
    monkeypatch.setattr(anyio.to_thread, "run_sync", counted)
    store = client.app.state.keys
    monkeypatch.setattr(store, "recall", spy("key and idempotency record", store.recall))
    monkeypatch.setattr(store, "authenticate", spy("key alone", store.authenticate))
    monkeypatch.setattr(store, "stored_response", spy("idempotency record alone", store.stored_response))
    monkeypatch.setattr(loaded_ledger, "append", spy("append", loaded_ledger.append))
    for body, batch in ((event(), False), ({"events": [event(), event()]}, True)):
        threads.clear()
        hops.clear()
        assert post(client, keys.appender, body, batch=batch).status_code == 201
        assert len(hops) == 1
        assert set(threads) == {"key and idempotency record", "append"}
        [thread] = {t for called in threads.values() for t in called}
        assert len(threads["key and idempotency record"]) == 1
        assert thread != threading.get_ident()  # not on the caller's (or the loop's) thread


def test_an_append_with_a_bad_body_and_no_key_is_401_not_422(client, keys, loaded_ledger):
    response = client.post("/v1/events", json={"kind": "nonsense"}, headers={"Idempotency-Key": "k"})
    assert_problem(response, 401)
    assert journal_length(loaded_ledger) == loaded_ledger.head()[0]



def test_the_same_key_with_another_body_is_409_and_records_nothing(client, keys, loaded_ledger):
    body = event()
    assert post(client, keys.appender, body, key="k-409").status_code == 201
    head = journal_length(loaded_ledger)
    other = dict(body, event_id=str(uuid.uuid4()), amount=body["amount"] + 1)
    problem = assert_problem(post(client, keys.appender, other, key="k-409"), 409)
    assert fields(problem) == {"Idempotency-Key"}
    assert_problem(post(client, keys.appender, {"events": [other]}, key="k-409", batch=True), 409)
    assert journal_length(loaded_ledger) == head
    assert_problem(client.get(f"/v1/events/{other['event_id']}", headers=auth(keys.auditor)), 404)


def test_idempotency_keys_belong_to_the_api_key_that_used_them(client, keys):
    assert post(client, keys.appender, event(), key="shared-key").status_code == 201
    scoped = event("report_received")  # okad-tillganglighet-2021, the scoped key's agreement
    response = post(client, keys.scoped, scoped, key="shared-key")
    assert response.status_code == 201, response.text
    assert response.json()["replayed"] is False


def test_idempotency_keys_survive_a_restart(client, keys, loaded_ledger, database_url):
    body = event()
    first = post(client, keys.appender, body, key="before-restart")
    assert first.status_code == 201
    head = journal_length(loaded_ledger)

    restarted = Ledger(database_config(database_url))
    try:
        with SecretCheckingClient(create_app(restarted)) as second:
            second.secrets = keys.tokens
            again = post(second, keys.appender, body, key="before-restart")
            assert again.status_code == 201
            assert again.headers["Idempotent-Replayed"] == "true"
            assert again.json()["events"] == first.json()["events"]
            assert_problem(post(second, keys.appender, event(), key="before-restart"), 409)
            assert journal_length(restarted) == head
    finally:
        restarted.close()


# --- validation (422) ------------------------------------------------------------------


def _future() -> str:
    return (stockholm_today() + dt.timedelta(days=2)).isoformat()


BAD_FIELDS = [
    ({"amount": -100}, "amount"),
    ({"amount": 1.5}, "amount"),
    ({"agreement_id": "no-such-agreement"}, "agreement_id"),
    ({"kind": "grant_wished_for"}, "kind"),
    ({"effective_date": "future"}, "effective_date"),
    ({"part_id": "no-such-part"}, "part_id"),
    ({"recipient_id": "region-atlantis"}, "recipient_id"),
    ({"currency": "EUR"}, "currency"),
    ({"effective_date": "2020-13-01"}, "effective_date"),
    ({"surprise": 1}, "surprise"),
]


def test_an_invalid_event_is_422_naming_the_field_and_nothing_is_recorded(client, keys, loaded_ledger):
    head = journal_length(loaded_ledger)
    for change, field in BAD_FIELDS:
        if change.get("effective_date") == "future":
            change = {"effective_date": _future()}
        problem = assert_problem(post(client, keys.appender, event(**change)), 422)
        assert field in fields(problem), (change, problem)
        assert all(e["reason"] for e in problem["errors"])
        assert "nothing was recorded" in problem["detail"]
    assert journal_length(loaded_ledger) == head


def test_every_bad_field_of_a_batch_is_named(client, keys, loaded_ledger):
    head = journal_length(loaded_ledger)
    batch = {"events": [event(), event(agreement_id="nope"), event(effective_date=_future())]}
    problem = assert_problem(post(client, keys.appender, batch, batch=True), 422)
    assert {(e["item"], e["field"]) for e in problem["errors"]} == {(1, "agreement_id"), (2, "effective_date")}
    batch = {"events": [event(amount=-1), event(kind="nope"), event()]}
    problem = assert_problem(post(client, keys.appender, batch, batch=True), 422)
    assert {"events.0.amount", "events.1.kind"} <= fields(problem)
    assert journal_length(loaded_ledger) == head


def test_a_failed_append_does_not_use_up_its_idempotency_key(client, keys):
    body = event(agreement_id="nope")
    assert_problem(post(client, keys.appender, body, key="after-422"), 422)
    fixed = dict(body, agreement_id=A2020)
    assert post(client, keys.appender, fixed, key="after-422").status_code == 201


def test_a_body_that_is_not_an_event_is_422(client, keys):
    for body in [b"{", b"[]", b"null", b'"an event"', b"{}"]:
        for path in ("/v1/events", "/v1/events/batch"):
            response = client.post(path, content=body,
                                   headers={**auth(keys.appender, "k"), "Content-Type": "application/json"})
            problem = assert_problem(response, 422)
            assert fields(problem) & {"body", "kind", "events"}, (body, problem)


# --- body guard (413, 415) ----------------------------------------------------------------


def test_an_oversized_body_is_413_and_records_nothing(client, keys, loaded_ledger):
    head = journal_length(loaded_ledger)
    big = event(note="x" * 100)
    payload = ('{"events": [' + ",".join([_json(big)] * (MAX_BODY_BYTES // len(_json(big)) + 2)) + "]}").encode()
    assert len(payload) > MAX_BODY_BYTES
    response = client.post("/v1/events/batch", content=payload,
                           headers={**auth(keys.appender, "big"), "Content-Type": "application/json"})
    assert_problem(response, 413)

    def chunks():  # no Content-Length: the guard counts what streams in
        for start in range(0, len(payload), 1 << 20):
            yield payload[start:start + (1 << 20)]

    response = client.post("/v1/events/batch", content=chunks(),
                           headers={**auth(keys.appender, "big-streamed"), "Content-Type": "application/json"})
    assert_problem(response, 413)
    assert journal_length(loaded_ledger) == head


def _json(value: object) -> str:
    return json.dumps(value)


def test_a_write_that_is_not_json_is_415(client, keys, loaded_ledger):
    head = journal_length(loaded_ledger)
    body = _json(event()).encode()
    for content_type in [None, "text/plain", "application/x-www-form-urlencoded", "application/xml",
                         "multipart/form-data; boundary=x", "application/jsonx"]:
        media = {"Content-Type": content_type} if content_type else {}
        assert_problem(client.post("/v1/events", content=body, headers={**auth(keys.appender, "k"), **media}), 415)
        assert_problem(client.post("/v1/events/batch", content=body, headers={**auth(keys.appender, "k"), **media}),
                       415)
        assert_problem(client.post("/v1/admin/agreements/load", content=b"{}", headers={**auth(keys.admin), **media}),
                       415)
    assert journal_length(loaded_ledger) == head


def test_json_with_a_charset_is_accepted(client, keys):
    response = client.post("/v1/events", content=_json(event()).encode(),
                           headers={**auth(keys.appender, "charset"), "Content-Type": "application/json; charset=utf-8"})
    assert response.status_code == 201, response.text


# --- authentication (401) and authorisation (403) ------------------------------------------

READS = ["/v1/events", "/v1/balances", "/v1/due-back", "/v1/reclaims", "/v1/obligations", "/v1/findings",
         "/v1/agreements", f"/v1/agreements/{A2020}", "/v1/recipients", "/v1/recipients/skr",
         f"/v1/events/{EXAMPLES['recipient_renamed']['event_id']}"]


def _bad_credentials(keys: Keys) -> dict[str, dict[str, str]]:
    key_id = keys.ids["auditor"]
    return {
        "missing": {},
        "not bearer": {"Authorization": f"Basic {keys.auditor}"},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": {"Authorization": "Bearer not-a-key"},
        "wrong secret": {"Authorization": f"Bearer lk_{key_id}.wrong-secret"},
        "unknown id": {"Authorization": "Bearer lk_000000000000." + keys.auditor.split(".", 1)[1]},
        "NUL in id": {"Authorization": "Bearer lk_\x00.secret"},
        "revoked": auth(keys.revoked),
    }


def test_a_missing_wrong_or_revoked_key_is_401(client, keys, loaded_ledger):
    head = journal_length(loaded_ledger)
    for case, headers in _bad_credentials(keys).items():
        for path in [*READS, "/v1/admin/keys"]:
            response = client.get(path, headers=headers)
            assert_problem(response, 401)
            assert response.headers["WWW-Authenticate"] == "Bearer", case
        assert_problem(client.post("/v1/events", json=event(), headers={**headers, "Idempotency-Key": "k"}), 401)
        assert_problem(client.post("/v1/events/batch", json={"events": [event()]},
                                   headers={**headers, "Idempotency-Key": "k"}), 401)
        assert_problem(client.post("/v1/admin/agreements/load", json={}, headers=headers), 401)
    assert journal_length(loaded_ledger) == head


def test_an_auditor_may_not_append(client, keys, loaded_ledger):
    head = journal_length(loaded_ledger)
    assert_problem(post(client, keys.auditor, event()), 403)
    assert_problem(post(client, keys.auditor, {"events": [event()]}, batch=True), 403)
    assert_problem(client.post("/v1/admin/agreements/load", json={}, headers=auth(keys.auditor)), 403)
    assert_problem(client.get("/v1/admin/keys", headers=auth(keys.auditor)), 403)
    assert journal_length(loaded_ledger) == head


def test_an_appender_may_not_read(client, keys):
    for token in (keys.appender, keys.scoped):
        for path in [*READS, "/v1/admin/keys"]:
            assert_problem(client.get(path, headers=auth(token)), 403)
        assert_problem(client.post("/v1/admin/agreements/load", json={}, headers=auth(token)), 403)


def test_a_scoped_appender_may_append_only_for_its_agreement(client, keys, loaded_ledger):
    inside = event("report_received")
    assert inside["agreement_id"] == SCOPED_AGREEMENT
    assert post(client, keys.scoped, inside).status_code == 201
    head = journal_length(loaded_ledger)
    problem = assert_problem(post(client, keys.scoped, event()), 403)  # god-och-nara-vard-2020
    assert fields(problem) == {"agreement_id"}
    problem = assert_problem(post(client, keys.scoped, {"events": [event("report_received"), event()]},
                                  batch=True), 403)
    assert [e["item"] for e in problem["errors"]] == [1]
    assert_problem(post(client, keys.scoped, event("recipient_renamed")), 403)  # names no agreement
    assert journal_length(loaded_ledger) == head


def test_admin_may_append_and_read(client, keys):
    assert post(client, keys.admin, event()).status_code == 201
    assert client.get("/v1/balances", headers=auth(keys.admin)).status_code == 200


# --- 503 and 404 --------------------------------------------------------------------------


def test_a_database_that_is_down_is_503_and_the_key_can_be_retried(client, keys, loaded_ledger, monkeypatch):
    body = event()
    with monkeypatch.context() as patch:
        def down(*args, **kwargs):
            raise OperationalError("connection refused")

        patch.setattr(loaded_ledger, "append", down)
        patch.setattr(loaded_ledger.recorder, "max_notification_id", down)
        problem = assert_problem(post(client, keys.appender, body, key="during-outage"), 503)
        assert "retry" in problem["detail"]
        assert_problem(client.get("/ready"), 503)
    response = post(client, keys.appender, body, key="during-outage")
    assert response.status_code == 201 and response.json()["replayed"] is False


def test_what_does_not_exist_is_404(client, keys):
    for path in ["/v1/events/00000000-0000-0000-0000-000000000000", "/v1/events/not-an-id",
                 "/v1/agreements/no-such-agreement", "/v1/recipients/no-such-recipient", "/v1/recipients/%00",
                 "/v1/events/%00", "/v1/no-such-endpoint"]:
        assert_problem(client.get(path, headers=auth(keys.auditor)), 404)


# --- reads ---------------------------------------------------------------------------------


def _balance(client: TestClient, keys: Keys, **params: str) -> dict:
    response = client.get("/v1/balances", headers=auth(keys.auditor),
                          params={"agreement_id": A2020, "part_id": "nara-vard", "recipient_id": "region-skane", **params})
    assert response.status_code == 200, response.text
    [row] = [r for r in response.json()["rows"] if r.get("recipient_id") == "region-skane"]
    return row


def test_a_back_dated_event_changes_as_of_views_but_not_what_was_known_before_it(client, keys):
    before_recording = dt.datetime.now(dt.timezone.utc).isoformat()
    time.sleep(0.01)
    payout = event("payout_made", effective_date="2020-05-04", amount=12_345_00)
    recorded = post(client, keys.appender, payout)
    assert recorded.status_code == 201
    recorded_at = recorded.json()["events"][0]["recorded_at"]
    assert recorded_at > before_recording.replace("Z", "+00:00")

    assert _balance(client, keys)["paid"] == 12_345_00  # today, known now
    assert _balance(client, keys, as_of="2020-12-31")["paid"] == 12_345_00  # back-dated: in 2020 views
    assert _balance(client, keys, as_of="2020-05-03")["paid"] == 0  # before its effective date
    assert _balance(client, keys, as_of="2020-12-31", known_at=before_recording)["paid"] == 0  # not yet known
    assert _balance(client, keys, as_of="2020-12-31", known_at=recorded_at)["paid"] == 12_345_00

    view = client.get("/v1/balances", params={"as_of": "2020-12-31", "known_at": before_recording},
                      headers=auth(keys.auditor)).json()
    assert view["as_of"] == "2020-12-31"
    assert dt.datetime.fromisoformat(view["known_at"]) == dt.datetime.fromisoformat(before_recording)

    ids = lambda **p: {e["event_id"] for e in _listed(client, keys.auditor, **p)}  # noqa: E731
    assert payout["event_id"] in ids()
    assert payout["event_id"] in ids(as_of="2020-05-04")
    assert payout["event_id"] not in ids(as_of="2020-05-03")
    assert payout["event_id"] not in ids(known_at=before_recording)
    assert payout["event_id"] in ids(known_at=recorded_at)


def test_a_bad_query_parameter_is_422(client, keys):
    for path in ["/v1/events", *(f"/v1/{v}" for v in VIEWS)]:
        for params, field in [
            ({"as_of": "yesterday"}, "as_of"), ({"as_of": "2021-02-30"}, "as_of"),
            ({"known_at": "soon"}, "known_at"), ({"known_at": "0001-01-01T00:00:00"}, "known_at"),
            ({"known_at": "9999-12-31T23:59:59-05:00"}, "known_at"), ({"format": "xlsx"}, "format"),
            ({"agreement_id": "a\x00b"}, "agreement_id"),
        ]:
            problem = assert_problem(client.get(path, params=params, headers=auth(keys.auditor)), 422)
            assert field in problem["detail"] or fields(problem) & {field, f"query.{field}"}, (path, params)


def test_bad_paging_is_422(client, keys):
    for params, field in [({"limit": 0}, "limit"), ({"limit": 1001}, "limit"), ({"after_position": -1}, "after_position"),
                          ({"limit": "many"}, "limit")]:
        problem = assert_problem(client.get("/v1/events", params=params, headers=auth(keys.auditor)), 422)
        assert fields(problem) == {f"query.{field}"}


def test_csv_has_the_same_rows_as_json(client, keys):
    record_examples(client, keys.appender)  # so every view has something
    known_at = dt.datetime.now(dt.timezone.utc).isoformat()  # the same clock for both formats
    for path in ["/v1/events", *(f"/v1/{v}" for v in VIEWS)]:
        params = {"agreement_id": A2020, "as_of": "2022-06-30", "known_at": known_at}
        as_json = client.get(path, params=params, headers=auth(keys.auditor)).json()
        rows = as_json["events"] if path == "/v1/events" else as_json["rows"]
        response = client.get(path, params={**params, "format": "csv"}, headers=auth(keys.auditor))
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        parsed = list(csv.DictReader(io.StringIO(response.text)))
        assert len(parsed) == len(rows) > 0, path
        for got, want in zip(parsed, rows):
            for column, value in want.items():
                if isinstance(value, (str, int)) and not isinstance(value, bool):
                    assert got[column] == str(value), (path, column)
                elif isinstance(value, (dict, list)):
                    assert json.loads(got[column]) == value, (path, column)


def test_pages_by_after_position_are_stable_while_events_are_appended(client, keys):
    seen: list[int] = []
    first_pages: dict[int, list[dict]] = {}
    after, appended = 0, []
    while True:
        page = client.get("/v1/events", params={"after_position": after, "limit": 7}, headers=auth(keys.auditor)).json()
        first_pages[after] = page["events"]
        seen += [e["position"] for e in page["events"]]
        if len(appended) < 3:  # appends land after the reader's position, never inside a page already read
            sent = event()
            assert post(client, keys.appender, sent).status_code == 201
            appended.append(sent["event_id"])
        if page["next_after_position"] is None:
            assert len(page["events"]) < 7
            break
        assert page["next_after_position"] == page["events"][-1]["position"]
        after = page["next_after_position"]
    assert seen == list(range(1, len(seen) + 1))  # no gap, no repeat
    listed = {e["event_id"]: e["position"] for e in _listed(client, keys.auditor)}
    assert len(listed) == len(seen) and all(listed[i] in seen for i in appended)
    for after, events in first_pages.items():  # re-reading a page gives what it gave, plus at most more at its end
        again = client.get("/v1/events", params={"after_position": after, "limit": 7}, headers=auth(keys.auditor))
        assert again.json()["events"][: len(events)] == events


def test_events_filter_by_who_recorded_them(client, keys):
    mine = [event(), event("payout_made")]
    assert post(client, keys.appender, {"events": mine}, batch=True).status_code == 201
    theirs = event("report_received")
    assert post(client, keys.scoped, theirs).status_code == 201
    by_appender = _listed(client, keys.auditor, recorded_by=f"key:{keys.ids['appender']}")
    assert [e["event_id"] for e in by_appender] == [e["event_id"] for e in mine]
    assert {e["recorded_by"] for e in by_appender} == {f"key:{keys.ids['appender']}"}
    by_scoped = _listed(client, keys.auditor, recorded_by=f"key:{keys.ids['scoped']}")
    assert [e["event_id"] for e in by_scoped] == [theirs["event_id"]]
    assert _listed(client, keys.auditor, recorded_by=f"key:{keys.ids['auditor']}") == []
    loaded = _listed(client, keys.auditor, recorded_by="catalogue-loader")
    assert len(loaded) == len(_listed(client, keys.auditor)) - 3


def test_events_filter_by_agreement_recipient_and_kind(client, keys):
    for row in _listed(client, keys.auditor, agreement_id=SCOPED_AGREEMENT):
        assert row["agreement_id"] == SCOPED_AGREEMENT
    kinds = {e["kind"] for e in _listed(client, keys.auditor, kind="recipient_renamed")}
    assert kinds == {"recipient_renamed"}
    skr = _listed(client, keys.auditor, recipient_id="skr")
    assert skr and {e["recipient_id"] for e in skr} == {"skr"}


def test_one_event_by_id_with_its_hash(client, keys):
    body = event()
    appended = post(client, keys.appender, body).json()["events"][0]
    found = client.get(f"/v1/events/{body['event_id']}", headers=auth(keys.auditor))
    assert found.status_code == 200
    row = found.json()
    assert row["event_id"] == body["event_id"] and row["hash"] == appended["hash"] and HEX64.match(row["prev_hash"])
    assert row["kind"] == "requisition_received" and row["payload"]["event_id"] == body["event_id"]
    previous = client.get("/v1/events", params={"after_position": row["position"] - 2, "limit": 1},
                          headers=auth(keys.auditor)).json()["events"][0]
    assert previous["hash"] == row["prev_hash"]


def test_every_view_answers_for_an_as_of_and_known_at(client, keys):
    record_examples(client, keys.appender)
    clock = {"as_of": "2021-12-31"}
    views = {}
    for view in VIEWS:
        response = client.get(f"/v1/{view}", params={**clock, "agreement_id": A2020}, headers=auth(keys.auditor))
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["as_of"] == "2021-12-31" and body["known_at"] and body["journal_head"] > 0
        assert all(r.get("agreement_id") in (A2020, None) for r in body["rows"])
        views[view] = body["rows"]
    skane = {r["part_id"]: r for r in views["balances"] if r.get("recipient_id") == "region-skane"}
    assert skane["nara-vard"]["requisitioned"] == skane["nara-vard"]["paid"] == 19143474300
    assert skane["nara-vard"]["costs"] == 18000000000
    [due] = [r for r in views["due-back"] if r["recipient_id"] == "region-skane"]
    assert due["due"] == 1143474300 and due["repaid"] == 0  # the repayment was retracted
    [gotland] = [r for r in views["reclaims"] if r["recipient_id"] == "region-gotland"]
    assert gotland["decided"] == gotland["settled"] == 41718400 and gotland["outstanding"] == 0
    assert views["obligations"] and all(r["state"] for r in views["obligations"])
    assert views["findings"] and all(r["rule"] and r["description"] for r in views["findings"])

    before = client.get("/v1/reclaims", params={"as_of": "2021-12-31", "known_at": "2000-01-01"},
                        headers=auth(keys.auditor)).json()
    assert before["rows"] == []  # nothing was known in 2000


def test_agreements_with_their_reconciliation(client, keys):
    listed = client.get("/v1/agreements", headers=auth(keys.auditor)).json()
    assert {a["agreement_id"] for a in listed} == {
        "god-och-nara-vard-2020", "god-och-nara-vard-2024", "halso-och-sjukvard-folkhalsa-2021",
        "okad-tillganglighet-2021", "resursutnyttjande-2017"}
    for agreement in listed:
        assert agreement["title"] and agreement["year"] and agreement["state_money"] > 0
        assert agreement["reconciliation"]["agreement_id"] == agreement["agreement_id"]
        assert "difference" in agreement["reconciliation"]
    one = client.get(f"/v1/agreements/{A2020}", headers=auth(keys.auditor)).json()
    assert one["terms"]["agreement_id"] == A2020 and one["terms"]["parts"]
    assert one["reconciliation"] == next(a["reconciliation"] for a in listed if a["agreement_id"] == A2020)


def test_recipients_keep_one_identity_across_renames(client, keys):
    listed = client.get("/v1/recipients", headers=auth(keys.auditor)).json()
    ids = [r["recipient_id"] for r in listed]
    assert "skr" in ids and "region-skane" in ids and ids == sorted(ids)
    skr = client.get("/v1/recipients/skr", headers=auth(keys.auditor)).json()
    assert skr["kind"] == "association"
    assert [(n["short_name"], n["valid_from"]) for n in skr["names"]] == [("SKL", "2007-03-01"), ("SKR", "2019-11-27")]
    assert skr["names"][0]["name"] == "Sveriges Kommuner och Landsting"
    assert skr["names"][1]["name"] == "Sveriges Kommuner och Regioner"

    renamed = event("recipient_renamed", recipient_id="region-skane", name="Region Skåne (nytt namn)",
                    short_name=None, effective_date="2024-01-01")
    assert post(client, keys.appender, renamed).status_code == 201
    skane = client.get("/v1/recipients/region-skane", headers=auth(keys.auditor)).json()
    assert skane["names"][-1] == {"name": "Region Skåne (nytt namn)", "short_name": None, "valid_from": "2024-01-01"}
    assert len(skane["names"]) >= 2


# --- administration and health ----------------------------------------------------------------


def test_loading_agreements_is_idempotent(ledger):
    keys = make_keys(ledger)
    with SecretCheckingClient(create_app(ledger)) as client:
        client.secrets = keys.tokens
        load = lambda body: client.post("/v1/admin/agreements/load", json=body, headers=auth(keys.admin))  # noqa: E731
        first = load({"names": [SCOPED_AGREEMENT]})
        assert first.status_code == 200 and first.json()["recorded"] > 0
        assert load({"names": [SCOPED_AGREEMENT]}).json() == {"recorded": 0}
        rest = load({})
        assert rest.json()["recorded"] > 0
        head = journal_length(ledger)
        assert load({}).json() == {"recorded": 0}
        assert journal_length(ledger) == head
        problem = assert_problem(load({"names": ["no-such-agreement"]}), 422)
        assert fields(problem) == {"names"}
        assert len(client.get("/v1/agreements", headers=auth(keys.auditor)).json()) == 5


def test_admin_lists_keys_but_never_their_secrets(client, keys):
    response = client.get("/v1/admin/keys", headers=auth(keys.admin))
    assert response.status_code == 200
    listed = {k["key_id"]: k for k in response.json()}
    assert set(keys.ids.values()) <= set(listed)
    for name, key_id in keys.ids.items():
        row = listed[key_id]
        assert set(row) == {"key_id", "name", "role", "agreements", "recipients", "created_at", "revoked_at"}
        assert (row["revoked_at"] is not None) == (name == "revoked")
    assert listed[keys.ids["scoped"]]["agreements"] == [SCOPED_AGREEMENT]
    assert listed[keys.ids["auditor"]]["role"] == "auditor"
    assert "secret" not in response.text and "hash" not in response.text


def test_health_and_readiness_need_no_key(client, loaded_ledger):
    assert client.get("/health").json() == {"status": "ok"}
    ready = client.get("/ready")
    assert ready.status_code == 200
    body = ready.json()
    assert body["status"] == "ready" and body["journal_position"] == loaded_ledger.head()[0] > 0
    assert body["notifications_behind"] == {"journal_index": 0, "ledger_views": 0}


def test_readiness_says_how_far_each_read_model_is_behind(client, loaded_ledger):
    head = loaded_ledger.recorder.max_notification_id()
    loaded_ledger.views.reset(loaded_ledger.name)  # as if its projection had not started yet
    body = client.get("/ready").json()
    assert body["notifications_behind"] == {"journal_index": 0, "ledger_views": head}


def test_the_openapi_document_describes_every_route(client):
    document = client.get("/openapi.json").json()
    paths = document["paths"]
    assert {"/v1/events", "/v1/events/batch", "/v1/events/{event_id}", "/v1/balances", "/v1/due-back",
            "/v1/reclaims", "/v1/obligations", "/v1/findings", "/v1/agreements", "/v1/agreements/{agreement_id}",
            "/v1/recipients", "/v1/recipients/{recipient_id}", "/v1/admin/agreements/load", "/v1/admin/keys",
            "/health", "/ready"} <= set(paths)
    post_event = paths["/v1/events"]["post"]
    assert {p["name"] for p in post_event["parameters"]} == {"Idempotency-Key"}
    assert PROBLEM in post_event["responses"]["422"]["content"]
    assert client.get("/docs").status_code == 200


def test_the_api_guide_covers_every_path_in_the_openapi_document(client):
    guide = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text(encoding="utf-8")
    missing = [path for path in client.get("/openapi.json").json()["paths"] if path not in guide]
    assert missing == [], f"docs/api.md does not describe {missing}"


# --- secrets --------------------------------------------------------------------------------


def test_no_response_ever_contains_a_token(client, keys):
    """The client fixture checks every response; this walks every endpoint with every key."""
    for token in keys.tokens:
        for path in [*READS, "/v1/admin/keys", "/health", "/ready", "/openapi.json",
                     "/v1/events?format=csv", "/v1/balances?format=csv"]:
            response = client.get(path, headers=auth(token))
            assert token not in response.text
        for response in (post(client, token, event()), post(client, token, {"events": [event()]}, batch=True),
                         client.post("/v1/admin/agreements/load", json={}, headers=auth(token))):
            assert token not in response.text


def test_recall_finds_the_key_and_only_its_own_answer_under_an_idempotency_key(loaded_ledger, keys):
    from api.app import key_store_for

    store = key_store_for(loaded_ledger)
    appender, admin = keys.ids["appender"], keys.ids["admin"]
    assert store.store_response(appender, "voucher-1", "h" * 64, 201, [{"event_id": "e1"}])
    key, stored = store.recall(keys.appender, "voucher-1")
    assert key is not None and key.key_id == appender
    assert stored is not None and (stored.body_hash, stored.status, stored.response) == ("h" * 64, 201,
                                                                                      [{"event_id": "e1"}])
    assert store.recall(keys.appender, "voucher-2") == (key, None)
    assert store.recall(keys.appender, None) == (key, None)
    other, nothing = store.recall(keys.admin, "voucher-1")  # another key's answer is not its own
    assert other is not None and other.key_id == admin and nothing is None
    wrong_secret = keys.appender[:-4] + ("AAAA" if not keys.appender.endswith("AAAA") else "BBBB")
    for token in (keys.revoked, wrong_secret, "lk_000000000000.x", "not-a-key"):
        assert store.recall(token, "voucher-1") == (None, None), token
