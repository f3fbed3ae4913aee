"""The terms of an agreement (överenskommelse): parts, allocation tables and conditions.

This is the schema of the agreement catalogue (one YAML file per agreement in
``ledger/data/agreements/``) and the body of the ``AgreementDecided`` event. Every
term is data per agreement and part; nothing here is a constant of one agreement.

Amounts are printed in whole kronor in the documents, so the catalogue keeps them in
kronor (``*_kr``) for a finance person to review against the paper; the ledger turns
them into öre when it records the agreement. Every row and term cites its source line
in the seed document (``source: "L1622–1646"``).
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from ledger.calendar import DeadlinePolicy

Kronor = StrictInt  # whole kronor as printed; may be 0, never a float
Source = str  # "L123" or "L123–130", or "not stated" with a reason


class Strict(BaseModel):
    """Catalogue models refuse unknown keys so a typo in YAML is an error, not a silent gap."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Route(str, Enum):
    """How money reaches the recipient that uses it."""

    DIRECT = "direct"  # paid by Kammarkollegiet to the recipient
    VIA_SKR = "via_skr"  # paid to SKR, which passes it on (vidareförmedlar)
    VIA_RSS = "via_rss"  # paid to the county's regional support structure, passed on to municipalities


class ReportKind(str, Enum):
    """Kinds of reports an agreement requires."""

    EXPENSE_REPORT = "ekonomisk_redovisning"  # expense report
    ACTIVITY_REPORT = "verksamhetsrapport"  # activity report
    INTERIM_REPORT = "delrapport"  # interim report
    FINAL_REPORT = "slutrapport"  # final report
    ACTION_PLAN = "handlingsplan"  # action plan (2021 waiting-time agreement)
    STATUS_REPORT = "nulagesrapport"  # status report
    OTHER = "other"


class ReclaimTrigger(str, Enum):
    """What gives the government the right to reclaim (återkrav)."""

    REPORT_LATE_OR_MISSING = "report_late_or_missing"
    NOT_USED_FOR_PURPOSE = "not_used_for_purpose"
    OVERPAYMENT = "overpayment"
    INCORRECT_INFORMATION = "incorrect_information"
    OTHER = "other"


class Consequence(str, Enum):
    """What the agreement says follows from a missed deadline."""

    LAPSE = "lapse"  # the right to the grant lapses (rätten till bidrag förfaller)
    RECLAIM_POSSIBLE = "reclaim_possible"  # the government may reclaim (kan återkräva)
    FORFEIT = "forfeit"  # the share is not paid (kan inte ta del av medlen)
    NEXT_YEAR_ELIGIBILITY = "next_year_eligibility"
    NONE_STATED = "none_stated"


class Dnr(Strict):
    """A diarienummer and what it registers."""

    value: str
    refers_to: str  # "överenskommelsen", "regeringsbeslut om utbetalning", ...
    source: Source


class Decision(Strict):
    """A decision that makes the agreement valid: the government's or SKR's board."""

    body: Literal["government", "skr_board", "skl_board"]
    date: dt.date | None = None  # None where the document leaves it out
    dnr: str | None = None
    source: Source
    note: str | None = None


class Signature(Strict):
    party: str  # recipient id of the signing party, or "regeringen"
    signatory: str | None = None
    date: dt.date | None = None
    place: str | None = None
    source: Source


class Appropriation(Strict):
    """Appropriation tags: utgiftsområde, anslag, anslagspost."""

    utgiftsomrade: int
    anslag: str  # "1:6"
    anslag_name: str | None = None
    anslagspost: str | None = None  # "18"
    anslagspost_name: str | None = None
    amount_kr: Kronor | None = None  # when the document ties an amount to the tag
    source: Source


class PaymentDecisionTerm(Strict):
    """How payment is decided: regleringsbrev or a särskilt regeringsbeslut to Kammarkollegiet."""

    kind: Literal["regleringsbrev", "regeringsbeslut", "not_stated"]
    description: str | None = None
    source: Source


class RequisitionTerm(Strict):
    """Whether a requisition (rekvisition) is needed, by when, and to whom."""

    required: bool
    deadline: dt.date | None = None
    receiver: str = "kammarkollegiet"
    consequence: Consequence = Consequence.LAPSE
    source: Source


class ReportTerm(Strict):
    """A report the recipients owe, to whom and by when ("received by")."""

    kind: ReportKind
    name_sv: str
    receivers: list[str]  # recipient ids / "regeringskansliet"; all must receive it
    deadline: dt.date | None = None
    period_start: dt.date | None = None
    period_end: dt.date | None = None
    owed_by: str = "each recipient"  # "skr", "each region", ...
    consequence: Consequence = Consequence.NONE_STATED
    source: Source


class RepaymentTerm(Strict):
    """Unspent funds due back (återbetalning)."""

    required: bool
    deadline: dt.date | None = None
    receiver: str = "kammarkollegiet"
    source: Source


class ReclaimClause(Strict):
    """The government's right to reclaim (återkrav)."""

    exists: bool
    triggers: list[ReclaimTrigger] = Field(default_factory=list)
    text: str | None = None
    source: Source


