"""HTTP append throughput and latency against a real ``ledger serve``, beside the library's raw
``Ledger.append`` of the same events, on SQLite and PostgreSQL.

For each backend two fresh databases are made (a temp SQLite file each, or two new schemas
on the PostgreSQL at ``--postgres-url``, dropped afterwards): one behind the HTTP server,
one appended to directly. Both get the seed agreements, then the very same events in the
very same order, so both journals have the same length at every step. Phases (each bounded
by a request count and by ``--phase-seconds``):

1. single-event ``POST /v1/events`` at increasing concurrency (``--concurrency``, one
   ``httpx.Client`` per thread), ``--requests`` requests each; beside it ``Ledger.append``
   of the same events, one at a time, from as many threads on one ``Ledger``;
2. paced: ``--paced-rates`` requests/s for ``--paced-seconds`` (open loop: request i is due
   at start + i / rate), p50/p99; beside it the raw append paced the same way;
   (also at the further rates given, to see the latency when the server is not saturated);
3. ``POST /v1/events/batch`` with ``--batch-sizes`` events per request, ``--batches`` each,
   one client; beside it ``Ledger.append`` of the same batches.

The server is ``python -m ledger.cli serve --no-load --host 127.0.0.1 --port P
--database-url URL`` in its own process (the seed agreements and an appender key are put in
its database first). Only loopback is used.

    python -m benchmarks.bench_api --backends sqlite,postgres --output docs/benchmarks.md
    python -m benchmarks.bench_api --backends sqlite --requests 200 --paced-seconds 5 --batches 2  # quick

``--json`` keeps the figures; ``--from-json`` writes the docs section from kept figures
without measuring again.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.reliability.harness import Server  # noqa: E402 - the path first: it runs as a script

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
AGREEMENT, PART = "god-och-nara-vard-2020", "nara-vard"
COUNTIES = (
    "stockholm", "uppsala", "sormland", "ostergotland", "jonkoping", "kronoberg", "kalmar", "gotland",
    "blekinge", "skane", "halland", "vastra-gotaland", "varmland", "orebro", "vastmanland", "dalarna",
    "gavleborg", "vasternorrland", "jamtland-harjedalen", "vasterbotten", "norrbotten",
)
REGIONS = tuple("region-" + c for c in COUNTIES)
RAW_PRINCIPAL = "bench-api-raw"
START, END = "<!-- bench-api:start -->", "<!-- bench-api:end -->"

# Targets (from the brief)
TARGET_PACED_P99_MS = 20.0
TARGET_BATCH_EVENTS_S = 5_000.0
TARGET_RATIO = 3.0
#: The paced run sends nothing more once it is this many seconds behind its schedule's end.
PACED_GRACE_S = 5.0


# --- events ---------------------------------------------------------------------------


class Events:
    """Deterministic, unique events: requisitions and payouts for god-och-nara-vard-2020 /
    nara-vard, to the 21 regions, effective in 2020 (never after today). Ids are uuid5 of
    the run id and a counter, so every event of a run is new and the two databases get the
    same ones."""

    def __init__(self, run_id: str):
        self.run_id, self.n = run_id, 0

    def one(self) -> dict[str, Any]:
        self.n += 1
        n = self.n
        event_id = str(uuid5(NAMESPACE_URL, f"urn:grant-ledger:bench-api:{self.run_id}:{n}"))
        day = (dt.date(2020, 3, 1) + dt.timedelta(days=n % 290)).isoformat()
        region = REGIONS[n % len(REGIONS)]
        amount = 100_000_00 + (n * 7919) % 50_000_000_00
        if n % 2:
            return {"kind": "requisition_received", "event_id": event_id, "effective_date": day,
                    "agreement_id": AGREEMENT, "part_id": PART, "recipient_id": region, "amount": amount,
                    "agreement_dnr": "S2020/00570/FS", "payment_decision_dnr": "S2020/01234/FS",
                    "signature": "original", "reference": f"BENCH-REK-{n}"}
        return {"kind": "payout_made", "event_id": event_id, "effective_date": day, "agreement_id": AGREEMENT,
                "part_id": PART, "recipient_id": region, "amount": amount, "route": "direct",
                "payment_reference": f"BENCH-UTB-{n}"}

    def many(self, count: int) -> list[dict[str, Any]]:
        return [self.one() for _ in range(count)]


# --- measuring ------------------------------------------------------------------------


def percentile(ordered: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    if not ordered:
        return float("nan")
    rank = max(1, -(-int(q * 1000) * len(ordered) // 1000))  # ceil(q * n) without float error
    return ordered[min(rank, len(ordered)) - 1]


def load1() -> float:
    return round(os.getloadavg()[0], 2)


def proc_cpu(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Run:
    """The outcome of one phase on one side (HTTP or raw)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []  # seconds, from send to answer
        self.lateness: list[float] = []  # paced only: seconds from due time to answer
        self.statuses: dict[str, int] = {}
        self.errors: list[str] = []
        self.events_ok = 0

    def add(self, seconds: float, status: str, events: int, due: float | None = None, done: float = 0.0) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if due is not None:
                self.lateness.append(done - due)
            self.statuses[status] = self.statuses.get(status, 0) + 1
            if status in ("201", "ok"):
                self.events_ok += events

    def error(self, text: str) -> None:
        with self.lock:
            if len(self.errors) < 5:
                self.errors.append(text[:300])

    def summary(self, wall: float, requests_planned: int, cpu: float, load_start: float, load_end: float,
                **extra: Any) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        late = sorted(self.lateness)
        out = {
            "requests": len(ordered), "requests_planned": requests_planned, "events_ok": self.events_ok,
            "wall_s": round(wall, 3), "req_per_s": round(len(ordered) / wall, 1) if wall else None,
            "events_per_s": round(self.events_ok / wall, 1) if wall else None,
            "p50_ms": round(1000 * percentile(ordered, 0.50), 2), "p99_ms": round(1000 * percentile(ordered, 0.99), 2),
            "max_ms": round(1000 * ordered[-1], 2) if ordered else None,
            "cpu_s": round(cpu, 2), "cpu_ms_per_event": round(1000 * cpu / self.events_ok, 3) if self.events_ok else None,
            "statuses": dict(sorted(self.statuses.items())), "errors": self.errors,
            "load_start": load_start, "load_end": load_end,
        }
        if late:
            out["lateness_p50_ms"] = round(1000 * percentile(late, 0.50), 2)
            out["lateness_p99_ms"] = round(1000 * percentile(late, 0.99), 2)
        out.update(extra)
        return out


