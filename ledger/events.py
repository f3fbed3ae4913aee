"""The event catalogue: the ledger's public vocabulary.

Every fact about an agreement is one of these events. Each is a pydantic model with a
schema version; callers send them as JSON, the ledger validates the whole event, stamps
the recorded time and principal, and appends it to the hash-chained journal. Nothing is
ever edited: a correction is a new event whose ``corrects`` names the event it
supersedes, or an ``event_retracted`` that withdraws one.

Field conventions: amounts are integer öre (``amount``), always SEK; ``effective_date``
is when the fact happened in the world (Europe/Stockholm date); ``reference`` is the
caller's own reference for traceability to its finance system.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from enum import Enum
from typing import Annotated, ClassVar, Literal, Union
from uuid import UUID

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, field_validator, model_validator

from ledger.money import Ore
from ledger.recipients import RecipientKind, validate_org_number
from ledger.terms import Agreement, ReportKind, Route

SCHEMA_VERSION = 1



def _visible_text(multiline: bool) -> AfterValidator:
    """Text is stored as it reads: refuse control characters (a line break only in free text)
    and invisible format characters (bidi overrides and isolates, zero-width characters, BOM,
    soft hyphen), which make a name or dnr display differently from what is stored; store
    the NFC form, so a name typed with combining marks equals the same name typed composed."""
    allowed = "\t\n\r" if multiline else ""

    def check(value: str) -> str:
        if value.isascii() and value.isprintable():
            return value  # no control or format character, and already NFC: most text
        for char in value:
            category = unicodedata.category(char)
            if (category == "Cc" and char not in allowed) or category in ("Cf", "Cs"):
                name = unicodedata.name(char, "control character")
                raise ValueError(f"invisible or control character U+{ord(char):04X} ({name}) is not allowed")
        return unicodedata.normalize("NFC", value)

    return AfterValidator(check)


_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: object) -> object:
    """A date is the text YYYY-MM-DD: a number or a timestamp is refused, not converted."""
    if isinstance(value, dt.datetime) or not isinstance(value, (str, dt.date)):
        raise ValueError("a date is written as text YYYY-MM-DD")
    if isinstance(value, str) and not _ISO_DATE.fullmatch(value):
        raise ValueError("a date is written YYYY-MM-DD")
    return value


#: A calendar date, sent as "YYYY-MM-DD".
Date = Annotated[dt.date, BeforeValidator(_iso_date)]
Text = Annotated[str, Field(min_length=1, max_length=500), _visible_text(multiline=True)]
ShortText = Annotated[str, Field(min_length=1, max_length=200), _visible_text(multiline=False)]
Identifier = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9-]{0,99}$")]
Dnr = Annotated[str, Field(min_length=1, max_length=100, description="Diarienummer, e.g. S2019/05287/FS"),
                _visible_text(multiline=False)]


class SignatureKind(str, Enum):
    """How a document was signed: only an original signature meets most agreements' terms."""

    ORIGINAL = "original"
    COPY = "copy"
    ELECTRONIC = "electronic"


class Attestation(str, Enum):
    """The finance director's attestation of an expense report (ekonomichefens intygande)."""

    ALT1_CORRECT = "alt1"  # Alt 1: the report is correct
    ALT2_DEVIATIONS = "alt2"  # Alt 2: not correct; deviations and actions stated


class ReclaimReason(str, Enum):
    """Why the government reclaims (återkrav)."""

    REPORT_LATE_OR_MISSING = "report_late_or_missing"
    NOT_USED_FOR_PURPOSE = "not_used_for_purpose"
    OVERPAYMENT = "overpayment"
    UNSPENT_NOT_REPAID = "unspent_not_repaid"
    OTHER = "other"


class Obligation(str, Enum):
    """A deadline an agreement sets, for ``deadline_amended``."""

    REQUISITION = "requisition"
    REPAYMENT = "repayment"
    EXPENSE_REPORT = "ekonomisk_redovisning"
    ACTIVITY_REPORT = "verksamhetsrapport"
    INTERIM_REPORT = "delrapport"
    FINAL_REPORT = "slutrapport"
    ACTION_PLAN = "handlingsplan"
    STATUS_REPORT = "nulagesrapport"