class PerformanceCondition(Strict):
    """A share paid only if a performance is met (2021 waiting-time agreement)."""

    condition_id: str
    description: str
    amount_kr: Kronor | None = None  # None where the document gives only "ca"
    approximate_amount_text: str | None = None  # "ca 739 miljoner kronor", as printed
    requires: Literal["report_received_by_all", "performance_measured", "other"]
    report_kind: ReportKind | None = None
    receivers: list[str] = Field(default_factory=list)
    deadline: dt.date | None = None
    consequence: Consequence = Consequence.FORFEIT
    source: Source


class Terms(Strict):
    """The conditions of one part."""

    requisition: RequisitionTerm
    lump_sum: bool  # engångsvis: one payout only
    payment_decision: PaymentDecisionTerm
    reports: list[ReportTerm] = Field(default_factory=list)
    repayment: RepaymentTerm
    reclaim: ReclaimClause
    performance_conditions: list[PerformanceCondition] = Field(default_factory=list)
    signature_in_original: bool = True
    both_dnr_required: bool = True
    deadline_policy: DeadlinePolicy = DeadlinePolicy.STRICT
    deadline_policy_source: Source = "not stated in the agreement: the strict calendar date applies"


class AllocationRow(Strict):
    """One printed row: an amount to a recipient by a route."""

    row_id: str
    label: str  # as printed
    recipient_id: str  # the paid recipient (SKR for via-SKR lines, the county RSS for via-RSS lines)
    route: Route = Route.DIRECT
    beneficiary: str | None = None  # who the money is for when passed on
    amount_kr: Kronor
    source: Source


class AllocationTable(Strict):
    """A printed table. ``role`` says whether its rows are entitlements or only a breakdown."""

    table_id: str
    title: str
    source: Source
    role: Literal["allocation", "breakdown", "summary"] = "allocation"
    stated_total_kr: Kronor | None = None
    blank: bool = False  # the document leaves the per-recipient rows blank
    blank_amount_kr: Kronor | None = None  # money that stays unallocated until an allocation event
    rows: list[AllocationRow] = Field(default_factory=list)
    note: str | None = None

    @model_validator(mode="after")
    def _blank_has_no_rows(self) -> AllocationTable:
        if self.blank and self.rows:
            raise ValueError(f"table {self.table_id}: a blank table has no rows")
        if self.blank and self.blank_amount_kr is None:
            raise ValueError(f"table {self.table_id}: a blank table states the unallocated amount")
        return self

    def rows_total_kr(self) -> int:
        return sum(row.amount_kr for row in self.rows)


class Earmark(Strict):
    """Money reserved for a purpose inside a part (öronmärkning)."""

    label: str
    amount_kr: Kronor
    source: Source


class CoFinancing(Strict):
    """Money the recipients put in themselves: not state money, never paid out by the ledger."""

    party: str
    amount_kr: Kronor
    source: Source


class Part(Strict):
    """A part of the agreement (del, insatsområde, block, kapitel)."""

    part_id: str
    name: str
    name_en: str
    stated_total_kr: Kronor  # state money of the part, as printed
    source: Source
    appropriations: list[Appropriation] = Field(default_factory=list)
    terms: Terms
    tables: list[AllocationTable] = Field(default_factory=list)
    earmarks: list[Earmark] = Field(default_factory=list)
    co_financing: list[CoFinancing] = Field(default_factory=list)
    note: str | None = None

    def allocation_rows(self) -> list[AllocationRow]:
        """Rows that are entitlements (breakdown and summary tables excluded)."""
        return [row for table in self.tables if table.role == "allocation" for row in table.rows]


class StatedTotals(Strict):
    state_kr: Kronor
    co_financing_kr: Kronor = 0
    total_kr: Kronor
    source: Source


class OutsideAmount(Strict):
    """An amount the document names but keeps outside the agreement: never booked."""

    amount_kr: Kronor
    description: str
    source: Source


class KnownDiscrepancy(Strict):
    """A discrepancy in the source, reported by reconciliation, never patched."""

    discrepancy_id: str
    description: str
    part_id: str | None = None
    table_id: str | None = None
    difference_kr: int | None = None  # rows minus stated total, where it is arithmetic
    source: Source


class Gap(Strict):
    """Something the source leaves out and how the catalogue treats it."""

    description: str
    treatment: str
    source: Source


class Agreement(Strict):
    """One agreement (överenskommelse) as printed."""

    agreement_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    title_en: str
    year: int
    seed_file: str
    parties: list[str]
    dnr: list[Dnr] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    signatures: list[Signature] = Field(default_factory=list)
    stated_totals: StatedTotals
    parts: list[Part]
    outside_agreement: list[OutsideAmount] = Field(default_factory=list)
    known_discrepancies: list[KnownDiscrepancy] = Field(default_factory=list)
    gaps: list[Gap] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_ids(self) -> Agreement:
        part_ids = [p.part_id for p in self.parts]
        if len(part_ids) != len(set(part_ids)):
            raise ValueError("part_id values must be unique within an agreement")
        row_ids = [r.row_id for p in self.parts for t in p.tables for r in t.rows]
        duplicates = {r for r in row_ids if row_ids.count(r) > 1}
        if duplicates:
            raise ValueError(f"row_id values must be unique within an agreement: {sorted(duplicates)}")
        return self

    def part(self, part_id: str) -> Part | None:
        return next((p for p in self.parts if p.part_id == part_id), None)

    def recipient_ids(self) -> set[str]:
        """Every recipient the agreement names in a row or as a party."""
        ids = {row.recipient_id for p in self.parts for t in p.tables for row in t.rows}
        return ids | {p for p in self.parties if p != "regeringen"}
