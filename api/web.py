"""The auditors' web pages and the report downloads (``GET /v1/reports/{name}``).

Server-rendered HTML (jinja2, autoescaped), no JavaScript: the balance chart is inline SVG.
Every page takes ``as_of`` and ``known_at`` from its URL query, so a link shows a colleague
the same view, and says so in a banner when the view is not "now". Sign-in: an auditor or
admin pastes an API key once; the server keeps an opaque session id in an HttpOnly,
SameSite=Strict cookie (never the key, and never a key in a URL).

``install_web(app, ledger, keys)`` adds the routes to the API's app.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import threading
from dataclasses import dataclass, field, replace
from collections.abc import Callable
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from api.keys import ApiKey, KeyStore
from api.problems import ApiProblem, problem_responses
from ledger.application import Ledger
from ledger.calendar import STOCKHOLM
from ledger.timeparams import TimeParamError, parse_known_at
from projections.render import FORMATS, render
from projections.render.chart import line_chart
from projections.render.html import environment, render_template
from projections.reports import Report, ReportError, Section, build_report, recipient_names
from projections.state import Clock, agreement_ids

COOKIE = "ledger_session"
SESSION_TTL = dt.timedelta(hours=8)
WEB_ROLES = ("auditor", "admin")
PAGE_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none';"
            " base-uri 'none'")
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
NAV = ("overview", "recipients", "due-back", "reclaims", "lapsed", "obligations", "findings")
LIST_PAGES = ("due-back", "reclaims", "lapsed", "obligations", "findings")
VIEW_PARAMS = ("as_of", "known_at", "lang", "agreement_id", "recipient_id", "part_id", "state", "rule", "sort", "desc")


# --- sessions -----------------------------------------------------------------------------


class Sessions:
    """Opaque session ids in memory. The cookie holds a random id; the server keeps only its
    SHA-256, with the key id and an expiry. A restart signs everyone out."""

    def __init__(self, ttl: dt.timedelta = SESSION_TTL):
        self.ttl, self._lock, self._open = ttl, threading.Lock(), {}  # type: ignore[var-annotated]

    @staticmethod
    def _digest(session_id: str) -> str:
        return hashlib.sha256(session_id.encode()).hexdigest()

    def open(self, key: ApiKey) -> str:
        session_id = secrets.token_urlsafe(32)
        with self._lock:
            self._open[self._digest(session_id)] = (key.key_id, dt.datetime.now(dt.timezone.utc) + self.ttl)
        return session_id

    def key_id(self, session_id: str) -> str | None:
        now = dt.datetime.now(dt.timezone.utc)
        with self._lock:
            found = self._open.get(self._digest(session_id))
            if found is None or found[1] < now:
                self._open.pop(self._digest(session_id), None)
                return None
            self._open[self._digest(session_id)] = (found[0], now + self.ttl)
            return found[0]

    def close(self, session_id: str) -> None:
        with self._lock:
            self._open.pop(self._digest(session_id), None)


class LoginRequired(Exception):
    def __init__(self, next_url: str):
        self.next_url = next_url


class PageProblem(Exception):
    def __init__(self, status: int, detail: str, lang: str = "sv"):
        self.status, self.detail, self.lang = status, detail, lang


# --- the view: clocks, language, filters and sort, all from the URL ------------------------


@dataclass(frozen=True)
class View:
    path: str
    params: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, request: Request) -> View:
        query = request.query_params
        return cls(request.url.path, {k: query[k].strip() for k in VIEW_PARAMS if query.get(k, "").strip()})

    def get(self, key: str) -> str | None:
        return self.params.get(key)

    @property
    def lang(self) -> str:
        return "en" if self.get("lang") == "en" else "sv"

    @property
    def historic(self) -> bool:
        return bool(self.get("as_of") or self.get("known_at"))

    def clock(self) -> Clock:
        try:
            return Clock.of(self.get("as_of"), self.get("known_at"))
        except TimeParamError as exc:
            raise PageProblem(422, str(exc), self.lang) from exc

    def url(self, path: str | None = None, keep: tuple[str, ...] = VIEW_PARAMS, **changes: Any) -> str:
        """This view's URL with ``changes`` (None drops a parameter); ``keep`` limits what carries over."""
        params = {k: v for k, v in self.params.items() if k in keep}
        params.update({k: str(v) for k, v in changes.items() if v is not None})
        for key in [k for k, v in changes.items() if v is None]:
            params.pop(key, None)
        query = urlencode(params)
        return (path or self.path) + (f"?{query}" if query else "")

    def link(self, path: str) -> str:
        """Another page, keeping only the clocks and the language."""
        return self.url(path, keep=("as_of", "known_at", "lang"))

    def sort_url(self, key: str) -> str:
        desc = "1" if self.get("sort") == key and self.get("desc") != "1" else None
        return self.url(sort=key, desc=desc)

    def report_url(self, name: str, fmt: str, **subject: str | None) -> str:
        params = {"format": fmt, "lang": self.lang, "as_of": self.get("as_of"), "known_at": self.get("known_at"),
                  **subject}
        return f"/v1/reports/{name}?" + urlencode({k: v for k, v in params.items() if v})

    def time_values(self) -> dict[str, str]:
        """The pickers' values: the as_of date and known_at as Stockholm local time."""
        known = self.get("known_at")
        local = ""
        if known:
            try:
                local = parse_known_at(known).astimezone(STOCKHOLM).strftime("%Y-%m-%dT%H:%M:%S")
            except TimeParamError:
                local = ""
        return {"as_of": self.get("as_of") or "", "known_at": local}


