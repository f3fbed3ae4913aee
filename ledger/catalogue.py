"""The agreement catalogue: the five real agreements as reviewed data, and their loading.

Each agreement is one YAML file in ``ledger/data/agreements/``, validated by
``ledger.terms.Agreement``. Loading turns the register and the agreements into events
with ids derived from their content's identity (uuid5), so loading twice finds every id
already recorded and records nothing.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache
from importlib import resources
from uuid import NAMESPACE_URL, UUID, uuid5

import yaml

from ledger.events import AgreementApproved, AgreementDecided, EventBase, RecipientRegistered, RecipientRenamed
from ledger.recipients import Recipient, seed_register
from ledger.terms import Agreement

LOADER_PRINCIPAL = "catalogue-loader"


class CatalogueError(LookupError):
    """An agreement name the catalogue does not hold."""


def _event_id(*parts: str) -> UUID:
    return uuid5(NAMESPACE_URL, "urn:grant-ledger:catalogue:" + ":".join(parts))


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Agreement]:
    """Every agreement shipped with the package, by agreement id."""
    folder = resources.files("ledger.data").joinpath("agreements")
    agreements = {}
    for item in sorted(folder.iterdir(), key=lambda p: p.name):
        if item.name.endswith(".yaml"):
            agreement = Agreement.model_validate(yaml.safe_load(item.read_text(encoding="utf-8")))
            agreements[agreement.agreement_id] = agreement
    return agreements


def select(names: list[str] | None) -> list[Agreement]:
    known = catalogue()
    if not names:
        return list(known.values())
    missing = [n for n in names if n not in known]
    if missing:
        raise CatalogueError(f"unknown agreement {', '.join(missing)}; the catalogue holds: {', '.join(known)}")
    return [known[n] for n in names]


def recipient_events(recipient: Recipient) -> list[EventBase]:
    """Registration under the first name, then one rename per later name."""
    names = sorted(recipient.names, key=lambda n: n.valid_from)
    first = names[0]
    events: list[EventBase] = [
        RecipientRegistered(
            event_id=_event_id("recipient", recipient.recipient_id),
            effective_date=first.valid_from,
            recipient_id=recipient.recipient_id,
            recipient_kind=recipient.kind,
            name=first.name,
            short_name=first.short_name,
            county=recipient.county,
            org_number=recipient.org_number,
            org_number_note=recipient.org_number_note,
            note=f"source: {first.source}" if first.source else None,
        )
    ]
    for later in names[1:]:
        events.append(
            RecipientRenamed(
                event_id=_event_id("recipient", recipient.recipient_id, "name", later.valid_from.isoformat()),
                effective_date=later.valid_from,
                recipient_id=recipient.recipient_id,
                name=later.name,
                short_name=later.short_name,
                note=f"source: {later.source}" if later.source else None,
            )
        )
    return events


def decision_date(agreement: Agreement) -> tuple[dt.date, str | None]:
    """When the agreement was made: its earliest printed signature or decision date.

    Where the document prints no date at all, 1 January of the agreement year stands in,
    and the event's note says so.
    """
    dates = [s.date for s in agreement.signatures if s.date] + [d.date for d in agreement.decisions if d.date]
    if dates:
        return min(dates), None
    return dt.date(agreement.year, 1, 1), "no date printed in the document: 1 January of the agreement year stands in"


def agreement_events(agreement: Agreement) -> list[EventBase]:
    """The agreement decided, then each dated approval."""
    when, note = decision_date(agreement)
    events: list[EventBase] = [
        AgreementDecided(
            event_id=_event_id("agreement", agreement.agreement_id),
            effective_date=when,
            agreement=agreement,
            decided_by="parties",
            dnr=agreement.dnr[0].value if agreement.dnr else None,
            note=note,
        )
    ]
    for decision in agreement.decisions:
        if decision.date is None:
            continue  # an undated decision stays in the terms; no event can be dated for it
        events.append(
            AgreementApproved(
                event_id=_event_id("agreement", agreement.agreement_id, "approved", decision.body),
                effective_date=decision.date,
                agreement_id=agreement.agreement_id,
                body=decision.body,
                dnr=decision.dnr,
                note=f"source: {decision.source}",
            )
        )
    return events


def load_events(agreements: list[Agreement]) -> list[EventBase]:
    """Register every recipient first, then the agreements."""
    events: list[EventBase] = []
    for recipient in seed_register():
        events.extend(recipient_events(recipient))
    for agreement in agreements:
        events.extend(agreement_events(agreement))
    return events
