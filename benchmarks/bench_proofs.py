"""Benchmark: digests, proofs and the full chain verify at 1 000 000 journal entries.

Not a test. Two parts:

1. **In memory** (always): 1 000 000 synthetic journal entries in the ledger's shape
   (``payout_made``-like payloads, about 400 bytes of canonical JSON each), made in chunks
   so memory stays small. Timed: canonical serialisation; plain SHA-256 over the same
   bytes; the hash-chain check ``Ledger.verify`` does per entry (serialise, SHA-256 over
   the previous hash and the bytes, compare the link and the hash); the Merkle leaf hashes;
   building the tree from the leaf hashes; then digests (root + Ed25519 signature),
   inclusion proofs and consistency proofs at random sizes and leaves, and their checks by
   the verifier.
2. **Database** (``--database sqlite`` or ``postgres``; ``none`` skips): a journal of the
   same entries written straight through the Journal aggregate (no validation, no read
   models other than the journal index, which proofs use to find an event), cached under
   /tmp/ledger-bench-proofs/. Timed: ``Ledger.verify()`` over the whole stored journal as
   shipped (at 100 000 entries and more split over worker processes, ledger/chain.py;
   three runs, each with the load average before it) and forced into one process; the
   single-process check's stages on the stored rows (reading them, + decoding, +
   canonical bytes; the rest is SHA-256 and comparing); reading the stored records and
   SHA-256 over their bytes (the floor any full check pays); the first tree build from the
   stored journal; and ``proofs.latest_digest``, ``proofs.inclusion`` and
   ``proofs.consistency`` as the CLI and the API call them.

    python -m benchmarks.bench_proofs                      # 1 000 000 entries, SQLite
    python -m benchmarks.bench_proofs --database postgres --append-docs

``--append-docs`` appends (or replaces) the "Proofs" section of docs/benchmarks.md and
leaves every other section alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import NAMESPACE_URL, uuid5

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.journal import GENESIS_HASH, canonical_json, entry_hash, hashed_content  # noqa: E402
from ledger.merkle import MerkleTree  # noqa: E402
from ledger.signing import SigningKey  # noqa: E402
from ledger.verifier import leaf_hash, verify_consistency, verify_inclusion  # noqa: E402

CACHE_DIR = Path("/tmp/ledger-bench-proofs")
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DOC = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"
HEADING = "## Proofs"
CHUNK = 20_000
SAVE_BATCH = 2_000
CALLS = 1_000
TARGET_MS = 10.0
TARGET_VERIFY_S = 10.0
KEY_SEED = bytes.fromhex("42" * 32)
RECORDED = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


# --- synthetic entries ---------------------------------------------------------------------


def event_id(i: int) -> str:
    return str(uuid5(NAMESPACE_URL, f"urn:grant-ledger:bench-proofs:{i}"))


def entry(i: int) -> dict[str, Any]:
    """The hashed content of journal position i + 1."""
    eid = event_id(i)
    payload = {
        "kind": "payout_made", "event_id": eid, "effective_date": f"20{17 + i % 9}-0{1 + i % 9}-1{i % 10}",
        "agreement_id": f"god-och-nara-vard-{2017 + i % 9}", "part_id": "nara-vard",
        "recipient_id": f"kommun-{1 + i % 290:03d}", "amount": 100_000 + (i * 7919) % 10_000_000_000,
        "route": "direct", "requisition_event_id": event_id(i - 1), "payment_reference": f"KK-{i:09d}",
        "corrects": None,
    }
    recorded_at = (RECORDED + dt.timedelta(seconds=i)).isoformat(timespec="microseconds")
    return hashed_content(i + 1, eid, "payout_made", recorded_at, "benchmark", payload)


def chunks(total: int) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, total, CHUNK):
        yield [entry(i) for i in range(start, min(total, start + CHUNK))]


# --- timing helpers --------------------------------------------------------------------------


class Clock:
    """Wall-clock and CPU seconds (this process), accumulated over timed steps.

    On a shared machine wall time includes waiting for a CPU; the process's CPU time is
    close to what an idle machine's wall time would be (SQLite runs in-process; a
    PostgreSQL server's own work is only in the wall time).
    """

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0
        self.workers_cpu = 0.0  # child processes that ended during the step (the split verify's workers)

    def add(self, fn: Callable[[], Any]) -> Any:
        wall, cpu, workers = time.perf_counter(), time.process_time(), _children_cpu()
        value = fn()
        self.wall += time.perf_counter() - wall
        self.cpu += time.process_time() - cpu
        self.workers_cpu += _children_cpu() - workers
        return value

    def as_dict(self) -> dict[str, float]:
        return {"wall_s": self.wall, "cpu_s": self.cpu, "workers_cpu_s": self.workers_cpu}


def _children_cpu() -> float:
    times = os.times()
    return times.children_user + times.children_system


def timed(fn: Callable[[], Any]) -> tuple[dict[str, float], Any]:
    clock = Clock()
    value = clock.add(fn)
    return clock.as_dict(), value


def per_call(fn: Callable[[int], Any], calls: int = CALLS) -> dict[str, float]:
    """Median, 99th percentile and maximum milliseconds of ``fn(i)`` over ``calls`` calls, wall and CPU."""
    walls, cpus = [], []
    for i in range(calls):
        wall, cpu = time.perf_counter(), time.process_time()
        fn(i)
        cpus.append((time.process_time() - cpu) * 1000)
        walls.append((time.perf_counter() - wall) * 1000)
    walls.sort()
    cpus.sort()
    p99 = int(len(walls) * 0.99) - 1
    return {"median_ms": statistics.median(walls), "p99_ms": walls[p99], "max_ms": walls[-1],
            "cpu_median_ms": statistics.median(cpus), "cpu_p99_ms": cpus[p99]}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --- part 1: in memory ---------------------------------------------------------------------------


def in_memory(total: int) -> dict[str, Any]:
    serialise, plain, chain, leaves_c = Clock(), Clock(), Clock(), Clock()
    prev = GENESIS_HASH
    hashes: list[bytes] = []
    checked_to = GENESIS_HASH  # the chain check's previous hash, carried across chunks
    payload_bytes = 0
    for batch in chunks(total):
        # Record: what append did, so there are stored hashes to check against (not timed).
        recorded = []
        for content in batch:
            prev = entry_hash(prev, content)
            recorded.append((content, prev))
        # Canonical serialisation alone.
        data = serialise.add(lambda b=batch: [canonical_json(c) for c in b])
        payload_bytes += sum(len(d) for d in data)
        # Plain SHA-256 over the same bytes.
        plain.add(lambda d=data: [hashlib.sha256(x).digest() for x in d])
        # The chain check Ledger.verify makes per entry (decoding aside).
        checked_to = chain.add(lambda r=recorded, p=checked_to: _check_chain(r, p))
        # Merkle leaf hashes from the bytes.
        hashes.extend(leaves_c.add(lambda d=data: [leaf_hash(x) for x in d]))
    build, tree = timed(lambda: MerkleTree.from_leaf_hashes(hashes))
    key = SigningKey.from_seed(KEY_SEED)
    rng = random.Random(6962)
    n = tree.size

    def digest(i: int) -> dict[str, Any]:
        size = n if i % 2 == 0 else rng.randint(1, n)
        return key.sign_digest(size, tree.root(size))

    sizes = [rng.randint(1, n) for _ in range(CALLS)]
    leaves = [rng.randrange(s) for s in sizes]
    pairs = [tuple(sorted((rng.randint(1, n), rng.randint(1, n)))) for _ in range(CALLS)]
    head_root = tree.root()
    results = {
        "entries": total,
        "leaf_bytes_mean": payload_bytes / total,
        "serialise": serialise.as_dict(),
        "sha256": plain.as_dict(),
        "chain_verify": chain.as_dict(),
        "leaf_hash": leaves_c.as_dict(),
        "tree_build": build,
        "tree_memory_mb": sum(len(level) for level in tree._levels) / 2**20,  # noqa: SLF001
        "digest": per_call(digest),
        "inclusion_head": per_call(lambda i: tree.inclusion_proof(leaves[i], n)),
        "inclusion_any_size": per_call(lambda i: tree.inclusion_proof(leaves[i], sizes[i])),
        "consistency": per_call(lambda i: tree.consistency_proof(*pairs[i])),
        "verify_inclusion": per_call(
            lambda i: verify_inclusion(leaves[i], n, hashes[leaves[i]], tree.inclusion_proof(leaves[i], n), head_root)
        ),
    }
    roots = {s: tree.root(s) for p in pairs[:200] for s in p}
    proofs_ = [tree.consistency_proof(*p) for p in pairs[:200]]
    results["verify_consistency"] = per_call(
        lambda i: verify_consistency(pairs[i][0], pairs[i][1], roots[pairs[i][0]], roots[pairs[i][1]], proofs_[i]),
        calls=200,
    )
    return results


def _check_chain(recorded: list[tuple[dict[str, Any], str]], prev: str) -> str:
    """Recompute each entry's hash from the previous one and compare (as ledger/chain.py does)."""
    for content, digest in recorded:
        if entry_hash(prev, content) != digest:
            raise AssertionError(f"chain broken at {content['position']}")
        prev = digest
    return prev


