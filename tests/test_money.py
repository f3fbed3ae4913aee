"""Money is integer öre: parsing kronor as people write them, showing them, and the Ore type."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

from ledger.money import MoneyError, Ore, format_kronor, kronor, parse_decimal_kronor, parse_kronor

NBSP = "\u00a0"
NNBSP = "\u202f"  # narrow no-break space, as word processors print thousands


# --- parse_kronor -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ore"),
    [
        ("1 234 567 kr", 123_456_700),
        ("1234567", 123_456_700),
        ("1 234 567", 123_456_700),
        ("6 250 500 000 kronor", 625_050_000_000),
        ("100 SEK", 10_000),
        ("0 kr", 0),
        ("999", 99_900),
        ("  42 kr  ", 4_200),
        ("1 234 567kr", 123_456_700),
    ],
)
def test_parse_kronor_whole_amounts(text, ore):
    assert parse_kronor(text) == ore


@pytest.mark.parametrize("space", [NBSP, NNBSP])
def test_parse_kronor_accepts_non_breaking_spaces_as_thousands_separator(space):
    assert parse_kronor(f"1{space}234{space}567 kr") == 123_456_700
    assert parse_kronor(f"191{space}434{space}743{space}kr") == 19_143_474_300


@pytest.mark.parametrize(
    ("text", "ore"),
    [
        ("1 234,50 kr", 123_450),
        ("1234,5", 123_450),
        ("1234.05", 123_405),
        ("0,01 kr", 1),
        ("0,10", 10),
        ("1 234 567,99 kr", 123_456_799),
    ],
)
def test_parse_kronor_ore_decimals(text, ore):
    assert parse_kronor(text) == ore


def test_parse_kronor_negative_amount():
    assert parse_kronor("-1 500 kr") == -150_000


@pytest.mark.parametrize(
    "text",
    [
        "",
        "kr",
        "abc",
        "12 34",  # wrong grouping
        "1234 567",  # wrong grouping
        "1 478,5 miljoner",  # prose estimates are not amounts
        "ca 739 miljoner kronor",
        "1e3",
        "+100",
        "1,2,3",
        "1 234 kr 50",
        "EUR 100",
        "100 EUR",
    ],
)
def test_parse_kronor_rejects_garbage(text):
    with pytest.raises(MoneyError):
        parse_kronor(text)


@pytest.mark.parametrize("text", ["1,505", "0,001 kr", "1 234,567 kr", "12.345"])
def test_parse_kronor_rejects_fractional_ore(text):
    with pytest.raises(MoneyError):
        parse_kronor(text)


def test_money_error_is_a_value_error_naming_the_text():
    with pytest.raises(ValueError, match="tolv kronor"):
        parse_kronor("tolv kronor")


# --- format_kronor ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ore", "text"),
    [
        (123_456_700, "1 234 567 kr"),
        (625_050_000_000, "6 250 500 000 kr"),
        (150, "1,50 kr"),
        (1, "0,01 kr"),
        (0, "0 kr"),
        (99_900, "999 kr"),
        (100_000, "1 000 kr"),
        (-150_000, "-1 500 kr"),
        (-5, "-0,05 kr"),
    ],
)
def test_format_kronor(ore, text):
    assert format_kronor(ore) == text


def test_format_kronor_shows_decimals_when_asked():
    assert format_kronor(100, decimals=True) == "1,00 kr"
    assert format_kronor(123_456_700, decimals=True) == "1 234 567,00 kr"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_format_then_parse_round_trips(ore):
    assert parse_kronor(format_kronor(ore)) == ore
    assert parse_kronor(format_kronor(ore, decimals=True)) == ore


# --- kronor and parse_decimal_kronor ------------------------------------------------------


def test_kronor_converts_whole_kronor_to_ore():
    assert kronor(191_434_743) == 19_143_474_300
    assert kronor(0) == 0


@pytest.mark.parametrize("value", [1.5, 1.0, "100", True, None, Decimal("1")])
def test_kronor_refuses_anything_but_an_int(value):
    with pytest.raises(MoneyError):
        kronor(value)


@pytest.mark.parametrize(
    ("value", "ore"),
    [
        ("1234.56", 123_456),
        ("0.01", 1),
        ("0.1", 10),
        (Decimal("6250500000"), 625_050_000_000),
        (10, 1_000),
        ("-1.50", -150),
        ("12.50", 1_250),
    ],
)
def test_parse_decimal_kronor(value, ore):
    assert parse_decimal_kronor(value) == ore


@pytest.mark.parametrize("value", ["0.001", "1234.567", Decimal("0.005"), "1.0001"])
def test_parse_decimal_kronor_refuses_fractions_of_an_ore(value):
    with pytest.raises(MoneyError, match="whole number of öre"):
        parse_decimal_kronor(value)


@pytest.mark.parametrize("value", ["abc", "", "1,50", "1 000", "NaN", "Infinity", "-Infinity"])
def test_parse_decimal_kronor_refuses_what_is_not_a_finite_number(value):
    with pytest.raises(MoneyError):
        parse_decimal_kronor(value)


# --- the Ore pydantic type ----------------------------------------------------------------

ORE = TypeAdapter(Ore)


@pytest.mark.parametrize("value", [0, 1, 150, 10**15])
def test_ore_accepts_non_negative_integers(value):
    assert ORE.validate_python(value) == value


@pytest.mark.parametrize(
    "value",
    [1.5, 100.0, -1, -(10**6), "100", "1.5", True, False, None, Decimal("100"), 10**15 + 1],
)
def test_ore_rejects_floats_negatives_strings_and_bools(value):
    with pytest.raises(ValidationError):
        ORE.validate_python(value)


@pytest.mark.parametrize("text", ["1.5", "100.0", "-1", '"100"', "true"])
def test_ore_rejects_the_same_in_json(text):
    with pytest.raises(ValidationError):
        ORE.validate_json(text)


def test_ore_accepts_a_json_integer():
    assert ORE.validate_json("12345") == 12_345
