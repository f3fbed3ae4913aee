"""Faults: the server killed mid-append, projection processing killed mid-way, PostgreSQL
restarted under load, a full disk and a read-only SQLite file.

Every run ends with the same check: every acknowledged (201) append is in the journal at
the position and hash it was acknowledged with, no event is there twice, no batch is
half-written, ``ledger verify`` passes, and the read models equal a full rebuild.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ledger.application import Ledger
from ledger.cli import app as cli
from ledger.config import database_config
from tests.reliability.harness import (
    ROOT,
    Request,
    Server,
    Tally,
    ThrowawayPostgres,
    appender_threads,
    check_consistency,
    journal_event_ids,
    make_keys,
    post,
    postgres_bin,
    postgres_database,
    replay_acknowledged,
    report,
    scaled,
    settle,
    valid_event,
    wait_until,
)

runner = CliRunner()


def _journal_ids(database_url: str) -> set[str]:
    ledger = Ledger(database_config(database_url))
    try:
        return set(journal_event_ids(ledger))
    finally:
        ledger.close()


def _assert_consistent(database_url: str, tally: Tally) -> dict[str, int]:
    expected = {e["event_id"]: e for r in tally.acknowledged for e in r.acknowledged or []}
    result = check_consistency(database_url, expected)
    assert result.duplicates == 0
    assert result.missing == 0, f"{result.missing} acknowledged events are not where their 201 said"
    assert result.verify_ok
    assert result.tracking_at_head
    assert result.views_equal_rebuild and result.index_equal_rebuild
    verified = runner.invoke(cli, ["verify", "--database-url", database_url])
    assert verified.exit_code == 0 and "OK:" in verified.output, verified.output
    return {"journal_length": result.journal_length}


# --- 1. kill -9 the server in the middle of concurrent appends ---------------------------


def test_server_killed_mid_append_loses_and_duplicates_nothing(database_url, backend, tokens, server):
    kills, clients = scaled(2, 40), scaled(4, 6)
    token, rng = tokens["appender"], random.Random(20250101)
    seed_ids = _journal_ids(database_url)
    tally = Tally()
    outcomes = {"committed_then_replayed": 0, "committed_then_recovered": 0, "not_committed_then_appended": 0}
    server.start()
    for kill in range(kills):
        stop = threading.Event()
        threads = appender_threads(server.url, token, tally, stop, clients, seed=kill)
        for thread in threads:
            thread.start()
        time.sleep(rng.uniform(0.3, 1.2))
        server.kill()  # SIGKILL while the clients are mid-request
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        # No batch is half-written: each unanswered request is wholly in or wholly out.
        present = _journal_ids(database_url)
        in_before = {}
        for request in tally.pending:
            found = [i in present for i in request.event_ids]
            assert all(found) or not any(found), f"half-written batch {request.idempotency_key}: {found}"
            in_before[request.idempotency_key] = all(found)
        server.start()
        # Clients retry what got no answer with the same key: each gets one 201 for the same events.
        for request in list(tally.pending):
            with httpx.Client() as client:
                assert wait_until(lambda r=request: post(client, server.url, token, r, tally) == 201, 60, 0.2)
            if in_before[request.idempotency_key]:
                # Committed before the crash: answered from the idempotency record (replayed) or,
                # if the crash came between commit and record, by the recovery path from the journal.
                outcomes["committed_then_replayed" if request.replayed[-1] else "committed_then_recovered"] += 1
            else:
                assert not request.replayed[-1]
                outcomes["not_committed_then_appended"] += 1
    assert not tally.bad, tally.bad[:5]
    settle(server.url, token, tally)
    replayed = replay_acknowledged(server.url, token, tally)
    assert replayed == len(tally.acknowledged)  # every retry now answers from the idempotency record
    server.stop()
    figures = _assert_consistent(database_url, tally)
    appended = sum(len(r.events) for r in tally.acknowledged)
    assert figures["journal_length"] == len(seed_ids) + appended  # nothing extra, nothing lost
    report("server_kill", backend=backend, kills=kills, clients=clients, requests=len(tally.requests),
           events_acknowledged=appended, events_lost=0, duplicates=0, statuses=tally.statuses, **outcomes,
           journal_length=figures["journal_length"])


def test_commit_without_idempotency_record_is_answered_from_the_journal(database_url, tokens, server):
    """The crash window between the journal commit and the idempotency record, made exact:
    the events are in the journal under the key's principal, no answer was stored; the
    retry gets 201 with the recorded positions and hashes, and nothing is appended twice."""
    from api.app import key_store_for

    ledger = Ledger(database_config(database_url))
    try:
        appender = next(k for k in key_store_for(ledger).list() if k.name == "reliability appender")
        events = [valid_event(random.Random(7), "window"), valid_event(random.Random(8), "window")]
        entries = ledger.append(events, appender.principal)  # committed; the process "died" before the record
        head = ledger.head()[0]
    finally:
        ledger.close()
    server.start()
    tally = Tally()
    request = Request(str(uuid.uuid4()), events, batch=True)
    with httpx.Client() as client:
        assert post(client, server.url, tokens["appender"], request, tally) == 201
        assert [(e["position"], e["hash"]) for e in request.acknowledged] == [(e.position, e.hash) for e in entries]
        again = client.post(f"{server.url}/v1/events/batch", json=request.body,
                            headers={"Authorization": f"Bearer {tokens['appender']}",
                                     "Idempotency-Key": request.idempotency_key})
        assert again.status_code == 201 and again.json()["replayed"] is True
        assert again.json()["events"] == request.acknowledged
        # Another key may not claim those events: the recovery path is per principal.
        other = client.post(f"{server.url}/v1/events/batch", json=request.body,
                            headers={"Authorization": f"Bearer {tokens['admin']}", "Idempotency-Key": "x"})
        assert other.status_code == 422
    server.stop()
    ledger = Ledger(database_config(database_url))
    try:
        assert ledger.head()[0] == head
    finally:
        ledger.close()


def test_a_stored_append_is_acknowledged_even_if_its_read_models_or_answer_cannot_be_written(loaded_ledger):
    """The windows after the journal commit, made exact: the database fails (disk full,
    connection lost) while the read models catch up, or while the idempotency record is
    written. The events are recorded, so the answer is 201 (not a 503 saying nothing was
    recorded); a retry with the same key gets the same events, recorded once."""
    from eventsourcing.persistence import OperationalError
    from fastapi.testclient import TestClient

    from api.app import create_app

    tokens = make_keys(loaded_ledger.config.url, load=False)
    app = create_app(loaded_ledger)
    client = TestClient(app, raise_server_exceptions=False)
    headers = {"Authorization": f"Bearer {tokens['appender']}"}
    original_save, original_write = loaded_ledger.save, loaded_ledger._write_views
    saved = []

    def save(*args: Any, **kwargs: Any) -> Any:
        result = original_save(*args, **kwargs)
        saved.append(True)
        return result

    def write_views(*args: Any, **kwargs: Any) -> Any:  # the read models' one way in
        if saved:
            saved.clear()
            raise OperationalError("disk I/O error (simulated after the commit)")
        return original_write(*args, **kwargs)

    head = loaded_ledger.recorder.max_notification_id()
    loaded_ledger.save, loaded_ledger._write_views = save, write_views  # type: ignore[method-assign]
    try:
        event = valid_event(random.Random(11), "after-commit")
        first = client.post("/v1/events", json=event, headers={**headers, "Idempotency-Key": "read-models-fail"})
    finally:
        loaded_ledger.save, loaded_ledger._write_views = original_save, original_write  # type: ignore[method-assign]
    assert first.status_code == 201, first.text
    again = client.post("/v1/events", json=event, headers={**headers, "Idempotency-Key": "read-models-fail"})
    assert again.status_code == 201 and again.json()["replayed"] and again.json()["events"] == first.json()["events"]

    store = app.state.keys.store_response
    app.state.keys.store_response = lambda *a, **k: (_ for _ in ()).throw(OperationalError("database is locked"))
    try:
        event = valid_event(random.Random(12), "after-commit")
        second = client.post("/v1/events", json=event, headers={**headers, "Idempotency-Key": "answer-fails"})
    finally:
        app.state.keys.store_response = store
    assert second.status_code == 201, second.text
    retry = client.post("/v1/events", json=event, headers={**headers, "Idempotency-Key": "answer-fails"})
    assert retry.status_code == 201 and retry.json()["events"] == second.json()["events"]  # from the journal
    assert loaded_ledger.recorder.max_notification_id() == head + 2
    assert check_consistency(loaded_ledger.config.url).views_equal_rebuild


# --- 2. kill the projection processing mid-way --------------------------------------------


def _big_journal(database_url: str, size: int) -> int:
    """A realistic journal of about ``size`` entries (the benchmarks' synthetic history)."""
    sys.path.insert(0, str(ROOT))
    from benchmarks import synthetic

    ledger = Ledger(database_config(database_url))  # the real clock: every synthetic date is in the past
    try:
        ledger.load_agreements()
        ledger.append(synthetic.municipality_events(), synthetic.PRINCIPAL)
        planned = synthetic.plan(size, ledger.head()[0])
        taken = ledger.index.existing_event_ids(p.event["event_id"] for p in planned)  # the catalogue's own
        for batch in synthetic.batches([p for p in planned if p.event["event_id"] not in taken]):
            ledger.append([p.event for p in batch], synthetic.PRINCIPAL)
        return ledger.head()[0]
    finally:
        ledger.close()


CATCH_UP = "import sys; from ledger.application import Ledger; from ledger.config import database_config; " \
           "Ledger(database_config(sys.argv[1])).catch_up(batch_size=int(sys.argv[2]))"


def _positions(watch: Ledger) -> tuple[int, int]:
    """(journal index, postings/documents views) tracking positions."""
    return watch.index.max_tracking_id(watch.name) or 0, watch.views.max_tracking_id(watch.name) or 0


def _kill_at(process: subprocess.Popen, watch: Ledger, target: int, head: int,
             which: Any = min) -> tuple[int, int] | None:
    """SIGKILL the process once ``which`` of the views' positions reaches ``target``; the
    positions it stopped at, or None when it finished first (nothing was left mid-way)."""
    wait_until(lambda: process.poll() is not None or which(_positions(watch)) >= target, 300, 0.01)
    if process.poll() is not None:
        return None
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    stopped = _positions(watch)
    return stopped if min(stopped) < head else None


def test_projection_processing_killed_mid_way_applies_nothing_twice_and_skips_nothing(database_url, backend):
    size = scaled(3000, 100_000) if backend == "sqlite" else scaled(1500, 30_000)
    kills = scaled(3, 12)
    head = _big_journal(database_url, size)
    watch = Ledger(database_config(database_url))
    try:
        head = watch.recorder.max_notification_id()
        clean_views, clean_index = watch.views.dump(), _index(watch)
        stops: list[tuple[int, int] | None] = []
        # First `ledger projections rebuild` (it empties the views, then catches up), killed mid-way...
        # (pages of a tenth of the journal: both views move together, a page at a time)
        rebuild = subprocess.Popen([sys.executable, "-m", "ledger.cli", "projections", "rebuild",
                                    "--page", str(max(1, head // 10)), "--database-url", database_url], cwd=ROOT,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: rebuild.poll() is not None or max(_positions(watch)) < head, 60, 0.01)
        stops.append(_kill_at(rebuild, watch, 1, head, max))  # some pages rebuilt, not all
        # ...then catch-up processes, each resuming where the last was killed, killed further on.
        for kill in range(1, kills):
            low = min(_positions(watch))
            target = low + max(1, (head - low) // (kills - kill + 1))
            batch = max(7, head // 40) + 13 * kill  # batch sizes that do not divide the journal evenly
            process = subprocess.Popen([sys.executable, "-c", CATCH_UP, database_url, str(batch)], cwd=ROOT)
            stops.append(_kill_at(process, watch, target, head))
        survived = sum(s is not None for s in stops)
        assert survived >= 2, f"too few kills landed mid-way: {stops}"
        watch.catch_up()  # resume from each view's own tracking position
        assert watch.views.dump() == clean_views  # no entry applied twice, none skipped
        assert _index(watch) == clean_index
        assert _positions(watch) == (head, head)
    finally:
        watch.close()
    report("projection_kill", backend=backend, journal=head, kills=kills, kills_mid_way=survived,
           stopped_at=stops, applied_twice=0, skipped=0)


def _index(ledger: Ledger) -> list:
    from tests.reliability.harness import index_dump

    return index_dump(ledger)


# --- 3. PostgreSQL restarted under load ---------------------------------------------------


@pytest.fixture
def throwaway_postgres():
    if postgres_bin() is None:
        pytest.fail("PostgreSQL server binaries (initdb, pg_ctl) are needed for the restart test")
    cluster = ThrowawayPostgres()
    cluster.start()
    yield cluster
    cluster.remove()


def test_postgres_restart_under_load_gives_503_then_recovers(throwaway_postgres, tmp_path):
    outages = scaled(1, 6)
    database = postgres_database(throwaway_postgres.url)
    database_url = next(database)
    try:
        tokens = make_keys(database_url)
        server = Server(database_url, tmp_path, load=False).start()
        try:
            figures = _outages(throwaway_postgres, server, tokens, outages)
        finally:
            server.kill()
        figures.update(_assert_consistent(database_url, figures.pop("tally")))
        report("postgres_restart", **figures)
    finally:
        database.close()


def _outages(cluster: ThrowawayPostgres, server: Server, tokens: dict[str, str], outages: int) -> dict:
    token, tally = tokens["appender"], Tally()
    down_answers: dict[str, int] = {}
    recovery_seconds = []
    for outage in range(outages):
        stop = threading.Event()
        threads = appender_threads(server.url, token, tally, stop, 3, seed=100 + outage)
        for thread in threads:
            thread.start()
        time.sleep(0.8)
        cluster.stop("immediate")
        acknowledged_before = len(tally.acknowledged)
        time.sleep(1.0)
        # While it is down: appends and reads answer 503 problems, never a 500, never a 201.
        with httpx.Client() as client:
            for _ in range(scaled(1, 3)):
                request = Request(str(uuid.uuid4()), [valid_event(random.Random(), "down")], batch=False)
                status = post(client, server.url, token, request, tally, timeout=60)
                down_answers[str(status)] = down_answers.get(str(status), 0) + 1
                assert status == 503, status
                with tally.lock:
                    tally.requests.append(request)
                read = client.get(f"{server.url}/v1/balances", timeout=60,
                                  headers={"Authorization": f"Bearer {tokens['auditor']}"})
                assert read.status_code == 503, read.text
                assert read.headers["content-type"].startswith("application/problem+json")
                assert "Traceback" not in read.text and read.json()["status"] == 503
            assert client.get(f"{server.url}/health").status_code == 200
        assert len(tally.acknowledged) - acknowledged_before <= 3 * 3  # at most the requests in flight
        cluster.start()
        started = time.monotonic()
        with httpx.Client() as client:
            probe = Request(str(uuid.uuid4()), [valid_event(random.Random(), "up")], batch=False)
            with tally.lock:
                tally.requests.append(probe)
            assert wait_until(lambda: post(client, server.url, token, probe, tally) == 201, 60, 0.2), \
                "the API did not recover by itself after PostgreSQL came back"
        recovery_seconds.append(round(time.monotonic() - started, 2))
        time.sleep(0.5)
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    assert not tally.bad, tally.bad[:5]
    settle(server.url, token, tally)
    replay_acknowledged(server.url, token, tally)
    return {"outages": outages, "requests": len(tally.requests), "statuses": dict(tally.statuses),
            "events_acknowledged": sum(len(r.events) for r in tally.acknowledged), "events_lost": 0,
            "duplicates": 0, "answers_while_down": down_answers, "recovery_seconds": recovery_seconds,
            "tally": tally}


# --- 4. a full disk and a read-only database file (SQLite) --------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path):
    """A 16 MiB tmpfs: a disk that really fills up (room for SQLite's 4 MB write-ahead log)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=16m", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here (needs root): {done.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    handle = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        while True:
            os.write(handle, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(handle)
    return filler


def _sequential_appends(server: Server, token: str, tally: Tally, count: int, size: int, tag: str) -> None:
    rng = random.Random(tag)
    with httpx.Client() as client:
        for _ in range(count):
            events = [valid_event(rng, tag) | {"note": "x" * 500} for _ in range(size)]
            request = Request(str(uuid.UUID(int=rng.getrandbits(128))), events, batch=True)
            with tally.lock:
                tally.requests.append(request)
            post(client, server.url, token, request, tally)


def test_sqlite_disk_full_answers_503_and_recovers_when_space_is_freed(tiny_disk, tmp_path):
    database_url = f"sqlite:///{tiny_disk / 'ledger.sqlite'}"
    tokens = make_keys(database_url)
    server = Server(database_url, tmp_path, load=False).start()
    tally = Tally()
    try:
        _sequential_appends(server, tokens["appender"], tally, 3, 20, "before")
        assert len(tally.acknowledged) == 3
        filler = _fill(tiny_disk)
        _sequential_appends(server, tokens["appender"], tally, scaled(12, 40), 20, "full")
        refused = [r for r in tally.pending]
        assert refused, "the disk never filled up"
        assert set(tally.statuses) <= {"201", "503"}, tally.statuses
        assert not tally.bad, tally.bad[:3]
        with httpx.Client() as client:  # reads still answer
            read = client.get(f"{server.url}/v1/balances", headers={"Authorization": f"Bearer {tokens['auditor']}"})
            assert read.status_code in (200, 503), read.text
        filler.unlink()  # space again: the same server recovers by itself
        settle(server.url, tokens["appender"], tally, 60)
        replay_acknowledged(server.url, tokens["appender"], tally)
    finally:
        server.kill()
    figures = _assert_consistent(database_url, tally)
    report("sqlite_disk_full", requests=len(tally.requests), refused_while_full=len(refused),
           statuses=tally.statuses, events_acknowledged=sum(len(r.events) for r in tally.acknowledged),
           events_lost=0, duplicates=0, **figures)


def _read_only(path: Path) -> None:
    if os.geteuid() == 0:  # root ignores file modes: make the file immutable instead
        done = subprocess.run(["chattr", "+i", str(path)], capture_output=True)
        if done.returncode != 0:
            pytest.skip(f"cannot make a file immutable here: {done.stderr.decode().strip()}")
    else:
        path.chmod(0o444)


def _writable(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", str(path)], check=False, capture_output=True)
    else:
        path.chmod(0o644)


def test_sqlite_read_only_file_gives_clear_errors_and_records_nothing(tmp_path):
    database = tmp_path / "ledger.sqlite"
    database_url = f"sqlite:///{database}"
    tokens = make_keys(database_url)
    head = len(_journal_ids(database_url))
    lines = tmp_path / "events.jsonl"
    rng = random.Random(3)
    lines.write_text("".join(json.dumps(valid_event(rng, "ro")) + "\n" for _ in range(5)), encoding="utf-8")
    tally = Tally()
    _read_only(database)
    try:
        # The CLI: a clear error, exit 1, no traceback, nothing recorded.
        done = subprocess.run([sys.executable, "-m", "ledger.cli", "append", str(lines), "--database-url",
                               database_url], cwd=ROOT, capture_output=True, text=True, timeout=120,
                              env={**os.environ, "COLUMNS": "200"})
        assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and "╭" not in done.stderr, done.stderr
        assert "error:" in done.stderr and "read" in done.stderr.lower(), done.stderr
        # The API: appends answer 503 problems, reads still work.
        server = Server(database_url, tmp_path, load=False).start()
        try:
            _sequential_appends(server, tokens["appender"], tally, 3, 2, "ro")
            assert tally.statuses == {"503": 3}, tally.statuses
            assert not tally.bad, tally.bad[:3]
            with httpx.Client() as client:
                read = client.get(f"{server.url}/v1/balances",
                                  headers={"Authorization": f"Bearer {tokens['auditor']}"})
                assert read.status_code == 200, read.text
        finally:
            server.kill()
    finally:
        _writable(database)
    assert len(_journal_ids(database_url)) == head
    # Writable again: the same keys are retried and recorded once.
    server = Server(database_url, tmp_path, load=False).start()
    try:
        settle(server.url, tokens["appender"], tally, 60)
        replay_acknowledged(server.url, tokens["appender"], tally)
    finally:
        server.kill()
    figures = _assert_consistent(database_url, tally)
    assert figures["journal_length"] == head + 6
    report("sqlite_read_only", cli_exit=done.returncode, api_statuses_while_read_only={"503": 3},
           journal_unchanged=True)


def test_the_projection_runner_stops_with_an_error_when_postgres_crashes(throwaway_postgres):
    """`ledger projections run` must not go on after a crash that may have lost its last
    commits (the read models don't wait for the disk): it stops with an error, and started
    again it resumes from the stored positions."""
    from projections.runner import run_projections

    database = postgres_database(throwaway_postgres.url)
    database_url = next(database)
    down = False
    try:
        config = database_config(database_url)
        ledger = Ledger(config)
        ledger.load_agreements()
        ledger.close()
        stop, failures = threading.Event(), []

        def run() -> None:
            try:
                run_projections(config, stop, poll_seconds=0.1)
            except Exception as exc:  # noqa: BLE001 - what the test looks at
                failures.append(exc)

        runner = threading.Thread(target=run, daemon=True)
        runner.start()
        time.sleep(1.0)
        assert runner.is_alive() and not failures  # running, with nothing to do
        throwaway_postgres.stop("immediate")
        down = True
        runner.join(timeout=60)
        stop.set()
        assert not runner.is_alive(), "the runner went on after PostgreSQL crashed"
        assert failures, "the runner stopped without an error"
        throwaway_postgres.start()
        down = False
        ledger = Ledger(config)
        try:
            for view in ledger.read_models:
                view.reset(ledger.name)
                view.restore_indexes()
            stop = threading.Event()
            again = threading.Thread(target=run_projections, args=(config, stop, 0.1), daemon=True)
            again.start()
            head = ledger.recorder.max_notification_id()
            assert wait_until(lambda: all(v.max_tracking_id(ledger.name) == head for v in ledger.read_models), 60, 0.2)
            stop.set()
            again.join(timeout=60)
            projected = ledger.views.dump(), ledger.list_events()
            ledger.rebuild()
            assert (ledger.views.dump(), ledger.list_events()) == projected
        finally:
            ledger.close()
    finally:
        if down:
            throwaway_postgres.start()
        database.close()
