def test_scratch(ledger, backend):
    if backend != "sqlite": return
    from tests.api.conftest import make_keys
    from fastapi.testclient import TestClient
    from api.app import create_app
    k = make_keys(ledger)
    c = TestClient(create_app(ledger))
    r = c.post("/v1/admin/agreements/load", json={"names": ["okad-tillganglighet-2021"]}, headers={"Authorization": f"Bearer {k.admin}"}); print(r.text)
    r = c.post("/v1/admin/agreements/load", json={}, headers={"Authorization": f"Bearer {k.admin}"}); print(r.text)
    r = c.post("/v1/events", content=b'{"kind": "\xff\xfe"}', headers={"Authorization": f"Bearer {k.appender}", "Idempotency-Key": "x", "Content-Type": "application/json"}); print(r.status_code, r.text)
    r = c.post("/v1/events", content=b'\x9a\x08iUw\x84\x7fQ', headers={"Authorization": f"Bearer {k.appender}", "Idempotency-Key": "x", "Content-Type": "application/json"}); print(r.status_code, r.text)