def drive(jobs: list[Any], workers: int, send: Callable[[Any, Any], tuple[str, int]],
          make_session: Callable[[], Any], deadline_s: float, rate: float | None = None) -> tuple[Run, float]:
    """Run ``send(session, job)`` for every job from ``workers`` threads (each with its own
    session); closed loop, or open loop at ``rate`` jobs/s (job i due at start + i / rate).
    Stops taking new jobs after ``deadline_s``. Returns the run and its wall time."""
    run, counter, counter_lock = Run(), [0], threading.Lock()
    start_box: list[float] = [0.0]
    # The schedule starts when every worker has its session, not before: making 16 httpx
    # clients takes a while, and a start taken earlier made the first requests overdue,
    # so they all went out at once.
    barrier = threading.Barrier(workers + 1, action=lambda: start_box.__setitem__(0, time.perf_counter()))

    def worker() -> None:
        session = make_session()
        try:
            barrier.wait()
            start = start_box[0]
            while True:
                with counter_lock:
                    i = counter[0]
                    counter[0] += 1
                if i >= len(jobs):
                    return
                due = None
                if rate:
                    due = start + i / rate
                    pause = due - time.perf_counter()
                    if pause > 0:
                        time.sleep(pause)
                if time.perf_counter() - start > deadline_s:
                    return
                sent = time.perf_counter()
                try:
                    status, events = send(session, jobs[i])
                except Exception as exc:  # noqa: BLE001 - counted and shown, never hidden
                    status, events = type(exc).__name__, 0
                    run.error(f"{type(exc).__name__}: {exc}")
                done = time.perf_counter()
                run.add(done - sent, status, events, due, done)
        finally:
            close = getattr(session, "close", None)
            if close:
                close()

    threads = [threading.Thread(target=worker, daemon=True) for _ in range(workers)]
    for thread in threads:
        thread.start()
    barrier.wait()
    for thread in threads:
        thread.join()
    return run, time.perf_counter() - start_box[0]


