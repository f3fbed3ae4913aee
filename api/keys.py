"""API keys and idempotency records, stored in the ledger's own database.

A key is shown once when created (``lk_<id>.<secret>``); only the SHA-256 of its secret is
stored. Roles: ``appender`` (a finance system; may be limited to some agreements or
recipients), ``auditor`` (reads everything, writes nothing), ``admin`` (loads agreements,
manages keys, reads). Revoking sets ``revoked_at``; no key row is ever deleted.

Idempotency records keep, per key and Idempotency-Key, the hash of the request body and
the response that was given, so a retry gets the same answer after a restart.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from ledger.sql import PostgresSqlView, SQLiteSqlView, SqlView

Role = Literal["appender", "auditor", "admin"]
ROLES: tuple[Role, ...] = ("appender", "auditor", "admin")
KEY_ID = re.compile(r"[0-9a-f]{12}")  # secrets.token_hex(6)

KEYS_DDL = (
    "CREATE TABLE IF NOT EXISTS {s}api_keys ("
    " key_id TEXT PRIMARY KEY, name TEXT NOT NULL, role TEXT NOT NULL, secret_hash TEXT NOT NULL,"
    " agreements TEXT NOT NULL, recipients TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)",
)
RECORDS_DDL = (
    "CREATE TABLE IF NOT EXISTS {s}idempotency_records ("
    " key_id TEXT NOT NULL, idempotency_key TEXT NOT NULL, body_hash TEXT NOT NULL,"
    " status INTEGER NOT NULL, response TEXT NOT NULL, created_at TEXT NOT NULL,"
    " PRIMARY KEY (key_id, idempotency_key))",
)


def _now() -> str:
    return dt.datetime.now(tz=dt.timezone.utc).isoformat(timespec="seconds")


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _split(token: str) -> tuple[str | None, str]:
    """A token's key id and secret; no key id for what cannot be a token."""
    if not token.startswith("lk_") or "." not in token:
        return None, ""
    key_id, secret = token[3:].split(".", 1)
    if not KEY_ID.fullmatch(key_id):
        return None, ""  # never send the database what cannot be a key id (e.g. a NUL)
    return key_id, secret


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    name: str
    role: Role
    agreements: list[str] = field(default_factory=list)  # empty: every agreement
    recipients: list[str] = field(default_factory=list)  # empty: every recipient
    created_at: str = ""
    revoked_at: str | None = None

    @property
    def principal(self) -> str:
        """What ``recorded_by`` says for events this key appended."""
        return f"key:{self.key_id}"

    def may_append_for(self, agreement_id: str | None, recipient_id: str | None) -> bool:
        if self.agreements and agreement_id not in self.agreements:
            return False
        return not (self.recipients and recipient_id is not None and recipient_id not in self.recipients)

    def public(self) -> dict[str, Any]:
        return {"key_id": self.key_id, "name": self.name, "role": self.role, "agreements": self.agreements,
                "recipients": self.recipients, "created_at": self.created_at, "revoked_at": self.revoked_at}


@dataclass(frozen=True)
class StoredResponse:
    body_hash: str
    status: int
    response: Any

    @classmethod
    def of(cls, row: dict[str, Any]) -> StoredResponse:
        """From an idempotency_records row (or a row joined with one)."""
        return cls(row["body_hash"], int(row["status"]), json.loads(row["response"]))


class IdempotencyRecords(SqlView):
    """The answers given per key and Idempotency-Key.

    Their commits need not wait for the disk (like the read models'): should a power cut
    lose the last ones, a retry finds its events already in the journal and is answered
    from there (api/app.py), so nothing is recorded twice.
    """

    ddl = RECORDS_DDL
    view_name = "idempotency_records"
    waits_for_disk = False

    def stored_response(self, key_id: str, idempotency_key: str) -> StoredResponse | None:
        rows = self.query("SELECT body_hash, status, response FROM {s}idempotency_records"
                          " WHERE key_id = ? AND idempotency_key = ?", [key_id, idempotency_key])
        return StoredResponse.of(rows[0]) if rows else None

    def store_response(self, key_id: str, idempotency_key: str, body_hash: str, status: int, response: Any) -> bool:
        """Keep the answer; False if another request with the same key stored one first."""
        with self.transaction(commit=True) as cursor:
            return self.insert(cursor, key_id, idempotency_key, body_hash, status, response)

    def insert(self, cursor: Any, key_id: str, idempotency_key: str, body_hash: str, status: int,
               response: Any) -> bool:
        """Keep the answer in the caller's transaction; False if one is kept under the key already."""
        cursor.execute(self.sql("INSERT INTO {s}idempotency_records VALUES (?,?,?,?,?,?)"
                                " ON CONFLICT (key_id, idempotency_key) DO NOTHING RETURNING key_id"),
                       [key_id, idempotency_key, body_hash, status, json.dumps(response), _now()])
        return len(cursor.fetchall()) == 1