def sort_rows(rows: list[dict[str, Any]], key: str | None, descending: bool) -> list[dict[str, Any]]:
    """Rows sorted by one column; empty cells last either way; numbers as numbers."""
    if not key:
        return rows
    present = [r for r in rows if r.get(key) not in (None, "", [])]
    empty = [r for r in rows if r.get(key) in (None, "", [])]

    def value(row: dict[str, Any]) -> Any:
        v = row[key]
        return (0, v, "") if isinstance(v, (int, float)) and not isinstance(v, bool) else (1, 0, str(v).lower())

    return sorted(present, key=value, reverse=descending) + empty


def _stockholm(moment: dt.datetime) -> str:
    return moment.astimezone(STOCKHOLM).strftime("%Y-%m-%d %H:%M:%S %Z")


# --- installing the routes -----------------------------------------------------------------


@dataclass
class Web:
    app: FastAPI
    ledger: Ledger
    keys: KeyStore
    sessions: Sessions = field(default_factory=Sessions)

    # --- who is asking ------------------------------------------------------------

    def active_key(self, key_id: str) -> ApiKey | None:
        return next((k for k in self.keys.list() if k.key_id == key_id and k.revoked_at is None), None)

    def session_key(self, request: Request) -> ApiKey | None:
        session_id = request.cookies.get(COOKIE)
        key_id = self.sessions.key_id(session_id) if session_id else None
        key = self.active_key(key_id) if key_id else None
        return key if key and key.role in WEB_ROLES else None

    def user(self, request: Request) -> ApiKey:
        key = self.session_key(request)
        if key is None:
            raise LoginRequired(request.url.path + (f"?{request.url.query}" if request.url.query else ""))
        return key

    def report_reader(self, request: Request) -> ApiKey:
        """A Bearer key (as for every /v1 read) or a web session: auditor or admin."""
        header = request.headers.get("authorization")
        if header:
            scheme, _, token = header.partition(" ")
            key = self.keys.authenticate(token.strip()) if scheme.lower() == "bearer" else None
            if key is None:
                raise ApiProblem(401, "the API key is wrong, unknown or revoked")
        else:
            key = self.session_key(request)
            if key is None:
                raise ApiProblem(401, "an API key is required: Authorization: Bearer <key>")
        if key.role not in WEB_ROLES:
            raise ApiProblem(403, f"role {key.role!r} may not do this (needs auditor or admin)")
        return key

    # --- building pages -------------------------------------------------------------

    def report(self, view: View, name: str, **subject: str | None) -> Report:
        clock = view.clock()
        try:
            return build_report(self.ledger, name, clock, lang=view.lang, **subject)
        except ReportError as exc:
            raise PageProblem(exc.status, str(exc), view.lang) from exc

    def page(self, template: str, view: View, user: ApiKey, status: int = 200, **context: Any) -> HTMLResponse:
        position, head_hash = self.ledger.head()
        clock = view.clock()
        body = render_template(
            template, view=view, user=user, lang=view.lang, nav=NAV, position=position, head_hash=head_hash,
            clock=clock, known_at_local=_stockholm(clock.known_at), times=view.time_values(), **context)
        return html_response(body, status)

    def downloads(self, view: View, name: str, **subject: str | None) -> dict[str, Any]:
        return {"name": name, "links": [(fmt, view.report_url(name, fmt, **subject)) for fmt in FORMATS]}


