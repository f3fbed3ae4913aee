"""The floor under the balance report for every agreement: what any design must spend.

The issue asks for the report "for everything" at p50 <= 50 ms at 1 000 000 entries. For a
few random (as_of, known_at) pairs (the same generator as ``bench_projections``) this
measures, on one synthetic journal:

- ``report``: ``projections.queries.balances`` for every agreement, as the API answers it,
  and how many lines it has;
- ``sums``: the one SQL aggregate that every design computing the answer at query time
  needs: the visible postings summed per agreement, part, recipient, route and account
  (``LedgerViews.account_sums``), without any rule applied;
- ``precomputed``: the same lines already worked out and stored in a table of their own
  (an in-memory SQLite table, one row per line, its 17 columns), read back as the
  report's dicts. This is what a read model that kept every line for every (as_of,
  known_at) would still spend handing the answer over, before any lookup of which
  version of each line stands.

    python -m benchmarks.bench_floor --url sqlite:////tmp/ledger-bench/ledger-1000000.sqlite
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import time
from typing import Any

from benchmarks.bench_projections import _ledger, pairs

LINE_COLUMNS = ("agreement_id", "part_id", "recipient_id", "route", "allocated", "requisitioned", "paid",
                "passed_on", "held", "costs", "unspent", "repaid", "reclaim_decided", "reclaim_settled",
                "reclaim_outstanding", "lapsed", "forfeited")


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def stored_lines(lines: list[dict[str, Any]]) -> sqlite3.Connection:
    """An in-memory table holding ``lines``, one row each."""
    db = sqlite3.connect(":memory:")
    db.execute(f"CREATE TABLE lines ({', '.join(LINE_COLUMNS)})")
    db.executemany(f"INSERT INTO lines VALUES ({','.join('?' * len(LINE_COLUMNS))})",
                   [tuple(line.get(c) for c in LINE_COLUMNS) for line in lines])
    return db


def read_lines(db: sqlite3.Connection) -> list[dict[str, Any]]:
    """The stored lines back, as the report's dicts."""
    return [dict(zip(LINE_COLUMNS, row)) for row in db.execute("SELECT * FROM lines").fetchall()]


def precomputed_read_ms(lines: list[dict[str, Any]], repeats: int = 5) -> float:
    """Median ms to read ``lines`` back from a table that already holds them."""
    db = stored_lines(lines)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        read_lines(db)
        times.append(_ms(started))
    db.close()
    return statistics.median(times)


def measure(url: str, count: int, seed: int) -> list[dict[str, Any]]:
    from projections.queries import balances
    from projections.state import Clock

    ledger = _ledger(url)
    try:
        balances(ledger.views, Clock.of(*pairs(1, seed + 1)[0]))  # warm-up: terms, connection
        out = []
        for as_of, known_at in pairs(count, seed):
            clock = Clock.of(as_of, known_at)
            started = time.perf_counter()
            lines = balances(ledger.views, clock)
            report = _ms(started)
            started = time.perf_counter()
            groups = len(ledger.views.account_sums(*clock.params))
            sums = _ms(started)
            out.append({"as_of": as_of, "known_at": known_at, "lines": len(lines), "groups": groups,
                        "report_ms": report, "sums_ms": sums, "precomputed_ms": precomputed_read_ms(lines),
                        "load": os.getloadavg()[0]})
            print(f"  {as_of} / {known_at}: {out[-1]}", flush=True)
        return out
    finally:
        ledger.close()


def render(url: str, results: list[dict[str, Any]]) -> str:
    head = ("| as_of | known_at | lines | report ms | sums only ms (groups) | precomputed lines read ms | load avg |\n"
            "|---|---|---:|---:|---:|---:|---:|\n")
    body = "".join(
        f"| {r['as_of']} | {r['known_at']} | {r['lines']:,} | {r['report_ms']:,.0f} | {r['sums_ms']:,.0f}"
        f" ({r['groups']:,}) | {r['precomputed_ms']:,.1f} | {r['load']:.1f} |\n" for r in results)
    medians = {k: statistics.median(r[k] for r in results) for k in ("report_ms", "sums_ms", "precomputed_ms")}
    foot = (f"| **median** | | | **{medians['report_ms']:,.0f}** | **{medians['sums_ms']:,.0f}** | "
            f"**{medians['precomputed_ms']:,.1f}** | |\n")
    return f"`{url}`\n\n" + head + body + foot


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="a synthetic journal (benchmarks.synthetic)")
    parser.add_argument("--pairs", type=int, default=5, help="random (as_of, known_at) pairs")
    parser.add_argument("--seed", type=int, default=11, help="seed of the pairs")
    args = parser.parse_args(argv)
    print(render(args.url, measure(args.url, args.pairs, args.seed)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
