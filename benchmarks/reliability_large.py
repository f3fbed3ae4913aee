"""Run the reliability checks at large scale and print the figures for docs/reliability.md.

1. ``pytest tests/reliability`` with ``RELIABILITY_SCALE=large``: 40 server kills per
   backend, projection processing killed 12 times on a 100 000-entry journal (SQLite) and a
   30 000-entry one (PostgreSQL), 6 PostgreSQL outages, a full disk under 40 appends, and
   1 500 hypothesis examples per fuzz target. Each test appends its figures to a JSON Lines
   file; pytest's own timings go to a JUnit XML file.
2. ``benchmarks/load.py`` on both backends (default 8 appenders, 4 auditors, 300 s each).

    python -m benchmarks.reliability_large                 # everything (about 40 minutes)
    python -m benchmarks.reliability_large --skip-load     # only the large tests
    python -m benchmarks.reliability_large --skip-tests --seconds 60

Results go to ``--out`` (default /tmp/ledger-reliability): figures.jsonl, pytest.xml,
load.json and summary.md (the summary is printed too). Exit 1 if anything failed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_tests(out: Path, select: str | None) -> tuple[int, dict[str, float]]:
    figures, junit = out / "figures.jsonl", out / "pytest.xml"
    figures.unlink(missing_ok=True)
    command = [sys.executable, "-m", "pytest", "tests/reliability", "-q", "-p", "no:cacheprovider",
               f"--junitxml={junit}"]
    if select:
        command += ["-k", select]
    env = {**os.environ, "RELIABILITY_SCALE": "large", "RELIABILITY_REPORT": str(figures)}
    print("$ RELIABILITY_SCALE=large " + " ".join(command[1:]), flush=True)
    code = subprocess.call(command, cwd=ROOT, env=env)
    times: dict[str, float] = {}
    if junit.exists():
        for case in ElementTree.parse(junit).getroot().iter("testcase"):
            times[case.get("name", "?")] = float(case.get("time", 0))
    return code, times


def run_load(out: Path, seconds: float, appenders: int, auditors: int) -> int:
    command = [sys.executable, "-m", "benchmarks.load", "--backend", "sqlite", "--backend", "postgres",
               "--appenders", str(appenders), "--auditors", str(auditors), "--seconds", str(seconds),
               "--json", str(out / "load.json")]
    print("$ " + " ".join(command[1:]), flush=True)
    return subprocess.call(command, cwd=ROOT)


def _rows(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def summary(out: Path, times: dict[str, float]) -> str:
    rows = _rows(out / "figures.jsonl")
    lines = ["| run | figures |", "|---|---|"]
    for row in rows:
        name = row.pop("test")
        row.pop("scale", None)
        lines.append(f"| {name} | " + ", ".join(f"{k}={v}" for k, v in row.items()) + " |")
    if times:
        lines += ["", "| test | seconds |", "|---|---|"]
        lines += [f"| {name} | {seconds:.0f} |" for name, seconds in times.items()]
    load = out / "load.json"
    if load.exists():
        lines += ["", "| backend | appenders/auditors | s | events acknowledged | events/s | append p50/p99 ms "
                  "| batch p50/p99 ms | reads | read p50/p99 ms | statuses | lost | dup | verify | = rebuild |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for r in json.loads(load.read_text(encoding="utf-8")):
            lat = r["latency"]
            one = lat.get("append", {})
            batch = lat.get("append_batch", {})
            read = lat.get("read_as_of", {})
            lines.append(
                f"| {r['backend']} | {r['appenders']}/{r['auditors']} | {r['seconds']} | {r['events_acknowledged']} "
                f"| {r['events_per_second']} | {one.get('p50_ms')}/{one.get('p99_ms')} "
                f"| {batch.get('p50_ms')}/{batch.get('p99_ms')} | {read.get('count')} "
                f"| {read.get('p50_ms')}/{read.get('p99_ms')} | {r['statuses']} | {r['events_lost']} "
                f"| {r['duplicates']} | {r['chain_verifies']} | {r['projections_equal_rebuild']} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/ledger-reliability"))
    parser.add_argument("--skip-tests", action="store_true")
    parser.add_argument("--skip-load", action="store_true")
    parser.add_argument("-k", dest="select", help="only the large tests matching this pytest -k expression")
    parser.add_argument("--seconds", type=float, default=300.0, help="load run length per backend (at most 600)")
    parser.add_argument("--appenders", type=int, default=8)
    parser.add_argument("--auditors", type=int, default=4)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    started, codes, times = time.monotonic(), [], {}
    if not args.skip_tests:
        code, times = run_tests(args.out, args.select)
        codes.append(code)
    if not args.skip_load:
        codes.append(run_load(args.out, args.seconds, args.appenders, args.auditors))
    text = summary(args.out, times)
    (args.out / "summary.md").write_text(text, encoding="utf-8")
    print(text)
    print(f"done in {time.monotonic() - started:.0f} s; results in {args.out}")
    return 0 if all(c == 0 for c in codes) else 1


if __name__ == "__main__":
    sys.exit(main())
