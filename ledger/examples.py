"""One valid example of every event kind, as a finance system would send it.

Used by docs/events.md and the API's OpenAPI examples; tests check each one validates
and is accepted by a ledger holding the seed agreements.
"""

from __future__ import annotations

from typing import Any

A2020 = "god-och-nara-vard-2020"

EXAMPLES: dict[str, dict[str, Any]] = {
    "agreement_approved": {
        "kind": "agreement_approved", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e01",
        "effective_date": "2020-02-13", "agreement_id": A2020, "body": "government",
        "dnr": "S2020/01088/FS", "reference": "RK-2020-0113",
    },
    "payment_decision_made": {
        "kind": "payment_decision_made", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e02",
        "effective_date": "2020-02-20", "agreement_id": A2020, "part_id": "nara-vard",
        "instrument": "regeringsbeslut", "dnr": "S2020/01234/FS", "amount": 293500000000,
    },
    "allocation_decided": {
        "kind": "allocation_decided", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e03",
        "effective_date": "2021-02-01", "agreement_id": "halso-och-sjukvard-folkhalsa-2021", "part_id": "kap6-psv",
        "recipient_id": "region-skane", "amount": 2850000000, "route": "direct",
        "table_id": "kap6-psv-befolkning", "basis": "Befolkningsunderlag 2020-11-01",
    },
    "requisition_received": {
        "kind": "requisition_received", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e04",
        "effective_date": "2020-04-15", "agreement_id": A2020, "part_id": "nara-vard",
        "recipient_id": "region-skane", "amount": 19143474300, "agreement_dnr": "S2020/00570/FS",
        "payment_decision_dnr": "S2020/01234/FS", "signature": "original", "signed_by": "Regiondirektör",
        "payment_details_reference": "BG 5050-1055", "reference": "KK-REK-2020-0042",
    },
    "payout_made": {
        "kind": "payout_made", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e05",
        "effective_date": "2020-05-04", "agreement_id": A2020, "part_id": "nara-vard",
        "recipient_id": "region-skane", "amount": 19143474300, "route": "direct",
        "requisition_event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e04", "payment_reference": "KK-UTB-88123",
    },
    "onward_transfer_made": {
        "kind": "onward_transfer_made", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e06",
        "effective_date": "2020-06-10", "agreement_id": A2020, "part_id": "medarbetare-kommuner",
        "recipient_id": "rss-skane", "amount": 150000000, "to_name": "Malmö stad",
    },
    "expense_report_received": {
        "kind": "expense_report_received", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e07",
        "effective_date": "2021-03-29", "agreement_id": A2020, "part_id": "nara-vard",
        "recipient_id": "region-skane", "period_start": "2020-01-01", "period_end": "2020-12-31",
        "received_amount": 19143474300,
        "cost_items": [{"label": "Personal", "amount": 15000000000}, {"label": "IT-stöd", "amount": 3000000000}],
        "total_costs": 18000000000, "stated_unspent": 1143474300, "attestation": "alt1",
        "signature": "original", "agreement_dnr": "S2020/00570/FS", "payment_decision_dnr": "S2020/01234/FS",
    },
    "report_received": {
        "kind": "report_received", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e08",
        "effective_date": "2021-03-30", "agreement_id": "okad-tillganglighet-2021", "report_kind": "handlingsplan",
        "recipient_id": "region-skane", "received_by": "regeringskansliet",
    },
    "repayment_received": {
        "kind": "repayment_received", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e09",
        "effective_date": "2021-03-31", "agreement_id": A2020, "part_id": "nara-vard",
        "recipient_id": "region-skane", "amount": 1143474300, "reference": "KK-INB-2021-311",
    },
    "reclaim_decided": {
        "kind": "reclaim_decided", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e10",
        "effective_date": "2021-09-15", "agreement_id": A2020, "part_id": "barnhalsovard",
        "recipient_id": "region-gotland", "amount": 41718400, "dnr": "S2021/06001",
        "reason": "report_late_or_missing", "reason_text": "Ekonomisk redovisning har inte inkommit",
    },
    "reclaim_settled": {
        "kind": "reclaim_settled", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e11",
        "effective_date": "2021-10-30", "agreement_id": A2020, "part_id": "barnhalsovard",
        "recipient_id": "region-gotland", "amount": 41718400,
        "reclaim_event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e10", "how": "paid",
    },
    "deadline_amended": {
        "kind": "deadline_amended", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e12",
        "effective_date": "2020-11-20", "agreement_id": A2020, "part_id": "nara-vard",
        "obligation": "requisition", "new_deadline": "2020-12-15", "dnr": "S2020/09001",
        "reason": "Förlängd tid för rekvisition på grund av covid-19",
    },
    "event_retracted": {
        "kind": "event_retracted", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e13",
        "effective_date": "2021-04-02", "agreement_id": A2020,
        "retracted_event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e09",
        "reason": "Inbetalningen bokades på fel mottagare",
    },
    "recipient_registered": {
        "kind": "recipient_registered", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e14",
        "effective_date": "1971-01-01", "recipient_id": "kommun-malmo", "recipient_kind": "municipality",
        "name": "Malmö stad", "county": "Skåne län", "org_number_note": "to be supplied by the finance system",
    },
    "recipient_renamed": {
        "kind": "recipient_renamed", "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e15",
        "effective_date": "2019-11-27", "recipient_id": "skr", "name": "Sveriges Kommuner och Regioner",
        "short_name": "SKR",
    },
}

#: Two kinds carry a whole agreement; their example is the catalogue itself.
CATALOGUE_KINDS = ("agreement_decided", "agreement_amended")


def agreement_example(kind: str = "agreement_decided") -> dict[str, Any]:
    """An agreement event built from the smallest catalogued agreement."""
    from ledger.catalogue import catalogue

    agreement = catalogue()["okad-tillganglighet-2021"].model_dump(mode="json")
    example: dict[str, Any] = {
        "kind": kind, "event_id": "6f1c3c1e-4b7a-4c55-9d1e-0a1b2c3d4e16", "effective_date": "2020-12-18",
        "agreement": agreement,
    }
    if kind == "agreement_amended":
        example["reason"] = "Tilläggsöverenskommelse om prestationskrav i block 1"
    return example
