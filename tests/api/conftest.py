"""Fixtures for the HTTP API tests: an app on a loaded ledger (SQLite and PostgreSQL) and a
token for every kind of caller.

``keys`` holds the tokens: ``admin``, ``auditor``, ``appender`` (every agreement), ``scoped``
(an appender limited to one agreement, ``SCOPED_AGREEMENT``) and ``revoked`` (an appender
key that was revoked). Tokens are secrets: tests check no response body ever contains one.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient

from api.app import create_app, key_store_for
from ledger.application import Ledger

SCOPED_AGREEMENT = "okad-tillganglighet-2021"


@dataclass(frozen=True)
class Keys:
    admin: str
    auditor: str
    appender: str
    scoped: str
    revoked: str
    ids: dict[str, str]  # role name above -> key_id

    @property
    def tokens(self) -> list[str]:
        return [self.admin, self.auditor, self.appender, self.scoped, self.revoked]

    @staticmethod
    def header(token: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {token}"}


def make_keys(ledger: Ledger) -> Keys:
    store = key_store_for(ledger)
    admin, admin_token = store.create("test admin", "admin")
    auditor, auditor_token = store.create("test auditor", "auditor")
    appender, appender_token = store.create("test finance system", "appender")
    scoped, scoped_token = store.create("test scoped finance system", "appender", [SCOPED_AGREEMENT])
    revoked, revoked_token = store.create("test revoked finance system", "appender")
    assert store.revoke(revoked.key_id)
    return Keys(admin_token, auditor_token, appender_token, scoped_token, revoked_token,
                {"admin": admin.key_id, "auditor": auditor.key_id, "appender": appender.key_id,
                 "scoped": scoped.key_id, "revoked": revoked.key_id})


@pytest.fixture
def keys(loaded_ledger: Ledger) -> Keys:
    return make_keys(loaded_ledger)


class SecretCheckingClient(TestClient):
    """A TestClient that fails the test if any response body contains a key's secret."""

    secrets: list[str]

    def request(self, *args, **kwargs):  # type: ignore[no-untyped-def, override]
        response = super().request(*args, **kwargs)
        body = response.content
        for token in self.secrets:
            assert token.encode() not in body, f"a key's token leaked into {response.request.url}"
            assert token.split(".", 1)[1].encode() not in body, f"a key's secret leaked into {response.request.url}"
        return response


@pytest.fixture
def client(loaded_ledger: Ledger, keys: Keys) -> Iterator[TestClient]:
    with SecretCheckingClient(create_app(loaded_ledger)) as test_client:
        test_client.secrets = keys.tokens
        yield test_client