class EventBase(BaseModel):
    """Fields every event carries. ``recorded_at`` and ``recorded_by`` are never the
    caller's: the ledger assigns them when it records the event."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    event_id: UUID
    schema_version: Literal[1] = SCHEMA_VERSION
    effective_date: Date = Field(description="When the fact happened (Europe/Stockholm date)")
    reference: ShortText | None = Field(default=None, description="The caller's own reference")
    corrects: UUID | None = Field(default=None, description="Event this one corrects and supersedes")
    note: Text | None = None

    #: True for events that must name an agreement the ledger knows.
    needs_agreement: ClassVar[bool] = True

    # The fields are read from the instance's __dict__ (where pydantic keeps them): asking a
    # model for a field its kind lacks goes through pydantic's __getattr__ and an exception,
    # a few microseconds each, several times per event of a batch.
    def agreement_ref(self) -> str | None:
        return self.__dict__.get("agreement_id")

    def part_ref(self) -> str | None:
        return self.__dict__.get("part_id")

    def recipient_refs(self) -> list[tuple[str, str]]:
        """(field, recipient id) pairs that must be registered recipients."""
        refs = []
        for field in ("recipient_id", "to_recipient_id"):
            value = self.__dict__.get(field)
            if value:
                refs.append((field, value))
        return refs


class AgreementEvent(EventBase):
    agreement_id: Identifier


class MoneyEvent(AgreementEvent):
    """An event that moves or fixes an amount for a recipient."""

    part_id: Identifier | None = None
    recipient_id: Identifier
    amount: Ore
    currency: Literal["SEK"] = "SEK"


# --- Agreement ----------------------------------------------------------------------


class AgreementDecided(EventBase):
    """Överenskommelse beslutad: the agreement with its parts, tables and terms."""

    kind: Literal["agreement_decided"] = "agreement_decided"
    agreement: Agreement
    decided_by: Literal["government", "skr_board", "skl_board", "parties"] = "parties"
    dnr: Dnr | None = None

    def agreement_ref(self) -> str:
        return self.agreement.agreement_id


class AgreementAmended(EventBase):
    """Överenskommelse ändrad (tilläggsöverenskommelse): the agreement as amended, in full."""

    kind: Literal["agreement_amended"] = "agreement_amended"
    agreement: Agreement
    reason: Text
    dnr: Dnr | None = None

    def agreement_ref(self) -> str:
        return self.agreement.agreement_id


class AgreementApproved(AgreementEvent):
    """Överenskommelse godkänd: the government's decision or SKR's board decision."""

    kind: Literal["agreement_approved"] = "agreement_approved"
    body: Literal["government", "skr_board", "skl_board"]
    dnr: Dnr | None = None


class AllocationDecided(MoneyEvent):
    """Fördelning beslutad: an allocation row decided later, for a table the agreement left blank."""

    kind: Literal["allocation_decided"] = "allocation_decided"
    part_id: Identifier
    route: Route = Route.DIRECT
    beneficiary: ShortText | None = None
    table_id: Identifier | None = None
    dnr: Dnr | None = None
    basis: Text | None = Field(default=None, description="The decision or key the row rests on")
    condition_id: Identifier | None = Field(
        default=None, description="The performance condition this share depends on (forfeited if it fails)"
    )


class PaymentDecisionMade(AgreementEvent):
    """Beslut om utbetalning (regeringsbeslut om utbetalning, or the regleringsbrev) to Kammarkollegiet."""

    kind: Literal["payment_decision_made"] = "payment_decision_made"
    part_id: Identifier | None = Field(default=None, description="None: the decision covers every part")
    instrument: Literal["regeringsbeslut", "regleringsbrev"]
    dnr: Dnr
    amount: Ore | None = None
    currency: Literal["SEK"] = "SEK"
    recipient_id: Identifier | None = None


# --- Money chain ----------------------------------------------------------------------


class DocumentFields(BaseModel):
    """What a signed document from a recipient carries."""

    agreement_dnr: Dnr | None = Field(default=None, description="The agreement's diarienummer as cited")
    payment_decision_dnr: Dnr | None = Field(default=None, description="The payment decision's dnr as cited")
    signature: SignatureKind
    signed_by: ShortText | None = None
    filed_name: ShortText | None = Field(default=None, description="The recipient's name as written on the document")


class RequisitionReceived(MoneyEvent, DocumentFields):
    """Rekvisition inkommen to Kammarkollegiet; effective date = date received."""

    kind: Literal["requisition_received"] = "requisition_received"
    part_id: Identifier
    payment_details_reference: ShortText | None = Field(default=None, description="Bankgiro/plusgiro reference")


class PayoutMade(MoneyEvent):
    """Utbetalning by Kammarkollegiet; effective date = value date."""

    kind: Literal["payout_made"] = "payout_made"
    part_id: Identifier
    route: Route = Route.DIRECT
    requisition_event_id: UUID | None = None
    payment_reference: ShortText | None = None


class OnwardTransferMade(MoneyEvent):
    """Vidareförmedling: SKR or a county RSS passes money on to the one it is for."""

    kind: Literal["onward_transfer_made"] = "onward_transfer_made"
    part_id: Identifier
    to_recipient_id: Identifier | None = Field(default=None, description="Registered recipient, when it is one")
    to_name: ShortText | None = Field(default=None, description="Name of a beneficiary not in the register")

    @model_validator(mode="after")
    def _has_receiver(self) -> OnwardTransferMade:
        if not self.to_recipient_id and not self.to_name:
            raise ValueError("to_recipient_id or to_name is required: who received the money")
        return self


class CostItem(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    label: ShortText
    amount: Ore


class ExpenseReportReceived(AgreementEvent, DocumentFields):
    """Ekonomisk redovisning inkommen: the year's costs, the unspent funds, the attestation."""

    kind: Literal["expense_report_received"] = "expense_report_received"
    part_id: Identifier | None = Field(default=None, description="None: the report covers every part")
    recipient_id: Identifier
    period_start: Date
    period_end: Date
    received_amount: Ore = Field(description="Bidrag erhållet: what the recipient says it received")
    cost_items: list[CostItem] = Field(default_factory=list, max_length=200)
    total_costs: Ore
    stated_unspent: Ore = Field(description="Medel som inte förbrukats (bidrag − kostnader), as stated")
    currency: Literal["SEK"] = "SEK"
    attestation: Attestation
    deviations: Text | None = None
    actions: Text | None = None
    received_by: Identifier = "kammarkollegiet"

    @model_validator(mode="after")
    def _period_in_order(self) -> ExpenseReportReceived:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        return self