# --- the two sides -------------------------------------------------------------------


def disk_flush(folder: Path, seconds: float = 10.0, rate: float = 100.0) -> dict[str, Any]:
    """How long this disk takes to flush a small write, ``rate`` a second, in the databases'
    folder: 8 KiB written over a 4 MiB file in place and flushed with fdatasync, as SQLite
    and PostgreSQL do with their write-ahead logs. A journal commit waits for one."""
    path = folder / "flush-probe"
    size, block = 4 << 20, 8192
    times: list[float] = []
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        os.write(fd, bytes(size))
        os.fsync(fd)
        end, offset = time.perf_counter() + seconds, 0
        while time.perf_counter() < end:
            os.pwrite(fd, b"x" * block, offset)
            offset = (offset + block) % size
            started = time.perf_counter()
            os.fdatasync(fd)
            times.append(time.perf_counter() - started)
            time.sleep(1 / rate)
    finally:
        os.close(fd)
        path.unlink(missing_ok=True)
    ordered = sorted(times)
    return {"flushes": len(ordered), "p50_ms": round(1000 * percentile(ordered, 0.50), 2),
            "p99_ms": round(1000 * percentile(ordered, 0.99), 2), "max_ms": round(1000 * ordered[-1], 2),
            "over_20_ms": sum(t > 0.020 for t in ordered)}


def prepare(url: str) -> str:
    """Seed agreements and an appender key in the database; returns the key's token."""
    from api.app import key_store_for
    from ledger.application import Ledger
    from ledger.config import database_config

    ledger = Ledger(database_config(url))
    try:
        ledger.load_agreements()
        _key, token = key_store_for(ledger).create("bench_api appender", "appender")
        return token
    finally:
        ledger.close()


class HttpSide:
    """``ledger serve`` in its own process on a free loopback port (the reliability tests'
    ``Server``), with an appender key."""

    def __init__(self, url: str, folder: Path):
        self.token = prepare(url)
        self.server = Server(url, folder, load=False,
                             env={"LEDGER_SIGNING_KEY": str(folder / "signing-key.pem")}).start()
        self.base = self.server.url
        assert self.server.process is not None
        self.process = self.server.process

    def log(self) -> str:
        return self.server.log()

    def cpu(self) -> float:
        return proc_cpu(self.process.pid)

    def session(self) -> httpx.Client:
        return httpx.Client(base_url=self.base, timeout=60,
                            headers={"Authorization": f"Bearer {self.token}"})

    def send(self, client: httpx.Client, events: list[dict[str, Any]], batch: bool) -> tuple[str, int]:
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        if batch:
            response = client.post("/v1/events/batch", json={"events": events}, headers=headers)
        else:
            response = client.post("/v1/events", json=events[0], headers=headers)
        if response.status_code != 201:
            raise RuntimeError(f"HTTP {response.status_code}: {response.text[:200]}")
        return "201", len(response.json()["events"])

    def stop(self) -> None:
        self.server.stop()


