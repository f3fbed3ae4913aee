"""Fixtures for the reliability tests (see harness.py for the machinery)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.reliability.harness import Server, make_keys


@pytest.fixture
def tokens(database_url: str) -> dict[str, str]:
    """The seed agreements loaded and a token for every kind of caller."""
    return make_keys(database_url)


@pytest.fixture
def server(database_url: str, tokens: dict[str, str], tmp_path: Path) -> Iterator[Server]:
    """A real ``ledger serve`` on a free loopback port (not started: the test starts it)."""
    serve = Server(database_url, tmp_path, load=False)
    yield serve
    serve.kill()