class ReportReceived(AgreementEvent):
    """Verksamhetsrapport, delrapport, slutrapport, handlingsplan or nulägesrapport inkommen."""

    kind: Literal["report_received"] = "report_received"
    report_kind: ReportKind
    part_id: Identifier | None = None
    recipient_id: Identifier = Field(description="Who submitted the report")
    received_by: Identifier = Field(description="Who received it: skr, regeringskansliet, kammarkollegiet")
    period_start: Date | None = None
    period_end: Date | None = None
    signature: SignatureKind | None = None
    agreement_dnr: Dnr | None = None
    payment_decision_dnr: Dnr | None = None

    def recipient_refs(self) -> list[tuple[str, str]]:
        return [("recipient_id", self.recipient_id), ("received_by", self.received_by)]


class RepaymentReceived(MoneyEvent):
    """Återbetalning: unspent or reclaimed funds paid back to Kammarkollegiet."""

    kind: Literal["repayment_received"] = "repayment_received"
    reclaim_event_id: UUID | None = Field(default=None, description="The reclaim decision it settles, if any")


class ReclaimDecided(MoneyEvent):
    """Återkrav beslutat by the government: only this creates a reclaim amount."""

    kind: Literal["reclaim_decided"] = "reclaim_decided"
    dnr: Dnr
    reason: ReclaimReason
    reason_text: Text | None = None


class ReclaimSettled(MoneyEvent):
    """Återkrav reglerat: a reclaim decision settled (paid, set off or written off)."""

    kind: Literal["reclaim_settled"] = "reclaim_settled"
    reclaim_event_id: UUID
    how: Literal["paid", "set_off", "waived"] = "paid"


class DeadlineAmended(AgreementEvent):
    """Ändrad tidsfrist: a decision that moves a deadline for a part or one recipient."""

    kind: Literal["deadline_amended"] = "deadline_amended"
    part_id: Identifier | None = None
    recipient_id: Identifier | None = None
    obligation: Obligation
    new_deadline: Date
    dnr: Dnr | None = None
    reason: Text


class EventRetracted(AgreementEvent):
    """Rättelse: an event recorded in error is withdrawn; it stays in the journal."""

    kind: Literal["event_retracted"] = "event_retracted"
    retracted_event_id: UUID
    reason: Text


# --- Recipients ----------------------------------------------------------------------


class RecipientRegistered(EventBase):
    """Mottagare registrerad: a recipient enters the register under its name on the effective date."""

    kind: Literal["recipient_registered"] = "recipient_registered"
    recipient_id: Identifier
    recipient_kind: RecipientKind
    name: ShortText
    short_name: ShortText | None = None
    county: ShortText | None = None
    org_number: str | None = None
    org_number_note: Text | None = None
    needs_agreement: ClassVar[bool] = False

    @field_validator("org_number")
    @classmethod
    def _org_number(cls, value: str | None) -> str | None:
        return validate_org_number(value)

    def recipient_refs(self) -> list[tuple[str, str]]:
        return []  # it introduces the recipient


class RecipientRenamed(EventBase):
    """Mottagare bytt namn: the new name applies from the effective date (SKL -> SKR 2019-11-27)."""

    kind: Literal["recipient_renamed"] = "recipient_renamed"
    recipient_id: Identifier
    name: ShortText
    short_name: ShortText | None = None
    needs_agreement: ClassVar[bool] = False


EVENT_TYPES: tuple[type[EventBase], ...] = (
    AgreementDecided,
    AgreementAmended,
    AgreementApproved,
    AllocationDecided,
    PaymentDecisionMade,
    RequisitionReceived,
    PayoutMade,
    OnwardTransferMade,
    ExpenseReportReceived,
    ReportReceived,
    RepaymentReceived,
    ReclaimDecided,
    ReclaimSettled,
    DeadlineAmended,
    EventRetracted,
    RecipientRegistered,
    RecipientRenamed,
)
LedgerEvent = Annotated[Union[EVENT_TYPES], Field(discriminator="kind")]  # type: ignore[valid-type]
EVENT_ADAPTER: TypeAdapter[EventBase] = TypeAdapter(LedgerEvent)
EVENT_CLASSES: dict[str, type[EventBase]] = {cls.model_fields["kind"].default: cls for cls in EVENT_TYPES}
KINDS = tuple(EVENT_CLASSES)