class Timed:
    """Wall time spent in some of the ledger's steps (the raw side only), to say where a raw
    append's time goes. Instance attributes wrap the methods; the code is not changed."""

    STEPS = ("_journal", "catch_up", "check", "save", "_project_recorded")

    def __init__(self, ledger: Any):
        self.lock, self.totals = threading.Lock(), dict.fromkeys(self.STEPS, 0.0)
        for name in self.STEPS:
            setattr(ledger, name, self._wrap(name, getattr(ledger, name)))

    def _wrap(self, name: str, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                with self.lock:
                    self.totals[name] += time.perf_counter() - started

        return timed

    def take(self) -> dict[str, float]:
        with self.lock:
            out, self.totals = dict(self.totals), dict.fromkeys(self.STEPS, 0.0)
        return out


class RawSide:
    """``Ledger.append`` on a Ledger in this process."""

    def __init__(self, url: str):
        from ledger.application import Ledger
        from ledger.config import database_config

        prepare(url)
        self.ledger = Ledger(database_config(url))
        self.timed = Timed(self.ledger)

    def cpu(self) -> float:
        return time.process_time()

    def session(self) -> None:
        return None

    def send(self, _session: None, events: list[dict[str, Any]], _batch: bool) -> tuple[str, int]:
        return "ok", len(self.ledger.append(events, RAW_PRINCIPAL))

    def stop(self) -> None:
        self.ledger.close()


@contextmanager
def databases(backend: str, postgres_url: str, folder: Path, run_id: str, keep: bool) -> Iterator[tuple[str, str]]:
    """(HTTP database URL, raw database URL), both fresh."""
    if backend == "sqlite":
        yield f"sqlite:///{folder / 'http.sqlite'}", f"sqlite:///{folder / 'raw.sqlite'}"
        return
    import psycopg

    schemas = [f"bench_api_{run_id}_http", f"bench_api_{run_id}_raw"]
    with psycopg.connect(postgres_url, autocommit=True, connect_timeout=5) as conn:
        for schema in schemas:
            conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield tuple(f"{postgres_url}?schema={s}" for s in schemas)  # type: ignore[misc]
    finally:
        if not keep:
            with psycopg.connect(postgres_url, autocommit=True, connect_timeout=5) as conn:
                for schema in schemas:
                    conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def journal_length(url: str) -> int:
    from ledger.application import Ledger
    from ledger.config import database_config

    ledger = Ledger(database_config(url))
    try:
        ledger.catch_up()
        return ledger.head()[0]
    finally:
        ledger.close()


# --- one backend ----------------------------------------------------------------------


def phase(side: Any, jobs: list[list[dict[str, Any]]], workers: int, batch: bool, deadline_s: float,
          rate: float | None = None) -> dict[str, Any]:
    load_start, cpu_start = load1(), side.cpu()
    run, wall = drive(jobs, workers, lambda s, events: side.send(s, events, batch), side.session, deadline_s, rate)
    extra: dict[str, Any] = {}
    if isinstance(side, RawSide):
        steps = side.timed.take()
        total = sum(run.latencies)
        extra["steps_share"] = {k: round(v / total, 3) if total else None for k, v in steps.items()}
    return run.summary(wall, len(jobs), side.cpu() - cpu_start, load_start, load1(), **extra)


def bench_backend(backend: str, args: argparse.Namespace, log: Callable[[str], None]) -> dict[str, Any]:
    run_id = uuid.uuid4().hex[:8]
    folder = Path(tempfile.mkdtemp(prefix="ledger-bench-api-"))
    events = Events(run_id)
    rows: list[dict[str, Any]] = []
    result: dict[str, Any] = {"backend": backend, "run_id": run_id, "rows": rows}
    started = time.monotonic()
    try:
        result["disk_flush"] = disk_flush(folder)
        log(f"[{backend}] the disk's own flush: {result['disk_flush']}")
        with databases(backend, args.postgres_url, folder, run_id, args.keep) as (http_url, raw_url):
            result["http_database"], result["raw_database"] = http_url, raw_url
            http = HttpSide(http_url, folder)
            try:
                raw = RawSide(raw_url)
            except BaseException:
                http.stop()  # never leave the server running behind a failed start
                raise
            try:
                def both(name: str, jobs: list[list[dict[str, Any]]], workers: int, batch: bool,
                         rate: float | None = None, deadline_s: float | None = None) -> None:
                    log(f"[{backend}] {name}: {len(jobs)} requests, {sum(map(len, jobs))} events (load {load1()})")
                    limit = min(deadline_s or args.phase_seconds, args.phase_seconds)
                    h = phase(http, jobs, workers, batch, limit, rate)
                    # closed loop: the raw side appends exactly what the HTTP side sent (all, unless its
                    # time ran out); paced: the same schedule and the same time limit
                    r = phase(raw, jobs if rate else jobs[:h["requests"]], workers, batch, limit, rate)
                    row = {"phase": name, "round": round_, "workers": workers, "batch": batch,
                           "events_per_request": len(jobs[0]) if jobs else 0, "rate": rate, "http": h, "raw": r}
                    rows.append(row)
                    log(f"[{backend}] {name}: HTTP {h['req_per_s']} req/s {h['events_per_s']} ev/s p50 {h['p50_ms']} "
                        f"p99 {h['p99_ms']} ms | raw {r['req_per_s']} req/s {r['events_per_s']} ev/s p50 "
                        f"{r['p50_ms']} p99 {r['p99_ms']} ms | statuses {h['statuses']} {r['statuses']} "
                        f"{h['errors'][:1]}{r['errors'][:1]}")

                # warm-up: connections, imports, caches (not reported; both journals get the events)
                warm = [[e] for e in events.many(args.warmup)]
                for side in (http, raw):
                    phase(side, warm, 1, False, args.phase_seconds)
                # Each round repeats every measurement on the same servers, so that one noisy
                # moment (a disk stall, a busy neighbour) does not decide a verdict alone.
                for round_ in range(1, args.rounds + 1):
                    for workers in args.concurrency:
                        both(f"single, {workers} client{'s' if workers > 1 else ''}",
                             [[e] for e in events.many(args.requests)], workers, False)
                    for rate in args.paced_rates:
                        paced = int(rate * args.paced_seconds)
                        both(f"paced {rate:g} req/s", [[e] for e in events.many(paced)],
                             args.paced_workers, False, rate, args.paced_seconds + PACED_GRACE_S)
                    for size in args.batch_sizes:
                        both(f"batch of {size}", [events.many(size) for _ in range(args.batches)], 1, True)
            finally:
                http.stop()
                raw.stop()
            result["journal_length_http"] = journal_length(http_url)
            result["journal_length_raw"] = journal_length(raw_url)
            result["events_generated"] = events.n
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    result["seconds"] = round(time.monotonic() - started, 1)
    return result


# --- the docs section ---------------------------------------------------------------


def machine() -> dict[str, Any]:
    from importlib.metadata import version

    cpu = "unknown CPU"
    try:
        found = re.search(r"^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text(), re.M)
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    mem = ""
    try:
        kb = int(re.search(r"^MemTotal:\s*(\d+)", Path("/proc/meminfo").read_text(), re.M).group(1))  # type: ignore[union-attr]
        mem = f"{kb / 1024 / 1024:.0f} GB RAM"
    except (OSError, AttributeError):
        pass
    postgres = ""
    try:
        import psycopg

        with psycopg.connect(POSTGRES_URL, connect_timeout=5) as conn:
            postgres = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]  # type: ignore[index]
    except Exception:  # noqa: BLE001 - only for the description
        pass
    versions = {p: version(p) for p in ("eventsourcing", "fastapi", "uvicorn", "httpx", "pydantic")}
    return {"cpu": cpu, "cores": os.cpu_count(), "memory": mem, "python": platform.python_version(),
            "postgres": postgres, "versions": versions}


def _f(value: Any, digits: int = 1) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return "–"
    if isinstance(value, (int, float)) and abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}f}"