def html_response(body: str, status: int = 200, csp: str = PAGE_CSP) -> HTMLResponse:
    return HTMLResponse(body, status_code=status, headers={
        "Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
        "Cache-Control": "no-store", "X-Frame-Options": "DENY"})


def install_web(app: FastAPI, ledger: Ledger, keys: KeyStore) -> None:
    """Add the web pages (/web/...) and the report downloads (/v1/reports/{name}) to the app."""
    web = Web(app, ledger, keys)
    app.state.web = web
    _install_handlers(app)
    _install_auth(app, web)
    _install_reports(app, web)
    _install_pages(app, web)
    _install_lists(app, web)


def _install_handlers(app: FastAPI) -> None:
    @app.exception_handler(LoginRequired)
    async def _login(_: Request, exc: LoginRequired) -> Response:
        return RedirectResponse("/web/login?" + urlencode({"next": exc.next_url}), status_code=303)

    @app.exception_handler(PageProblem)
    async def _problem(request: Request, exc: PageProblem) -> Response:
        body = render_template("web/error.html", lang=exc.lang, status=exc.status, detail=exc.detail,
                               view=View.of(request))
        return html_response(body, exc.status)


def _safe_next(value: str | None) -> str:
    """Only a path on this site: no scheme, no host, no "//"."""
    if value and value.startswith("/web") and not value.startswith("//") and "\\" not in value:
        return value
    return "/web/"


def _install_auth(app: FastAPI, web: Web) -> None:
    if not any(getattr(r, "path", None) == "/" for r in app.routes):
        @app.get("/", include_in_schema=False)
        def root() -> Response:
            return RedirectResponse("/web/", status_code=303)

    @app.get("/web/style.css", include_in_schema=False)
    def style() -> Response:
        css = environment().loader.get_source(environment(), "web/style.css")[0]  # type: ignore[union-attr]
        return Response(css, media_type="text/css", headers={"Cache-Control": "max-age=300"})

    @app.get("/web/login", include_in_schema=False)
    def login_form(request: Request) -> Response:
        view = View.of(request)
        return html_response(render_template("web/login.html", lang=view.lang, view=view,
                                              next=_safe_next(request.query_params.get("next")), error=None))

    @app.post("/web/login", include_in_schema=False)
    async def login(request: Request) -> Response:
        form = await request.form()
        view, next_url = View.of(request), _safe_next(str(form.get("next") or ""))
        key = web.keys.authenticate(str(form.get("api_key") or "").strip())
        error = "web.wrong_key" if key is None else None if key.role in WEB_ROLES else "web.role_refused"
        if key is None or error:
            body = render_template("web/login.html", lang=view.lang, view=view, next=next_url, error=error)
            return html_response(body, 401 if key is None else 403)
        response = RedirectResponse(next_url, status_code=303)
        response.set_cookie(COOKIE, web.sessions.open(key), max_age=int(SESSION_TTL.total_seconds()), path="/",
                            httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return response

    @app.post("/web/logout", include_in_schema=False)
    def logout(request: Request) -> Response:
        session_id = request.cookies.get(COOKIE)
        if session_id:
            web.sessions.close(session_id)
        response = RedirectResponse("/web/login", status_code=303)
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict")
        return response


REPORT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "The report in the format asked for",
          "content": {"text/html": {"schema": {"type": "string"}},
                      "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                      "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":
                          {"schema": {"type": "string", "format": "binary"}},
                      "text/csv": {"schema": {"type": "string"}}}},
    **problem_responses(401, 403, 404, 422, 503, d404="No such report, agreement or recipient"),
}


