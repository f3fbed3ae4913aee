"""A bounded load run on loopback: N finance-system clients appending and M auditors reading
as-of reports at the same time, for a fixed time, against a real ``ledger serve``.

It reports throughput, latencies (p50, p99, max) per kind of request, every status seen,
and ends with a consistency check: the journal holds exactly the seed entries plus every
acknowledged event (none lost, none twice), the hash chain verifies, and the read models
equal a full rebuild. It stops by itself: after ``--seconds`` (at most 600) or
``--max-requests`` appends, whichever comes first.

    python -m benchmarks.load --backend sqlite --appenders 4 --auditors 2 --seconds 30
    python -m benchmarks.load --backend postgres --appenders 8 --auditors 4 --seconds 120 --json out.json

Each run uses a fresh database (a temp SQLite file, or a new schema on the PostgreSQL at
``--postgres-url``, dropped afterwards) and a free loopback port. Exit status 1 when the
consistency check fails or a client saw an answer that must never happen (a 500, a 201
for other events, a retry answered differently).
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from tests.reliability.harness import (  # noqa: E402
    Request,
    Server,
    Tally,
    check_consistency,
    make_keys,
    post,
    postgres_database,
    settle,
    valid_event,
)

POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
VIEWS = ("balances", "due-back", "reclaims", "obligations", "findings")


class Latencies:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = {}

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            self.samples.setdefault(kind, []).append(seconds)

    def summary(self, elapsed: float) -> dict[str, dict[str, float]]:
        out = {}
        for kind, values in sorted(self.samples.items()):
            ordered = sorted(values)
            out[kind] = {
                "count": len(ordered),
                "per_second": round(len(ordered) / elapsed, 1),
                "p50_ms": round(1000 * statistics.median(ordered), 1),
                "p99_ms": round(1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))], 1),
                "max_ms": round(1000 * ordered[-1], 1),
            }
        return out


def _appender(number: int, base: str, token: str, tally: Tally, latencies: Latencies, deadline: float,
              budget: list[int], batch_every: int, batch_size: int, seed: int) -> None:
    rng = random.Random(seed * 1000 + number)
    with httpx.Client() as client:
        sent = 0
        while time.monotonic() < deadline:
            with tally.lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            sent += 1
            batch = batch_every > 0 and sent % batch_every == 0
            events = [valid_event(rng, f"load{number}") for _ in range(batch_size if batch else 1)]
            request = Request(str(uuid.UUID(int=rng.getrandbits(128), version=4)), events, batch)
            with tally.lock:
                tally.requests.append(request)
            started = time.perf_counter()
            status = post(client, base, token, request, tally, timeout=60)
            latencies.add("append_batch" if batch else "append", time.perf_counter() - started)
            if status != 201:
                time.sleep(0.1)


def _auditor(number: int, base: str, token: str, tally: Tally, latencies: Latencies, deadline: float,
             seed: int) -> None:
    rng = random.Random(seed * 7919 + number)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client() as client:
        while time.monotonic() < deadline:
            view = rng.choice(VIEWS)
            params = {"as_of": f"{rng.randint(2020, 2026)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"}
            if rng.random() < 0.5:  # as known at some moment of the run so far, or now
                params["known_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - rng.uniform(0, 60)))
            if rng.random() < 0.3:
                params["agreement_id"] = "god-och-nara-vard-2020"
            started = time.perf_counter()
            try:
                response = client.get(f"{base}/v1/{view}", params=params, headers=headers, timeout=60)
                status: int | str = response.status_code
            except httpx.HTTPError as exc:
                status = type(exc).__name__
            latencies.add("read_as_of", time.perf_counter() - started)
            tally.count(f"read {status}")
            if status != 200:
                with tally.lock:
                    tally.bad.append(f"read {view} {params}: {status}")


def run(backend: str, appenders: int, auditors: int, seconds: float, max_requests: int, batch_every: int,
        batch_size: int, postgres_url: str, seed: int = 1, log: Any = print) -> dict[str, Any]:
    seconds = min(seconds, 600.0)
    folder = Path(tempfile.mkdtemp(prefix="ledger-load-"))
    database = None
    if backend == "sqlite":
        url = f"sqlite:///{folder / 'ledger.sqlite'}"
    else:
        database = postgres_database(postgres_url)
        url = next(database)
    try:
        tokens = make_keys(url)
        server = Server(url, folder, load=False).start()
        seed_length = check_consistency(url, rebuild=False).journal_length
        tally, latencies, budget = Tally(), Latencies(), [max_requests]
        log(f"[{backend}] {appenders} appenders + {auditors} auditors for {seconds:.0f}s on {server.url}")
        started = time.monotonic()
        deadline = started + seconds
        threads = [threading.Thread(target=_appender, args=(n, server.url, tokens["appender"], tally, latencies,
                                                            deadline, budget, batch_every, batch_size, seed))
                   for n in range(appenders)]
        threads += [threading.Thread(target=_auditor, args=(n, server.url, tokens["auditor"], tally, latencies,
                                                            deadline, seed)) for n in range(auditors)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.monotonic() - started
        unanswered = len(tally.pending)
        settle(server.url, tokens["appender"], tally, 120)
        server.stop()
        acknowledged = sum(len(r.events) for r in tally.acknowledged)
        expected = {e["event_id"]: e for r in tally.acknowledged for e in r.acknowledged or []}
        log(f"[{backend}] checking consistency of {seed_length + acknowledged} entries")
        check = check_consistency(url, expected)
        result = {
            "backend": backend, "appenders": appenders, "auditors": auditors, "seconds": round(elapsed, 1),
            "append_requests": len(tally.requests), "events_acknowledged": acknowledged,
            "events_per_second": round(acknowledged / elapsed, 1),
            "retried_after_no_answer": unanswered, "statuses": dict(sorted(tally.statuses.items())),
            "latency": latencies.summary(elapsed), "bad_answers": tally.bad[:10],
            "journal_length": check.journal_length, "expected_length": seed_length + acknowledged,
            "events_lost": check.missing, "duplicates": check.duplicates, "chain_verifies": check.verify_ok,
            "projections_equal_rebuild": check.views_equal_rebuild and check.index_equal_rebuild,
            "tracking_at_head": check.tracking_at_head,
        }
        result["consistent"] = (not tally.bad and check.missing == 0 and check.duplicates == 0 and check.verify_ok
                                and result["projections_equal_rebuild"] and check.tracking_at_head
                                and check.journal_length == seed_length + acknowledged)
        return result
    finally:
        if "server" in locals():
            server.kill()
        if database is not None:
            database.close()
        shutil.rmtree(folder, ignore_errors=True)


def show(result: dict[str, Any]) -> str:
    lines = [f"backend {result['backend']}: {result['appenders']} appenders, {result['auditors']} auditors, "
             f"{result['seconds']} s",
             f"  appends acknowledged: {result['events_acknowledged']} events in {result['append_requests']} requests "
             f"({result['events_per_second']} events/s); statuses {result['statuses']}"]
    for kind, figures in result["latency"].items():
        lines.append(f"  {kind:13} {figures['count']:7} ({figures['per_second']}/s)  p50 {figures['p50_ms']} ms  "
                     f"p99 {figures['p99_ms']} ms  max {figures['max_ms']} ms")
    lines.append(f"  journal {result['journal_length']} = expected {result['expected_length']}; lost "
                 f"{result['events_lost']}, duplicates {result['duplicates']}, chain verifies "
                 f"{result['chain_verifies']}, projections = rebuild {result['projections_equal_rebuild']}")
    lines.append(f"  consistent: {result['consistent']}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgres"), action="append")
    parser.add_argument("--appenders", type=int, default=4)
    parser.add_argument("--auditors", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=30.0, help="how long (at most 600)")
    parser.add_argument("--max-requests", type=int, default=1_000_000, help="append requests at most")
    parser.add_argument("--batch-every", type=int, default=5, help="every n-th append is a batch (0: never)")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--postgres-url", default=POSTGRES_URL)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)
    results = []
    for backend in args.backend or ["sqlite"]:
        result = run(backend, args.appenders, args.auditors, args.seconds, args.max_requests, args.batch_every,
                     args.batch_size, args.postgres_url, log=lambda m: print(m, flush=True))
        print(show(result), flush=True)
        results.append(result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0 if all(r["consistent"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