@dataclass(eq=False)
class IdempotencyReceipt:
    """The answer to an append, kept by the ledger in the transaction that projects the
    append's entries (ledger/grouping.py, Receipt): no transaction of its own per request."""

    records: IdempotencyRecords
    key_id: str
    idempotency_key: str
    body_hash: str
    answer: Callable[[list[Any]], Any]  # the response's events, from the recorded entries
    kept: bool = False
    response: Any = None  # what keep() wrote: the answer, built once

    def keep(self, cursor: Any, entries: list[Any]) -> bool:
        self.response = self.answer(entries)
        return self.records.insert(cursor, self.key_id, self.idempotency_key, self.body_hash, 201,
                                   self.response)



class KeyStore(SqlView):
    """API keys (their creation and revocation wait for the disk), and the idempotency
    records, which live on the read models' connections."""

    ddl = KEYS_DDL
    view_name = "api_keys"
    records: IdempotencyRecords

    def stored_response(self, key_id: str, idempotency_key: str) -> StoredResponse | None:
        return self.records.stored_response(key_id, idempotency_key)

    def store_response(self, key_id: str, idempotency_key: str, body_hash: str, status: int, response: Any) -> bool:
        return self.records.store_response(key_id, idempotency_key, body_hash, status, response)

    def receipt(self, key_id: str, idempotency_key: str, body_hash: str,
                answer: Callable[[list[Any]], Any]) -> IdempotencyReceipt:
        return IdempotencyReceipt(self.records, key_id, idempotency_key, body_hash, answer)

    def create(self, name: str, role: Role, agreements: list[str] | None = None,
               recipients: list[str] | None = None) -> tuple[ApiKey, str]:
        """A new key and its secret token, which is shown once and never stored."""
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        key_id, secret = secrets.token_hex(6), secrets.token_urlsafe(32)
        key = ApiKey(key_id, name, role, list(agreements or []), list(recipients or []), _now())
        with self.transaction(commit=True) as cursor:
            cursor.execute(self.sql("INSERT INTO {s}api_keys VALUES (?,?,?,?,?,?,?,?)"),
                           [key_id, name, role, _hash(secret), json.dumps(key.agreements),
                            json.dumps(key.recipients), key.created_at, None])
        return key, f"lk_{key_id}.{secret}"

    def _row(self, row: dict[str, Any]) -> ApiKey:
        return ApiKey(row["key_id"], row["name"], row["role"], json.loads(row["agreements"]),
                      json.loads(row["recipients"]), row["created_at"], row["revoked_at"])

    def authenticate(self, token: str) -> ApiKey | None:
        """The active key a token belongs to, or None (wrong, unknown or revoked)."""
        return self.recall(token, None)[0]

    def recall(self, token: str, idempotency_key: str | None) -> tuple[ApiKey | None, StoredResponse | None]:
        """What an append needs first, in one query: the active key a token belongs to (or
        None), and the answer that key was given under ``idempotency_key`` (or None)."""
        key_id, secret = _split(token)
        if key_id is None:
            return None, None
        rows = self.records.query(
            "SELECT k.*, r.body_hash, r.status, r.response FROM {s}api_keys k"
            " LEFT JOIN {s}idempotency_records r ON r.key_id = k.key_id AND r.idempotency_key = ?"
            " WHERE k.key_id = ?", [idempotency_key, key_id], stable_plan=True)  # both by primary key
        key = self._active(rows[0], secret) if rows else None
        if key is None or rows[0]["body_hash"] is None:
            return key, None
        return key, StoredResponse.of(rows[0])

    def _active(self, row: dict[str, Any], secret: str) -> ApiKey | None:
        if row["revoked_at"] is not None or not hmac.compare_digest(row["secret_hash"], _hash(secret)):
            return None
        return self._row(row)

    def list(self) -> list[ApiKey]:
        return [self._row(r) for r in self.query("SELECT * FROM {s}api_keys ORDER BY created_at, key_id")]

    def revoke(self, key_id: str) -> bool:
        """Revoke an active key; False when there is no such active key."""
        if not self.query("SELECT key_id FROM {s}api_keys WHERE key_id = ? AND revoked_at IS NULL", [key_id]):
            return False
        with self.transaction(commit=True) as cursor:
            cursor.execute(self.sql("UPDATE {s}api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL"),
                           [_now(), key_id])
        return True

    def is_empty(self) -> bool:
        return not self.query("SELECT key_id FROM {s}api_keys LIMIT 1")

class SQLiteKeyStore(KeyStore, SQLiteSqlView):
    pass


class PostgresKeyStore(KeyStore, PostgresSqlView):
    pass


class SQLiteIdempotencyRecords(IdempotencyRecords, SQLiteSqlView):
    pass


class PostgresIdempotencyRecords(IdempotencyRecords, PostgresSqlView):
    pass