def _ok(met: bool) -> str:
    return "met" if met else "**missed**"


def _ratio(row: dict[str, Any]) -> float | None:
    """HTTP time per event / raw time per event (closed loop: from throughput; paced: p50)."""
    h, r = row["http"], row["raw"]
    if row["rate"]:
        return h["p50_ms"] / r["p50_ms"] if r["p50_ms"] else None
    return r["events_per_s"] / h["events_per_s"] if h["events_per_s"] else None


def _load(side: dict[str, Any]) -> str:
    return f"{side['load_start']:.1f}–{side['load_end']:.1f}"


def render(data: dict[str, Any]) -> str:
    m = data["machine"]
    lines = [
        START,
        "## HTTP appends",
        "",
        "What a finance system gets from `POST /v1/events` and `POST /v1/events/batch` on a real",
        "`ledger serve` (uvicorn, one process), beside the library's own `Ledger.append` of the same",
        f"events in the same run (`benchmarks/bench_api.py`). Run {data['date']}:",
        "",
        "```sh",
        data["command"],
        "```",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory']}; Python {m['python']}, "
        + ", ".join(f"{k} {v}" for k, v in m["versions"].items())
        + (f"; PostgreSQL {m['postgres']} on localhost" if m.get("postgres") else "") + ".",
        f"1-minute load average when the run began: {data['load_start']:.2f}, at its end: {data['load_end']:.2f} "
        f"(2 cores, shared with other work; the load column gives it per measurement, at its start and end). "
        f"The whole run took {data['seconds']:.0f} s.",
        "",
        "How it is measured: for each backend two fresh databases (a temp SQLite file each; two new",
        "PostgreSQL schemas, dropped afterwards), both with the seed agreements; one behind",
        "`python -m ledger.cli serve --no-load --host 127.0.0.1 --port P --database-url URL` with an",
        "appender key, one appended to directly. Both get the same events (requisitions and payouts for",
        "`god-och-nara-vard-2020` / `nara-vard`, to the 21 regions, effective in 2020, unique uuid5 ids)",
        "in the same order, so both journals are equally long at every step; after a warm-up of",
        f"{data['args']['warmup']} appends, each measurement runs on HTTP and then raw. Clients are threads with one",
        "`httpx.Client` each (keep-alive) and a new `Idempotency-Key` per request; the raw side calls",
        "`Ledger.append` from as many threads on one `Ledger`. Latency is from sending to the answer;",
        "throughput is answered requests over the wall time. *HTTP / raw* is the HTTP time per event",
        "divided by the raw time per event (closed loop: raw events/s over HTTP events/s; paced: the",
        "ratio of the p50s). *CPU ms/event* is the server process's CPU (HTTP; PostgreSQL's own CPU not",
        "included) or this process's CPU (raw) per recorded event. The HTTP clients run on the same",
        "2 cores as the server.",
        "",
    ]
    if _rounds(data) > 1:
        lines += [f"Every measurement ran {_rounds(data)} times (rounds, one after another on the same servers and "
                  "journals); the targets are judged on each measurement's median.", ""]
    for result in data["results"]:
        backend = result["backend"]
        lines += [f"### {backend}", "",
                  "| measurement | requests | HTTP req/s | HTTP events/s | HTTP p50 ms | HTTP p99 ms | raw events/s "
                  "| raw p50 ms | raw p99 ms | HTTP / raw | server CPU ms/event | raw CPU ms/event | load avg | errors |",
                  "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|"]
        for row in result["rows"]:
            h, r = row["http"], row["raw"]
            ratio = _ratio(row)
            bad = sum(v for k, v in h["statuses"].items() if k != "201") + sum(
                v for k, v in r["statuses"].items() if k != "ok")
            lines.append(
                f"| {_label(row, data)} | {h['requests']:,} | {_f(h['req_per_s'])} | {_f(h['events_per_s'])} | "
                f"{_f(h['p50_ms'])} | {_f(h['p99_ms'])} | {_f(r['events_per_s'])} | {_f(r['p50_ms'])} | "
                f"{_f(r['p99_ms'])} | {_f(ratio, 2)}× | {_f(h['cpu_ms_per_event'], 2)} | "
                f"{_f(r['cpu_ms_per_event'], 2)} | {_load(h)} / {_load(r)} | {bad or 0} |")
        lines += ["", f"Journal length at the end: {result['journal_length_http']:,} (HTTP database), "
                      f"{result['journal_length_raw']:,} (raw database), seed agreements included; "
                      f"{result['events_generated']:,} events were generated, of which the paced runs' unsent "
                      f"ones reached neither side. {result['seconds']:.0f} s for this backend.", ""]
        flush = result.get("disk_flush")
        if flush:
            lines += [f"The disk's own flush, measured just before (8 KiB overwritten in place and flushed with "
                      f"fdatasync, 100 a second for 10 s, in the databases' folder; a journal commit waits for "
                      f"one): p50 {flush['p50_ms']:.2f} ms, "
                      f"p99 {flush['p99_ms']:.2f} ms, max {flush['max_ms']:.1f} ms, {flush['over_20_ms']} of "
                      f"{flush['flushes']:,} over 20 ms. A flush that stalls holds every append waiting "
                      f"behind it, so the disk's stalls set the floor under an append's p99.", ""]
        for row in (x for x in result["rows"] if x["rate"]):
            h, r = row["http"], row["raw"]
            planned = h["requests_planned"]
            lines += [f"Paced at {row['rate']:g} req/s{_round(row, data)}: {h['requests']:,} of {planned:,} requests sent "
                      f"({h['req_per_s']:.1f}/s achieved; nothing is sent later than {PACED_GRACE_S:g} s after the "
                      f"schedule's end); from the moment a request was due to its answer p50 "
                      f"{h.get('lateness_p50_ms', float('nan')):,.1f} ms, p99 "
                      f"{h.get('lateness_p99_ms', float('nan')):,.1f} ms (raw: {r['requests']:,} appends, "
                      f"p50 {r.get('lateness_p50_ms', float('nan')):,.1f} ms, "
                      f"p99 {r.get('lateness_p99_ms', float('nan')):,.1f} ms).", ""]
        for row in result["rows"]:
            steps = row["raw"].get("steps_share")
            if not steps or row["workers"] != 1 or row["rate"]:
                continue
            rest = max(0.0, 1 - sum(v or 0 for v in steps.values()))
            lines += [f"Where a raw append's time goes, {_label(row, data)} (share of its wall time): loading "
                      f"the journal from the store (`_journal`, only when another writer recorded since) "
                      f"{100 * steps['_journal']:.0f} %, `catch_up` before "
                      f"{100 * steps['catch_up']:.0f} %, reference checks (`check`) "
                      f"{100 * steps['check']:.0f} %, `save` {100 * steps['save']:.0f} %, projecting its own "
                      f"entries (`_project_recorded`) {100 * steps['_project_recorded']:.0f} %, the rest "
                      f"(parsing, stamping, hashing) {100 * rest:.0f} %.", ""]
    lines += verdicts(data)
    lines.append(END)
    return "\n".join(lines) + "\n"


