"""Concurrent appends over real HTTP: nothing lost, nothing doubled, the chain intact.

Two API servers (uvicorn, each with its own ``Ledger`` on the same database, as two
processes would be) listen on free loopback ports. Six client threads, three per server,
all with the same appender key, send the same 50 logical appends (single events and small
batches) in different orders, each with its own fixed Idempotency-Key, and send each one
again as a retry after a lost answer; connection errors and 503s are retried with the same
key. Afterwards exactly the distinct events are recorded, every answer to one logical
append is the same, ``verify()`` passes, and the read models equal a full rebuild.
"""

from __future__ import annotations

import random
import socket
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from ledger.application import Ledger
from ledger.config import database_config
from tests.api.helpers import event, journal_length

SERVERS = 2
CLIENTS_PER_SERVER = 3
LOGICAL_APPENDS = 50
ATTEMPTS = 30


class Server:
    """A uvicorn server in a thread, on a loopback socket the OS chose."""

    def __init__(self, ledger: Ledger):
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"
        config = uvicorn.Config(create_app(ledger), log_level="warning", access_log=False, lifespan="off")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True)

    def __enter__(self) -> Server:
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert time.monotonic() < deadline, "the API server did not start"
            assert self.thread.is_alive(), "the API server stopped at start"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=20)
        self.socket.close()


def _logical_appends() -> list[tuple[str, str, Any]]:
    """(Idempotency-Key, path, body): single events and batches of 2–3, none referring to another."""
    kinds = ["requisition_received", "payout_made", "repayment_received", "report_received", "onward_transfer_made"]
    appends = []
    for number in range(LOGICAL_APPENDS):
        kind = kinds[number % len(kinds)]
        if number % 4 == 3:
            body: Any = {"events": [event(kind, amount=1000 + number * 10 + i) if "amount" in event(kind)
                                    else event(kind) for i in range(2 + number % 2)]}
            appends.append((f"concurrent-{number}-{uuid.uuid4().hex[:8]}", "/v1/events/batch", body))
        else:
            body = event(kind, amount=1000 + number) if "amount" in event(kind) else event(kind)
            appends.append((f"concurrent-{number}-{uuid.uuid4().hex[:8]}", "/v1/events", body))
    return appends


def _client(url: str, token: str, appends: list[tuple[str, str, Any]], seed: int, start: threading.Barrier,
            answers: dict[str, list[dict[str, Any]]], problems: list[str], lock: threading.Lock) -> None:
    order = list(appends)
    random.Random(seed).shuffle(order)
    with httpx.Client(base_url=url, timeout=60) as http:
        start.wait()
        for idempotency_key, path, body in order:
            for _send in range(2):  # the second send is a retry after an answer that was "lost"
                headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": idempotency_key}
                for attempt in range(ATTEMPTS):
                    try:
                        response = http.post(path, json=body, headers=headers)
                    except httpx.TransportError:
                        time.sleep(0.05 * (attempt + 1))
                        continue
                    if response.status_code in (500, 502, 503, 504):
                        time.sleep(0.05 * (attempt + 1))
                        continue
                    with lock:
                        if response.status_code == 201:
                            answers[idempotency_key].append(response.json())
                        else:
                            problems.append(f"{idempotency_key}: {response.status_code} {response.text}")
                    break
                else:
                    with lock:
                        problems.append(f"{idempotency_key}: no answer after {ATTEMPTS} attempts")


@pytest.fixture
def second_ledger(loaded_ledger: Ledger, database_url: str) -> Iterator[Ledger]:
    other = Ledger(database_config(database_url))
    yield other
    other.close()


def test_concurrent_retried_appends_record_each_event_exactly_once(loaded_ledger, second_ledger, keys):
    appends = _logical_appends()
    sent_ids = [e["event_id"] for _, _, body in appends for e in body.get("events", [body])]
    assert len(set(sent_ids)) == len(sent_ids)
    head_before = journal_length(loaded_ledger)
    index_head_before = loaded_ledger.head()[0]
    answers: dict[str, list[dict[str, Any]]] = defaultdict(list)
    problems: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(SERVERS * CLIENTS_PER_SERVER)

    with Server(loaded_ledger) as first, Server(second_ledger) as second:
        threads = [
            threading.Thread(target=_client, args=(server.url, keys.appender, appends, seed, start, answers, problems,
                                                   lock))
            for seed, server in enumerate([first, second] * CLIENTS_PER_SERVER)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=600)
        assert not any(thread.is_alive() for thread in threads), "a client thread hung"

    assert problems == []
    # Every client got an answer to every send, and every answer to one logical append is the same.
    assert set(answers) == {key for key, _, _ in appends}
    for key, _, body in appends:
        got = answers[key]
        assert len(got) == 2 * SERVERS * CLIENTS_PER_SERVER
        assert sum(not answer["replayed"] for answer in got) == 1  # one first answer; every other is a replay
        events = {tuple((e["event_id"], e["position"], e["hash"]) for e in answer["events"]) for answer in got}
        assert len(events) == 1, (key, events)
        assert [e[0] for e in events.pop()] == [e["event_id"] for e in body.get("events", [body])]

    # Exactly the distinct events, once each, in one unbroken run of positions.
    loaded_ledger.catch_up()
    assert journal_length(loaded_ledger) == head_before + len(sent_ids)
    recorded = loaded_ledger.list_events()
    new = [row for row in recorded if row["position"] > index_head_before]
    assert sorted(row["event_id"] for row in new) == sorted(sent_ids)
    assert [row["position"] for row in recorded] == list(range(1, len(recorded) + 1))
    assert {row["recorded_by"] for row in new} == {f"key:{keys.ids['appender']}"}

    # The chain verifies, and the read models equal a rebuild from the journal (on both ledgers).
    result = loaded_ledger.verify()
    assert result.ok, result.problem
    assert result.length == len(recorded)
    second_ledger.catch_up()
    incremental = loaded_ledger.views.dump()
    assert second_ledger.views.dump() == incremental
    loaded_ledger.rebuild()
    assert loaded_ledger.views.dump() == incremental
    assert loaded_ledger.list_events() == recorded
