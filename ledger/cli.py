"""The ``ledger`` command line. Every command takes ``--database-url`` (or LEDGER_DATABASE_URL)."""

from __future__ import annotations

import csv
import gc
import io
import json
import sys
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from eventsourcing.persistence import InterfaceError, OperationalError
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ledger.admission import LedgerValidationError, parse_events
from ledger.application import Ledger
from ledger.catalogue import CatalogueError
from ledger.config import ENV_VAR, ConfigError, database_config
from ledger.index import EventFilter
from ledger.jsonin import InputJSONError
from ledger.jsonin import loads as strict_json
from ledger.money import format_kronor
from ledger.timeparams import TimeParamError, known_at_text, parse_as_of
from ledger.cli_proofs import proofs_commands
from ledger.cli_reports import report_commands

app = typer.Typer(
    help="Revisionsliggare för statsbidrag — the audit ledger for Swedish state grants.",
    no_args_is_help=True,
    add_completion=False,
)
agreements_app = typer.Typer(help="Överenskommelser — the agreements: load the catalogue, reconcile totals.")
app.add_typer(agreements_app, name="agreements")

console = Console(width=None if sys.stdout.isatty() else 240)  # wide tables stay whole in files and pipes
errors = Console(stderr=True)

DatabaseUrl = Annotated[
    Optional[str],
    typer.Option("--database-url", envvar=ENV_VAR, help="sqlite:///path or postgresql://user@host:port/db"),
]


class Format(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


FormatOption = Annotated[Format, typer.Option("--format", help="Output format: table, csv or json")]


def open_ledger(url: str | None) -> Ledger:
    try:
        return Ledger(database_config(url))
    except ConfigError as exc:
        errors.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc


def fail(message: str, code: int = 1) -> typer.Exit:
    errors.print(f"[red]error:[/red] {message}")
    return typer.Exit(code)


def progress_bar() -> Progress:
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=errors,
        transient=True,
    )


# --- append ------------------------------------------------------------------------


def read_json_lines(path: Path) -> tuple[list[tuple[int, Any]], list[str]]:
    """(line number, parsed JSON) for every non-blank line, and the lines that are not JSON."""
    items, problems = [], []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                problems.append(f"line {number}: not valid UTF-8")
                continue
            if not line.strip():
                continue
            try:
                items.append((number, strict_json(line)))
            except InputJSONError as exc:  # invalid JSON, a duplicate key, NaN, bad Unicode, too deep
                problems.append(f"line {number}: {exc.reason}")
    return items, problems


@app.command()
def append(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON Lines file, one event per line")],
    principal: Annotated[str, typer.Option(help="Who records the events (kept on every event)")] = "cli",
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Events per atomic batch")] = 5000,
    database_url: DatabaseUrl = None,
) -> None:
    """Import events from JSON Lines. Every line is validated first; if any line is bad,
    every bad line is reported with its number and reason, and nothing is recorded."""
    items, problems = read_json_lines(file)
    events, field_errors = parse_events([value for _, value in items])
    problems += [f"line {items[e.item][0]}: {e.field}: {e.reason}" for e in field_errors]
    if problems:
        for problem in problems:
            errors.print(problem)
        raise fail(f"{len(problems)} problem(s) in {file}; nothing was recorded")
    ledger = open_ledger(database_url)
    parsed = [e for e in events if e is not None]
    try:
        # Check the whole file against the journal before recording any of it.
        ledger.catch_up()
        ledger.check(parsed)
    except LedgerValidationError as exc:
        for e in exc.errors:
            errors.print(f"line {items[e.item][0]}: {e.field}: {e.reason}")
        raise fail(f"{len(exc.errors)} problem(s) in {file}; nothing was recorded") from exc
    recorded = 0
    try:
        with progress_bar() as bar:
            task = bar.add_task("Recording", total=len(parsed))
            for start in range(0, len(parsed), batch_size):
                batch = parsed[start : start + batch_size]
                ledger.append(batch, principal)
                recorded += len(batch)
                bar.advance(task, len(batch))
    except (OperationalError, InterfaceError) as exc:  # read-only file, full disk, database down
        done = f"the first {recorded} events (lines up to {items[recorded - 1][0]}) were recorded, the rest not" \
            if recorded else "nothing was recorded"
        raise fail(f"the database could not record the events ({exc}); {done}") from exc
    position, digest = ledger.head()
    console.print(f"Recorded {len(parsed)} events; journal position {position}, head hash {digest[:16]}…")


