"""Shared machinery for the reliability tests and the large-scale runs (benchmarks/load.py,
benchmarks/reliability_large.py): a real ``ledger serve`` subprocess on a free loopback port,
a throwaway PostgreSQL cluster, valid events to append, HTTP clients that remember what
was acknowledged, and the consistency check every run ends with.

Scale: ``RELIABILITY_SCALE=large`` turns the CI-sized runs into the large ones; figures of
each run are appended as JSON lines to ``RELIABILITY_REPORT`` when it is set.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[2]
LOOPBACK = "127.0.0.1"
SCALE = os.environ.get("RELIABILITY_SCALE", "ci")


def scaled(ci: Any, large: Any) -> Any:
    """The CI-sized value, or the large one under RELIABILITY_SCALE=large."""
    return large if SCALE == "large" else ci


def report(name: str, **figures: Any) -> None:
    """Append one run's figures to $RELIABILITY_REPORT (JSON lines), if set."""
    path = os.environ.get("RELIABILITY_REPORT")
    if not path:
        return
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"test": name, "scale": SCALE, **figures}, ensure_ascii=False) + "\n")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return int(sock.getsockname()[1])


def wait_until(predicate: Any, seconds: float = 30.0, every: float = 0.05) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(every)
    return False


# --- the server ------------------------------------------------------------------------


class Server:
    """``ledger serve`` in its own process group on a free loopback port."""

    def __init__(self, database_url: str, log_dir: Path, port: int | None = None, load: bool = True,
                 env: dict[str, str] | None = None):
        self.database_url, self.log_dir, self.load = database_url, log_dir, load
        self.env = env or {}  # added to the server's environment
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def start(self, timeout: float = 60.0) -> Server:
        self.starts += 1
        log = open(self.log_dir / f"serve-{self.port}-{self.starts}.log", "wb")  # noqa: SIM115 - the child owns it
        command = [sys.executable, "-m", "ledger.cli", "serve", "--host", LOOPBACK, "--port", str(self.port),
                   "--database-url", self.database_url, "--load" if self.load else "--no-load"]
        self.process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                                        start_new_session=True,
                                        env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env})
        log.close()
        if not wait_until(self._healthy, timeout, 0.1):
            self.kill()
            raise RuntimeError(f"ledger serve did not start on {self.url}:\n{self.log()}")
        return self

    def _healthy(self) -> bool:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(f"ledger serve exited early:\n{self.log()}")
        try:
            return httpx.get(f"{self.url}/health", timeout=1.0).status_code == 200
        except httpx.HTTPError:
            return False

    def log(self) -> str:
        path = self.log_dir / f"serve-{self.port}-{self.starts}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no flush, the way a crash or the OOM killer ends it."""
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)
        self.process = None

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=20)
        self.process = None


# --- a throwaway PostgreSQL cluster ----------------------------------------------------


def postgres_bin() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists() and (candidate / "pg_ctl").exists():
            return candidate
    return None