# --- part 2: a stored journal ----------------------------------------------------------------------


def database_url(backend: str, total: int) -> str:
    if backend == "sqlite":
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{CACHE_DIR / f'journal-{total}.sqlite'}"
    return f"{POSTGRES_URL}?schema=bench_proofs_{total}"


def marker(backend: str, total: int) -> Path:
    return CACHE_DIR / f"{backend}-{total}.done"


def build_database(backend: str, total: int) -> tuple[str, float]:
    """Write ``total`` journal entries (cached); returns the URL and the seconds it took (0 if cached)."""
    from eventsourcing.persistence import Tracking

    from ledger.application import Ledger
    from ledger.config import database_config
    from ledger.journal import Journal

    url = database_url(backend, total)
    if marker(backend, total).exists():
        return url, json.loads(marker(backend, total).read_text())["seconds"]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    if backend == "sqlite":
        Path(url.removeprefix("sqlite:///")).unlink(missing_ok=True)
    else:
        import psycopg

        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA IF EXISTS bench_proofs_{total} CASCADE")
            conn.execute(f"CREATE SCHEMA bench_proofs_{total}")

    class Writer(Ledger):
        name = Ledger.name  # PostgreSQL names the events table after the application: the ledger's
        snapshotting_intervals = {}  # noqa: RUF012 - writing only; snapshots don't change what is measured

    ledger = Writer(database_config(url))
    started = time.perf_counter()
    try:
        journal = Journal()
        for batch in chunks(total):
            # Saved a few thousand at a time: PostgreSQL's pipelined insert of a whole chunk of
            # 20 000 events stalled, the client and the server each waiting for the other.
            for start in range(0, len(batch), SAVE_BATCH):
                entries = [journal.record(c["event_id"], c["kind"], c["recorded_at"], c["recorded_by"], c["payload"])
                           for c in batch[start:start + SAVE_BATCH]]
                ledger.save(journal)
                ledger.index.index_entries(entries, Tracking(ledger.name, ledger.recorder.max_notification_id()))
            if entries[-1].position % 100_000 == 0:
                log(f"  wrote {entries[-1].position} entries, {time.perf_counter() - started:.0f}s")
    finally:
        ledger.close()
    seconds = time.perf_counter() - started
    marker(backend, total).write_text(json.dumps({"seconds": seconds}))
    return url, seconds