def _install_reports(app: FastAPI, web: Web) -> None:
    @app.get("/v1/reports/{name}", tags=["reports"], summary="A report as HTML, PDF, XLSX or CSV",
             responses=REPORT_RESPONSES)
    def report(
        request: Request, name: str,
        format: Annotated[Literal["html", "pdf", "xlsx", "csv"], Query(description="html, pdf, xlsx or csv")] = "html",
        lang: Annotated[Literal["sv", "en"], Query(description="sv (default) or en")] = "sv",
        as_of: Annotated[str | None, Query(description="Business date (YYYY-MM-DD); default today")] = None,
        known_at: Annotated[str | None, Query(description="What the ledger knew at this time; default now")] = None,
        agreement_id: str | None = None, recipient_id: str | None = None, part_id: str | None = None,
    ) -> Response:
        """Reports: recipient-statement (needs recipient_id), agreement-statement (needs agreement_id), due-back,
        reclaims, lapsed, findings, obligations, overview, recipients. Each states its as_of, known_at, when it
        was made, and the journal position and head hash it was made from. Auditor or admin keys."""
        web.report_reader(request)
        try:
            clock = Clock.of(as_of, known_at)
        except (TimeParamError, OverflowError) as exc:  # OverflowError: a known_at outside years 1..9999 in UTC
            raise ApiProblem(422, str(exc) if isinstance(exc, TimeParamError) else f"known_at: {known_at!r} is out of range"
                             ) from exc
        try:
            built = build_report(web.ledger, name, clock, agreement_id, recipient_id, lang, part_id=part_id)
        except ReportError as exc:
            raise ApiProblem(exc.status, str(exc)) from exc
        made = render(built, format)
        disposition = "inline" if format == "html" else "attachment"
        headers = {"Content-Disposition": f'{disposition}; filename="{made.filename}"', "Cache-Control": "no-store",
                   "X-Journal-Position": str(built.meta.position), "X-Head-Hash": built.meta.head_hash,
                   "X-Content-Type-Options": "nosniff"}
        if format == "html":
            headers["Content-Security-Policy"] = REPORT_CSP
        return Response(made.body, media_type=made.media_type, headers=headers)


def _agreement_link(view: View) -> Any:
    def link(row: dict[str, Any], key: str) -> str | None:
        if key == "agreement_id" and row.get("agreement_id"):
            return view.link(f"/web/agreements/{row['agreement_id']}")
        if key in ("recipient_id", "recipient_name") and row.get("recipient_id") not in (None, "", "*"):
            return view.link(f"/web/recipients/{row['recipient_id']}")
        return None

    return link


def _sorted(section: Section, view: View) -> Section:
    key = view.get("sort")
    if not key or section.column(key) is None:
        return section
    return replace(section, rows=sort_rows(section.rows, key, view.get("desc") == "1"))


