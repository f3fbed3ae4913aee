"""Fixtures for the reports and web pages: a ledger with the seeds and a scripted year, an
auditor's key, a signed-in TestClient, and Chromium for the end-to-end tests."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.app import create_app, key_store_for
from ledger.application import Ledger
from tests.web.year import record_year

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


@pytest.fixture(scope="session")
def chromium() -> Path:
    """Debian's Chromium, installed with apt-get when missing (CI runs as root); fail, never skip."""
    # The suite runs in several worker processes (pytest-xdist): one installs, the others
    # wait for it on the lock instead of failing on apt's own.
    with open("/tmp/grant-ledger-chromium.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not CHROMIUM.exists() and shutil.which("apt-get"):
            subprocess.run("apt-get update && apt-get install -y chromium", shell=True, check=False,
                           stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, timeout=1800,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is required for the end-to-end tests and is missing at {CHROMIUM}; "
                    "`apt-get install -y chromium` did not install it")
    return CHROMIUM


@pytest.fixture
def year_ledger(loaded_ledger: Ledger) -> Ledger:
    """The seeds, the scripted year for Region Gotland, and a hostile recipient."""
    record_year(loaded_ledger, hostile=True)
    return loaded_ledger


@pytest.fixture
def auditor_token(year_ledger: Ledger) -> str:
    _key, token = key_store_for(year_ledger).create("Revisor Test", "auditor")
    return token


@pytest.fixture
def anonymous(year_ledger: Ledger) -> Iterator[TestClient]:
    with TestClient(create_app(year_ledger)) as client:
        yield client


@pytest.fixture
def client(anonymous: TestClient, auditor_token: str) -> TestClient:
    """Signed in as an auditor through the login form."""
    response = anonymous.post("/web/login", data={"api_key": auditor_token, "next": "/web/"},
                              follow_redirects=False)
    assert response.status_code == 303, response.text
    return anonymous