VERIFY_RUNS = 3


def stored(backend: str, total: int) -> dict[str, Any]:
    from ledger import chain, proofs
    from ledger.application import Ledger
    from ledger.config import database_config

    url, write_s = build_database(backend, total)
    results: dict[str, Any] = {"backend": backend, "write_s": write_s, "workers": chain.workers(),
                               "parallel_from": Ledger.verify_parallel_from}
    ledger = Ledger(database_config(url))
    try:
        results["ledger_verify_runs"] = [verify_run(ledger) for _ in range(VERIFY_RUNS)]
        ledger.verify_parallel_from = total + 1  # the path journals below the threshold take
        results["verify_in_process"] = verify_run(ledger)
        ledger.verify_parallel_from = Ledger.verify_parallel_from
        results.update(check_stages(ledger, total))

        def read_and_hash() -> tuple[Clock, int]:
            hashing, count = Clock(), 0
            for page in chain.JournalRows.of(ledger.recorder).rows(after=1):
                hashing.add(lambda r=page: [hashlib.sha256(state).digest() for _, _, state in r])
                count += len(page)
            return hashing, count

        t, (hash_only, count) = timed(read_and_hash)
        assert count == total
        results["read_and_sha256"], results["stored_sha256"] = t, hash_only.as_dict()
        t, tree = timed(lambda: proofs.journal_tree(ledger))
        assert tree.size == total
        results["tree_build_from_db"] = t
        key = SigningKey.from_seed(KEY_SEED)
        rng = random.Random(9162)
        ids = [event_id(rng.randrange(total)) for _ in range(CALLS)]
        pairs = [tuple(sorted((rng.randint(1, total), rng.randint(1, total)))) for _ in range(CALLS)]
        results["digest"] = per_call(lambda i: proofs.latest_digest(ledger, key))
        results["inclusion"] = per_call(lambda i: proofs.inclusion(ledger, ids[i], key=key))
        results["consistency"] = per_call(lambda i: proofs.consistency(ledger, pairs[i][0], pairs[i][1], key))
    finally:
        ledger.close()
    return results


