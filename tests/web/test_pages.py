"""The auditors' web pages through a TestClient: sign-in, every page, the time pickers and
the banner, filters, sorting, escaping and the report links."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.app import key_store_for
from api.web import COOKIE, View, sort_rows
from ledger.application import Ledger
from tests.web.year import AGREEMENT, HOSTILE_ID, REGION

PAGES = [
    "/web/",
    "/web/recipients",
    f"/web/recipients/{REGION}",
    f"/web/agreements/{AGREEMENT}",
    "/web/due-back",
    "/web/reclaims",
    "/web/lapsed",
    "/web/obligations",
    "/web/findings",
]
BANNER = 'id="historic-banner"'


def rows(page: str, table_id: str) -> list[str]:
    """The body rows of one table, as HTML."""
    table = page.split(f'<table id="{table_id}">', 1)[1].split("</table>", 1)[0]
    body = table.split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    return re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)


def cells(row: str) -> list[str]:
    return [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, flags=re.S)]


# --- signing in ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_every_page_needs_a_signed_in_auditor(anonymous: TestClient, path: str):
    response = anonymous.get(path + "?as_of=2021-04-01", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/web/login?next=")
    assert "2021-04-01" in response.headers["location"]


def test_login_page_is_an_accessible_form(anonymous: TestClient):
    page = anonymous.get("/web/login").text
    assert '<label for="api_key">' in page and 'type="password"' in page and 'method="post"' in page
    assert "<script" not in page


def test_a_wrong_key_is_rejected(anonymous: TestClient):
    response = anonymous.post("/web/login", data={"api_key": "lk_abc.wrong", "next": "/web/"}, follow_redirects=False)
    assert response.status_code == 401 and "Nyckeln är fel" in response.text and 'role="alert"' in response.text
    assert COOKIE not in response.headers.get("set-cookie", "")
    assert anonymous.get("/web/", follow_redirects=False).status_code == 303


def test_an_appender_key_may_not_use_the_pages(anonymous: TestClient, year_ledger: Ledger):
    _key, token = key_store_for(year_ledger).create("ekonomisystem", "appender")
    response = anonymous.post("/web/login", data={"api_key": token}, follow_redirects=False)
    assert response.status_code == 403 and "auditor" in response.text
    assert COOKIE not in response.headers.get("set-cookie", "")


def test_signing_in_sets_an_opaque_strict_httponly_cookie(anonymous: TestClient, auditor_token: str):
    response = anonymous.post("/web/login", data={"api_key": auditor_token, "next": "/web/due-back?as_of=2021-04-01"},
                              follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/web/due-back?as_of=2021-04-01"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert auditor_token not in cookie and auditor_token.split(".")[1] not in cookie
    assert auditor_token not in response.headers["location"]


def test_next_must_stay_on_the_site(anonymous: TestClient, auditor_token: str):
    for target in ("https://evil.example/", "//evil.example/web/", "/v1/events"):
        response = anonymous.post("/web/login", data={"api_key": auditor_token, "next": target},
                                  follow_redirects=False)
        assert response.headers["location"] == "/web/"


def test_signing_out_ends_the_session(client: TestClient):
    assert client.get("/web/").status_code == 200
    response = client.post("/web/logout", content=b"", follow_redirects=False,
                           headers={"Content-Type": "application/x-www-form-urlencoded"})  # as a browser sends it
    assert response.status_code == 303 and response.headers["location"] == "/web/login"
    assert client.get("/web/", follow_redirects=False).status_code == 303


def test_a_revoked_key_ends_its_sessions(client: TestClient, year_ledger: Ledger):
    store = key_store_for(year_ledger)
    key = next(k for k in store.list() if k.name == "Revisor Test")
    assert client.get("/web/").status_code == 200
    assert store.revoke(key.key_id)
    assert client.get("/web/", follow_redirects=False).status_code == 303


# --- every page ------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", PAGES)
def test_every_page_renders_with_the_banner_when_as_of_is_set(client: TestClient, path: str):
    now = client.get(path)
    assert now.status_code == 200 and BANNER not in now.text
    then = client.get(path, params={"as_of": "2021-04-01"})
    assert then.status_code == 200 and BANNER in then.text
    assert "Historisk vy" in then.text and "2021-04-01" in then.text
    assert '<input type="date" id="as_of" name="as_of" value="2021-04-01"' in then.text
    assert 'type="datetime-local" id="known_at"' in then.text
    assert "<script" not in then.text and "default-src 'none'" in then.headers["content-security-policy"]
    assert re.search(r'href="/v1/reports/[a-z-]+\?format=xlsx&amp;lang=sv&amp;as_of=2021-04-01', then.text)
    assert "<h1>" in then.text and "<caption>" in then.text and "<main" in then.text


def test_known_at_alone_shows_the_banner_and_keeps_the_picker(client: TestClient):
    page = client.get("/web/due-back", params={"known_at": "2020-01-01T12:00"}).text
    assert BANNER in page and 'value="2020-01-01T12:00:00"' in page
    assert "known_at=2020-01-01T12%3A00" in page  # the report links carry it


def test_english_pages(client: TestClient):
    page = client.get("/web/due-back", params={"lang": "en", "as_of": "2021-04-01"}).text
    assert '<html lang="en">' in page and "Historical view" in page and "Due back (att återbetala)" in page
    assert "lang=en" in page


def test_a_bad_date_is_an_error_page(client: TestClient):
    response = client.get("/web/due-back", params={"as_of": "31 mars"})
    assert response.status_code == 422 and "as_of" in response.text and "<h1>" in response.text


def test_an_unknown_recipient_is_not_found(client: TestClient):
    assert client.get("/web/recipients/region-atlantis").status_code == 404


def test_overview_totals_per_agreement(client: TestClient):
    page = client.get("/web/", params={"as_of": "2021-10-01"}).text
    row = next(r for r in rows(page, "section-agreements") if AGREEMENT in r)
    values = cells(row)
    assert "16 962 298 kr" in values  # paid: Gotland's 16 961 298 kr and the test recipient's 1 000 kr
    assert "500 000 kr" in values and "200 000 kr" in values
    assert f'href="/web/agreements/{AGREEMENT}?as_of=2021-10-01"' in row


def test_agreement_page_has_parts_allocation_reconciliation_and_findings(client: TestClient):
    page = client.get(f"/web/agreements/{AGREEMENT}").text
    for heading in ("Delar", "Summor per del", "Saldon", "Avvikelser i avstämningen", "Iakttagelser"):
        assert f">{heading}</h2>" in page
    assert f'href="/web/recipients/{REGION}"' in page


def test_recipient_page_has_chart_balances_and_timeline(client: TestClient):
    page = client.get(f"/web/recipients/{REGION}", params={"as_of": "2021-10-01"}).text
    assert '<svg xmlns="http://www.w3.org/2000/svg"' in page and 'role="img"' in page
    assert '<title id="chart-title">' in page and "<polyline" in page
    timeline = rows(page, "section-events")
    payout = next(r for r in timeline if "Utbetalning" in r)
    values = cells(payout)
    assert "2020-04-01" in values and "kammarkollegiet-ekonomi" in values and "16 961 298 kr" in values
    assert any(re.fullmatch(r"[0-9a-f]{64}", v) for v in values)  # its hash
    assert any(re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+\+00:00", v) for v in values)  # recorded


def test_due_back_moves_across_31_march(client: TestClient):
    def gotland(as_of: str) -> list[str]:
        page = client.get("/web/due-back", params={"as_of": as_of}).text
        return cells(next(r for r in rows(page, "section-due_back") if REGION in r))

    before, after = gotland("2021-03-30"), gotland("2021-04-01")
    assert before[-1] == "0 kr" and after[-1] == "500 000 kr"  # overdue
    assert before[-3] == after[-3] == "500 000 kr"  # outstanding
    assert before[-2] == "2021-03-31"  # the deadline


# --- filters and sorting -------------------------------------------------------------------------


def test_findings_filter_by_rule_and_recipient(client: TestClient):
    page = client.get("/web/findings", params={"rule": "requisition_late", "as_of": "2021-10-01"}).text
    found = rows(page, "section-findings")
    assert found and all("Rekvisition för sent" in r for r in found)
    page = client.get("/web/findings", params={"recipient_id": REGION, "as_of": "2021-10-01"}).text
    found = rows(page, "section-findings")
    assert found and all(REGION in r for r in found)
    assert f'<option value="{REGION}" selected>' in page


def test_obligations_filter_by_state_and_part(client: TestClient):
    page = client.get("/web/obligations", params={"recipient_id": REGION, "state": "met_late",
                                                  "as_of": "2021-10-01"}).text
    found = [cells(r) for r in rows(page, "section-obligations")]
    assert found and all("Uppfyllt för sent" in r for r in found)
    assert any("Delrapport" in r for r in found) and any("barnhalsovard" in r for r in found)
    page = client.get("/web/obligations", params={"recipient_id": REGION, "part_id": "barnhalsovard"}).text
    parts = [cells(r)[2] for r in rows(page, "section-obligations")]  # a part's own, or agreement-wide ones
    assert "barnhalsovard" in parts and set(parts) <= {"barnhalsovard", ""}


def test_lists_sort_by_a_column_both_ways(client: TestClient):
    def order(desc: str | None) -> list[str]:
        params = {"sort": "repaid", "as_of": "2021-10-01", **({"desc": desc} if desc else {})}
        page = client.get("/web/due-back", params=params).text
        assert 'aria-sort="' + ("descending" if desc else "ascending") + '"' in page
        return [cells(r)[1] for r in rows(page, "section-due_back")]

    ascending, descending = order(None), order("1")
    assert ascending == [HOSTILE_ID, REGION] and descending == [REGION, HOSTILE_ID]


def test_sort_links_toggle_and_keep_the_view(client: TestClient):
    page = client.get("/web/reclaims", params={"as_of": "2021-10-01", "sort": "decided"}).text
    assert 'href="/web/reclaims?as_of=2021-10-01&amp;sort=decided&amp;desc=1"' in page
    assert 'href="/web/reclaims?as_of=2021-10-01&amp;sort=outstanding"' in page


def test_sort_rows_puts_empty_cells_last_and_numbers_in_order():
    data = [{"a": 10}, {"a": None}, {"a": 9}, {"a": 100}]
    assert [r["a"] for r in sort_rows(data, "a", False)] == [9, 10, 100, None]
    assert [r["a"] for r in sort_rows(data, "a", True)] == [100, 10, 9, None]


def test_view_urls_keep_clocks_and_drop_cleared_params():
    view = View("/web/findings", {"as_of": "2021-04-01", "rule": "x", "lang": "en"})
    assert view.url(rule=None) == "/web/findings?as_of=2021-04-01&lang=en"
    assert view.link("/web/") == "/web/?as_of=2021-04-01&lang=en"
    assert view.report_url("findings", "pdf") == "/v1/reports/findings?format=pdf&lang=en&as_of=2021-04-01"


# --- escaping and the report links --------------------------------------------------------------


def test_pages_escape_hostile_names_and_references(client: TestClient):
    for path in (f"/web/recipients/{HOSTILE_ID}", "/web/recipients", "/web/findings", f"/web/agreements/{AGREEMENT}"):
        page = client.get(path).text
        assert "<script>" not in page and "<img" not in page, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page, path


def test_report_links_work_with_the_session(client: TestClient):
    page = client.get(f"/web/recipients/{REGION}", params={"as_of": "2021-04-01"}).text
    link = re.search(r'href="(/v1/reports/recipient-statement\?format=xlsx[^"]*)"', page).group(1)
    response = client.get(link.replace("&amp;", "&"))
    assert response.status_code == 200 and response.content[:2] == b"PK"
    assert "recipient-statement_region-gotland_2021-04-01.xlsx" in response.headers["content-disposition"]
