"""Keeping the read models current when events are appended by other processes.

Every ``Ledger.append`` already brings its own process's read models up to date. When
several processes append (API workers on several machines), ``ledger projections run``
keeps them current in the background: on PostgreSQL with the eventsourcing library's
``ProjectionRunner`` (a LISTEN/NOTIFY subscription, resuming from each view's tracking
position); on SQLite, which offers no subscription, by polling ``catch_up``.
"""

from __future__ import annotations

import threading
from contextlib import ExitStack
from typing import Any

from eventsourcing.application import Application
from eventsourcing.projection import ProjectionRunner

from ledger.config import DatabaseConfig
from ledger.index import JournalIndexProjection, PostgresJournalIndex
from projections.views import LedgerViewsProjection, PostgresLedgerViews


class JournalReader(Application[Any]):
    """Reads the ledger's notifications (same name, same tables); records nothing."""

    name = "ledger"


def postgres_runners(config: DatabaseConfig) -> list[ProjectionRunner[Any, Any]]:
    """One library ProjectionRunner per read model."""
    return [
        ProjectionRunner(application_class=JournalReader, projection_class=JournalIndexProjection,
                         view_class=PostgresJournalIndex, env=dict(config.env)),
        ProjectionRunner(application_class=JournalReader, projection_class=LedgerViewsProjection,
                         view_class=PostgresLedgerViews, env=dict(config.env)),
    ]


def run_projections(config: DatabaseConfig, stop: threading.Event, poll_seconds: float = 1.0) -> None:
    """Run until ``stop`` is set (or a runner fails, which re-raises its error)."""
    if config.backend == "postgres":
        with ExitStack() as stack:
            runners = [stack.enter_context(r) for r in postgres_runners(config)]
            while not stop.is_set():
                for runner in runners:
                    runner.run_forever(timeout=0.01)  # re-raises a failed runner's error
                stop.wait(poll_seconds)
        return
    from ledger.application import Ledger

    ledger = Ledger(config)
    try:
        while not stop.is_set():
            ledger.catch_up()
            stop.wait(poll_seconds)
    finally:
        ledger.close()
