"""Projection benchmarks: full rebuild and as-of balance reports, on SQLite and PostgreSQL.

For each size and backend (databases from ``benchmarks.synthetic``, cached under
/tmp/ledger-bench/):

- rebuild: ``Ledger.rebuild()`` of every read model; events/s and the peak RSS of the
  process, compared with the library's raw read of the same events
  (``recorder.select_notifications`` in pages, decoded with ``mapper.to_domain_event``);
- balances: ``projections.queries.balances`` for one agreement, for one region across every
  agreement (its statement) and for every agreement at random (as_of, known_at) pairs: p50 and p99 in ms, compared with a naive replay of
  the journal (read every entry, filter by effective_date / recorded_at / supersession
  in Python, sum per recipient; for the region, its postings only).

Every measurement runs in its own subprocess, so its peak RSS (``VmHWM``, see ``rss_mb``) and
timings are not polluted by the others. Results are written as Markdown.

    python -m benchmarks.bench_projections --sizes 10000,100000 --backends sqlite,postgres \\
        --output docs/benchmarks.md
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks import synthetic

ROOT = Path(__file__).resolve().parent.parent
RESULTS_DIR = synthetic.CACHE_DIR / "results"

# Targets (from the issue)
REBUILD_EPS = 20_000
REBUILD_MB = 500
P50_MS = 50
P99_MS = 500
NAIVE_FACTOR = 100
TARGET_SIZE = 1_000_000


def rss_mb() -> float:
    """This process's peak resident memory in MB. On Linux the peak of its own address
    space (VmHWM): ``ru_maxrss`` survives fork and exec, so a child started by a parent
    that held 1 GB reported 1 GB before doing anything."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _ledger(url: str) -> Any:
    from ledger.application import Ledger
    from ledger.config import database_config

    return Ledger(database_config(url))


# --- measurements (each in a child process) --------------------------------------------


def measure_rebuild(url: str) -> dict[str, Any]:
    ledger = _ledger(url)
    try:
        base, load = rss_mb(), os.getloadavg()[0]
        started = time.perf_counter()
        events = ledger.rebuild()
        seconds = time.perf_counter() - started
        return {"events": events, "seconds": seconds, "eps": events / seconds, "rss_mb": rss_mb(),
                "base_rss_mb": base, "load": [load, os.getloadavg()[0]]}
    finally:
        ledger.close()


def measure_raw_read(url: str, page: int = 5000) -> dict[str, Any]:
    ledger = _ledger(url)
    try:
        base, load = rss_mb(), os.getloadavg()[0]
        started, start, events = time.perf_counter(), 0, 0
        while True:
            notifications = ledger.recorder.select_notifications(start, page, inclusive_of_start=False)
            if not notifications:
                break
            for n in notifications:
                ledger.mapper.to_domain_event(n)
            events += len(notifications)
            start = notifications[-1].id
        seconds = time.perf_counter() - started
        return {"events": events, "seconds": seconds, "eps": events / seconds, "rss_mb": rss_mb(),
                "base_rss_mb": base, "load": [load, os.getloadavg()[0]]}
    finally:
        ledger.close()


def pairs(count: int, seed: int, first: dt.date = dt.date(2017, 2, 1)) -> list[tuple[str, str]]:
    """Random (as_of, known_at) pairs from ``first`` to the end of the history; known_at >= as_of."""
    rng = random.Random(seed)
    last = synthetic.HORIZON
    out = []
    for _ in range(count):
        as_of = first + dt.timedelta(days=rng.randint(0, (last - first).days))
        known = min(last, as_of + dt.timedelta(days=rng.randint(0, 500)))
        out.append((as_of.isoformat(), known.isoformat()))
    return out


