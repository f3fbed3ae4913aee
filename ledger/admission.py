"""What the ledger refuses to record, and why.

Malformed or impossible input (a field of the wrong type, an unknown agreement, part or
recipient, a negative or fractional amount, a currency other than SEK, a correction of
an event that does not exist, an effective date after the day it is recorded, an event
id already used) is rejected with every problem named by field and reason, and nothing
is recorded. A fact that merely breaks a rule of an agreement (a late requisition, a
payout above the allocation) is *not* refused here: it is recorded and the projections
raise a finding.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from pydantic import ValidationError

from ledger.events import EVENT_ADAPTER, AgreementAmended, AgreementDecided, EventBase, RecipientRegistered
from ledger.index import JournalIndex

#: Fields that name another event which must already be recorded.
EVENT_REFERENCES = ("corrects", "retracted_event_id", "requisition_event_id", "reclaim_event_id")


def references(event: EventBase) -> list[tuple[str, str]]:
    """(field, event id) for each recorded event this one refers to."""
    found = []
    for name in _reference_fields(type(event)):
        value = getattr(event, name)
        if value is not None:
            found.append((name, str(value)))
    return found


@cache
def _reference_fields(kind: type[EventBase]) -> tuple[str, ...]:
    # Only the fields this kind has: asking a pydantic model for a missing one is slow.
    return tuple(name for name in EVENT_REFERENCES if name in kind.model_fields)


@dataclass(frozen=True)
class FieldError:
    """One problem with one field of one input event."""

    item: int  # 0-based index in the batch (the CLI shows line numbers)
    field: str
    reason: str

    def as_dict(self) -> dict[str, Any]:
        return {"item": self.item, "field": self.field, "reason": self.reason}


class LedgerValidationError(ValueError):
    """The input was refused; nothing was recorded."""

    def __init__(self, errors: Sequence[FieldError]):
        self.errors = list(errors)
        first = self.errors[0]
        more = f" (and {len(self.errors) - 1} more)" if len(self.errors) > 1 else ""
        super().__init__(f"event {first.item}: {first.field}: {first.reason}{more}")


def _loc(loc: Iterable[Any]) -> str:
    parts = [str(p) for p in loc]
    # The first element of a discriminated union error is the kind tag: drop it.
    if parts and parts[0] in _KIND_TAGS:
        parts = parts[1:]
    return ".".join(parts) or "(event)"


_KIND_TAGS: set[str] = set()


def parse_events(raw: Sequence[Any]) -> tuple[list[EventBase | None], list[FieldError]]:
    """Parse each input with the event schemas; keep every error."""
    from ledger.events import KINDS

    _KIND_TAGS.update(KINDS)
    events: list[EventBase | None] = []
    errors: list[FieldError] = []
    for item, value in enumerate(raw):
        if isinstance(value, EventBase):
            events.append(value)
            continue
        try:
            events.append(EVENT_ADAPTER.validate_python(value))
        except ValidationError as exc:
            events.append(None)
            for err in exc.errors():
                reason = err["msg"]
                if err["type"] == "union_tag_invalid":
                    reason = f"unknown event kind; expected one of: {', '.join(KINDS)}"
                elif err["type"] == "union_tag_not_found":
                    reason = "field required: kind"
                errors.append(FieldError(item, _loc(err["loc"]) if err["loc"] else "kind", reason))
    return events, errors


@dataclass
class _Known:
    """What the journal (plus the earlier events of this batch) already holds."""

    index: JournalIndex
    recipients: set[str]
    event_ids: set[str] = field(default_factory=set)
    agreements: dict[str, set[str] | None] = field(default_factory=dict)  # id -> part ids; None: unknown

    def parts_of(self, agreement_id: str) -> set[str] | None:
        if agreement_id not in self.agreements:
            self.agreements[agreement_id] = self.index.part_ids(agreement_id)
        return self.agreements[agreement_id]


def check_references(events: Sequence[EventBase], index: JournalIndex, today: dt.date,
                     recipients: set[str]) -> list[FieldError]:
    """Check every event against the journal (``recipients``: those it has registered) and
    against the earlier events of the batch."""
    known = _Known(index=index, recipients=set(recipients))
    ids = [str(e.event_id) for e in events]
    taken = index.existing_event_ids(ids)
    referenced = {ref for e in events for _name, ref in references(e)}
    known.event_ids = index.existing_event_ids(referenced)
    errors: list[FieldError] = []
    for item, (event, event_id) in enumerate(zip(events, ids)):
        errors.extend(FieldError(item, f, r) for f, r in _problems(event, event_id, known, taken, today))
        known.event_ids.add(event_id)
        taken.add(event_id)
        _learn(event, known)
    return errors


def _problems(event: EventBase, event_id: str, known: _Known, taken: set[str],
              today: dt.date) -> Iterable[tuple[str, str]]:
    if event_id in taken:
        yield "event_id", "an event with this id is already recorded"
    if event.effective_date > today:
        yield "effective_date", f"{event.effective_date} is after the day it is recorded ({today}, Europe/Stockholm)"
    for name, ref in references(event):
        if ref not in known.event_ids:
            yield name, f"no recorded event has id {ref}"
    yield from _agreement_problems(event, known)
    for name, recipient in event.recipient_refs():
        if recipient not in known.recipients:
            yield name, f"unknown recipient {recipient!r}: register it first (recipient_registered)"


def _agreement_problems(event: EventBase, known: _Known) -> Iterable[tuple[str, str]]:
    if isinstance(event, AgreementDecided):
        agreement = event.agreement
        if known.parts_of(agreement.agreement_id) is not None:
            yield "agreement.agreement_id", f"agreement {agreement.agreement_id!r} is already decided; amend it instead"
        yield from _unknown_row_recipients(agreement.recipient_ids(), known)
        return
    if isinstance(event, AgreementAmended):
        if known.parts_of(event.agreement.agreement_id) is None:
            yield "agreement.agreement_id", f"unknown agreement {event.agreement.agreement_id!r}"
        yield from _unknown_row_recipients(event.agreement.recipient_ids(), known)
        return
    if not event.needs_agreement:
        return
    agreement_id = event.agreement_ref()
    parts = known.parts_of(agreement_id) if agreement_id else None
    if parts is None:
        yield "agreement_id", f"unknown agreement {agreement_id!r}"
        return
    part_id = event.part_ref()
    if part_id is not None and part_id not in parts:
        yield "part_id", f"agreement {agreement_id!r} has no part {part_id!r} (parts: {', '.join(sorted(parts))})"


def _unknown_row_recipients(recipient_ids: set[str], known: _Known) -> Iterable[tuple[str, str]]:
    for recipient in sorted(recipient_ids - known.recipients):
        yield "agreement.parts", f"unknown recipient {recipient!r} in an allocation row: register it first"


def _learn(event: EventBase, known: _Known) -> None:
    """Let later events of the same batch refer to what this one introduces."""
    if isinstance(event, RecipientRegistered):
        if event.recipient_id in known.recipients:
            return
        known.recipients.add(event.recipient_id)
    if isinstance(event, AgreementDecided | AgreementAmended):
        known.agreements[event.agreement.agreement_id] = {p.part_id for p in event.agreement.parts}


def named_recipients(events: Sequence[EventBase]) -> set[str]:
    """Every recipient id the events name: the only ones the checks ask the journal about
    (reading every registered recipient on each append grew with the register)."""
    names: set[str] = set()
    for event in events:
        names.update(recipient for _field, recipient in event.recipient_refs())
        if isinstance(event, AgreementDecided | AgreementAmended):
            names |= event.agreement.recipient_ids()
        if isinstance(event, RecipientRegistered):
            names.add(event.recipient_id)
    return names


def duplicate_registration(events: Sequence[EventBase], index_recipients: set[str]) -> list[FieldError]:
    """A recipient is registered once; a new name is a rename."""
    seen = set(index_recipients)
    errors = []
    for item, event in enumerate(events):
        if isinstance(event, RecipientRegistered):
            if event.recipient_id in seen:
                errors.append(
                    FieldError(item, "recipient_id", f"{event.recipient_id!r} is already registered; use recipient_renamed")
                )
            seen.add(event.recipient_id)
    return errors
