"""The HTTP API (FastAPI). Routes call the ledger application and the projections; they
hold no rules. Finance systems append; auditors read any view for any as_of / known_at.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from typing import Annotated, Any, Callable, Literal

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import Body, Depends, FastAPI, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from api.keys import (
    ApiKey,
    KeyStore,
    PostgresIdempotencyRecords,
    PostgresKeyStore,
    SQLiteIdempotencyRecords,
    SQLiteKeyStore,
    StoredResponse,
)
from api.proof_routes import install_proofs, load_signing_key
from api.problems import ApiProblem, BodyGuard, install_handlers, problem, problem_responses
from ledger.application import Ledger
from ledger.events import LedgerEvent
from ledger.examples import EXAMPLES
from ledger.index import EventFilter
from ledger.journal import canonical_json
from ledger.signing import SigningKey
from ledger.timeparams import TimeParamError, known_at_text, parse_as_of
from projections import queries
from projections.render.cells import neutralise
from projections.reconciliation import reconcile
from projections.state import Clock

MAX_BATCH = 1000
APPEND_PATHS = ("/v1/events", "/v1/events/batch")
NO_KEY = "an API key is required: Authorization: Bearer <key>"
CSV_200: dict[int | str, dict[str, Any]] = {200: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                                  "description": "JSON, or CSV with format=csv"}}
APPEND_RESPONSES = {
    201: {"description": "Recorded, or the answer replayed for a retry with the same Idempotency-Key",
          "headers": {"Idempotent-Replayed": {"description": "true when this replays an earlier answer",
                                              "schema": {"type": "string", "enum": ["true"]}}}},
    **problem_responses(400, 401, 403, 409, 413, 415, 422, 503, d400="Idempotency-Key missing or invalid",
                        d409="Idempotency-Key reused with another body", d422="Invalid event; nothing recorded"),
}
READ_PROBLEMS = problem_responses(401, 403, 422, 503)
bearer = HTTPBearer(auto_error=False, description="An API key: `Authorization: Bearer lk_<id>.<secret>`")


class AppendedEvent(BaseModel):
    event_id: str
    position: int = Field(description="Position in the journal (1-based)")
    recorded_at: str = Field(description="When the ledger recorded it (UTC)")
    hash: str = Field(description="SHA-256 chain hash of the entry")


class AppendResponse(BaseModel):
    replayed: bool = Field(description="True when this answers a retry with the same Idempotency-Key")
    events: list[AppendedEvent]


class Batch(BaseModel):
    events: list[LedgerEvent] = Field(min_length=1, max_length=MAX_BATCH)  # type: ignore[valid-type]


class LoadRequest(BaseModel):
    names: list[str] = Field(default_factory=list, description="Agreement ids; all catalogued when empty")


def key_store_for(ledger: Ledger) -> KeyStore:
    postgres = ledger.config.backend == "postgres"
    store: KeyStore = ledger.factory.tracking_recorder(  # type: ignore[assignment]
        PostgresKeyStore if postgres else SQLiteKeyStore)  # type: ignore[arg-type]
    store.records = ledger.read_factory.tracking_recorder(  # type: ignore[assignment]
        PostgresIdempotencyRecords if postgres else SQLiteIdempotencyRecords)  # type: ignore[arg-type]
    return store


def _csv(rows: list[dict[str, Any]]) -> Response:
    buffer = io.StringIO()
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _csv_cell(v) for k, v in row.items()})
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8")


def _csv_cell(value: Any) -> Any:
    """Numbers stay numbers; text that a spreadsheet would run as a formula is quoted with a
    leading apostrophe, so it shows as the text it is."""
    if isinstance(value, (dict, list)):
        value = json.dumps(value, ensure_ascii=False)
    return neutralise(value) if isinstance(value, str) else value


def _clock(as_of: str | None, known_at: str | None) -> Clock:
    try:
        return Clock.of(as_of, known_at)
    except TimeParamError as exc:
        field = "as_of" if str(exc).startswith("as_of") else "known_at"
        raise ApiProblem(422, str(exc), [{"field": field, "reason": str(exc)}]) from exc
    except OverflowError as exc:  # a time that leaves year 1..9999 when turned into UTC
        raise _out_of_range(known_at) from exc


def _out_of_range(known_at: str | None) -> ApiProblem:
    reason = f"known_at: {known_at!r} is out of range"
    return ApiProblem(422, reason, [{"field": "known_at", "reason": reason}])


AsOf = Annotated[str | None, Query(description="Business date (YYYY-MM-DD); default today (Stockholm)")]
KnownAt = Annotated[str | None, Query(description="What the ledger knew at this time (ISO 8601); default now")]
Fmt = Annotated[Literal["json", "csv"], Query(description="json (default) or csv")]
# Module level, not inside create_app: with postponed annotations FastAPI resolves names in the module.
Idem = Annotated[str | None, Header(alias="Idempotency-Key", description="Required: unique per request")]

# The bearer token as sent, not yet checked: reads check it in a dependency (``require``),
# appends in the worker thread that appends (``_append_in_thread``).
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def create_app(ledger: Ledger, signing_key: SigningKey | None = None) -> FastAPI:
    """The API on a ledger; ``signing_key`` signs digests (default: the configured key file, if any)."""
    keys = key_store_for(ledger)
    app = FastAPI(
        title="Grant ledger — revisionsliggare för statsbidrag",
        version="1.0.0",
        description=(
            "Event-sourced audit ledger for Swedish state grants to SKR and the regions. Finance systems append "
            "events (with an Idempotency-Key); auditors read balances, due back, reclaims, obligations and "
            "findings for any `as_of` business date and `known_at` recorded time. Money is integer öre."
        ),
    )
    app.state.ledger, app.state.keys = ledger, keys
    app.add_middleware(BodyGuard)
    install_handlers(app)

    def key_for(credentials: HTTPAuthorizationCredentials | None, roles: tuple[str, ...],
                idempotency_key: str | None = None) -> tuple[ApiKey, StoredResponse | None]:
        """The caller's key, if it may do this (401 for none or a wrong one, 403 for a role
        that may not), and the answer it was given under ``idempotency_key``, if any: one
        query for both."""
        if credentials is None:
            raise ApiProblem(401, NO_KEY)
        key, stored = keys.recall(credentials.credentials, idempotency_key)
        if key is None:
            raise ApiProblem(401, "the API key is wrong, unknown or revoked")
        if key.role not in roles:
            raise ApiProblem(403, f"role {key.role!r} may not do this (needs {' or '.join(roles)})")
        return key, stored

    def require(*roles: str) -> Callable[..., ApiKey]:
        def check(credentials: Credentials) -> ApiKey:
            return key_for(credentials, roles)[0]

        return check

    appending = ("appender", "admin")
    reader = Depends(require("auditor", "admin"))
    admin = Depends(require("admin"))
    invalid = app.exception_handlers[RequestValidationError]

    @app.exception_handler(RequestValidationError)
    async def _invalid_after_the_key(request: Request, exc: RequestValidationError) -> Response:
        """An append's key is checked in the thread that appends, after its body is read:
        a bad body with a bad key still gets 401 or 403 first, as on every other route."""
        if request.method == "POST" and request.url.path in APPEND_PATHS:
            try:
                await run_in_threadpool(key_for, await bearer(request), appending)
            except ApiProblem as refused:
                return problem(refused.status, refused.detail, refused.errors)
        return await invalid(request, exc)  # type: ignore[no-any-return]

    # --- health -------------------------------------------------------------------

    @app.get("/health", tags=["health"])
    def health() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/ready", tags=["health"], responses=problem_responses(503))
    def ready() -> JSONResponse:
        """Readiness: the database answers and the read models are caught up (or how far behind)."""
        body = {"status": "ready", "journal_position": ledger.head()[0],
                "notifications_behind": ledger.notifications_behind()}
        return JSONResponse(body)

    # --- appending ----------------------------------------------------------------

    async def _append_in_thread(credentials: HTTPAuthorizationCredentials | None, events: list[Any],
                                idempotency_key: str | None) -> JSONResponse:
        """The key check, the idempotency lookup and the append, in one worker thread: each
        hop to a thread and back costs the event loop about as much as a query."""
        return await run_in_threadpool(_append, credentials, events, idempotency_key)

    def _append(credentials: HTTPAuthorizationCredentials | None, events: list[Any],
                idempotency_key: str | None) -> JSONResponse:
        """``events``: the request's events as FastAPI validated them (so the ledger does
        not parse them again); the idempotency hash and the scope check read their JSON."""
        usable = (idempotency_key if idempotency_key and idempotency_key.strip() and len(idempotency_key) <= 200
                  and "\x00" not in idempotency_key else None)
        key, stored = key_for(credentials, appending, usable)  # 401 and 403 before 400
        if usable is None:
            raise ApiProblem(400, "the Idempotency-Key header is required (1–200 characters)",
                             [{"field": "Idempotency-Key", "reason": "required on every append"}])
        idempotency_key = usable
        raw = [e.model_dump(mode="json", exclude_unset=True) for e in events]
        body_hash = hashlib.sha256(canonical_json(raw)).hexdigest()
        if stored is not None:
            return _replay(stored.body_hash, body_hash, stored.status, stored.response)
        for item, event in enumerate(raw):
            agreement = event.get("agreement_id") or (event.get("agreement") or {}).get("agreement_id")
            if not key.may_append_for(agreement, event.get("recipient_id")):
                raise ApiProblem(403, f"this key may not append for agreement {agreement!r} / recipient "
                                      f"{event.get('recipient_id')!r}",
                                 [{"item": item, "field": "agreement_id", "reason": "outside the key's scope"}])
        receipt = keys.receipt(key.key_id, idempotency_key, body_hash, _answer)
        try:
            entries = ledger.append(events, key.principal, receipt)
        except Exception:
            recovered = _already_recorded(raw, key)
            if recovered is None:
                raise
            response = recovered  # a retry after a lost answer: the events are in, identical
        else:
            if receipt.kept:  # the ledger kept the answer with the entries' read-model rows
                return JSONResponse({"replayed": False, "events": receipt.response}, status_code=201)
            response = _answer(entries)
        try:
            kept = keys.store_response(key.key_id, idempotency_key, body_hash, 201, response)
        except (OperationalError, InterfaceError):
            kept = True  # recorded, but the answer could not be kept: a retry is answered from the journal
        if not kept:
            stored = keys.stored_response(key.key_id, idempotency_key)
            assert stored is not None
            return _replay(stored.body_hash, body_hash, stored.status, stored.response)
        return JSONResponse({"replayed": False, "events": response}, status_code=201)

    def _answer(entries: list[Any]) -> list[dict[str, Any]]:
        # Plain dicts in AppendedEvent's shape (the response model documents it): a model
        # per event was about 3 % of a batch's server time in a profile.
        return [{"event_id": e.event_id, "position": e.position, "recorded_at": e.recorded_at, "hash": e.hash}
                for e in entries]

    def _replay(stored_hash: str, body_hash: str, status: int, response: Any) -> JSONResponse:
        if stored_hash != body_hash:
            raise ApiProblem(409, "this Idempotency-Key was used with a different body",
                             [{"field": "Idempotency-Key", "reason": "reused with a different body"}])
        return JSONResponse({"replayed": True, "events": response}, status_code=status,
                            headers={"Idempotent-Replayed": "true"})

    def _already_recorded(raw: list[dict[str, Any]], key: ApiKey) -> list[dict[str, Any]] | None:
        """If every event is already recorded, by this key, with the same content, say so."""
        found = []
        for event in raw:
            row = ledger.index.event(str(event.get("event_id")))
            if row is None or row["recorded_by"] != key.principal:
                return None
            sent = json.loads(json.dumps(event))
            if any(row["payload"].get(k) != v for k, v in sent.items() if k != "event_id" and v is not None):
                return None
            found.append(AppendedEvent(event_id=row["event_id"], position=row["position"],
                                       recorded_at=row["recorded_at"], hash=row["hash"]).model_dump())
        return found

    @app.post("/v1/events", tags=["append"], status_code=201, response_model=AppendResponse,
              responses=APPEND_RESPONSES)
    async def append_event(
        event: Annotated[LedgerEvent, Body(openapi_examples={  # type: ignore[valid-type]
            k: {"summary": k, "value": v} for k, v in EXAMPLES.items()})],
        credentials: Credentials,
        idempotency_key: Idem = None,
    ) -> JSONResponse:
        """Append one event. The same Idempotency-Key with the same body returns the original answer."""
        return await _append_in_thread(credentials, [event], idempotency_key)

    @app.post("/v1/events/batch", tags=["append"], status_code=201, response_model=AppendResponse,
              responses=APPEND_RESPONSES)
    async def append_batch(
        batch: Annotated[Batch, Body(openapi_examples={"payout and repayment": {"value": {"events": [
            EXAMPLES["payout_made"], EXAMPLES["repayment_received"]]}}})],
        credentials: Credentials,
        idempotency_key: Idem = None,
    ) -> JSONResponse:
        """Append up to 1 000 events atomically: all are recorded or none."""
        return await _append_in_thread(credentials, list(batch.events), idempotency_key)

    # --- reading ------------------------------------------------------------------

    @app.get("/v1/events", tags=["read"], responses={**CSV_200, **READ_PROBLEMS})
    def list_events(
        agreement_id: str | None = None, recipient_id: str | None = None, kind: str | None = None,
        recorded_by: Annotated[str | None, Query(description="Principal, e.g. key:<key_id>")] = None,
        as_of: AsOf = None, known_at: KnownAt = None,
        after_position: Annotated[int, Query(ge=0, le=10**12)] = 0,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100, format: Fmt = "json", _: ApiKey = reader,
    ) -> Any:
        """Recorded events in journal order, paginated by position (stable under concurrent appends)."""
        try:
            flt = EventFilter(agreement_id, recipient_id, kind, recorded_by,
                              parse_as_of(as_of).isoformat() if as_of else None,
                              known_at_text(known_at) if known_at else None, after_position, limit)
        except TimeParamError as exc:
            raise ApiProblem(422, str(exc)) from exc
        except OverflowError as exc:
            raise _out_of_range(known_at) from exc
        ledger.catch_up()
        rows = ledger.list_events(flt)
        if format == "csv":
            return _csv(rows)
        return {"events": rows, "next_after_position": rows[-1]["position"] if len(rows) == limit else None}

    @app.get("/v1/events/{event_id}", tags=["read"], responses=problem_responses(401, 403, 404, 422, 503))
    def get_event(event_id: str, _: ApiKey = reader) -> dict[str, Any]:
        """One event with its position, recorded time, principal and chain hash."""
        ledger.catch_up()
        row = ledger.index.event(event_id)
        if row is None:
            raise ApiProblem(404, f"no event {event_id}")
        return row

    def _view(name: str, function: Callable[..., list[dict[str, Any]]]) -> None:
        def endpoint(as_of: AsOf = None, known_at: KnownAt = None, agreement_id: str | None = None,
                     part_id: str | None = None, recipient_id: str | None = None, format: Fmt = "json",
                     _: ApiKey = reader) -> Any:
            clock = _clock(as_of, known_at)
            ledger.catch_up()
            rows = function(ledger.views, clock, queries.Filters(agreement_id, part_id, recipient_id))
            if format == "csv":
                return _csv(rows)
            as_of_text, known_text = clock.params
            return {"as_of": as_of_text, "known_at": known_text, "journal_head": ledger.head()[0], "rows": rows}

        endpoint.__name__ = name.replace("-", "_")
        endpoint.__doc__ = function.__doc__ or name
        app.get(f"/v1/{name}", tags=["read"], summary=name.replace("-", " ").capitalize(),
                responses={**CSV_200, **READ_PROBLEMS})(endpoint)

    _view("balances", queries.balances)
    _view("due-back", queries.due_back_list)
    _view("reclaims", queries.reclaims)
    _view("obligations", queries.obligation_list)
    _view("findings", queries.finding_list)

    @app.get("/v1/agreements", tags=["read"], responses=problem_responses(401, 403, 503))
    def agreements(_: ApiKey = reader) -> list[dict[str, Any]]:
        """Agreements recorded in the ledger, with their reconciliation against the printed totals."""
        ledger.catch_up()
        return [{"agreement_id": a.agreement_id, "title": a.title, "year": a.year,
                 "state_money": a.stated_totals.state_kr * 100, "reconciliation": reconcile(a).as_dict()}
                for a in ledger.agreements()]

    @app.get("/v1/agreements/{agreement_id}", tags=["read"], responses=problem_responses(401, 403, 404, 422, 503))
    def agreement(agreement_id: str, _: ApiKey = reader) -> dict[str, Any]:
        """One agreement's terms as in force, with its reconciliation."""
        ledger.catch_up()
        found = ledger.agreement(agreement_id)
        if found is None:
            raise ApiProblem(404, f"no agreement {agreement_id!r}")
        return {"terms": found.model_dump(mode="json"), "reconciliation": reconcile(found).as_dict()}

    @app.get("/v1/recipients", tags=["read"], responses=problem_responses(401, 403, 503))
    def recipients(_: ApiKey = reader) -> list[dict[str, Any]]:
        """Every registered recipient with its name history."""
        ledger.catch_up()
        return [_recipient(r) for r in sorted(ledger.index.recipient_ids())]

    @app.get("/v1/recipients/{recipient_id}", tags=["read"], responses=problem_responses(401, 403, 404, 422, 503))
    def recipient(recipient_id: str, _: ApiKey = reader) -> dict[str, Any]:
        """A recipient with its name history (one identity across renames)."""
        ledger.catch_up()
        return _recipient(recipient_id)

    def _recipient(recipient_id: str) -> dict[str, Any]:
        history = ledger.index.recipient_history(recipient_id)
        if not history:
            raise ApiProblem(404, f"unknown recipient {recipient_id!r}")
        first = history[0]["payload"]
        return {"recipient_id": recipient_id, "kind": first["recipient_kind"], "org_number": first.get("org_number"),
                "org_number_note": first.get("org_number_note"),
                "names": [{"name": h["payload"]["name"], "short_name": h["payload"].get("short_name"),
                           "valid_from": h["effective_date"]} for h in history]}

    # --- administration -------------------------------------------------------------

    @app.post("/v1/admin/agreements/load", tags=["admin"], responses=problem_responses(400, 401, 403, 413, 415, 422, 503))
    def load_agreements(request: LoadRequest, key: ApiKey = admin) -> dict[str, Any]:
        """Record catalogued agreements (and the recipients they need); loading twice records nothing."""
        from ledger.catalogue import CatalogueError

        try:
            entries = ledger.load_agreements(request.names or None)
        except CatalogueError as exc:
            raise ApiProblem(422, str(exc), [{"field": "names", "reason": str(exc)}]) from exc
        return {"recorded": len(entries)}

    @app.get("/v1/admin/keys", tags=["admin"], responses=problem_responses(401, 403, 503))
    def list_keys(_: ApiKey = admin) -> list[dict[str, Any]]:
        """API keys (never their secrets)."""
        return [k.public() for k in keys.list()]

    install_proofs(app, ledger, reader, load_signing_key(signing_key))

    from api.web import install_web  # the auditors' web pages and /v1/reports (api/web.py)

    install_web(app, ledger, keys)
    return app