def pick_agreement(ledger: Any, seed: int) -> tuple[str, dt.date, int]:
    """A synthetic agreement from the busier half (seeded): (id, decision date, documents)."""
    rows = ledger.views.query("SELECT agreement_id, COUNT(*) AS n, MIN(effective_date) AS first"
                              " FROM {s}documents GROUP BY agreement_id")
    rows = sorted((r for r in rows if "-s" in r["agreement_id"]), key=lambda r: (r["n"], r["agreement_id"]))
    row = random.Random(seed).choice(rows[len(rows) // 2 :])
    return row["agreement_id"], dt.date.fromisoformat(row["first"]), int(row["n"])


def scope_pairs(ledger: Any, scope: str, count: int, seed: int) -> tuple[Any, int, list[tuple[str, str]]]:
    """The filters of the scope, the agreement's documents (scope "agreement") and the pairs:
    for one agreement, as_of from its decision on; for "recipient", a region (seeded choice)
    across every agreement."""
    from projections.queries import Filters

    if scope == "recipient":
        return Filters(recipient_id=random.Random(seed).choice(synthetic.REGIONS)), 0, pairs(count, seed)
    if scope != "agreement":
        return Filters(), 0, pairs(count, seed)
    agreement, first, documents = pick_agreement(ledger, seed)
    return Filters(agreement_id=agreement), documents, pairs(count, seed, first)


def measure_balances(url: str, scope: str, count: int, seed: int, budget: float) -> dict[str, Any]:
    """Balance report latencies for ``count`` pairs (stopping early after ``budget`` seconds)."""
    from projections.queries import balances
    from projections.state import Clock

    ledger = _ledger(url)
    try:
        flt, documents, todo = scope_pairs(ledger, scope, count, seed)
        load = os.getloadavg()[0]
        balances(ledger.views, Clock.of(*todo[0]), flt)  # warm-up: imports, connection, caches
        times, rows, started = [], 0, time.perf_counter()
        for as_of, known_at in todo:
            t0 = time.perf_counter()
            rows += len(balances(ledger.views, Clock.of(as_of, known_at), flt))
            times.append((time.perf_counter() - t0) * 1000)
            if time.perf_counter() - started > budget:
                break
        return {"agreement": flt.agreement_id, "recipient": flt.recipient_id, "documents": documents,
                "scope": scope, "n": len(times),
                "p50_ms": percentile(times, 50), "p99_ms": percentile(times, 99), "max_ms": max(times),
                "rows": rows, "rss_mb": rss_mb(), "load": [load, os.getloadavg()[0]]}
    finally:
        ledger.close()


def naive_balances(ledger: Any, as_of: str, known_at: str, agreement_id: str | None,
                   recipient_id: str | None = None) -> dict[tuple[str, str], int]:
    """The naive answer: replay the whole journal for one (as_of, known_at).

    Reads every stored entry (notifications, decoded), keeps those recorded by known_at,
    drops those a correction or retraction recorded by known_at supersedes, keeps those
    effective by as_of, and sums the postings per recipient and account.
    """
    from ledger.journal import Journal
    from projections.postings import event_postings, superseded_ids

    entries, start = [], 0
    while True:
        notifications = ledger.recorder.select_notifications(start, 5000, inclusive_of_start=False)
        if not notifications:
            break
        for n in notifications:
            event = ledger.mapper.to_domain_event(n)
            if isinstance(event, Journal.EntryRecorded):
                entries.append(event.entry())
        start = notifications[-1].id
    known = [e for e in entries if e.recorded_at <= known_at]
    superseded = {s for e in known for s in superseded_ids(e)}
    sums: dict[tuple[str, str], int] = defaultdict(int)
    for entry in known:
        payload = entry.payload
        if entry.event_id in superseded or payload["effective_date"] > as_of:
            continue
        aid = payload.get("agreement_id") or (payload.get("agreement") or {}).get("agreement_id")
        if agreement_id is not None and aid != agreement_id:
            continue
        for posting in event_postings(entry.kind, payload):
            if recipient_id is not None and posting.recipient_id != recipient_id:
                continue
            sums[(posting.recipient_id or "", posting.account)] += posting.amount
    return sums


def measure_naive(url: str, scope: str, count: int, seed: int) -> dict[str, Any]:
    from ledger.timeparams import known_at_text

    ledger = _ledger(url)
    try:
        flt, _documents, todo = scope_pairs(ledger, scope, count, seed)
        times = []
        for as_of, known_at in todo:
            t0 = time.perf_counter()
            naive_balances(ledger, as_of, known_at_text(known_at), flt.agreement_id, flt.recipient_id)
            times.append((time.perf_counter() - t0) * 1000)
        return {"scope": scope, "n": len(times), "median_ms": statistics.median(times), "rss_mb": rss_mb()}
    finally:
        ledger.close()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


CHILDREN = {
    "rebuild": lambda a: measure_rebuild(a.url),
    "raw_read": lambda a: measure_raw_read(a.url),
    "balances": lambda a: measure_balances(a.url, a.scope, a.count, a.seed, a.budget),
    "naive": lambda a: measure_naive(a.url, a.scope, a.count, a.seed),
}


def run_child(kind: str, url: str, **options: Any) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.bench_projections", "--child", kind, "--url", url]
    for key, value in options.items():
        command += [f"--{key}", str(value)]
    print(f"  $ {' '.join(command[2:])}", flush=True)
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- orchestration ------------------------------------------------------------------


def naive_count(size: int) -> int:
    return 10 if size <= 10_000 else 5 if size <= 100_000 else 3


def everything_pairs(size: int) -> int:
    return 100


def bench(size: int, backend: str, args: argparse.Namespace) -> dict[str, Any]:
    result_file = RESULTS_DIR / f"{backend}-{size}.json"
    if result_file.exists() and not args.remeasure:
        print(f"[{backend} {size}] results cached in {result_file}", flush=True)
        return json.loads(result_file.read_text())
    if not synthetic.is_cached(backend, size):
        if not args.generate:
            return {"size": size, "backend": backend,
                    "not_run": f"database not generated (`python -m benchmarks.synthetic --size {size}"
                               f" --backend {backend}`, or add `--generate`)"}
        synthetic.generate(backend, size, log=lambda m: print(m, flush=True))
    url = synthetic.database_url(backend, size)
    print(f"[{backend} {size}] measuring {url}", flush=True)
    result: dict[str, Any] = {"size": size, "backend": backend}
    result["rebuild"] = run_child("rebuild", url)
    result["raw_read"] = run_child("raw_read", url)
    for scope in SCOPES:
        count = args.pairs if scope != "all" else everything_pairs(size)
        result[f"balances_{scope}"] = run_child("balances", url, scope=scope, count=count, seed=args.seed,
                                                budget=args.budget)
        result[f"naive_{scope}"] = run_child("naive", url, scope=scope, count=naive_count(size), seed=args.seed)
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result_file.write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1), flush=True)
    return result


