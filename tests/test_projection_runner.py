"""The library's ProjectionRunner keeps the read models current on PostgreSQL, resuming from tracking."""

import threading
import time
from contextlib import ExitStack

from ledger.application import Ledger
from ledger.config import database_config
from projections.runner import postgres_runners, run_projections


def _wait_until(predicate, seconds=20.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_runner_rebuilds_emptied_views_to_what_a_full_rebuild_gives(loaded_ledger, backend):
    expected = loaded_ledger.views.dump()
    head = loaded_ledger.recorder.max_notification_id()
    loaded_ledger.views.reset(loaded_ledger.name)
    assert loaded_ledger.views.dump()["postings"] == []
    if backend == "postgres":
        with ExitStack() as stack:
            for runner in [stack.enter_context(r) for r in postgres_runners(loaded_ledger.config)]:
                runner.wait(head, timeout=20)
    else:
        stop = threading.Event()
        thread = threading.Thread(target=run_projections, args=(loaded_ledger.config, stop, 0.05))
        thread.start()
        try:
            assert _wait_until(lambda: loaded_ledger.views.max_tracking_id(loaded_ledger.name) == head)
        finally:
            stop.set()
            thread.join()
    assert loaded_ledger.views.dump() == expected


def test_a_second_process_sees_what_the_first_appended(database_url):
    first, second = Ledger(database_config(database_url)), Ledger(database_config(database_url))
    try:
        first.load_agreements(["okad-tillganglighet-2021"])
        second.catch_up()
        assert second.index.agreement_ids() == ["okad-tillganglighet-2021"]
        assert second.views.dump() == first.views.dump()
    finally:
        first.close()
        second.close()