def verify_run(ledger: Any) -> dict[str, float]:
    """One full ``Ledger.verify()`` with the load average just before it."""
    load = os.getloadavg()[0]
    log(f"  verify (load {load:.1f}) …")
    t, result = timed(ledger.verify)
    assert result.ok, result
    return {**t, "load": load, "length": result.length}


def check_stages(ledger: Any, total: int) -> dict[str, dict[str, float]]:
    """The single-process check's stages over the stored rows, each including the ones before:
    reading, + decoding the JSON with its field checks, + the canonical bytes of the content."""
    from ledger import chain

    journal = chain.JournalRows.of(ledger.recorder)

    def stage(work: Callable[[tuple[int, str, bytes]], Any]) -> Callable[[], int]:
        def run() -> int:
            count = 0
            for page in journal.rows(after=1):
                for row in page:
                    work(row)
                count += len(page)
            assert count == total
            return count
        return run

    def serialise(row: tuple[int, str, bytes]) -> bytes:
        return chain.content_bytes(chain.quick_fields(row[1], row[2]))

    return {
        "read_rows": timed(stage(lambda row: None))[0],
        "read_decode": timed(stage(lambda row: chain.quick_fields(row[1], row[2])))[0],
        "read_decode_serialise": timed(stage(serialise))[0],
    }


# --- report --------------------------------------------------------------------------------------


def _ms(stats: dict[str, float]) -> str:
    return (f"{stats['median_ms']:.3f} | {stats['p99_ms']:.3f} | {stats['max_ms']:.3f} | "
            f"{stats['cpu_median_ms']:.3f} | {stats['cpu_p99_ms']:.3f}")


def _s(step: dict[str, float]) -> str:
    return f"{step['wall_s']:.2f} | {step['cpu_s']:.2f}"


