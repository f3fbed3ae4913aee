"""End to end in a real headless Chromium (Debian's, driven by Playwright): sign in, open a
recipient, move as_of across 31 March and watch the due-back figure change, download the
XLSX and open it, visit every page. Screenshots of each page go to
test-artifacts/screenshots/ (gitignored)."""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import openpyxl
import pytest
import uvicorn
from playwright.sync_api import Browser, Page, expect, sync_playwright

from api.app import create_app, key_store_for
from ledger.application import Ledger
from ledger.config import database_config
from tests.web.conftest import ARTIFACTS
from tests.web.year import AGREEMENT, REGION, record_year

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = ARTIFACTS / "screenshots"


@dataclass(frozen=True)
class Site:
    url: str
    token: str


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """The app under uvicorn on a free loopback port, on a SQLite ledger with the seeds and the year."""
    ledger = Ledger(database_config(f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'ledger.sqlite'}"))
    ledger.load_agreements()
    record_year(ledger)
    _key, token = key_store_for(ledger).create("Revisor Testsson", "auditor")
    server = uvicorn.Server(uvicorn.Config(create_app(ledger), host="127.0.0.1", port=free_port(),
                                           log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    yield Site(f"http://127.0.0.1:{server.config.port}", token)
    server.should_exit = True
    thread.join(timeout=15)
    ledger.close()


@pytest.fixture(scope="module")
def browser(chromium: Path) -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="sv-SE",
                                  timezone_id="Europe/Stockholm", accept_downloads=True)
    yield context.new_page()
    context.close()


def shot(page: Page, name: str, full_page: bool = True) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    target = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(target), full_page=full_page)
    return target


def sign_in_with_the_keyboard(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/web/")
    expect(page).to_have_url(f"{site.url}/web/login?next=%2Fweb%2F")
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    shot(page, "01-login")
    page.get_by_label("API-nyckel").focus()
    page.keyboard.type(site.token)
    page.keyboard.press("Enter")
    expect(page).to_have_url(f"{site.url}/web/")


def due_back_cells(page: Page) -> list[str]:
    row = page.locator("#section-due_back tbody tr").first
    return [c.strip() for c in row.locator("td").all_inner_texts()]


def move_as_of(page: Page, day: str) -> None:
    page.get_by_label("Per dag (as_of)").fill(day)
    page.locator("form.clock").get_by_role("button", name="Visa").click()
    expect(page).to_have_url(re.compile(rf"\?as_of={day}(&|$)"))


def test_an_auditor_travels_in_time_and_downloads_the_report(page: Page, site: Site):
    sign_in_with_the_keyboard(page, site)
    expect(page.get_by_role("table", name="Överenskommelser")).to_be_visible()
    shot(page, "02-overview")

    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Mottagare").click()
    expect(page.get_by_role("heading", name="Mottagare och saldon")).to_be_visible()
    shot(page, "03-recipients")
    page.get_by_role("link", name="Region Gotland").first.click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Region Gotland")
    expect(page.locator("#historic-banner")).to_have_count(0)
    expect(page.locator("figure.chart svg polyline")).to_have_count(4)

    move_as_of(page, "2021-03-30")
    expect(page.locator("#historic-banner")).to_contain_text("2021-03-30")
    before = due_back_cells(page)
    shot(page, "04-recipient-2021-03-30")
    move_as_of(page, "2021-04-01")
    after = due_back_cells(page)
    shot(page, "05-recipient-2021-04-01")
    assert before[-1] == "0 kr" and after[-1] == "500 000 kr"  # overdue, once 31 March has passed
    assert before[-3] == after[-3] == "500 000 kr"  # outstanding
    page.locator("figure.chart").scroll_into_view_if_needed()
    shot(page, "06-recipient-chart", full_page=False)

    with page.expect_download() as download:
        page.locator('a.download[data-format="xlsx"]').first.click()
    saved = SCREENSHOTS.parent / download.value.suggested_filename
    download.value.save_as(saved)
    assert download.value.suggested_filename == f"recipient-statement_{REGION}_2021-04-01.xlsx"
    book = openpyxl.load_workbook(saved)
    sheet = book["Medel att återbetala"]
    assert sheet.freeze_panes == "A2"
    header = [c.value for c in sheet[1]]
    values = dict(zip(header, (c.value for c in sheet[2]), strict=True))
    assert (values["Utestående"], values["Försenat"]) == (500_000, 500_000)


def test_every_page_opens_with_the_view_kept(page: Page, site: Site):
    sign_in_with_the_keyboard(page, site)
    page.goto(f"{site.url}/web/agreements/{AGREEMENT}?as_of=2021-10-01")
    expect(page.get_by_role("heading", name="Delar")).to_be_visible()
    expect(page.locator("#historic-banner")).to_be_visible()
    shot(page, "07-agreement", full_page=False)
    for index, (label, heading) in enumerate([
        ("Återbetalning", "Medel att återbetala senast 31 mars"),
        ("Återkrav", "Återkrav"),
        ("Förfallna rättigheter", "Förfallna och förverkade rättigheter"),
        ("Åtaganden", "Åtagandekalender"),
        ("Iakttagelser", "Iakttagelser"),
    ], start=8):
        page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name=label).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        assert "as_of=2021-10-01" in page.url  # the view travels with the link
        expect(page.locator("#historic-banner")).to_be_visible()
        shot(page, f"{index:02d}-{page.url.split('/web/')[1].split('?')[0]}", full_page=False)

    page.get_by_label("Mottagare", exact=True).select_option(REGION)
    page.locator("form.filters").get_by_role("button", name="Filtrera").click()
    expect(page).to_have_url(re.compile(f"recipient_id={REGION}"))
    page.get_by_role("link", name="Regel").click()  # sort by rule
    expect(page.locator("th[aria-sort=ascending]")).to_have_text("Regel ▲")
    shot(page, "13-findings-filtered-sorted", full_page=False)

    page.get_by_role("button", name="Logga ut").click()
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
    page.goto(f"{site.url}/web/")
    expect(page.get_by_role("heading", name="Logga in")).to_be_visible()
