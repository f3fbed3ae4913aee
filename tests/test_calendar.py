"""Easter, Swedish public holidays and "received by" deadlines under both policies.

Every expected date below is a known fact (almanac), written out by hand, never computed
with the code under test. Weekdays are double-checked with the standard library.
"""

from __future__ import annotations

import datetime as dt
from datetime import date

import pytest

from ledger.calendar import (
    DeadlinePolicy,
    easter_sunday,
    effective_deadline,
    holiday_name,
    is_working_day,
    next_working_day,
    non_working_reason,
    public_holidays,
    stockholm_today,
)

MON, TUE, WED, THU, FRI, SAT, SUN = range(7)

EASTER = {
    2017: date(2017, 4, 16),
    2018: date(2018, 4, 1),
    2019: date(2019, 4, 21),
    2020: date(2020, 4, 12),
    2021: date(2021, 4, 4),
    2022: date(2022, 4, 17),
    2023: date(2023, 4, 9),
    2024: date(2024, 3, 31),
    2025: date(2025, 4, 20),
}


@pytest.mark.parametrize(("year", "sunday"), sorted(EASTER.items()))
def test_easter_sunday_2017_to_2025(year, sunday):
    assert sunday.weekday() == SUN
    assert easter_sunday(year) == sunday


@pytest.mark.parametrize(
    ("year", "sunday"),
    [(1818, date(1818, 3, 22)), (2008, date(2008, 3, 23)), (2038, date(2038, 4, 25)), (2000, date(2000, 4, 23))],
)
def test_easter_sunday_at_the_extremes(year, sunday):
    assert easter_sunday(year) == sunday


HOLIDAYS_2021 = {
    date(2021, 1, 1): "Nyårsdagen",
    date(2021, 1, 6): "Trettondedag jul",
    date(2021, 4, 2): "Långfredagen",
    date(2021, 4, 4): "Påskdagen",
    date(2021, 4, 5): "Annandag påsk",
    date(2021, 5, 1): "Första maj",
    date(2021, 5, 13): "Kristi himmelsfärdsdag",
    date(2021, 5, 23): "Pingstdagen",
    date(2021, 6, 6): "Sveriges nationaldag",
    date(2021, 6, 25): "Midsommarafton",
    date(2021, 6, 26): "Midsommardagen",
    date(2021, 11, 6): "Alla helgons dag",  # 31 Oct 2021 is a Sunday: the Saturday is 6 Nov
    date(2021, 12, 24): "Julafton",
    date(2021, 12, 25): "Juldagen",
    date(2021, 12, 26): "Annandag jul",
    date(2021, 12, 31): "Nyårsafton",
}

HOLIDAYS_2024 = {
    date(2024, 1, 1): "Nyårsdagen",
    date(2024, 1, 6): "Trettondedag jul",
    date(2024, 3, 29): "Långfredagen",
    date(2024, 3, 31): "Påskdagen",
    date(2024, 4, 1): "Annandag påsk",
    date(2024, 5, 1): "Första maj",
    date(2024, 5, 9): "Kristi himmelsfärdsdag",
    date(2024, 5, 19): "Pingstdagen",
    date(2024, 6, 6): "Sveriges nationaldag",
    date(2024, 6, 21): "Midsommarafton",
    date(2024, 6, 22): "Midsommardagen",
    date(2024, 11, 2): "Alla helgons dag",
    date(2024, 12, 24): "Julafton",
    date(2024, 12, 25): "Juldagen",
    date(2024, 12, 26): "Annandag jul",
    date(2024, 12, 31): "Nyårsafton",
}


@pytest.mark.parametrize(("year", "expected"), [(2021, HOLIDAYS_2021), (2024, HOLIDAYS_2024)])
def test_every_swedish_holiday_of_the_year(year, expected):
    assert public_holidays(year) == expected


@pytest.mark.parametrize(
    ("day", "name"),
    [
        (date(2017, 6, 23), "Midsommarafton"),
        (date(2018, 6, 22), "Midsommarafton"),
        (date(2019, 6, 21), "Midsommarafton"),
        (date(2020, 6, 19), "Midsommarafton"),  # midsommardagen on its earliest date, 20 June
        (date(2020, 6, 20), "Midsommardagen"),
        (date(2022, 6, 24), "Midsommarafton"),
        (date(2023, 6, 23), "Midsommarafton"),
        (date(2025, 6, 20), "Midsommarafton"),
        (date(2017, 11, 4), "Alla helgons dag"),
        (date(2018, 11, 3), "Alla helgons dag"),
        (date(2019, 11, 2), "Alla helgons dag"),
        (date(2020, 10, 31), "Alla helgons dag"),  # on its earliest date
        (date(2022, 11, 5), "Alla helgons dag"),
        (date(2023, 11, 4), "Alla helgons dag"),
        (date(2025, 11, 1), "Alla helgons dag"),
        (date(2018, 3, 30), "Långfredagen"),
        (date(2019, 5, 30), "Kristi himmelsfärdsdag"),
        (date(2022, 5, 26), "Kristi himmelsfärdsdag"),
        (date(2023, 5, 28), "Pingstdagen"),
    ],
)
def test_moving_holidays_fall_on_their_known_dates(day, name):
    assert holiday_name(day) == name


def test_midsommarafton_is_a_friday_and_alla_helgons_dag_a_saturday_every_year():
    for year in range(2017, 2026):
        holidays = {name: day for day, name in public_holidays(year).items()}
        assert holidays["Midsommarafton"].weekday() == FRI
        assert date(year, 6, 19) <= holidays["Midsommarafton"] <= date(year, 6, 25)
        assert holidays["Alla helgons dag"].weekday() == SAT
        assert date(year, 10, 31) <= holidays["Alla helgons dag"] <= date(year, 11, 6)