def _rounds(data: dict[str, Any]) -> int:
    return int(data["args"].get("rounds", 1))


def _round(row: dict[str, Any], data: dict[str, Any]) -> str:
    return f", round {row.get('round', 1)}" if _rounds(data) > 1 else ""


def _label(row: dict[str, Any], data: dict[str, Any]) -> str:
    return row["phase"] + _round(row, data)


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _figure(values: list[float], unit: str, digits: int = 1) -> str:
    """One figure, or with several rounds their median and range."""
    if len(values) == 1:
        return f"{_f(values[0], digits)}{unit}"
    return (f"median {_f(_median(values), digits)}{unit} of {len(values)} rounds "
            f"({_f(min(values), digits)}–{_f(max(values), digits)})")


def verdicts(data: dict[str, Any]) -> list[str]:
    """Each target against its measurement's figure; over several rounds, against the median."""
    lines = ["### Targets", "",
             "| target | backend | figure | verdict |", "|---|---|---|---|"]
    for result in data["results"]:
        backend = result["backend"]
        phases: dict[str, list[dict[str, Any]]] = {}
        for row in result["rows"]:
            phases.setdefault(row["phase"], []).append(row)
        paced = [rows for rows in phases.values() if rows[0]["rate"]][:1]  # checked at the first rate
        for rows in paced:
            p99 = [r["http"]["p99_ms"] for r in rows]
            lines.append(f"| p99 ≤ {TARGET_PACED_P99_MS:g} ms at {rows[0]['rate']:g} req/s | {backend} | "
                         f"p99 {_figure(p99, ' ms')} | {_ok(_median(p99) <= TARGET_PACED_P99_MS)} |")
        for phase_name, rows in phases.items():
            if rows[0]["batch"]:
                rates = [r["http"]["events_per_s"] or 0 for r in rows]
                lines.append(f"| batches ≥ {TARGET_BATCH_EVENTS_S:,.0f} events/s | {backend} | "
                             f"{phase_name}: {_figure(rates, ' events/s', 0)} | "
                             f"{_ok(_median(rates) >= TARGET_BATCH_EVENTS_S)} |")
        for phase_name, rows in phases.items():
            ratios = [_ratio(r) for r in rows]
            known = [x for x in ratios if x is not None]
            met = len(known) == len(ratios) and _median(known) <= TARGET_RATIO
            lines.append(f"| HTTP ≤ {TARGET_RATIO:g}× raw | {backend} | {phase_name}: "
                         f"{_figure(known, '×', 2) if known else '–'} | {_ok(met)} |")
    lines.append("")
    return lines


