"""The recipients register: one recipient across renames, dated names, org numbers."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date

import pytest
from pydantic import ValidationError

from ledger.admission import LedgerValidationError
from ledger.application import Ledger
from ledger.recipients import Recipient, luhn_ok, seed_register, validate_org_number

SKL = "Sveriges Kommuner och Landsting"
SKR = "Sveriges Kommuner och Regioner"


def register() -> dict[str, Recipient]:
    return {r.recipient_id: r for r in seed_register()}


# --- the seed register ----------------------------------------------------------------------


def test_skl_and_skr_are_one_recipient():
    recipients = register()
    assert "skl" not in recipients
    assert {n.name for n in recipients["skr"].names} == {SKL, SKR}


def test_skr_name_on_each_side_of_the_rename():
    skr = register()["skr"]
    assert skr.name_on(date(2019, 11, 26)) == SKL
    assert skr.name_on(date(2019, 11, 27)) == SKR
    assert skr.name_on(date(2017, 3, 1)) == SKL
    assert skr.name_on(date(2024, 1, 1)) == SKR
    assert skr.current_name == SKR


def test_name_before_the_first_record_is_the_first_name():
    assert register()["skr"].name_on(date(1990, 1, 1)) == SKL


def test_vasternorrland_became_a_region_in_2018():
    recipient = register()["region-vasternorrland"]
    assert recipient.name_on(date(2017, 12, 31)) == "Landstinget Västernorrland"
    assert recipient.name_on(date(2018, 6, 1)) == "Region Västernorrland"


def test_register_has_21_regions_including_gotland():
    regions = [r for r in seed_register() if r.kind in ("region", "municipality_with_regional_tasks")]
    assert len(regions) == 21
    assert len({r.county for r in regions}) == 21
    assert register()["region-gotland"].kind == "municipality_with_regional_tasks"


def test_register_has_one_regional_support_structure_per_county():
    rss = [r for r in seed_register() if r.kind == "regional_support_structure"]
    assert len(rss) == 21
    region_counties = {r.county for r in seed_register() if r.kind in ("region", "municipality_with_regional_tasks")}
    assert {r.county for r in rss} == region_counties


def test_recipient_ids_are_unique():
    counts = Counter(r.recipient_id for r in seed_register())
    assert [rid for rid, n in counts.items() if n > 1] == []


# --- org numbers ------------------------------------------------------------------------------


def test_luhn_accepts_a_real_org_number():
    assert luhn_ok("2321000016")  # Region Stockholm, 232100-0016
    assert validate_org_number("232100-0016") == "232100-0016"
    assert validate_org_number(None) is None


@pytest.mark.parametrize("wrong", ["232100-0017", "232100-0010", "232100-0061"])
def test_org_number_with_wrong_check_digit_is_rejected(wrong):
    assert not luhn_ok(wrong.replace("-", ""))
    with pytest.raises(ValueError, match="check digit"):
        validate_org_number(wrong)


@pytest.mark.parametrize("malformed", ["2321000016", "232100 0016", "23210-00016", "abcdef-ghij", ""])
def test_org_number_in_the_wrong_form_is_rejected(malformed):
    with pytest.raises(ValueError, match="NNNNNN-NNNN"):
        validate_org_number(malformed)


def test_recipient_model_rejects_a_wrong_check_digit():
    with pytest.raises(ValidationError, match="check digit"):
        Recipient(recipient_id="region-prov", kind="region", org_number="232100-0017",
                  names=[{"name": "Region Prov", "valid_from": "2019-01-01"}])


# --- through the ledger -------------------------------------------------------------------------


def test_loaded_register_records_skr_once_with_its_rename(loaded_ledger: Ledger):
    history = loaded_ledger.index.recipient_history("skr")
    assert [(h["kind"], h["payload"]["name"], h["effective_date"]) for h in history] == [
        ("recipient_registered", SKL, "2007-03-01"),
        ("recipient_renamed", SKR, "2019-11-27"),
    ]
    assert "skl" not in loaded_ledger.index.recipient_ids()


def test_loaded_register_holds_every_seed_recipient(loaded_ledger: Ledger):
    assert loaded_ledger.index.recipient_ids() == set(register())


def test_recipient_renamed_event_is_in_the_history(loaded_ledger: Ledger):
    event_id = str(uuid.uuid4())
    loaded_ledger.append([{"kind": "recipient_renamed", "event_id": event_id, "effective_date": "2023-01-01",
                           "recipient_id": "region-gotland", "name": "Region Gotland (kommun)"}], "registrator")
    history = loaded_ledger.index.recipient_history("region-gotland")
    assert history[-1]["event_id"] == event_id
    assert history[-1]["payload"]["name"] == "Region Gotland (kommun)"
    assert history[-1]["recorded_by"] == "registrator"
    assert len(history) == 2


def test_rename_of_an_unregistered_recipient_is_refused(loaded_ledger: Ledger):
    head = loaded_ledger.head()
    with pytest.raises(LedgerValidationError) as caught:
        loaded_ledger.append([{"kind": "recipient_renamed", "event_id": str(uuid.uuid4()),
                               "effective_date": "2019-11-27", "recipient_id": "skl", "name": SKR}], "registrator")
    assert [e.field for e in caught.value.errors] == ["recipient_id"]
    assert loaded_ledger.head() == head


def registration(recipient_id: str, name: str, **extra) -> dict:
    return {"kind": "recipient_registered", "event_id": str(uuid.uuid4()), "effective_date": "2020-01-01",
            "recipient_id": recipient_id, "recipient_kind": "association", "name": name, **extra}


def test_second_registration_of_a_recipient_is_refused(loaded_ledger: Ledger):
    head = loaded_ledger.head()
    with pytest.raises(LedgerValidationError, match="already registered") as caught:
        loaded_ledger.append([registration("skr", SKR)], "registrator")
    assert [(e.item, e.field) for e in caught.value.errors] == [(0, "recipient_id")]
    assert loaded_ledger.head() == head


def test_second_registration_inside_one_batch_is_refused(ledger: Ledger):
    with pytest.raises(LedgerValidationError) as caught:
        ledger.append([registration("prov", "Prov AB"), registration("prov", "Prov AB igen")], "registrator")
    assert [(e.item, e.field) for e in caught.value.errors] == [(1, "recipient_id")]
    assert ledger.head()[0] == 0
    assert ledger.index.recipient_ids() == set()


def test_registration_with_a_wrong_check_digit_is_refused(ledger: Ledger):
    with pytest.raises(LedgerValidationError) as caught:
        ledger.append([registration("prov", "Prov AB", org_number="232100-0017")], "registrator")
    assert [(e.field, "check digit" in e.reason) for e in caught.value.errors] == [("org_number", True)]
    assert ledger.head()[0] == 0


def test_registration_with_a_valid_org_number_is_recorded(ledger: Ledger):
    ledger.append([registration("region-stockholm", "Region Stockholm", org_number="232100-0016")], "registrator")
    [row] = ledger.index.recipient_history("region-stockholm")
    assert row["payload"]["org_number"] == "232100-0016"


def test_the_checks_ask_the_journal_only_about_the_recipients_the_events_name(loaded_ledger: Ledger):
    """More than one query's worth of names (500 to a query): exactly the registered ones are
    found, and a batch naming a registered and an unregistered recipient is refused for the
    second only."""
    names = [f"prov-{n}" for n in range(1200)]
    assert loaded_ledger.index.registered_recipients(names + ["skr", "skl"]) == {"skr"}
    loaded_ledger.append([registration(name, f"Prov {name}") for name in names[:600]], "registrator")
    assert loaded_ledger.index.registered_recipients(names) == set(names[:600])
    head = loaded_ledger.head()
    renames = [{"kind": "recipient_renamed", "event_id": str(uuid.uuid4()), "effective_date": "2021-01-01",
                "recipient_id": name, "name": "Nytt namn"} for name in ("prov-599", "prov-600")]
    with pytest.raises(LedgerValidationError) as caught:
        loaded_ledger.append(renames, "registrator")
    assert [(e.item, e.field) for e in caught.value.errors] == [(1, "recipient_id")]
    assert loaded_ledger.head() == head