class ThrowawayPostgres:
    """Its own initdb cluster in a temp dir on a free port, run as the postgres user, so it
    can be stopped and started without touching the shared server other tests use."""

    def __init__(self) -> None:
        binary = postgres_bin()
        if binary is None:
            raise RuntimeError("no PostgreSQL server binaries under /usr/lib/postgresql")
        self.bin = binary
        self.dir = Path(tempfile.mkdtemp(prefix="ledger-pg-"))
        self.data = self.dir / "data"
        self.port = free_port()
        as_root = os.geteuid() == 0
        self.prefix = ["runuser", "-u", "postgres", "--"] if as_root else []
        if as_root:
            shutil.chown(self.dir, "postgres", "postgres")
        subprocess.run([*self.prefix, str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--no-sync"], check=True, capture_output=True)

    @property
    def url(self) -> str:
        return f"postgresql://postgres@{LOOPBACK}:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses={LOOPBACK} -k {self.dir} -c max_connections=100"
        subprocess.run([*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.dir / "log"),
                        "-o", options, "-w", "-t", "60", "start"], check=True, capture_output=True)

    def stop(self, mode: str = "immediate") -> None:
        """``immediate`` aborts every backend without a checkpoint, as a crash would."""
        subprocess.run([*self.prefix, str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop"],
                       check=False, capture_output=True)

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# --- what to append --------------------------------------------------------------------

A2020 = "god-och-nara-vard-2020"
A2021 = "okad-tillganglighet-2021"
REGIONS = ("region-skane", "region-gotland", "region-blekinge", "region-dalarna", "region-gavleborg")


def valid_event(rng: random.Random, tag: str = "") -> dict[str, Any]:
    """One valid event for a ledger holding the seed agreements (several kinds, so the
    postings and documents views both get rows)."""
    event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    region = rng.choice(REGIONS)
    day = f"2020-{rng.randint(3, 12):02d}-{rng.randint(1, 28):02d}"
    amount = rng.randint(1, 5_000_000_00)
    choice = rng.randrange(5)
    reference = f"REL-{tag}-{event_id[:8]}"
    if choice == 0:
        return {"kind": "payout_made", "event_id": event_id, "effective_date": day, "agreement_id": A2020,
                "part_id": "nara-vard", "recipient_id": region, "amount": amount, "payment_reference": reference}
    if choice == 1:
        return {"kind": "requisition_received", "event_id": event_id, "effective_date": day, "agreement_id": A2020,
                "part_id": "nara-vard", "recipient_id": region, "amount": amount, "signature": "original",
                "reference": reference}
    if choice == 2:
        return {"kind": "repayment_received", "event_id": event_id, "effective_date": day, "agreement_id": A2020,
                "part_id": "nara-vard", "recipient_id": region, "amount": amount // 10 or 1, "reference": reference}
    if choice == 3:
        return {"kind": "onward_transfer_made", "event_id": event_id, "effective_date": day, "agreement_id": A2020,
                "part_id": "medarbetare-kommuner", "recipient_id": "rss-skane", "amount": amount // 100 or 1,
                "to_name": f"Kommun {rng.randint(1, 290)}", "reference": reference}
    return {"kind": "report_received", "event_id": event_id, "effective_date": "2021-03-30", "agreement_id": A2021,
            "report_kind": "handlingsplan", "recipient_id": region, "received_by": "regeringskansliet",
            "reference": reference}


# --- clients that remember -------------------------------------------------------------


@dataclass
class Request:
    """One append (one event or a batch) with its idempotency key, and what came of it."""

    idempotency_key: str
    events: list[dict[str, Any]] = field(repr=False)
    batch: bool
    acknowledged: list[dict[str, Any]] | None = None  # the 201 answer's events
    attempts: int = 0
    statuses: list[int | str] = field(default_factory=list)
    replayed: list[bool] = field(default_factory=list)  # the flag of each 201

    @property
    def path(self) -> str:
        return "/v1/events/batch" if self.batch else "/v1/events"

    @property
    def body(self) -> Any:
        return {"events": self.events} if self.batch else self.events[0]

    @property
    def event_ids(self) -> list[str]:
        return [e["event_id"] for e in self.events]


@dataclass
class Tally:
    """Everything the clients saw, shared by their threads."""

    requests: list[Request] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: dict[str, int] = field(default_factory=dict)
    bad: list[str] = field(default_factory=list)  # answers that must never happen (500, false 201, no problem body)

    def count(self, status: int | str) -> None:
        with self.lock:
            self.statuses[str(status)] = self.statuses.get(str(status), 0) + 1

    @property
    def acknowledged(self) -> list[Request]:
        return [r for r in self.requests if r.acknowledged is not None]

    @property
    def pending(self) -> list[Request]:
        return [r for r in self.requests if r.acknowledged is None]


def post(client: httpx.Client, base: str, token: str, request: Request, tally: Tally,
         timeout: float = 30.0) -> int | str:
    """Send one append; record a 201; anything else leaves the request pending (to retry)."""
    request.attempts += 1
    try:
        response = client.post(base + request.path, json=request.body, timeout=timeout,
                               headers={"Authorization": f"Bearer {token}",
                                        "Idempotency-Key": request.idempotency_key})
    except httpx.HTTPError as exc:
        status: int | str = type(exc).__name__
        request.statuses.append(status)
        tally.count(status)
        return status
    request.statuses.append(response.status_code)
    tally.count(response.status_code)
    if response.status_code == 201:
        events = response.json()["events"]
        request.replayed.append(bool(response.json()["replayed"]))
        if [e["event_id"] for e in events] != request.event_ids:
            with tally.lock:
                tally.bad.append(f"{request.idempotency_key}: 201 for other events {events}")
        if request.acknowledged is not None and events != request.acknowledged:
            with tally.lock:
                tally.bad.append(f"{request.idempotency_key}: a retry got another answer than the first 201")
        request.acknowledged = events
    elif response.status_code >= 500:
        problem = response.headers.get("content-type", "").startswith("application/problem+json")
        if response.status_code != 503 or not problem or "Traceback" in response.text:
            with tally.lock:
                tally.bad.append(f"{request.idempotency_key}: {response.status_code} {response.text[:300]}")
    elif response.status_code != 429:
        with tally.lock:
            tally.bad.append(f"{request.idempotency_key}: unexpected {response.status_code} {response.text[:300]}")
    return response.status_code


def appender_threads(base: str, token: str, tally: Tally, stop: threading.Event, clients: int, seed: int,
                     batch_every: int = 4, batch_size: int = 5, pause: float = 0.0) -> list[threading.Thread]:
    """``clients`` threads appending new events until ``stop``; every ``batch_every``-th
    request is a batch. A request that got no 201 is retried with the same key (later)."""

    def run(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        with httpx.Client() as client:
            sent = 0
            while not stop.is_set():
                sent += 1
                batch = batch_every > 0 and sent % batch_every == 0
                events = [valid_event(rng, f"c{number}") for _ in range(batch_size if batch else 1)]
                request = Request(str(uuid.UUID(int=rng.getrandbits(128), version=4)), events, batch)
                with tally.lock:
                    tally.requests.append(request)
                status = post(client, base, token, request, tally, timeout=10.0)
                if status != 201:
                    time.sleep(0.05)
                if pause:
                    time.sleep(pause)

    return [threading.Thread(target=run, args=(n,), daemon=True, name=f"appender-{n}") for n in range(clients)]


def settle(base: str, token: str, tally: Tally, seconds: float = 120.0) -> None:
    """Retry every pending request with its own idempotency key until each has a 201."""
    deadline = time.monotonic() + seconds
    with httpx.Client() as client:
        while tally.pending and time.monotonic() < deadline:
            for request in tally.pending:
                if post(client, base, token, request, tally) != 201:
                    time.sleep(0.2)
    if tally.pending:
        raise AssertionError(f"{len(tally.pending)} requests never got a 201, e.g. {tally.pending[0]}")


def replay_acknowledged(base: str, token: str, tally: Tally) -> int:
    """Send every acknowledged request again with its key: each must get the original answer."""
    replayed = 0
    with httpx.Client() as client:
        for request in tally.acknowledged:
            first = request.acknowledged
            response = client.post(base + request.path, json=request.body, timeout=30,
                                   headers={"Authorization": f"Bearer {token}",
                                            "Idempotency-Key": request.idempotency_key})
            assert response.status_code == 201, (response.status_code, response.text)
            assert response.json()["events"] == first, (request.idempotency_key, response.json(), first)
            replayed += response.json()["replayed"]
    return replayed


# --- the consistency check -------------------------------------------------------------


@dataclass
class Consistency:
    journal_length: int
    duplicates: int
    missing: int
    verify_ok: bool
    views_equal_rebuild: bool
    index_equal_rebuild: bool
    tracking_at_head: bool


def index_dump(ledger: Any) -> list[tuple[Any, ...]]:
    from ledger.index import COLUMNS

    rows = ledger.index.query(f"SELECT {COLUMNS} FROM {{s}}journal_index ORDER BY position")
    return [tuple(r.values()) for r in rows]


def journal_event_ids(ledger: Any) -> list[str]:
    return [ledger.mapper.to_domain_event(stored).event_id for _, stored in ledger.entries()]


def check_consistency(database_url: str, expected: dict[str, dict[str, Any]] | None = None,
                      rebuild: bool = True) -> Consistency:
    """Chain verifies; no event id twice; every expected (acknowledged) event present at the
    position and hash it was acknowledged with; read models equal a full rebuild."""
    from ledger.application import Ledger
    from ledger.config import database_config

    ledger = Ledger(database_config(database_url))
    try:
        ledger.catch_up()
        ids = journal_event_ids(ledger)
        duplicates = len(ids) - len(set(ids))
        missing = 0
        for event_id, answer in (expected or {}).items():
            row = ledger.index.event(event_id)
            if row is None or row["position"] != answer["position"] or row["hash"] != answer["hash"]:
                missing += 1
        head = ledger.recorder.max_notification_id() or 0
        tracking = all((view.max_tracking_id(ledger.name) or 0) == head for view in ledger.read_models)
        verified = ledger.verify().ok
        views_equal = index_equal = True
        if rebuild:
            views, index = ledger.views.dump(), index_dump(ledger)
            ledger.rebuild()
            views_equal, index_equal = views == ledger.views.dump(), index == index_dump(ledger)
        return Consistency(len(ids), duplicates, missing, verified, views_equal, index_equal, tracking)
    finally:
        ledger.close()


def make_keys(database_url: str, load: bool = True) -> dict[str, str]:
    """Tokens for every kind of caller, created directly in the ledger's database."""
    from api.app import key_store_for
    from ledger.application import Ledger
    from ledger.config import database_config

    ledger = Ledger(database_config(database_url))
    try:
        if load:
            ledger.load_agreements()
        store = key_store_for(ledger)
        tokens = {}
        for name, role, agreements in (("admin", "admin", []), ("auditor", "auditor", []),
                                       ("appender", "appender", []), ("scoped", "appender", [A2021]),
                                       ("revoked", "appender", [])):
            key, tokens[name] = store.create(f"reliability {name}", role, agreements)  # type: ignore[arg-type]
            if name == "revoked":
                store.revoke(key.key_id)
        return tokens
    finally:
        ledger.close()


def postgres_database(base_url: str) -> Iterator[str]:
    """A fresh schema on the given PostgreSQL server; dropped afterwards."""
    import psycopg

    schema = f"rel_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{base_url}?schema={schema}"
    finally:
        try:
            with psycopg.connect(base_url, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')
        except psycopg.Error:
            pass
