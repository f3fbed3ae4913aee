"""Writes the worked example of docs/audit-guide.md from a real ledger run.

One region (Region Gotland) through the 2020 God och nära vård agreement, part Nära vård:
payment decision, requisition, payout, a late expense report, a reclaim decision, a
repayment, and a back-dated correction of the report. The figures in the guide are what
the ledger answers, at five dates, as of each date and as known then and as known now.
Run `python docs/generate_audit_example.py`; tests/test_docs.py checks the guide is current.
"""

from __future__ import annotations

import datetime as dt
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ledger.application import Ledger  # noqa: E402
from ledger.catalogue import catalogue  # noqa: E402
from ledger.config import database_config  # noqa: E402
from ledger.money import format_kronor  # noqa: E402
from projections import queries  # noqa: E402
from projections.state import Clock  # noqa: E402

AGREEMENT, PART, REGION = "god-och-nara-vard-2020", "nara-vard", "region-gotland"
START, END = "<!-- worked-example:start -->", "<!-- worked-example:end -->"
UTC = dt.timezone.utc


def _id(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


def allocation() -> int:
    part = catalogue()[AGREEMENT].part(PART)
    assert part is not None
    return sum(r.amount_kr * 100 for r in part.allocation_rows() if r.recipient_id == REGION)


def script() -> list[tuple[str, str, dict]]:
    """(recorded at, what happened, event) in the order the ledger learned of them."""
    alloc = allocation()
    costs, corrected_costs = alloc - 2_500_000_00, alloc - 3_100_000_00
    base = {"agreement_id": AGREEMENT, "part_id": PART}
    doc = {"signature": "original", "agreement_dnr": "S2020/00570/FS", "payment_decision_dnr": "S2020/01234/FS"}
    report = {**base, **doc, "kind": "expense_report_received", "recipient_id": REGION,
              "period_start": "2020-01-01", "period_end": "2020-12-31", "received_amount": alloc,
              "attestation": "alt1"}
    return [
        ("2020-02-21T09:00", "Payment decision (regeringsbeslut om utbetalning)",
         {**base, "kind": "payment_decision_made", "event_id": _id(1), "effective_date": "2020-02-20",
          "instrument": "regeringsbeslut", "dnr": "S2020/01234/FS"}),
        ("2020-04-16T09:00", "Requisition (rekvisition) of the whole allocation",
         {**base, **doc, "kind": "requisition_received", "event_id": _id(2), "effective_date": "2020-04-15",
          "recipient_id": REGION, "amount": alloc}),
        ("2020-05-05T09:00", "Payout (utbetalning) by Kammarkollegiet",
         {**base, "kind": "payout_made", "event_id": _id(3), "effective_date": "2020-05-04",
          "recipient_id": REGION, "amount": alloc}),
        ("2021-04-21T09:00", "Expense report received 20 April 2021, after the 31 March deadline",
         {**report, "event_id": _id(4), "effective_date": "2021-04-20", "total_costs": costs,
          "stated_unspent": alloc - costs}),
        ("2021-06-16T09:00", "Reclaim decided (återkrav) for the late report: the unspent funds",
         {**base, "kind": "reclaim_decided", "event_id": _id(5), "effective_date": "2021-06-15",
          "recipient_id": REGION, "amount": alloc - costs, "dnr": "S2021/05555",
          "reason": "report_late_or_missing"}),
        ("2021-07-02T09:00", "Repayment (återbetalning) against the reclaim decision",
         {**base, "kind": "repayment_received", "event_id": _id(6), "effective_date": "2021-07-01",
          "recipient_id": REGION, "amount": alloc - costs, "reclaim_event_id": _id(5)}),
        ("2021-09-01T09:00", "Back-dated correction: the report of 20 April overstated costs by 600 000 kr",
         {**report, "event_id": _id(7), "effective_date": "2021-04-20", "total_costs": corrected_costs,
          "stated_unspent": alloc - corrected_costs, "corrects": _id(4)}),
    ]


DATES = ["2020-12-31", "2021-03-31", "2021-04-30", "2021-06-30", "2021-12-31"]
NOW = "2022-06-30T12:00:00+00:00"


def figures(ledger: Ledger, as_of: str, known_at: str) -> dict[str, int]:
    clock = Clock.of(as_of, known_at)
    flt = queries.Filters(AGREEMENT, None, REGION)
    line = next(r for r in queries.balances(ledger.views, clock, flt, totals=False) if r["part_id"] == PART)
    due = next(iter(queries.due_back_list(ledger.views, clock, flt)), {"due": 0, "outstanding": 0})
    reclaim = next(iter(queries.reclaims(ledger.views, clock, flt)), {"decided": 0, "outstanding": 0,
                                                                      "reasons": []})
    return {"paid": line["paid"], "costs": line["costs"], "unspent": line["unspent"], "due": due["due"],
            "due_outstanding": due["outstanding"], "reclaim_decided": reclaim["decided"],
            "reclaim_outstanding": reclaim["outstanding"], "repaid": line["repaid"],
            "eligible": len(reclaim["reasons"])}


def render() -> str:
    with tempfile.TemporaryDirectory() as folder:
        ledger = Ledger(database_config(f"sqlite:///{folder}/example.sqlite"))
        ledger.clock = lambda: dt.datetime(2020, 2, 3, tzinfo=UTC)
        ledger.load_agreements([AGREEMENT])
        lines = ["| recorded at (UTC) | effective date | what happened |", "|---|---|---|"]
        for recorded, what, event in script():
            moment = dt.datetime.fromisoformat(recorded).replace(tzinfo=UTC)
            ledger.clock = lambda moment=moment: moment
            ledger.append([event], "key:kammarkollegiet")
            lines.append(f"| {recorded} | {event['effective_date']} | {what} |")
        table = ["| as of | as known | paid | costs | unspent | due back | outstanding | reclaim decided |"
                 " reclaim outstanding | repaid |", "|---|---|---|---|---|---|---|---|---|---|"]
        for day in DATES:
            for label, known in ((f"then ({day})", day), ("now", NOW)):
                f = figures(ledger, day, known)
                table.append(f"| {day} | {label} | " + " | ".join(format_kronor(f[k]) for k in (
                    "paid", "costs", "unspent", "due", "due_outstanding", "reclaim_decided",
                    "reclaim_outstanding", "repaid")) + " |")
        ledger.close()
    alloc = format_kronor(allocation())
    return "\n".join([
        START,
        f"Region Gotland's allocation in part Nära vård is {alloc} (Bilaga 1). The ledger learned of "
        "these events in this order:", "", *lines, "",
        "Balances at five dates, each **as of** that date and **as known** then (known_at = the end of that "
        "day) and now. Only the rows known after 1 September 2021 see the corrected costs: the correction "
        "is back-dated to 20 April 2021, so it changes every as_of view from that date on, but no view "
        "known before it was recorded.", "", *table, "",
        "Reading the table: on 31 March 2021 nothing is due back yet because no expense report is in; the "
        "report was late (20 April), which makes Gotland eligible for a reclaim — not a debt. The debt "
        "appears only with the reclaim decision of 15 June. The repayment of 1 July settles the decision and "
        "also counts against the due-back amount, so the same money is never claimed twice. The correction "
        "raises the unspent funds by 600 000 kr from 20 April 2021 on: the views of 30 April and 30 June "
        "as known then still show 2 500 000 kr, as known now 3 100 000 kr; on 31 December 2021, after the "
        "correction was recorded, 600 000 kr is outstanding. Before any report, `unspent` is simply what "
        "was received and not yet reported as spent.",
        END,
    ])


def update(path: Path) -> None:
    text = path.read_text(encoding="utf-8") if path.exists() else "# Audit guide\n"
    block = render()
    if START in text:
        head, rest = text.split(START, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip() + "\n\n## Worked example: one region through the 2020 agreement year\n\n" + block + "\n"
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    update(Path(__file__).parent / "audit-guide.md")