def write_section(path: Path, section: str, reading: str = "") -> None:
    text = path.read_text(encoding="utf-8")
    if reading:
        section = section.replace(END, reading.rstrip() + "\n" + END)
    if START in text and END in text:
        before, rest = text.split(START, 1)
        after = rest.split(END, 1)[1]
        text = before + section.rstrip("\n") + after
    else:
        text = text.rstrip("\n") + "\n\n" + section
    path.write_text(text, encoding="utf-8")


# --- main -----------------------------------------------------------------------------


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="sqlite,postgres", help="comma-separated: sqlite, postgres")
    parser.add_argument("--postgres-url", default=POSTGRES_URL, help="a loopback PostgreSQL (new schemas are made)")
    parser.add_argument("--concurrency", type=_ints, default=[1, 4, 16], help="client threads, e.g. 1,4,16")
    parser.add_argument("--requests", type=int, default=1000, help="single-event requests per concurrency level")
    parser.add_argument("--paced-rates", type=lambda t: [float(x) for x in t.split(",") if x.strip()],
                        default=[100.0, 10.0],
                        help="requests per second of the paced runs; the target is checked at the first")
    parser.add_argument("--paced-seconds", type=float, default=20.0)
    parser.add_argument("--paced-workers", type=int, default=16, help="threads sending the paced requests")
    parser.add_argument("--batch-sizes", type=_ints, default=[500, 1000])
    parser.add_argument("--batches", type=int, default=10, help="batches per batch size")
    parser.add_argument("--warmup", type=int, default=50, help="single-event appends first, not reported")
    parser.add_argument("--rounds", type=int, default=1,
                        help="repeat every measurement this many times; targets are judged on the median")
    parser.add_argument("--phase-seconds", type=float, default=150.0,
                        help="a measurement stops sending after this many seconds (bounds the run)")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL schemas")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--output", type=Path, help="write the '## HTTP appends' section into this Markdown file")
    parser.add_argument("--reading", type=Path, help="Markdown appended to the section (the written reading)")
    parser.add_argument("--from-json", type=Path, help="render from kept figures instead of measuring")
    args = parser.parse_args(argv)
    if (args.requests > 5000 or args.batches > 50 or args.paced_seconds > 120 or args.phase_seconds > 600
            or not 1 <= args.rounds <= 5):
        parser.error("bounded runs only: --requests ≤ 5000, --batches ≤ 50, --paced-seconds ≤ 120, "
                     "--phase-seconds ≤ 600, --rounds 1–5")
    host = re.sub(r"^[a-z]+://(?:[^@/]*@)?([^:/?]+).*$", r"\1", args.postgres_url)
    if host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("--postgres-url must be on loopback")

    def log(message: str) -> None:
        print(message, flush=True)

    if args.from_json:
        data = json.loads(args.from_json.read_text(encoding="utf-8"))
    else:
        command = "python -m benchmarks.bench_api " + " ".join(argv if argv is not None else sys.argv[1:])
        data = {"date": dt.date.today().isoformat(), "command": command.strip(), "machine": machine(),
                "load_start": load1(), "args": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                "results": []}
        started = time.monotonic()
        for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
            if backend not in ("sqlite", "postgres"):
                parser.error(f"unknown backend {backend!r}")
            data["results"].append(bench_backend(backend, args, log))
            if args.json:  # keep what is measured so far
                args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
        data["load_end"], data["seconds"] = load1(), round(time.monotonic() - started, 1)
        if args.json:
            args.json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    section = render(data)
    print(section)
    if args.output:
        reading = args.reading.read_text(encoding="utf-8") if args.reading else ""
        write_section(args.output, section, reading)
        log(f"wrote the section into {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
