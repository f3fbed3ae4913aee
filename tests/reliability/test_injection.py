"""Injection: SQL and HTML metacharacters in names and references round-trip exactly through
append and read on both backends (every value reaches the database as a bound parameter,
never as SQL text), and CSV exports neutralise spreadsheet formulas.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import _csv_cell, create_app
from ledger.examples import EXAMPLES
from tests.conftest import raw_sql
from tests.reliability.harness import A2020, make_keys, report

PAYLOADS = [
    "'; DROP TABLE journal_index;--",
    "Robert'); DROP TABLE postings;--",
    '" OR 1=1 --',
    "' OR '1'='1",
    "%' OR 1=1; --",
    "1; SELECT pg_sleep(5); --",
    "$$; DROP SCHEMA public CASCADE; $$",
    "\\'; DELETE FROM api_keys; --",
    "? %s {s} {0} %(x)s :name",  # the placeholders ledger/sql.py rewrites in statement text
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "&lt;b&gt; &amp; </textarea><!--",
    "=HYPERLINK(\"http://127.0.0.1/x\",\"klicka\")",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "+46 8 123 45 67",
    "-2+3",
]
FORMULA = ("=", "+", "-", "@", "\t", "\r")
NUMBER = re.compile(r"^-?\d+(\.\d+)?$")


@pytest.fixture
def api(loaded_ledger):
    tokens = make_keys(loaded_ledger.config.url, load=False)
    return TestClient(create_app(loaded_ledger), raise_server_exceptions=False), tokens, loaded_ledger


def _post(client: TestClient, token: str, body: dict[str, Any]) -> Any:
    return client.post("/v1/events", json=body, headers={"Authorization": f"Bearer {token}",
                                                         "Idempotency-Key": str(uuid.uuid4())})


def _tables(ledger: Any) -> int:
    if ledger.config.backend == "sqlite":
        return raw_sql(ledger, "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table'")[0][0]
    schema = ledger.config.env["POSTGRES_SCHEMA"]
    return raw_sql(ledger, "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = ?", (schema,))[0][0]


def test_metacharacters_round_trip_exactly_through_append_and_read(api, backend):
    client, tokens, ledger = api
    auditor = {"Authorization": f"Bearer {tokens['auditor']}"}
    tables, keys_before = _tables(ledger), len(client.get("/v1/admin/keys", headers={
        "Authorization": f"Bearer {tokens['admin']}"}).json())
    sent = []
    for text in PAYLOADS:
        payout = dict(EXAMPLES["payout_made"], event_id=str(uuid.uuid4()), payment_reference=text[:200],
                      reference=text[:200], note=text)
        payout.pop("requisition_event_id")
        onward = dict(EXAMPLES["onward_transfer_made"], event_id=str(uuid.uuid4()), to_name=text)
        rename = dict(EXAMPLES["recipient_renamed"], event_id=str(uuid.uuid4()), name=text, short_name=text[:200])
        reclaim = dict(EXAMPLES["reclaim_decided"], event_id=str(uuid.uuid4()), dnr=text[:100], reason_text=text)
        for body in (payout, onward, rename, reclaim):
            response = _post(client, tokens["appender"], body)
            assert response.status_code == 201, (text, response.text)
            sent.append(body)
    for body in sent:  # read back one by one: byte for byte what was sent
        got = client.get(f"/v1/events/{body['event_id']}", headers=auditor)
        assert got.status_code == 200
        payload = got.json()["payload"]
        for field, value in body.items():
            assert payload[field] == value, (field, value, payload[field])
    listed = client.get(f"/v1/events?agreement_id={A2020}&kind=payout_made&limit=1000", headers=auditor).json()
    by_id = {e["event_id"]: e["payload"] for e in listed["events"]}
    for body in sent:
        if body["kind"] == "payout_made":
            assert by_id[body["event_id"]]["note"] == body["note"]
    history = client.get("/v1/recipients/skr", headers=auditor).json()["names"]
    assert [n["name"] for n in history][-len(PAYLOADS):] == PAYLOADS
    # Metacharacters in filters and path parameters are data too: no match, no error.
    for text in PAYLOADS:
        for url in (f"/v1/events?agreement_id={_q(text)}", f"/v1/events?recorded_by={_q(text)}",
                    f"/v1/balances?recipient_id={_q(text)}", f"/v1/findings?agreement_id={_q(text)}"):
            response = client.get(url, headers=auditor)
            assert response.status_code == 200, (url, response.text)
        for url in (f"/v1/recipients/{_q(text, '')}", f"/v1/agreements/{_q(text, '')}"):
            response = client.get(url, headers=auditor)
            assert response.status_code in (404, 422), (url, response.status_code, response.text)
    assert _tables(ledger) == tables
    admin = {"Authorization": f"Bearer {tokens['admin']}"}
    assert len(client.get("/v1/admin/keys", headers=admin).json()) == keys_before
    assert ledger.verify().ok
    report("injection_round_trip", backend=backend, payloads=len(PAYLOADS), events=len(sent))


def _q(text: str, safe: str = "/") -> str:
    from urllib.parse import quote

    return quote(text, safe=safe)


def _cells(response: Any) -> list[list[str]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    return list(csv.reader(io.StringIO(response.text)))


def _assert_no_formula(rows: list[list[str]]) -> int:
    checked = 0
    for row in rows:
        for cell in row:
            checked += 1
            assert not cell.startswith(FORMULA) or NUMBER.match(cell), f"formula reaches the spreadsheet: {cell!r}"
    return checked


def test_csv_exports_neutralise_formulas_and_keep_numbers(api, backend):
    client, tokens, ledger = api
    auditor = {"Authorization": f"Bearer {tokens['auditor']}"}
    # A principal is free text (``ledger append --principal``): the one text column of the events CSV.
    formulas = [p for p in PAYLOADS if p.startswith(FORMULA)] + ["\t=1+1", "\r=1+1", "-1"]
    for principal in formulas:
        payout = dict(EXAMPLES["payout_made"], event_id=str(uuid.uuid4()), reference="=1+1")
        payout.pop("requisition_event_id")
        ledger.append([payout], principal)
    rows = _cells(client.get("/v1/events?format=csv&limit=1000", headers=auditor))
    header = rows[0]
    principals = [row[header.index("recorded_by")] for row in rows[1:]]
    for principal in formulas:
        assert "'" + principal in principals  # shown as the text it is
    checked = _assert_no_formula(rows)
    positions = [row[header.index("position")] for row in rows[1:]]
    assert all(NUMBER.match(p) for p in positions)  # numbers stay numbers
    for view in ("balances", "due-back", "reclaims", "obligations", "findings"):
        checked += _assert_no_formula(_cells(client.get(f"/v1/{view}?format=csv", headers=auditor)))
    balances = _cells(client.get("/v1/balances?format=csv", headers=auditor))
    paid = balances[0].index("paid")
    assert all(NUMBER.match(row[paid]) for row in balances[1:])
    report("csv_formulas", backend=backend, formulas=len(formulas), cells_checked=checked)


def test_csv_cell_rule():
    assert _csv_cell(-12300) == -12300 and _csv_cell(0) == 0 and _csv_cell(None) is None
    assert _csv_cell("=1+1") == "'=1+1" and _csv_cell("@x") == "'@x" and _csv_cell("+46") == "'+46"
    assert _csv_cell("-2+3") == "'-2+3" and _csv_cell("\t=1") == "'\t=1" and _csv_cell("\r=1") == "'\r=1"
    assert _csv_cell("Region Skåne") == "Region Skåne"
    assert _csv_cell({"a": "=1"}) == '{"a": "=1"}'  # JSON text starts with a brace