def _install_pages(app: FastAPI, web: Web) -> None:
    def listing(name: str) -> Callable[[Request], Response]:
        """The overview and the recipients page: one report, one sortable table."""
        def page(request: Request) -> Response:
            user, view = web.user(request), View.of(request)
            report = web.report(view, name)
            return web.page("web/overview.html", view, user, report=report, main=_sorted(report.sections[0], view),
                            link=_agreement_link(view), downloads=[web.downloads(view, name)])

        return page

    app.get("/web/", include_in_schema=False)(listing("overview"))
    app.get("/web/recipients", include_in_schema=False)(listing("recipients"))

    @app.get("/web/agreements/{agreement_id}", include_in_schema=False)
    def agreement(request: Request, agreement_id: str) -> Response:
        user, view = web.user(request), View.of(request)
        report = web.report(view, "agreement-statement", agreement_id=agreement_id)
        sections = [_sorted(s, view) if s.key == "section.balances" else s for s in report.sections]
        return web.page("web/statement.html", view, user, report=report, sections=sections,
                        sortable="section.balances", link=_agreement_link(view),
                        downloads=[web.downloads(view, n, agreement_id=agreement_id)
                                   for n in ("agreement-statement", "due-back", "findings", "obligations")])

    @app.get("/web/recipients/{recipient_id}", include_in_schema=False)
    def recipient(request: Request, recipient_id: str) -> Response:
        user, view = web.user(request), View.of(request)
        report = web.report(view, "recipient-statement", recipient_id=recipient_id)
        sections = [_sorted(s, view) if s.key == "section.events" else s for s in report.sections]
        return web.page("web/statement.html", view, user, report=report, sections=sections,
                        sortable="section.events", link=_agreement_link(view),
                        chart=line_chart(report.section("section.chart").rows),
                        downloads=[web.downloads(view, "recipient-statement", recipient_id=recipient_id)])


LIST_FILTERS = {
    "due-back": ("agreement_id", "recipient_id"),
    "reclaims": ("agreement_id", "recipient_id"),
    "lapsed": ("agreement_id", "recipient_id", "part_id"),
    "obligations": ("agreement_id", "recipient_id", "part_id", "state"),
    "findings": ("agreement_id", "recipient_id", "part_id", "rule"),
}


def _filter_rows(section: Section, view: View) -> Section:
    rows = [r for r in section.rows
            if all(view.get(k) in (None, r.get(k)) for k in ("state", "rule"))]
    return replace(section, rows=rows)


def _choices(web: Web, view: View, section: Section) -> dict[str, list[tuple[str, str]]]:
    """Options for the filter form's selects: agreements, recipients, and the codes in the rows."""
    clock = view.clock()
    names = recipient_names(web.ledger, clock)
    return {
        "agreement_id": [(a, a) for a in agreement_ids(web.ledger.views, clock)],
        "recipient_id": sorted(((r, f"{n} ({r})") for r, n in names.items()), key=lambda c: c[1].lower()),
        "state": [(s, s) for s in ("upcoming", "met", "met_late", "missed")],
        "rule": sorted({(r["rule"], r["rule"]) for r in section.rows if r.get("rule")}),
    }


def _install_lists(app: FastAPI, web: Web) -> None:
    def list_page(name: str) -> Any:
        def endpoint(request: Request) -> Response:
            user, view = web.user(request), View.of(request)
            subject = {k: view.get(k) for k in ("agreement_id", "recipient_id", "part_id")}
            report = web.report(view, name, **subject)
            main = _sorted(_filter_rows(report.sections[0], view), view)
            return web.page("web/list.html", view, user, report=report, main=main, name=name,
                            filters=LIST_FILTERS[name], choices=_choices(web, view, report.sections[0]),
                            link=_agreement_link(view), downloads=[web.downloads(view, name, **subject)])

        endpoint.__name__ = f"web_{name.replace('-', '_')}"
        return endpoint

    for name in LIST_PAGES:
        app.get(f"/web/{name}", include_in_schema=False)(list_page(name))

