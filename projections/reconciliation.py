"""Reconciliation (avstämning) of an agreement against its printed totals.

Per agreement and part: the stated totals, the sum of the printed rows, the money a
blank table leaves unallocated, and every difference. Differences are reported as
findings, each marked known (listed in the catalogue with its source line) or
unexplained. Nothing is patched: a printed row that is off by a krona stays as printed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from ledger.money import kronor
from ledger.terms import Agreement, AllocationTable, KnownDiscrepancy, Part


@dataclass
class TableCheck:
    table_id: str
    title: str
    role: str
    source: str
    stated_total: int | None  # öre
    rows_total: int
    rows: int
    blank_amount: int
    difference: int | None  # rows + blank − stated, öre; None when nothing is stated


@dataclass
class PartCheck:
    part_id: str
    name: str
    stated_total: int
    allocated_rows: int  # allocation-table rows printed in the document
    unallocated_blank: int  # money in blank tables, before any allocation event
    allocated_later: int  # allocation_decided events
    difference: int  # allocated + blank − stated
    tables: list[TableCheck] = field(default_factory=list)


@dataclass
class ReconciliationFinding:
    kind: str  # table_total | part_total | agreement_total | known_discrepancy
    known: bool
    description: str
    difference: int | None
    source: str
    part_id: str | None = None
    table_id: str | None = None


@dataclass
class Reconciliation:
    agreement_id: str
    title: str
    stated_state: int
    stated_co_financing: int
    stated_total: int
    parts_total: int
    difference: int
    parts: list[PartCheck]
    findings: list[ReconciliationFinding]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _table_check(table: AllocationTable) -> TableCheck:
    rows_total = kronor(table.rows_total_kr())
    blank = kronor(table.blank_amount_kr or 0) if table.blank else 0
    stated = kronor(table.stated_total_kr) if table.stated_total_kr is not None else None
    difference = None if stated is None else rows_total + blank - stated
    return TableCheck(
        table.table_id, table.title, table.role, table.source, stated, rows_total, len(table.rows), blank, difference
    )


def _part_check(part: Part, allocated_later: int) -> PartCheck:
    tables = [_table_check(t) for t in part.tables]
    allocation = [t for t in tables if t.role == "allocation"]
    rows = sum(t.rows_total for t in allocation)
    blank = sum(t.blank_amount for t in allocation)
    stated = kronor(part.stated_total_kr)
    return PartCheck(part.part_id, part.name, stated, rows, blank, allocated_later, rows + blank - stated, tables)


def _is_known(known: list[KnownDiscrepancy], difference: int, part_id: str | None, table_id: str | None) -> bool:
    for item in known:
        if item.difference_kr is None or kronor(abs(item.difference_kr)) != abs(difference):
            continue
        if table_id and item.table_id == table_id:
            return True
        if not table_id and part_id and item.part_id == part_id and item.table_id is None:
            return True
        if not table_id and not part_id and item.part_id is None and item.table_id is None:
            return True
    return False


def reconcile(agreement: Agreement, allocated_later: dict[str, int] | None = None) -> Reconciliation:
    """Check every table, part and the agreement's state total; ``allocated_later`` is
    öre per part from allocation events."""
    later = allocated_later or {}
    parts = [_part_check(p, later.get(p.part_id, 0)) for p in agreement.parts]
    known = agreement.known_discrepancies
    findings: list[ReconciliationFinding] = []
    for part, check in zip(agreement.parts, parts, strict=True):
        for table in check.tables:
            if table.difference:
                findings.append(
                    ReconciliationFinding(
                        "table_total",
                        _is_known(known, table.difference, part.part_id, table.table_id),
                        f"{table.title}: rows sum to {table.rows_total + table.blank_amount} öre, "
                        f"printed total {table.stated_total} öre",
                        table.difference,
                        table.source,
                        part.part_id,
                        table.table_id,
                    )
                )
        if check.difference and not any(t.difference for t in check.tables if t.role == "allocation"):
            findings.append(
                ReconciliationFinding(
                    "part_total",
                    _is_known(known, check.difference, part.part_id, None),
                    f"part {part.part_id}: allocation rows and blank amounts differ from the part's stated total",
                    check.difference,
                    part.source,
                    part.part_id,
                )
            )
    stated_state = kronor(agreement.stated_totals.state_kr)
    parts_total = sum(p.stated_total for p in parts)
    if parts_total != stated_state:
        findings.append(
            ReconciliationFinding(
                "agreement_total",
                _is_known(known, parts_total - stated_state, None, None),
                "the parts' stated totals differ from the agreement's stated state money",
                parts_total - stated_state,
                agreement.stated_totals.source,
            )
        )
    for item in known:
        findings.append(
            ReconciliationFinding(
                "known_discrepancy",
                True,
                item.description,
                kronor(item.difference_kr) if item.difference_kr is not None else None,
                item.source,
                item.part_id,
                item.table_id,
            )
        )
    return Reconciliation(
        agreement.agreement_id,
        agreement.title,
        stated_state,
        kronor(agreement.stated_totals.co_financing_kr),
        kronor(agreement.stated_totals.total_kr),
        parts_total,
        parts_total - stated_state,
        parts,
        findings,
    )