def _ok(value: float, target: float) -> str:
    return "yes" if value <= target else "**no**"


def _met(stats: dict[str, float]) -> str:
    """Judged on the 99th percentile of wall time: single maxima on a shared machine are scheduler pauses."""
    return _ok(stats["p99_ms"], TARGET_MS)


def render(memory: dict[str, Any], databases: list[dict[str, Any]], notes: list[str], date: str) -> str:
    n = memory["entries"]
    runs = " and ".join(f"`python -m benchmarks.bench_proofs {note}`" for note in notes)
    lines = [
        HEADING,
        "",
        f"{runs}, run {date}. {n:,} journal entries in the ledger's shape, "
        f"{memory['leaf_bytes_mean']:.0f} bytes of canonical JSON each on average. Python "
        f"{platform.python_version()} on {platform.machine()}, {os.cpu_count()} CPUs. The machine was shared "
        f"with other work (load average {memory['load']:.1f} when the run began; each full verify below gives "
        "its own), so wall-clock times are upper bounds; CPU is this process's CPU time (and its worker "
        "processes', where it says so), about what an idle machine's wall-clock time would be for one process.",
        "",
        "### Building (once per process)",
        "",
        "| step | wall s | CPU s |",
        "|---|---|---|",
        f"| canonical JSON of every entry | {_s(memory['serialise'])} |",
        f"| plain SHA-256 over the same bytes | {_s(memory['sha256'])} |",
        f"| hash-chain check in memory: serialise, SHA-256(prev ‖ bytes), compare — per entry | "
        f"{_s(memory['chain_verify'])} |",
        f"| Merkle leaf hashes SHA-256(0x00 ‖ bytes) | {_s(memory['leaf_hash'])} |",
        f"| Merkle tree from the {n:,} leaf hashes (every level cached, "
        f"{memory['tree_memory_mb']:.0f} MiB) | {_s(memory['tree_build'])} |",
    ]
    for database in databases:
        lines += _stored_rows(database, n)
    lines += [
        "",
        f"### Per request, after the tree is built ({CALLS:,} calls each; milliseconds)",
        "",
        "| operation | median | p99 | max | CPU median | CPU p99 | ≤ 10 ms (wall p99) |",
        "|---|---|---|---|---|---|---|",
        f"| digest: root at the head or a random size + Ed25519 signature | {_ms(memory['digest'])} | "
        f"{_met(memory['digest'])} |",
        f"| inclusion proof, random leaf, at the head | {_ms(memory['inclusion_head'])} | "
        f"{_met(memory['inclusion_head'])} |",
        f"| inclusion proof, random leaf, at a random size | {_ms(memory['inclusion_any_size'])} | "
        f"{_met(memory['inclusion_any_size'])} |",
        f"| consistency proof, random pair of sizes | {_ms(memory['consistency'])} | "
        f"{_met(memory['consistency'])} |",
        f"| verifier: check an inclusion proof | {_ms(memory['verify_inclusion'])} | |",
        f"| verifier: check a consistency proof (200 calls) | {_ms(memory['verify_consistency'])} | |",
    ]
    for database in databases:
        b = database["backend"]
        lines += [
            f"| `proofs.latest_digest` ({b}) | {_ms(database['digest'])} | {_met(database['digest'])} |",
            f"| `proofs.inclusion` by event id, signed ({b}: index lookup, stored entry, path, signature) | "
            f"{_ms(database['inclusion'])} | {_met(database['inclusion'])} |",
            f"| `proofs.consistency`, old and new digests signed ({b}) | {_ms(database['consistency'])} | "
            f"{_met(database['consistency'])} |",
        ]
    for database in databases:
        lines += ["", _where_the_time_goes(database, memory)]
    if databases:
        lines += ["", _split_explained(databases[0])]
    lines += [
        "",
        "A digest or proof reads at most about 2·log2(n) cached subtree hashes and hashes a few of them "
        "together (O(log² n) at worst); it never walks the leaves. The full chain verify and the first "
        "tree build must read and decode every stored entry and serialise it canonically again, so they "
        "are bounded by reading the rows, decoding them (orjson) and the canonical encoder (orjson), "
        "not by SHA-256: compare the plain SHA-256 rows. The tree build runs in one process; the verify "
        "spreads the same work over the cores.",
        "",
    ]
    return "\n".join(lines)