@pytest.mark.parametrize(
    "day",
    [date(2020, 6, 1), date(2021, 5, 24), date(2024, 5, 20), date(2022, 5, 27), date(2021, 11, 5), date(2024, 11, 1)],
)
def test_annandag_pingst_klamdagar_and_alla_helgons_eve_are_working_days(day):
    # Annandag pingst stopped being a holiday in 2005; a klämdag is an ordinary working day.
    assert day.weekday() < SAT
    assert holiday_name(day) is None
    assert is_working_day(day)


def test_weekends_are_not_working_days_and_say_why():
    assert non_working_reason(date(2019, 3, 30)) == "lördag"
    assert non_working_reason(date(2019, 3, 31)) == "söndag"
    assert non_working_reason(date(2024, 3, 31)) == "Påskdagen"
    assert non_working_reason(date(2019, 4, 1)) is None
    assert not is_working_day(date(2019, 3, 30))
    assert not is_working_day(date(2019, 3, 31))


# --- deadlines --------------------------------------------------------------------------------

# (printed deadline, weekday of the printed date, last day under next_working_day)
DEADLINES = [
    (date(2019, 3, 31), SUN, date(2019, 4, 1)),
    (date(2018, 3, 31), SAT, date(2018, 4, 3)),  # Påskdagen 1 Apr, Annandag påsk 2 Apr
    (date(2024, 3, 31), SUN, date(2024, 4, 2)),  # Påskdagen itself; Annandag påsk 1 Apr
    (date(2017, 3, 31), FRI, date(2017, 3, 31)),
    (date(2020, 3, 31), TUE, date(2020, 3, 31)),
    (date(2021, 3, 31), WED, date(2021, 3, 31)),
    (date(2022, 3, 31), THU, date(2022, 3, 31)),
    (date(2023, 3, 31), FRI, date(2023, 3, 31)),
    (date(2025, 3, 31), MON, date(2025, 3, 31)),
    (date(2017, 12, 1), FRI, date(2017, 12, 1)),
    (date(2018, 12, 1), SAT, date(2018, 12, 3)),
    (date(2019, 12, 1), SUN, date(2019, 12, 2)),
    (date(2020, 12, 1), TUE, date(2020, 12, 1)),
    (date(2021, 12, 1), WED, date(2021, 12, 1)),
    (date(2022, 12, 1), THU, date(2022, 12, 1)),
    (date(2023, 12, 1), FRI, date(2023, 12, 1)),
    (date(2024, 12, 1), SUN, date(2024, 12, 2)),
    (date(2025, 12, 1), MON, date(2025, 12, 1)),
    (date(2020, 5, 31), SUN, date(2020, 6, 1)),  # Pingstdagen; Annandag pingst is a working day
    (date(2020, 9, 30), WED, date(2020, 9, 30)),
    (date(2019, 4, 19), FRI, date(2019, 4, 23)),  # Långfredagen -> after Annandag påsk
    (date(2021, 6, 25), FRI, date(2021, 6, 28)),  # Midsommarafton
    (date(2020, 12, 24), THU, date(2020, 12, 28)),  # Julafton, Juldagen, Annandag jul, Sunday
    (date(2021, 12, 31), FRI, date(2022, 1, 3)),  # Nyårsafton: across the year end
    (date(2022, 5, 26), THU, date(2022, 5, 27)),  # Kristi himmelsfärdsdag -> the klämdag
    (date(2025, 1, 6), MON, date(2025, 1, 7)),  # Trettondedag jul
    (date(2021, 11, 6), SAT, date(2021, 11, 8)),  # Alla helgons dag
]


@pytest.mark.parametrize(("printed", "weekday", "last_day"), DEADLINES)
def test_deadline_under_next_working_day_policy(printed, weekday, last_day):
    assert printed.weekday() == weekday
    assert effective_deadline(printed, DeadlinePolicy.NEXT_WORKING_DAY) == last_day
    assert effective_deadline(printed, "next_working_day") == last_day
    assert next_working_day(printed) == last_day


@pytest.mark.parametrize(("printed", "weekday", "last_day"), DEADLINES)
def test_deadline_under_strict_policy_is_the_printed_date(printed, weekday, last_day):
    assert effective_deadline(printed, DeadlinePolicy.STRICT) == printed
    assert effective_deadline(printed, "strict") == printed


def test_unknown_deadline_policy_is_refused():
    with pytest.raises(ValueError):
        effective_deadline(date(2021, 3, 31), "lenient")


# --- Stockholm's date ---------------------------------------------------------------------------


def test_stockholm_today_uses_stockholm_summer_time():
    late_utc = dt.datetime(2022, 3, 31, 22, 30, tzinfo=dt.timezone.utc)  # 00:30 CEST on 1 April
    assert stockholm_today(late_utc) == date(2022, 4, 1)
    assert stockholm_today(dt.datetime(2022, 3, 31, 21, 59, tzinfo=dt.timezone.utc)) == date(2022, 3, 31)


def test_stockholm_today_uses_stockholm_winter_time():
    assert stockholm_today(dt.datetime(2021, 12, 31, 23, 30, tzinfo=dt.timezone.utc)) == date(2022, 1, 1)
    assert stockholm_today(dt.datetime(2021, 12, 31, 22, 59, tzinfo=dt.timezone.utc)) == date(2021, 12, 31)


def test_stockholm_today_refuses_a_naive_datetime():
    with pytest.raises(ValueError, match="naive"):
        stockholm_today(dt.datetime(2022, 4, 1, 12, 0))