# --- events ------------------------------------------------------------------------


def _emit(rows: list[dict[str, Any]], columns: list[str], fmt: Format, title: str) -> None:
    if fmt is Format.json:
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2, default=str) + "\n")
    elif fmt is Format.csv:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: _cell(row.get(c)) for c in columns})
        sys.stdout.write(buffer.getvalue())
    else:
        table = Table(title=title, box=box.SIMPLE_HEAD)
        for column in columns:
            table.add_column(column, no_wrap=column not in ("description", "title", "reasons"))
        for row in rows:
            table.add_row(*[_cell(row.get(c)) for c in columns])
        console.print(table)


def _cell(value: Any) -> str:
    """Text for a table or CSV cell; text a spreadsheet would run as a formula is quoted."""
    from projections.render.cells import neutralise

    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return neutralise(json.dumps(value, ensure_ascii=False))
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # a number, negative or not, is never a formula
    return neutralise(str(value))


@app.command()
def events(
    agreement: Annotated[Optional[str], typer.Option(help="Only this agreement id")] = None,
    recipient: Annotated[Optional[str], typer.Option(help="Only this recipient id")] = None,
    kind: Annotated[Optional[str], typer.Option(help="Only this event kind, e.g. payout_made")] = None,
    as_of: Annotated[Optional[str], typer.Option("--as-of", help="Effective on or before this date (YYYY-MM-DD)")] = None,
    known_at: Annotated[
        Optional[str], typer.Option("--known-at", help="Recorded at or before this time (ISO 8601; a date means its end)")
    ] = None,
    limit: Annotated[Optional[int], typer.Option(min=1, help="At most this many events")] = None,
    fmt: FormatOption = Format.table,
    database_url: DatabaseUrl = None,
) -> None:
    """Händelser — list recorded events in journal order."""
    try:
        flt = EventFilter(
            agreement_id=agreement,
            recipient_id=recipient,
            kind=kind,
            as_of=parse_as_of(as_of).isoformat() if as_of else None,
            known_at=known_at_text(known_at) if known_at else None,
            limit=limit,
        )
    except TimeParamError as exc:
        raise fail(str(exc), 2) from exc
    ledger = open_ledger(database_url)
    ledger.catch_up()
    rows = ledger.list_events(flt)
    for row in rows:
        amount = row["payload"].get("amount")
        row["amount"] = format_kronor(amount) if isinstance(amount, int) and fmt is Format.table else amount
    columns = ["position", "kind", "effective_date", "recorded_at", "recorded_by", "agreement_id", "part_id",
               "recipient_id", "amount", "event_id", "hash"]
    if fmt is Format.json:
        columns.append("payload")
        rows = [{c: r.get(c) for c in columns} for r in rows]
    _emit(rows, columns, fmt, "Händelser (events)")


# --- verify ------------------------------------------------------------------------


@app.command()
def verify(database_url: DatabaseUrl = None) -> None:
    """Kontrollera kedjan — recompute the hash chain; exit 1 naming the first tampered position."""
    ledger = open_ledger(database_url)
    with progress_bar() as bar:
        task = bar.add_task("Verifying", total=ledger.head()[0] or None)
        result = ledger.verify(progress=lambda n: bar.advance(task, n))
    if result.ok:
        console.print(f"OK: {result.length} entries, head hash {result.head_hash}")
        return
    assert result.problem is not None
    raise fail(f"chain broken at position {result.problem.position}: {result.problem.reason}")