# --- report -------------------------------------------------------------------------


#: The balance reports measured: one agreement, one region's statement, every agreement.
SCOPES = {"agreement": "one agreement", "recipient": "one region, every agreement", "all": "every agreement"}


def _mark(ok: bool) -> str:
    return "pass" if ok else "**fail**"


def render(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    lines = ["| size | backend | rebuild events/s | rebuild s | peak RSS MB | raw read events/s |"
             " rebuild / raw read | load avg | target ≥ 20 000/s | target ≤ 500 MB |",
             "|---:|---|---:|---:|---:|---:|---:|---:|---|---|"]
    for r in results:
        if "not_run" in r:
            lines.append(f"| {r['size']:,} | {r['backend']} | not run: {r['not_run']} | | | | | | | |")
            continue
        rb, raw = r["rebuild"], r["raw_read"]
        big = r["size"] >= TARGET_SIZE
        lines.append(
            f"| {r['size']:,} | {r['backend']} | {rb['eps']:,.0f} | {rb['seconds']:.1f} | {rb['rss_mb']:.0f} |"
            f" {raw['eps']:,.0f} | {rb['eps'] / raw['eps']:.2f} | {max(rb['load']):.1f} |"
            f" {_mark(rb['eps'] >= REBUILD_EPS)}{'' if big else ' (target at 1M)'} |"
            f" {_mark(rb['rss_mb'] <= REBUILD_MB)}{'' if big else ' (target at 1M)'} |")
    lines += ["", "| size | backend | report | pairs | p50 ms | p99 ms | naive replay median ms (pairs) |"
              " speed-up (naive / p50) | load avg | target p50 ≤ 50 ms | target p99 ≤ 500 ms | target ≥ 100× |",
              "|---:|---|---|---:|---:|---:|---:|---:|---:|---|---|---|"]
    for r in results:
        if "not_run" in r:
            continue
        for scope, label in SCOPES.items():
            if f"balances_{scope}" not in r:
                continue  # measured before the scope was
            b, n = r[f"balances_{scope}"], r[f"naive_{scope}"]
            big = "" if r["size"] >= TARGET_SIZE else " (target at 1M)"
            speedup = n["median_ms"] / b["p50_ms"]
            lines.append(
                f"| {r['size']:,} | {r['backend']} | {label} | {b['n']} | {b['p50_ms']:.1f} | {b['p99_ms']:.1f} |"
                f" {n['median_ms']:,.0f} ({n['n']}) | {speedup:,.0f}× | {max(b['load']):.1f} | {_mark(b['p50_ms'] <= P50_MS)}{big} |"
                f" {_mark(b['p99_ms'] <= P99_MS)}{big} | {_mark(speedup >= NAIVE_FACTOR)}{big} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000", help="comma-separated journal sizes")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--output", help="write the Markdown tables to this file (else print them)")
    parser.add_argument("--pairs", type=int, default=100, help="(as_of, known_at) pairs per report")
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds per balance measurement before it stops early (n is reported)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--generate", action="store_true", help="generate missing databases first (slow at 1M)")
    parser.add_argument("--remeasure", action="store_true", help="ignore cached results")
    # child mode
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--scope", default="agreement", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, default=100, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(CHILDREN[args.child](args)))
        return 0
    results = [bench(int(size), backend, args) for size in args.sizes.split(",")
               for backend in args.backends.split(",")]
    tables = render(results, args)
    if args.output:
        Path(args.output).write_text(tables if not Path(args.output).exists() else _splice(args.output, tables))
        print(f"wrote {args.output}")
    print(tables)
    return 0


BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"


def _splice(path: str, tables: str) -> str:
    """Replace the generated tables between the markers, keeping the hand-written text."""
    text = Path(path).read_text(encoding="utf-8")
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        return f"{head}{BEGIN}\n{tables}{END}{rest.split(END, 1)[1]}"
    return text + f"\n{BEGIN}\n{tables}{END}\n"


if __name__ == "__main__":
    sys.exit(main())
