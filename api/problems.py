"""RFC 9457 problem details, and the guards every request passes (body size, content type).

Every error the API gives is ``application/problem+json`` naming what was wrong; a
database that is down is a 503, never a 500 with a stack trace; nothing is recorded.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ledger.admission import LedgerValidationError
from ledger.application import JournalBusy
from ledger.jsonin import InputJSONError
from ledger.jsonin import loads as strict_json

PROBLEM = "application/problem+json"
MAX_BODY_BYTES = 8 * 1024 * 1024
log = logging.getLogger("ledger.api")

TITLES = {400: "Bad request", 401: "Unauthorized", 403: "Forbidden", 404: "Not found", 409: "Conflict",
          413: "Payload too large", 415: "Unsupported media type", 422: "Invalid input",
          500: "Internal error", 503: "Service unavailable"}


def problem(status: int, detail: str, errors: list[dict[str, Any]] | None = None, **extra: Any) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": TITLES.get(status, "Error"), "status": status,
                            "detail": detail}
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "RFC 9457 problem details",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {
            "type": "object",
            "properties": {"item": {"type": "integer", "description": "0-based index in the batch"},
                           "field": {"type": "string"}, "reason": {"type": "string"}},
        }},
    },
}


def problem_responses(*statuses: int, **descriptions: str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for the problems a route can answer (``application/problem+json``).

    Declaring 422 here also replaces FastAPI's default 422 schema, which these bodies do not follow.
    """
    return {status: {"description": descriptions.get(f"d{status}", TITLES[status]),
                     "content": {PROBLEM: {"schema": PROBLEM_SCHEMA}}} for status in statuses}


class ApiProblem(Exception):
    """Raised by routes to answer with a problem."""

    def __init__(self, status: int, detail: str, errors: list[dict[str, Any]] | None = None):
        super().__init__(detail)
        self.status, self.detail, self.errors = status, detail, errors


def _field(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p != "body"]
    from ledger.events import KINDS

    parts = [p for p in parts if p not in KINDS]  # drop the union's tag from the path
    return ".".join(parts) or "body"


def _tagged(field: str, error_type: str) -> str:
    """An unknown or missing event kind is a problem with the field ``kind``, not the whole body;
    JSON that does not parse is a problem with the body (not with the character offset)."""
    if error_type == "json_invalid":
        return "body"
    if error_type not in ("union_tag_invalid", "union_tag_not_found"):
        return field
    return "kind" if field == "body" else f"{field}.kind"


def install_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiProblem)
    async def _api_problem(_: Request, exc: ApiProblem) -> JSONResponse:
        return problem(exc.status, exc.detail, exc.errors)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _tagged(_field(tuple(e["loc"])), e["type"]), "reason": e["msg"]} for e in exc.errors()]
        return problem(422, f"{len(errors)} invalid field(s); nothing was recorded", errors)

    @app.exception_handler(LedgerValidationError)
    async def _refused(_: Request, exc: LedgerValidationError) -> JSONResponse:
        errors = [{"item": e.item, "field": e.field, "reason": e.reason} for e in exc.errors]
        return problem(422, f"{len(errors)} problem(s); nothing was recorded", errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return problem(exc.status_code, str(exc.detail))

    @app.exception_handler(OperationalError)
    @app.exception_handler(InterfaceError)
    async def _database_down(_: Request, exc: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(exc).__name__)
        return problem(503, "the database is unavailable; nothing was recorded; retry with the same Idempotency-Key")

    @app.exception_handler(JournalBusy)
    async def _busy(_: Request, exc: JournalBusy) -> JSONResponse:
        return problem(503, f"{exc}; nothing was recorded; retry with the same Idempotency-Key")

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")  # the trace goes to the log, never to the client
        return problem(500, "unexpected error; nothing was recorded unless the response said so")


def _nul_problem(scope: Scope) -> JSONResponse | None:
    """404 for a path, 422 for a query parameter, that holds a NUL character."""
    if "\x00" in scope.get("path", ""):
        return problem(404, "no resource has a NUL character in its path")
    query = scope.get("query_string", b"").decode("latin-1")
    bad = sorted({name for name, value in parse_qsl(query, keep_blank_values=True)
                  if "\x00" in name or "\x00" in value})
    if not bad:
        return None
    return problem(422, "a query parameter holds a NUL character",
                   [{"field": name.replace("\x00", "\\0"), "reason": "contains a NUL character"} for name in bad])


class BodyGuard:
    """413 for bodies over the limit (declared or streamed), 415 for non-JSON writes, and no NUL in
    the path or query."""

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES):
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        refused = _nul_problem(scope) if scope["type"] == "http" else None
        if refused is not None:  # no database stores a NUL in text: refuse it before any query
            await refused(scope, receive, send)
            return
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        web_form = media_type == "application/x-www-form-urlencoded" and scope["path"].startswith("/web/")
        if media_type != "application/json" and not web_form:  # the web pages' sign-in forms post urlencoded
            await problem(415, "send the body as application/json")(scope, receive, send)
            return
        declared = headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > self.max_bytes:
            await problem(413, f"the body is larger than {self.max_bytes} bytes")(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.max_bytes:
                await problem(413, f"the body is larger than {self.max_bytes} bytes")(scope, receive, send)
                return
        if media_type == "application/json":  # one reading or none: duplicate keys, NaN, bad Unicode refused
            try:
                strict_json(body)
            except InputJSONError as exc:
                errors = [{"field": "body", "reason": exc.reason}]
                await problem(422, f"{exc.reason}; nothing was recorded", errors)(scope, receive, send)
                return

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