# --- agreements --------------------------------------------------------------------


@agreements_app.command("load")
def agreements_load(
    names: Annotated[Optional[list[str]], typer.Argument(help="Agreement ids; all five when none")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Append the catalogue's agreements and the recipients they need; loading twice changes nothing."""
    ledger = open_ledger(database_url)
    try:
        entries = ledger.load_agreements(names or None)
    except CatalogueError as exc:
        raise fail(str(exc), 2) from exc
    console.print(f"Recorded {len(entries)} new events ({'already loaded' if not entries else 'loaded'}).")


@agreements_app.command("list")
def agreements_list(fmt: FormatOption = Format.table, database_url: DatabaseUrl = None) -> None:
    """List the agreements recorded in the ledger."""
    ledger = open_ledger(database_url)
    ledger.catch_up()
    rows = [
        {
            "agreement_id": a.agreement_id,
            "year": a.year,
            "title": a.title,
            "parts": len(a.parts),
            "state_money": a.stated_totals.state_kr * 100,
        }
        for a in ledger.agreements()
    ]
    if fmt is Format.table:
        for row in rows:
            row["state_money"] = format_kronor(row["state_money"])
    _emit(rows, ["agreement_id", "year", "title", "parts", "state_money"], fmt, "Överenskommelser (agreements)")


@agreements_app.command("reconcile")
def agreements_reconcile(
    names: Annotated[Optional[list[str]], typer.Argument(help="Agreement ids; all recorded when none")] = None,
    fmt: FormatOption = Format.table,
    database_url: DatabaseUrl = None,
) -> None:
    """Avstämning — stated totals against the sum of the rows, with every difference as a finding."""
    from projections.reconciliation import reconcile

    ledger = open_ledger(database_url)
    ledger.catch_up()
    chosen = [a for a in ledger.agreements() if not names or a.agreement_id in names]
    if names and len(chosen) != len(set(names)):
        missing = set(names) - {a.agreement_id for a in chosen}
        raise fail(f"not recorded in the ledger: {', '.join(sorted(missing))}; run `ledger agreements load`", 2)
    results = [reconcile(a) for a in chosen]
    if fmt is Format.json:
        sys.stdout.write(json.dumps([r.as_dict() for r in results], ensure_ascii=False, indent=2) + "\n")
        return
    rows = []
    for r in results:
        for p in r.parts:
            rows.append({
                "agreement_id": r.agreement_id, "part_id": p.part_id, "stated": p.stated_total,
                "rows": p.allocated_rows, "blank": p.unallocated_blank, "difference": p.difference,
            })
        rows.append({"agreement_id": r.agreement_id, "part_id": "(total)", "stated": r.stated_state,
                     "rows": r.parts_total, "blank": None, "difference": r.difference})
    if fmt is Format.table:
        for row in rows:
            for key in ("stated", "rows", "blank", "difference"):
                if isinstance(row[key], int):
                    row[key] = format_kronor(row[key])
    _emit(rows, ["agreement_id", "part_id", "stated", "rows", "blank", "difference"], fmt,
          "Avstämning (reconciliation)")
    if fmt is Format.table:
        for r in results:
            for f in r.findings:
                if f.kind == "known_discrepancy":
                    mark = "known"
                else:
                    mark = "[green]known[/green]" if f.known else "[red]UNEXPLAINED[/red]"
                diff = f" ({format_kronor(f.difference)})" if f.difference else ""
                console.print(f"{r.agreement_id}: {mark} {f.kind}{diff}: {f.description} [{f.source}]")


# --- projections -------------------------------------------------------------------

projections_app = typer.Typer(help="Projektioner — the read models: rebuild from the journal.")
app.add_typer(projections_app, name="projections")

AsOf = Annotated[Optional[str], typer.Option("--as-of", help="Business date (YYYY-MM-DD); default today")]
KnownAt = Annotated[Optional[str], typer.Option("--known-at", help="What the ledger knew at this time; default now")]
AgreementOpt = Annotated[Optional[str], typer.Option("--agreement", help="Only this agreement id")]
PartOpt = Annotated[Optional[str], typer.Option("--part", help="Only this part id")]
RecipientOpt = Annotated[Optional[str], typer.Option("--recipient", help="Only this recipient id")]


@projections_app.command("rebuild")
def projections_rebuild(
    page: Annotated[Optional[int], typer.Option(
        min=1, max=100_000, help="Journal records per transaction (default: 20 000 on SQLite, 5 000 on PostgreSQL)")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Empty every read model and rebuild it from the journal, with a progress bar.

    Each page of records is one transaction (rows and tracking position together): a
    rebuild stopped half-way resumes from the last page on the next catch-up."""
    ledger = open_ledger(database_url)
    total = ledger.recorder.max_notification_id() or 0
    with progress_bar() as bar:
        task = bar.add_task("Rebuilding", total=total or None)
        seen = ledger.rebuild(progress=lambda n: bar.advance(task, n), page=page)
    console.print(f"Rebuilt the read models from {seen} journal records.")


@projections_app.command("run")
def projections_run(
    poll: Annotated[float, typer.Option(min=0.05, help="Seconds between checks (SQLite polling)")] = 1.0,
    database_url: DatabaseUrl = None,
) -> None:
    """Keep the read models current while other processes append (Ctrl-C stops).

    PostgreSQL: the eventsourcing ProjectionRunner with a LISTEN/NOTIFY subscription;
    SQLite: polling. Each view resumes from its own tracking position."""
    import threading

    from projections.runner import run_projections

    config = database_config(database_url)
    stop = threading.Event()
    console.print(f"Keeping the read models of {config.display_url} current; Ctrl-C to stop.")
    try:
        run_projections(config, stop, poll)
    except KeyboardInterrupt:
        stop.set()


def _report(name: str, as_of: str | None, known_at: str | None, agreement: str | None, part: str | None,
            recipient: str | None, database_url: str | None) -> tuple[list[dict[str, Any]], Any]:
    from projections import queries
    from projections.state import Clock

    try:
        clock = Clock.of(as_of, known_at)
    except TimeParamError as exc:
        raise fail(str(exc), 2) from exc
    ledger = open_ledger(database_url)
    ledger.catch_up()
    flt = queries.Filters(agreement, part, recipient)
    function = {
        "balances": queries.balances,
        "due-back": queries.due_back_list,
        "reclaims": queries.reclaims,
        "obligations": queries.obligation_list,
        "findings": queries.finding_list,
    }[name]
    return function(ledger.views, clock, flt), clock


def _show(rows: list[dict[str, Any]], columns: list[str], money: set[str], fmt: Format, title: str, clock: Any) -> None:
    if fmt is Format.table:
        for row in rows:
            for key in money:
                if isinstance(row.get(key), int):
                    row[key] = format_kronor(row[key])
        title = f"{title} — as of {clock.as_of}, known at {clock.known_at:%Y-%m-%d %H:%M} UTC"
    _emit(rows, columns, fmt, title)


BALANCE_MONEY = ["allocated", "requisitioned", "paid", "passed_on", "costs", "unspent", "repaid",
                 "reclaim_decided", "reclaim_outstanding", "lapsed", "forfeited"]


@app.command()
def balances(as_of: AsOf = None, known_at: KnownAt = None, agreement: AgreementOpt = None, part: PartOpt = None,
             recipient: RecipientOpt = None, fmt: FormatOption = Format.table, database_url: DatabaseUrl = None) -> None:
    """Saldon — balances per recipient, agreement and part; '*' rows are agreement totals."""
    rows, clock = _report("balances", as_of, known_at, agreement, part, recipient, database_url)
    _show(rows, ["agreement_id", "part_id", "recipient_id", "route", *BALANCE_MONEY], set(BALANCE_MONEY), fmt,
          "Saldon (balances)", clock)


@app.command("due-back")
def due_back_command(as_of: AsOf = None, known_at: KnownAt = None, agreement: AgreementOpt = None,
                     part: PartOpt = None, recipient: RecipientOpt = None, fmt: FormatOption = Format.table,
                     database_url: DatabaseUrl = None) -> None:
    """Återbetalningar — unspent funds due back by 31 March: due, repaid, outstanding, overdue."""
    rows, clock = _report("due-back", as_of, known_at, agreement, part, recipient, database_url)
    money = {"received", "costs", "due", "repaid", "outstanding", "overdue"}
    _show(rows, ["agreement_id", "recipient_id", "report_received", "received", "costs", "due", "repaid",
                 "outstanding", "deadline", "overdue"], money, fmt, "Återbetalning (funds due back)", clock)


@app.command()
def reclaims(as_of: AsOf = None, known_at: KnownAt = None, agreement: AgreementOpt = None, part: PartOpt = None,
             recipient: RecipientOpt = None, fmt: FormatOption = Format.table, database_url: DatabaseUrl = None) -> None:
    """Återkrav — who may be reclaimed from and why, what was decided and settled."""
    rows, clock = _report("reclaims", as_of, known_at, agreement, part, recipient, database_url)
    _show(rows, ["agreement_id", "recipient_id", "reasons", "eligible_amount", "decided", "settled", "outstanding",
                 "decisions"], {"eligible_amount", "decided", "settled", "outstanding"}, fmt,
          "Återkrav (right to reclaim)", clock)


@app.command()
def obligations(as_of: AsOf = None, known_at: KnownAt = None, agreement: AgreementOpt = None, part: PartOpt = None,
                recipient: RecipientOpt = None, fmt: FormatOption = Format.table,
                database_url: DatabaseUrl = None) -> None:
    """Åtaganden — every deadline per recipient: upcoming, met, met late or missed."""
    rows, clock = _report("obligations", as_of, known_at, agreement, part, recipient, database_url)
    _show(rows, ["agreement_id", "part_id", "recipient_id", "obligation", "name_sv", "deadline", "state",
                 "received_on", "receivers"], set(), fmt, "Åtaganden (obligations)", clock)


@app.command()
def findings(as_of: AsOf = None, known_at: KnownAt = None, agreement: AgreementOpt = None, part: PartOpt = None,
             recipient: RecipientOpt = None, fmt: FormatOption = Format.table, database_url: DatabaseUrl = None) -> None:
    """Iakttagelser — every rule a recorded fact broke, with the events involved."""
    rows, clock = _report("findings", as_of, known_at, agreement, part, recipient, database_url)
    _show(rows, ["agreement_id", "recipient_id", "part_id", "rule", "description", "amount", "events"], {"amount"},
          fmt, "Iakttagelser (findings)", clock)


# --- API keys ------------------------------------------------------------------------

keys_app = typer.Typer(help="API-nycklar — API keys: create, list, revoke (roles appender, auditor, admin).")
app.add_typer(keys_app, name="keys")


def _key_store(database_url: str | None) -> Any:
    from api.app import key_store_for

    return key_store_for(open_ledger(database_url))


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Option(help="Who or what uses the key, e.g. 'Kammarkollegiet ekonomisystem'")],
    role: Annotated[str, typer.Option(help="appender (finance system), auditor (reads) or admin")],
    agreement: Annotated[Optional[list[str]], typer.Option(help="Appender: only these agreements (repeat)")] = None,
    recipient: Annotated[Optional[list[str]], typer.Option(help="Appender: only these recipients (repeat)")] = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key; its secret is printed once and stored only as a hash."""
    try:
        key, token = _key_store(database_url).create(name, role, agreement or [], recipient or [])  # type: ignore[arg-type]
    except ValueError as exc:
        raise fail(str(exc), 2) from exc
    console.print(f"Created {key.role} key {key.key_id} ({key.name}). Secret, shown only now:")
    sys.stdout.write(token + "\n")


@keys_app.command("list")
def keys_list(fmt: FormatOption = Format.table, database_url: DatabaseUrl = None) -> None:
    """List keys (never their secrets)."""
    rows = [k.public() for k in _key_store(database_url).list()]
    _emit(rows, ["key_id", "name", "role", "agreements", "recipients", "created_at", "revoked_at"], fmt,
          "API-nycklar (API keys)")


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key id (the part after lk_ and before the dot)")],
                database_url: DatabaseUrl = None) -> None:
    """Revoke a key: it stops working at once; the record stays."""
    if not _key_store(database_url).revoke(key_id):
        raise fail(f"no active key {key_id!r}")
    console.print(f"Revoked key {key_id}.")


def first_run_signing_key() -> None:
    """Digests are signed with the ledger's Ed25519 key: create it on first start."""
    from ledger.signing import init_key, key_path

    if key_path().exists():
        return
    key, path = init_key()
    console.print(f"Created the ledger's signing key at {path} (keep it secret, back it up).")
    console.print(f"Public key, for auditors who verify digests: {key.public_hex}")


def first_run_keys(ledger: Ledger, base_url: str = "http://127.0.0.1:8000") -> None:
    """When no key exists, create an admin and an auditor key and print them once, with a
    curl example against ``base_url`` (where the server will listen)."""
    from api.app import key_store_for

    store = key_store_for(ledger)
    if not store.is_empty():
        return
    _admin, admin_token = store.create("first admin (created by ledger serve)", "admin")
    _auditor, auditor_token = store.create("first auditor (created by ledger serve)", "auditor")
    console.print("\n[bold]No API keys existed, so two were created. They are shown only this once:[/bold]")
    console.print(f"  admin   (loads agreements, manages keys, reads): {admin_token}")
    console.print(f"  auditor (reads everything, writes nothing):      {auditor_token}")
    console.print("Use one as `Authorization: Bearer <key>`, e.g.\n"
                  f"  curl -H 'Authorization: Bearer {auditor_token}' {base_url}/v1/balances\n"
                  "Create a finance system's key with: ledger keys create --role appender --name '...'\n")


# --- serve -------------------------------------------------------------------------


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on")] = 8000,
    load: Annotated[bool, typer.Option("--load/--no-load", help="Load the five seed agreements first")] = True,
    database_url: DatabaseUrl = None,
) -> None:
    """Start the HTTP API and web pages (uvicorn), loading the seed agreements first."""
    import uvicorn

    from api.app import create_app

    ledger = open_ledger(database_url)
    if load:
        entries = ledger.load_agreements()
        console.print(f"Seed agreements: {len(entries)} new events recorded.")
    first_run_keys(ledger, f"http://{host}:{port}")
    first_run_signing_key()
    console.print(f"Ledger on {ledger.config.display_url}; serving http://{host}:{port}/ (API docs at /docs)")
    api = create_app(ledger)
    # What start-up made (the app, its schemas, the catalogue) lives as long as the process:
    # keep it out of the garbage collector's full passes, which otherwise walk all of it and
    # held requests up by 40-70 ms each time (docs/benchmarks.md, HTTP appends).
    gc.freeze()
    uvicorn.run(api, host=host, port=port, log_level="info")


proofs_commands(app)  # digest, proof, verify-proof, signing-key (ledger/cli_proofs.py)
report_commands(app)  # report NAME --format html|pdf|xlsx|csv (ledger/cli_reports.py)


if __name__ == "__main__":
    app()