def _stored_rows(database: dict[str, Any], n: int) -> list[str]:
    runs = database["ledger_verify_runs"]
    shipped = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]  # the median run by wall time
    walls = ", ".join(f"{r['wall_s']:.2f} (load {r['load']:.1f})" for r in runs)
    single = database["verify_in_process"]
    split = n >= database["parallel_from"]
    how = (f"split over {database['workers']} worker processes" if split else "in one process")
    return [
        "",
        f"### Against the stored journal ({BACKEND_NAMES.get(database['backend'], database['backend'])})",
        "",
        "| step | wall s | CPU s (this process + workers) | target | met (wall) |",
        "|---|---|---|---|---|",
        f"| **`Ledger.verify()`** as shipped, {how}: full chain verify of {n:,} stored entries "
        f"(median of {len(runs)} runs; wall s and load average before each: {walls}) | "
        f"{shipped['wall_s']:.2f} | {shipped['cpu_s']:.2f} + {shipped['workers_cpu_s']:.2f} | "
        f"≤ {TARGET_VERIFY_S:.0f} s | {_ok(shipped['wall_s'], TARGET_VERIFY_S)} |",
        f"| `Ledger.verify()` forced into one process (the path below {database['parallel_from']:,} entries; "
        f"load {single['load']:.1f}) | {single['wall_s']:.2f} | {single['cpu_s']:.2f} | | |",
        f"| one process: read every stored row (`chain.JournalRows`) | {_s(database['read_rows'])} | | |",
        f"| one process: + decode each (orjson, field checks: `chain.quick_fields`) | "
        f"{_s(database['read_decode'])} | | |",
        f"| one process: + canonical bytes of its hashed content (`chain.content_bytes`) | "
        f"{_s(database['read_decode_serialise'])} | | |",
        f"| read every stored row + plain SHA-256 over its stored bytes | "
        f"{_s(database['read_and_sha256'])} | | |",
        f"| of which SHA-256 alone | {_s(database['stored_sha256'])} | | |",
        f"| first tree build from the stored journal (`proofs.journal_tree`: read, decode, leaf hashes; "
        f"one process) | {_s(database['tree_build_from_db'])} | | |",
        f"| writing the journal (Journal aggregate + journal index; setup, not a target) | "
        f"{database['write_s']:.0f} | | | |",
    ]


BACKEND_NAMES = {"sqlite": "SQLite", "postgres": "PostgreSQL"}


