"""What the read models hand a report: one recipient's documents, and decisions' terms on demand.

A recipient's statement reads that recipient's documents and the agreement's own (those
that name no recipient), never every recipient's; a report reads a decision's terms (tens
of kB) once, not with every query. Both backends.
"""

from __future__ import annotations

import uuid

from ledger.application import Ledger

AGREEMENT, PART = "god-och-nara-vard-2020", "nara-vard"
FAR_FUTURE, NOW = "2100-01-01", "2100-01-01T00:00:00.000000+00:00"


def _requisition(recipient: str) -> dict[str, object]:
    return {"kind": "requisition_received", "event_id": str(uuid.uuid4()), "effective_date": "2020-05-04",
            "agreement_id": AGREEMENT, "part_id": PART, "recipient_id": recipient, "amount": 100_00,
            "agreement_dnr": "S2020/00570/FS", "payment_decision_dnr": "S2020/01234/FS", "signature": "original"}


def test_a_recipients_documents_are_its_own_and_the_agreements(loaded_ledger: Ledger) -> None:
    skane, gotland = _requisition("region-skane"), _requisition("region-gotland")
    loaded_ledger.append([skane, gotland], "ekonomi")

    everyone = loaded_ledger.views.documents(FAR_FUTURE, NOW, agreement_id=AGREEMENT)
    mine = loaded_ledger.views.documents(FAR_FUTURE, NOW, agreement_id=AGREEMENT, for_recipient="region-skane")

    assert {d["recipient_id"] for d in mine} == {"region-skane", None}
    assert [d for d in everyone if d["recipient_id"] in ("region-skane", None)] == mine
    assert skane["event_id"] in {d["event_id"] for d in mine}
    assert gotland["event_id"] not in {d["event_id"] for d in mine}
    assert [d["position"] for d in mine] == sorted(d["position"] for d in mine)  # journal order


def test_a_recipient_without_documents_gets_only_the_agreements(loaded_ledger: Ledger) -> None:
    rows = loaded_ledger.views.documents(FAR_FUTURE, NOW, agreement_id=AGREEMENT, for_recipient="kommun-none")
    assert rows and {d["recipient_id"] for d in rows} == {None}
    assert "agreement_decided" in {d["kind"] for d in rows}


def test_terms_are_left_out_until_asked_for(loaded_ledger: Ledger) -> None:
    loaded_ledger.append([_requisition("region-skane")], "ekonomi")
    full = loaded_ledger.views.documents(FAR_FUTURE, NOW, agreement_id=AGREEMENT)
    light = loaded_ledger.views.documents(FAR_FUTURE, NOW, agreement_id=AGREEMENT, with_terms=False)
    decision = next(d for d in full if d["kind"] == "agreement_decided")
    without = next(d for d in light if d["kind"] == "agreement_decided")

    assert without["payload"] is None
    assert loaded_ledger.views.terms_payload(without["position"]) == decision["payload"]
    assert decision["payload"]["agreement"]["agreement_id"] == AGREEMENT
    # every other document keeps its payload
    others = [d for d in light if d["kind"] not in ("agreement_decided", "agreement_amended")]
    assert others and all(d["payload"] is not None for d in others)
    assert others == [d for d in full if d["kind"] not in ("agreement_decided", "agreement_amended")]
