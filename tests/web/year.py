"""A scripted grant year for one region in god-och-nara-vard-2020, and the figures it gives.

Region Gotland requisitions and is paid its nära vård money (16 961 298 kr), sends its
interim report late, requisitions its child-health money after the 1 December deadline
(the right lapsed), reports costs of 16 461 298 kr on 10 March 2021 (500 000 kr unspent,
due back by 31 March 2021), repays 300 000 kr late on 20 April, and the government
decides on 1 September 2021 to reclaim the 200 000 kr still outstanding.

``hostile`` adds a recipient whose name and a reference carry HTML and spreadsheet
formulas, to check every rendering escapes or neutralises them.
"""

from __future__ import annotations

import uuid
from typing import Any

from ledger.application import Ledger

AGREEMENT = "god-och-nara-vard-2020"
REGION = "region-gotland"
PRINCIPAL = "kammarkollegiet-ekonomi"
AGREEMENT_DNR = "S2019/05287/FS"
PAYMENT_DNR = "S2020/01234/FS"
RECLAIM_DNR = "S2021/04321/FS"
PAYOUT_REFERENCE = "KK-UTB-2020-0401"

NARA_VARD_KR = 16_961_298  # Bilaga 1: 8 292 832 + 8 668 466 kr
BARNHALSOVARD_KR = 417_184
COSTS_KR = 16_461_298
UNSPENT_KR = 500_000
REPAID_KR = 300_000
RECLAIM_KR = 200_000

HOSTILE_ID = "kommun-test-injektion"
HOSTILE_NAME = '=HYPERLINK("http://evil.example/","<script>alert(1)</script>")'
HOSTILE_REFERENCE = "@SUM(1+1)*cmd"
HOSTILE_NOTE_REFERENCE = '<img src=x onerror="alert(2)">'


def _event(kind: str, date: str, **fields: Any) -> dict[str, Any]:
    return {"kind": kind, "event_id": str(uuid.uuid4()), "effective_date": date, **fields}


def _document() -> dict[str, Any]:
    return {"agreement_dnr": AGREEMENT_DNR, "payment_decision_dnr": PAYMENT_DNR, "signature": "original"}


def year_events() -> list[dict[str, Any]]:
    a, r = {"agreement_id": AGREEMENT}, {"agreement_id": AGREEMENT, "recipient_id": REGION}
    return [
        _event("payment_decision_made", "2020-02-20", **a, instrument="regeringsbeslut", dnr=PAYMENT_DNR),
        _event("requisition_received", "2020-03-16", **r, part_id="nara-vard", amount=NARA_VARD_KR * 100,
               **_document()),
        _event("payout_made", "2020-04-01", **r, part_id="nara-vard", amount=NARA_VARD_KR * 100,
               reference=PAYOUT_REFERENCE),
        _event("report_received", "2020-10-15", **r, report_kind="delrapport", received_by="socialstyrelsen"),
        _event("requisition_received", "2020-12-10", **r, part_id="barnhalsovard", amount=BARNHALSOVARD_KR * 100,
               **_document()),
        _event("expense_report_received", "2021-03-10", **r, part_id="nara-vard", period_start="2020-01-01",
               period_end="2020-12-31", received_amount=NARA_VARD_KR * 100,
               cost_items=[{"label": "Kostnader enligt huvudbok", "amount": COSTS_KR * 100}],
               total_costs=COSTS_KR * 100, stated_unspent=UNSPENT_KR * 100, attestation="alt1", **_document()),
        _event("repayment_received", "2021-04-20", **r, part_id="nara-vard", amount=REPAID_KR * 100),
        _event("reclaim_decided", "2021-09-01", **r, part_id="nara-vard", amount=RECLAIM_KR * 100,
               dnr=RECLAIM_DNR, reason="unspent_not_repaid"),
    ]


def hostile_events() -> list[dict[str, Any]]:
    return [
        _event("recipient_registered", "2020-01-01", recipient_id=HOSTILE_ID, recipient_kind="municipality",
               name=HOSTILE_NAME),
        _event("payout_made", "2020-05-04", agreement_id=AGREEMENT, recipient_id=HOSTILE_ID, part_id="nara-vard",
               amount=1_000 * 100, reference=HOSTILE_REFERENCE),
        _event("repayment_received", "2020-06-01", agreement_id=AGREEMENT, recipient_id=HOSTILE_ID,
               part_id="nara-vard", amount=100 * 100, reference=HOSTILE_NOTE_REFERENCE),
    ]


def record_year(ledger: Ledger, hostile: bool = False) -> None:
    """Record the scripted year (and the hostile recipient) on a ledger with the catalogue loaded."""
    ledger.append(year_events(), PRINCIPAL)
    if hostile:
        ledger.append(hostile_events(), PRINCIPAL)