def _where_the_time_goes(database: dict[str, Any], memory: dict[str, Any]) -> str:
    single = database["verify_in_process"]["cpu_s"]
    read = database["read_rows"]["cpu_s"]
    decode = database["read_decode"]["cpu_s"] - read
    serialise = database["read_decode_serialise"]["cpu_s"] - database["read_decode"]["cpu_s"]
    rest = single - database["read_decode_serialise"]["cpu_s"]
    runs = database["ledger_verify_runs"]
    shipped = sorted(runs, key=lambda r: r["wall_s"])[len(runs) // 2]
    name = BACKEND_NAMES.get(database["backend"], database["backend"])
    server = ("; the server's own work, finding and sending the rows, shows only in the wall times"
              if database["backend"] == "postgres" else "")
    return (
        f"{name}: where the single-process verify's {single:.1f} CPU seconds go (this process's CPU{server}; "
        "each stage measured on the stored rows on its own, so the parts are approximate): reading the stored "
        f"rows ≈ {read:.1f} s, decoding them with orjson and checking their fields ≈ {max(decode, 0):.1f} s, the "
        f"canonical bytes of each entry's hashed content ≈ {max(serialise, 0):.1f} s, SHA-256 and comparing "
        f"positions and links ≈ {max(rest, 0):.1f} s (plain SHA-256 over the stored bytes alone: "
        f"{database['stored_sha256']['cpu_s']:.1f} s; in memory, the general `canonical_json` of every entry "
        f"takes {memory['serialise']['cpu_s']:.1f} s). Split over {database['workers']} workers (median run) "
        f"the same work took {shipped['workers_cpu_s']:.1f} s of the workers' CPU in {shipped['wall_s']:.1f} s: "
        f"they had {shipped['workers_cpu_s'] / shipped['wall_s']:.1f} of the {os.cpu_count()} cores on average, "
        "the rest went to the other work on the machine"
        + (" and to the PostgreSQL server." if database["backend"] == "postgres" else ".")
    )


def _split_explained(database: dict[str, Any]) -> str:
    return (
        f"From {database['parallel_from']:,} entries on `Ledger.verify()` splits the journal into segments of "
        f"consecutive positions checked by spawned worker processes (one per core, here {database['workers']}), "
        "each reading its own rows; the parent checks the links between the segments and walks a segment with "
        "a problem again in order, so the answer is the single-process one (ledger/chain.py). A worker's start "
        "(a fresh interpreter importing ledger/chain.py, about 0.3 s of CPU) is the only work the split adds, "
        "so with the cores free its wall time would come close to the single-process CPU time divided by the "
        "cores — an estimate, not measured: this machine was never idle during the runs, and PostgreSQL's "
        "server needs cores of its own."
    )


def write_section(section: str) -> None:
    """Append the Proofs section to docs/benchmarks.md, or replace an earlier one; other sections stay."""
    if not DOC.exists():
        DOC.write_text("# Benchmarks\n\n" + section, encoding="utf-8")
        return
    text = DOC.read_text(encoding="utf-8")
    start = text.find(HEADING + "\n")
    if start < 0:
        DOC.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")
        return
    rest = text[start + len(HEADING):]
    # The section ends at the next heading or at the next section's marker comment (bench_api's).
    ends = [i for i in (rest.find("\n## "), rest.find("\n<!-- ")) if i >= 0]
    end = len(text) if not ends else start + len(HEADING) + min(ends) + 1
    DOC.write_text(text[:start] + section + ("\n" + text[end:] if end < len(text) else ""), encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--database", choices=("sqlite", "postgres", "none"), default="sqlite")
    parser.add_argument("--append-docs", action="store_true", help="write the Proofs section of docs/benchmarks.md")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--from-json", type=Path, action="append",
                        help="only render figures written earlier with --json; repeat it to show one run's "
                             "in-memory part and every run's database part (say, SQLite and PostgreSQL)")
    args = parser.parse_args(argv)
    if args.from_json:
        saved = [json.loads(path.read_text()) for path in args.from_json]
        section = render(saved[0]["memory"], [s["database"] for s in saved if s["database"]],
                         [s["note"] for s in saved], saved[0]["date"])
        print(section)
        if args.append_docs:
            write_section(section)
        return 0
    log(f"in memory: {args.entries} entries …")
    load = os.getloadavg()[0]
    memory = in_memory(args.entries)
    memory["load"] = load
    database = None
    if args.database != "none":
        log(f"{args.database}: {args.entries} stored entries …")
        database = stored(args.database, args.entries)
    note = f"--entries {args.entries} --database {args.database}"
    date = dt.date.today().isoformat()
    section = render(memory, [database] if database else [], [note], date)
    print(section)
    if args.json:
        args.json.write_text(json.dumps({"memory": memory, "database": database, "note": note, "date": date},
                                        indent=2))
    if args.append_docs:
        write_section(section)
        log(f"wrote the {HEADING!r} section of {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
