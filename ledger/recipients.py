"""The recipients register (mottagarregister): who can receive, pass on or be owed money.

A recipient is one legal person across renames: SKL became SKR on 2019-11-27, the
landsting became regioner. Its names are dated attributes; balances are kept by the
recipient's id, so one history gives one balance across a rename.
"""

from __future__ import annotations

import re
from datetime import date
from functools import lru_cache
from importlib import resources
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

RecipientKind = Literal[
    "association",
    "agency",
    "government",
    "region",
    "municipality_with_regional_tasks",
    "regional_support_structure",
    "municipality",
    "other",
]

ORG_NUMBER = re.compile(r"^\d{6}-\d{4}$")


def luhn_ok(digits: str) -> bool:
    """The organisation number's check digit (Luhn, mod 10)."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def validate_org_number(value: str | None) -> str | None:
    """NNNNNN-NNNN with a valid check digit, or None when unknown."""
    if value is None:
        return None
    if not ORG_NUMBER.match(value):
        raise ValueError("organisation number must look like NNNNNN-NNNN")
    if not luhn_ok(value.replace("-", "")):
        raise ValueError("organisation number has a wrong check digit")
    return value


class DatedName(BaseModel):
    """A name valid from a date until the next name takes over."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: str = Field(min_length=1, max_length=200)
    short_name: str | None = Field(default=None, max_length=40)
    valid_from: date
    source: str = ""


class Recipient(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    recipient_id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{1,62}$")
    kind: RecipientKind
    county: str | None = None
    org_number: str | None = None
    org_number_note: str | None = None
    names: list[DatedName] = Field(min_length=1)

    _check_org = field_validator("org_number")(classmethod(lambda cls, v: validate_org_number(v)))

    def name_on(self, day: date) -> str:
        """The name the recipient had on a day (its first name before any record)."""
        current = sorted(self.names, key=lambda n: n.valid_from)
        chosen = current[0]
        for dated in current:
            if dated.valid_from <= day:
                chosen = dated
        return chosen.name

    @property
    def current_name(self) -> str:
        return max(self.names, key=lambda n: n.valid_from).name


@lru_cache(maxsize=1)
def seed_register() -> tuple[Recipient, ...]:
    """The register shipped with the package (ledger/data/recipients.yaml)."""
    text = resources.files("ledger.data").joinpath("recipients.yaml").read_text(encoding="utf-8")
    return tuple(Recipient.model_validate(item) for item in yaml.safe_load(text)["recipients"])
